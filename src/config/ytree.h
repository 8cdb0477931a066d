/* A small, bounded YAML tree for the config loader, built from libyaml's
 * event stream.  Only the plain data subset is accepted: one document of
 * mappings, sequences and scalars.  Anchors, aliases and tags are refused so
 * that a config means exactly what it shows (no "billion laughs", no
 * type-changing tags), and depth, scalar length and node count are bounded
 * so that an input can never make the loader allocate what it chose. */
#ifndef JG_CONFIG_YTREE_H
#define JG_CONFIG_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define YTREE_DEPTH_MAX 32
#define YTREE_SCALAR_MAX 4096
#define YTREE_NODES_MAX 100000

enum ytree_type { YTREE_SCALAR, YTREE_SEQ, YTREE_MAP };

struct ytree {
	enum ytree_type type;
	int line;     /* 1-based line where the node starts */
	/* Scalars: NUL-terminated text (no embedded NUL: refused while
	 * building); plain is true for an unquoted scalar, so a plain empty
	 * scalar is YAML's null while '' is an empty string. */
	char *str;
	size_t len;
	bool plain;
	/* Sequences: kids[0..n).  Mappings: kids[2i] is the key (always a
	 * scalar), kids[2i+1] its value, n counts entries (pairs).  nkids
	 * counts the slots in use (a key may still wait for its value). */
	struct ytree **kids;
	size_t n;
	size_t nkids;
	size_t cap;
};

/* Parses text (len bytes) into a tree.  An empty stream gives *out == NULL
 * and 0.  On error returns JG_ERR_PARSE (or JG_ERR_NOMEM), *out is NULL and
 * err holds "NAME:LINE: message".  Caller owns *out (ytree_free). */
int ytree_parse(const char *name, const char *text, size_t len,
		struct ytree **out, char *err, size_t errlen) JG_WUR;
void ytree_free(struct ytree *t);

/* Short name of a node's type for messages: "a scalar", "a list", ... */
const char *ytree_type_name(const struct ytree *t);

#endif
