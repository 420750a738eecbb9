/* Parsing of sizes ("64m", "1GiB"), durations ("500ms", "1.5s") and CPU
 * counts ("0.5"). Every conversion is checked for overflow; a value that does
 * not parse whole is rejected, never truncated. */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "units.h"

/* Split "123.45unit" into an integer part, a fraction (as numerator over a
 * power of ten) and the unit. Returns 0 or -EINVAL. */
static int split_number(const char *s, uint64_t *whole, uint64_t *frac, uint64_t *frac_div,
                        const char **unit)
{
        const char *p = s;
        uint64_t w = 0, f = 0, d = 1;
        bool digits = false;

        while (isspace((unsigned char)*p))
                p++;
        if (!isdigit((unsigned char)*p))
                return -EINVAL;
        for (; isdigit((unsigned char)*p); p++) {
                if (w > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                w = w * 10 + (uint64_t)(*p - '0');
                digits = true;
        }
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                for (; isdigit((unsigned char)*p); p++) {
                        if (d < 1000000000ull) { /* nine digits are plenty */
                                f = f * 10 + (uint64_t)(*p - '0');
                                d *= 10;
                        }
                }
        }
        if (!digits)
                return -EINVAL;
        *whole = w;
        *frac = f;
        *frac_div = d;
        *unit = p;
        return 0;
}

/* whole*mult + frac*mult/div, checked; the fraction rounds up when ROUND_UP
 * (a limit must never shrink to "none" by rounding). */
static int scale_r(uint64_t whole, uint64_t frac, uint64_t div, uint64_t mult, bool round_up,
                   uint64_t *out)
{
        if (mult && whole > UINT64_MAX / mult)
                return -ERANGE;
        uint64_t v = whole * mult;
        /* frac < div <= 1e9 and mult <= 2^40 for our units would overflow
         * 64 bits only above 2^70; split to stay exact. */
        uint64_t part = (mult / div) * frac + ((mult % div) * frac) / div;
        if (round_up && ((mult % div) * frac) % div)
                part++;
        if (v > UINT64_MAX - part)
                return -ERANGE;
        *out = v + part;
        return 0;
}

static int scale(uint64_t whole, uint64_t frac, uint64_t div, uint64_t mult, uint64_t *out)
{
        return scale_r(whole, frac, div, mult, false, out);
}

int units_parse_size(const char *s, uint64_t *out)
{
        static const struct {
                const char *name;
                uint64_t mult;
        } units[] = {
                { "", 1 },          { "b", 1 },
                { "k", 1ull << 10 }, { "kb", 1ull << 10 }, { "kib", 1ull << 10 },
                { "m", 1ull << 20 }, { "mb", 1ull << 20 }, { "mib", 1ull << 20 },
                { "g", 1ull << 30 }, { "gb", 1ull << 30 }, { "gib", 1ull << 30 },
                { "t", 1ull << 40 }, { "tb", 1ull << 40 }, { "tib", 1ull << 40 },
        };
        uint64_t w, f, d;
        const char *unit;
        int r;

        if (!s)
                return -EINVAL;
        r = split_number(s, &w, &f, &d, &unit);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                if (strcasecmp(unit, units[i].name) == 0) {
                        if (units[i].mult == 1 && f != 0)
                                return -EINVAL; /* "1.5" bytes */
                        return scale(w, f, d, units[i].mult, out);
                }
        }
        return -EINVAL;
}

int units_parse_duration_ms(const char *s, uint64_t *out_ms)
{
        /* Multipliers in microseconds so that "1.5ms" and "250us" stay exact
         * enough before rounding up to milliseconds. */
        static const struct {
                const char *name;
                uint64_t us;
        } units[] = {
                { "", 1000000ull }, /* a bare number is seconds, as for timeout(1) */
                { "us", 1ull },     { "ms", 1000ull },       { "s", 1000000ull },
                { "m", 60000000ull }, { "min", 60000000ull }, { "h", 3600000000ull },
        };
        uint64_t w, f, d, us;
        const char *unit;
        int r;

        if (!s)
                return -EINVAL;
        r = split_number(s, &w, &f, &d, &unit);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                if (strcmp(unit, units[i].name) == 0) {
                        r = scale_r(w, f, d, units[i].us, true, &us);
                        if (r < 0)
                                return r;
                        *out_ms = us / 1000 + (us % 1000 ? 1 : 0);
                        return 0;
                }
        }
        return -EINVAL;
}

int units_parse_cpus_milli(const char *s, uint64_t *out_milli)
{
        uint64_t w, f, d;
        const char *unit;
        int r;

        if (!s)
                return -EINVAL;
        r = split_number(s, &w, &f, &d, &unit);
        if (r < 0)
                return r;
        if (*unit)
                return -EINVAL;
        r = scale(w, f, d, 1000, out_milli);
        if (r < 0)
                return r;
        if (*out_milli == 0 || *out_milli > 1000000)
                return -ERANGE;
        return 0;
}

int units_parse_u64(const char *s, uint64_t *out)
{
        uint64_t w, f, d;
        const char *unit;
        int r;

        if (!s)
                return -EINVAL;
        r = split_number(s, &w, &f, &d, &unit);
        if (r < 0)
                return r;
        if (*unit || d != 1)
                return -EINVAL;
        *out = w;
        return 0;
}

int units_parse_bool(const char *s, bool *out)
{
        static const char *const yes[] = { "true", "yes", "on", "1" };
        static const char *const no[] = { "false", "no", "off", "0" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

bool units_is_unlimited_word(const char *s)
{
        return s && (strcasecmp(s, "unlimited") == 0 || strcasecmp(s, "none") == 0 ||
                     strcmp(s, "-1") == 0);
}
