/* Running a probe in a forked child (the seccomp and Landlock tests): the
 * child applies a layer, runs the probe, and on a failed expectation sends
 * back where it failed. */
#ifndef ZB_TEST_PROBE_H
#define ZB_TEST_PROBE_H

#include <errno.h>
#include <stdbool.h>

/* What the child reports when an expectation fails. */
struct probe_fail {
        int line;
        long ret;
        int err;
};
extern struct probe_fail probe_fail;

#define FAIL_AT(r)                                                                      \
        do {                                                                            \
                probe_fail = (struct probe_fail){ __LINE__, (long)(r), errno };         \
                return 1;                                                               \
        } while (0)
/* The call succeeds (returns >= 0). */
#define EXPECT_OK(call)                                                                 \
        do {                                                                            \
                errno = 0;                                                              \
                long r_ = (long)(call);                                                 \
                if (r_ < 0)                                                             \
                        FAIL_AT(r_);                                                    \
        } while (0)
/* The call fails with errno e. */
#define EXPECT_ERR(call, e)                                                             \
        do {                                                                            \
                errno = 0;                                                              \
                long r_ = (long)(call);                                                 \
                if (r_ != -1 || errno != (e))                                           \
                        FAIL_AT(r_);                                                    \
        } while (0)

/* Fork; the child runs setup(arg) (0 or -errno), then probe. Passes when
 * the child exits 0, or, with want_sig, dies of that signal. FILE names the
 * test file in the failure message. */
bool probe_in_child(int (*setup)(const void *), const void *arg, int (*probe)(void), int want_sig,
                    const char *file, const char *what);

#endif
