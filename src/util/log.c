#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level min_level = LOG_LVL_INFO;

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void log_msg(enum log_level lvl, const char *func, const char *ctx,
	     const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char line[1024];
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (lvl < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s%s%s: ", ts,
		     now.tv_nsec / 1000000L, names[lvl], func,
		     ctx ? " " : "", ctx ? ctx : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so concurrent threads do not interleave */
	fprintf(stderr, "%s\n", line);
}
