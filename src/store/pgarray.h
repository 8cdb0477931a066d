/* PostgreSQL array literals built a value at a time: the text form of a
 * one-dimensional array ({"a","b",NULL}), so that rows of one table go to
 * the server as one statement with one array per column
 * (INSERT ... SELECT * FROM unnest($1::bigint[], $2::text[], ...)).
 * Every text element is quoted, '"' and '\' escaped; NULL is the bare
 * word.  Any bytes are kept as they are (the server checks the
 * encoding, as it does for a plain text parameter). */
#ifndef JG_STORE_PGARRAY_H
#define JG_STORE_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct pgarray {
	char *s;    /* "{" elements..., no closing brace until pgarray_text */
	size_t len, cap;
	size_t n;   /* elements */
};

/* Adds one text element; NULL is SQL NULL. */
int pgarray_add_text(struct pgarray *a, const char *v) JG_WUR;
/* Adds one integer element; 0 is SQL NULL when zero_is_null. */
int pgarray_add_int(struct pgarray *a, int64_t v, bool zero_is_null) JG_WUR;
/* The literal of what was added ("{}" when nothing), valid until the
 * next call on a; NULL only when out of memory. */
const char *pgarray_text(struct pgarray *a);
/* Empties a for reuse, keeping its memory. */
void pgarray_reset(struct pgarray *a);
void pgarray_free(struct pgarray *a);

#endif
