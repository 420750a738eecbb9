/* Where zonebox keeps its state: pure path computations (environment, uid,
 * strings), used by the policy checks in core/ and by the layers that make
 * the directories. */
#ifndef ZB_CORE_PATHS_H
#define ZB_CORE_PATHS_H

#include <sys/types.h>

#include "util.h"

#define ZB_COW_ROOT_STORE "/run/zonebox/cow"

/* The default change-set store for EUID: root's under /run, else under
 * XDG_RUNTIME (if not NULL: the caller checked it is the user's) or /tmp. */
int zb_cow_store_default(uid_t euid, const char *xdg_runtime, char *buf, size_t n);
/* The store a run or commit would use: OVERRIDE (cow_dir), else
 * $ZONEBOX_COW_DIR, else the default; policy.c keeps zones off it. ERR may
 * be NULL. */
int zb_cow_store_path(const char *override, char *buf, size_t n, struct zb_error *err);

#endif
