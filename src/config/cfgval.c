#include "config/cfgval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/duration.h"
#include "util/netaddr.h"

int cfgval_err(struct cfgval_ctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	int off;

	if (c->failed || c->errlen == 0) {
		c->failed = true;
		return JG_ERR_INVALID;
	}
	c->failed = true;
	off = snprintf(c->err, c->errlen, "%s:%d: ", c->name, line);
	if (off < 0 || (size_t)off >= c->errlen)
		return JG_ERR_INVALID;
	va_start(ap, fmt);
	vsnprintf(c->err + off, c->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return JG_ERR_INVALID;
}

const char *cfgval_show(const char *s, char buf[72])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < 60; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

int cfgval_fields(struct cfgval_ctx *c, const struct ytree *m,
		  const char *what, const char *const *keys,
		  const struct ytree **vals)
{
	char shown[72];
	size_t nkeys = 0;

	while (keys[nkeys] != NULL)
		vals[nkeys++] = NULL;
	if (m->type != YTREE_MAP)
		return cfgval_err(c, m->line, "%s: expected a mapping, got %s",
				  what, ytree_type_name(m));
	for (size_t i = 0; i < m->n; i++) {
		const struct ytree *k = m->kids[2 * i];
		size_t j;

		for (j = 0; j < nkeys; j++)
			if (strcmp(k->str, keys[j]) == 0)
				break;
		if (j == nkeys)
			return cfgval_err(c, k->line, "unknown key '%s' in %s",
					  cfgval_show(k->str, shown), what);
		if (vals[j] != NULL)
			return cfgval_err(c, k->line,
					  "duplicate key '%s' in %s (first at line %d)",
					  keys[j], what, vals[j]->line);
		/* The key's line, not the value's: a block value may start on
		 * the next line, and the key is what the operator looks for. */
		vals[j] = m->kids[2 * i + 1];
	}
	return JG_OK;
}

int cfgval_missing(struct cfgval_ctx *c, const struct ytree *m,
		   const char *what, const char *key)
{
	return cfgval_err(c, m->line, "%s: missing required key '%s'", what,
			  key);
}

static const char *type_name(enum ytree_type t)
{
	switch (t) {
	case YTREE_SCALAR:
		return "a value";
	case YTREE_SEQ:
		return "a list";
	case YTREE_MAP:
		return "a mapping";
	}
	return "?";
}

int cfgval_want(struct cfgval_ctx *c, const struct ytree *v,
		enum ytree_type type, const char *key)
{
	if (v->type != type || (v->type == YTREE_SCALAR && v->plain &&
				v->len == 0))
		return cfgval_err(c, v->line, "%s: expected %s, got %s", key,
				  type_name(type), ytree_type_name(v));
	return JG_OK;
}

int cfgval_str(struct cfgval_ctx *c, const struct ytree *v, const char *key,
	       size_t maxlen, char **out)
{
	int rc;

	*out = NULL;
	rc = cfgval_want(c, v, YTREE_SCALAR, key);
	if (rc < 0)
		return rc;
	if (v->len == 0)
		return cfgval_err(c, v->line, "%s: must not be empty", key);
	if (v->len > maxlen)
		return cfgval_err(c, v->line, "%s: longer than %zu bytes", key,
				  maxlen);
	*out = strdup(v->str);
	if (*out == NULL)
		return JG_ERR_NOMEM;
	return JG_OK;
}

int cfgval_bool(struct cfgval_ctx *c, const struct ytree *v, const char *key,
		bool *out)
{
	int rc;

	*out = false;
	rc = cfgval_want(c, v, YTREE_SCALAR, key);
	if (rc < 0)
		return rc;
	/* Quoted "true" is a string, and YAML 1.1's yes/on/y are refused:
	 * a boolean is written one way only. */
	if (v->plain && strcmp(v->str, "true") == 0)
		*out = true;
	else if (!(v->plain && strcmp(v->str, "false") == 0))
		return cfgval_err(c, v->line, "%s: expected true or false",
				  key);
	return JG_OK;
}

int cfgval_int(struct cfgval_ctx *c, const struct ytree *v, const char *key,
	       int64_t lo, int64_t hi, int64_t *out)
{
	int64_t val = 0;
	uint64_t u;
	int rc;

	*out = 0;
	rc = cfgval_want(c, v, YTREE_SCALAR, key);
	if (rc < 0)
		return rc;
	if (!v->plain || v->len > 12 ||
	    num_parse_u64(v->str, v->len, 0, UINT64_MAX, &u) != JG_OK)
		goto bad;
	val = (int64_t)u;
	if (val < lo || val > hi)
		return cfgval_err(c, v->line, "%s: %lld is out of range %lld..%lld",
				  key, (long long)val, (long long)lo,
				  (long long)hi);
	*out = val;
	return JG_OK;
bad:
	return cfgval_err(c, v->line, "%s: expected a decimal integer", key);
}

int cfgval_duration(struct cfgval_ctx *c, const struct ytree *v,
		    const char *key, int64_t *out_s)
{
	int rc;

	*out_s = 0;
	rc = cfgval_want(c, v, YTREE_SCALAR, key);
	if (rc < 0)
		return rc;
	if (duration_parse(v->str, out_s) < 0)
		return cfgval_err(c, v->line,
				  "%s: bad duration (write e.g. 90s, 30m, 4h, 1h30m; "
				  "more than 0 and at most 366d)", key);
	return JG_OK;
}

int cfgval_list(struct cfgval_ctx *c, const struct ytree *v, const char *key,
		size_t max, bool allow_empty)
{
	int rc = cfgval_want(c, v, YTREE_SEQ, key);

	if (rc < 0)
		return rc;
	if (v->n == 0 && !allow_empty)
		return cfgval_err(c, v->line, "%s: must not be empty", key);
	if (v->n > max)
		return cfgval_err(c, v->line, "%s: more than %zu items", key,
				  max);
	return JG_OK;
}

void cfgval_free_strv(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int cfgval_str_list(struct cfgval_ctx *c, const struct ytree *v,
		    const char *key, size_t max, bool allow_empty,
		    bool (*valid)(const char *), const char *rule,
		    char ***out, size_t *n)
{
	char **items = NULL;
	size_t count = 0;
	char shown[72];
	int rc;

	*out = NULL;
	*n = 0;
	rc = cfgval_list(c, v, key, max, allow_empty);
	if (rc < 0)
		return rc;
	items = calloc(v->n ? v->n : 1, sizeof(*items));
	if (items == NULL)
		return JG_ERR_NOMEM;
	for (count = 0; count < v->n; count++) {
		const struct ytree *it = v->kids[count];

		rc = cfgval_str(c, it, key, YTREE_SCALAR_MAX, &items[count]);
		if (rc < 0)
			goto out;
		if (valid != NULL && !valid(items[count])) {
			rc = cfgval_err(c, it->line, "%s: '%s' is not %s", key,
					cfgval_show(items[count], shown), rule);
			count++;
			goto out;
		}
	}
	*out = items;
	*n = count;
	items = NULL;
out:
	cfgval_free_strv(items, count);
	return rc;
}

bool cfgval_principal_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= SUBJECT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

bool cfgval_env_name_ok(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
	      s[0] == '_'))
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return i <= 128;
}

