/* Filesystem helpers that never follow a symlink (fs.c): openat2 walks
 * beneath a directory, sorted directory listings, opening a directory its
 * owner locked, rm -rf that stays on one filesystem. Used by cow zones
 * (ns/cow_*.c), the image store (image/) and zonebox serve's job dirs. */
#ifndef ZB_FS_H
#define ZB_FS_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The prefix of temporaries these helpers (and cow's commit) leave beside
 * what they work on, until they finish. */
#define FS_TEMP_PREFIX ".zonebox-"

int64_t fs_ts_ns(const struct timespec *ts);
/* PATH below DIRFD, no symlink anywhere, no other filesystem. */
int fs_open_beneath(int dirfd, const char *path, int flags);
int fs_cmp_str(const void *a, const void *b);
void fs_names_free(char **v, size_t n);
/* The names in directory FD, sorted, without . and ..; NULL with errno. */
char **fs_dir_names(int fd, size_t *n_out);
int fs_chmod_nofollow(int dirfd, const char *name, mode_t mode);
/* Open NAME of an upper dir (a cow zone's); an entry its owner cannot read is lent the
 * owner's bits (for a file only for the open). */
int fs_open_upper(int dirfd, const char *name, int flags);
/* A directory of the upper dir, to list and walk; RESTORE is the mode to
 * give back with fs_restore_mode when its owner's bits were lent. */
int fs_open_upper_dir(int dirfd, const char *name, mode_t *restore);
void fs_restore_mode(int fd, mode_t restore);
int fs_open_upper_path(int root, const char *dir);
/* rm -rf NAME in DIRFD, never through a symlink, staying on DEV (0: any). */
int fs_remove_tree(int dirfd, const char *name, dev_t dev);

#endif
