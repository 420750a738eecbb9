/* zonebox doctor: what this kernel and this user can enforce, found by
 * trying each mechanism (in throwaway children), not by reading version
 * numbers. Ends by starting the default sandbox itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "core/policy.h"
#include "core/result.h"
#include "ns/cgroup.h"
#include "ns/landlock.h"
#include "ns/quota.h"
#include "ns/systemd.h"
#include "wasm/wasm.h"

static const char doctor_help[] =
"Usage: zonebox doctor [--json] [RUN OPTIONS]\n"
"\n"
"Show what this kernel and this user can enforce, one line per mechanism,\n"
"each found by trying it: user namespaces (also unprivileged), cgroup\n"
"controllers (v1 or v2, and whether a cgroup can be made here), what one\n"
"cgroup migration costs here (measured once) and whether favordynmods is on,\n"
"seccomp (filters, TSYNC, user notification), Landlock ABI, overlayfs and idmapped\n"
"mounts in a user namespace, pidfd and clone3. Then it starts the default\n"
"sandbox (zonebox run -- true), or the one RUN OPTIONS describe (-v, --zone,\n"
"--config, --user ...), and says which user ids it has (65536 on a\n"
"subordinate range, or one) and, per zone, whether it is idmapped. It also\n"
"lists the WASI runtimes of the wasm backend found in the sandbox's PATH\n"
"(wasmtime, wasmer, wasmedge, node) with their versions.\n"
"\n"
"Exit status: 0 when the default policy runs here, 1 when it does not.\n";

struct report {
        json_object *items;
        bool json;
};

static void item(struct report *rep, const char *name, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void item(struct report *rep, const char *name, bool ok, const char *fmt, ...)
{
        char detail[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        json_object_object_add(o, "detail", json_object_new_string(detail));
        json_object_array_add(rep->items, o);
        if (!rep->json)
                printf("%-22s %-3s %s\n", name, ok ? "yes" : "no", detail);
}

/* Run FN in a child; its exit code 0 means yes, else the errno. */
static int try_child(int (*fn)(void))
{
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
                _exit(fn() == 0 ? 0 : (errno ? errno : 255) & 255);
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) < 0)
                return errno;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int read_int(const char *path, long *out)
{
        char buf[32];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        *out = strtol(buf, NULL, 10);
        return 0;
}

static int write_str(const char *path, const char *s)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, s, strlen(s));
        close(fd);
        return n < 0 ? -1 : 0;
}

static int do_userns(void) { return unshare(CLONE_NEWUSER); }

/* As an ordinary user would: drop to uid 65534 first (root only). */
static int do_userns_unprivileged(void)
{
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                               setresuid(65534, 65534, 65534) < 0))
                return -1;
        return unshare(CLONE_NEWUSER);
}

/* Become root of a new user namespace with a private mount namespace. */
static int enter_userns(void)
{
        uid_t uid = geteuid();
        gid_t gid = getegid();
        char map[64];
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return -1;
        write_str("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
        if (write_str("/proc/self/uid_map", map) < 0)
                return -1;
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
        if (write_str("/proc/self/gid_map", map) < 0)
                return -1;
        return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static int do_overlay(void)
{
        if (enter_userns() < 0 || mount("tmpfs", "/tmp", "tmpfs", 0, NULL) < 0)
                return -1;
        mkdir("/tmp/l", 0755);
        mkdir("/tmp/u", 0755);
        mkdir("/tmp/w", 0755);
        mkdir("/tmp/m", 0755);
        return mount("overlay", "/tmp/m", "overlay", 0, "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w");
}

/* An idmapped mount, as rw zones started by root would use: clone the
 * host's /tmp in a private mount namespace and give it the mapping of a
 * fresh user namespace (0 -> 65534). Needs CAP_SYS_ADMIN over the
 * filesystem, i.e. root in the initial user namespace. */
static int do_idmap(void)
{
        int sync[2];
        if (pipe(sync) < 0 || unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -1;
        pid_t holder = fork();
        if (holder == 0) {
                char c;
                close(sync[1]);
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                ssize_t n = read(sync[0], &c, 1); /* until the parent is done */
                _exit(n < 0);
        }
        close(sync[0]);
        char path[64];
        int r = -1, e = 0;
        for (int i = 0; i < 1000 && r < 0; i++) { /* wait for the child's unshare */
                snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)holder);
                r = write_str(path, "0 65534 1");
                e = errno;
                if (r == 0) {
                        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)holder);
                        r = write_str(path, "0 65534 1");
                        e = errno;
                        if (r < 0)
                                break;
                }
                if (r < 0)
                        usleep(1000);
        }
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)holder);
        int userns = r == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        int fd = userns >= 0 ? (int)syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) : -1;
        if (fd >= 0) {
                struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
                r = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr));
                e = errno;
        } else {
                r = -1;
                e = errno ? errno : e;
        }
        close(sync[1]);
        waitpid(holder, NULL, 0);
        errno = e;
        return r;
}

