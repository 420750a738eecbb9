/* Runs every registered unit test; with arguments, only those named.
 * Guarantees: a test registered past the table's capacity aborts the run (it
 * is never silently dropped); a skip prints its reason and counts as skipped. */
#include <stdlib.h>

#include "test.h"

#define MAX_TESTS 512

static struct {
        const char *name;
        test_fn fn;
} tests[MAX_TESTS];
static int n_tests;
int test_failed_checks;
static const char *skip_reason;

void test_skip(const char *why)
{
        skip_reason = why;
}

void test_register(const char *name, test_fn fn)
{
        if (n_tests >= MAX_TESTS) {
                /* Constructors run before main: stop here, loudly. */
                fprintf(stderr, "unit: more than %d tests (at %s): raise MAX_TESTS in tests/unit/main.c\n",
                        MAX_TESTS, name);
                abort();
        }
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        n_tests++;
}

static int selected(const char *name, int argc, char **argv)
{
        if (argc < 2)
                return 1;
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], name) == 0)
                        return 1;
        return 0;
}

int main(int argc, char **argv)
{
        int passed = 0, failed = 0, skipped = 0;
        for (int i = 0; i < n_tests; i++) {
                if (!selected(tests[i].name, argc, argv))
                        continue;
                int before = test_failed_checks;
                skip_reason = NULL;
                tests[i].fn();
                if (test_failed_checks == before && skip_reason) {
                        printf("skip %s: skipped: %s\n", tests[i].name, skip_reason);
                        skipped++;
                } else if (test_failed_checks == before) {
                        printf("ok   %s\n", tests[i].name);
                        passed++;
                } else {
                        printf("FAIL %s\n", tests[i].name);
                        failed++;
                }
        }
        printf("unit: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
        return failed ? 1 : 0;
}
