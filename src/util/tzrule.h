/* UTC offsets of a named time zone, from the system tz database, without
 * touching the process's TZ or localtime_r (neither thread-safe nor pure).
 *
 * tzrule_load reads /usr/share/zoneinfo/NAME (TZif version 2 or later: the
 * 64-bit transition table and the POSIX TZ footer that continues it) once,
 * at config load; tzrule_offset is then a pure function of the loaded rule
 * and a UTC time.  Footer rules of the "Mm.w.d" form are supported (every
 * zone in use today); the Julian "Jn" / "n" forms are refused at load. */
#ifndef JG_UTIL_TZRULE_H
#define JG_UTIL_TZRULE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define TZRULE_NAME_MAX 64

struct tzrule;

/* Loads zone name ("Europe/Berlin", "UTC").  On failure *out is NULL and
 * why holds a one-line reason without the path. */
int tzrule_load(const char *name, struct tzrule **out, char *why,
		size_t whylen) JG_WUR;
/* Same from TZif bytes (for tests and fuzzing). */
int tzrule_parse(const unsigned char *buf, size_t len, struct tzrule **out,
		 char *why, size_t whylen) JG_WUR;
void tzrule_free(struct tzrule *tz);

/* Seconds east of UTC in effect at utc_s (seconds since the epoch). */
int32_t tzrule_offset(const struct tzrule *tz, int64_t utc_s);

/* Local civil time of utc_s: weekday (0 = Monday .. 6 = Sunday) and
 * minute of the day (0 .. 1439). */
void tzrule_local(const struct tzrule *tz, int64_t utc_s, int *wday,
		  int *minute);

#endif
