/* Where zonebox keeps its state (paths.c): pure path computations from the
 * environment, the uid and strings. Nothing is created or checked here; the
 * code that creates each directory checks it, and policy.c keeps every zone
 * off all of them. */
#ifndef ZB_CORE_PATHS_H
#define ZB_CORE_PATHS_H

#include <stddef.h>
#include <sys/types.h>

#include "util.h"

#define ZB_COW_ROOT_STORE "/run/zonebox/cow"

/* A session's id: 12 lowercase hex digits (its directory's name). */
#define SESSION_ID_LEN 12

/* The default change-set store for EUID: root's under /run, else under
 * XDG_RUNTIME (if not NULL: the caller checked it is the user's) or /tmp. */
int cow_store_default(uid_t euid, const char *xdg_runtime, char *buf, size_t n);
/* The store a run or commit would use: OVERRIDE (cow_dir), else
 * $ZONEBOX_COW_DIR, else the default; policy.c keeps zones off it. ERR may
 * be NULL. */
int cow_store_path(const char *override, char *buf, size_t n, struct zb_error *err);

/* The sessions directory a client or start would use (OVERRIDE, else
 * $ZONEBOX_RUNTIME_DIR, else the default); -ENAMETOOLONG when DIR/ID/sock
 * would not fit a unix socket's path. */
int sess_runtime_path(const char *override, char *buf, size_t n);

#endif
