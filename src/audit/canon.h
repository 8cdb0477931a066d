/* RFC 8785 (JSON Canonicalization Scheme) serialisation of jansson values,
 * the byte string that audit event hashes are computed over.
 *
 * Numbers: jitgate never puts a non-integer number into anything it hashes,
 * so instead of ES6 number formatting this module refuses reals outright, and
 * integers outside the I-JSON range +-(2^53 - 1) as well: both would be
 * serialised differently by different JSON libraries. */
#ifndef JG_AUDIT_CANON_H
#define JG_AUDIT_CANON_H

#include <stddef.h>

#include <jansson.h>

#include "util/err.h"

/* Deepest nesting of arrays/objects accepted (the top value is depth 1). */
#define CANON_MAX_DEPTH 32
/* Largest canonical form produced; beyond it JG_ERR_TOOBIG. */
#define CANON_MAX_LEN (16u * 1024 * 1024)
/* Largest integer magnitude accepted (I-JSON, RFC 7493 2.2). */
#define CANON_MAX_INT ((json_int_t)9007199254740991LL)

/* Serialises v canonically into a new NUL-terminated buffer *out (caller
 * frees) of *outlen bytes (outlen may be NULL).  *out is NULL on entry and on
 * failure.  A string value that is not valid UTF-8 is written escaped
 * (util/text.h: each stray byte as \xNN), never refused.  JG_ERR_INVALID
 * for reals, out-of-range integers, a member name that is not valid UTF-8,
 * nesting deeper than CANON_MAX_DEPTH; JG_ERR_TOOBIG past CANON_MAX_LEN. */
int canon_json(const json_t *v, char **out, size_t *outlen) JG_WUR;

/* A JSON string for an audit event from any bytes (text from outside:
 * user names, application_name, claims, reasons): valid UTF-8 is kept as
 * it is, stray bytes are escaped as \xNN.  Use it instead of json_pack's
 * "s", which fails on invalid UTF-8 and would make the event vanish.
 * NULL s gives JSON null.  Returns NULL only when out of memory. */
json_t *canon_string(const char *s);
json_t *canon_stringn(const char *s, size_t len);

/* Compares two UTF-8 strings in the order RFC 8785 sorts object members:
 * by their UTF-16 code units.  Returns <0, 0, >0.  Invalid UTF-8 bytes
 * sort as if each were the code point of the same value (callers validate
 * first; the order only has to be total). */
int canon_key_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
