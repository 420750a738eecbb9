/* Block-I/O throttling in the sandbox's cgroup: per-device bytes and
 * operations per second (v2 io.max, v1 blkio.throttle.*_device) and a
 * proportional weight (v2 io.weight, v1 blkio.weight or blkio.bfq.weight).
 *
 * Each limit names a block device by path, or a zone whose host dir's
 * filesystem is on one; a partition stands for its whole disk (the kernel
 * throttles whole disks only). A device that is not a block device, a zone
 * on a filesystem without one (tmpfs, overlayfs, btrfs's anonymous device),
 * or a weight the I/O scheduler cannot take fails the run before it starts.
 * On cgroup v1 only direct I/O is throttled: buffered writes are written
 * back later by the kernel, outside the sandbox's cgroup. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "blkio.h"

static const char *const v1_file[] = {
        [ZB_IO_READ_BPS] = "blkio.throttle.read_bps_device",
        [ZB_IO_WRITE_BPS] = "blkio.throttle.write_bps_device",
        [ZB_IO_READ_IOPS] = "blkio.throttle.read_iops_device",
        [ZB_IO_WRITE_IOPS] = "blkio.throttle.write_iops_device",
};
static const char *const v2_key[] = {
        [ZB_IO_READ_BPS] = "rbps", [ZB_IO_WRITE_BPS] = "wbps",
        [ZB_IO_READ_IOPS] = "riops", [ZB_IO_WRITE_IOPS] = "wiops",
};

static int write_file(const char *dir, const char *file, const char *text)
{
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = util_write_all(fd, text, strlen(text)) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* A partition's whole disk, from /sys/dev/block/M:m/../dev. */
static dev_t whole_disk(dev_t d)
{
        char path[128], buf[32];
        unsigned ma, mi;
        snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(d), minor(d));
        if (access(path, F_OK) < 0)
                return d;
        snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", major(d), minor(d));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return d;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        char *end;
        errno = 0;
        ma = (unsigned)strtoul(buf, &end, 10);
        if (errno || end == buf || *end != ':')
                return d;
        const char *m = end + 1;
        mi = (unsigned)strtoul(m, &end, 10);
        if (errno || end == m || (*end != '\n' && *end != '\0'))
                return d;
        return makedev(ma, mi);
}

static int resolve(const struct zb_policy *p, const struct pol_io_limit *l, dev_t *out,
                   struct zb_error *err)
{
        struct stat st;

        if (!l->zone) {
                if (stat(l->target, &st) < 0)
                        return err_errno(err, errno, "layer resources: block I/O limit on %s", l->target);
                if (!S_ISBLK(st.st_mode))
                        return err_set(err, ENOTBLK, "layer resources: block I/O limit: %s is not a block device",
                                            l->target);
                *out = whole_disk(st.st_rdev);
                return 0;
        }
        for (size_t i = 0; i < p->n_zones; i++) {
                const struct pol_zone *z = &p->zones[i];
                if (strcmp(z->name, l->target) != 0)
                        continue;
                if (!z->host_path)
                        return err_set(err, EINVAL,
                                            "layer resources: zone '%s' is a tmpfs: its I/O is memory, not a block device",
                                            z->name);
                if (stat(z->host_path, &st) < 0)
                        return err_errno(err, errno, "layer resources: zone '%s': %s", z->name, z->host_path);
                if (major(st.st_dev) == 0)
                        return err_set(err, ENOTBLK,
                                            "layer resources: zone '%s': %s is on a filesystem without a single block device (tmpfs, overlayfs, btrfs); name the device with --device-*-bps",
                                            z->name, z->host_path);
                *out = whole_disk(st.st_dev);
                return 0;
        }
        return err_set(err, ENOENT, "layer resources: block I/O limit: no zone named '%s'", l->target);
}

static int apply_weight(uint64_t weight, const char *dir, bool v2, struct zb_error *err)
{
        char buf[32];
        int r;
        if (v2) {
                snprintf(buf, sizeof(buf), "default %llu", (unsigned long long)weight);
                r = write_file(dir, "io.weight", buf);
                if (r == -ENOENT)
                        r = write_file(dir, "io.bfq.weight", buf);
        } else {
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long)weight);
                r = write_file(dir, "blkio.weight", buf);
                if (r == -ENOENT)
                        r = write_file(dir, "blkio.bfq.weight", buf);
        }
        if (r < 0)
                return err_errno(err, -r,
                                      "layer resources: blkio_weight: %s cannot take a weight (it needs the BFQ I/O scheduler or io.weight)",
                                      dir);
        return 0;
}

int ns_blkio_apply(const struct zb_policy *p, const char *dir, bool v2, struct zb_error *err)
{
        const struct pol_io *io = &p->limits.io;
        char buf[128];

        for (size_t i = 0; i < io->n; i++) {
                const struct pol_io_limit *l = &io->limits[i];
                dev_t d = 0;
                int r = resolve(p, l, &d, err);
                if (r < 0)
                        return r;
                if (v2)
                        snprintf(buf, sizeof(buf), "%u:%u %s=%llu", major(d), minor(d), v2_key[l->kind],
                                 (unsigned long long)l->rate);
                else
                        snprintf(buf, sizeof(buf), "%u:%u %llu", major(d), minor(d),
                                 (unsigned long long)l->rate);
                r = write_file(dir, v2 ? "io.max" : v1_file[l->kind], buf);
                if (r < 0)
                        return err_errno(err, -r, "layer resources: block I/O limit %s:%llu (%s/%s '%s')",
                                              l->target, (unsigned long long)l->rate, dir,
                                              v2 ? "io.max" : v1_file[l->kind], buf);
        }
        return io->weight ? apply_weight(io->weight, dir, v2, err) : 0;
}
