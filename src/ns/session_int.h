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
#include "../core/events.h"
#include "../core/gate.h"
#include "../core/paths.h"
#include "../core/policy.h"
#include "ns.h"
#include "proxy.h"
#include "session.h"

#define MAX_CLIENTS 32
#define MAX_SINKS 64
/* Init's socket, the listening socket, each client with two output relays,
 * and the sinks: all in the supervisor's poll set. Equal today: the assert
 * catches a change to either side. */
_Static_assert(2 + MAX_CLIENTS * 3 + MAX_SINKS <= NS_HOOK_MAX_FDS, // NOLINT(misc-redundant-expression): see above
               "ns.h: NS_HOOK_MAX_FDS too small");

/* A command's stdout or stderr: the daemon's pipe from the command (SRC)
 * to the exec client's pipe (DST). When the command ends, what it wrote is
 * flushed, DST closed (the client sees end of file), and SRC becomes a
 * sink: whatever background processes write later is read and dropped, so
 * they neither block nor die of SIGPIPE. */
#define RELAY_BUF 65536
struct sess_relay {
        int src, dst;
        char *buf;
        size_t off, len; /* pending bytes for DST */
};

struct sess_client {
        int fd;                /* -1: slot free (or the client hung up mid-exec) */
        struct sess_relay io[2];
        bool busy;             /* an exec is in flight */
        bool stopper;          /* asked for the stop: gets SESS_REPLY_FINAL */
        uint32_t exec_id;
        pid_t pid;             /* the command, once started */
        uint64_t sent_ns, exec_ns, deadline_ns, wall_ms;
        uint64_t oom_base, pids_base;
        struct ns_proxy_counts net_base;
        /* The session's violation counts when this exec began: what it
         * added is its own (session_viol.c). */
        uint64_t viol_base[VIOL_MAX];
        size_t viol_base_n;
        uint64_t viol_dropped_base;
        uint64_t refusal_base[NS_PROXY_SNAP_N]; /* the proxy's refusal counts */
        bool timed_out, killed;
        struct gate gate;
        struct zb_policy q;    /* the session's policy with this command */
        char **argv, **env;
};

/* What an entry of the poll set the daemon adds is (map below). */
enum { POLL_INIT, POLL_LISTEN, POLL_CLIENT, POLL_RELAY, POLL_SINK };

/* One session's daemon, in its supervisor's process. */
struct sess_daemon {
        struct zb_policy *p;
        int listen_fd; /* the session's socket, for clients */
        int init_fd;   /* our end of init's socket pair */
        int ready_fd;  /* to the starter, until the sandbox is ready */
        int sink[MAX_SINKS]; /* finished commands' pipes: read and dropped */
        /* Per poll entry: its POLL_* kind, client I, relay K. */
        struct { uint8_t kind, k; uint16_t i; } map[NS_HOOK_MAX_FDS];
        struct sess_client cl[MAX_CLIENTS];
        struct ns_cgroup *cg;
        const struct zb_result *r;
        const struct ns_proxy *proxy; /* network.allow; NULL: none */
        uint64_t idle_ms, last_ns;
        uint64_t ready_ns; /* the session's exec: its violations' first_ms count from here */
        struct zb_events ev; /* audit.events: start, each exec and its end, violations, end */
        uint32_t next_id;
        bool stop, stopped_idle;
        char dir[PATH_MAX], id[SESSION_ID_LEN + 1];
};

/* ---- session_viol.c: one exec's violations out of the session's set */
void sess_viol_begin(struct sess_daemon *s, struct sess_client *c);
/* Into R: what the session's sources recorded since sess_viol_begin (the
 * session's background processes' too), the sources' states, and the
 * limits R reached. START: the exec's start (first_ms counts from it). */
void sess_viol_end(struct sess_daemon *s, struct sess_client *c, struct zb_result *r, uint64_t start);

/* ---- session_dir.c */

struct sess_info {
        char id[SESSION_ID_LEN + 1];
        char name[65];
        pid_t pid;
        unsigned long long start;
        long long created;
        uint64_t idle_timeout_ms;
};

/* A path into BUF; -ENAMETOOLONG (BUF "") if it does not fit. */
ZB_PRINTF(3, 4) int sess_pathf(char *buf, size_t n, const char *fmt, ...);
/* The sessions directory, created 0700 when missing (CREATE); refused
 * unless only this user can reach it; -ENOENT (no message) when missing. */
int sess_runtime_dir(const char *override, bool create, char *buf, size_t n, struct zb_error *err);
/* The start time of PID (0 if gone or a zombie): tells it from a reuse. */
unsigned long long sess_proc_start(pid_t pid);
void sess_dir_remove(const char *dir, const char *id);
/* Each live session's info; dead ones' directories are removed. */
int sess_scan(const char *dir, struct sess_info **out, size_t *n, struct zb_error *err);
/* ID or NAME of a live session into IN. */
int sess_find(const char *dir, const char *key, struct sess_info *in, struct zb_error *err);

/* ---- session_relay.c */
void sess_relay_close_dst(struct sess_relay *rl);
void sess_relay_event(struct sess_relay *rl);
/* The command ended: flush, close the client's end, keep SRC as a sink. */
void sess_relay_finish(struct sess_daemon *s, struct sess_relay *rl);
void sess_sink_event(struct sess_daemon *s, int i);

/* ---- session_daemon.c */
/* A verdict for an exec that went nowhere: into the audit log (GATED: the
 * gate was entered) and to the client. */
void sess_exec_error(struct sess_daemon *s, struct sess_client *c, enum pol_setup_kind kind,
                     const char *msg, bool gated);
/* What the supervisor calls (ns_run) to run session S. */
struct ns_supervise_hooks sess_hooks(struct sess_daemon *s);

#endif
