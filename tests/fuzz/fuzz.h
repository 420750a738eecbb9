/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c). Each target is one
 * LLVMFuzzerTestOneInput: linked with libFuzzer in the FUZZ=1 build
 * (build-fuzz/fuzz/NAME), and with replay.c as main in any build
 * (BUILD/fuzz-replay/NAME FILE|DIR...) to run the checked-in corpus once.
 *
 * A target returns 0 for every input; a bug shows as a sanitizer report or
 * as fuzz_assert(), which aborts so that libFuzzer saves the input. */
#ifndef ZB_FUZZ_H
#define ZB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zonebox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant the code under test promises, checked on every input. */
#define fuzz_assert(cond)                                                              \
        do {                                                                           \
                if (!(cond)) {                                                         \
                        fprintf(stderr, "%s:%d: fuzz_assert(%s) failed\n", __FILE__,    \
                                __LINE__, #cond);                                      \
                        abort();                                                       \
                }                                                                      \
        } while (0)

/* DATA as a NUL-terminated string (malloc'd; the parsers under test take C
 * strings). Bytes after an embedded NUL are simply not seen by them. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* Every error message must be one line (zonebox.h) terminated within the
 * buffer, and a code set with it must be a negative errno. */
static inline void fuzz_check_error(const struct zb_error *err)
{
        const char *end = memchr(err->message, '\0', sizeof(err->message));
        fuzz_assert(end != NULL);
        for (const char *c = err->message; c < end; c++)
                fuzz_assert((unsigned char)*c >= 0x20 && *c != 0x7f);
        fuzz_assert(err->code <= 0 && err->code > -4096);
}

#endif
