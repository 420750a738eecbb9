/* zonebox check: run the built-in attack probes (probe.c) inside the
 * sandbox that the given config and flags describe, and print one row per
 * probe. The host side sets up what the probes aim at: a loopback and an
 * outside-facing TCP listener, an abstract unix socket, a canary file
 * outside every zone, a canary variable in zonebox's own environment. A
 * copy of this (static) binary goes in through a read-only zone. Time
 * limits get a sandbox of their own that spins until the limit ends it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/policy.h"
#include "core/result.h"
#include "probe.h"

#define MAX_TIME_PROBE_MS 60000ull

static const char check_help[] =
"Usage: zonebox check [--json] [RUN OPTIONS]\n"
"\n"
"Start the sandbox that RUN OPTIONS (the options of zonebox run, --config\n"
"included) describe, and attack it from inside with built-in probes: the\n"
"network (a listener on the host's loopback and on its outside address, an\n"
"abstract unix socket, raw and packet sockets, interfaces), the filesystem\n"
"(writes to /, /etc, /usr and ro zones, a host file outside the zones, /proc/sys\n"
"and /sys, device nodes, mknod, a file only Landlock guards), privileges\n"
"(setuid 0, capabilities, no_new_privs, seccomp mode, inherited fds and\n"
"environment), syscalls (mount, namespaces, ptrace, kexec, bpf,\n"
"perf_event_open, userfaultfd, keyctl, io_uring, name_to_handle_at, TIOCSTI),\n"
"processes (host pids, signals to zonebox and to init, hostname), and, when\n"
"the policy sets them, memory, pids, tmpfs sizes, open files, wall and CPU time.\n"
"\n"
"One row per probe: LAYER, PROBE, PASS (the attack was stopped), FAIL, or\n"
"SKIP (not applicable here, with the reason), and the detail. A stopped\n"
"probe shows the violation it left in the verdict ([violation: seccomp\n"
"ptrace]); one that left none fails where its source is observable, and\n"
"says \"source ... not observable: why\" where it is not (docs/violations.md).\n"
"\n"
"Options:\n"
"  --json        one JSON object: probes, counts, ok\n"
"  -h, --help    this text\n"
"\n"
"Exit status: 0 when no probe failed; 1 when one did; 125 on a bad option or\n"
"when the sandbox could not be started.\n";

struct target {
        char dir[64];       /* temp dir holding the probe binary: the check zone */
        char canary[64];    /* host file outside every zone */
        int lo_fd, ext_fd, unix_fd;
        int lo_port, ext_port;
        char ext_ip[INET_ADDRSTRLEN];
        char abstract[64];
};

static int copy_self(const char *dst)
{
        int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        struct stat st;
        int r = -1;
        if (in >= 0 && out >= 0 && fstat(in, &st) == 0) {
                off_t off = 0;
                r = 0;
                while (off < st.st_size && r == 0)
                        if (sendfile(out, in, &off, (size_t)(st.st_size - off)) <= 0)
                                r = -1;
        }
        if (in >= 0)
                close(in);
        if (out >= 0 && (close(out) < 0 || fchmodat(AT_FDCWD, dst, 0755, 0) < 0))
                r = -1;
        return r;
}

static int listen_tcp(uint32_t addr, int *port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        *port = ntohs(sa.sin_port);
        return fd;
}

/* The first IPv4 address that is not loopback: what "outside" means here. */
static void outside_ip(char *out, size_t size)
{
        struct ifaddrs *ifs = NULL;
        out[0] = '\0';
        if (getifaddrs(&ifs) < 0)
                return;
        for (struct ifaddrs *i = ifs; i && !out[0]; i = i->ifa_next)
                if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
                        struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
                        if ((ntohl(a.s_addr) >> 24) != 127)
                                inet_ntop(AF_INET, &a, out, (socklen_t)size);
                }
        freeifaddrs(ifs);
}

