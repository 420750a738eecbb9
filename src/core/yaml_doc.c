/* One way to read a YAML document (yaml_doc.h): parse, hand the document
 * to the caller's reader, free both on every path. */
#define _GNU_SOURCE
#include "yaml_doc.h"

int yaml_doc_load(const char *data, size_t len, const char *name, yaml_doc_fn fn, void *ctx,
                  struct zb_error *err)
{
        yaml_parser_t parser;
        yaml_document_t doc;

        if (!yaml_parser_initialize(&parser))
                return err_set(err, ENOMEM, "%s: cannot initialise the YAML parser", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        if (!yaml_parser_load(&parser, &doc)) {
                int r = err_set(err, EINVAL, "%s:%zu: YAML syntax error: %s", name, parser.problem_mark.line + 1,
                                parser.problem ? parser.problem : "unknown");
                yaml_parser_delete(&parser);
                return r;
        }
        int r = fn(&doc, name, ctx, err);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}

struct section_walk {
        const char *section;
        yaml_section_fn fn;
        void *ctx;
};

static int walk_sections(yaml_document_t *doc, const char *name, void *ctx, struct zb_error *err)
{
        const struct section_walk *w = ctx;
        yaml_node_t *root = yaml_document_get_root_node(doc);
        int r = 0;

        if (!root || root->type != YAML_MAPPING_NODE)
                return 0;
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; r >= 0 && pr < root->data.mapping.pairs.top;
             pr++) {
                const char *k = yaml_doc_scalar(doc, pr->key);
                if (k && strcmp(k, w->section) == 0)
                        r = w->fn(doc, yaml_document_get_node(doc, pr->value), name, w->ctx, err);
        }
        return r;
}

int yaml_doc_section(const char *data, size_t len, const char *name, const char *section, yaml_section_fn fn,
                     void *ctx, struct zb_error *err)
{
        struct section_walk w = { .section = section, .fn = fn, .ctx = ctx };
        return yaml_doc_load(data, len, name, walk_sections, &w, err);
}

const char *yaml_doc_scalar(yaml_document_t *doc, int id)
{
        yaml_node_t *n = yaml_document_get_node(doc, id);
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}
