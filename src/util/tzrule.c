#include "util/tzrule.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"

#define TZDIR "/usr/share/zoneinfo"
#define TZFILE_MAX (256 * 1024)
#define TZ_TIMES_MAX 4096
#define TZ_TYPES_MAX 256

/* A POSIX TZ rule date "Mm.w.d/time": month, week (5 = last), weekday
 * (0 = Sunday) and the local time of the change in seconds. */
struct tz_date {
	int month, week, wday;
	int32_t time_s;
};

struct tzrule {
	int64_t *times;  /* transitions, ascending */
	int32_t *offs;   /* offset in effect from times[i] */
	size_t ntimes;
	int32_t first_off; /* before the first transition */
	/* the footer, for times after the last transition */
	bool have_footer;
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct tz_date start, end;
};

static void why_set(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- civil calendar (proleptic Gregorian) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return yoe + era * 400 + (mp >= 10);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int month_days(int64_t y, int m)
{
	static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : md[m - 1];
}

/* Local seconds since the epoch at which rule date d falls in year y. */
static int64_t rule_local_s(int64_t y, const struct tz_date *d)
{
	int64_t day1 = days_from_civil(y, d->month, 1);
	int wd1 = (int)((day1 % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	int mday = 1 + (d->wday - wd1 + 7) % 7 + (d->week - 1) * 7;

	while (mday > month_days(y, d->month))
		mday -= 7;
	return (day1 + mday - 1) * 86400 + d->time_s;
}

/* ---- POSIX TZ footer ---- */

static const char *skip_name(const char *s)
{
	const char *p = s;

	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		return *p == '>' && p - s >= 4 ? p + 1 : NULL;
	}
	while (isalpha((unsigned char)*p))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hours up to 167; *out in seconds. */
static const char *read_hms(const char *s, int32_t *out)
{
	int sign = 1;
	long part[3] = {0, 0, 0};

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		int nd = 0;

		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		while (isdigit((unsigned char)*s) && nd < 3) {
			part[i] = part[i] * 10 + (*s++ - '0');
			nd++;
		}
		if (nd == 0 || (i > 0 && part[i] > 59))
			return NULL;
	}
	if (part[0] > 167)
		return NULL;
	*out = (int32_t)(sign * (part[0] * 3600 + part[1] * 60 + part[2]));
	return s;
}

static const char *read_num(const char *s, int lo, int hi, int *out)
{
	int v = 0, nd = 0;

	while (isdigit((unsigned char)*s) && nd < 3) {
		v = v * 10 + (*s++ - '0');
		nd++;
	}
	if (nd == 0 || v < lo || v > hi)
		return NULL;
	*out = v;
	return s;
}

static const char *read_date(const char *s, struct tz_date *d)
{
	if (*s++ != 'M')
		return NULL;
	if ((s = read_num(s, 1, 12, &d->month)) == NULL || *s++ != '.' ||
	    (s = read_num(s, 1, 5, &d->week)) == NULL || *s++ != '.' ||
	    (s = read_num(s, 0, 6, &d->wday)) == NULL)
		return NULL;
	d->time_s = 7200;
	if (*s == '/')
		s = read_hms(s + 1, &d->time_s);
	return s;
}

static int parse_footer(struct tzrule *tz, const char *s, char *why,
			size_t whylen)
{
	int32_t off;

	if (*s == '\0')
		return JG_OK; /* no rule: the last transition holds */
	if ((s = skip_name(s)) == NULL || (s = read_hms(s, &off)) == NULL)
		goto bad;
	tz->std_off = -off; /* POSIX offsets are west of UTC */
	tz->dst_off = tz->std_off + 3600;
	if (*s != '\0') {
		if ((s = skip_name(s)) == NULL)
			goto bad;
		if (*s != ',' && *s != '\0') {
			if ((s = read_hms(s, &off)) == NULL)
				goto bad;
			tz->dst_off = -off;
		}
		if (*s++ != ',') {
			why_set(why, whylen, "zone rule without transition dates");
			return JG_ERR_PARSE;
		}
		if (*s != 'M') {
			why_set(why, whylen, "zone rule uses Julian dates (only Mm.w.d is supported)");
			return JG_ERR_PARSE;
		}
		if ((s = read_date(s, &tz->start)) == NULL || *s++ != ',' ||
		    (s = read_date(s, &tz->end)) == NULL || *s != '\0')
			goto bad;
		tz->has_dst = true;
	}
	tz->have_footer = true;
	return JG_OK;
bad:
	why_set(why, whylen, "malformed zone rule");
	return JG_ERR_PARSE;
}

/* ---- TZif ---- */

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chr;
};

static void read_counts(const unsigned char *h, struct tzif_counts *c)
{
	c->isut = be32(h + 20);
	c->isstd = be32(h + 24);
	c->leap = be32(h + 28);
	c->time = be32(h + 32);
	c->type = be32(h + 36);
	c->chr = be32(h + 40);
}

static size_t block_len(const struct tzif_counts *c, size_t tsize)
{
	return c->time * tsize + c->time + c->type * 6u + c->chr +
	       c->leap * (tsize + 4) + c->isstd + c->isut;
}

static bool counts_ok(const struct tzif_counts *c)
{
	return c->time <= TZ_TIMES_MAX && c->type >= 1 &&
	       c->type <= TZ_TYPES_MAX && c->chr <= 4096 && c->leap <= 1024 &&
	       c->isstd <= TZ_TYPES_MAX && c->isut <= TZ_TYPES_MAX;
}

int tzrule_parse(const unsigned char *buf, size_t len, struct tzrule **out,
		 char *why, size_t whylen)
{
	struct tzif_counts c1, c2;
	const unsigned char *p, *types, *idx;
	struct tzrule *tz = NULL;
	char footer[128];
	size_t off, flen;
	int rc = JG_ERR_PARSE;

	*out = NULL;
	if (len < 44 || memcmp(buf, "TZif", 4) != 0 || buf[4] < '2') {
		why_set(why, whylen, "not a TZif version 2+ file");
		return JG_ERR_PARSE;
	}
	read_counts(buf, &c1);
	if (!counts_ok(&c1))
		goto bad;
	off = 44 + block_len(&c1, 4);
	if (off + 44 > len || memcmp(buf + off, "TZif", 4) != 0)
		goto bad;
	read_counts(buf + off, &c2);
	if (!counts_ok(&c2))
		goto bad;
	p = buf + off + 44;
	if ((size_t)(p - buf) + block_len(&c2, 8) + 2 > len)
		goto bad;
	idx = p + c2.time * 8;
	types = idx + c2.time;
	tz = calloc(1, sizeof(*tz));
	if (tz == NULL)
		return JG_ERR_NOMEM;
	tz->times = calloc(c2.time ? c2.time : 1, sizeof(*tz->times));
	tz->offs = calloc(c2.time ? c2.time : 1, sizeof(*tz->offs));
	if (tz->times == NULL || tz->offs == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	tz->ntimes = c2.time;
	for (size_t i = 0; i < c2.time; i++) {
		if (idx[i] >= c2.type || (i > 0 && be64(p + i * 8) <= tz->times[i - 1]))
			goto bad;
		tz->times[i] = be64(p + i * 8);
		tz->offs[i] = (int32_t)be32(types + idx[i] * 6u);
	}
	tz->first_off = (int32_t)be32(types);
	/* the footer: "\nTZ\n" right after the block */
	off = (size_t)(p - buf) + block_len(&c2, 8);
	if (buf[off] != '\n')
		goto bad;
	flen = 0;
	for (off++; off < len && buf[off] != '\n'; off++) {
		if (flen + 1 >= sizeof(footer) || buf[off] < 0x20 || buf[off] > 0x7e)
			goto bad;
		footer[flen++] = (char)buf[off];
	}
	if (off >= len)
		goto bad;
	footer[flen] = '\0';
	if ((rc = parse_footer(tz, footer, why, whylen)) != JG_OK)
		goto out;
	*out = tz;
	return JG_OK;
bad:
	why_set(why, whylen, "malformed TZif file");
	rc = JG_ERR_PARSE;
out:
	tzrule_free(tz);
	return rc;
}

static bool zone_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TZRULE_NAME_MAX || s[0] == '/' || s[0] == '.')
		return false;
	for (const char *p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return false;
		if (p[0] == '/' && (p[1] == '.' || p[1] == '/' || p[1] == '\0'))
			return false;
	}
	return true;
}

