/* The `mcp:` section of the config file (docs/mcp.md): what zonebox mcp
 * decides beyond the sandbox's policy. The `sandbox:` section is the
 * policy's (core/config_yaml.c, which skips this one); unknown keys here are
 * errors naming the key, as there. */
#define _GNU_SOURCE
#include <stdio.h>
#include <yaml.h>

#include "../core/yaml_doc.h"
#include "mcp.h"

static int load_section(yaml_document_t *d, yaml_node_t *m, const char *name, void *ctx, struct zb_error *err)
{
        struct mcp_config *c = ctx;
        if (m->type != YAML_MAPPING_NODE)
                return err_set(err, EINVAL, "%s:%zu: mcp: expected a mapping", name, m->start_mark.line + 1);
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
                const char *k = yaml_doc_scalar(d, pr->key), *v = yaml_doc_scalar(d, pr->value);
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
        memset(c, 0, sizeof(*c));
        return yaml_doc_section(data, len, name, "mcp", load_section, c, err);
}
