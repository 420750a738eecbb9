/* Output caps in every mode. Captured output (--json) is kept in the
 * result's buffers; pass-through output, when a cap was asked for, goes
 * through a pipe and the supervisor copies it to its own stdout or stderr.
 * Either way stdout and stderr share one cap (limits.output), what does not
 * fit is counted as dropped, and the stream that first went past the cap is
 * remembered (Piston's OL/EL). Writing to a reader that went away never
 * kills the caller with SIGPIPE: the stream is reported closed instead. */
#define _GNU_SOURCE
#include <signal.h>
#include <time.h>

#include "policy.h"

bool out_piped(const struct zb_policy *p)
{
        return p->capture || p->limits.output_set;
}

/* util_write_all with SIGPIPE held back (and a SIGPIPE it raised consumed),
 * so that a closed reader is an EPIPE here and not the caller's death. */
static int write_quiet(int fd, const char *data, size_t n)
{
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        int r = util_write_all(fd, data, n);
        int e = errno;
        if (r < 0 && e == EPIPE && !sigismember(&old, SIGPIPE)) {
                struct timespec zero = { 0, 0 };
                sigtimedwait(&pipe_set, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = e;
        return r;
}

int out_take(struct outbuf *out, const struct outbuf *other, int pass_fd, const char *data,
                   size_t n, uint64_t limit)
{
        int ret = 0;
        bool was_over = out->dropped || other->dropped;

        if (pass_fd < 0) {
                if (outbuf_capture(out, other, data, n, limit))
                        ret |= ZB_OUTPUT_DROPPED;
        } else {
                uint64_t used = out->passed + other->passed;
                uint64_t room = limit > used ? limit - used : 0;
                size_t take = (uint64_t)n < room ? n : (size_t)room;
                if (take && write_quiet(pass_fd, data, take) < 0)
                        ret |= ZB_OUTPUT_CLOSED;
                out->passed += take;
                out->dropped += (uint64_t)(n - take);
                if (take < n)
                        ret |= ZB_OUTPUT_DROPPED;
        }
        if ((ret & ZB_OUTPUT_DROPPED) && !was_over)
                out->over_first = true;
        return ret;
}
