/* Policy object: defaults, zones, environment, and the one place where a
 * policy is validated. Validation does read-only checks on the host (does a
 * zone's host path exist and is it a directory) and never changes anything. */
#define _GNU_SOURCE
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "allowlist.h"
#include "keytab.h"
#include "paths.h"
#include "policy.h"

struct zb_policy *zb_policy_new(void)
{
        struct zb_policy *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->backend = ZB_BACKEND_NAMESPACE;
        p->network = ZB_NET_NONE;
        p->limits.file_size = DEFAULT_FILE_SIZE_BYTES;
        p->limits.open_files = DEFAULT_OPEN_FILES;
        p->limits.memory = DEFAULT_MEMORY_BYTES;
        p->limits.pids = DEFAULT_PIDS;
        p->limits.output = DEFAULT_OUTPUT_BYTES;
        p->security.no_new_privileges = true;
        p->security.landlock = ZB_LANDLOCK_BEST_EFFORT;
        p->security.uid = DEFAULT_UID;
        p->security.gid = DEFAULT_GID;
        p->tmp_size = DEFAULT_TMP_BYTES;
        return p;
}

void util_strv_free(char **v)
{
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}

void pol_zone_free_fields(struct pol_zone *z)
{
        free(z->name);
        free(z->host_path);
        free(z->path);
        memset(z, 0, sizeof(*z));
}

void zb_policy_free(struct zb_policy *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_zones; i++)
                pol_zone_free_fields(&p->zones[i]);
        free(p->zones);
        for (size_t i = 0; i < p->n_env; i++)
                free(p->env[i]);
        free(p->env);
        for (size_t i = 0; i < p->argc; i++)
                free(p->argv[i]);
        free(p->argv);
        free(p->image);
        free(p->rootfs);
        for (size_t i = 0; i < p->n_image_layers; i++)
                free(p->image_layers[i]);
        free(p->image_layers);
        free(p->workdir);
        free(p->hostname);
        free(p->limits.cgroup_parent);
        free(p->cow.dir);
        free(p->security.seccomp);
        for (size_t i = 0; i < p->security.n_seccomp_allow; i++)
                free(p->security.seccomp_allow[i]);
        free(p->security.seccomp_allow);
        for (size_t i = 0; i < p->security.n_seccomp_deny; i++)
                free(p->security.seccomp_deny[i]);
        free(p->security.seccomp_deny);
        util_strv_free(p->approval.allow);
        util_strv_free(p->approval.deny);
        util_strv_free(p->approval.command);
        free(p->audit.log);
        free(p->audit.events);
        util_strv_free(p->net.allow);
        util_strv_free(p->net.hosts);
        free(p);
}

void zb_policy_set_check_mode(struct zb_policy *p, int on)
{
        p->check_canary = on != 0;
}

void zb_policy_set_capture(struct zb_policy *p, int capture)
{
        p->capture = capture != 0;
}

int zb_policy_set_command(struct zb_policy *p, int argc, char *const argv[], struct zb_error *err)
{
        char **v;

        if (argc <= 0 || !argv || !argv[0] || !argv[0][0])
                return err_set(err, EINVAL, "command: empty command");
        v = calloc((size_t)argc + 1, sizeof(char *));
        if (!v)
                return err_set(err, ENOMEM, "command: out of memory");
        for (int i = 0; i < argc; i++) {
                v[i] = strdup(argv[i]);
                if (!v[i]) {
                        util_strv_free(v);
                        return err_set(err, ENOMEM, "command: out of memory");
                }
        }
        for (size_t i = 0; i < p->argc; i++)
                free(p->argv[i]);
        free(p->argv);
        p->argv = v;
        p->argc = (size_t)argc;
        return 0;
}

static const char *const backend_names[] = {
        [ZB_BACKEND_NAMESPACE] = "namespace",
        [ZB_BACKEND_DOCKER] = "docker",
        [ZB_BACKEND_OCI] = "oci",
        [ZB_BACKEND_KUBERNETES] = "kubernetes",
        [ZB_BACKEND_WASM] = "wasm",
};

static const char *const network_names[] = {
        [ZB_NET_NONE] = "none",
        [ZB_NET_LOOPBACK] = "loopback",
        [ZB_NET_HOST] = "host",
};

