/* Size caps on rw and cow zones by project quota or btrfs qgroup
 * (quota.c): set before the run, read and removed after. */
#ifndef ZB_NS_QUOTA_H
#define ZB_NS_QUOTA_H

#include <linux/limits.h>
#include <sys/types.h>

#include "../core/policy.h"
#include "../core/result.h"

struct ns_quota;

struct ns_quota_zone {
        const char *zone;  /* the zone's name (the policy's) */
        const char *path;  /* the capped dir: host dir, or a cow zone's change-set dir */
        const char *fs;    /* the filesystem's name, for messages */
        int fd;            /* that dir, -1: not open */
        dev_t dev;
        uint64_t limit;    /* bytes */
        bool btrfs;        /* qgroup of a subvolume, else a project quota */
        uint32_t projid;
        bool limit_set, tree_set; /* what release must undo */
        char qgroup[PATH_MAX]; /* btrfs: the qgroup's sysfs dir */
        struct ns_quota *owner; /* whose record to write */
};

struct ns_quota {
        struct ns_quota_zone zones[ZB_MAX_ZONES];
        size_t n;
        char record[128]; /* this run's record in QUOTA_STATE_DIR, "" if none */
};

/* Cap every rw and cow zone with a size; COW_DIRS[i] is zone i's change-set
 * dir (cow zones). Fails (nothing left set) when one cannot be capped. */
int ns_quota_prepare(struct ns_quota *q, const struct zb_policy *p, const char *const *cow_dirs,
                     struct zb_error *err);
/* Usage of each capped zone into R's disk list. */
void ns_quota_finish(struct ns_quota *q, struct zb_result *r);
/* Remove the limits and project ids; safe to call more than once. */
void ns_quota_release(struct ns_quota *q);
/* Undo what runs whose supervisor is gone (killed with SIGKILL) left set:
 * every run does this first, and zonebox gc. Root only; quiet. */
void ns_quota_gc(unsigned *removed);
/* zonebox doctor: can zones on PATH's filesystem be capped? */
bool ns_quota_fs_supported(const char *path, const char **fs, const char **why);

#endif