static int target_setup(struct target *t)
{
        char path[128];
        memset(t, 0, sizeof(*t));
        t->lo_fd = t->ext_fd = t->unix_fd = -1;
        snprintf(t->dir, sizeof(t->dir), "/tmp/zonebox-check-XXXXXX");
        if (!mkdtemp(t->dir) || chmod(t->dir, 0755) < 0)
                return -1;
        snprintf(path, sizeof(path), "%s/zonebox", t->dir);
        if (copy_self(path) < 0)
                return -1;
        snprintf(t->canary, sizeof(t->canary), "/tmp/zonebox-check-canary-XXXXXX");
        int fd = mkstemp(t->canary);
        if (fd < 0)
                return -1;
        dprintf(fd, "zonebox check canary: this host file must not be readable in the sandbox\n");
        fchmod(fd, 0644);
        close(fd);
        t->lo_fd = listen_tcp(INADDR_LOOPBACK, &t->lo_port);
        outside_ip(t->ext_ip, sizeof(t->ext_ip));
        if (t->ext_ip[0])
                t->ext_fd = listen_tcp(INADDR_ANY, &t->ext_port);
        snprintf(t->abstract, sizeof(t->abstract), "zonebox-check-%d-%ld", (int)getpid(), (long)random());
        struct sockaddr_un su = { .sun_family = AF_UNIX };
        memcpy(su.sun_path + 1, t->abstract, strlen(t->abstract));
        t->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (t->unix_fd >= 0 &&
            (bind(t->unix_fd, (struct sockaddr *)&su,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(t->abstract))) < 0 ||
             listen(t->unix_fd, 8) < 0)) {
                close(t->unix_fd);
                t->unix_fd = -1;
                t->abstract[0] = '\0';
        }
        setenv(ZB_ENV_CANARY, "leaked", 1);
        return t->lo_fd >= 0 ? 0 : -1;
}

static void target_cleanup(struct target *t)
{
        char path[128];
        if (t->dir[0]) {
                snprintf(path, sizeof(path), "%s/zonebox", t->dir);
                unlink(path);
                rmdir(t->dir);
        }
        if (t->canary[0])
                unlink(t->canary);
        if (t->lo_fd >= 0)
                close(t->lo_fd);
        if (t->ext_fd >= 0)
                close(t->ext_fd);
        if (t->unix_fd >= 0)
                close(t->unix_fd);
}

/* ---------------------------------------------------------------- rows */

struct rows {
        json_object *list;
        int pass, fail, skip;
};

static void add_row(struct rows *rs, const char *layer, const char *probe, const char *verdict,
                    const char *detail)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "layer", json_object_new_string(layer));
        json_object_object_add(o, "probe", json_object_new_string(probe));
        json_object_object_add(o, "result", json_object_new_string(verdict));
        json_object_object_add(o, "detail", json_object_new_string(detail));
        json_object_array_add(rs->list, o);
        if (strcmp(verdict, "PASS") == 0)
                rs->pass++;
        else if (strcmp(verdict, "SKIP") == 0)
                rs->skip++;
        else
                rs->fail++;
}

/* The probe's stdout: LAYER \t PROBE \t VERDICT \t DETAIL lines. */
static void parse_rows(struct rows *rs, const char *out)
{
        char *copy = strdup(out ? out : ""), *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[4] = { line, NULL, NULL, NULL };
                for (int i = 1; i < 4; i++) {
                        char *tab = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
                        if (tab) {
                                *tab = '\0';
                                f[i] = tab + 1;
                        }
                }
                if (f[3] && (!strcmp(f[2], "PASS") || !strcmp(f[2], "FAIL") || !strcmp(f[2], "SKIP")))
                        add_row(rs, f[0], f[1], f[2], f[3]);
                else
                        add_row(rs, "check", "probe_output", "FAIL", line);
        }
        free(copy);
}

