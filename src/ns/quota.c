/* Size caps on rw and cow zones (size= on a zone that is not tmpfs),
 * enforced by the kernel while the command writes: a write past the cap
 * fails with EDQUOT (or ENOSPC) inside.
 *
 * - ext4 and xfs mounted with project quotas (prjquota): the zone's tree
 *   gets a project id of its own for the run (FS_IOC_FSSETXATTR, with
 *   FS_XFLAG_PROJINHERIT on directories so new files inherit it) and that
 *   project a hard block limit (quotactl_fd Q_SETQUOTA, PRJQUOTA). After
 *   the run the limit is removed and the tree gets project id 0 back.
 * - btrfs with quotas enabled, when the zone's host dir is a subvolume: the
 *   subvolume's qgroup gets a referenced-bytes limit, cleared after.
 *
 * Anything else (another filesystem, quotas off, a plain btrfs dir, an
 * unprivileged caller who may not set project ids or limits) is refused
 * before anything starts, with the reason. A cow zone's cap applies to its
 * change-set dir (upper and work), which must then be on such a
 * filesystem (--cow-dir). A tree whose root already has a project id is
 * someone else's and is refused rather than changed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/quota.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "../core/units.h"
#include "cgroup.h"
#include "quota.h"

#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif
/* Project ids zonebox gives a tree for one run: this base plus the
 * supervisor's pid, unique among live supervisors. */
#define QUOTA_PROJID_BASE 0x5a000000u
#define QUOTA_BLOCK_BYTES 1024u /* if_dqblk's block unit (QIF_DQBLKSIZE) */
#define BTRFS_SUBVOL_ROOT_INO 256u
/* "Reached" when the usage is this close to the cap: the last write that
 * failed asked for at least a block, usually an extent's worth. */
#define QUOTA_REACHED_SLACK_BYTES (1ull << 20)
#define QUOTA_MAX_DEPTH 256
/* Records of what runs set, so that a later run undoes what a supervisor
 * killed with SIGKILL could not: one file per run, named PID-STARTTIME,
 * entries "B 0 PATH" (btrfs) or "P PROJID PATH", each NUL-terminated. */
#define QUOTA_STATE_PARENT "/run/zonebox"
#define QUOTA_STATE_DIR QUOTA_STATE_PARENT "/quota"
#define QUOTA_RECORD_MAX 65536

static int quotactl_fd(int fd, int cmd, int id, void *addr)
{
        /* QCMD shifts cmd left by 8: as an int, Q_GETQUOTA (0x800007)
         * overflows (UBSan); as unsigned it is the value the kernel reads. */
        return (int)syscall(SYS_quotactl_fd, fd, QCMD((unsigned)cmd, (unsigned)PRJQUOTA), id, addr);
}

static void record_write(struct ns_quota *qs);
static bool read_u64(const char *dir, const char *name, uint64_t *v);

static const char *fs_name(unsigned long type)
{
        switch (type) {
        case EXT4_SUPER_MAGIC: return "ext4";
        case XFS_SUPER_MAGIC: return "xfs";
        case BTRFS_SUPER_MAGIC: return "btrfs";
        case TMPFS_MAGIC: return "tmpfs";
        case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
        default: return NULL;
        }
}

/* Project id ID and PROJINHERIT on one inode (a directory or a regular
 * file) whose id is FROM. An inode with another id belongs to someone
 * else's quota: -EBUSY when setting ours (its files would escape the cap),
 * left alone when resetting. */
static int set_projid(int fd, uint32_t from, uint32_t id, bool inherit)
{
        struct fsxattr fa;
        if (ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0)
                return -errno;
        if (fa.fsx_projid != from && fa.fsx_projid != id)
                return inherit ? -EBUSY : 0;
        fa.fsx_projid = id;
        if (inherit)
                fa.fsx_xflags |= FS_XFLAG_PROJINHERIT;
        else
                fa.fsx_xflags &= ~(uint32_t)FS_XFLAG_PROJINHERIT;
        return ioctl(fd, FS_IOC_FSSETXATTR, &fa) < 0 ? -errno : 0;
}

