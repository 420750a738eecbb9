/* Copy-on-write zones: an overlayfs over the host dir, whose upper and work
 * dirs live in a per-run area of the change-set store, outside the sandbox.
 * The host dir is the lower layer and is never written while the command
 * runs; what the command changed is read back from the upper dir when it
 * ends and kept as a change set that zonebox diff, commit and discard act
 * on later (or the run itself, with cow_action).
 *
 * Store layout, every level owned by the invoking user and mode 0700:
 *     STORE/ID/manifest.json   the changes and the host's state, written last
 *     STORE/ID/zone-N/upper    the overlay's upper dir (zone index N)
 *     STORE/ID/zone-N/work     its work dir, removed when the run ends
 * A run holds an flock on STORE/ID while it lasts; a dir without a manifest
 * that nobody holds was left by a killed supervisor and is removed. */
#ifndef ZB_NS_COW_H
#define ZB_NS_COW_H

#include <stdint.h>
#include <sys/types.h>

#include "ns.h"

struct json_object;

#define ZB_COW_ID_MAX 48
#define ZB_COW_MANIFEST "manifest.json"
#define ZB_COW_ROOT_STORE "/run/zonebox/cow"

enum cow_change { ZB_COW_ADDED, ZB_COW_MODIFIED, ZB_COW_DELETED };
enum cow_type { ZB_COW_NONE, ZB_COW_FILE, ZB_COW_DIR, ZB_COW_LINK, ZB_COW_FIFO, ZB_COW_OTHER };

/* One entry as it was: the host's when the run ended, or the upper dir's. */
struct cow_stat {
        enum cow_type type; /* ZB_COW_NONE: absent */
        uint32_t mode;         /* permission bits */
        uint32_t uid, gid;
        uint64_t ino, size;
        int64_t mtime_ns, ctime_ns;
};

struct cow_entry {
        char *path; /* relative to the zone: no leading or trailing slash */
        enum cow_change change;
        enum cow_type type; /* the new entry's; the host's for a deletion */
        /* A step of its own at commit. Entries inside a directory that is
         * copied whole (new, or replacing the host's) are listed but not
         * applied one by one. */
        bool apply;
        bool meta_only;          /* a directory kept, whose mode changed */
        struct cow_stat host; /* when the run ended */
        struct cow_stat upper;
        char *conflict; /* why commit must refuse it (the host changed during the run) */
        /* A host directory that commit removes whole (deleted, or replaced):
         * SHA-256 of its subtree's state (names, types, modes, owners, sizes,
         * times) when the run ended; commit refuses when it changed. */
        char *host_tree;
};

struct cow_zone {
        char *name, *path, *host_path;
        size_t index;       /* in the policy: the store dir is zone-INDEX */
        uint64_t dev, ino;  /* of the host dir when the run started */
        struct cow_entry *e;
        size_t n, cap;
        /* What commit may copy, as it was when the run ended: every path of
         * the upper dir → "d:" SHA-256 of its sorted names, "f:" of a file's
         * bytes, "l:" of a symlink's target, "p" for a fifo. Commit refuses
         * what differs (the upper dir may be written after the review). */
        struct json_object *tree;
};

struct cow_set {
        char id[ZB_COW_ID_MAX];
        int64_t created;      /* seconds since the epoch */
        int64_t run_start_ns; /* CLOCK_REALTIME, before the sandbox started */
        char *status;         /* the run's result status */
        int exit_code;
        char *error;          /* the changes could not be read; commit refuses */
        struct cow_zone *zones;
        size_t n_zones;
};

/* Supervisor side of one run. */
struct ns_cow {
        size_t n; /* cow zones; 0: nothing to do */
        char id[ZB_COW_ID_MAX];
        char *store;
        int store_fd, run_fd; /* run_fd holds the run's flock */
        char *zone_dir[ZB_MAX_ZONES];
        uint64_t dev[ZB_MAX_ZONES], ino[ZB_MAX_ZONES];
        int64_t start_ns;
        bool kept; /* the run dir stays (a change set) */
};

/* Before clone: make STORE/ID/zone-N/{upper,work} for each cow zone,
 * owned by the sandbox's ids outside, and point c->cow_dir at them. */
int ns_cow_prepare(struct ns_cow *cow, struct ns_ctx *c, struct zb_error *err);
/* After the sandbox is gone: read the changes into the result, keep them
 * as a change set (or commit or discard them, as the policy says). */
void ns_cow_finish(struct ns_cow *cow, const struct zb_policy *p, struct zb_result *r);
/* Remove the run dir unless it was kept; free. */
void ns_cow_release(struct ns_cow *cow);

/* Child side. Open (clone) the store dirs while the child still has the
 * invoker's credentials: a store under a 0700 dir of root's is out of reach
 * of the sandbox's ids (errors are reported later, by ns_cow_overlay). */
void ns_cow_open_layers(struct ns_ctx *c);
/* Mount zone I's overlay from LOWER_FD (a clone of the host dir) and the
 * store clone, staged under the new root (ROOT_FD, at ROOT) while it is
 * still writable; returns the detached overlay mount. Closes LOWER_FD. */
int ns_cow_overlay(struct ns_ctx *c, size_t i, int lower_fd, int root_fd, const char *root);

/* Pure helpers (tests/unit/test_cow.c). */
bool cow_id_valid(const char *id);
/* The default store for EUID: root's under /run, else under XDG_RUNTIME
 * (if not NULL: the caller checked it is the user's) or /tmp. */
int cow_store_default(uid_t euid, const char *xdg_runtime, char *buf, size_t n);
/* The store a run or commit would use: OVERRIDE (cow_dir), else
 * $ZONEBOX_COW_DIR, else the default; policy.c keeps zones off it. */
int cow_store_path(const char *override, char *buf, size_t n);
const char *cow_type_name(enum cow_type t);
const char *cow_change_name(enum cow_change c);
enum cow_type cow_type_of(mode_t mode);
/* Whether the host entry changed between THEN and NOW; REASON (n bytes)
 * says how ("size 3 -> 5", "created", "deleted", ...). */
bool cow_stat_changed(const struct cow_stat *then, const struct cow_stat *now, char *reason,
                         size_t n);
/* The change set as JSON text (malloc'd), and back. */
char *cow_set_to_json(const struct cow_set *set);
int cow_set_from_json(const char *text, struct cow_set *set, struct zb_error *err);
void cow_set_free(struct cow_set *set);
/* Add an entry to Z (copies PATH); NULL on ENOMEM. */
struct cow_entry *cow_zone_add(struct cow_zone *z, const char *path, enum cow_change change,
                                     enum cow_type type);
/* The result's lists for the set's zones (sorted, directories with '/'). */
int cow_fill_result(const struct cow_set *set, struct zb_result *r);

#endif
