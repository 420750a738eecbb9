/* Docker-style command-line flags (zb_policy_apply_flag), as the CLI hands
 * them over. Input: one flag per line, "FLAG VALUE" split at the first
 * space, or "FLAG" alone for a flag without a value, e.g.
 *
 *     --memory 100m
 *     -v ./data:/input:ro
 *     --read-only
 *
 * Every flag of one input goes into the same policy (later flags override
 * earlier ones and zones accumulate, as on a command line), which is then
 * validated as zb_run does. */
#include "fuzz.h"

#include "core/policy.h"

#define MAX_FLAGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct zb_error err = { 0 };
        char *text = fuzz_cstr(data, size);
        struct zb_policy *p = zb_policy_new();
        int n = 0;

        fuzz_assert(p);
        for (char *line = text, *next; line && n < MAX_FLAGS; line = next, n++) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char *value = strchr(line, ' ');
                if (value)
                        *value++ = '\0';
                int takes = zb_flag_takes_value(line);
                fuzz_assert(takes >= -1 && takes <= 1);
                int r = zb_policy_apply_flag(p, line, value, &err);
                fuzz_check_error(&err);
                fuzz_assert(r <= 0);
                fuzz_assert(takes >= 0 || r == -ENOENT); /* unknown to one, unknown to both */
        }
        (void)zb_policy_validate(p, &err);
        fuzz_check_error(&err);
        util_strv_free(pol_build_env(p));
        zb_policy_free(p);
        free(text);
        return 0;
}
