/* Sessions (docs/sessions.md): a sandbox that stays up between commands.
 *
 * `zonebox session start` forks a supervisor (the session's daemon) that
 * builds the sandbox exactly as a run does (supervise.c, ns_run) except that
 * init runs no command: it waits for EXEC records on a socket pair
 * (init.c, ns_init_serve). The daemon listens on a unix socket in the
 * session's runtime directory; each `zonebox session exec` connects, passes
 * its command and its stdin and two pipes, and gets one result back. The
 * daemon decides (approval, audit) and forwards; init forks the command, which
 * takes the same steps as a run's command (rlimits, Landlock, seccomp) in the
 * session's namespaces, mounts and cgroup.
 *
 * The files: session_dir.c (the runtime directory, finding and listing
 * sessions), session_start.c (start, the daemon's main), session_daemon.c
 * (the daemon's side of the supervisor loop: struct ns_supervise_hooks),
 * session_relay.c (command output to the client), session_client.c (exec,
 * stop), wire.c (the records all three parties send). Calls go
 * start -> supervise.c (ns_run) -> the hooks; no file of ns/ but these
 * knows a session's inside. */
#ifndef ZB_NS_SESSION_H
#define ZB_NS_SESSION_H

#include <stdbool.h>

/* Pure helpers, unit-tested. */
bool sess_id_valid(const char *id);   /* 12 lowercase hex digits */
bool sess_name_valid(const char *name); /* [A-Za-z0-9_.-], 1..64, not all hex-12 */

#endif