/* ---------------------------------------------------------------- probe <-> violation */

/* Which violation a stopped probe must leave (issue 16), and the source
 * that records it. A probe that passed without its violation fails where
 * that source says "observed"; where the source is missing or not
 * observable the row says so and keeps its verdict. A new source's probes
 * are new rows here. TARGET and OPERATION: substrings (NULL: any). */
struct probe_viol {
        const char *probe, *layer, *operation, *target, *source;
};
static const struct probe_viol probe_viols[] = {
        { "write_root", "filesystem", NULL, "/.zonebox-check", "filesystem" },
        { "write_etc", "filesystem", NULL, "/etc/.zonebox-check", "filesystem" },
        { "write_usr", "filesystem", NULL, "/usr/.zonebox-check", "filesystem" },
        { "proc_sys_write", "filesystem", NULL, "/proc/sys/kernel/hostname", "filesystem" },
        { "host_address", "network", "connect", NULL, "network" },
        { "mount", "seccomp", "mount", NULL, "seccomp" },
        { "unshare_userns", "seccomp", "unshare", NULL, "seccomp" },
        { "mount_in_new_userns", "seccomp", "unshare", NULL, "seccomp" },
        { "ptrace", "seccomp", "ptrace", NULL, "seccomp" },
        { "kexec_load", "seccomp", "kexec_load", NULL, "seccomp" },
        { "bpf", "seccomp", "bpf", NULL, "seccomp" },
        { "perf_event_open", "seccomp", "perf_event_open", NULL, "seccomp" },
        { "userfaultfd", "seccomp", "userfaultfd", NULL, "seccomp" },
        { "keyctl", "seccomp", "keyctl", NULL, "seccomp" },
        { "io_uring_setup", "seccomp", "io_uring_setup", NULL, "seccomp" },
        { "name_to_handle_at", "seccomp", "name_to_handle_at", NULL, "seccomp" },
        { "tiocsti", "seccomp", "ioctl", NULL, "seccomp" },
        { "memory", "resources", "memory", NULL, "resources" },
        { "pids", "resources", "pids", NULL, "resources" },
        { "wall_time", "limits", "wall_time", NULL, "limits" },
        { "cpu_time", "limits", "cpu_time", NULL, "limits" },
};

static const struct viol *find_viol(const struct viol_set *s, const struct probe_viol *m)
{
        for (size_t i = 0; i < s->n; i++) {
                const struct viol *v = &s->v[i];
                if (strcmp(viol_layer_name(v->layer), m->layer) == 0 &&
                    (!m->operation || strcmp(v->operation, m->operation) == 0) &&
                    (!m->target || strstr(v->target, m->target)))
                        return v;
        }
        return NULL;
}

static const char *source_state(const struct viol_set *s, const char *name)
{
        for (size_t i = 0; i < s->n_sources; i++)
                if (strcmp(s->sources[i].name, name) == 0)
                        return s->sources[i].state;
        return "not observable: no such source in this build";
}

static void set_str(json_object *o, const char *key, const char *val)
{
        json_object_object_add(o, key, json_object_new_string(val));
}

/* One row (a PASS of a mapped probe) against the run's violations. */
static void annotate_row(struct rows *rs, json_object *row, const struct probe_viol *m,
                         const struct viol_set *s)
{
        char text[700];
        const struct viol *v = find_viol(s, m);
        const char *state = source_state(s, m->source);
        if (v) {
                snprintf(text, sizeof(text), "%s %s%s%s", m->layer, v->operation, v->target[0] ? " " : "",
                         v->target);
                set_str(row, "violation", text);
        } else if (strcmp(state, "observed") == 0) {
                json_object *d;
                snprintf(text, sizeof(text), "%s; stopped, but source %s recorded no %s %s violation",
                         json_object_object_get_ex(row, "detail", &d) ? json_object_get_string(d) : "",
                         m->source, m->layer, m->operation ? m->operation : "");
                set_str(row, "detail", text);
                set_str(row, "result", "FAIL");
                rs->pass--;
                rs->fail++;
        } else {
                snprintf(text, sizeof(text), "source %s %s", m->source, state);
                set_str(row, "violation", text);
        }
}

