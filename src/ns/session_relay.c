/* A session command's output on its way to the exec client (the daemon's
 * side, session_daemon.c). Each relay moves what the command writes to a
 * pipe of ours into the client's pipe; when the command ends its output is
 * flushed and the client's end closed, and our pipe becomes a sink that
 * reads and drops whatever background processes still write, so they
 * neither block nor die of SIGPIPE. Writes never block the daemon for long:
 * a client that does not read loses its output, not the session. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "session_int.h"

void sess_relay_close_dst(struct sess_relay *rl)
{
        if (rl->dst >= 0)
                close(rl->dst);
        rl->dst = -1;
        rl->off = rl->len = 0;
}

/* Write what is pending; WAIT_MS > 0: wait for room that long. */
static void relay_flush(struct sess_relay *rl, int wait_ms)
{
        while (rl->len && rl->dst >= 0) {
                ssize_t w = write(rl->dst, rl->buf + rl->off, rl->len);
                if (w > 0) {
                        rl->off += (size_t)w;
                        rl->len -= (size_t)w;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN && wait_ms > 0) {
                        struct pollfd pf = { .fd = rl->dst, .events = POLLOUT };
                        if (poll(&pf, 1, wait_ms) > 0)
                                continue;
                }
                if (w < 0 && errno == EAGAIN && wait_ms <= 0)
                        return;
                sess_relay_close_dst(rl); /* the client is gone, or stuck: its output is dropped */
        }
        if (!rl->len)
                rl->off = 0;
}

/* Move what SRC has now; 0 at its end of file. */
static int relay_pull(struct sess_relay *rl, int wait_ms)
{
        if (rl->len)
                return 1;
        ssize_t r = read(rl->src, rl->buf, RELAY_BUF);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (r <= 0)
                return 0;
        if (rl->dst >= 0) {
                rl->off = 0;
                rl->len = (size_t)r;
                relay_flush(rl, wait_ms);
        }
        return 2;
}

void sess_relay_event(struct sess_relay *rl)
{
        if (rl->len) {
                relay_flush(rl, 0);
                return;
        }
        if (relay_pull(rl, 0) == 0) {
                close(rl->src);
                rl->src = -1;
                sess_relay_close_dst(rl);
        }
}

/* The command ended: everything it wrote is in SRC now. */
void sess_relay_finish(struct sess_daemon *s, struct sess_relay *rl)
{
        relay_flush(rl, 2000);
        int r = 2;
        while (rl->src >= 0 && (r = relay_pull(rl, 2000)) == 2)
                ;
        sess_relay_close_dst(rl);
        if (rl->src >= 0) {
                int i = 0;
                while (i < MAX_SINKS && s->sink[i] >= 0)
                        i++;
                if (r != 0 && i < MAX_SINKS)
                        s->sink[i] = rl->src;
                else
                        close(rl->src); /* no room: later writers get EPIPE */
                rl->src = -1;
        }
        free(rl->buf);
        rl->buf = NULL;
}

void sess_sink_event(struct sess_daemon *s, int i)
{
        char buf[65536];
        ssize_t r = read(s->sink[i], buf, sizeof(buf));
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                close(s->sink[i]);
                s->sink[i] = -1;
        }
}
