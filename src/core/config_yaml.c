/* The YAML config file (docs/config.md) → policy, with libyaml's document
 * API. Every key is checked against the known ones; errors name the file,
 * the line and the full key ("sandbox.limits.memroy"). Relative paths are
 * relative to the file's directory. */
#define _GNU_SOURCE
#include <libgen.h>
#include <stdio.h>
#include <yaml.h>

#include "keys.h"
#include "yaml_doc.h"

struct loader {
        struct zb_policy *p;
        yaml_document_t *doc;
        const char *file;
        char *base_dir;
        struct zb_error *err;
};

static int fail(struct loader *l, yaml_node_t *n, int code, const char *key, const char *what)
{
        return err_set(l->err, code, "%s:%zu: %s: %s", l->file,
                            n ? n->start_mark.line + 1 : 0, key, what);
}

static yaml_node_t *node(struct loader *l, int id)
{
        return yaml_document_get_node(l->doc, id);
}

static const char *scalar(yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A key error from the shared setter gets the file and line in front. */
static int with_location(struct loader *l, yaml_node_t *n, int r)
{
        if (r < 0 && r != -ENOENT) {
                char msg[sizeof(l->err->message)];
                snprintf(msg, sizeof(msg), "%s", l->err->message);
                err_set(l->err, -r, "%s:%zu: %s", l->file, n->start_mark.line + 1, msg);
        }
        return r;
}

static int set_scalar(struct loader *l, const char *key, yaml_node_t *v)
{
        const char *s = scalar(v);
        if (!s) {
                /* Say "unknown key" for a misspelt section, not "expected a value". */
                struct zb_policy *probe = zb_policy_new();
                int known = probe ? pol_set_key(probe, key + strlen("sandbox."), "", key, NULL,
                                                      l->err)
                                  : 0;
                zb_policy_free(probe);
                return fail(l, v, EINVAL, key,
                            known == -ENOENT ? "unknown key" : "expected a single value");
        }
        int r = pol_set_key(l->p, key + strlen("sandbox."), s, key, l->base_dir, l->err);
        if (r == -ENOENT)
                return fail(l, v, EINVAL, key, "unknown key");
        return with_location(l, v, r);
}

static int load_zone(struct loader *l, yaml_node_t *m, size_t idx)
{
        char label[64];
        struct pol_zone z = { .mode = ZB_ZONE_RO, .from_config = true };
        bool have_mode = false;
        int r = 0;

        snprintf(label, sizeof(label), "sandbox.zones[%zu]", idx);
        if (m->type != YAML_MAPPING_NODE)
                return fail(l, m, EINVAL, label, "expected a mapping {name, mode, hostPath}");
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
                const char *k = scalar(node(l, pr->key));
                yaml_node_t *vn = node(l, pr->value);
                const char *v = scalar(vn);
                if (!k || !v) {
                        r = fail(l, vn, EINVAL, label, "zone keys take single values");
                        break;
                }
                have_mode |= strcmp(k, "mode") == 0;
                r = with_location(l, vn, pol_zone_option(&z, k, v, label, l->base_dir, l->err));
                if (r < 0)
                        break;
        }
        if (r == 0 && !have_mode)
                r = fail(l, m, EINVAL, label, "mode (ro, rw or tmpfs) is required");
        if (r == 0)
                r = with_location(l, m, pol_zone_finish(l->p, &z, label, l->err));
        pol_zone_free_fields(&z);
        return r;
}

static int load_zones(struct loader *l, yaml_node_t *seq)
{
        if (seq->type != YAML_SEQUENCE_NODE)
                return fail(l, seq, EINVAL, "sandbox.zones", "expected a list");
        size_t i = 0;
        for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
             it++, i++) {
                int r = load_zone(l, node(l, *it), i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_env(struct loader *l, yaml_node_t *m)
{
        if (m->type != YAML_MAPPING_NODE)
                return fail(l, m, EINVAL, "sandbox.env", "expected a mapping NAME: value");
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
                const char *k = scalar(node(l, pr->key));
                const char *v = scalar(node(l, pr->value));
                if (!k || !v || !*k || strchr(k, '='))
                        return fail(l, node(l, pr->value), EINVAL, "sandbox.env",
                                    "each entry is NAME: value");
                _cleanup_(freep) char *kv = util_asprintf("%s=%s", k, v);
                if (!kv || pol_set_env(l->p, kv) < 0)
                        return fail(l, m, ENOMEM, "sandbox.env", "out of memory");
        }
        return 0;
}

static int load_command(struct loader *l, yaml_node_t *seq)
{
        if (seq->type != YAML_SEQUENCE_NODE)
                return fail(l, seq, EINVAL, "sandbox.command", "expected a list like [python3, /input/code.py]");
        size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
        if (n == 0)
                return fail(l, seq, EINVAL, "sandbox.command", "empty command");
        _cleanup_(freep) char **argv = calloc(n + 1, sizeof(char *));
        if (!argv)
                return fail(l, seq, ENOMEM, "sandbox.command", "out of memory");
        for (size_t i = 0; i < n; i++) {
                argv[i] = (char *)scalar(node(l, seq->data.sequence.items.start[i]));
                if (!argv[i])
                        return fail(l, seq, EINVAL, "sandbox.command", "items must be strings");
        }
        return with_location(l, seq, zb_policy_set_command(l->p, (int)n, argv, l->err));
}

static int load_capabilities(struct loader *l, yaml_node_t *v)
{
        if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.top == v->data.sequence.items.start)
                return 0;
        return fail(l, v, EINVAL, "sandbox.security.capabilities",
                    "only [] is supported: zonebox drops every capability");
}

