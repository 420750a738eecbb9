/* The live event stream (--events FILE|fd:N, audit.events; docs/violations.md):
 * one JSON line per event as it happens, in the audit log's line format —
 * "start" (the policy: command, zones, network, backend, the decision),
 * "violation" (each new distinct entry, as the set's on_new hook), "exec"
 * (each command a session runs), "end" (the verdict). Every line is one
 * write(2) of at most ZB_AUDIT_LINE_MAX bytes to an O_APPEND file (or the
 * caller's fd), so lines never interleave with another writer's. The file
 * is opened, and refused like audit.log, before anything starts; a line
 * that cannot be written is lost, the run goes on (monitoring never decides
 * whether a command runs). */
#ifndef ZB_EVENTS_H
#define ZB_EVENTS_H

#include "audit.h"

struct zb_events {
        int fd;    /* -1: no stream */
        bool own;  /* opened here (a path), closed by events_close */
        char id[ZB_AUDIT_ID_LEN + 1]; /* the run's id, as in its audit lines */
};

/* Open P's audit.events (a path or "fd:N"); EV->fd -1 when there is none.
 * A bad path or fd: a negative errno and ERR naming the setting. */
int events_open(const struct zb_policy *p, struct zb_events *ev, struct zb_error *err);
void events_close(struct zb_events *ev);
/* "start", "exec", "end" (R or ERROR) lines; no-ops without a stream. */
void events_emit(struct zb_events *ev, const struct zb_policy *p, const char *event,
                 const struct appr_decision *d, const struct zb_result *r, const char *error);
/* A viol_new_fn: DATA is the struct zb_events. */
void events_violation(void *data, const struct viol *v);
/* Have R's violation set stream its new entries to EV (nothing without a stream). */
void events_watch(struct zb_events *ev, struct zb_result *r);

#endif