int tzrule_load(const char *name, struct tzrule **out, char *why,
		size_t whylen)
{
	char path[sizeof(TZDIR) + TZRULE_NAME_MAX + 2], err[256];
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!zone_name_ok(name)) {
		why_set(why, whylen, "not a time zone name");
		return JG_ERR_INVALID;
	}
	snprintf(path, sizeof(path), "%s/%s", TZDIR, name);
	rc = file_read_all(path, TZFILE_MAX, &buf, &len, err, sizeof(err));
	if (rc == JG_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		why_set(why, whylen, "no such time zone in " TZDIR);
		return JG_ERR_INVALID;
	}
	rc = tzrule_parse((const unsigned char *)buf, len, out, why, whylen);
	free(buf);
	return rc;
}

void tzrule_free(struct tzrule *tz)
{
	if (tz == NULL)
		return;
	free(tz->times);
	free(tz->offs);
	free(tz);
}

static int32_t footer_offset(const struct tzrule *tz, int64_t t)
{
	int64_t y, start, end;

	if (!tz->has_dst)
		return tz->std_off;
	y = year_of_days(floor_div(t + tz->std_off, 86400));
	/* the start is given in standard time, the end in daylight time */
	start = rule_local_s(y, &tz->start) - tz->std_off;
	end = rule_local_s(y, &tz->end) - tz->dst_off;
	if (start < end)
		return t >= start && t < end ? tz->dst_off : tz->std_off;
	return t >= end && t < start ? tz->std_off : tz->dst_off;
}

int32_t tzrule_offset(const struct tzrule *tz, int64_t utc_s)
{
	size_t lo = 0, hi = tz->ntimes;

	if (tz->ntimes == 0 || utc_s < tz->times[0])
		return tz->ntimes == 0 && tz->have_footer
			? footer_offset(tz, utc_s) : tz->first_off;
	if (utc_s >= tz->times[tz->ntimes - 1] && tz->have_footer)
		return footer_offset(tz, utc_s);
	while (hi - lo > 1) { /* last transition <= utc_s */
		size_t mid = lo + (hi - lo) / 2;

		if (tz->times[mid] <= utc_s)
			lo = mid;
		else
			hi = mid;
	}
	return tz->offs[lo];
}

void tzrule_local(const struct tzrule *tz, int64_t utc_s, int *wday,
		  int *minute)
{
	int64_t local = utc_s + tzrule_offset(tz, utc_s);
	int64_t days = floor_div(local, 86400);

	*minute = (int)((local - days * 86400) / 60);
	*wday = (int)(((days + 3) % 7 + 7) % 7); /* 1970-01-01: Thursday = 3 */
}
