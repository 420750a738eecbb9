/* The YAML config file (docs/config.md): a user writes it, and an agent may
 * write it for them. pol_load_yaml_buffer is the in-memory half of
 * zb_policy_load_yaml (which only reads the file, capped at 1 MiB, and
 * calls it); a loaded policy is then validated, as zb_run does. */
#include "fuzz.h"

#include "core/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct zb_error err = { 0 };
        struct zb_policy *p;

        if (size > (1u << 20)) /* zb_policy_load_yaml refuses larger files */
                return 0;
        p = zb_policy_new();
        fuzz_assert(p);
        int r = pol_load_yaml_buffer(p, (const char *)data, size, "fuzz.yaml", "/fuzz-base",
                                           &err);
        fuzz_check_error(&err);
        fuzz_assert(r <= 0);
        fuzz_assert(r == 0 || err.message[0]); /* a failure always says why */
        if (r == 0) {
                fuzz_assert(zb_policy_validate(p, &err) <= 0);
                fuzz_check_error(&err);
                char **env = pol_build_env(p);
                util_strv_free(env);
        }
        zb_policy_free(p);
        return 0;
}