static int name_index(const char *s, const char *const *names, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(s, names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *pol_backend_name(enum pol_backend b)
{
        return (unsigned)b < ARRAY_SIZE(backend_names) ? backend_names[b] : backend_names[0];
}

int pol_backend_parse(const char *s, enum pol_backend *out)
{
        int i = name_index(s, backend_names, ARRAY_SIZE(backend_names));
        return i < 0 ? i : (*out = (enum pol_backend)i, 0);
}

const char *pol_network_mode_name(enum pol_network n)
{
        return (unsigned)n < ARRAY_SIZE(network_names) ? network_names[n] : network_names[0];
}

int pol_network_mode_parse(const char *s, enum pol_network *out)
{
        int i = name_index(s, network_names, ARRAY_SIZE(network_names));
        return i < 0 ? i : (*out = (enum pol_network)i, 0);
}

const char *pol_network_name(const struct zb_policy *p)
{
        return pol_net_allowlist(p) ? "allowlist" : pol_network_mode_name(p->network);
}

int pol_zone_mode_parse(const char *s, enum pol_zone_mode *out)
{
        if (!s)
                return -EINVAL;
        if (strcmp(s, "ro") == 0)
                *out = ZB_ZONE_RO;
        else if (strcmp(s, "rw") == 0)
                *out = ZB_ZONE_RW;
        else if (strcmp(s, "tmpfs") == 0)
                *out = ZB_ZONE_TMPFS;
        else if (strcmp(s, "cow") == 0)
                *out = ZB_ZONE_COW;
        else
                return -EINVAL;
        return 0;
}

const char *pol_zone_mode_name(enum pol_zone_mode m)
{
        switch (m) {
        case ZB_ZONE_RO:
                return "ro";
        case ZB_ZONE_RW:
                return "rw";
        case ZB_ZONE_TMPFS:
                return "tmpfs";
        case ZB_ZONE_COW:
                return "cow";
        }
        return "?";
}

/* Join BASE and PATH and fold ".", ".." and repeated slashes, lexically. */
char *util_path_absolute(const char *base_dir, const char *path)
{
        _cleanup_(freep) char *cwd = NULL;
        _cleanup_(freep) char *joined = NULL;

        if (!path || !*path)
                return NULL;
        if (path[0] == '/') {
                joined = strdup(path);
        } else {
                if (!base_dir) {
                        cwd = getcwd(NULL, 0);
                        if (!cwd)
                                return NULL;
                        base_dir = cwd;
                }
                joined = util_asprintf("%s/%s", base_dir, path);
        }
        if (!joined)
                return NULL;

        char *out = malloc(strlen(joined) + 2);
        if (!out)
                return NULL;
        size_t len = 0;
        const char *s = joined;
        while (*s) {
                while (*s == '/')
                        s++;
                const char *e = strchrnul(s, '/');
                size_t n = (size_t)(e - s);
                if (n == 0 || (n == 1 && s[0] == '.')) {
                        /* skip */
                } else if (n == 2 && s[0] == '.' && s[1] == '.') {
                        while (len > 0 && out[len - 1] != '/')
                                len--;
                        if (len > 0)
                                len--; /* the slash */
                } else {
                        out[len++] = '/';
                        memcpy(out + len, s, n);
                        len += n;
                }
                s = e;
        }
        if (len == 0)
                out[len++] = '/';
        out[len] = '\0';
        return out;
}

int pol_add_zone(struct zb_policy *p, const struct pol_zone *z, struct zb_error *err)
{
        struct pol_zone *zs = realloc(p->zones, (p->n_zones + 1) * sizeof(*zs));
        if (!zs)
                return err_set(err, ENOMEM, "zone: out of memory");
        p->zones = zs;
        struct pol_zone *n = &p->zones[p->n_zones];
        memset(n, 0, sizeof(*n));
        n->mode = z->mode;
        n->size = z->size;
        n->name = util_strdup(z->name);
        n->host_path = util_strdup(z->host_path);
        n->path = util_strdup(z->path ? z->path : NULL);
        if (!n->path && z->name)
                n->path = util_asprintf("/%s", z->name);
        if ((z->name && !n->name) || (z->host_path && !n->host_path) || !n->path) {
                pol_zone_free_fields(n);
                return err_set(err, ENOMEM, "zone: out of memory");
        }
        n->from_config = z->from_config;
        /* A flag's zone replaces the config file's zone on the same mount
         * point; any other duplicate is kept for validation to refuse. */
        for (size_t i = 0; i < p->n_zones; i++) {
                if (!n->from_config && p->zones[i].from_config &&
                    strcmp(p->zones[i].path, n->path) == 0) {
                        pol_zone_free_fields(&p->zones[i]);
                        p->zones[i] = *n;
                        return 0;
                }
        }
        p->n_zones++;
        return 0;
}

static size_t env_key_len(const char *kv)
{
        const char *eq = strchr(kv, '=');
        return eq ? (size_t)(eq - kv) : strlen(kv);
}

int pol_set_env(struct zb_policy *p, const char *kv)
{
        size_t klen = env_key_len(kv);
        char *copy = strdup(kv);
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_env; i++) {
                if (env_key_len(p->env[i]) == klen && strncmp(p->env[i], kv, klen) == 0) {
                        free(p->env[i]);
                        p->env[i] = copy;
                        return 0;
                }
        }
        char **e = realloc(p->env, (p->n_env + 1) * sizeof(char *));
        if (!e) {
                free(copy);
                return -ENOMEM;
        }
        p->env = e;
        p->env[p->n_env++] = copy;
        return 0;
}

const char *util_env_get(char *const *envp, const char *key)
{
        size_t klen = strlen(key);
        for (; envp && *envp; envp++)
                if (strncmp(*envp, key, klen) == 0 && (*envp)[klen] == '=')
                        return *envp + klen + 1;
        return NULL;
}

/* With network.allow, the proxy's address for the usual clients (curl,
 * wget, pip, python, git, npm read one spelling or the other). */
static const char *const proxy_vars[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy" };
static const char *const no_proxy_vars[] = { "NO_PROXY", "no_proxy" };

static int env_push(char **out, size_t *n, char *s)
{
        if (!s)
                return -ENOMEM;
        out[(*n)++] = s;
        return 0;
}

char **pol_build_env(const struct zb_policy *p)
{
        const char *home = p->tmp_size ? ZB_HOME_DIR : p->workdir ? p->workdir : "/";
        size_t n_def = 4 + ARRAY_SIZE(proxy_vars) + ARRAY_SIZE(no_proxy_vars);
        char **out = calloc(n_def + p->n_env + 1, sizeof(char *));
        size_t n = 0;
        int e = 0;

        if (!out)
                return NULL;
        e |= env_push(out, &n, util_asprintf("PATH=%s", DEFAULT_PATH));
        e |= env_push(out, &n, util_asprintf("HOME=%s", home));
        e |= env_push(out, &n, strdup("LANG=C.UTF-8"));
        if (getenv("TERM"))
                e |= env_push(out, &n, util_asprintf("TERM=%s", getenv("TERM")));
        if (pol_net_allowlist(p)) {
                for (size_t i = 0; i < ARRAY_SIZE(proxy_vars); i++)
                        e |= env_push(out, &n, util_asprintf("%s=http://127.0.0.1:%u", proxy_vars[i],
                                                           pol_proxy_port(p)));
                for (size_t i = 0; i < ARRAY_SIZE(no_proxy_vars); i++)
                        e |= env_push(out, &n, util_asprintf("%s=localhost,127.0.0.1,::1", no_proxy_vars[i]));
        }
        if (e)
                goto fail;
        /* The policy's own entries replace the defaults of the same name. */
        for (size_t i = 0; i < p->n_env; i++) {
                size_t klen = env_key_len(p->env[i]);
                size_t j;
                for (j = 0; j < n; j++)
                        if (env_key_len(out[j]) == klen && strncmp(out[j], p->env[i], klen) == 0)
                                break;
                char *copy = strdup(p->env[i]);
                if (!copy)
                        goto fail;
                if (j < n) {
                        free(out[j]);
                        out[j] = copy;
                } else {
                        out[n++] = copy;
                }
        }
        return out;
fail:
        util_strv_free(out);
        return NULL;
}

/* ---- validation ---- */

/* Places the sandbox builds itself; a zone may not cover them. */
static const char *const system_dirs[] = {
        "/usr", "/etc", "/proc", "/dev", "/sys", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
};

static bool path_is_under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool path_is_normal(const char *p)
{
        if (p[0] != '/')
                return false;
        if (strcmp(p, "/") == 0)
                return true;
        if (p[strlen(p) - 1] == '/')
                return false;
        for (const char *s = p; *s; s++) {
                if (s[0] == '/' && s[1] == '/')
                        return false;
                if (s[0] == '/' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
                        return false;
                if (s[0] == '/' && s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
                        return false;
        }
        return true;
}

static bool zone_name_ok(const char *n)
{
        if (!n || !*n || strlen(n) > 64)
                return false;
        for (const char *s = n; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
                        return false;
        return true;
}

/* PATH made absolute with its existing part resolved (symlinks, ..), so
 * that a zone and a state dir compare as paths even when the state dir does
 * not exist yet (a session started after the run would create it). */
static bool resolve_partly(const char *path, char *out, size_t n)
{
        char head[PATH_MAX], real[PATH_MAX];
        if (snprintf(head, sizeof(head), "%s", path) >= (int)sizeof(head))
                return false;
        char *cut = NULL;
        while (!realpath(head, real)) {
                char *slash = strrchr(head, '/');
                if (cut)
                        *cut = '/';
                if (!slash || slash == head)
                        return snprintf(out, n, "%s", path) < (int)n;
                *slash = '\0';
                cut = slash;
        }
        const char *rest = cut ? path + (cut - head) : "";
        return snprintf(out, n, "%s%s", strcmp(real, "/") == 0 && rest[0] ? "" : real, rest) < (int)n;
}

/* Whether the dir at A (resolved) is B or an ancestor of it: by path, and
 * by identity for each existing ancestor of B (a bind mount of a parent
 * elsewhere is the same directory under another name). */
static bool dir_contains(const char *a, const struct stat *ast, const char *b)
{
        char up[PATH_MAX];
        struct stat st;
        if (strcmp(a, "/") == 0 || (strncmp(b, a, strlen(a)) == 0 &&
                                    (b[strlen(a)] == '\0' || b[strlen(a)] == '/')))
                return true;
        snprintf(up, sizeof(up), "%s", b);
        for (;;) {
                if (stat(up, &st) == 0 && st.st_dev == ast->st_dev && st.st_ino == ast->st_ino)
                        return true;
                char *slash = strrchr(up, '/');
                if (!slash || slash == up)
                        return false;
                *slash = '\0';
        }
}

/* zonebox's own state must stay out of every sandbox: code inside that can
 * read the runtime dir connects to the user's other sessions, and code that
 * can write the change-set store rewrites what a later `zonebox commit`
 * writes to the host (docs/config.md, "Zones and zonebox's own state"). */
static int zone_avoid_state(const struct pol_zone *z, const char *dir, const char *what, struct zb_error *err)
{
        char zr[PATH_MAX], dr[PATH_MAX];
        struct stat zst, dst;
        if (!realpath(z->host_path, zr) || stat(zr, &zst) < 0 || !resolve_partly(dir, dr, sizeof(dr)))
                return 0; /* the existence check that follows names the error */
        bool inside = stat(dr, &dst) == 0 && dir_contains(dr, &dst, zr);
        if (inside || dir_contains(zr, &zst, dr))
                return err_set(err, EPERM,
                                    "zone '%s': host path %s %s zonebox's %s %s; a sandbox must not reach it",
                                    z->name, z->host_path, inside ? "lies inside" : "contains", what, dir);
        return 0;
}

int pol_zones_avoid(const struct zb_policy *p, const char *dir, const char *what, struct zb_error *err)
{
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                int r = z->mode == ZB_ZONE_TMPFS || !z->host_path ? 0 : zone_avoid_state(z, dir, what, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every place zonebox keeps state for this user: the store and runtime
 * dir in force, root's, and the defaults under $XDG_RUNTIME_DIR and /tmp
 * (whichever is in force next time). */
static int zones_avoid_all_state(const struct zb_policy *p, struct zb_error *err)
{
        char store[PATH_MAX], rt[PATH_MAX], dflt[PATH_MAX];
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        int r = pol_zones_avoid(p, "/run/zonebox", "state dir", err);
        if (r == 0 && cow_store_path(p->cow.dir, store, sizeof(store), NULL) == 0)
                r = pol_zones_avoid(p, store, "change-set store", err);
        if (r == 0 && sess_runtime_path(NULL, rt, sizeof(rt)) == 0)
                r = pol_zones_avoid(p, rt, "session runtime dir", err);
        if (r == 0 && geteuid() != 0 && xdg && xdg[0] == '/' &&
            snprintf(dflt, sizeof(dflt), "%s/zonebox", xdg) < (int)sizeof(dflt))
                r = pol_zones_avoid(p, dflt, "state dir", err);
        if (r == 0 && geteuid() != 0) {
                snprintf(dflt, sizeof(dflt), "/tmp/zonebox-%u", (unsigned)geteuid());
                r = pol_zones_avoid(p, dflt, "state dir", err);
        }
        return r;
}

static int validate_zone(const struct zb_policy *p, size_t idx, struct zb_error *err)
{
        const struct pol_zone *z = &p->zones[idx];
        struct stat st;

        if (!zone_name_ok(z->name))
                return err_set(err, EINVAL,
                                    "zone '%s': name must be 1-64 of [A-Za-z0-9_.-]",
                                    z->name ? z->name : "");
        if (!path_is_normal(z->path))
                return err_set(err, EINVAL,
                                    "zone '%s': mount point '%s' must be an absolute, normalized path",
                                    z->name, z->path);
        if (strcmp(z->path, "/") == 0)
                return err_set(err, EINVAL, "zone '%s': cannot be mounted over /", z->name);
        for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++)
                if (path_is_under(z->path, system_dirs[i]))
                        return err_set(err, EINVAL,
                                            "zone '%s': mount point %s is a system dir (%s)", z->name,
                                            z->path, system_dirs[i]);
        for (size_t i = 0; i < p->n_zones; i++) {
                if (i == idx)
                        continue;
                const struct pol_zone *o = &p->zones[i];
                if (i < idx && strcmp(o->name, z->name) == 0)
                        return err_set(err, EINVAL, "zone '%s': name used twice", z->name);
                if (strcmp(o->path, z->path) == 0)
                        return err_set(err, EINVAL, "zones '%s' and '%s': both mount on %s",
                                            o->name, z->name, z->path);
                if (path_is_under(z->path, o->path))
                        return err_set(err, EINVAL,
                                            "zone '%s': mount point %s is inside zone '%s' (%s); nested zones are not supported",
                                            z->name, z->path, o->name, o->path);
        }
        if (z->mode == ZB_ZONE_TMPFS) {
                if (z->host_path)
                        return err_set(err, EINVAL, "zone '%s': a tmpfs zone takes no hostPath",
                                            z->name);
                if (z->size == 0)
                        return err_set(err, EINVAL, "zone '%s': size must be > 0", z->name);
                return 0;
        }
        if (z->size && z->mode == ZB_ZONE_RO)
                return err_set(err, EINVAL,
                                    "zone '%s': size applies to tmpfs, rw and cow zones, not ro",
                                    z->name);
        if (!z->host_path)
                return err_set(err, EINVAL, "zone '%s': hostPath is required for mode %s",
                                    z->name, pol_zone_mode_name(z->mode));
        if (stat(z->host_path, &st) < 0)
                return err_errno(err, errno, "zone '%s': hostPath %s", z->name, z->host_path);
        if (!S_ISDIR(st.st_mode))
                return err_set(err, ENOTDIR, "zone '%s': hostPath %s is not a directory",
                                    z->name, z->host_path);
        return 0;
}

int pol_image_check_resolved(const struct zb_policy *p, struct zb_error *err)
{
        if (p->image && (p->backend == ZB_BACKEND_NAMESPACE || p->backend == ZB_BACKEND_OCI) &&
            !p->n_image_layers)
                return err_set(err, EINVAL,
                                    "image: '%s' was not resolved into the image store (zb_policy_use_image); the %s backend never runs an image on the host's dirs",
                                    p->image, pol_backend_name(p->backend));
        return 0;
}

static int validate_rootfs(const struct zb_policy *p, struct zb_error *err)
{
        struct stat st;

        if (p->image && p->rootfs)
                return err_set(err, EINVAL, "image (--image) and rootfs (--rootfs): give one root, not both");
        if (!p->rootfs)
                return 0;
        if (stat(p->rootfs, &st) < 0)
                return err_errno(err, errno, "rootfs: %s", p->rootfs);
        if (!S_ISDIR(st.st_mode))
                return err_set(err, ENOTDIR, "rootfs: %s is not a directory", p->rootfs);
        return 0;
}

/* network.allow, network.hosts, network.proxy_port: every entry, and what
 * they cannot be combined with. */
static int validate_net(const struct zb_policy *p, struct zb_error *err)
{
        const struct pol_net *n = &p->net;
        const char *why;

        if (!n->n_allow) {
                if (n->n_hosts)
                        return err_set(err, EINVAL,
                                            "network.hosts (--add-host): needs network.allow (--net-allow); names are resolved only by the allowlist proxy");
                if (n->proxy_port)
                        return err_set(err, EINVAL,
                                            "network.proxy_port: needs network.allow (--net-allow)");
                return 0;
        }
        if (p->network == ZB_NET_HOST)
                return err_set(err, EINVAL,
                                    "network.allow (--net-allow): cannot be combined with network: host (the host's network is shared; nothing would be limited)");
        if (n->n_allow > ZB_MAX_NET_RULES)
                return err_set(err, E2BIG, "network.allow: at most %d entries", ZB_MAX_NET_RULES);
        if (n->proxy_port > 65535)
                return err_set(err, EINVAL, "network.proxy_port: must be 1-65535");
        for (size_t i = 0; i < n->n_allow; i++) {
                struct net_rule r;
                if (net_rule_parse(n->allow[i], &r, &why) < 0)
                        return err_set(err, EINVAL, "network.allow[%zu]: '%s': %s", i, n->allow[i], why);
        }
        for (size_t i = 0; i < n->n_hosts; i++) {
                char name[ZB_NET_NAME_MAX + 1];
                struct net_addr a;
                if (net_pin_parse(n->hosts[i], name, &a, &why) < 0)
                        return err_set(err, EINVAL, "network.hosts: '%s': %s", n->hosts[i], why);
        }
        return 0;
}

int zb_policy_validate(const struct zb_policy *p, struct zb_error *err)
{
        int r;

        if (p->argc == 0 && !p->session)
                return err_set(err, EINVAL, "command: empty command (give it after --)");
        /* What the backend refuses outright, key by key (keytab.c), before
         * any check of the values. */
        r = kt_refuse(p, p->backend, err);
        if (r < 0)
                return r;
        if (p->n_zones > ZB_MAX_ZONES)
                return err_set(err, E2BIG, "zones: at most %d", ZB_MAX_ZONES);
        for (size_t i = 0; i < p->n_zones; i++) {
                r = validate_zone(p, i, err);
                if (r < 0)
                        return r;
        }
        r = zones_avoid_all_state(p, err);
        if (r < 0)
                return r;
        r = validate_rootfs(p, err);
        if (r < 0)
                return r;
        r = pol_backend_validate(p, err); /* before validate_net: its own message for --net-allow */
        if (r < 0)
                return r;
        r = validate_net(p, err);
        if (r < 0)
                return r;
        if (p->workdir && !path_is_normal(p->workdir))
                return err_set(err, EINVAL, "workdir: '%s' must be an absolute, normalized path",
                                    p->workdir);
        for (size_t i = 0; i < p->n_env; i++) {
                const char *kv = p->env[i];
                if (!strchr(kv, '=') || kv[0] == '=')
                        return err_set(err, EINVAL, "env: '%s' is not KEY=VALUE", kv);
        }
        if (p->hostname && (strlen(p->hostname) == 0 || strlen(p->hostname) > 64))
                return err_set(err, EINVAL, "hostname: must be 1-64 characters");
        if (p->limits.open_files == 0)
                return err_set(err, EINVAL, "limits.open_files: must be > 0");
        if (p->limits.output == 0)
                return err_set(err, EINVAL, "limits.output: must be > 0");
        const struct pol_security *sec = &p->security;
        if (sec->seccomp && strcmp(sec->seccomp, "unconfined") == 0 &&
            (sec->n_seccomp_allow || sec->n_seccomp_deny))
                return err_set(err, EINVAL,
                                    "security.seccomp: unconfined means no filter, so its allow/deny lists (--seccomp-allow, --seccomp-deny) cannot apply; use the default profile or a profile file");
        if (!sec->no_new_privileges &&
            (!sec->seccomp || strcmp(sec->seccomp, "unconfined") != 0 || sec->landlock != ZB_LANDLOCK_OFF))
                return err_set(err, EINVAL,
                                    "security.no_new_privileges: false needs security.seccomp: unconfined and security.landlock: false (the kernel installs neither without no_new_privs)");
        const struct pol_limits *l = &p->limits;
        if (l->memory_swap_total && l->memory_swap_total != ZB_UNLIMITED) {
                if (!l->memory)
                        return err_set(err, EINVAL,
                                            "limits.memory_swap (--memory-swap): needs limits.memory (--memory)");
                if (l->memory_swap_total < l->memory)
                        return err_set(err, EINVAL,
                                            "limits.memory_swap (--memory-swap): must be at least limits.memory (it is memory + swap)");
        }
        if (l->memory_swap_total && l->swap)
                return err_set(err, EINVAL,
                                    "limits.swap: give either swap (on top of memory) or memory_swap (the total), not both");
        return 0;
}
