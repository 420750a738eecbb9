/* Shared pieces of the engine translators: the notes that list what an
 * engine cannot express, formatting of sizes as Docker writes them, the
 * command's environment, container names that say which supervisor owns
 * them (so a later run can remove what a killed one left), shell quoting. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "../core/fs.h"
#include "engine.h"
#include "engines.h"

void eng_notes_free(struct eng_notes *n)
{
        for (size_t i = 0; i < n->n_warn; i++)
                free(n->warn[i]);
        for (size_t i = 0; i < n->n_info; i++)
                free(n->info[i]);
        memset(n, 0, sizeof(*n));
}

static bool has_layer(const char *const *v, size_t n, const char *layer)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], layer) == 0)
                        return true;
        return false;
}

void eng_apply(struct eng_notes *n, const char *layer)
{
        if (!has_layer(n->applied, n->n_applied, layer) && n->n_applied < ZB_MAX_LAYERS)
                n->applied[n->n_applied++] = layer;
}

static void add_line(char **v, size_t *count, const char *fmt, va_list ap)
{
        char *s = NULL;
        if (*count >= ENG_MAX_NOTES || vasprintf(&s, fmt, ap) < 0)
                return;
        v[(*count)++] = s;
}

static void skip_layer(struct eng_notes *n, const char *layer)
{
        if (!has_layer(n->skipped, n->n_skipped, layer) && n->n_skipped < ZB_MAX_LAYERS)
                n->skipped[n->n_skipped++] = layer;
}

void eng_skip(struct eng_notes *n, const char *layer, const char *fmt, ...)
{
        va_list ap;
        skip_layer(n, layer);
        va_start(ap, fmt);
        add_line(n->warn, &n->n_warn, fmt, ap);
        va_end(ap);
}

void eng_warn(struct eng_notes *n, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        add_line(n->warn, &n->n_warn, fmt, ap);
        va_end(ap);
}

void eng_warn_line(void *notes, const char *line)
{
        eng_warn(notes, "%s", line);
}

void eng_info(struct eng_notes *n, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        add_line(n->info, &n->n_info, fmt, ap);
        va_end(ap);
}

int eng_notes_check(const struct eng_notes *n, const struct zb_policy *p, const char *engine,
                    struct zb_error *err)
{
        /* landlock: required fails closed on every engine, strict or not. */
        if (p->security.landlock == ZB_LANDLOCK_REQUIRED && has_layer(n->skipped, n->n_skipped, "landlock"))
                return err_set(err, ENOTSUP,
                                    "security.landlock: required, but the %s backend cannot apply Landlock",
                                    engine);
        if (p->engine.strict && n->n_warn > 0)
                return err_set(err, ENOTSUP, "strict: the %s backend cannot express %s", engine,
                                    n->warn[0]);
        return 0;
}

void eng_notes_to_result(const struct eng_notes *n, struct zb_result *r)
{
        for (size_t i = 0; i < n->n_applied; i++)
                res_layer(r, n->applied[i], true);
        for (size_t i = 0; i < n->n_skipped; i++)
                res_layer(r, n->skipped[i], false);
        /* What the engine expresses weaker or not at all: the result's
         * warnings, as the namespace backend's (never dropped silently). */
        for (size_t i = 0; i < n->n_warn; i++) {
                char *w = r->warnings ? util_asprintf("%s%s\n", r->warnings, n->warn[i])
                                      : util_asprintf("%s\n", n->warn[i]);
                if (w) {
                        free(r->warnings);
                        r->warnings = w;
                }
        }
}

char *eng_notes_text(const struct eng_notes *n)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (n->n_warn == 0 && n->n_info == 0)
                return NULL;
        f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        for (size_t i = 0; i < n->n_warn; i++)
                fprintf(f, "warning: %s\n", n->warn[i]);
        for (size_t i = 0; i < n->n_info; i++)
                fprintf(f, "note: %s\n", n->info[i]);
        fclose(f);
        return buf;
}

