/* Value parsers for sizes, durations, CPU counts and booleans. */
#ifndef ZB_UNITS_H
#define ZB_UNITS_H

#include "util.h"

/* "64m", "1g", "512", "1.5GiB" → bytes (binary multiples). */
int units_parse_size(const char *s, uint64_t *out);
/* "500ms", "10s", "1.5m", "2h", "5" (seconds) → milliseconds, rounded up. */
int units_parse_duration_ms(const char *s, uint64_t *out_ms);
/* "0.5" → 500 milli-CPUs; must be > 0. */
int units_parse_cpus_milli(const char *s, uint64_t *out_milli);
/* A plain non-negative integer. */
int units_parse_u64(const char *s, uint64_t *out);
int units_parse_bool(const char *s, bool *out);
/* "unlimited", "none", "-1". */
bool units_is_unlimited_word(const char *s);

#endif
