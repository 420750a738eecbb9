/* Docker and OCI JSON seccomp profiles (security.seccomp: a path): read
 * by the supervisor, checked key by key, and built with libseccomp into
 * the same kind of program as the default profile (seccomp.c), with the
 * policy's allow and deny lists applied after the profile's rules.
 *
 * Entries are taken as Docker applies them to a container without
 * capabilities (includes/excludes resolved, archMap's entry for this
 * machine); syscalls unknown to libseccomp or absent on this arch are
 * skipped, so one profile serves several kernels and arches.
 *
 * What it guarantees: a profile is used whole or not at all. An unknown
 * key, action, operator or architecture, a wrong type, a number out of
 * range, more than MAX_SECCOMP_PROFILE_BYTES, or a seccomp agent
 * (SCMP_ACT_NOTIFY, listenerPath) fails the build with one line naming the
 * key and the file. The text is untrusted input to a parser: fuzzed by
 * tests/fuzz/fuzz_seccomp.c through ns_seccomp_build_json. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/stat.h>

#include "../core/seccomp_names.h"
#include "../core/util.h"
#include "seccomp.h" // NOLINT(readability-duplicate-include): <seccomp.h> above is libseccomp's
#include "seccomp_int.h"

#define JSON_MAX_DEPTH 16
#define MAX_RULE_ARGS 6
/* The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO. */
#define MAX_ERRNO_RET 4095

static void json_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}

struct profile {
        scmp_filter_ctx ctx;
        uint32_t default_action;
        bool multiarch;
        const struct ns_seccomp_spec *spec; /* NULL: no policy lists */
        const char *source;                 /* file name for messages, or NULL */
        struct zb_error *err;
};

static int profile_error(const struct profile *pr, int code, const char *fmt, ...) ZB_PRINTF(3, 4);
static int profile_error(const struct profile *pr, int code, const char *fmt, ...)
{
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (pr->source)
                return err_set(pr->err, code, "layer seccomp: profile %s: %s", pr->source, msg);
        return err_set(pr->err, code, "layer seccomp: profile: %s", msg);
}

static bool in_strv(const char *s, const char *const *v)
{
        for (; *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static int check_keys(const struct profile *pr, struct json_object *obj, const char *where,
                      const char *const *known)
{
        json_object_object_foreach(obj, key, val) {
                (void)val;
                if (!in_strv(key, known))
                        return profile_error(pr, EINVAL, "unknown key '%s%s%s'", where,
                                             *where ? "." : "", key);
        }
        return 0;
}

/* The member key of obj if it has type type; NULL if absent or null. */
static int member(const struct profile *pr, struct json_object *obj, const char *where,
                  const char *key, enum json_type type, struct json_object **out)
{
        static const char *const type_names[] = {
                [json_type_null] = "null",     [json_type_boolean] = "a boolean",
                [json_type_double] = "a number", [json_type_int] = "an integer",
                [json_type_object] = "an object", [json_type_array] = "an array",
                [json_type_string] = "a string",
        };
        struct json_object *v = NULL;

        *out = NULL;
        if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, type))
                return profile_error(pr, EINVAL, "'%s%s%s' must be %s", where, *where ? "." : "",
                                     key, type_names[type]);
        *out = v;
        return 0;
}

static int to_uint(const struct profile *pr, struct json_object *v, const char *what, uint64_t max,
                   uint64_t *out)
{
        /* json-c keeps integers above INT64_MAX as uint64: a negative
         * int64 view is a negative number. */
        if (json_object_get_int64(v) < 0)
                return profile_error(pr, ERANGE, "'%s' must not be negative", what);
        errno = 0;
        uint64_t u = json_object_get_uint64(v);
        if (errno == ERANGE || u > max)
                return profile_error(pr, ERANGE, "'%s' is out of range (at most %llu)", what,
                                     (unsigned long long)max);
        *out = u;
        return 0;
}

/* Action named by obj.<action_key>, with obj.<errno_key> as its errno
 * (EPERM when absent, as in runc). */
