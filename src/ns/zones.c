/* Host zones' sources, opened with the invoker's rights before any id
 * change: anything the invoker can read can be a zone, and nothing more.
 *
 * Started by root, the supervisor opens each zone dir (without following a
 * symlink at the last step), clones it into a detached mount and idmaps
 * it: the dir's host owner and group are seen inside as the sandbox user
 * (uid/gid 1000 by default), and what the command creates lands on the
 * host owned by them, never by an id of the sandbox's range. Other owners
 * are not mapped: their files show as nobody/nogroup and are reached
 * through their "other" permission bits only. Where the filesystem or the
 * kernel cannot idmap, a ro zone is mounted as it is (host ids show as
 * nobody) and an rw or cow zone is refused: nothing is silently weaker.
 *
 * Started by an ordinary user, the user namespace already maps the sandbox
 * user to the invoker, so a zone needs no idmap; only a process in the
 * sandbox's own mount namespace may clone it, so the child opens it there,
 * before the maps are written (with exactly the invoker's rights), and
 * checks it is the dir the supervisor opened. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ns.h"
#include "sys.h"

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

static const struct ns_zone_src *src_of(const struct ns_ctx *c, size_t i)
{
        return &c->zone_src[i];
}

/* A user namespace whose only ids are OWNER -> TO_UID and GROUP -> TO_GID:
 * what an idmapped mount needs. Made by a child that waits to be killed. */
static int idmap_userns(uid_t owner, gid_t group, uid_t to_uid, gid_t to_gid, struct zb_error *err)
{
        int pidfd = -1;
        struct clone_args a = { .flags = CLONE_NEWUSER | CLONE_PIDFD,
                                .pidfd = (uint64_t)(uintptr_t)&pidfd,
                                .exit_signal = 0 };
        long pid = sys_clone3(&a);
        if (pid < 0)
                return err_errno(err, errno, "zones: user namespace for an idmapped mount (clone3)");
        if (pid == 0)
                for (;;)
                        pause();
        char path[64], map[64];
        int fd = -1, e = 0;
        static const char *const files[] = { "uid_map", "gid_map" };
        for (int k = 0; k < 2 && !e; k++) {
                snprintf(path, sizeof(path), "/proc/%ld/%s", pid, files[k]);
                snprintf(map, sizeof(map), "%u %u 1\n", k ? (unsigned)group : (unsigned)owner,
                         k ? (unsigned)to_gid : (unsigned)to_uid);
                int m = open(path, O_WRONLY | O_CLOEXEC);
                if (m < 0 || write(m, map, strlen(map)) < 0)
                        e = errno;
                if (m >= 0)
                        close(m);
        }
        snprintf(path, sizeof(path), "/proc/%ld/ns/user", pid);
        if (!e && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                e = errno;
        sys_pidfd_send_signal(pidfd, SIGKILL);
        siginfo_t si;
        waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL);
        close(pidfd);
        if (e)
                return err_errno(err, e, "zones: map uid %u to the sandbox user for an idmapped mount",
                                      (unsigned)owner);
        return fd;
}

/* The idmap for zone I: shared with an earlier zone of the same owner. */
static int userns_for(struct ns_ctx *c, size_t i, struct zb_error *err)
{
        struct ns_zone_src *s = &c->zone_src[i];
        for (size_t j = 0; j < i; j++) {
                const struct ns_zone_src *o = src_of(c, j);
                if (o->userns_fd >= 0 && o->owner == s->owner && o->group == s->group) {
                        s->userns_fd = fcntl(o->userns_fd, F_DUPFD_CLOEXEC, 3);
                        return s->userns_fd < 0 ? err_errno(err, errno, "zones: dup") : 0;
                }
        }
        s->userns_fd = idmap_userns(s->owner, s->group, c->host_uid, c->host_gid, err);
        return s->userns_fd < 0 ? s->userns_fd : 0;
}

static const char *idmap_failure(int e)
{
        switch (e) {
        case EINVAL:
                return "its filesystem cannot be idmapped (9p, NFS, FUSE, ramfs, overlayfs; tmpfs before Linux 6.3)";
        case ENOSYS:
        case E2BIG:
                return "this kernel has no idmapped mounts (Linux 5.12+)";
        default:
                return "the kernel refused the idmapped mount";
        }
}

/* Root: the detached clone, idmapped, with the zone's mount flags. */
static int idmap_zone(struct ns_ctx *c, size_t i, struct zb_result *r, struct zb_error *err)
{
        const struct pol_zone *z = &c->p->zones[i];
        struct ns_zone_src *s = &c->zone_src[i];
        uint64_t flags = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (z->mode == ZB_ZONE_RO ? MOUNT_ATTR_RDONLY : 0u);
        int ret = userns_for(c, i, err);
        if (ret < 0)
                return ret;
        struct mount_attr a = { .attr_set = flags | MOUNT_ATTR_IDMAP, .propagation = (uint64_t)MS_PRIVATE,
                                .userns_fd = (uint64_t)(unsigned)s->userns_fd };
        if (sys_mount_setattr(s->tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) == 0) {
                s->ids = NS_ZONE_IDMAPPED;
                res_zone_ids(r, z->name, "idmapped");
                return 0;
        }
        int e = errno;
        s->why = idmap_failure(e);
        if (z->mode != ZB_ZONE_RO)
                return err_set(err, e,
                                    "zone '%s': %s cannot be idmapped: %s. Without it the files the sandbox writes would belong to uid %u (of the sandbox's id range), not to uid %u who owns the dir. Mount it read-only (:ro), or use a dir on ext4, xfs, btrfs or tmpfs (Linux 6.3+)",
                                    z->name, z->host_path, s->why, (unsigned)c->host_uid, (unsigned)s->owner);
        a.attr_set = flags;
        a.userns_fd = 0;
        if (sys_mount_setattr(s->tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) < 0)
                return err_errno(err, errno, "zone '%s': set its mount flags", z->name);
        s->ids = NS_ZONE_UNMAPPED;
        _cleanup_(freep) char *how = util_asprintf("not idmapped: %s; host owners show as nobody", s->why);
        res_zone_ids(r, z->name, how ? how : "not idmapped");
        return 0;
}

