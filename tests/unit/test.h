/* A tiny table-free unit test harness: TEST(name) { CHECK(...); } registers
 * itself; main.c runs all (or those named on the command line) and prints
 * "unit: N passed, N failed". */
#ifndef ZB_TEST_H
#define ZB_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
extern int test_failed_checks;
/* Mark the running test skipped (counted as skipped, not passed) and say why. */
void test_skip(const char *why);

#define TEST(name)                                                              \
        static void test_##name(void);                                          \
        __attribute__((constructor)) static void register_##name(void)          \
        {                                                                       \
                test_register(#name, test_##name);                              \
        }                                                                       \
        static void test_##name(void)

#define CHECK(cond)                                                             \
        do {                                                                    \
                if (!(cond)) {                                                  \
                        fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, \
                                __LINE__, #cond);                               \
                        test_failed_checks++;                                   \
                }                                                               \
        } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                         \
        do {                                                                    \
                const char *h_ = (hay), *n_ = (needle);                         \
                if (!h_ || !strstr(h_, n_)) {                                   \
                        fprintf(stderr, "  %s:%d: '%s' does not contain '%s'\n", \
                                __FILE__, __LINE__, h_ ? h_ : "(null)", n_);    \
                        test_failed_checks++;                                   \
                }                                                               \
        } while (0)

#endif