void eng_common_layers(const struct zb_policy *p, struct eng_notes *n)
{
        /* Landlock is best effort by default, as on a kernel without it:
         * on a run, a skipped layer and a note, not a warning on every
         * run. An export (a document someone else runs) and strict keep
         * the warning (strict: an error); required is refused before
         * (keytab.c). */
        if (p->security.landlock == ZB_LANDLOCK_BEST_EFFORT && n->run && !p->engine.strict) {
                skip_layer(n, "landlock");
                eng_info(n, "landlock: best effort, and no container engine applies a Landlock ruleset; the mounts alone decide what is reachable");
        } else if (p->security.landlock != ZB_LANDLOCK_OFF) {
                eng_skip(n, "landlock",
                         "landlock: no container engine applies a Landlock ruleset; the mounts alone decide what is reachable");
        }
        for (size_t i = 0; i < p->n_zones; i++)
                if (p->zones[i].mode != ZB_ZONE_TMPFS)
                        eng_warn(n, "zone '%s': not idmapped: its files keep their host owners inside, and what the command writes belongs to the command's uid outside, not to the dir's owner",
                                 p->zones[i].name);
        if (p->tmp_size)
                eng_info(n, "tmp: /tmp and %s are two tmpfs mounts of the tmp size each (the namespace backend shares one)",
                         ZB_HOME_DIR);
}

size_t eng_scratch_zones(const struct zb_policy *p, struct pol_zone out[2])
{
        static const char *const paths[] = { "/tmp", ZB_HOME_DIR };
        static const char *const names[] = { "tmp", "home" };
        size_t k = 0;
        for (size_t j = 0; p->tmp_size && j < ARRAY_SIZE(paths); j++) {
                bool taken = false;
                for (size_t i = 0; i < p->n_zones; i++)
                        taken |= strcmp(p->zones[i].path, paths[j]) == 0;
                if (!taken)
                        out[k++] = (struct pol_zone){ .name = (char *)names[j], .mode = ZB_ZONE_TMPFS,
                                                     .path = (char *)paths[j], .size = p->tmp_size };
        }
        return k;
}

void eng_format_size(uint64_t bytes, char *buf, size_t n)
{
        static const char units[] = { 'g', 'm', 'k' };
        static const unsigned shift[] = { 30, 20, 10 };
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                uint64_t unit = 1ull << shift[i];
                if (bytes >= unit && bytes % unit == 0) {
                        snprintf(buf, n, "%llu%c", (unsigned long long)(bytes / unit), units[i]);
                        return;
                }
        }
        snprintf(buf, n, "%llu", (unsigned long long)bytes);
}

void eng_format_cpus(uint64_t milli, char *buf, size_t n)
{
        if (milli % 1000 == 0)
                snprintf(buf, n, "%llu", (unsigned long long)(milli / 1000));
        else if (milli % 100 == 0)
                snprintf(buf, n, "%llu.%llu", (unsigned long long)(milli / 1000),
                         (unsigned long long)(milli % 1000 / 100));
        else if (milli % 10 == 0)
                snprintf(buf, n, "%llu.%02llu", (unsigned long long)(milli / 1000),
                         (unsigned long long)(milli % 1000 / 10));
        else
                snprintf(buf, n, "%llu.%03llu", (unsigned long long)(milli / 1000),
                         (unsigned long long)(milli % 1000));
}

static size_t key_len(const char *kv)
{
        const char *eq = strchr(kv, '=');
        return eq ? (size_t)(eq - kv) : strlen(kv);
}