void cfgval_free_principals(struct principal_list *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->v[i].name);
	free(pl->v);
	pl->v = NULL;
	pl->n = 0;
}

int cfgval_principals(struct cfgval_ctx *c, const struct ytree *v,
		      const char *key, bool allow_empty,
		      struct principal_list *out)
{
	char shown[72];
	int rc;

	out->v = NULL;
	out->n = 0;
	rc = cfgval_list(c, v, key, 1024, allow_empty);
	if (rc < 0)
		return rc;
	out->v = calloc(v->n ? v->n : 1, sizeof(*out->v));
	if (out->v == NULL)
		return JG_ERR_NOMEM;
	out->n = v->n; /* zeroed entries free cleanly on error */
	for (size_t i = 0; i < v->n; i++) {
		const struct ytree *it = v->kids[i];
		const char *name;

		rc = cfgval_want(c, it, YTREE_SCALAR, key);
		if (rc < 0)
			goto out;
		if (strncmp(it->str, "user:", 5) == 0) {
			out->v[i].kind = PRINCIPAL_USER;
			name = it->str + 5;
		} else if (strncmp(it->str, "group:", 6) == 0) {
			out->v[i].kind = PRINCIPAL_GROUP;
			name = it->str + 6;
		} else {
			rc = cfgval_err(c, it->line,
					"%s: '%s' is not a principal (write user:NAME or group:NAME)",
					key, cfgval_show(it->str, shown));
			goto out;
		}
		if (!cfgval_principal_name_ok(name)) {
			rc = cfgval_err(c, it->line,
					"%s: '%s' has an empty, too long or unprintable name",
					key, cfgval_show(it->str, shown));
			goto out;
		}
		out->v[i].name = strdup(name);
		if (out->v[i].name == NULL) {
			rc = JG_ERR_NOMEM;
			goto out;
		}
	}
	return JG_OK;
out:
	cfgval_free_principals(out);
	return rc;
}