/* Rows FROM.. of RS were produced by the run whose violations are S. */
static void annotate(struct rows *rs, size_t from, const struct viol_set *s)
{
        size_t n = json_object_array_length(rs->list);
        for (size_t i = from; i < n; i++) {
                json_object *row = json_object_array_get_idx(rs->list, i), *v;
                const char *probe = json_object_object_get_ex(row, "probe", &v) ? json_object_get_string(v) : "";
                const char *res = json_object_object_get_ex(row, "result", &v) ? json_object_get_string(v) : "";
                if (strcmp(res, "PASS") != 0)
                        continue;
                for (size_t k = 0; k < ARRAY_SIZE(probe_viols); k++)
                        if (strcmp(probe_viols[k].probe, probe) == 0) {
                                annotate_row(rs, row, &probe_viols[k], s);
                                break;
                        }
        }
}

/* ---------------------------------------------------------------- runs */

static int set_command(struct zb_policy *p, char **argv, int argc, struct zb_error *err)
{
        return zb_policy_set_command(p, argc, argv, err);
}

static int probe_run(struct zb_policy *p, const struct target *t, bool gvisor, struct rows *rs,
                     struct zb_error *err)
{
        char host_pid[16], lo[16], ext[16], mem[32], pids[32], nofile[32];
        char *argv[160];
        char tmpfs_args[32][4200];
        int n = 0, nt = 0;

        snprintf(host_pid, sizeof(host_pid), "%d", (int)getpid());
        snprintf(lo, sizeof(lo), "%d", t->lo_port);
        snprintf(ext, sizeof(ext), "%d", t->ext_port);
        /* In gVisor an OOM kill ends the whole sandbox: memory gets its own (gvisor_memory). */
        snprintf(mem, sizeof(mem), "%llu", gvisor ? 0ull : (unsigned long long)p->limits.memory);
        snprintf(pids, sizeof(pids), "%llu", gvisor ? 0ull : (unsigned long long)p->limits.pids);
        snprintf(nofile, sizeof(nofile), "%llu", (unsigned long long)p->limits.open_files);
        argv[n++] = ZB_CHECK_DIR "/zonebox";
        argv[n++] = "__probe";
        argv[n++] = "--host-pid", argv[n++] = host_pid;
        argv[n++] = "--port", argv[n++] = lo;
        if (t->ext_ip[0] && t->ext_fd >= 0) {
                argv[n++] = "--ext-ip", argv[n++] = (char *)t->ext_ip;
                argv[n++] = "--ext-port", argv[n++] = ext;
        }
        if (t->abstract[0])
                argv[n++] = "--abstract", argv[n++] = (char *)t->abstract;
        argv[n++] = "--canary", argv[n++] = (char *)t->canary;
        argv[n++] = "--hostname", argv[n++] = p->hostname ? p->hostname : "zonebox";
        argv[n++] = "--memory", argv[n++] = mem;
        argv[n++] = "--pids", argv[n++] = pids;
        argv[n++] = "--open-files", argv[n++] = nofile;
        for (size_t i = 0; i < p->n_zones && n < 150 && nt < 32; i++) {
                const struct pol_zone *z = &p->zones[i];
                if (strcmp(z->path, ZB_CHECK_DIR) == 0)
                        continue;
                if (z->mode == ZB_ZONE_RO) {
                        argv[n++] = "--ro", argv[n++] = z->path;
                } else if (z->mode == ZB_ZONE_TMPFS) {
                        snprintf(tmpfs_args[nt], sizeof(tmpfs_args[nt]), "%s:%llu", z->path,
                                 (unsigned long long)z->size);
                        argv[n++] = "--tmpfs", argv[n++] = tmpfs_args[nt++];
                }
        }
        argv[n] = NULL;
        if (set_command(p, argv, n, err) < 0)
                return -1;

