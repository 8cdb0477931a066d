#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/text.h"

static enum log_level min_level = LOG_LVL_INFO;

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void log_msg(enum log_level lvl, const char *func, const char *ctx,
	     const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char line[1024], safe[4 * sizeof(line)];
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
	/* names, reasons and claims come from outside: a newline in one must
	 * not end this line and forge the next, and stray bytes stay visible */
	text_escape(safe, sizeof(safe), line, strlen(line), TEXT_ESC_CONTROL);
	/* one write per line so concurrent threads do not interleave */
	fprintf(stderr, "%s\n", safe);
}
