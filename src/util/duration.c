#include "util/duration.h"

#include <stdio.h>
#include <string.h>

int duration_parse(const char *s, int64_t *out_s)
{
	static const struct { char unit; int64_t mult; } units[] = {
		{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1},
	};
	int64_t total = 0;
	size_t next_unit = 0;

	*out_s = 0;
	if (s == NULL || *s == '\0' || strlen(s) > 32)
		return JG_ERR_INVALID;
	while (*s) {
		int64_t v = 0;
		int digits = 0;
		size_t u;

		while (*s >= '0' && *s <= '9') {
			if (++digits > 9)
				return JG_ERR_INVALID;
			v = v * 10 + (*s - '0');
			s++;
		}
		if (digits == 0)
			return JG_ERR_INVALID;
		for (u = next_unit; u < sizeof(units) / sizeof(units[0]); u++)
			if (units[u].unit == *s)
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return JG_ERR_INVALID; /* unknown, missing or repeated unit */
		total += v * units[u].mult;
		if (total > DURATION_MAX_S)
			return JG_ERR_INVALID;
		next_unit = u + 1;
		s++;
	}
	if (total <= 0)
		return JG_ERR_INVALID;
	*out_s = total;
	return JG_OK;
}

void duration_format(int64_t secs, char *buf, size_t len)
{
	size_t off = 0;
	int64_t d = secs / 86400, h = secs % 86400 / 3600;
	int64_t m = secs % 3600 / 60, s = secs % 60;

	if (len == 0)
		return;
	buf[0] = '\0';
#define PART(v, c) \
	if ((v) && off < len) \
		off += (size_t)snprintf(buf + off, len - off, "%lld%c", (long long)(v), c)
	PART(d, 'd');
	PART(h, 'h');
	PART(m, 'm');
	PART(s, 's');
#undef PART
	if (secs == 0)
		snprintf(buf, len, "0s");
}
