/* User namespace: the sandbox's ids inside (uid/gid 1000 by default, or
 * --user) and what they are outside, never host root:
 *  - started by root: 65536 ids (0-65535 inside) on a subordinate range,
 *    the `zonebox` entries of /etc/subuid and /etc/subgid, else
 *    ZB_DEFAULT_SUBID_START; the sandbox user is START+uid outside;
 *  - started by a user with /etc/subuid and /etc/subgid entries and the
 *    newuidmap/newgidmap helpers: the sandbox user is the invoker, the
 *    other 65535 ids come from the user's range (as rootless Podman does);
 *  - otherwise one id: the sandbox user is the invoker, nothing else exists.
 * Files in zones keep their host owner through idmapped mounts (zones.c),
 * not through this map. The supervisor writes the maps (only it may map an
 * id other than its own); the child then switches to the mapped ids. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/securebits.h>

#include "ns.h"

#define NEWUIDMAP "/usr/bin/newuidmap"
#define NEWGIDMAP "/usr/bin/newgidmap"

static int write_proc(pid_t pid, const char *file, const char *data, struct zb_error *err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        _cleanup_(closep) int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return err_errno(err, errno, "layer user: open %s", path);
        ssize_t n = write(fd, data, strlen(data));
        if (n < 0)
                return err_errno(err, errno, "layer user: write '%s' to %s", data, path);
        return 0;
}

/* ---------- /etc/subuid, /etc/subgid ---------- */

/* "WHO:START:COUNT" at LINE: WHO into who (n bytes), the numbers checked. */
static bool subid_line(const char *line, char *who, size_t n, unsigned long long *start,
                       unsigned long long *count)
{
        size_t len = strcspn(line, ":\n");
        if (len == 0 || len >= n || line[len] != ':')
                return false;
        memcpy(who, line, len);
        who[len] = '\0';
        char *end;
        errno = 0;
        *start = strtoull(line + len + 1, &end, 10);
        if (errno || end == line + len + 1 || *end != ':')
                return false;
        const char *c = end + 1;
        *count = strtoull(c, &end, 10);
        return !errno && end != c && (*end == '\n' || *end == '\0');
}

int ns_subid_parse(const char *text, const char *name, unsigned long id, uint32_t need, uint32_t *start)
{
        char idstr[24];
        snprintf(idstr, sizeof(idstr), "%lu", id);
        for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                char who[256];
                unsigned long long s, n;
                if (!subid_line(line, who, sizeof(who), &s, &n))
                        continue;
                if (strcmp(who, name ? name : "") != 0 && strcmp(who, idstr) != 0)
                        continue;
                /* Never host root nor the ids of ordinary accounts (below 65536). */
                if (n < need || s < 65536 || s + need > 0xFFFFFFFEull)
                        continue;
                *start = (uint32_t)s;
                return 0;
        }
        return -ENOENT;
}

/* The first entry of FILE for NAME (or the numeric ID) with NEED ids. */
static int subid_lookup(const char *file, const char *name, unsigned long id, uint32_t need, uint32_t *start)
{
        char buf[16384];
        _cleanup_(closep) int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return ns_subid_parse(buf, name, id, need, start);
}

/* The invoker's login name from /etc/passwd (the file: a static binary's
 * NSS cannot be trusted to load), for /etc/subuid entries kept by name. */
static void own_name(uid_t uid, char *name, size_t n)
{
        char buf[65536];
        name[0] = '\0';
        _cleanup_(closep) int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (len <= 0)
                return;
        buf[len] = '\0';
        for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                /* NAME:PASSWORD:UID: */
                const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                const char *nl = strchr(line, '\n');
                if (!c2 || (nl && c2 > nl))
                        continue;
                char *end;
                errno = 0;
                unsigned long u = strtoul(c2 + 1, &end, 10);
                if (!errno && end != c2 + 1 && *end == ':' && u == uid && (size_t)(c1 - line) < n) {
                        memcpy(name, line, (size_t)(c1 - line));
                        name[c1 - line] = '\0';
                        return;
                }
        }
}

int ns_ids_prepare(struct ns_ctx *c, struct zb_error *err)
{
        struct ns_ids *ids = &c->ids;
        uint32_t su = 0, sg = 0;

        c->invoker_is_root = geteuid() == 0;
        if (c->invoker_is_root) {
                ids->map = NS_IDS_RANGE;
                bool own_u = subid_lookup("/etc/subuid", ZB_SUBID_USER, (unsigned long)-1, ZB_ID_COUNT, &su) == 0;
                bool own_g = subid_lookup("/etc/subgid", ZB_SUBID_USER, (unsigned long)-1, ZB_ID_COUNT, &sg) == 0;
                ids->uid_base = own_u ? su : ZB_DEFAULT_SUBID_START;
                ids->gid_base = own_g ? sg : ZB_DEFAULT_SUBID_START;
                ids->source = own_u && own_g ? "subid" : own_u || own_g ? "subid+default" : "default";
                c->host_uid = ids->uid_base + c->p->security.uid;
                c->host_gid = ids->gid_base + c->p->security.gid;
                return 0;
        }
        c->host_uid = geteuid();
        c->host_gid = getegid();
        ids->map = NS_IDS_SINGLE;
        ids->source = "no /etc/subuid and /etc/subgid entries";
        if (access(NEWUIDMAP, X_OK) < 0 || access(NEWGIDMAP, X_OK) < 0) {
                ids->source = "newuidmap/newgidmap not installed (Debian package uidmap)";
                return 0;
        }
        char name[256];
        own_name(c->host_uid, name, sizeof(name));
        /* The sandbox's own id is the invoker's: the range gives the others. */
        if (subid_lookup("/etc/subuid", name, c->host_uid, ZB_ID_COUNT - 1, &su) == 0 &&
            subid_lookup("/etc/subgid", name, c->host_uid, ZB_ID_COUNT - 1, &sg) == 0) {
                ids->map = NS_IDS_HELPER;
                ids->uid_base = su;
                ids->gid_base = sg;
                ids->source = "newuidmap";
        }
        (void)err;
        return 0;
}

