/* Logging to stderr: one line per event with level, function and a context
 * id (request, session).  Secrets must never be passed here.  The line is
 * escaped as a whole (util/text.h, TEXT_ESC_CONTROL): a control character
 * or stray byte in a name cannot end the line or forge another, so callers
 * may pass outside text as it is. */
#ifndef JG_UTIL_LOG_H
#define JG_UTIL_LOG_H

#include "util/err.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *func, const char *ctx,
	     const char *fmt, ...) JG_PRINTF(4, 5);

#define log_debug(ctx, ...) log_msg(LOG_LVL_DEBUG, __func__, ctx, __VA_ARGS__)
#define log_info(ctx, ...) log_msg(LOG_LVL_INFO, __func__, ctx, __VA_ARGS__)
#define log_warn(ctx, ...) log_msg(LOG_LVL_WARN, __func__, ctx, __VA_ARGS__)
#define log_error(ctx, ...) log_msg(LOG_LVL_ERROR, __func__, ctx, __VA_ARGS__)

#endif