char **eng_build_env(const struct zb_policy *p)
{
        char **all = pol_build_env(p);
        if (!all)
                return NULL;
        /* pol_build_env adds the caller's TERM: an engine's command has
         * no terminal of ours, so TERM stays only if the policy sets it. */
        bool policy_term = false;
        for (size_t i = 0; i < p->n_env; i++)
                policy_term |= key_len(p->env[i]) == 4 && strncmp(p->env[i], "TERM", 4) == 0;
        size_t o = 0;
        for (size_t i = 0; all[i]; i++) {
                if (!policy_term && strncmp(all[i], "TERM=", 5) == 0) {
                        free(all[i]);
                        continue;
                }
                all[o++] = all[i];
        }
        all[o] = NULL;
        return all;
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks. */
static unsigned long long start_time(pid_t pid)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        if (len <= 0)
                return 0;
        buf[len] = '\0';
        char *s = strrchr(buf, ')');
        if (!s)
                return 0;
        unsigned long long v = 0;
        /* After ") ": state is field 3, start time field 22. */
        if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                   &v) != 1)
                return 0;
        return v;
}

void eng_container_name(char *buf, size_t n)
{
        static unsigned counter;
        pid_t pid = getpid();
        snprintf(buf, n, "zonebox-%d-%llu-%u", (int)pid, start_time(pid),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
}

int eng_container_orphaned(const char *name)
{
        int pid;
        unsigned long long st;
        unsigned cnt;
        char tail;
        if (sscanf(name, "zonebox-%d-%llu-%u%c", &pid, &st, &cnt, &tail) != 3 || pid <= 0)
                return -1;
        return start_time(pid) != st;
}

/* /tmp/zonebox-KIND-<container name>-XXXXXX: a run's dir (bundle, rootfs,
 * profile) named after its container, whose name holds the supervisor's
 * pid and start time. */
int eng_run_dir(char buf[ENG_RUN_DIR_MAX], const char *kind, const char *name)
{
        int n = snprintf(buf, ENG_RUN_DIR_MAX, "/tmp/zonebox-%s-%s-XXXXXX", kind, name);
        if (n < 0 || n >= ENG_RUN_DIR_MAX) {
                errno = ENAMETOOLONG;
                return -1;
        }
        return mkdtemp(buf) ? 0 : -1;
}

/* The run dir NAME of KIND: the container name between "zonebox-KIND-"
 * and "-XXXXXX" is an orphan's. */
static bool run_dir_orphaned(const char *name, const char *kind)
{
        char prefix[32], cname[96];
        int plen = snprintf(prefix, sizeof(prefix), "zonebox-%s-", kind);
        size_t len = strlen(name);
        if (plen < 0 || strncmp(name, prefix, (size_t)plen) != 0 || len < (size_t)plen + 8 ||
            len - (size_t)plen - 7 >= sizeof(cname))
                return false;
        memcpy(cname, name + plen, len - (size_t)plen - 7);
        cname[len - (size_t)plen - 7] = '\0';
        return eng_container_orphaned(cname) == 1;
}

void eng_gc_run_dirs(unsigned *removed)
{
        _cleanup_(closedirp) DIR *d = opendir("/tmp");
        struct dirent *e;
        while (d && (e = readdir(d))) {
                struct stat st;
                if ((!run_dir_orphaned(e->d_name, "oci") && !run_dir_orphaned(e->d_name, "docker")) ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != geteuid())
                        continue;
                if (fs_remove_tree(dirfd(d), e->d_name, st.st_dev) == 0 && removed)
                        (*removed)++;
        }
}

char *eng_which(const char *name)
{
        if (!name || !*name)
                return NULL;
        if (strchr(name, '/'))
                return access(name, X_OK) == 0 ? util_path_absolute(NULL, name) : NULL;
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const char *s = path; *s;) {
                size_t len = strcspn(s, ":");
                if (len) {
                        char *cand = util_asprintf("%.*s/%s", (int)len, s, name);
                        struct stat st;
                        if (cand && stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                                return cand;
                        free(cand);
                }
                s += len;
                if (*s == ':')
                        s++;
        }
        return NULL;
}

static bool shell_safe(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=/.,:@%", *s))
                        return false;
        return true;
}

char *eng_shell_join(char *const *argv)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        for (size_t i = 0; argv[i]; i++) {
                if (i)
                        fputc(' ', f);
                if (shell_safe(argv[i])) {
                        fputs(argv[i], f);
                        continue;
                }
                /* Single quotes keep everything literal; a quote itself is '\'' . */
                fputc('\'', f);
                for (const char *s = argv[i]; *s; s++) {
                        if (*s == '\'')
                                fputs("'\\''", f);
                        else
                                fputc(*s, f);
                }
                fputc('\'', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

void eng_argv_add(struct eng_argv *a, const char *s)
{
        if (a->oom)
                return;
        if (a->n + 2 > a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 32;
                char **v = realloc(a->v, cap * sizeof(char *));
                if (!v) {
                        a->oom = true;
                        return;
                }
                a->v = v;
                a->cap = cap;
        }
        char *c = strdup(s);
        if (!c) {
                a->oom = true;
                return;
        }
        a->v[a->n++] = c;
        a->v[a->n] = NULL;
}

void eng_argv_addf(struct eng_argv *a, const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                a->oom = true;
                return;
        }
        eng_argv_add(a, s);
        free(s);
}

void eng_argv_free(struct eng_argv *a)
{
        for (size_t i = 0; i < a->n; i++)
                free(a->v[i]);
        free(a->v);
        memset(a, 0, sizeof(*a));
}

static int remove_at(int dfd, const char *name, int depth)
{
        struct stat st;
        if (depth > 64)
                return -ELOOP;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        int r = 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                int q = remove_at(fd, e->d_name, depth + 1);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int eng_remove_tree(const char *path)
{
        return remove_at(AT_FDCWD, path, 0);
}

int eng_write_file(const char *path, const char *data, struct zb_error *err)
{
        _cleanup_(closep) int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return err_errno(err, errno, "cannot write %s", path);
        size_t len = strlen(data);
        for (size_t done = 0; done < len;) {
                ssize_t w = write(fd, data + done, len - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return err_errno(err, errno, "cannot write %s", path);
                done += (size_t)w;
        }
        return 0;
}

/* The kernel logs every OOM kill with the memory cgroup that ran out:
 * "oom-kill:...,oom_memcg=/a/b/NAME,task_memcg=...". /dev/kmsg needs root
 * (or kernel.dmesg_restrict=0); it is opened at the log's end before a
 * run, so only that run's records are read. */
#define KMSG_RECORD_MAX 8192

int eng_kmsg_open_at_end(void)
{
        int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

/* Does MEMCG name a cgroup whose last component is or carries ID? */
static bool memcg_names(const char *memcg, const char *id)
{
        const char *last = strrchr(memcg, '/');
        last = last ? last + 1 : memcg;
        const char *hit = strstr(last, id);
        if (!hit)
                return false;
        char after = hit[strlen(id)];
        /* a whole name (zonebox-1-2-3, not zonebox-1-2-30), or an id inside libpod-ID / docker-ID.scope */
        return after == '\0' || after == '.' || (hit > last && hit[-1] == '-' && strlen(id) >= 12);
}

/* FIELD's value ("oom_memcg=", "task_memcg=") in a record, cut at its end. */
static bool memcg_field_names(const char *rec, const char *field, const char *id)
{
        const char *v = strstr(rec, field);
        char memcg[1024];
        if (!v)
                return false;
        v += strlen(field);
        snprintf(memcg, sizeof(memcg), "%.*s", (int)strcspn(v, ",\n"), v);
        return memcg_names(memcg, id);
}

bool eng_kmsg_oom_in(int fd, const char *id)
{
        char rec[KMSG_RECORD_MAX];
        bool found = false;
        for (;;) {
                ssize_t n = read(fd, rec, sizeof(rec) - 1);
                if (n < 0 && errno == EPIPE) /* records overwritten while we read: go on */
                        continue;
                if (n <= 0)
                        break;
                rec[n] = '\0';
                /* The cgroup that ran out, or the killed task's (the one a v1
                 * memory.oom_control counts the kill in). */
                if (strstr(rec, "oom-kill:"))
                        found |= memcg_field_names(rec, ",oom_memcg=", id) || memcg_field_names(rec, ",task_memcg=", id);
        }
        return found;
}