/* The whole tree under DIR_FD (consumed), never following symlinks nor
 * leaving the filesystem. Returns 0 or the first error. */
static int tree_set_projid(int dir_fd, dev_t dev, uint32_t from, uint32_t id, bool inherit, int depth)
{
        int r = set_projid(dir_fd, from, id, inherit);
        DIR *d = r == 0 && depth < QUOTA_MAX_DEPTH ? fdopendir(dir_fd) : NULL;
        if (!d) {
                close(dir_fd);
                return r ? r : depth < QUOTA_MAX_DEPTH ? -errno : -ELOOP;
        }
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (e->d_type != DT_DIR && e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
                        continue;
                int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                if (fd < 0)
                        continue; /* a symlink (ELOOP), a fifo, gone meanwhile */
                struct stat st;
                if (fstat(fd, &st) < 0 || st.st_dev != dev) {
                        close(fd);
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        r = tree_set_projid(fd, dev, from, id, inherit, depth + 1);
                } else {
                        if (S_ISREG(st.st_mode))
                                r = set_projid(fd, from, id, false);
                        close(fd);
                }
        }
        closedir(d);
        return r;
}

/* The tree under DIR_FD from project id FROM to TO (PROJINHERIT on when
 * setting ours, off when resetting). */
static int walk(int dir_fd, dev_t dev, uint32_t from, uint32_t to)
{
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return tree_set_projid(fd, dev, from, to, to != 0, 0);
}

static int set_limit(int fd, uint32_t id, uint64_t bytes)
{
        struct if_dqblk dq = { 0 };
        dq.dqb_bhardlimit = dq.dqb_bsoftlimit = (bytes + QUOTA_BLOCK_BYTES - 1) / QUOTA_BLOCK_BYTES;
        dq.dqb_valid = QIF_BLIMITS;
        return quotactl_fd(fd, Q_SETQUOTA, (int)id, &dq) < 0 ? -errno : 0;
}

static int project_setup(struct ns_quota_zone *q, const char *what, struct zb_error *err)
{
        struct if_dqinfo info;
        struct fsxattr fa;
        struct if_dqblk dq;

        if (quotactl_fd(q->fd, Q_GETINFO, 0, &info) < 0)
                return err_set(err, ENOTSUP,
                                    "%s: size= needs project quotas, and %s's filesystem (%s) has them off (mount it with prjquota; ext4 also needs mkfs -O quota,project and a kernel with CONFIG_QFMT_V2)",
                                    what, q->path, q->fs);
        if (ioctl(q->fd, FS_IOC_FSGETXATTR, &fa) < 0)
                return err_errno(err, errno, "%s: read the project id of %s", what, q->path);
        if (fa.fsx_projid != 0)
                return err_set(err, EBUSY,
                                    "%s: %s already has project id %u (another quota's); zonebox does not change it",
                                    what, q->path, fa.fsx_projid);
        q->projid = QUOTA_PROJID_BASE + (uint32_t)getpid();
        if (quotactl_fd(q->fd, Q_GETQUOTA, (int)q->projid, &dq) == 0 &&
            (dq.dqb_curspace || dq.dqb_bhardlimit || dq.dqb_curinodes))
                return err_set(err, EBUSY, "%s: project id %u is in use on %s's filesystem", what,
                                    q->projid, q->path);
        /* Recorded before the kernel calls: undoing what was not set yet is
         * harmless, a set quota without a record is not. */
        q->limit_set = q->tree_set = true;
        record_write(q->owner);
        int r = set_limit(q->fd, q->projid, q->limit);
        if (r < 0)
                return err_errno(err, -r, "%s: set a project quota on %s's filesystem%s", what,
                                      q->path, r == -EPERM ? " (needs root)" : "");
        r = walk(q->fd, q->dev, 0, q->projid);
        if (r == -EBUSY)
                return err_set(err, EBUSY,
                                    "%s: %s holds files with another project id (another quota's); zonebox does not change them",
                                    what, q->path);
        if (r < 0)
                return err_errno(err, -r, "%s: give %s's tree project id %u%s", what, q->path,
                                      q->projid, r == -EPERM ? " (needs root)" : "");
        return 0;
}