static int do_clone3(void)
{
        int pidfd = -1;
        struct clone_args args = { .flags = CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&pidfd,
                                   .exit_signal = SIGCHLD };
        long pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid == 0)
                _exit(0);
        if (pid < 0)
                return -1;
        siginfo_t si;
        return waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
}

static int do_seccomp_tsync(void)
{
        struct sock_filter allow = { 0x06, 0, 0, SECCOMP_RET_ALLOW };
        struct sock_fprog prog = { 1, &allow };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -1;
        return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

/* Which way a run's limits will go, and why (cgroup.c, systemd.h): our own
 * cgroup when we may make a memory cgroup there, else a delegated systemd
 * scope when a manager answers for us, else none (fail closed). */
static void limits_path(struct report *rep, bool memory_ok, const char *v2_self)
{
        char why[256];
        if (memory_ok)
                item(rep, "limits path", true, "cgroups made directly under our own cgroup");
        else if (ns_systemd_in_scope())
                item(rep, "limits path", true, "our own delegated zonebox systemd scope (%s)", v2_self ? v2_self : "?");
        else if (ns_systemd_available(why, sizeof(why)))
                item(rep, "limits path", true,
                     "our cgroup %s is not usable, so each run asks systemd (%s manager) for a transient scope with Delegate=yes",
                     v2_self ? v2_self : "?", geteuid() ? "the user's" : "the system");
        else
                item(rep, "limits path", false,
                     "none: our cgroup is not usable and no systemd scope either (%s); limits fail closed unless limits.cgroup_parent or limits.allow_unenforced is set",
                     why);
}

static void check_cgroups(struct report *rep)
{
        struct cg_layout *l = malloc(sizeof(*l));
        char *mi = NULL, *self = NULL;
        size_t n = 0;
        FILE *f;
        if (!l)
                return;
        cg_layout_init(l);
        if ((f = fopen("/proc/self/mountinfo", "re"))) {
                if (getdelim(&mi, &n, 0, f) < 0) {
                        free(mi);
                        mi = NULL;
                }
                fclose(f);
        }
        n = 0;
        if ((f = fopen("/proc/self/cgroup", "re"))) {
                if (getdelim(&self, &n, 0, f) < 0) {
                        free(self);
                        self = NULL;
                }
                fclose(f);
        }
        if (mi)
                cg_parse_mountinfo(l, mi);
        if (self)
                cg_parse_self(l, self);
        char v2dir[PATH_MAX] = "", avail[512] = "";
        if (l->v2 >= 0 && cg_dir(l, l->v2, l->v2_self, v2dir, sizeof(v2dir)) == 0) {
                char path[PATH_MAX + 32];
                snprintf(path, sizeof(path), "%s/cgroup.controllers", v2dir);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        ssize_t k = read(fd, avail, sizeof(avail) - 1);
                        avail[k > 0 ? k : 0] = '\0';
                        avail[strcspn(avail, "\n")] = '\0';
                        close(fd);
                }
        }
        if (l->v2 >= 0) {
                char probe[PATH_MAX + 64];
                snprintf(probe, sizeof(probe), "%s/zonebox-doctor-%d", v2dir, (int)getpid());
                bool w = mkdir(probe, 0755) == 0;
                int e = errno;
                if (w)
                        rmdir(probe);
                item(rep, "cgroup v2", true, "mounted at %s; our cgroup %s offers '%s'; %s", l->mounts[l->v2].dir,
                     l->v2_self, avail, w ? "a child cgroup can be made here" : strerror(e));
        } else {
                item(rep, "cgroup v2", false, "not mounted");
        }
        static const char *const names[] = { "memory", "cpu", "cpuacct", "pids", "io" };
        bool memory_ok = false;
        for (int c = 0; c < ZB_CG_N; c++) {
                char label[32], dir[PATH_MAX], probe[PATH_MAX + 64];
                snprintf(label, sizeof(label), "cgroup %s", names[c]);
                bool on_v2 = c != ZB_CG_CPUACCT && cg_has_word(avail, names[c]);
                const char *where = on_v2 ? "v2" : l->v1[c] >= 0 ? "v1" : NULL;
                if (c == ZB_CG_CPUACCT && l->v2 >= 0) {
                        item(rep, label, true, "CPU accounting from cgroup v2 cpu.stat%s",
                             l->v1[c] >= 0 ? " (v1 cpuacct also mounted)" : "");
                        continue;
                }
                if (!where) {
                        item(rep, label, false, "not available (neither in cgroup v2 nor a v1 hierarchy)");
                        continue;
                }
                if (on_v2)
                        snprintf(dir, sizeof(dir), "%s", v2dir);
                else if (cg_dir(l, l->v1[c], l->v1_self[c], dir, sizeof(dir)) < 0)
                        dir[0] = '\0';
                snprintf(probe, sizeof(probe), "%s/zonebox-doctor-%d", dir, (int)getpid());
                bool w = dir[0] && mkdir(probe, 0755) == 0;
                int e = errno;
                if (w)
                        rmdir(probe);
                item(rep, label, w, "cgroup %s at %s: %s", where, dir[0] ? dir : "?",
                     w ? "writable here" : strerror(e));
                if (c == ZB_CG_MEMORY)
                        memory_ok = w;
        }
        limits_path(rep, memory_ok, l->v2 >= 0 ? l->v2_self : NULL);
        free(mi);
        free(self);
        free(l);
}

