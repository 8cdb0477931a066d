/* Wall-clock time in milliseconds since the epoch, and RFC 3339 UTC text. */
#ifndef JG_UTIL_TIMEUTIL_H
#define JG_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define TIME_RFC3339_LEN 32

int64_t time_now_ms(void);
/* Monotonic clock, for latency measurement only. */
int64_t time_mono_ns(void);

/* "2026-11-27T20:56:17.123Z" into buf (>= TIME_RFC3339_LEN bytes). */
void time_format(int64_t ms, char *buf);
/* Parses what time_format writes (fraction optional, 'Z' required). */
int time_parse(const char *s, int64_t *out_ms) JG_WUR;

#endif
