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
 * session's namespaces, mounts and cgroup. */
#ifndef ZB_NS_SESSION_H
#define ZB_NS_SESSION_H

#include <poll.h>

#include "../core/policy.h"
#include "../core/result.h"

struct ns_cgroup;
struct ns_session;

/* Init's socket, the listening socket, 32 clients with two output relays
 * each, and 64 sinks (session.c). */
#define NS_SESSION_MAX_FDS (2 + 32 * 3 + 64)

/* supervise.c: the run, or (SESS not NULL) a session's whole life. */
int ns_run(const struct zb_policy *p, struct zb_result *r, struct ns_session *sess,
           struct zb_error *err);

/* Called by supervise.c. attach: the supervisor's end of init's socket (owned
 * by the session from here on); close_in_child: in the cloned child, before
 * it becomes init; ready: init waits for commands; fds/handle: the session's
 * sockets in the supervisor's poll set, handle returns true when the session
 * is to stop; deadline/tick: the next time limit (0: none), and its expiry. */
struct ns_proxy;
void ns_session_attach(struct ns_session *s, int ctl_fd, const struct ns_proxy *proxy);
void ns_session_close_in_child(struct ns_session *s);
void ns_session_ready(struct ns_session *s, struct ns_cgroup *cg, const struct zb_result *r);
int ns_session_fds(struct ns_session *s, struct pollfd *pfd, int max);
bool ns_session_handle(struct ns_session *s, const struct pollfd *pfd, int n, uint64_t now);
uint64_t ns_session_deadline(const struct ns_session *s);
bool ns_session_tick(struct ns_session *s, uint64_t now);

/* The sessions directory a client or start would use (OVERRIDE, else
 * $ZONEBOX_RUNTIME_DIR, else the default), not checked or created;
 * policy.c keeps zones off it. */
int sess_runtime_path(const char *override, char *buf, size_t n);

/* Pure helpers, unit-tested. */
bool sess_id_valid(const char *id);   /* 12 lowercase hex digits */
bool sess_name_valid(const char *name); /* [A-Za-z0-9_.-], 1..64, not all hex-12 */

#endif
