/* Limits for an ordinary user with no setup: on a pure cgroup v2 host run
 * by systemd, a cgroup zonebox may create children in is one systemd
 * delegates. When our own cgroup is not usable (a login session's scope is
 * not delegated; a service's cgroup holds other processes), ask the user's
 * systemd manager (root: the system manager) for a transient scope
 * "zonebox-<pid>-<start time>.scope" with Delegate=yes holding this process,
 * as Podman's rootless mode does. The scope ends when its last process
 * does (systemd removes it, the delegated subtree included); a scope whose
 * supervisor was killed is killed by the next run and by `zonebox gc`. */
#ifndef ZB_NS_SYSTEMD_H
#define ZB_NS_SYSTEMD_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/util.h"

/* Whether the systemd path applies here; when not, WHY says why (one
 * clause, e.g. "systemd is not running"). */
bool ns_systemd_available(char *why, size_t size);
/* Move this process into a new delegated transient scope (after killing
 * stale zonebox scopes beside it). */
int ns_systemd_scope(struct zb_error *err);
/* Kill the stale zonebox scopes of the manager's default slice (systemd
 * then removes them); counts them into REMOVED. */
void ns_systemd_gc(unsigned *removed);
/* Whether we already run in a zonebox scope (nothing more to ask). */
bool ns_systemd_in_scope(void);

#endif