/* newuidmap PID 0 SUB U  U ME 1  U+1 SUB+U 65535-U (the pieces that exist). */
static int run_helper(const char *helper, pid_t pid, unsigned inside, unsigned me, unsigned sub,
                      struct zb_error *err)
{
        char a[10][16];
        char *argv[12];
        int n = 0;
        argv[n++] = (char *)helper;
        snprintf(a[0], sizeof(a[0]), "%d", (int)pid);
        argv[n++] = a[0];
        unsigned v[9], k = 0;
        if (inside > 0) {
                v[k++] = 0, v[k++] = sub, v[k++] = inside;
        }
        v[k++] = inside, v[k++] = me, v[k++] = 1;
        if (inside + 1 < ZB_ID_COUNT)
                v[k++] = inside + 1, v[k++] = sub + inside, v[k++] = ZB_ID_COUNT - 1 - inside;
        for (unsigned i = 0; i < k; i++) {
                snprintf(a[i + 1], sizeof(a[i + 1]), "%u", v[i]);
                argv[n++] = a[i + 1];
        }
        argv[n] = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        pid_t h;
        int r = posix_spawn(&h, helper, &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return err_errno(err, r, "layer user: run %s", helper);
        int st;
        while (waitpid(h, &st, 0) < 0)
                if (errno != EINTR)
                        return err_errno(err, errno, "layer user: wait for %s", helper);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                return err_set(err, EPERM,
                                    "layer user: %s refused to map the sandbox's ids (check this user's /etc/subuid and /etc/subgid entries)",
                                    helper);
        return 0;
}

int ns_ids_write_maps(const struct ns_ctx *c, pid_t pid, struct zb_error *err)
{
        const struct pol_security *s = &c->p->security;
        char map[64];
        int r;

        if (c->ids.map == NS_IDS_HELPER) {
                r = run_helper(NEWUIDMAP, pid, (unsigned)s->uid, (unsigned)c->host_uid, c->ids.uid_base, err);
                return r < 0 ? r : run_helper(NEWGIDMAP, pid, (unsigned)s->gid, (unsigned)c->host_gid,
                                              c->ids.gid_base, err);
        }
        if (c->ids.map == NS_IDS_RANGE) {
                snprintf(map, sizeof(map), "0 %u %u\n", c->ids.uid_base, ZB_ID_COUNT);
                r = write_proc(pid, "uid_map", map, err);
                snprintf(map, sizeof(map), "0 %u %u\n", c->ids.gid_base, ZB_ID_COUNT);
                return r < 0 ? r : write_proc(pid, "gid_map", map, err);
        }
        /* An unprivileged writer may map its own gid only after giving up
         * setgroups(2) (user_namespaces(7)). */
        r = write_proc(pid, "setgroups", "deny", err);
        if (r < 0)
                return r;
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)s->uid, (unsigned)c->host_uid);
        r = write_proc(pid, "uid_map", map, err);
        if (r < 0)
                return r;
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)s->gid, (unsigned)c->host_gid);
        return write_proc(pid, "gid_map", map, err);
}

void ns_ids_record(const struct ns_ctx *c, struct zb_result *r)
{
        res_layer(r, "user_id_range", c->ids.map != NS_IDS_SINGLE);
        r->id_map = c->ids.map == NS_IDS_RANGE ? "range" : c->ids.map == NS_IDS_HELPER ? "newuidmap" : "single";
        r->id_count = c->ids.map == NS_IDS_SINGLE ? 1 : ZB_ID_COUNT;
}

void ns_ids_enter(struct ns_ctx *c)
{
        uid_t uid = c->p->security.uid;
        gid_t gid = c->p->security.gid;

        /* Keep the namespace capabilities across the uid change: setup still
         * needs them; caps.c drops them all before exec. */
        if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_KEEP_CAPS) < 0)
                ns_fail(c, 0, errno, "layer user: set securebits");
        /* Root's supplementary groups go; an ordinary invoker's stay (as
         * nogroup inside): dropping them could open a file that a group
         * entry denies, which is why setgroups is denied to it. */
        if (c->invoker_is_root && setgroups(0, NULL) < 0)
                ns_fail(c, 0, errno, "layer user: drop supplementary groups");
        if (setresgid(gid, gid, gid) < 0)
                ns_fail(c, 0, errno, "layer user: setresgid(%u)", (unsigned)gid);
        if (setresuid(uid, uid, uid) < 0)
                ns_fail(c, 0, errno, "layer user: setresuid(%u)", (unsigned)uid);
}