        struct zb_result *r = NULL;
        if (zb_run(p, &r, err) < 0)
                return -1;
        size_t from = json_object_array_length(rs->list);
        parse_rows(rs, r->out.data);
        annotate(rs, from, &r->viol);
        if (r->status != ZB_STATUS_EXITED || r->exit_code != 0) {
                char detail[600];
                snprintf(detail, sizeof(detail), "the probe sandbox ended with status %s (exit code %d)%s%s",
                         res_status_name(r->status), zb_result_exit_code(r), r->error ? ": " : "",
                         r->error ? r->error : "");
                add_row(rs, "check", "probe_run", "FAIL", detail);
        }
        zb_result_free(r);
        return 0;
}

/* A wall- or CPU-time limit: a spin that outlives it must be ended by it. */
static void time_probe(struct zb_policy *p, const char *name, uint64_t limit_ms, enum res_status want,
                       struct rows *rs)
{
        char detail[300], secs[16];
        if (!limit_ms) {
                add_row(rs, "resources", name, "SKIP", "no limit set");
                return;
        }
        if (limit_ms > MAX_TIME_PROBE_MS) {
                snprintf(detail, sizeof(detail), "limit %llu ms is longer than check waits (%llu ms)",
                         (unsigned long long)limit_ms, MAX_TIME_PROBE_MS);
                add_row(rs, "resources", name, "SKIP", detail);
                return;
        }
        snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(limit_ms / 1000 + 5));
        char *argv[] = { ZB_CHECK_DIR "/zonebox", "__probe", "spin", secs, NULL };
        struct zb_error err = { 0 };
        struct zb_result *r = NULL;
        if (set_command(p, argv, 4, &err) < 0 || zb_run(p, &r, &err) < 0) {
                add_row(rs, "resources", name, "FAIL", err.message);
                return;
        }
        snprintf(detail, sizeof(detail), "a %s s spin ended with status %s after %.0f ms (limit %llu ms)",
                 secs, res_status_name(r->status), r->wall_ms, (unsigned long long)limit_ms);
        size_t from = json_object_array_length(rs->list);
        add_row(rs, "resources", name, r->status == want ? "PASS" : "FAIL", detail);
        annotate(rs, from, &r->viol);
        zb_result_free(r);
}

/* ---------------------------------------------------------------- gVisor */

/* The oci backend on runsc: the probes run on gVisor's kernel. */
static bool is_gvisor(const struct zb_policy *p)
{
        const char *rt = p->engine.runtime, *base = strrchr(rt, '/') ? strrchr(rt, '/') + 1 : rt;
        return p->backend == ZB_BACKEND_OCI && (strcmp(base, "runsc") == 0 || strcmp(base, "gvisor") == 0);
}

/* Replace the verdict of LAYER/PROBE (keeping the counts right). */
static void row_replace(struct rows *rs, const char *layer, const char *probe, const char *verdict,
                        const char *detail)
{
        for (size_t i = 0; i < json_object_array_length(rs->list); i++) {
                json_object *o = json_object_array_get_idx(rs->list, i), *l, *pr, *v;
                if (!json_object_object_get_ex(o, "layer", &l) || !json_object_object_get_ex(o, "probe", &pr) ||
                    !json_object_object_get_ex(o, "result", &v) || strcmp(json_object_get_string(l), layer) != 0 ||
                    strcmp(json_object_get_string(pr), probe) != 0)
                        continue;
                const char *old = json_object_get_string(v);
                if (strcmp(old, "PASS") == 0)
                        rs->pass--;
                else if (strcmp(old, "SKIP") == 0)
                        rs->skip--;
                else
                        rs->fail--;
                json_object_array_del_idx(rs->list, i, 1);
                break;
        }
        add_row(rs, layer, probe, verdict, detail);
}