static int parse_action(const struct profile *pr, struct json_object *obj, const char *where,
                        const char *action_key, const char *errno_key, uint32_t *out)
{
        struct json_object *a, *e;
        char what[96];
        int r;

        if ((r = member(pr, obj, where, action_key, json_type_string, &a)) < 0 ||
            (r = member(pr, obj, where, errno_key, json_type_int, &e)) < 0)
                return r;
        snprintf(what, sizeof(what), "%s%s%s", where, *where ? "." : "", action_key);
        if (!a)
                return profile_error(pr, EINVAL, "missing key '%s'", what);
        const char *name = json_object_get_string(a);
        if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
                return profile_error(pr, ENOTSUP,
                                     "%s: SCMP_ACT_NOTIFY is not supported (zonebox runs no seccomp agent)",
                                     what);
        const struct sc_action *act = sc_action_find(name);
        if (!act)
                return profile_error(pr, EINVAL, "%s: unknown action '%s'", what, name);
        uint64_t data = EPERM;
        snprintf(what, sizeof(what), "%s%s%s", where, *where ? "." : "", errno_key);
        if (e && !act->with_errno)
                return profile_error(pr, EINVAL,
                                     "'%s' is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                                     what);
        if (e && (r = to_uint(pr, e, what, MAX_ERRNO_RET, &data)) < 0)
                return r;
        *out = act->action | (act->with_errno ? (uint32_t)data : 0);
        return 0;
}

/* Is name (Docker's "amd64" or libseccomp's "SCMP_ARCH_X86_64") this
 * machine's arch? */
static bool arch_is_native(const char *name)
{
        return sc_arch_named(name, seccomp_arch_native());
}

static int add_arch(struct profile *pr, struct json_object *v, const char *what)
{
        if (!json_object_is_type(v, json_type_string))
                return profile_error(pr, EINVAL, "'%s' must hold strings", what);
        const char *name = json_object_get_string(v);
        const struct sc_arch *arch = sc_arch_find(name);
        if (!arch) {
                /* A profile written for more arches than this libseccomp
                 * knows: an arch never added can only be killed. */
                if (strncmp(name, "SCMP_ARCH_", 10) == 0)
                        return 0;
                return profile_error(pr, EINVAL, "%s: unknown architecture '%s'", what, name);
        }
        int r = seccomp_arch_add(pr->ctx, arch->token);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return profile_error(pr, -r, "%s: cannot add architecture '%s': %s", what, name,
                                     strerror(-r));
        pr->multiarch = true;
        return 0;
}

static int parse_arches(struct profile *pr, struct json_object *root)
{
        struct json_object *list, *map;
        int r;

        if ((r = member(pr, root, "", "architectures", json_type_array, &list)) < 0 ||
            (r = member(pr, root, "", "archMap", json_type_array, &map)) < 0)
                return r;
        if (list && map && json_object_array_length(list) && json_object_array_length(map))
                return profile_error(pr, EINVAL, "use either 'architectures' or 'archMap', not both");
        for (size_t i = 0; list && i < json_object_array_length(list); i++)
                if ((r = add_arch(pr, json_object_array_get_idx(list, i), "architectures")) < 0)
                        return r;
        /* archMap: the entry for this machine's arch, with its sub-arches. */
        for (size_t i = 0; map && i < json_object_array_length(map); i++) {
                static const char *const keys[] = { "architecture", "subArchitectures", NULL };
                struct json_object *e = json_object_array_get_idx(map, i), *arch, *subs;
                char where[32];
                snprintf(where, sizeof(where), "archMap[%zu]", i);
                if (!json_object_is_type(e, json_type_object))
                        return profile_error(pr, EINVAL, "'%s' must be an object", where);
                if ((r = check_keys(pr, e, where, keys)) < 0 ||
                    (r = member(pr, e, where, "architecture", json_type_string, &arch)) < 0 ||
                    (r = member(pr, e, where, "subArchitectures", json_type_array, &subs)) < 0)
                        return r;
                if (!arch || !arch_is_native(json_object_get_string(arch)))
                        continue;
                for (size_t j = 0; subs && j < json_object_array_length(subs); j++)
                        if ((r = add_arch(pr, json_object_array_get_idx(subs, j), where)) < 0)
                                return r;
        }
        return 0;
}

/* includes/excludes, as Docker applies them to a container with no
 * capabilities: an entry that needs a capability is dropped; arches are
 * matched against this machine's; minKernel is taken as met (zonebox
 * targets current kernels), so includes.minKernel keeps an entry and
 * excludes.minKernel drops it. Returns 1 to use the entry, 0 to skip it. */
static int entry_applies(const struct profile *pr, struct json_object *call, const char *where)
{
        static const char *const keys[] = { "caps", "arches", "minKernel", NULL };
        char sub[48];

        for (int excl = 0; excl < 2; excl++) {
                const char *key = excl ? "excludes" : "includes";
                struct json_object *f, *caps, *archv, *kernel;
                bool native = false;
                int r;

                if ((r = member(pr, call, where, key, json_type_object, &f)) < 0)
                        return r;
                if (!f)
                        continue;
                snprintf(sub, sizeof(sub), "%s.%s", where, key);
                if ((r = check_keys(pr, f, sub, keys)) < 0 ||
                    (r = member(pr, f, sub, "caps", json_type_array, &caps)) < 0 ||
                    (r = member(pr, f, sub, "arches", json_type_array, &archv)) < 0 ||
                    (r = member(pr, f, sub, "minKernel", json_type_string, &kernel)) < 0)
                        return r;
                for (size_t i = 0; archv && i < json_object_array_length(archv); i++) {
                        struct json_object *a = json_object_array_get_idx(archv, i);
                        if (!json_object_is_type(a, json_type_string))
                                return profile_error(pr, EINVAL, "'%s.arches' must hold strings", sub);
                        native = native || arch_is_native(json_object_get_string(a));
                }
                bool has_arches = archv && json_object_array_length(archv) > 0;
                bool has_kernel = kernel && *json_object_get_string(kernel);
                if (!excl && ((caps && json_object_array_length(caps) > 0) || (has_arches && !native)))
                        return 0;
                if (excl && (native || has_kernel))
                        return 0;
        }
        return 1;
}

static int parse_arg(const struct profile *pr, struct json_object *v, const char *where,
                     struct scmp_arg_cmp *out)
{
        static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };
        struct json_object *index, *value, *two, *op;
        char what[96];
        uint64_t u = 0;
        int r;

        if (!json_object_is_type(v, json_type_object))
                return profile_error(pr, EINVAL, "'%s' must be an object", where);
        if ((r = check_keys(pr, v, where, keys)) < 0 ||
            (r = member(pr, v, where, "index", json_type_int, &index)) < 0 ||
            (r = member(pr, v, where, "value", json_type_int, &value)) < 0 ||
            (r = member(pr, v, where, "valueTwo", json_type_int, &two)) < 0 ||
            (r = member(pr, v, where, "op", json_type_string, &op)) < 0)
                return r;
        if (!index || !op)
                return profile_error(pr, EINVAL, "missing key '%s.%s'", where, index ? "op" : "index");
        *out = (struct scmp_arg_cmp){ 0 };
        snprintf(what, sizeof(what), "%s.index", where);
        if ((r = to_uint(pr, index, what, MAX_RULE_ARGS - 1, &u)) < 0)
                return r;
        out->arg = (unsigned)u;
        snprintf(what, sizeof(what), "%s.value", where);
        if (value && (r = to_uint(pr, value, what, UINT64_MAX, &out->datum_a)) < 0)
                return r;
        snprintf(what, sizeof(what), "%s.valueTwo", where);
        if (two && (r = to_uint(pr, two, what, UINT64_MAX, &out->datum_b)) < 0)
                return r;
        const char *name = json_object_get_string(op);
        int cmp = sc_op_find(name);
        if (cmp < 0)
                return profile_error(pr, EINVAL, "%s.op: unknown operator '%s'", where, name);
        out->op = (enum scmp_compare)cmp;
        return 0;
}