/* Per mounted ext4, xfs and btrfs filesystem (each device once): can
 * size= cap an rw or cow zone there (project quotas, btrfs qgroups)? */
static void check_zone_caps(struct report *rep)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096], seen[64][32];
        size_t n_seen = 0;

        if (!f)
                return;
        while (fgets(line, sizeof(line), f) && n_seen < ARRAY_SIZE(seen)) {
                char dev[32], mnt[1024], type[32];
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE ... */
                char *sep = strstr(line, " - ");
                if (!sep || sscanf(line, "%*s %*s %31s %*s %1023s", dev, mnt) != 2 ||
                    sscanf(sep + 3, "%31s", type) != 1)
                        continue;
                if (strcmp(type, "ext4") != 0 && strcmp(type, "xfs") != 0 && strcmp(type, "btrfs") != 0)
                        continue;
                bool dup = false;
                for (size_t i = 0; i < n_seen; i++)
                        dup |= strcmp(seen[i], dev) == 0;
                if (dup)
                        continue;
                snprintf(seen[n_seen++], sizeof(seen[0]), "%s", dev);
                const char *fs, *why;
                bool ok = ns_quota_fs_supported(mnt, &fs, &why);
                char label[1100];
                snprintf(label, sizeof(label), "zone size caps %s", mnt);
                item(rep, label, ok, "%s: %s", type, why);
        }
        fclose(f);
}

/* One measured cgroup move each way, and what would make the slow one
 * cheap: reported, never changed. */
