/* Strict JSON request bodies: an object, no duplicate keys, only the
 * fields an endpoint knows, each of its declared type.  The caller learns
 * which field was wrong so the 400 can name it. */
#ifndef JG_API_BODY_H
#define JG_API_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define API_BODY_MAX (64 * 1024)
#define API_STRING_MAX 4096

enum field_type { FIELD_STRING, FIELD_INT, FIELD_BOOL };

struct field_spec {
	const char *name;
	enum field_type type;
	bool required;
};

/* Parses buf (len bytes; len 0 means "{}") against spec.  On success *out
 * is the object (caller decrefs).  On failure *out is NULL, msg says why
 * and *field names the offending field (or NULL for the body as a whole).
 * null values count as absent for optional fields. */
int body_parse(const char *buf, size_t len, const struct field_spec *spec,
	       size_t nspec, json_t **out, char *msg, size_t msglen,
	       const char **field) JG_WUR;

/* Accessors that return NULL / 0 / false for an absent or null member. */
const char *body_str(const json_t *o, const char *name);
long long body_int(const json_t *o, const char *name);
bool body_bool(const json_t *o, const char *name);

#endif