/* /sys/fs/btrfs/FSID/qgroups/0_SUBVOL: exists only with quotas enabled. */
static int btrfs_qgroup_dir(int fd, char *out, size_t size)
{
        struct btrfs_ioctl_fs_info_args fi = { 0 };
        struct btrfs_ioctl_ino_lookup_args il = { .treeid = 0, .objectid = BTRFS_SUBVOL_ROOT_INO };
        if (ioctl(fd, BTRFS_IOC_FS_INFO, &fi) < 0 || ioctl(fd, BTRFS_IOC_INO_LOOKUP, &il) < 0)
                return -errno;
        const unsigned char *u = fi.fsid;
        snprintf(out, size,
                 "/sys/fs/btrfs/%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x/qgroups/0_%llu",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                 u[13], u[14], u[15], (unsigned long long)il.treeid);
        return 0;
}

static int btrfs_limit(int fd, uint64_t bytes)
{
        struct btrfs_ioctl_qgroup_limit_args a = { 0 }; /* qgroupid 0: FD's subvolume */
        a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
        a.lim.max_rfer = bytes; /* (u64)-1 clears the limit */
        return ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &a) < 0 ? -errno : 0;
}

static int btrfs_setup(struct ns_quota_zone *q, const char *what, const struct stat *st,
                       struct zb_error *err)
{
        if (st->st_ino != BTRFS_SUBVOL_ROOT_INO)
                return err_set(err, ENOTSUP,
                                    "%s: size= on btrfs needs the zone's dir to be a subvolume (btrfs subvolume create), and %s is not one",
                                    what, q->path);
        int r = btrfs_qgroup_dir(q->fd, q->qgroup, sizeof(q->qgroup));
        if (r < 0)
                return err_errno(err, -r, "%s: look up %s's subvolume", what, q->path);
        if (access(q->qgroup, F_OK) < 0)
                return err_set(err, ENOTSUP,
                                    "%s: size= needs btrfs quotas, and they are off on %s's filesystem (btrfs quota enable MOUNTPOINT)",
                                    what, q->path);
        uint64_t had = 0;
        if (read_u64(q->qgroup, "max_referenced", &had) && had != 0)
                return err_set(err, EBUSY,
                                    "%s: %s already has a qgroup limit (%llu bytes); zonebox does not change it",
                                    what, q->path, (unsigned long long)had);
        q->limit_set = true;
        record_write(q->owner);
        r = btrfs_limit(q->fd, q->limit);
        if (r < 0) {
                q->limit_set = false;
                return err_errno(err, -r, "%s: set a qgroup limit on %s%s", what, q->path,
                                      r == -EPERM ? " (needs root)" : "");
        }
        return 0;
}

