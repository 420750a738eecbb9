/* One job of zonebox serve, both APIs: the request's files written into a
 * fresh directory mounted at /code, the runtime's compile step (its own
 * limits, its own verdict), then the run step, each a zb_run in the calling
 * worker. Guarantees: every step's policy is the server's config loaded
 * afresh and narrowed as zonebox mcp narrows a call (src/mcp/narrow.c), so a
 * request can lower the runtime's limits, never raise them, and names no
 * host path; a file name is one plain name (no '/', '.', '..' or NUL); the
 * job's directory (on /run for root: tmpfs) is removed when the job ends,
 * and a worker killed mid-job leaves one that the next job removes
 * (srv_jobs_gc: the owner's pid and start time are in its name). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/keys.h"
#include "../mcp/mcp.h"
#include "../ns/cgroup.h"
#include "../core/fs.h"
#include "runtime_int.h"

int srv_file_name_check(const char *name, const char *field, struct zb_error *err)
{
        if (!name || !*name)
                return err_set(err, EINVAL, "%s: empty file name", field);
        if (strlen(name) > SRV_MAX_FILE_NAME)
                return err_set(err, EINVAL, "%s: file name longer than %d bytes", field, SRV_MAX_FILE_NAME);
        if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return err_set(err, EINVAL, "%s: a plain file name (no '/', not '.' or '..')", field);
        return 0;
}

void srv_job_free(struct srv_job *j)
{
        for (size_t i = 0; i < j->n_files; i++) {
                free(j->files[i].name);
                free(j->files[i].data);
        }
        for (size_t i = 0; j->args && i < j->n_args; i++)
                free(j->args[i]);
        free(j->args);
        free(j->stdin_data);
        for (size_t i = 0; i < SRV_NARROWABLE; i++) {
                free(j->compile.limit[i]);
                free(j->run.limit[i]);
        }
        memset(j, 0, sizeof(*j));
}

void srv_step_free(struct srv_step *s)
{
        json_object_put(s->verdict);
        memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ job directories */

static int jobs_dir(char *buf, size_t n)
{
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        /* Not under zonebox's own state dirs, which no zone may reach. */
        int k = geteuid() == 0 ? snprintf(buf, n, "/run/zonebox-serve")
                : xdg && *xdg  ? snprintf(buf, n, "%s/zonebox-serve", xdg)
                               : snprintf(buf, n, "/tmp/zonebox-serve-%u", (unsigned)geteuid());
        return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static int mkdir_p(char *path)
{
        for (char *s = path + 1; *s; s++)
                if (*s == '/') {
                        *s = '\0';
                        int r = mkdir(path, 0700);
                        *s = '/';
                        if (r < 0 && errno != EEXIST)
                                return -errno;
                }
        return mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/* NAME is PID-STARTTIME-XXXXXX (job_dir_create); anything else is not a
 * job dir and is left alone. */
static bool owner_alive(const char *name)
{
        char *end = NULL;
        errno = 0;
        long pid = strtol(name, &end, 10);
        if (errno || end == name || *end != '-' || pid <= 0 || pid > INT32_MAX)
                return true;
        const char *s = end + 1;
        unsigned long long start = strtoull(s, &end, 10), now = 0;
        if (errno || end == s || *end != '-')
                return true;
        return ns_proc_start_time((pid_t)pid, &now) == 0 && now == start;
}

int srv_jobs_gc(unsigned *removed)
{
        char dir[PATH_MAX];
        unsigned n = 0;
        if (jobs_dir(dir, sizeof(dir)) < 0)
                return -ENAMETOOLONG;
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] != '.' && !owner_alive(e->d_name) &&
                    fs_remove_tree(dirfd(d), e->d_name, 0) == 0)
                        n++;
        closedir(d);
        if (removed)
                *removed = n;
        return 0;
}

/* A fresh directory named PID-STARTTIME-XXXXXX under jobs_dir. */
static int job_dir_create(char *path, size_t n, struct zb_error *err)
{
        unsigned long long start = 0;
        if (jobs_dir(path, n) < 0)
                return err_set(err, ENAMETOOLONG, "job directory: path too long");
        int r = mkdir_p(path);
        if (r < 0)
                return err_errno(err, -r, "job directory %s", path);
        if (ns_proc_start_time(getpid(), &start) < 0)
                return err_set(err, EIO, "job directory: cannot read this process's start time");
        size_t k = strlen(path);
        if (snprintf(path + k, n - k, "/%d-%llu-XXXXXX", (int)getpid(), start) >= (int)(n - k))
                return err_set(err, ENAMETOOLONG, "job directory: path too long");
        if (!mkdtemp(path))
                return err_errno(err, errno, "job directory %s", path);
        return 0;
}

static void job_dir_remove(const char *path)
{
        _cleanup_(freep) char *parent = util_strdup(path);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (!slash)
                return;
        *slash = '\0';
        _cleanup_(closep) int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                fs_remove_tree(fd, slash + 1, 0);
}