/* security.seccomp: a profile name or path, or {profile:, allow: [...], deny: [...]}. */
static int load_seccomp(struct loader *l, yaml_node_t *v)
{
        static const char key[] = "sandbox.security.seccomp";
        if (v->type != YAML_MAPPING_NODE)
                return set_scalar(l, key, v);
        for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
                const char *k = scalar(node(l, pr->key));
                yaml_node_t *val = node(l, pr->value);
                int r;
                if (k && strcmp(k, "profile") == 0) {
                        r = set_scalar(l, key, val);
                } else if (k && (strcmp(k, "allow") == 0 || strcmp(k, "deny") == 0)) {
                        char sub[64];
                        snprintf(sub, sizeof(sub), "sandbox.security.seccomp_%s", k);
                        if (val->type != YAML_SEQUENCE_NODE)
                                return fail(l, val, EINVAL, sub, "expected a list of syscall names");
                        r = 0;
                        for (yaml_node_item_t *it = val->data.sequence.items.start;
                             r == 0 && it < val->data.sequence.items.top; it++)
                                r = set_scalar(l, sub, node(l, *it));
                } else {
                        return fail(l, node(l, pr->key), EINVAL, key,
                                    "unknown key (expected profile, allow or deny)");
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Approval rules: a list of strings (or one string), kept in order. */
static int load_list(struct loader *l, yaml_node_t *v, const char *key)
{
        if (v->type != YAML_SEQUENCE_NODE)
                return set_scalar(l, key, v);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                int r = set_scalar(l, key, node(l, *it));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* approval.command: a program, or a list [program, arguments...]. */
static int load_approver(struct loader *l, yaml_node_t *v)
{
        static const char key[] = "sandbox.approval.command";
        if (v->type != YAML_SEQUENCE_NODE)
                return set_scalar(l, key, v);
        if (v->data.sequence.items.top == v->data.sequence.items.start)
                return fail(l, v, EINVAL, key, "an empty list (expected [program, arguments...])");
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                int r = set_scalar(l, it == v->data.sequence.items.start ? key : "sandbox.approval.command_arg",
                                   node(l, *it));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* network.hosts: a mapping NAME: IP (each "NAME:IP" to the shared setter). */
static int load_hosts(struct loader *l, yaml_node_t *m)
{
        static const char key[] = "sandbox.network.hosts";
        if (m->type != YAML_MAPPING_NODE)
                return fail(l, m, EINVAL, key, "expected a mapping NAME: IP");
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
                const char *k = scalar(node(l, pr->key));
                yaml_node_t *vn = node(l, pr->value);
                const char *v = scalar(vn);
                if (!k || !v)
                        return fail(l, vn, EINVAL, key, "each entry is NAME: IP");
                _cleanup_(freep) char *kv = util_asprintf("%s:%s", k, v);
                if (!kv)
                        return fail(l, m, ENOMEM, key, "out of memory");
                int r = with_location(l, vn, pol_set_key(l->p, "network.hosts", kv, key, l->base_dir, l->err));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* network: none|loopback|host, or {allow: [...], hosts: {...}, proxy_port: N}. */
static int load_network(struct loader *l, yaml_node_t *v)
{
        if (v->type != YAML_MAPPING_NODE)
                return set_scalar(l, "sandbox.network", v);
        for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
                const char *k = scalar(node(l, pr->key));
                yaml_node_t *val = node(l, pr->value);
                int r;
                if (k && strcmp(k, "allow") == 0)
                        r = load_list(l, val, "sandbox.network.allow");
                else if (k && strcmp(k, "hosts") == 0)
                        r = load_hosts(l, val);
                else if (k && strcmp(k, "proxy_port") == 0)
                        r = set_scalar(l, "sandbox.network.proxy_port", val);
                else
                        return fail(l, node(l, pr->key), EINVAL, "sandbox.network",
                                    "unknown key (expected allow, hosts or proxy_port)");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A mapping whose scalar keys go to the shared setter with PREFIX. */
static int load_section(struct loader *l, yaml_node_t *m, const char *prefix)
{
        if (m->type != YAML_MAPPING_NODE)
                return fail(l, m, EINVAL, prefix, "expected a mapping");
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
                const char *k = scalar(node(l, pr->key));
                yaml_node_t *v = node(l, pr->value);
                char key[128];
                int r;

                if (!k)
                        return fail(l, node(l, pr->key), EINVAL, prefix, "keys must be strings");
                snprintf(key, sizeof(key), "%s.%s", prefix, k);
                if (strcmp(key, "sandbox.zones") == 0)
                        r = load_zones(l, v);
                else if (strcmp(key, "sandbox.env") == 0)
                        r = load_env(l, v);
                else if (strcmp(key, "sandbox.command") == 0)
                        r = load_command(l, v);
                else if (strcmp(key, "sandbox.limits") == 0 || strcmp(key, "sandbox.security") == 0)
                        r = load_section(l, v, key);
                else if (strcmp(key, "sandbox.security.capabilities") == 0)
                        r = load_capabilities(l, v);
                else if (strcmp(key, "sandbox.security.seccomp") == 0)
                        r = load_seccomp(l, v);
                else if (strcmp(key, "sandbox.approval") == 0) {
                        l->p->approval.configured = true; /* even {}: the default is then ask */
                        r = load_section(l, v, key);
                } else if (strcmp(key, "sandbox.audit") == 0)
                        r = load_section(l, v, key);
                else if (strcmp(key, "sandbox.approval.allow") == 0 ||
                         strcmp(key, "sandbox.approval.deny") == 0 ||
                         strncmp(key, "sandbox.limits.device_", 22) == 0 ||
                         strncmp(key, "sandbox.limits.zone_", 20) == 0)
                        r = load_list(l, v, key);
                else if (strcmp(key, "sandbox.approval.command") == 0)
                        r = load_approver(l, v);
                else if (strcmp(key, "sandbox.network") == 0)
                        r = load_network(l, v);
                else if (strcmp(key, "sandbox.session") == 0 || strcmp(key, "sandbox.wasm") == 0)
                        r = load_section(l, v, key);
                else
                        r = set_scalar(l, key, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_document(struct loader *l)
{
        yaml_node_t *root = yaml_document_get_root_node(l->doc);
        if (!root)
                return err_set(l->err, EINVAL, "%s: empty config (expected 'sandbox:')", l->file);
        if (root->type != YAML_MAPPING_NODE)
                return fail(l, root, EINVAL, "(top)", "expected a mapping with 'sandbox:'");
        bool found = false;
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
             pr++) {
                const char *k = scalar(node(l, pr->key));
                /* The front ends' own sections: zonebox mcp's (src/mcp/config.c),
                 * zonebox serve's and its runtimes (src/serve/). */
                if (k && (strcmp(k, "mcp") == 0 || strcmp(k, "serve") == 0 ||
                          strcmp(k, "runtimes") == 0))
                        continue;
                if (!k || strcmp(k, "sandbox") != 0)
                        return fail(l, node(l, pr->key), EINVAL, k ? k : "(key)",
                                    "unknown key (the top key is 'sandbox:')");
                int r = load_section(l, node(l, pr->value), "sandbox");
                if (r < 0)
                        return r;
                found = true;
        }
        if (!found)
                return fail(l, root, EINVAL, "sandbox", "missing");
        return 0;
}

struct buffer_ctx {
        struct zb_policy *p;
        const char *base_dir;
};

static int load_doc(yaml_document_t *doc, const char *name, void *ctx, struct zb_error *err)
{
        struct buffer_ctx *b = ctx;
        struct loader l = { .p = b->p, .doc = doc, .file = name, .base_dir = (char *)b->base_dir, .err = err };
        return load_document(&l);
}

int pol_load_yaml_buffer(struct zb_policy *p, const char *data, size_t len, const char *name,
                               const char *base_dir, struct zb_error *err)
{
        struct buffer_ctx b = { .p = p, .base_dir = base_dir };
        return yaml_doc_load(data, len, name, load_doc, &b, err);
}

#define MAX_CONFIG_BYTES (1u << 20)

int zb_policy_load_yaml(struct zb_policy *p, const char *path, struct zb_error *err)
{
        _cleanup_(freep) char *abs = util_path_absolute(NULL, path);
        _cleanup_(freep) char *buf = NULL;
        FILE *f;
        size_t len;

        if (!abs)
                return err_set(err, EINVAL, "--config: bad path '%s'", path);
        f = fopen(path, "re");
        if (!f)
                return err_errno(err, errno, "--config: cannot open %s", path);
        buf = malloc(MAX_CONFIG_BYTES + 1);
        if (!buf) {
                fclose(f);
                return err_set(err, ENOMEM, "--config: out of memory");
        }
        len = fread(buf, 1, MAX_CONFIG_BYTES + 1, f);
        int rerr = ferror(f);
        fclose(f);
        if (rerr)
                return err_set(err, EIO, "--config: cannot read %s", path);
        if (len > MAX_CONFIG_BYTES)
                return err_set(err, EFBIG, "--config: %s is larger than 1 MiB", path);
        char *dir = dirname(abs); /* modifies abs in place, fine: not used after */
        return pol_load_yaml_buffer(p, buf, len, path, dir, err);
}
