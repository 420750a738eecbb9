/* The `mcp:` section of the config file (docs/mcp.md): what zonebox mcp
 * decides beyond the sandbox's policy. The `sandbox:` section is the
 * policy's (core/config_yaml.c, which skips this one); unknown keys here are
 * errors naming the key, as there. */
#define _GNU_SOURCE
#include <stdio.h>
#include <yaml.h>

#include "mcp.h"

static const char *scalar(yaml_document_t *d, int id)
{
        yaml_node_t *n = yaml_document_get_node(d, id);
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int load_section(struct mcp_config *c, yaml_document_t *d, yaml_node_t *m, const char *name,
                        struct zb_error *err)
{
        if (m->type != YAML_MAPPING_NODE)
                return err_set(err, EINVAL, "%s:%zu: mcp: expected a mapping", name, m->start_mark.line + 1);
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
                const char *k = scalar(d, pr->key), *v = scalar(d, pr->value);
                size_t line = yaml_document_get_node(d, pr->key)->start_mark.line + 1;
                if (!k || strcmp(k, "commit") != 0)
                        return err_set(err, EINVAL, "%s:%zu: mcp.%s: unknown key (expected commit)", name,
                                            line, k ? k : "?");
                if (v && strcmp(v, "ask") == 0)
                        c->commit = MCP_COMMIT_ASK;
                else if (v && strcmp(v, "allow") == 0)
                        c->commit = MCP_COMMIT_ALLOW;
                else
                        return err_set(err, EINVAL, "%s:%zu: mcp.commit: expected ask or allow", name, line);
        }
        return 0;
}

int mcp_config_load(struct mcp_config *c, const char *data, size_t len, const char *name,
                    struct zb_error *err)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        int r = 0;

        memset(c, 0, sizeof(*c));
        if (!yaml_parser_initialize(&parser))
                return err_set(err, ENOMEM, "%s: cannot initialise the YAML parser", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        if (!yaml_parser_load(&parser, &doc)) {
                yaml_parser_delete(&parser);
                return err_set(err, EINVAL, "%s: YAML syntax error", name);
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type == YAML_MAPPING_NODE)
                for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
                     r == 0 && pr < root->data.mapping.pairs.top; pr++) {
                        const char *k = scalar(&doc, pr->key);
                        if (k && strcmp(k, "mcp") == 0)
                                r = load_section(c, &doc, yaml_document_get_node(&doc, pr->value), name, err);
                }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}