static int files_write(const char *dir, const struct srv_job *j, struct zb_error *err)
{
        _cleanup_(closep) int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return err_errno(err, errno, "job directory %s", dir);
        for (size_t i = 0; i < j->n_files; i++) {
                _cleanup_(closep) int fd = openat(dfd, j->files[i].name,
                                                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0)
                        return err_set(err, errno == EEXIST ? EINVAL : errno, "files[%zu].name: %s%s", i,
                                       errno == EEXIST ? "the same name as an earlier file" : "cannot write: ",
                                       errno == EEXIST ? "" : strerror(errno));
                if (util_write_all(fd, j->files[i].data, j->files[i].len) < 0)
                        return err_errno(err, errno, "files[%zu]: write", i);
        }
        return 0;
}

/* ------------------------------------------------------------ a step's policy */

/* The config with the runtime's limits for the step: what the request may
 * narrow (the runtime's limits are the server's, trusted like the config). */
static struct zb_policy *step_cap(const struct srv_runtimes *rt, const struct srv_limits *lim,
                                  struct zb_error *err)
{
        struct zb_policy *p = zb_policy_new();
        if (!p) {
                err_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        int r = pol_load_yaml_buffer(p, rt->cfg, rt->cfg_len, rt->cfg_name, rt->cfg_dir, err);
        for (size_t i = 0; r == 0 && i < SRV_N_LIMITS; i++)
                if (lim->value[i])
                        r = pol_set_key(p, srv_limit_names[i].key, lim->value[i], srv_limit_names[i].name, NULL, err);
        if (r < 0) {
                zb_policy_free(p);
                return NULL;
        }
        return p;
}

/* The request's narrowing as zonebox mcp's arguments: the limits it gave
 * and env (the run step's only). */
static json_object *narrow_args(const struct srv_step_req *req, json_object *env)
{
        json_object *a = json_object_new_object();
        for (size_t i = 0; i < SRV_NARROWABLE; i++)
                if (req->limit[i])
                        json_object_object_add(a, srv_limit_names[i].name, json_object_new_string(req->limit[i]));
        if (env)
                json_object_object_add(a, "env", json_object_get(env));
        return a;
}

/* The step's policy: mcp_policy narrows the config's fresh copy against
 * CAP; the runtime's limits the request left alone are then set as the
 * runtime gives them. PREFIX names the request's field in messages. */
static struct zb_policy *step_policy(const struct srv_runtimes *rt, const struct srv_limits *lim,
                                     const struct srv_step_req *req, json_object *env, const char *prefix,
                                     struct zb_error *err)
{
        static const char *const keys[] = { "timeout", "cpu_time", "memory", "pids", "env", NULL };
        struct zb_policy *cap = step_cap(rt, lim, err);
        if (!cap)
                return NULL;
        struct mcp_server *s = calloc(1, sizeof(*s));
        json_object *args = narrow_args(req, env);
        struct zb_policy *p = NULL;
        if (s && args) {
                s->cfg = rt->cfg;
                s->cfg_len = rt->cfg_len;
                s->cfg_name = rt->cfg_name;
                s->cfg_dir = rt->cfg_dir;
                s->base = cap;
                struct zb_error e = { 0 };
                p = mcp_policy(s, args, keys, &e);
                if (!p)
                        err_set(err, e.code ? -e.code : EINVAL, "%s%s", strncmp(e.message, "env", 3) ? prefix : "",
                                e.message);
        } else {
                err_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; p && i < SRV_N_LIMITS; i++)
                if (lim->value[i] && (i >= SRV_NARROWABLE || !req->limit[i]) &&
                    pol_set_key(p, srv_limit_names[i].key, lim->value[i], srv_limit_names[i].name, NULL, err) < 0) {
                        zb_policy_free(p);
                        p = NULL;
                }
        json_object_put(args);
        free(s);
        zb_policy_free(cap);
        return p;
}

int srv_job_check(const struct srv_runtimes *rt, const struct srv_job *j, struct zb_error *err)
{
        struct zb_policy *p;
        if (j->rt->compile) {
                if (!(p = step_policy(rt, &j->rt->compile_limits, &j->compile, NULL, "compile_limits.", err)))
                        return err->code ? err->code : -EINVAL;
                zb_policy_free(p);
        }
        if (!(p = step_policy(rt, &j->rt->limits, &j->run, j->env, "limits.", err)))
                return err->code ? err->code : -EINVAL;
        zb_policy_free(p);
        return 0;
}

/* ------------------------------------------------------------ running a step */

static int strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
        if (*n + 2 > *cap) {
                size_t c = *cap ? *cap * 2 : 16;
                char **nv = realloc(*v, c * sizeof(char *));
                if (!nv)
                        return -ENOMEM;
                *v = nv;
                *cap = c;
        }
        (*v)[(*n)++] = (char *)s;
        (*v)[*n] = NULL;
        return 0;
}

/* The step's argv: {file} the main file, {files} every file, {args} the
 * request's args, {sh-args} (a string command's $1...) the files for the
 * compile step, the main file and the args for the run. Strings borrowed. */
