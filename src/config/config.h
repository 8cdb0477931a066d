/* The configuration loader (design section 3): one YAML file into the
 * typed model of core/model.h.  A loaded config is immutable; a reload
 * builds a new one and swaps it in whole. */
#ifndef JG_CONFIG_CONFIG_H
#define JG_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "util/err.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* bytes */
/* Loads and validates path.  On failure returns a negative code, *out is
 * NULL and err holds "FILE:LINE: message".  Caller owns *out. */
int config_load(const char *path, struct config **out, char *err,
		size_t errlen) JG_WUR;
/* Same from a buffer; name is used in messages. */
int config_parse(const char *name, const char *text, size_t len,
		 struct config **out, char *err, size_t errlen) JG_WUR;
void config_free(struct config *cfg);

/* True when s follows the name rule (CONFIG_NAME_MAX, core/model.h). */
bool config_name_valid(const char *s);
/* True when s is an audit action of design section 5, or "*". */
bool config_notify_event_valid(const char *s);

#endif