static void check_migration(struct report *rep)
{
        struct ns_cg_cost c;
        struct zb_error err = { 0 };
        if (ns_cgroup_migration_cost(&c, &err) < 0) {
                item(rep, "cgroup migration", false, "not measured: %s", err.message);
                return;
        }
        char self[96] = "";
        if (c.self_ms >= 0)
                snprintf(self, sizeof(self), "; a process moving itself (v1 tasks, what zonebox does): %.2f ms",
                         c.self_ms);
        item(rep, "cgroup migration", true,
             "one sample in %s: a process moved by pid (cgroup.procs): %.2f ms%s%s", c.dir, c.by_pid_ms, self,
             c.v2 ? "; zonebox clones the sandbox into its v2 cgroup (no move)" : "");
        bool favor = c.favordynmods_mount || c.cmdline[0];
        item(rep, "cgroup favordynmods", favor, "%s%s",
             c.favordynmods_mount ? "on (a cgroup mount has favordynmods)"
             : c.cmdline[0]       ? c.cmdline
                                  : "off: a move by pid waits for an RCU grace period when no other move passed moments before. "
                                    "Cheaper with the favordynmods mount option (cgroup2: mount -o remount,favordynmods; v1: at mount time), "
                                    "cgroup_favordynmods=1 on the kernel command line, or CONFIG_CGROUP_FAVOR_DYNMODS (forks and exits get a little dearer)",
             " — zonebox reports it, never changes it");
}

/* The wasm backend's runtimes, where the sandbox sees them, and their
 * versions (asked as in a run: empty environment, as nobody when root). */
static void check_wasm_runtimes(struct report *rep)
{
        static const enum pol_wasm_runtime all[] = { ZB_WASM_WASMTIME, ZB_WASM_WASMER, ZB_WASM_WASMEDGE,
                                                    ZB_WASM_NODE };
        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                struct wasm_runtime rt;
                struct zb_error err = { 0 };
                char name[64], version[WASM_VERSION_MAX] = "";
                pid_t pid;
                int fd;
                snprintf(name, sizeof(name), "wasm runtime %s", pol_wasm_runtime_name(all[i]));
                if (wasm_runtime_find(all[i], NULL, NULL, &rt, &err) < 0) {
                        item(rep, name, false, "not found in the sandbox's PATH %s", DEFAULT_PATH);
                        continue;
                }
                if (wasm_version_start(rt.host_path, &pid, &fd) == 0)
                        wasm_version_collect(pid, fd, version, sizeof(version));
                item(rep, name, true, "%s (%s)", version[0] ? version : "version unknown", rt.path);
        }
}

