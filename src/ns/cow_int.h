/* Copy-on-write zones: what the pieces of the cow module share (private to
 * src/ns/cow*.c; the rest of the tree uses cow.h).
 *
 *   cow.c          one run: the store dirs before it, the overlay in the
 *                  child, reading the changes back when it ends
 *   cow_set.c      change sets as data: names, manifest JSON, result lists
 *   cow_scan.c     reading the upper dir back: what changed
 *   cow_digest.c   digests of the upper dir and of host trees
 *   cow_store.c    the store on disk: opening, gc, run dirs, manifests
 *   cow_commit.c   commit: conflicts, staging, placing
 *   cow_commands.c zb_cow_list, zb_cow_diff, zb_cow_commit, zb_cow_discard
 *   cow_fs.c       openat2, upper-dir opening, bounded rm -rf
 * Calls go one way: cow.c and cow_commands.c call the others; cow_commit.c
 * calls cow_digest.c and cow_set.c; cow_scan.c and cow_store.c call
 * cow_set.c; every file uses cow_fs.c's helpers. Nothing calls back up. */
#ifndef ZB_NS_COW_INT_H
#define ZB_NS_COW_INT_H

#include <json-c/json.h>
#include <limits.h>
#include <sys/stat.h>

#include "../core/fs.h"
#include "../core/paths.h"
#include "cow.h"
#include "sys.h"

#define COW_TEMP_PREFIX FS_TEMP_PREFIX /* commit's temporaries in the host dir */
#define COPY_CHUNK_BYTES 65536
/* A digest's text: "f:", "d:", "l:" or "t:", 64 hex digits (SHA-256), NUL. */
#define COW_DIGEST_MAX (2 + 64 + 1)

/* cow_set.c */
void cow_stat_fill(struct cow_stat *o, const struct stat *st);
size_t cow_set_count(const struct cow_set *set);
/* The fields a change set is known by: in its manifest, in diff and list. */
json_object *cow_set_header(const struct cow_set *set);
/* O as one line of JSON text (malloc'd; NULL on ENOMEM); O is put. */
char *cow_json_text(json_object *o);

/* cow_scan.c: zone Z's changes, its upper dir UPPER read against HOST. */
int cow_scan_zone(struct cow_zone *z, int upper, int host, int64_t start_ns, char *msg, size_t n);

/* cow_digest.c */
void cow_digest_bytes(const void *data, size_t n, char kind, char out[COW_DIGEST_MAX]);
int cow_digest_names(int fd, char **names, size_t n, char out[COW_DIGEST_MAX]);
int cow_digest_copy(int in, int out, char digest[COW_DIGEST_MAX]);
int cow_zone_digests(struct cow_zone *z, int upper, char *msg, size_t n);
int cow_host_tree_digest(int root, const char *path, int64_t since_ns, bool *newer, char *out);
int cow_zone_host_trees(struct cow_zone *z, int host, int64_t start_ns);

/* cow_store.c */
int cow_store_open(const char *override, bool create, char *path, size_t n, int *out, struct zb_error *err);
void cow_store_gc(int store_fd);
int cow_make_run_dir(struct ns_cow *cow, struct zb_error *err);
int cow_write_manifest(int run_fd, const struct cow_set *set);
int cow_set_open(int store_fd, const char *store, const char *id, bool lock, int *run_fd,
                 struct cow_set *set, struct zb_error *err);

/* cow_commit.c */
/* Apply SET (in RUN_FD, held locked). -ESTALE with CONFLICTS filled when
 * the host changed; nothing is applied then. */
int cow_apply_set(struct cow_set *set, int run_fd, json_object *conflicts, struct zb_error *err);
/* What commit would refuse now, into CONFLICTS (diff shows it). */
void cow_find_conflicts(struct cow_set *set, json_object *conflicts);

#endif
