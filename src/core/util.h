/* Small helpers shared by the whole tree: cleanup attributes, error filling,
 * checked string building. No policy or sandbox logic here. */
#ifndef ZB_UTIL_H
#define ZB_UTIL_H

#include <errno.h>
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
};
int zb_buf_append(struct zb_buf *b, const char *data, size_t n);
void zb_buf_free(struct zb_buf *b);

/* Monotonic clock in nanoseconds. */
uint64_t zb_now_ns(void);

#endif
