/* The block-I/O keys: "DEVICE:RATE" (Docker's --device-write-bps
 * /dev/sda:10mb), "ZONE:RATE" (--zone-write-bps output:10m), and the
 * weight. Each DEVICE:RATE given is appended; the device itself is checked
 * when the run starts (src/ns/blkio.c), where it may differ. */
#define _GNU_SOURCE
#include <stdio.h>

#include "policy.h"
#include "units.h"

static const struct {
        const char *key;
        enum pol_io_kind kind;
        bool zone;
} io_keys[] = {
        { "device_read_bps", ZB_IO_READ_BPS, false },   { "device_write_bps", ZB_IO_WRITE_BPS, false },
        { "device_read_iops", ZB_IO_READ_IOPS, false }, { "device_write_iops", ZB_IO_WRITE_IOPS, false },
        { "zone_read_bps", ZB_IO_READ_BPS, true },      { "zone_write_bps", ZB_IO_WRITE_BPS, true },
};

int pol_io_set_key(struct pol_io *io, const char *sub, const char *value, const char *label,
                  struct zb_error *err)
{
        uint64_t n;

        if (strcmp(sub, "blkio_weight") == 0) {
                if (units_parse_u64(value, &n) < 0 || n < 10 || n > 1000)
                        return err_set(err, EINVAL, "%s: invalid value '%s' (a weight from 10 to 1000)",
                                            label, value);
                io->weight = n;
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(io_keys); i++) {
                if (strcmp(sub, io_keys[i].key) != 0)
                        continue;
                bool iops = io_keys[i].kind == ZB_IO_READ_IOPS || io_keys[i].kind == ZB_IO_WRITE_IOPS;
                const char *colon = strrchr(value, ':');
                const char *want = io_keys[i].zone ? "ZONE:RATE, e.g. output:10m"
                                   : iops          ? "DEVICE:IOPS, e.g. /dev/sda:1000"
                                                   : "DEVICE:RATE, e.g. /dev/sda:10mb";
                size_t tlen = colon ? (size_t)(colon - value) : 0;
                int r = !colon ? -EINVAL : iops ? units_parse_u64(colon + 1, &n) : units_parse_size(colon + 1, &n);
                if (r < 0 || n == 0 || tlen == 0 || tlen >= ZB_IO_TARGET_MAX ||
                    (!io_keys[i].zone && value[0] != '/'))
                        return err_set(err, EINVAL, "%s: invalid value '%s' (%s; the rate > 0)", label,
                                            value, want);
                if (io->n >= ZB_MAX_IO_LIMITS)
                        return err_set(err, E2BIG, "%s: at most %d block-I/O limits", label,
                                            ZB_MAX_IO_LIMITS);
                struct pol_io_limit *l = &io->limits[io->n++];
                l->kind = io_keys[i].kind;
                l->zone = io_keys[i].zone;
                memcpy(l->target, value, tlen);
                l->target[tlen] = '\0';
                l->rate = n;
                return 0;
        }
        return -ENOENT;
}