/* One syscall of one entry. Arguments on distinct indexes are ANDed in one
 * rule; when an index repeats (libseccomp refuses that), each comparison
 * becomes its own rule, ORed, as runc does. */
static int add_profile_rule(const struct profile *pr, const char *name, uint32_t action,
                            const struct scmp_arg_cmp *args, size_t n, const char *where)
{
        bool raw, repeated = false;
        int nr = ns_syscall_number(name, &raw), r = 0;

        /* Unknown to libseccomp (or not on this arch): skipped, as Docker
         * does, so one profile serves several kernels and arches. */
        if (nr == __NR_SCMP_ERROR || (nr < 0 && !pr->multiarch) || (raw && pr->multiarch))
                return 0;
        if (ns_seccomp_overridden(pr->spec, name) || action == pr->default_action)
                return 0;
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        repeated = repeated || args[i].arg == args[j].arg;
        if (!repeated)
                r = seccomp_rule_add_array(pr->ctx, action, nr, (unsigned)n, args);
        for (size_t i = 0; repeated && r == 0 && i < n; i++)
                r = seccomp_rule_add_array(pr->ctx, action, nr, 1, &args[i]);
        if (r < 0)
                return profile_error(pr, -r, "%s: syscall '%s': cannot add rule: %s", where, name,
                                     strerror(-r));
        return 0;
}

