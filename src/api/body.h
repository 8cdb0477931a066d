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

/* The fast path for a body of plain strings (the decision API's: every
 * field of spec a FIELD_STRING, BODY_STRINGS_MAX at most): an object of
 * known fields, each at most once, every value a string of printable
 * ASCII without escapes of at most API_STRING_MAX bytes, every required
 * field present.  true: body_parse would accept it with the same values;
 * vals[i] (spec order) points into buf, NUL-terminated in place (buf is
 * changed: the closing quotes), NULL for an absent field.  false: buf is
 * untouched and body_parse decides, with its messages. */
#define BODY_STRINGS_MAX 8
bool body_strings(char *buf, size_t len, const struct field_spec *spec, size_t nspec,
		  const char **vals);

/* Accessors that return NULL / 0 / false for an absent or null member. */
const char *body_str(const json_t *o, const char *name);
long long body_int(const json_t *o, const char *name);
bool body_bool(const json_t *o, const char *name);

#endif