static char **expand(char *const *tmpl, const struct srv_job *j, bool compile, size_t *argc)
{
        char **v = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        for (size_t i = 0; r == 0 && tmpl[i]; i++) {
                const char *t = tmpl[i];
                bool all = strcmp(t, "{files}") == 0 || (compile && strcmp(t, "{sh-args}") == 0);
                bool args = strcmp(t, "{args}") == 0 || (!compile && strcmp(t, "{sh-args}") == 0);
                if (strcmp(t, "{file}") == 0 || (!compile && strcmp(t, "{sh-args}") == 0))
                        r = strv_push(&v, &n, &cap, j->files[0].name);
                else if (!all && !args)
                        r = strv_push(&v, &n, &cap, t);
                for (size_t k = 0; all && r == 0 && k < j->n_code; k++)
                        r = strv_push(&v, &n, &cap, j->files[k].name);
                for (size_t k = 0; args && r == 0 && k < j->n_args; k++)
                        r = strv_push(&v, &n, &cap, j->args[k]);
        }
        if (r < 0 || !v) {
                free(v);
                return NULL;
        }
        *argc = n;
        return v;
}

/* The step's stdin as fd 0 while it runs (zb_run gives the sandbox ours):
 * the request's for the run step, empty for the compile step. SAVED gets
 * the previous fd 0 back with stdin_restore. */
static int stdin_set(const char *data, size_t len, int *saved, struct zb_error *err)
{
        _cleanup_(closep) int fd = memfd_create("zonebox-serve-stdin", MFD_CLOEXEC);
        if (fd < 0 || util_write_all(fd, data ? data : "", len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return err_errno(err, errno, "stdin");
        *saved = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        if (dup2(fd, STDIN_FILENO) < 0)
                return err_errno(err, errno, "stdin");
        return 0;
}

static void stdin_restore(int saved)
{
        if (saved >= 0) {
                dup2(saved, STDIN_FILENO);
                close(saved);
        } else {
                close(STDIN_FILENO);
        }
}

static int step_prepare(struct zb_policy *p, const struct srv_job *j, bool compile, const char *dir,
                        struct zb_error *err)
{
        struct pol_zone z = { .name = "code", .mode = ZB_ZONE_RW, .host_path = (char *)dir,
                              .path = SRV_CODE_DIR };
        size_t argc = 0;
        _cleanup_(freep) char **argv = expand(compile ? j->rt->compile : j->rt->run, j, compile, &argc);
        if (!argv)
                return err_set(err, ENOMEM, "out of memory");
        int r = pol_add_zone(p, &z, err);
        if (r == 0)
                r = pol_set_key(p, "workdir", SRV_CODE_DIR, "workdir", NULL, err);
        if (r == 0)
                r = zb_policy_set_command(p, (int)argc, argv, err);
        zb_policy_set_capture(p, 1);
        return r;
}

static int step_run(const struct srv_runtimes *rt, const struct srv_job *j, bool compile, const char *dir,
                    struct srv_step *out, struct zb_error *err)
{
        struct zb_policy *p = compile ? step_policy(rt, &j->rt->compile_limits, &j->compile, NULL,
                                                    "compile_limits.", err)
                                      : step_policy(rt, &j->rt->limits, &j->run, j->env, "limits.", err);
        if (!p)
                return err->code ? err->code : -EINVAL;
        int saved = -1, r = step_prepare(p, j, compile, dir, err);
        if (r == 0)
                r = compile ? stdin_set(NULL, 0, &saved, err) : stdin_set(j->stdin_data, j->stdin_len, &saved, err);
        struct zb_result *res = NULL;
        if (r == 0) {
                r = zb_run(p, &res, err);
                stdin_restore(saved);
        }
        zb_policy_free(p);
        if (r < 0)
                return r;
        _cleanup_(freep) char *json = zb_result_json(res);
        zb_result_free(res);
        out->verdict = json ? json_tokener_parse(json) : NULL;
        if (!out->verdict)
                return err_set(err, ENOMEM, "cannot format the result");
        out->ran = true;
        return 0;
}

static bool step_ok(const struct srv_step *s)
{
        json_object *v;
        return s->ran && json_object_object_get_ex(s->verdict, "status", &v) &&
               strcmp(json_object_get_string(v), "exited") == 0 &&
               json_object_object_get_ex(s->verdict, "exit_code", &v) && json_object_get_int(v) == 0;
}

int srv_job_execute(const struct srv_runtimes *rt, const struct srv_job *j, struct srv_step *compile,
                    struct srv_step *run, struct zb_error *err)
{
        char dir[PATH_MAX];
        memset(compile, 0, sizeof(*compile));
        memset(run, 0, sizeof(*run));
        srv_jobs_gc(NULL);
        int r = job_dir_create(dir, sizeof(dir), err);
        if (r < 0)
                return r;
        r = files_write(dir, j, err);
        if (r == 0 && j->rt->compile)
                r = step_run(rt, j, true, dir, compile, err);
        if (r == 0 && (!j->rt->compile || step_ok(compile)))
                r = step_run(rt, j, false, dir, run, err);
        job_dir_remove(dir);
        return r;
}
