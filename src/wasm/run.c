/* wasm_run: a WASI module through its runtime, inside the namespace
 * sandbox. Before anything starts the module is read once (from a zone, or
 * from the host), checked (module.c) and copied into a private directory
 * that the sandbox gets as a read-only zone: the runtime runs exactly the
 * bytes that were checked. The runtime's command line (command.c) replaces
 * the command; every other setting of the policy goes to ns_run_policy as it
 * is, so ro zones are read-only mounts whatever the runtime does. Nothing is
 * left: the private directory is removed after the run, and one left by a
 * killed supervisor is removed by the next wasm run (gc_stale). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "../ns/ns.h"
#include "wasm.h"

#define STAGE_PREFIX "zonebox-wasm-"
/* A private dir of a dead supervisor is removed once this old: by then its
 * runtime, if it ever ran, has long read the module. */
#define STAGE_STALE_S 60

struct module {
        unsigned char *data;
        size_t len;
};

static void strv_freep(char ***v)
{
        util_strv_free(*v);
}

static void module_free(struct module *m)
{
        free(m->data);
        m->data = NULL;
}

/* A result for a module that cannot run: 126 (not executable) or 127 (not
 * found), as the namespace backend reports a command. */
static int refuse(struct zb_result **out, enum pol_setup_kind kind, struct zb_error *err, const char *fmt, ...)
        ZB_PRINTF(4, 5);
static int refuse(struct zb_result **out, enum pol_setup_kind kind, struct zb_error *err, const char *fmt, ...)
{
        struct zb_result *r = res_new("wasm");
        va_list ap;
        if (!r)
                return err_set(err, ENOMEM, "out of memory");
        va_start(ap, fmt);
        if (vasprintf(&r->error, fmt, ap) < 0)
                r->error = NULL;
        va_end(ap);
        r->status = ZB_STATUS_SETUP_ERROR;
        r->setup_kind = kind;
        *out = r;
        return 0;
}

/* The zone whose mount point holds the sandbox path PATH; *REST the part
 * below it. */
static const struct pol_zone *zone_of(const struct zb_policy *p, const char *path, const char **rest)
{
        for (size_t i = 0; i < p->n_zones; i++) {
                const char *zp = p->zones[i].path;
                size_t n = strlen(zp);
                if (strncmp(path, zp, n) == 0 && path[n] == '/' && path[n + 1]) {
                        *rest = path + n + 1;
                        return &p->zones[i];
                }
        }
        return NULL;
}

/* Inside a zone: resolved below the zone's host dir, never out of it (a
 * symlink out of the zone is refused, as the sandbox would not see it). */
