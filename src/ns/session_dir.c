/* Sessions on disk: the runtime directory and the session directories in it
 * (docs/sessions.md). Each session is a directory named by its id holding
 * the daemon's socket ("sock") and "info.json" (id, name, pid and start
 * time of the daemon). The runtime directory is the user's own, mode 0700,
 * in a parent nobody else may write: the first wall between other users and
 * your sessions (the daemon's SO_PEERCRED checks are the others,
 * session_daemon.c). A session whose daemon is gone (its pid dead or
 * reused) is removed by the next scan, so list, start and gc clean up. */
#define _GNU_SOURCE
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/paths.h"
#include "cgroup.h"
#include "session.h"
#include "session_int.h"

/* A path into BUF; -ENAMETOOLONG (BUF "") if it does not fit. */
ZB_PRINTF(3, 4) int sess_pathf(char *buf, size_t n, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(buf, n, fmt, ap);
        va_end(ap);
        if (k < 0 || (size_t)k >= n) {
                buf[0] = '\0';
                return -ENAMETOOLONG;
        }
        return 0;
}

/* ------------------------------------------------------------------ names */

bool sess_id_valid(const char *id)
{
        if (!id || strlen(id) != SESSION_ID_LEN)
                return false;
        for (const char *c = id; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

bool sess_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-' || sess_id_valid(name))
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      *c == '_' || *c == '.' || *c == '-'))
                        return false;
        return true;
}

/* The sessions directory, created 0700 when missing; refused unless it is
 * a real directory of this user that nobody else can enter, in a parent
 * nobody else may write (or a sticky one, like /tmp). */
int sess_runtime_dir(const char *override, bool create, char *buf, size_t n, struct zb_error *err)
{
        const char *env = getenv("ZONEBOX_RUNTIME_DIR");
        const char *dir = override && override[0] ? override : env && env[0] ? env : NULL;
        uid_t uid = geteuid();

        if (sess_runtime_path(override, buf, n) < 0)
                return err_set(err, ENAMETOOLONG, "runtime dir: '%s' is not usable (too long for a socket path)",
                                    dir ? dir : buf);
        if (create)
                for (char *s = buf + 1;; s++) {
                        s = strchr(s, '/');
                        if (s)
                                *s = '\0';
                        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                                return err_errno(err, errno, "runtime dir: mkdir %s", buf);
                        if (!s)
                                break;
                        *s = '/';
                }
        struct stat st, pst;
        if (lstat(buf, &st) < 0) {
                if (errno == ENOENT && !create)
                        return -ENOENT;
                return err_errno(err, errno, "runtime dir: %s", buf);
        }
        if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077))
                return err_set(err, EPERM,
                                    "runtime dir: %s must be a directory of uid %u with mode 0700 (others could reach your sessions)",
                                    buf, (unsigned)uid);
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", buf);
        char *slash = strrchr(parent, '/');
        if (slash)
                *(slash == parent ? slash + 1 : slash) = '\0';
        if (stat(parent, &pst) < 0)
                return err_errno(err, errno, "runtime dir: %s", parent);
        if ((pst.st_uid != uid && pst.st_uid != 0) || ((pst.st_mode & 022) && !(pst.st_mode & S_ISVTX)))
                return err_set(err, EPERM,
                                    "runtime dir: its parent %s must belong to uid %u or root and not be writable by others",
                                    parent, (unsigned)uid);
        return 0;
}

/* The start time of PID (0 if gone or a zombie): tells it from a reuse. */
unsigned long long sess_proc_start(pid_t pid)
{
        unsigned long long v = 0;
        return ns_proc_start_time(pid, &v) == 0 ? v : 0;
}

