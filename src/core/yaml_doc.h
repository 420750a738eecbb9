/* Reading a YAML document with libyaml's document API the one way every
 * config reader here does (the sandbox policy, serve:, runtimes:, mcp:):
 * a syntax error is one line naming the file and line, and the document
 * and parser are freed on every path. */
#ifndef ZB_CORE_YAML_DOC_H
#define ZB_CORE_YAML_DOC_H

#include <stddef.h>
#include <yaml.h>

#include "util.h"

/* fn sees the whole document; its return value is returned. */
typedef int (*yaml_doc_fn)(yaml_document_t *doc, const char *name, void *ctx, struct zb_error *err);
int yaml_doc_load(const char *data, size_t len, const char *name, yaml_doc_fn fn, void *ctx,
                  struct zb_error *err);

/* fn is called for the value of each top-level key called `section`, in
 * order, until one returns < 0; a document that is not a mapping, or has no
 * such key, calls it never and returns 0. */
typedef int (*yaml_section_fn)(yaml_document_t *doc, yaml_node_t *value, const char *name, void *ctx,
                               struct zb_error *err);
int yaml_doc_section(const char *data, size_t len, const char *name, const char *section, yaml_section_fn fn,
                     void *ctx, struct zb_error *err);

/* The text of node `id` if it is a scalar, else NULL. */
const char *yaml_doc_scalar(yaml_document_t *doc, int id);

#endif