static int open_in_zone(const struct pol_zone *z, const char *rest)
{
        _cleanup_(closep) int dir = open(z->host_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return -1;
        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        return (int)syscall(SYS_openat2, dir, rest, &how, sizeof(how));
}

static int read_all(int fd, struct module *m, const char *name, struct zb_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return err_errno(err, errno, "module %s", name);
        if ((uint64_t)st.st_size > WASM_MAX_MODULE_BYTES)
                return err_set(err, EFBIG, "module %s: %lld bytes, more than the %llu MiB a module may have",
                                    name, (long long)st.st_size, WASM_MAX_MODULE_BYTES >> 20);
        m->data = malloc((size_t)st.st_size + 1);
        if (!m->data)
                return err_set(err, ENOMEM, "module %s: out of memory", name);
        m->len = 0;
        for (;;) {
                ssize_t k = read(fd, m->data + m->len, (size_t)st.st_size + 1 - m->len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return err_errno(err, errno, "module %s: read", name);
                if (k == 0)
                        return 0;
                m->len += (size_t)k;
                if (m->len > (size_t)st.st_size) /* grew while read: a moving target */
                        return err_set(err, EBUSY, "module %s: changed while it was read", name);
        }
}

/* ARG0: a path in a zone (as the sandbox sees it) or a path on the host.
 * Returns 0 with the bytes, 1 when *OUT holds a 126/127 result, or -errno. */
static int load_module(const struct zb_policy *p, const char *arg0, struct module *m,
                       struct zb_result **out, struct zb_error *err)
{
        const char *rest = NULL;
        const struct pol_zone *z = arg0[0] == '/' ? zone_of(p, arg0, &rest) : NULL;
        _cleanup_(closep) int fd = -1;
        struct stat st;

        if (z && z->mode == ZB_ZONE_TMPFS)
                return refuse(out, ZB_SETUP_NOT_FOUND, err,
                              "module %s: in tmpfs zone '%s', which is empty when the run starts", arg0,
                              z->name) ?: 1;
        fd = z ? open_in_zone(z, rest) : open(arg0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
                return refuse(out, ZB_SETUP_NOT_FOUND, err, "module %s: not found%s%s%s", arg0,
                              z ? " in zone '" : " (a path on the host: it is in no zone)",
                              z ? z->name : "", z ? "'" : "") ?: 1;
        if (fd < 0)
                return refuse(out, ZB_SETUP_NOT_EXEC, err, "module %s: %s", arg0,
                              errno == ELOOP ? "a symlink (give the file itself)"
                              : errno == EXDEV ? "a symlink out of its zone"
                                               : strerror(errno)) ?: 1;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return refuse(out, ZB_SETUP_NOT_EXEC, err, "module %s: not a regular file", arg0) ?: 1;
        return read_all(fd, m, arg0, err);
}

static const char *stage_base(void)
{
        const char *t = getenv("TMPDIR");
        return t && t[0] == '/' ? t : "/tmp";
}

/* Private dirs of supervisors that are gone (killed before their cleanup):
 * ours only (same owner), their pid dead and the dir old. */
static void gc_stale(const char *base)
{
        _cleanup_(closedirp) DIR *d = opendir(base);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                struct stat st;
                char *end = NULL;
                long pid = strncmp(e->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX)) == 0
                        ? strtol(e->d_name + strlen(STAGE_PREFIX), &end, 10) : 0;
                if (!end || *end != '-' || pid <= 0 || pid > INT32_MAX ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != geteuid() || time(NULL) - st.st_mtime < STAGE_STALE_S ||
                    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
                        continue;
                _cleanup_(closep) int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        unlinkat(sub, "module.wasm", 0);
                unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
}

/* The checked bytes into a fresh private dir (0755, the file 0444: read by
 * the sandbox user, written by no one). DIR gets its path. */
static int stage_module(const struct module *m, char *dir, size_t size, struct zb_error *err)
{
        const char *base = stage_base();
        gc_stale(base);
        int n = snprintf(dir, size, "%s/" STAGE_PREFIX "%d-XXXXXX", base, (int)getpid());
        if (n < 0 || (size_t)n >= size || !mkdtemp(dir))
                return err_errno(err, n < 0 || (size_t)n >= size ? ENAMETOOLONG : errno,
                                      "wasm: private dir for the module under %s", base);
        _cleanup_(closep) int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_(closep) int fd = dfd < 0 ? -1 : openat(dfd, "module.wasm", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0 || fchmod(dfd, 0755) < 0 || util_write_all(fd, m->data, m->len) < 0 || fchmod(fd, 0444) < 0) {
                int e = errno;
                if (dfd >= 0)
                        unlinkat(dfd, "module.wasm", 0);
                rmdir(dir);
                return err_errno(err, e, "wasm: copying the module to %s", dir);
        }
        return 0;
}

void wasm_gc(void)
{
        gc_stale(stage_base());
}

static void unstage(const char *dir)
{
        _cleanup_(freep) char *file = util_asprintf("%s/module.wasm", dir);
        if (file)
                unlink(file);
        rmdir(dir);
}

/* The zones plus the module's private dir, read-only at WASM_MODULE_DIR.
 * The zone structs are shared with P (not copied): freed by P only. */
static struct pol_zone *zones_with_module(const struct zb_policy *p, const char *dir)
{
        struct pol_zone *z = calloc(p->n_zones + 1, sizeof(*z));
        if (!z)
                return NULL;
        if (p->n_zones)
                memcpy(z, p->zones, p->n_zones * sizeof(*z));
        z[p->n_zones] = (struct pol_zone){ .name = (char *)WASM_MODULE_ZONE, .mode = ZB_ZONE_RO,
                                          .host_path = (char *)dir, .path = (char *)WASM_MODULE_DIR };
        return z;
}

/* The module's linear memory stops below the sandbox's memory limit, so a
 * hog sees malloc fail (memory.grow returns -1) instead of pushing the
 * runtime into the cgroup's limit, where reclaiming node's own text pages
 * can thrash for minutes before any OOM kill. */
static uint64_t memory_cap(const struct zb_policy *p)
{
        uint64_t m = p->limits.memory;
        if (!m || m == ZB_UNLIMITED)
                return 0;
        return m > 2 * WASM_RUNTIME_RESERVE_BYTES ? m - WASM_RUNTIME_RESERVE_BYTES : m / 2;
}

/* The runtime's command for P's module and arguments. */
static char **runtime_command(const struct zb_policy *p, const struct wasm_runtime *rt, struct zb_error *err)
{
        _cleanup_(strv_freep) char **env = pol_build_env(p);
        if (!env) {
                err_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        struct wasm_launch l = {
                .runtime = rt->kind,
                .runtime_path = rt->path,
                .module = WASM_MODULE_PATH,
                .args = p->argv,
                .argc = p->argc,
                .env = env,
                .zones = p->zones,
                .n_zones = p->n_zones,
                .workdir = p->workdir,
                .memory_bytes = memory_cap(p),
        };
        return wasm_command(&l, err);
}

/* The last line of captured stderr starting with MARK, without it. */
static char *marked_line(const struct zb_result *r, const char *mark)
{
        const char *data = r->err.data, *found = NULL;
        size_t n = r->err.len, mlen = strlen(mark);
        for (size_t i = 0; data && i + mlen <= n; i++)
                if ((i == 0 || data[i - 1] == '\n') && memcmp(data + i, mark, mlen) == 0)
                        found = data + i + mlen;
        if (!found)
                return NULL;
        size_t len = 0;
        while (found + len < data + n && found[len] != '\n')
                len++;
        return strndup(found, len);
}

/* The launcher's signals into the verdict (node; wasm.h). */
static void node_verdict(struct zb_result *r, const char *module)
{
        if (r->status != ZB_STATUS_SIGNALED)
                return;
        bool trap = r->signal == WASM_TRAP_SIGNAL, not_runnable = r->signal == WASM_NOT_RUNNABLE_SIGNAL;
        if (!trap && !not_runnable)
                return;
        _cleanup_(freep) char *msg = r->captured
                ? marked_line(r, trap ? WASM_MARK_TRAP : WASM_MARK_NOT_RUNNABLE) : NULL;
        r->signal = 0;
        free(r->error);
        if (trap) {
                r->status = ZB_STATUS_TRAP;
                r->error = msg ? util_asprintf("module %s: wasm trap: %s", module, msg) : NULL;
                return;
        }
        r->status = ZB_STATUS_SETUP_ERROR;
        r->setup_kind = ZB_SETUP_NOT_EXEC;
        r->error = util_asprintf("module %s: the runtime cannot run it: %s", module,
                               msg ? msg : "its message is on stderr");
}

static int run_staged(const struct zb_policy *p, const struct wasm_runtime *rt, const char *dir,
                      struct zb_result *r, struct zb_error *err)
{
        _cleanup_(freep) struct pol_zone *zones = zones_with_module(p, dir);
        _cleanup_(strv_freep) char **cmd = runtime_command(p, rt, err);
        char version[WASM_VERSION_MAX];
        pid_t vpid = -1;
        int vfd = -1, ret;

        if (!zones)
                return err_set(err, ENOMEM, "out of memory");
        if (!cmd)
                return err->code ? err->code : -ENOMEM;
        struct zb_policy q = *p;
        q.backend = ZB_BACKEND_NAMESPACE;
        q.zones = zones;
        q.n_zones = p->n_zones + 1;
        q.argv = cmd;
        for (q.argc = 0; cmd[q.argc];)
                q.argc++;
        q.env = NULL; /* the module's environment is in its command; the runtime gets the defaults */
        q.n_env = 0;
        ret = zb_policy_validate(&q, err);
        if (ret < 0)
                return ret;
        q.engine.runtime[0] = '\0'; /* runtime: named the WASI runtime (backend.c) */
        pol_unused(p, ZB_BACKEND_WASM, r); /* the settings it does not use (keytab.c): warnings */
        bool asked = wasm_version_start(rt->host_path, &vpid, &vfd) == 0;
        ret = ns_run_policy(&q, r, err);
        version[0] = '\0';
        if (asked)
                wasm_version_collect(vpid, vfd, version, sizeof(version));
        r->wasm_runtime_version = util_strdup(version);
        return ret;
}

/* PATH as the policy sets it (-e PATH=...), else NULL: the default. The
 * policy's env is counted (n_env), not NULL-terminated. */
static const char *policy_path(const struct zb_policy *p)
{
        const char *found = NULL;
        for (size_t i = 0; i < p->n_env; i++)
                if (strncmp(p->env[i], "PATH=", 5) == 0)
                        found = p->env[i] + 5; /* later entries win */
        return found;
}

int wasm_run(const struct zb_policy *p, struct zb_result **out, struct zb_error *err)
{
        struct wasm_runtime rt;
        enum pol_wasm_runtime want;
        struct module m = { 0 };
        char why[256], dir[4096];
        int ret;

        *out = NULL;
        ret = pol_wasm_runtime_wanted(p, &want, err);
        if (ret < 0)
                return ret;
        const char *path_env = policy_path(p);
        ret = wasm_runtime_find(want, path_env, p->rootfs, &rt, err);
        if (ret < 0)
                return ret;
        ret = load_module(p, p->argv[0], &m, out, err);
        if (ret != 0) {
                module_free(&m);
                return ret < 0 ? ret : 0;
        }
        enum wasm_check c = wasm_module_check(m.data, m.len, why, sizeof(why));
        if (c == WASM_CHECK_UNSUPPORTED) {
                module_free(&m);
                return err_set(err, ENOTSUP, "module %s: %s", p->argv[0], why);
        }
        if (c != WASM_CHECK_OK) {
                module_free(&m);
                return refuse(out, ZB_SETUP_NOT_EXEC, err, "module %s: %s", p->argv[0], why);
        }
        ret = stage_module(&m, dir, sizeof(dir), err);
        module_free(&m);
        if (ret < 0)
                return ret;
        struct zb_result *r = res_new("wasm");
        if (!r) {
                unstage(dir);
                return err_set(err, ENOMEM, "out of memory");
        }
        r->wasm_runtime = util_strdup(pol_wasm_runtime_name(rt.kind));
        r->wasm_runtime_path = util_strdup(rt.path);
        ret = run_staged(p, &rt, dir, r, err);
        unstage(dir);
        if (ret < 0) {
                zb_result_free(r);
                return ret;
        }
        if (rt.kind == ZB_WASM_NODE)
                node_verdict(r, p->argv[0]);
        *out = r;
        return 0;
}
