#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* 10000-01-01T00:00:00Z: below it (and from 0) time_format computes the
 * date itself */
#define TIME_FORMAT_FAST_END_MS 253402300800000LL

int64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* n (0 <= n < 10^width) as exactly width decimal digits. */
static void put_digits(char *out, int n, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		out[i] = (char)('0' + n % 10);
		n /= 10;
	}
}

/* Year, month (1-12) and day of the days since 1970-01-01 (days >= 0):
 * the proleptic Gregorian calendar in whole 400-year eras, as gmtime_r
 * computes it but without its lock (glibc's __tz_convert takes a global
 * mutex, and this runs on every HTTP thread for every allowed check). */
static void civil_from_days(int64_t days, int *year, int *month, int *day)
{
	int64_t z = days + 719468; /* days since 0000-03-01 */
	int64_t era = z / 146097, doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(yoe + era * 400 + (*month <= 2));
}

void time_format(int64_t ms, char *buf)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char tmp[96];
	int year, month, day, sod;

	if (ms >= 0 && ms < TIME_FORMAT_FAST_END_MS) {
		civil_from_days(ms / 86400000, &year, &month, &day);
		sod = (int)(ms / 1000 % 86400);
		put_digits(buf, year, 4);
		buf[4] = '-';
		put_digits(buf + 5, month, 2);
		buf[7] = '-';
		put_digits(buf + 8, day, 2);
		buf[10] = 'T';
		put_digits(buf + 11, sod / 3600, 2);
		buf[13] = ':';
		put_digits(buf + 14, sod / 60 % 60, 2);
		buf[16] = ':';
		put_digits(buf + 17, sod % 60, 2);
		buf[19] = '.';
		put_digits(buf + 20, (int)(ms % 1000), 3);
		buf[23] = 'Z';
		buf[24] = '\0';
		return;
	}
	/* before 1970 or after 9999: what gmtime_r and printf make of it,
	 * cut to the buffer */
	gmtime_r(&secs, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	memcpy(buf, tmp, TIME_RFC3339_LEN - 1);
	buf[TIME_RFC3339_LEN - 1] = 0;
}

int time_parse(const char *s, int64_t *out_ms)
{
	struct tm tm;
	int frac = 0, n = 0, consumed = 0;
	time_t secs;

	*out_ms = 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return JG_ERR_INVALID;
	s += n;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			if (consumed < 3)
				frac = frac * 10 + (*s - '0');
			consumed++;
			s++;
		}
		if (consumed == 0)
			return JG_ERR_INVALID;
		while (consumed < 3) {
			frac *= 10;
			consumed++;
		}
	}
	if (strcmp(s, "Z") != 0)
		return JG_ERR_INVALID;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return JG_ERR_INVALID;
	*out_ms = (int64_t)secs * 1000 + frac;
	return JG_OK;
}
