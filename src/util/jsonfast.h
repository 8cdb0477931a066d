/* A fast path in front of json_loadb for the small, plain JSON documents
 * read on hot paths (request bodies, JWT headers and claims).
 *
 * jsonfast_parse builds the jansson value of buf when buf keeps to a
 * plain subset of JSON: objects, arrays, strings of printable ASCII
 * without escapes, integers of at most 18 digits without leading zeros,
 * true, false, null, nesting at most JSONFAST_DEPTH_MAX deep, no
 * duplicate key in any object.  For such input the value is exactly the
 * one json_loadb(buf, len, JSON_REJECT_DUPLICATES) returns.  For anything
 * else (escapes, non-ASCII, reals, long numbers, duplicates, deeper
 * nesting, any syntax error) it returns NULL, and the caller parses with
 * json_loadb, which then gives its usual value or error: the fast path
 * never accepts what json_loadb refuses and never words an error itself. */
#ifndef JG_UTIL_JSONFAST_H
#define JG_UTIL_JSONFAST_H

#include <jansson.h>
#include <stddef.h>

#define JSONFAST_DEPTH_MAX 16

json_t *jsonfast_parse(const char *buf, size_t len);

/* jsonfast_parse, then json_loadb(buf, len, JSON_REJECT_DUPLICATES, err)
 * when the fast path declines. */
json_t *jsonfast_load(const char *buf, size_t len, json_error_t *err);

#endif