int cli_doctor(int argc, char **argv)
{
        struct report rep = { .items = json_object_new_array() };
        long v;
        int e;

        struct zb_error err = { 0 };
        struct zb_policy *p = zb_policy_new();
        int pr = p ? cli_parse_policy("doctor", argc, argv, p, &rep.json, &err) : -1;
        if (pr != 0 || !p) {
                if (pr == 1)
                        fputs(doctor_help, stdout);
                zb_policy_free(p);
                json_object_put(rep.items);
                return pr == 1 ? 0 : ZB_EXIT_ERROR;
        }

        e = try_child(do_userns);
        item(&rep, "user namespaces", !e, "%s%s", e ? "unshare(CLONE_NEWUSER): " : "can be created",
             e ? strerror(e) : "");
        e = try_child(do_userns_unprivileged);
        char extra[96] = "";
        if (read_int("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0)
                snprintf(extra, sizeof(extra), " (kernel.unprivileged_userns_clone = %ld)", v);
        item(&rep, "unprivileged userns", !e, "%s%s%s", e ? "as uid 65534: " : "ordinary users can create them",
             e ? strerror(e) : "", extra);
        if (read_int("/proc/sys/user/max_user_namespaces", &v) == 0)
                item(&rep, "max user namespaces", v > 0, "user.max_user_namespaces = %ld", v);

        check_cgroups(&rep);
        check_zone_caps(&rep);
        check_migration(&rep);

        char actions[256] = "";
        int fd = open("/proc/sys/kernel/seccomp/actions_avail", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                ssize_t k = read(fd, actions, sizeof(actions) - 1);
                actions[k > 0 ? k : 0] = '\0';
                actions[strcspn(actions, "\n")] = '\0';
                close(fd);
        }
        bool filter = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 && actions[0];
        item(&rep, "seccomp filter", filter, "%s%s", filter ? "actions: " : "seccomp filters unavailable",
             actions);
        e = try_child(do_seccomp_tsync);
        item(&rep, "seccomp TSYNC", !e, "%s", e ? strerror(e) : "filters can be synced across threads");
        bool notif = cg_has_word(actions, "user_notif");
        item(&rep, "seccomp user notif", notif, "%s", notif ? "SECCOMP_RET_USER_NOTIF available" : "not available");

        int abi = ns_landlock_abi();
        if (abi < 0)
                item(&rep, "landlock", false, "cannot query the ABI: %s", strerror(-abi));
        else
                item(&rep, "landlock", abi > 0, "%s%d%s", abi > 0 ? "ABI " : "unavailable (ABI ", abi,
                     abi >= 6 ? ": filesystem, truncate, device ioctl, unix-socket and signal scoping"
                     : abi > 0 ? ": filesystem rules (no signal/socket scoping before ABI 6)" : ")");

        e = try_child(do_overlay);
        item(&rep, "overlayfs in userns", !e, "%s", e ? strerror(e) : "an overlay mounts inside a user namespace");
        if (geteuid() == 0) {
                e = try_child(do_idmap);
                item(&rep, "idmapped mounts", !e, "%s",
                     e ? strerror(e) : "mount_setattr(MOUNT_ATTR_IDMAP) works on a clone of /tmp");
        } else {
                item(&rep, "idmapped mounts", false, "need root (CAP_SYS_ADMIN over the host's filesystems)");
        }
        e = try_child(do_clone3);
        int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        item(&rep, "pidfd, clone3", !e && pfd >= 0, "%s", !e && pfd >= 0 ? "clone3(CLONE_PIDFD) and pidfd_open work"
                                                                           : strerror(e ? e : errno));
        if (pfd >= 0)
                close(pfd);

        check_wasm_runtimes(&rep);

        /* The proof: the default policy (or the one given), started for real. */
        struct zb_result *r = NULL;
        char *cmd[] = { "true", NULL };
        if (!p->argc && zb_policy_set_command(p, 1, cmd, &err) < 0)
                p->argc = 0;
        bool ok = p->argc && zb_run(p, &r, &err) == 0 && zb_result_exit_code(r) == 0;
        item(&rep, "default sandbox", ok, "%s",
             ok ? "zonebox run -- true works with this policy"
                : r && zb_result_error(r) ? zb_result_error(r) : err.message[0] ? err.message : "failed");
        if (r && r->id_map)
                item(&rep, "user ids", r->id_count > 1, "%u ids (%s)%s", (unsigned)r->id_count, r->id_map,
                     r->id_count > 1 ? ""
                                     : ": only the sandbox user exists inside; setuid to another id fails with EINVAL (for a range: /etc/subuid and /etc/subgid entries and the uidmap package)");
        for (size_t i = 0; r && i < r->n_zone_ids; i++) {
                char name[96];
                snprintf(name, sizeof(name), "zone %s", r->zone_ids_name[i]);
                item(&rep, name, strncmp(r->zone_ids[i], "not", 3) != 0, "%s", r->zone_ids[i]);
        }
        zb_result_free(r);
        zb_policy_free(p);

        if (rep.json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "checks", json_object_get(rep.items));
                json_object_object_add(o, "default_policy_runs", json_object_new_boolean(ok));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        }
        json_object_put(rep.items);
        return ok ? 0 : 1;
}
