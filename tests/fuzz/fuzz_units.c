/* Sizes, durations, CPU counts, integers and booleans (src/core/units.h):
 * every --memory, --timeout, --cpus, limits.* value goes through these.
 * Besides memory safety, each parser's contract is checked: results in
 * range, and a plain integer means the same to every parser. */
#include <inttypes.h>

#include "fuzz.h"

#include "core/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = fuzz_cstr(data, size);
        uint64_t n = 0, bytes = 0, ms = 0, milli = 0;
        bool b;

        int rn = units_parse_u64(s, &n);
        int rs = units_parse_size(s, &bytes);
        int rd = units_parse_duration_ms(s, &ms);
        int rc = units_parse_cpus_milli(s, &milli);
        int rb = units_parse_bool(s, &b);
        (void)units_is_unlimited_word(s);

        fuzz_assert(rn == 0 || rn == -EINVAL || rn == -ERANGE);
        fuzz_assert(rs == 0 || rs == -EINVAL || rs == -ERANGE);
        fuzz_assert(rd == 0 || rd == -EINVAL || rd == -ERANGE);
        fuzz_assert(rc == 0 || rc == -EINVAL || rc == -ERANGE);
        fuzz_assert(rb == 0 || rb == -EINVAL);
        if (rc == 0)
                fuzz_assert(milli >= 1 && milli <= 1000000);
        if (rn == 0) {
                /* A bare integer is bytes to a size, seconds to a duration. */
                fuzz_assert(rs == 0 && bytes == n);
                fuzz_assert(n > UINT64_MAX / 1000000 || (rd == 0 && ms == n * 1000));
                /* and it prints back to what it was read from (leading
                 * blanks are skipped, leading zeros dropped). */
                char back[32];
                snprintf(back, sizeof(back), "%" PRIu64, n);
                uint64_t again = 0;
                fuzz_assert(units_parse_u64(back, &again) == 0 && again == n);
        }
        free(s);
        return 0;
}