static int key_cmp(const void *a, const void *b)
{
	const struct cfgval_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = memcmp(x->key, y->key, n);

	if (d != 0)
		return d;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

int cfgval_unique(struct cfgval_ctx *c, struct cfgval_key *v, size_t n,
		  const char *what, bool show)
{
	const struct cfgval_key *rep = NULL, *first = NULL;
	char shown[72], buf[SUBJECT_NAME_MAX + 1];

	/* Sorting keeps this O(n log n) on big identity lists; within equal
	 * keys lines ascend, so a run's second item is its first repeat. */
	if (n > 1)
		qsort(v, n, sizeof(*v), key_cmp);
	for (size_t i = 1; i < n; i++) {
		if (v[i].len != v[i - 1].len ||
		    memcmp(v[i].key, v[i - 1].key, v[i].len) != 0)
			continue;
		if (i >= 2 && v[i - 1].len == v[i - 2].len &&
		    memcmp(v[i - 1].key, v[i - 2].key, v[i].len) == 0)
			continue; /* a third or later copy */
		if (rep == NULL || v[i].line < rep->line) {
			rep = &v[i];
			first = &v[i - 1];
		}
	}
	if (rep == NULL)
		return JG_OK;
	if (!show)
		return cfgval_err(c, rep->line, "duplicate %s (first at line %d)",
				  what, first->line);
	snprintf(buf, sizeof(buf), "%.*s",
		 (int)(rep->len < SUBJECT_NAME_MAX ? rep->len : SUBJECT_NAME_MAX),
		 (const char *)rep->key);
	return cfgval_err(c, rep->line, "duplicate %s '%s' (first at line %d)",
			  what, cfgval_show(buf, shown), first->line);
}

int cfgval_unique_names(struct cfgval_ctx *c, const void *base, size_t n,
			size_t stride, size_t name_off, size_t line_off,
			const char *what)
{
	struct cfgval_key *keys = calloc(n ? n : 1, sizeof(*keys));
	int rc;

	if (keys == NULL)
		return JG_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *elem = (const char *)base + i * stride;
		const char *name = *(char *const *)(const void *)(elem + name_off);
		int line;

		memcpy(&line, elem + line_off, sizeof(line));
		keys[i] = (struct cfgval_key){name, strlen(name), line};
	}
	rc = cfgval_unique(c, keys, n, what, true);
	free(keys);
	return rc;
}

/* A string checked by valid; rule describes it in the message. */
int cfgval_checked(struct cfgval_ctx *c, const struct ytree *v,
		   const char *key, bool (*valid)(const char *),
		   const char *rule, bool echo, char **out)
{
	char shown[72];
	int rc = cfgval_str(c, v, key, YTREE_SCALAR_MAX, out);

	if (rc < 0)
		return rc;
	if (!valid(*out)) {
		if (echo)
			rc = cfgval_err(c, v->line, "%s: '%s' is not %s", key,
					cfgval_show(*out, shown), rule);
		else
			rc = cfgval_err(c, v->line, "%s: not %s", key, rule);
		free(*out);
		*out = NULL;
	}
	return rc;
}

int cfgval_name(struct cfgval_ctx *c, const struct ytree *v, const char *key,
		char **out)
{
	return cfgval_checked(c, v, key, config_name_valid,
			      "a valid name (letters, digits, '.', '_', '-'; "
			      "starting with a letter or digit; at most 128)",
			      true, out);
}

bool cfgval_listen_ok(const char *s)
{
	struct netaddr a;

	return netaddr_parse(s, 1, &a, NULL, 0) == JG_OK;
}