int ns_zones_idmap_dir(struct ns_ctx *c, size_t i, int dir_fd, int *out, struct zb_error *err)
{
        const struct pol_zone *z = &c->p->zones[i];
        int fd = sys_open_tree(dir_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (fd < 0)
                return err_errno(err, errno, "zone '%s': clone its change-set dir", z->name);
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                                .propagation = (uint64_t)MS_PRIVATE,
                                .userns_fd = (uint64_t)(unsigned)c->zone_src[i].userns_fd };
        if (sys_mount_setattr(fd, "", AT_EMPTY_PATH, &a) < 0) {
                int e = errno;
                close(fd);
                return err_errno(err, e,
                                      "zone '%s': the change-set store cannot be idmapped (%s); use --cow-dir on ext4, xfs, btrfs or tmpfs (Linux 6.3+)",
                                      z->name, idmap_failure(e));
        }
        *out = fd;
        return 0;
}

static int open_zone(struct ns_ctx *c, size_t i, struct zb_result *r, struct zb_error *err)
{
        const struct pol_zone *z = &c->p->zones[i];
        struct ns_zone_src *s = &c->zone_src[i];
        struct stat st;

        /* O_RDONLY, not O_PATH: the invoker must be able to read the dir. */
        _cleanup_(closep) int fd = open(z->host_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return err_errno(err, errno, "zone '%s': open %s as uid %u", z->name, z->host_path,
                                      (unsigned)geteuid());
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->owner = st.st_uid;
        s->group = st.st_gid;
        if (!c->invoker_is_root) {
                s->ids = NS_ZONE_DIRECT;
                res_zone_ids(r, z->name, "direct");
                return 0;
        }
        s->tree_fd = sys_open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (s->tree_fd < 0)
                return err_errno(err, errno, "zone '%s': clone %s", z->name, z->host_path);
        return idmap_zone(c, i, r, err);
}

int ns_zones_prepare(struct ns_ctx *c, struct zb_result *r, struct zb_error *err)
{
        for (size_t i = 0; i < ZB_MAX_ZONES; i++)
                c->zone_src[i] = (struct ns_zone_src){ .tree_fd = -1, .userns_fd = -1 };
        for (size_t i = 0; i < c->p->n_zones; i++) {
                if (c->p->zones[i].mode == ZB_ZONE_TMPFS)
                        continue;
                int ret = open_zone(c, i, r, err);
                if (ret < 0)
                        return ret;
        }
        return 0;
}

void ns_zones_release(struct ns_ctx *c)
{
        if (!c->p)
                return; /* ctx_init never ran: nothing was opened */
        for (size_t i = 0; i < c->p->n_zones && i < ZB_MAX_ZONES; i++) {
                struct ns_zone_src *s = &c->zone_src[i];
                if (s->tree_fd >= 0)
                        close(s->tree_fd);
                if (s->userns_fd >= 0)
                        close(s->userns_fd);
                s->tree_fd = s->userns_fd = -1;
                /* The cow store's idmapped clone (ns_zones_idmap_dir). */
                if (c->cow_dir[i] && c->cow_fd[i] >= 0) {
                        close(c->cow_fd[i]);
                        c->cow_fd[i] = -1;
                }
        }
}

/* Child side, an ordinary invoker's zones: right after clone, while no id
 * is mapped in the new user namespace (its capabilities apply to no host
 * file), so the open has exactly the invoker's rights. A failure is kept
 * as -errno in tree_fd and reported by mounts.c. */
void ns_zones_open_child(struct ns_ctx *c)
{
        for (size_t i = 0; i < c->p->n_zones; i++) {
                if (c->zone_src[i].userns_fd >= 0)
                        close(c->zone_src[i].userns_fd); /* the supervisor's: not the sandbox's */
                c->zone_src[i].userns_fd = -1;
        }
        for (size_t i = 0; i < c->p->n_zones; i++) {
                const struct pol_zone *z = &c->p->zones[i];
                struct ns_zone_src *s = &c->zone_src[i];
                struct stat st;
                if (z->mode == ZB_ZONE_TMPFS || s->tree_fd >= 0)
                        continue;
                int fd = open(z->host_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        s->tree_fd = -errno;
                } else if (st.st_dev != s->dev || st.st_ino != s->ino) {
                        s->tree_fd = -ESTALE; /* swapped since the supervisor opened it */
                } else {
                        s->tree_fd = sys_open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                                                                   AT_RECURSIVE);
                        if (s->tree_fd < 0)
                                s->tree_fd = -errno;
                }
                if (fd >= 0)
                        close(fd);
        }
}
