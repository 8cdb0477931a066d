/* Durations as written in the config and API: "90s", "30m", "4h", "1h30m",
 * "2d".  Units must appear in descending order, each at most once. */
#ifndef JG_UTIL_DURATION_H
#define JG_UTIL_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Longest accepted duration: 366 days. */
#define DURATION_MAX_S (366LL * 24 * 3600)

/* Parses s into seconds (> 0, <= DURATION_MAX_S).  JG_ERR_INVALID otherwise;
 * *out_s is 0 on failure. */
int duration_parse(const char *s, int64_t *out_s) JG_WUR;

/* Writes the shortest form ("1h30m") of secs into buf. */
void duration_format(int64_t secs, char *buf, size_t len);

#endif