static int parse_syscall_entry(const struct profile *pr, struct json_object *call, size_t idx)
{
        static const char *const keys[] = { "names", "name", "action", "errnoRet", "args",
                                            "comment", "includes", "excludes", NULL };
        struct scmp_arg_cmp args[MAX_RULE_ARGS];
        struct json_object *names, *name, *argv, *comment;
        char where[32], what[64];
        uint32_t action = 0;
        size_t n_args = 0;
        int r;

        snprintf(where, sizeof(where), "syscalls[%zu]", idx);
        if (!json_object_is_type(call, json_type_object))
                return profile_error(pr, EINVAL, "'%s' must be an object", where);
        if ((r = check_keys(pr, call, where, keys)) < 0 ||
            (r = member(pr, call, where, "names", json_type_array, &names)) < 0 ||
            (r = member(pr, call, where, "name", json_type_string, &name)) < 0 ||
            (r = member(pr, call, where, "args", json_type_array, &argv)) < 0 ||
            (r = member(pr, call, where, "comment", json_type_string, &comment)) < 0 ||
            (r = parse_action(pr, call, where, "action", "errnoRet", &action)) < 0)
                return r;
        if (names && name)
                return profile_error(pr, EINVAL, "%s: use either 'name' or 'names', not both", where);
        if (!names && !name)
                return profile_error(pr, EINVAL, "missing key '%s.names'", where);
        for (size_t i = 0; argv && i < json_object_array_length(argv); i++) {
                if (n_args == MAX_RULE_ARGS)
                        return profile_error(pr, E2BIG, "'%s.args' has more than %d comparisons",
                                             where, MAX_RULE_ARGS);
                snprintf(what, sizeof(what), "%s.args[%zu]", where, i);
                if ((r = parse_arg(pr, json_object_array_get_idx(argv, i), what, &args[n_args++])) < 0)
                        return r;
        }
        if ((r = entry_applies(pr, call, where)) <= 0)
                return r;
        if (name)
                return add_profile_rule(pr, json_object_get_string(name), action, args, n_args, where);
        for (size_t i = 0; i < json_object_array_length(names); i++) {
                struct json_object *v = json_object_array_get_idx(names, i);
                if (!json_object_is_type(v, json_type_string))
                        return profile_error(pr, EINVAL, "'%s.names' must hold strings", where);
                r = add_profile_rule(pr, json_object_get_string(v), action, args, n_args, where);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Top-level keys besides the rules. "flags" name seccomp(2) flags for
 * runc's loader: TSYNC is moot (the command is single-threaded at exec),
 * LOG only adds audit records, and SPEC_ALLOW would turn off the
 * speculative store bypass mitigation, so all are accepted and ignored —
 * zonebox always installs with flags 0. */
static int parse_top(struct profile *pr, struct json_object *root)
{
        static const char *const keys[] = { "defaultAction", "defaultErrnoRet", "architectures",
                                            "archMap", "syscalls", "flags", "listenerPath",
                                            "listenerMetadata", NULL };
        static const char *const flags[] = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                             "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                             "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL };
        struct json_object *fl, *listener, *meta;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return profile_error(pr, EINVAL, "the top level must be a JSON object");
        if ((r = check_keys(pr, root, "", keys)) < 0 ||
            (r = member(pr, root, "", "flags", json_type_array, &fl)) < 0 ||
            (r = member(pr, root, "", "listenerPath", json_type_string, &listener)) < 0 ||
            (r = member(pr, root, "", "listenerMetadata", json_type_string, &meta)) < 0)
                return r;
        for (size_t i = 0; fl && i < json_object_array_length(fl); i++) {
                struct json_object *v = json_object_array_get_idx(fl, i);
                if (!json_object_is_type(v, json_type_string))
                        return profile_error(pr, EINVAL, "'flags' must hold strings");
                if (!in_strv(json_object_get_string(v), flags))
                        return profile_error(pr, EINVAL, "flags: unknown flag '%s'",
                                             json_object_get_string(v));
        }
        if (listener && *json_object_get_string(listener))
                return profile_error(pr, ENOTSUP,
                                     "listenerPath: seccomp agents are not supported");
        return parse_action(pr, root, "", "defaultAction", "defaultErrnoRet", &pr->default_action);
}

static int parse_json_text(const struct profile *pr, const char *text, size_t len,
                           struct json_object **out)
{
        struct json_tokener *tok;
        struct json_object *root;
        enum json_tokener_error jerr;
        size_t end;

        if (len > MAX_SECCOMP_PROFILE_BYTES)
                return profile_error(pr, EFBIG, "larger than %u bytes", MAX_SECCOMP_PROFILE_BYTES);
        tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!tok)
                return profile_error(pr, ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (jerr != json_tokener_success || !root) {
                json_object_put(root);
                return profile_error(pr, EINVAL, "invalid JSON at byte %zu: %s", end,
                                     jerr == json_tokener_continue ? "unexpected end of input"
                                                                   : json_tokener_error_desc(jerr));
        }
        for (; end < len; end++)
                if (!strchr(" \t\r\n", text[end]) || !text[end]) {
                        json_object_put(root);
                        return profile_error(pr, EINVAL, "invalid JSON at byte %zu: trailing data",
                                             end);
                }
        *out = root;
        return 0;
}

static int build_json(const char *text, size_t len, const struct ns_seccomp_spec *spec,
                      const char *source, struct sock_fprog *prog, struct zb_error *err)
{
        _cleanup_(json_putp) struct json_object *root = NULL;
        _cleanup_(ns_seccomp_releasep) scmp_filter_ctx ctx = NULL;
        struct profile pr = { .spec = spec, .source = source, .err = err };
        struct json_object *calls;
        int r;

        if ((r = parse_json_text(&pr, text, len, &root)) < 0 || (r = parse_top(&pr, root)) < 0 ||
            (r = member(&pr, root, "", "syscalls", json_type_array, &calls)) < 0)
                return r;
        if ((r = ns_seccomp_new_filter(pr.default_action, &ctx, err)) < 0)
                return r;
        pr.ctx = ctx;
        if ((r = parse_arches(&pr, root)) < 0)
                return r;
        for (size_t i = 0; calls && i < json_object_array_length(calls); i++)
                if ((r = parse_syscall_entry(&pr, json_object_array_get_idx(calls, i), i)) < 0)
                        return r;
        if ((r = ns_seccomp_spec_rules(ctx, spec, pr.default_action, pr.multiarch, err)) < 0)
                return r;
        return ns_seccomp_export(ctx, prog, err);
}

/* A profile file named by the operator's policy; read by the supervisor,
 * never by the sandbox, so a symlink to it is followed like any config.
 * O_NONBLOCK: a FIFO there must not hang the open. */
static int read_profile(const char *path, char **out, size_t *out_len, struct zb_error *err)
{
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0, room;
        struct stat st;

        if (fd < 0)
                return err_errno(err, errno, "layer seccomp: profile %s", path);
        if (fstat(fd, &st) < 0)
                return err_errno(err, errno, "layer seccomp: profile %s", path);
        if (!S_ISREG(st.st_mode))
                return err_set(err, EINVAL, "layer seccomp: profile %s: not a regular file", path);
        if ((uint64_t)st.st_size > MAX_SECCOMP_PROFILE_BYTES)
                return err_set(err, EFBIG, "layer seccomp: profile %s: larger than %u bytes",
                                    path, MAX_SECCOMP_PROFILE_BYTES);
        /* One byte more than its size, to notice a file that grew since. */
        room = (size_t)st.st_size + 1;
        buf = malloc(room);
        if (!buf)
                return err_errno(err, ENOMEM, "layer seccomp: profile %s", path);
        for (;;) {
                ssize_t n = read(fd, buf + len, room - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_errno(err, errno, "layer seccomp: profile %s", path);
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == room)
                        return err_set(err, EAGAIN,
                                            "layer seccomp: profile %s: changed while being read",
                                            path);
        }
        *out = buf;
        *out_len = len;
        buf = NULL;
        return 0;
}

int ns_seccomp_build_file(const struct ns_seccomp_spec *spec, struct sock_fprog *prog,
                          struct zb_error *err)
{
        _cleanup_(freep) char *text = NULL;
        size_t len = 0;
        int r;

        if ((r = read_profile(spec->profile, &text, &len, err)) < 0)
                return r;
        return build_json(text, len, spec, spec->profile, prog, err);
}

int ns_seccomp_build_json(const char *json, size_t len, struct sock_fprog *prog,
                          struct zb_error *err)
{
        prog->len = 0;
        prog->filter = NULL;
        if (!json)
                return err_set(err, EINVAL, "layer seccomp: profile: no text");
        return build_json(json, len, NULL, NULL, prog, err);
}
