/* Helpers shared by the whole tree. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <time.h>

#include "util.h"

static int error_vset(struct zb_error *err, int code, bool with_errno, const char *fmt, va_list ap)
        ZB_PRINTF(4, 0);
static int error_vset(struct zb_error *err, int code, bool with_errno, const char *fmt, va_list ap)
{
        if (err) {
                int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
                if (with_errno && n >= 0 && (size_t)n < sizeof(err->message))
                        snprintf(err->message + n, sizeof(err->message) - (size_t)n, ": %s",
                                 strerror(code));
                /* One line, as the API promises: a newline or an escape
                 * sequence in a user's value (a YAML key, a flag) must not
                 * forge more lines in what the CLI prints. */
                for (char *c = err->message; *c; c++)
                        if ((unsigned char)*c < 0x20 || *c == 0x7f)
                                *c = '?';
                err->code = -code;
        }
        return -code;
}

int zb_error_set(struct zb_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, false, fmt, ap);
        va_end(ap);
        return r;
}

int zb_error_errno(struct zb_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

char *zb_strdup(const char *s)
{
        return s ? strdup(s) : NULL;
}

char *zb_asprintf(const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}

int zb_buf_append(struct zb_buf *b, const char *data, size_t n)
{
        size_t room = b->limit > b->len ? b->limit - b->len : 0;
        size_t take = n < room ? n : room;

        b->dropped += n - take;
        if (take == 0)
                return 0;
        if (b->len + take + 1 > b->cap_alloc) {
                size_t want = b->cap_alloc ? b->cap_alloc : 4096;
                while (want < b->len + take + 1)
                        want *= 2;
                if (want > b->limit + 1)
                        want = b->limit + 1;
                char *d = realloc(b->data, want);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap_alloc = want;
        }
        memcpy(b->data + b->len, data, take);
        b->len += take;
        b->data[b->len] = '\0';
        return 0;
}

void zb_buf_free(struct zb_buf *b)
{
        free(b->data);
        memset(b, 0, sizeof(*b));
}

bool zb_buf_capture(struct zb_buf *out, const struct zb_buf *other, const char *data, size_t n,
                    uint64_t limit)
{
        uint64_t used = out->len + other->len;
        uint64_t room = limit > used ? limit - used : 0;
        size_t take = (uint64_t)n < room ? n : (size_t)room;
        out->limit = out->len + take;
        if (zb_buf_append(out, data, take) < 0)
                take = 0;
        out->dropped += (uint64_t)(n - take);
        return take < n;
}

int zb_write_all(int fd, const void *data, size_t n)
{
        const char *p = data;
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static const int forwarded_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

void zb_block_forwarded(void)
{
        sigset_t set;
        sigemptyset(&set);
        for (size_t i = 0; i < sizeof(forwarded_sigs) / sizeof(forwarded_sigs[0]); i++)
                sigaddset(&set, forwarded_sigs[i]);
        sigprocmask(SIG_BLOCK, &set, NULL);
}

int zb_forward_signalfd(sigset_t *set)
{
        const int *sigs = forwarded_sigs;
        sigset_t cur, want;
        sigemptyset(&want);
        if (set)
                sigemptyset(set);
        if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0)
                return -1;
        bool any = false;
        for (size_t i = 0; i < sizeof(forwarded_sigs) / sizeof(forwarded_sigs[0]); i++)
                if (sigismember(&cur, sigs[i]) == 1) {
                        sigaddset(&want, sigs[i]);
                        any = true;
                }
        if (set)
                *set = want;
        return any ? signalfd(-1, &want, SFD_CLOEXEC | SFD_NONBLOCK) : -1;
}

uint64_t zb_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