static int zone_setup(struct ns_quota_zone *q, const char *what, struct zb_error *err)
{
        struct statfs sf;
        struct stat st;

        q->fd = open(q->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (q->fd < 0 || fstat(q->fd, &st) < 0 || fstatfs(q->fd, &sf) < 0)
                return err_errno(err, errno, "%s: open %s", what, q->path);
        q->dev = st.st_dev;
        q->fs = fs_name((unsigned long)sf.f_type);
        q->btrfs = sf.f_type == BTRFS_SUPER_MAGIC;
        if (sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC)
                return project_setup(q, what, err);
        if (q->btrfs)
                return btrfs_setup(q, what, &st, err);
        q->fs = q->fs ? q->fs : "this filesystem";
        return err_set(err, ENOTSUP,
                            "%s: size= needs a filesystem with project quotas (ext4 or xfs with prjquota) or a btrfs subvolume with quotas, and %s is on %s (type 0x%lx)",
                            what, q->path, q->fs, (unsigned long)sf.f_type);
}

/* Rewritten (write, then rename) after each zone is set: a kill between
 * the kernel call and this write is the one window that leaves a quota
 * without a record. */
static void record_write(struct ns_quota *qs)
{
        unsigned long long start;
        char tmp[160];
        if (!qs->record[0]) {
                if (ns_proc_start_time(getpid(), &start) < 0)
                        return;
                mkdir(QUOTA_STATE_PARENT, 0755);
                mkdir(QUOTA_STATE_DIR, 0700);
                snprintf(qs->record, sizeof(qs->record), QUOTA_STATE_DIR "/%d-%llu", (int)getpid(), start);
        }
        snprintf(tmp, sizeof(tmp), "%s.tmp", qs->record);
        FILE *f = fopen(tmp, "we");
        if (!f)
                return;
        for (size_t i = 0; i < qs->n; i++) {
                const struct ns_quota_zone *q = &qs->zones[i];
                if (q->limit_set || q->tree_set)
                        fprintf(f, "%c %u %s%c", q->btrfs ? 'B' : 'P', q->projid, q->path, 0);
        }
        if (fclose(f) == 0)
                rename(tmp, qs->record);
        else
                unlink(tmp);
}

static void undo(char kind, uint32_t projid, const char *path)
{
        struct stat st;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        if (fstat(fd, &st) == 0 && kind == 'B') {
                btrfs_limit(fd, UINT64_MAX);
        } else if (fstat(fd, &st) == 0 && kind == 'P' && projid >= QUOTA_PROJID_BASE) {
                walk(fd, st.st_dev, projid, 0);
                set_limit(fd, projid, 0);
        }
        close(fd);
}

static void undo_record(int dir_fd, const char *name)
{
        static char buf[QUOTA_RECORD_MAX];
        int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        for (ssize_t at = 0; n > 0 && at < n;) {
                char *e = buf + at, *end;
                size_t len = strlen(e);
                at += (ssize_t)len + 1;
                if (len < 4 || (e[0] != 'B' && e[0] != 'P') || e[1] != ' ')
                        continue;
                errno = 0;
                unsigned long id = strtoul(e + 2, &end, 10);
                if (!errno && end != e + 2 && id <= UINT32_MAX && end[0] == ' ' && end[1] == '/')
                        undo(e[0], (uint32_t)id, end + 1);
        }
        unlinkat(dir_fd, name, 0);
}

/* "PID-STARTTIME" (a record) or "PID-STARTTIME.tmp" (one being written). */
static bool record_name(const char *name, pid_t *pid, unsigned long long *start, bool *tmp)
{
        char *end;
        errno = 0;
        long v = strtol(name, &end, 10);
        if (errno || end == name || v <= 0 || v > INT32_MAX || *end != '-')
                return false;
        const char *s = end + 1;
        *start = strtoull(s, &end, 10);
        if (errno || end == s)
                return false;
        *pid = (pid_t)v;
        *tmp = strcmp(end, ".tmp") == 0;
        return *tmp || *end == '\0';
}

void ns_quota_gc(unsigned *removed)
{
        DIR *d = opendir(QUOTA_STATE_DIR);
        if (!d)
                return;
        for (struct dirent *e; (e = readdir(d));) {
                pid_t pid;
                unsigned long long start, now;
                bool tmp;
                if (!record_name(e->d_name, &pid, &start, &tmp))
                        continue;
                if (ns_proc_start_time(pid, &now) == 0 && now == start)
                        continue; /* its supervisor is still running */
                if (tmp) { /* the record proper, if any, says the same */
                        unlinkat(dirfd(d), e->d_name, 0);
                        continue;
                }
                undo_record(dirfd(d), e->d_name);
                if (removed)
                        (*removed)++;
        }
        closedir(d);
}

int ns_quota_prepare(struct ns_quota *qs, const struct zb_policy *p, const char *const *cow_dirs,
                     struct zb_error *err)
{
        if (geteuid() == 0)
                ns_quota_gc(NULL);
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                if (!z->size || (z->mode != ZB_ZONE_RW && z->mode != ZB_ZONE_COW))
                        continue;
                struct ns_quota_zone *q = &qs->zones[qs->n++];
                *q = (struct ns_quota_zone){ .fd = -1, .zone = z->name, .limit = z->size, .owner = qs };
                q->path = z->mode == ZB_ZONE_COW ? cow_dirs[i] : z->host_path;
                if (!q->path)
                        return err_set(err, EINVAL, "zone '%s': no dir to cap", z->name);
                _cleanup_(freep) char *what = util_asprintf("zone '%s'", z->name);
                int r = zone_setup(q, what ? what : z->name, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool read_u64(const char *dir, const char *name, uint64_t *v)
{
        char path[PATH_MAX], buf[32];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return units_parse_u64(buf, v) == 0;
}

/* Bytes the zone uses now. btrfs counts at transaction commit: sync first. */
static uint64_t zone_used(const struct ns_quota_zone *q)
{
        uint64_t used = 0;
        if (q->btrfs) {
                syncfs(q->fd);
                read_u64(q->qgroup, "referenced", &used);
        } else {
                struct if_dqblk dq;
                if (quotactl_fd(q->fd, Q_GETQUOTA, (int)q->projid, &dq) == 0)
                        used = dq.dqb_curspace;
        }
        return used;
}

void ns_quota_finish(struct ns_quota *qs, struct zb_result *r)
{
        if (!qs->n || !r || r->disk)
                return;
        r->disk = calloc(qs->n, sizeof(*r->disk));
        if (!r->disk)
                return;
        for (size_t i = 0; i < qs->n; i++) {
                struct ns_quota_zone *q = &qs->zones[i];
                struct res_disk_use *d = &r->disk[r->n_disk];
                if (q->fd < 0 || !(d->zone = util_strdup(q->zone)))
                        continue;
                d->limit = q->limit;
                d->used = zone_used(q);
                d->reached = d->used + (q->limit / 64 < QUOTA_REACHED_SLACK_BYTES ? q->limit / 64 : QUOTA_REACHED_SLACK_BYTES) >= q->limit;
                r->n_disk++;
        }
}

void ns_quota_release(struct ns_quota *qs)
{
        for (size_t i = 0; i < qs->n; i++) {
                struct ns_quota_zone *q = &qs->zones[i];
                /* The tree first: with the limit gone first, a file still
                 * charged to the project would go on counting against it. */
                if (q->tree_set)
                        walk(q->fd, q->dev, q->projid, 0);
                if (q->limit_set && q->btrfs)
                        btrfs_limit(q->fd, UINT64_MAX);
                else if (q->limit_set)
                        set_limit(q->fd, q->projid, 0);
                if (q->fd >= 0)
                        close(q->fd);
        }
        qs->n = 0;
        if (qs->record[0])
                unlink(qs->record);
        qs->record[0] = '\0';
}

bool ns_quota_fs_supported(const char *path, const char **fs, const char **why)
{
        struct statfs sf;
        struct if_dqinfo info;
        bool ok = false;

        *fs = NULL;
        *why = "cannot open";
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return false;
        if (fstatfs(fd, &sf) == 0) {
                *fs = fs_name((unsigned long)sf.f_type);
                if (sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC) {
                        ok = quotactl_fd(fd, Q_GETINFO, 0, &info) == 0;
                        *why = ok ? "project quotas on" : "project quotas off (prjquota not in effect, or the kernel lacks them)";
                } else if (sf.f_type == BTRFS_SUPER_MAGIC) {
                        char dir[PATH_MAX];
                        ok = btrfs_qgroup_dir(fd, dir, sizeof(dir)) == 0 && access(dir, F_OK) == 0;
                        *why = ok ? "quotas on: zones that are subvolumes can be capped" : "quotas off (btrfs quota enable)";
                } else {
                        *why = "no project quotas on this filesystem";
                }
        }
        close(fd);
        return ok;
}