/* The memory limit in its own sandbox: in gVisor the host's OOM killer
 * ends the Sentry, so the whole sandbox goes, and the verdict is oom. */
static void gvisor_memory(struct zb_policy *p, struct rows *rs)
{
        char detail[300], mib[32];
        if (!p->limits.memory) {
                row_replace(rs, "resources", "memory", "SKIP", "no memory limit set");
                return;
        }
        snprintf(mib, sizeof(mib), "%llu", (unsigned long long)((p->limits.memory >> 20) + 64));
        char *argv[] = { ZB_CHECK_DIR "/zonebox", "__probe", "touch", mib, NULL };
        struct zb_error err = { 0 };
        struct zb_result *r = NULL;
        if (set_command(p, argv, 4, &err) < 0 || zb_run(p, &r, &err) < 0) {
                row_replace(rs, "resources", "memory", "FAIL", err.message);
                return;
        }
        snprintf(detail, sizeof(detail), "gVisor: touching %s MiB in its own sandbox ended it with status %s (the limit covers the whole sandbox)",
                 mib, res_status_name(r->status));
        row_replace(rs, "resources", "memory", r->status == ZB_STATUS_OOM ? "PASS" : "FAIL", detail);
        zb_result_free(r);
}

/* The pids limit in its own sandbox: the host's pids cgroup counts the
 * Sentry's threads (the ptrace platform has a host thread per task), and
 * past it the Sentry fails: the sandbox ends, not one fork. PASS when the
 * probe did not get past the limit. */
static void gvisor_pids(struct zb_policy *p, struct rows *rs)
{
        char detail[400], n[32];
        if (!p->limits.pids) {
                row_replace(rs, "resources", "pids", "SKIP", "no pids limit set");
                return;
        }
        snprintf(n, sizeof(n), "%llu", (unsigned long long)p->limits.pids);
        char *argv[] = { ZB_CHECK_DIR "/zonebox", "__probe", "--only", "limits", "--memory", "0", "--pids", n, NULL };
        struct zb_error err = { 0 };
        struct zb_result *r = NULL;
        if (set_command(p, argv, 8, &err) < 0 || zb_run(p, &r, &err) < 0) {
                row_replace(rs, "resources", "pids", "FAIL", err.message);
                return;
        }
        const char *out = r->out.data ? r->out.data : "";
        bool over = strstr(out, "resources\tpids\tFAIL") != NULL;
        bool within = strstr(out, "resources\tpids\tPASS") != NULL;
        snprintf(detail, sizeof(detail), "gVisor: forking past the limit %s in its own sandbox: %s (status %s, exit code %d); the host's pids cgroup counts the Sentry's threads",
                 n, over ? "got past it" : within ? "a fork failed" : "the sandbox ended", res_status_name(r->status),
                 zb_result_exit_code(r));
        row_replace(rs, "resources", "pids", over ? "FAIL" : "PASS", detail);
        zb_result_free(r);
}

/* What gVisor provides differently, reported as such: device nodes are
 * the Sentry's own (a node made in its tmpfs reaches no host device), and
 * the syscall surface is gVisor's, not the host kernel's. */
static void gvisor_rows(struct zb_policy *p, struct rows *rs)
{
        row_replace(rs, "filesystem", "mknod", "SKIP",
                    "gVisor: mknod works inside the Sentry's own tmpfs; the node opens gVisor's emulated device, never a host one");
        row_replace(rs, "filesystem", "devices", "SKIP",
                    "gVisor: /dev is the Sentry's (it adds net and fuse of its own); no host device node is reachable");
        add_row(rs, "seccomp", "syscall_surface", "SKIP",
                "gVisor: the command's syscalls go to the Sentry (gVisor's kernel), which alone talks to the host under its own seccomp filter; the probes above ran against gVisor");
        gvisor_memory(p, rs);
        gvisor_pids(p, rs);
}