static int info_read(const char *dir, const char *id, struct sess_info *in)
{
        char path[PATH_MAX];
        sess_pathf(path, sizeof(path), "%s/%s/info.json", dir, id);
        struct json_object *o = json_object_from_file(path), *v;
        if (!o)
                return -ENOENT;
        memset(in, 0, sizeof(*in));
        if (strlen(id) != SESSION_ID_LEN) {
                json_object_put(o);
                return -EINVAL;
        }
        memcpy(in->id, id, SESSION_ID_LEN + 1);
        if (json_object_object_get_ex(o, "name", &v) && json_object_is_type(v, json_type_string))
                snprintf(in->name, sizeof(in->name), "%s", json_object_get_string(v));
        if (json_object_object_get_ex(o, "pid", &v))
                in->pid = (pid_t)json_object_get_int(v);
        if (json_object_object_get_ex(o, "pid_start", &v))
                in->start = (unsigned long long)json_object_get_uint64(v);
        if (json_object_object_get_ex(o, "created", &v))
                in->created = json_object_get_int64(v);
        if (json_object_object_get_ex(o, "idle_timeout_ms", &v))
                in->idle_timeout_ms = json_object_get_uint64(v);
        json_object_put(o);
        return in->pid > 0 ? 0 : -EINVAL;
}

static bool info_alive(const struct sess_info *in)
{
        return in->pid > 0 && in->start && sess_proc_start(in->pid) == in->start;
}

void sess_dir_remove(const char *dir, const char *id)
{
        char path[PATH_MAX];
        static const char *const files[] = { "sock", "info.json", "info.json.tmp" };
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                sess_pathf(path, sizeof(path), "%s/%s/%s", dir, id, files[i]);
                unlink(path);
        }
        sess_pathf(path, sizeof(path), "%s/%s", dir, id);
        rmdir(path);
}

/* Each live session's info; dead ones' directories are removed. */
int sess_scan(const char *dir, struct sess_info **out, size_t *n, struct zb_error *err)
{
        _cleanup_(closedirp) DIR *d = opendir(dir);
        *out = NULL;
        *n = 0;
        if (!d)
                return errno == ENOENT ? 0 : err_errno(err, errno, "runtime dir: %s", dir);
        size_t cap = 0;
        for (struct dirent *e; (e = readdir(d));) {
                struct sess_info in;
                if (!sess_id_valid(e->d_name))
                        continue;
                if (info_read(dir, e->d_name, &in) < 0) {
                        /* A start in progress writes info.json before it
                         * answers; an old dir without one was a failed start. */
                        struct stat st;
                        char path[PATH_MAX];
                        sess_pathf(path, sizeof(path), "%s/%s", dir, e->d_name);
                        if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > 60)
                                sess_dir_remove(dir, e->d_name);
                        continue;
                }
                if (!info_alive(&in)) {
                        sess_dir_remove(dir, e->d_name);
                        continue;
                }
                if (*n == cap) {
                        cap = cap ? cap * 2 : 8;
                        struct sess_info *m = realloc(*out, cap * sizeof(**out));
                        if (!m) {
                                free(*out);
                                *out = NULL;
                                return err_set(err, ENOMEM, "out of memory");
                        }
                        *out = m;
                }
                (*out)[(*n)++] = in;
        }
        return 0;
}

/* ID or NAME of a live session into IN. */
int sess_find(const char *dir, const char *key, struct sess_info *in, struct zb_error *err)
{
        struct sess_info *all;
        size_t n;
        int r = sess_scan(dir, &all, &n, err);
        if (r < 0)
                return r;
        r = err_set(err, ENOENT, "session '%s': no such session (zonebox session list)", key);
        for (size_t i = 0; i < n; i++)
                if (strcmp(all[i].id, key) == 0 || (all[i].name[0] && strcmp(all[i].name, key) == 0)) {
                        *in = all[i];
                        r = 0;
                        break;
                }
        free(all);
        return r;
}

int zb_session_list(const char *runtime_dir, char **json, struct zb_error *err)
{
        char dir[PATH_MAX];
        struct sess_info *all = NULL;
        size_t n = 0;
        *json = NULL;
        int r = sess_runtime_dir(runtime_dir, false, dir, sizeof(dir), err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && (r = sess_scan(dir, &all, &n, err)) < 0)
                return r;
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(all[i].id));
                json_object_object_add(o, "name", all[i].name[0] ? json_object_new_string(all[i].name) : NULL);
                json_object_object_add(o, "pid", json_object_new_int(all[i].pid));
                json_object_object_add(o, "created", json_object_new_int64(all[i].created));
                json_object_object_add(o, "idle_timeout_ms", json_object_new_uint64(all[i].idle_timeout_ms));
                json_object_array_add(a, o);
        }
        free(all);
        *json = a ? util_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN)) : NULL;
        json_object_put(a);
        return *json ? 0 : err_set(err, ENOMEM, "out of memory");
}
