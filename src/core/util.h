/* Small helpers shared by the whole tree: cleanup attributes, error filling,
 * checked string building. No policy or sandbox logic here. */
#ifndef ZB_UTIL_H
#define ZB_UTIL_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zonebox.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ZB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void freep(void *p) { free(*(void **)p); }
struct __dirstream;
int closedir(struct __dirstream *);
static inline void closedirp(struct __dirstream **d)
{
        if (*d)
                closedir(*d);
}

/* Fill err with a message and return -code (code is a positive errno). */
/* S for a terminal or a log line a person reads: C0 and C1 control
 * characters, DEL and bytes that are not valid UTF-8 as \xNN (\u00NN for
 * C1), a backslash as \\, so that text chosen inside a sandbox (a file
 * name, say) cannot move the cursor, hide lines or fake them. _to writes at
 * most SIZE bytes (whole escapes only) and returns the length; util_escape_text
 * returns a malloc'd copy (NULL on ENOMEM). */
size_t util_escape_text_to(const char *in, char *out, size_t size);
char *util_escape_text(const char *s);
int err_set(struct zb_error *err, int code, const char *fmt, ...) ZB_PRINTF(3, 4);
/* Same, and append ": strerror(code)". */
int err_errno(struct zb_error *err, int code, const char *fmt, ...) ZB_PRINTF(3, 4);

/* strdup that returns NULL only on allocation failure of a non-NULL input. */
char *util_strdup(const char *s);
/* asprintf wrapper returning NULL on failure. */
char *util_asprintf(const char *fmt, ...) ZB_PRINTF(1, 2);

/* A growable byte buffer with a hard cap: bytes past the cap are counted but
 * dropped. */
struct outbuf {
        char *data;
        size_t len, cap_alloc, limit;
        uint64_t dropped;
        uint64_t passed;  /* pass-through: bytes copied to the caller's stream */
        bool over_first;  /* this stream first went past the output cap */
};
int outbuf_append(struct outbuf *b, const char *data, size_t n);
void outbuf_free(struct outbuf *b);

/* Append N bytes of DATA to OUT (of the pair OUT, OTHER), keeping the pair
 * together within LIMIT bytes; what does not fit is counted as dropped.
 * True when something was dropped. */
bool outbuf_capture(struct outbuf *out, const struct outbuf *other, const char *data, size_t n,
                    uint64_t limit);

/* Monotonic clock in nanoseconds. */
uint64_t util_now_ns(void);
/* A helper program zonebox starts (zonebox-systemd, zonebox-serve): beside
 * our own binary (the build tree), in ../libexec/zonebox relative to it (any
 * `make install` PREFIX, the Debian package), else in ZB_LIBEXECDIR.
 * -ENOENT when it is in none of them. */
#ifndef ZB_LIBEXECDIR
#define ZB_LIBEXECDIR "/usr/local/libexec/zonebox"
#endif
int util_helper_path(const char *name, char *out, size_t size);

/* write(2) until all of N is written (EINTR retried); -1 on error. */
int util_write_all(int fd, const void *data, size_t n);

/* The termination signals a caller blocks to have them forwarded (SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT): those of them blocked now go into *SET (if
 * not NULL); a non-blocking close-on-exec signalfd for them, or -1 when
 * none is blocked. */
int util_forward_signalfd(sigset_t *set);
/* Block those signals in the calling thread, to have them forwarded. */
void util_block_forwarded(void);
/* In a forked worker before it runs: every fd from `first` up closed, no
 * signal blocked, SIGPIPE back to its default. */
void util_worker_fresh(unsigned first);

#endif