/* ---------------------------------------------------------------- output */

static void print_table(const struct rows *rs)
{
        size_t n = json_object_array_length(rs->list);
        printf("%-13s %-28s %-6s %s\n", "LAYER", "PROBE", "RESULT", "DETAIL");
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(rs->list, i), *v;
                const char *f[5];
                static const char *const keys[] = { "layer", "probe", "result", "detail", "violation" };
                for (int k = 0; k < 5; k++)
                        f[k] = json_object_object_get_ex(o, keys[k], &v) ? json_object_get_string(v) : "";
                printf("%-13s %-28s %-6s %s%s%s%s\n", f[0], f[1], f[2], f[3], f[4][0] ? " [violation: " : "",
                       f[4], f[4][0] ? "]" : "");
        }
        printf("%d passed, %d failed, %d skipped\n", rs->pass, rs->fail, rs->skip);
}

int cli_check(int argc, char **argv)
{
        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        struct target t;
        struct rows rs = { .list = json_object_new_array() };
        bool json = false;
        int rc = ZB_EXIT_ERROR;

        memset(&t, 0, sizeof(t));
        t.lo_fd = t.ext_fd = t.unix_fd = -1;
        if (!p || !rs.list)
                goto out;
        int r = cli_parse_policy("check", argc, argv, p, &json, &err);
        if (r == 1) {
                fputs(check_help, stdout);
                rc = 0;
                goto out;
        }
        if (r < 0)
                goto out;
        if (p->argc) {
                fprintf(stderr, "zonebox check: takes no command: it runs its own probes\n");
                goto out;
        }
        srandom((unsigned)getpid() ^ (unsigned)time(NULL));
        if (target_setup(&t) < 0) {
                fprintf(stderr, "zonebox check: cannot prepare the probes' targets: %s\n", strerror(errno));
                goto out;
        }
        char zone[128];
        snprintf(zone, sizeof(zone), "%s:%s:ro", t.dir, ZB_CHECK_DIR);
        if (zb_policy_apply_flag(p, "-v", zone, &err) < 0) {
                fprintf(stderr, "zonebox check: %s\n", err.message);
                goto out;
        }
        zb_policy_set_check_mode(p, 1);
        zb_policy_set_capture(p, 1);
        bool gvisor = is_gvisor(p);
        /* Probes fork: no wall-time limit may cut them short; the time
         * limits get their own sandboxes below. */
        uint64_t wall = p->limits.wall_time_ms, cpu = p->limits.cpu_time_ms;
        p->limits.wall_time_ms = p->limits.cpu_time_ms = 0;
        if (probe_run(p, &t, gvisor, &rs, &err) < 0) {
                fprintf(stderr, "zonebox check: %s\n", err.message);
                goto out;
        }
        if (gvisor)
                gvisor_rows(p, &rs);
        p->limits.wall_time_ms = wall;
        time_probe(p, "wall_time", wall, ZB_STATUS_TIMEOUT, &rs);
        p->limits.wall_time_ms = 0;
        p->limits.cpu_time_ms = cpu;
        time_probe(p, "cpu_time", cpu, ZB_STATUS_CPU_TIMEOUT, &rs);

        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "probes", json_object_get(rs.list));
                json_object_object_add(o, "passed", json_object_new_int(rs.pass));
                json_object_object_add(o, "failed", json_object_new_int(rs.fail));
                json_object_object_add(o, "skipped", json_object_new_int(rs.skip));
                json_object_object_add(o, "ok", json_object_new_boolean(rs.fail == 0));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else {
                print_table(&rs);
        }
        rc = rs.fail ? 1 : 0;
out:
        target_cleanup(&t);
        json_object_put(rs.list);
        zb_policy_free(p);
        return rc;
}
