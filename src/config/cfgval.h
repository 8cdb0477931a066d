/* Typed reading of config values out of a ytree: every getter checks the
 * node's YAML type, its syntax and its bounds, and on failure records one
 * "FILE:LINE: message" in the context.  Only the first error is kept, so the
 * operator sees the earliest thing the loader tripped on, never a cascade.
 *
 * Values are echoed in messages only where they cannot be secret (keys,
 * enumerations, names); they are cut short and non-printable bytes are
 * replaced. */
#ifndef JG_CONFIG_CFGVAL_H
#define JG_CONFIG_CFGVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/ytree.h"
#include "core/principal.h"
#include "util/err.h"

struct cfgval_ctx {
	const char *name; /* file name used in messages */
	char *err;
	size_t errlen;
	bool failed;
};

/* Records "NAME:LINE: message" unless an error is already recorded.
 * Returns JG_ERR_INVALID so callers can write `return cfgval_err(...)`. */
int cfgval_err(struct cfgval_ctx *c, int line, const char *fmt, ...)
	JG_PRINTF(3, 4);

/* Copies s for a message: at most 60 printable bytes, others as '?'. */
const char *cfgval_show(const char *s, char buf[72]);

/* Splits mapping m into the values of the allowed keys (vals[i] for
 * keys[i], NULL when absent; keys is NULL-terminated).  Unknown and
 * repeated keys are errors naming the key's line; what names the mapping
 * in messages ("resource", "oidc", ...). */
int cfgval_fields(struct cfgval_ctx *c, const struct ytree *m,
		  const char *what, const char *const *keys,
		  const struct ytree **vals) JG_WUR;
/* A required key is missing from mapping m. */
int cfgval_missing(struct cfgval_ctx *c, const struct ytree *m,
		   const char *what, const char *key);

/* v must be of the given type; key names it in messages. */
int cfgval_want(struct cfgval_ctx *c, const struct ytree *v,
		enum ytree_type type, const char *key) JG_WUR;
/* A non-empty scalar, copied into *out (caller frees). */
int cfgval_str(struct cfgval_ctx *c, const struct ytree *v, const char *key,
	       size_t maxlen, char **out) JG_WUR;
/* A non-empty scalar accepted by valid; rule describes it in the message,
 * which echoes the value only with echo (never for what may hold a
 * secret, such as a URL). */
int cfgval_checked(struct cfgval_ctx *c, const struct ytree *v,
		   const char *key, bool (*valid)(const char *),
		   const char *rule, bool echo, char **out) JG_WUR;
/* "ADDRESS:PORT" with a numeric IPv4 or [IPv6] address, port 1..65535:
 * the same parser the listeners use, so what loads also binds. */
bool cfgval_listen_ok(const char *s);
/* A name following config_name_valid. */
int cfgval_name(struct cfgval_ctx *c, const struct ytree *v, const char *key,
		char **out) JG_WUR;
/* Plain `true` or `false`, nothing else. */
int cfgval_bool(struct cfgval_ctx *c, const struct ytree *v, const char *key,
		bool *out) JG_WUR;
/* A plain decimal integer in [lo, hi] (no sign, no leading zeros). */
int cfgval_int(struct cfgval_ctx *c, const struct ytree *v, const char *key,
	       int64_t lo, int64_t hi, int64_t *out) JG_WUR;
/* A duration such as "90s", "1h30m" (util/duration.h). */
int cfgval_duration(struct cfgval_ctx *c, const struct ytree *v,
		    const char *key, int64_t *out_s) JG_WUR;
/* A list of at most max items (an empty list is allowed only if
 * allow_empty). */
int cfgval_list(struct cfgval_ctx *c, const struct ytree *v, const char *key,
		size_t max, bool allow_empty) JG_WUR;
/* A list of non-empty strings, each checked by valid (may be NULL) and
 * described by rule in its message.  *out and *n own the copies. */
int cfgval_str_list(struct cfgval_ctx *c, const struct ytree *v,
		    const char *key, size_t max, bool allow_empty,
		    bool (*valid)(const char *), const char *rule,
		    char ***out, size_t *n) JG_WUR;
/* A list of "user:NAME" / "group:NAME". */
int cfgval_principals(struct cfgval_ctx *c, const struct ytree *v,
		      const char *key, bool allow_empty,
		      struct principal_list *out) JG_WUR;
void cfgval_free_strv(char **v, size_t n);
void cfgval_free_principals(struct principal_list *pl);

/* A name used as a user or group in a principal, or as an identity's group:
 * 1..255 bytes, no control characters. */
bool cfgval_principal_name_ok(const char *s);
/* An environment variable name: [A-Za-z_][A-Za-z0-9_]{0,127}. */
bool cfgval_env_name_ok(const char *s);

/* One item for cfgval_unique: key bytes, and the line that defined it. */
struct cfgval_key {
	const void *key;
	size_t len;
	int line;
};
/* Fails on the first (by line) repeat of a key among v[0..n) (v is
 * reordered).  what names the kind of key; with show the key itself is
 * echoed. */
int cfgval_unique(struct cfgval_ctx *c, struct cfgval_key *v, size_t n,
		  const char *what, bool show) JG_WUR;
/* cfgval_unique over the string member at name_off (and the int line
 * member at line_off) of n structs of size stride starting at base: the
 * "no two resources/policies/identities with one name" rule. */
int cfgval_unique_names(struct cfgval_ctx *c, const void *base, size_t n,
			size_t stride, size_t name_off, size_t line_off,
			const char *what) JG_WUR;

#endif
