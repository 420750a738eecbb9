/* Helpers shared by the whole tree. */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

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
                 * sequence in a user's value (a YAML key, a flag) or in a
                 * name the sandbox chose must not forge more lines, or hide
                 * them, in what the CLI prints. */
                char raw[sizeof(err->message)];
                memcpy(raw, err->message, sizeof(raw));
                util_escape_text_to(raw, err->message, sizeof(err->message));
                err->code = -code;
        }
        return -code;
}

int err_set(struct zb_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, false, fmt, ap);
        va_end(ap);
        return r;
}

int err_errno(struct zb_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

char *util_strdup(const char *s)
{
        return s ? strdup(s) : NULL;
}

char *util_asprintf(const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}

int outbuf_append(struct outbuf *b, const char *data, size_t n)
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

void outbuf_free(struct outbuf *b)
{
        free(b->data);
        memset(b, 0, sizeof(*b));
}

bool outbuf_capture(struct outbuf *out, const struct outbuf *other, const char *data, size_t n,
                    uint64_t limit)
{
        uint64_t used = out->len + other->len;
        uint64_t room = limit > used ? limit - used : 0;
        size_t take = (uint64_t)n < room ? n : (size_t)room;
        out->limit = out->len + take;
        if (outbuf_append(out, data, take) < 0)
                take = 0;
        out->dropped += (uint64_t)(n - take);
        return take < n;
}

int util_write_all(int fd, const void *data, size_t n)
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

void util_block_forwarded(void)
{
        sigset_t set;
        sigemptyset(&set);
        for (size_t i = 0; i < sizeof(forwarded_sigs) / sizeof(forwarded_sigs[0]); i++)
                sigaddset(&set, forwarded_sigs[i]);
        sigprocmask(SIG_BLOCK, &set, NULL);
}

void util_worker_fresh(unsigned first)
{
        sigset_t none;
        close_range(first, ~0u, 0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
}

int util_forward_signalfd(sigset_t *set)
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

uint64_t util_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Length of the UTF-8 sequence at S (of at most N bytes) and its code
 * point; 0 when it is not valid UTF-8 (overlong, surrogate, cut short). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
        size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;
        if (!len || len > n || s[0] > 0xf4)
                return 0;
        uint32_t c = s[0] & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
                return 0;
        *cp = c;
        return len;
}

size_t util_escape_text_to(const char *in, char *out, size_t size)
{
        const unsigned char *s = (const unsigned char *)in;
        size_t n = strlen(in), o = 0;
        for (size_t i = 0; i < n;) {
                char tmp[8];
                size_t k = 1, len = 0;
                uint32_t cp = 0;
                if (s[i] >= 0x80)
                        len = utf8_seq(s + i, n - i, &cp);
                if (s[i] == '\\')
                        k = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
                else if (s[i] < 0x20 || s[i] == 0x7f || (s[i] >= 0x80 && !len))
                        k = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
                else if (len && cp < 0xa0) /* C1 controls: some terminals obey them */
                        k = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)cp);
                else {
                        k = len ? len : 1;
                        memcpy(tmp, s + i, k);
                }
                if (o + k >= size)
                        break;
                memcpy(out + o, tmp, k);
                o += k;
                i += len ? len : 1;
        }
        if (size)
                out[o < size ? o : size - 1] = '\0';
        return o;
}

char *util_escape_text(const char *s)
{
        size_t size = strlen(s) * 6 + 1; /* \u00NN for two bytes, \xNN for one */
        char *out = malloc(size);
        if (out)
                util_escape_text_to(s, out, size);
        return out;
}

int util_helper_path(const char *name, char *out, size_t size)
{
        static const char *const rel[] = { "", "/../libexec/zonebox" };
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        char *slash = NULL;
        if (n > 0) {
                exe[n] = '\0';
                slash = strrchr(exe, '/');
        }
        if (slash) {
                *slash = '\0';
                for (size_t i = 0; i < ARRAY_SIZE(rel); i++)
                        if (snprintf(out, size, "%s%s/%s", exe, rel[i], name) < (int)size && access(out, X_OK) == 0)
                                return 0;
        }
        if (snprintf(out, size, "%s/%s", ZB_LIBEXECDIR, name) < (int)size && access(out, X_OK) == 0)
                return 0;
        return -ENOENT;
}
