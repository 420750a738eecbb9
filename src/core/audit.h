/* The audit log (docs/approval.md, "The audit log"): one JSON line per approval
 * decision, written before anything starts, and one per outcome. Each line
 * is a single write(2) to a file opened with O_APPEND, at most
 * ZB_AUDIT_LINE_MAX bytes. The file is opened for each line and closed
 * again, so no sandbox is ever cloned with it open, and it may not lie in a
 * zone the sandbox can write. Without audit.log every call here does nothing. */
#ifndef ZB_AUDIT_H
#define ZB_AUDIT_H

#include "approval.h"
#include "result.h"

/* PIPE_BUF: a line is atomic even when the log is a pipe; on a local
 * filesystem one O_APPEND write is atomic against other appenders anyway. */
#define ZB_AUDIT_LINE_MAX 4096
#define ZB_AUDIT_ID_LEN 16

/* Refuse a log the sandbox could write (inside an rw zone's host directory,
 * by any name; a symlink; a file with other hard links; not a regular file)
 * and make sure it can be opened. Creates it (0600) when missing. */
int audit_check(const struct zb_policy *p, struct zb_error *err);

/* A fresh id that ties a decision line to its result line. */
void audit_new_id(char id[ZB_AUDIT_ID_LEN + 1]);

/* "event": "decision". An error means the line is not on disk: the
 * command must not start. */
int audit_decision(const struct zb_policy *p, const char *id, const struct appr_decision *d,
                      struct zb_error *err);
/* "event": "result": R's verdict, or (R NULL) ERROR, why nothing ran. */
int audit_result(const struct zb_policy *p, const char *id, const struct appr_decision *d,
                    const struct zb_result *r, const char *error, struct zb_error *err);

/* The log opened for appending, checked as audit_check does (O_CLOEXEC):
 * for the network proxy, which lives outside the sandbox and writes one
 * line per connection. */
int audit_log_open(const struct zb_policy *p, struct zb_error *err);

/* "event": "net" (a connection decided: allow, deny or error) or
 * "net_close" (an allowed one ended, with its byte counts). */
struct audit_net {
        const char *event;
        pid_t pid;      /* the supervisor: the "pid" of the run's decision line */
        uint64_t conn;  /* numbered per run from 1 */
        const char *method, *host; /* NULL: the request could not be read */
        unsigned port;
        const char *decision; /* "allow", "deny" (403) or "error" */
        int status;           /* the proxy's HTTP status on deny/error */
        const char *rule, *reason, *address;
        bool closed;
        uint64_t bytes_up, bytes_down; /* sandbox → server, server → sandbox */
        double duration_ms;
};
char *audit_net_line(const struct audit_net *e);
/* One write(2) of the line to FD. */
int audit_net_append(int fd, bool fsync, const struct audit_net *e);

/* PATH opened for appending (O_CLOEXEC), refused as audit.log is (a
 * symlink, other hard links, not a regular file, inside an rw zone); LABEL
 * names the setting in messages. */
int audit_open_outside(const struct zb_policy *p, const char *path, const char *label,
                       struct zb_error *err);
/* "event": "violation": one entry of the run ID (the event stream). */
char *audit_viol_line(const char *id, const struct viol *v);

/* One line, '\n' included, at most ZB_AUDIT_LINE_MAX bytes (malloc'd). */
char *audit_line(const struct zb_policy *p, const char *event, const char *id,
                    const struct appr_decision *d, const struct zb_result *r, const char *error);

#endif
