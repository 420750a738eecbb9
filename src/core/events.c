/* The live event stream (events.h). The lines are audit.c's; this file owns
 * the descriptor and the single write(2) per line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>

#include "events.h"
#include "policy.h"

/* "fd:N": a descriptor the caller opened for us, which must be writable. */
static int open_fd(const char *spec, struct zb_events *ev, struct zb_error *err)
{
        char *end;
        errno = 0;
        long n = strtol(spec + 3, &end, 10);
        if (errno || end == spec + 3 || *end || n < 0 || n > 1 << 20)
                return err_set(err, EINVAL, "--events (audit.events): '%s' is not fd:N", spec);
        int fl = fcntl((int)n, F_GETFL);
        if (fl < 0)
                return err_errno(err, errno, "--events (audit.events): fd %ld is not open", n);
        if ((fl & O_ACCMODE) == O_RDONLY)
                return err_set(err, EBADF, "--events (audit.events): fd %ld is not open for writing", n);
        /* Never into the sandbox (init closes what it inherits anyway). */
        fcntl((int)n, F_SETFD, FD_CLOEXEC);
        ev->fd = (int)n;
        ev->own = false;
        return 0;
}

int events_open(const struct zb_policy *p, struct zb_events *ev, struct zb_error *err)
{
        ev->fd = -1;
        ev->own = false;
        if (!ev->id[0])
                audit_new_id(ev->id);
        const char *spec = p->audit.events;
        if (!spec)
                return 0;
        if (strncmp(spec, "fd:", 3) == 0)
                return open_fd(spec, ev, err);
        int fd = audit_open_outside(p, spec, "--events (audit.events)", err);
        if (fd < 0)
                return fd;
        ev->fd = fd;
        ev->own = true;
        return 0;
}

void events_close(struct zb_events *ev)
{
        if (ev->own && ev->fd >= 0)
                close(ev->fd);
        ev->fd = -1;
}

static void write_line(struct zb_events *ev, char *line)
{
        if (!line)
                return;
        size_t n = strlen(line);
        ssize_t w = write(ev->fd, line, n);
        (void)w; /* lost, never a reason to stop the run (events.h) */
        free(line);
}

void events_emit(struct zb_events *ev, const struct zb_policy *p, const char *event,
                 const struct appr_decision *d, const struct zb_result *r, const char *error)
{
        static const struct appr_decision none = { .verdict = ZB_VERDICT_ALLOW };
        if (ev->fd < 0)
                return;
        write_line(ev, audit_line(p, event, ev->id, d ? d : &none, r, error));
}

void events_violation(void *data, const struct viol *v)
{
        struct zb_events *ev = data;
        if (ev->fd >= 0)
                write_line(ev, audit_viol_line(ev->id, v));
}

void events_watch(struct zb_events *ev, struct zb_result *r)
{
        if (!r || ev->fd < 0)
                return;
        r->viol.on_new = events_violation;
        r->viol.on_new_data = ev;
}
