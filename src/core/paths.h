/* Where zonebox keeps its state (paths.c): computed, not created or
 * checked; the code that creates each directory checks it, and policy.c
 * keeps every zone off all of them. */
#ifndef ZB_CORE_PATHS_H
#define ZB_CORE_PATHS_H

#include <stddef.h>

/* A session's id: 12 lowercase hex digits (its directory's name). */
#define SESSION_ID_LEN 12

/* The sessions directory a client or start would use (OVERRIDE, else
 * $ZONEBOX_RUNTIME_DIR, else the default); -ENAMETOOLONG when DIR/ID/sock
 * would not fit a unix socket's path. */
int zb_session_runtime_path(const char *override, char *buf, size_t n);

#endif
