/* Value parsers (src/core/units.c): sizes, durations, CPU counts, plain
 * integers and booleans. One table row per input; a bad value must be
 * rejected whole, never truncated, and an overflow must be -ERANGE. */
#include "core/units.h"
#include "test.h"

/* Expected outcome of a row: a value, or any error, or one errno. */
#define ANY_ERR 1

struct u64_case {
        const char *in;
        int rc; /* 0, ANY_ERR or a negative errno */
        uint64_t want;
};

static void check_u64_table(const char *what, int (*parse)(const char *, uint64_t *),
                            const struct u64_case *t, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                uint64_t v = 0xdeadbeef;
                int r = parse(t[i].in, &v);
                bool ok;

                if (t[i].rc == 0)
                        ok = r == 0 && v == t[i].want;
                else if (t[i].rc == ANY_ERR)
                        ok = r < 0;
                else
                        ok = r == t[i].rc;
                if (!ok)
                        fprintf(stderr, "  %s(\"%s\"): rc %d value %llu, want rc %d value %llu\n",
                                what, t[i].in ? t[i].in : "(null)", r, (unsigned long long)v,
                                t[i].rc, (unsigned long long)t[i].want);
                CHECK(ok);
        }
}

TEST(units_size)
{
        static const struct u64_case t[] = {
                { "512", 0, 512 },
                { "0", 0, 0 },
                { "512b", 0, 512 },
                { "512B", 0, 512 },
                { "64k", 0, 64ull << 10 },
                { "64K", 0, 64ull << 10 },
                { "64kb", 0, 64ull << 10 },
                { "64KiB", 0, 64ull << 10 },
                { "1.5k", 0, 1536 },
                { "64m", 0, 64ull << 20 },
                { "64M", 0, 64ull << 20 },
                { "10MB", 0, 10ull << 20 },
                { "10mib", 0, 10ull << 20 },
                { "0.5m", 0, 512ull << 10 },
                { "1g", 0, 1ull << 30 },
                { "1G", 0, 1ull << 30 },
                { "1.5g", 0, 3ull << 29 },
                { "1GiB", 0, 1ull << 30 },
                { "1GB", 0, 1ull << 30 },
                { "2t", 0, 2ull << 40 },
                { "1TiB", 0, 1ull << 40 },
                { "17179869183g", 0, 17179869183ull << 30 }, /* 2^64 - 2^30: fits */
                { NULL, -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "abc", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { "1.5", -EINVAL, 0 },  /* a fraction of a byte */
                { "1.5b", -EINVAL, 0 },
                { "12x", -EINVAL, 0 },
                { "k", -EINVAL, 0 },
                { ".5k", -EINVAL, 0 },
                { "1.k", -EINVAL, 0 },
                { "1.5.5m", -EINVAL, 0 },
                { "1e3", -EINVAL, 0 },
                { "0x10", -EINVAL, 0 },
                { "1kk", -EINVAL, 0 },
                { "64m ", -EINVAL, 0 }, /* trailing junk is not truncated away */
                { "64 m", -EINVAL, 0 },
                { "99999999999999999999", -ERANGE, 0 },
                { "16777216t", -ERANGE, 0 },   /* 2^24 * 2^40 = 2^64 */
                { "17179869184g", -ERANGE, 0 }, /* 2^34 * 2^30 = 2^64 */
        };
        check_u64_table("units_parse_size", units_parse_size, t, ARRAY_SIZE(t));
}

TEST(units_duration)
{
        static const struct u64_case t[] = {
                { "500ms", 0, 500 },
                { "10s", 0, 10000 },
                { "1.5s", 0, 1500 },
                { "2m", 0, 120000 },
                { "1.5m", 0, 90000 },
                { "2min", 0, 120000 },
                { "1h", 0, 3600000 },
                { "1.5h", 0, 5400000 },
                { "5", 0, 5000 }, /* a bare number is seconds */
                { "0.25", 0, 250 },
                { "0", 0, 0 },
                { "0s", 0, 0 },
                { "1000us", 0, 1 },
                { "250us", 0, 1 },   /* rounded up to 1 ms */
                { "1001us", 0, 2 },
                { "1.5ms", 0, 2 },
                { "0.001s", 0, 1 },
                { "0.0015s", 0, 2 },
                { NULL, -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "10x", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { "ms", -EINVAL, 0 },
                { ".5s", -EINVAL, 0 },
                { "-1s", -EINVAL, 0 },
                { "10 s", -EINVAL, 0 },
                { "10s ", -EINVAL, 0 },
                { "1.s", -EINVAL, 0 },
                { "10sec", -EINVAL, 0 },
                { "99999999999999999999s", -ERANGE, 0 },
                { "6000000000h", -ERANGE, 0 },
        };
        check_u64_table("units_parse_duration_ms", units_parse_duration_ms, t, ARRAY_SIZE(t));
}

/* "Rounded up" must hold below a microsecond too: a positive duration that
 * became 0 would mean "no limit" for --timeout and --cpu-time. */
TEST(units_duration_sub_microsecond_rounds_up)
{
        static const struct u64_case t[] = {
                { "0.5us", 0, 1 },
                { "0.0000001s", 0, 1 },
                { "0.0001ms", 0, 1 },
        };
        check_u64_table("units_parse_duration_ms", units_parse_duration_ms, t, ARRAY_SIZE(t));
}

TEST(units_cpus)
{
        static const struct u64_case t[] = {
                { "0.5", 0, 500 },
                { "2", 0, 2000 },
                { "1.25", 0, 1250 },
                { "0.001", 0, 1 },
                { "1000", 0, 1000000 },
                { NULL, ANY_ERR, 0 },
                { "", ANY_ERR, 0 },
                { "0", ANY_ERR, 0 },
                { "0.0", ANY_ERR, 0 },
                { "0.0001", ANY_ERR, 0 }, /* rounds to 0 milli-CPUs */
                { "-1", ANY_ERR, 0 },
                { "abc", ANY_ERR, 0 },
                { ".5", ANY_ERR, 0 },
                { "1m", ANY_ERR, 0 },
                { "2 ", ANY_ERR, 0 },
                { "1001", ANY_ERR, 0 },
        };
        check_u64_table("units_parse_cpus_milli", units_parse_cpus_milli, t, ARRAY_SIZE(t));
}

TEST(units_u64)
{
        static const struct u64_case t[] = {
                { "0", 0, 0 },
                { "42", 0, 42 },
                { "4194304", 0, 4194304 },
                { NULL, -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "x", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "1.0", -EINVAL, 0 },
                { "1k", -EINVAL, 0 },
                { "12 ", -EINVAL, 0 },
                { "99999999999999999999", -ERANGE, 0 },
        };
        check_u64_table("units_parse_u64", units_parse_u64, t, ARRAY_SIZE(t));
}

TEST(units_bool)
{
        static const struct {
                const char *in;
                int rc;
                bool want;
        } t[] = {
                { "true", 0, true },   { "TRUE", 0, true },   { "yes", 0, true },
                { "Yes", 0, true },    { "on", 0, true },     { "ON", 0, true },
                { "1", 0, true },      { "false", 0, false }, { "False", 0, false },
                { "no", 0, false },    { "NO", 0, false },    { "off", 0, false },
                { "0", 0, false },     { NULL, -EINVAL, 0 },  { "", -EINVAL, 0 },
                { "2", -EINVAL, 0 },   { "y", -EINVAL, 0 },   { "n", -EINVAL, 0 },
                { "truee", -EINVAL, 0 }, { " true", -EINVAL, 0 }, { "enabled", -EINVAL, 0 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                bool v = !t[i].want;
                int r = units_parse_bool(t[i].in, &v);
                bool ok = r == t[i].rc && (r < 0 || v == t[i].want);
                if (!ok)
                        fprintf(stderr, "  units_parse_bool(\"%s\"): rc %d value %d\n",
                                t[i].in ? t[i].in : "(null)", r, v);
                CHECK(ok);
        }
}

TEST(units_unlimited_word)
{
        static const struct {
                const char *in;
                bool want;
        } t[] = {
                { "unlimited", true }, { "UNLIMITED", true }, { "none", true },
                { "None", true },      { "-1", true },        { NULL, false },
                { "", false },         { "0", false },        { "-2", false },
                { "unlimit", false },  { "-1k", false },
        };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                bool ok = units_is_unlimited_word(t[i].in) == t[i].want;
                if (!ok)
                        fprintf(stderr, "  units_is_unlimited_word(\"%s\") != %d\n",
                                t[i].in ? t[i].in : "(null)", t[i].want);
                CHECK(ok);
        }
}
