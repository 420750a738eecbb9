/* Sessions' private interface, between session_dir.c (the runtime
 * directory), session_start.c (start and the daemon's main),
 * session_daemon.c (the daemon's loop), session_relay.c (output relays) and
 * session_client.c (exec, stop). Nothing here is for other modules. */
#ifndef ZB_NS_SESSION_INT_H
#define ZB_NS_SESSION_INT_H

#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "../core/audit.h"
#include "../core/paths.h"
#include "../core/policy.h"
#include "ns.h"
#include "proxy.h"
#include "session.h"

#define ID_LEN SESSION_ID_LEN
#define MAX_CLIENTS 32
#define MAX_SINKS 64
/* Init's socket, the listening socket, each client with two output relays,
 * and the sinks: all in the supervisor's poll set. */
_Static_assert(2 + MAX_CLIENTS * 3 + MAX_SINKS <= NS_HOOK_MAX_FDS, "ns.h: NS_HOOK_MAX_FDS too small");

/* A command's stdout or stderr: the daemon's pipe from the command (SRC)
 * to the exec client's pipe (DST). When the command ends, what it wrote is
 * flushed, DST closed (the client sees end of file), and SRC becomes a
 * sink: whatever background processes write later is read and dropped, so
 * they neither block nor die of SIGPIPE. */
#define RELAY_BUF 65536
struct relay {
        int src, dst;
        char *buf;
        size_t off, len; /* pending bytes for DST */
};

struct client {
        int fd;                /* -1: slot free (or the client hung up mid-exec) */
        struct relay io[2];
        bool busy;             /* an exec is in flight */
        bool stopper;          /* asked for the stop: gets R_FINAL */
        uint32_t exec_id;
        pid_t pid;             /* the command, once started */
        uint64_t sent_ns, exec_ns, deadline_ns, wall_ms;
        uint64_t oom_base;
        struct ns_proxy_counts net_base;
        bool timed_out, killed;
        struct zb_gate gate;
        struct zb_policy q;    /* the session's policy with this command */
        char **argv, **env;
};

enum { M_CTL, M_LISTEN, M_CLIENT, M_RELAY, M_SINK };

struct ns_session {
        struct zb_policy *p;
        int listen_fd, ctl_fd, ready_fd;
        int sink[MAX_SINKS];
        struct { uint8_t kind, k; uint16_t i; } map[NS_HOOK_MAX_FDS];
        struct client cl[MAX_CLIENTS];
        struct ns_cgroup *cg;
        const struct zb_result *r;
        const struct ns_proxy *proxy; /* network.allow; NULL: none */
        uint64_t idle_ms, last_ns;
        uint32_t next_id;
        bool stop, stopped_idle;
        char dir[PATH_MAX], id[ID_LEN + 1];
};

/* ---- session_dir.c */

struct info {
        char id[ID_LEN + 1];
        char name[65];
        pid_t pid;
        unsigned long long start;
        long long created;
        uint64_t idle_timeout_ms;
};

/* A path into BUF; -ENAMETOOLONG (BUF "") if it does not fit. */
ZB_PRINTF(3, 4) int pathf(char *buf, size_t n, const char *fmt, ...);
/* The sessions directory, created 0700 when missing (CREATE); refused
 * unless only this user can reach it; -ENOENT (no message) when missing. */
int rt_dir(const char *override, bool create, char *buf, size_t n, struct zb_error *err);
/* The start time of PID (0 if gone or a zombie): tells it from a reuse. */
unsigned long long proc_start(pid_t pid);
void session_dir_remove(const char *dir, const char *id);
/* Each live session's info; dead ones' directories are removed. */
int sessions_scan(const char *dir, struct info **out, size_t *n, struct zb_error *err);
/* ID or NAME of a live session into IN. */
int session_find(const char *dir, const char *key, struct info *in, struct zb_error *err);

/* ---- session_relay.c */
void relay_close_dst(struct relay *rl);
void relay_event(struct relay *rl);
/* The command ended: flush, close the client's end, keep SRC as a sink. */
void relay_finish(struct ns_session *s, struct relay *rl);
void sink_event(struct ns_session *s, int i);

/* ---- session_daemon.c */
/* A verdict for an exec that went nowhere: into the audit log (GATED: the
 * gate was entered) and to the client. */
void exec_error(struct ns_session *s, struct client *c, enum zb_setup_kind kind, const char *msg,
                bool gated);
/* What the supervisor calls (ns_run) to run session S. */
struct ns_supervise_hooks session_hooks(struct ns_session *s);

#endif
