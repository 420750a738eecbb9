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
 * most SIZE bytes (whole escapes only) and returns the length; zb_escape_text
 * returns a malloc'd copy (NULL on ENOMEM). */
size_t zb_escape_text_to(const char *in, char *out, size_t size);
char *zb_escape_text(const char *s);
int zb_error_set(struct zb_error *err, int code, const char *fmt, ...) ZB_PRINTF(3, 4);
/* Same, and append ": strerror(code)". */
int zb_error_errno(struct zb_error *err, int code, const char *fmt, ...) ZB_PRINTF(3, 4);

/* strdup that returns NULL only on allocation failure of a non-NULL input. */
char *zb_strdup(const char *s);
/* asprintf wrapper returning NULL on failure. */
char *zb_asprintf(const char *fmt, ...) ZB_PRINTF(1, 2);

/* A growable byte buffer with a hard cap: bytes past the cap are counted but
 * dropped. */
struct zb_buf {
        char *data;
        size_t len, cap_alloc, limit;
        uint64_t dropped;
        uint64_t passed;  /* pass-through: bytes copied to the caller's stream */
        bool over_first;  /* this stream first went past the output cap */
};
int zb_buf_append(struct zb_buf *b, const char *data, size_t n);
void zb_buf_free(struct zb_buf *b);

/* Append N bytes of DATA to OUT (of the pair OUT, OTHER), keeping the pair
 * together within LIMIT bytes; what does not fit is counted as dropped.
 * True when something was dropped. */
bool zb_buf_capture(struct zb_buf *out, const struct zb_buf *other, const char *data, size_t n,
                    uint64_t limit);

/* Monotonic clock in nanoseconds. */
uint64_t zb_now_ns(void);

/* write(2) until all of N is written (EINTR retried); -1 on error. */
int zb_write_all(int fd, const void *data, size_t n);

/* The termination signals a caller blocks to have them forwarded (SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT): those of them blocked now go into *SET (if
 * not NULL); a non-blocking close-on-exec signalfd for them, or -1 when
 * none is blocked. */
int zb_forward_signalfd(sigset_t *set);
/* Block those signals in the calling thread, to have them forwarded. */
void zb_block_forwarded(void);

#endif
