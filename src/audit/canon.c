#include "audit/canon.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

/* Output buffer that refuses to grow past CANON_MAX_LEN, so a hostile value
 * can never make us allocate without bound. */
struct obuf {
	char *p;
	size_t len, cap;
};

static int ob_put(struct obuf *b, const void *data, size_t n)
{
	if (n > CANON_MAX_LEN - b->len)
		return JG_ERR_TOOBIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > CANON_MAX_LEN + 1)
			cap = CANON_MAX_LEN + 1;
		np = realloc(b->p, cap);
		if (!np)
			return JG_ERR_NOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return JG_OK;
}

static int ob_putc(struct obuf *b, char c)
{
	return ob_put(b, &c, 1);
}

/* Walks a UTF-8 string as UTF-16 code units: a code point above U+FFFF
 * yields its high surrogate, then its low one. */
struct u16_iter {
	const unsigned char *s;
	size_t len, i;
	uint16_t low;
	bool has_low;
};

static bool u16_next(struct u16_iter *it, uint16_t *unit)
{
	uint32_t cp;

	if (it->has_low) {
		it->has_low = false;
		*unit = it->low;
		return true;
	}
	if (it->i >= it->len)
		return false;
	(void)text_utf8_next(it->s, it->len, &it->i, &cp);
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*unit = (uint16_t)(0xD800 | (cp >> 10));
		it->low = (uint16_t)(0xDC00 | (cp & 0x3FF));
		it->has_low = true;
	} else {
		*unit = (uint16_t)cp;
	}
	return true;
}

int canon_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	struct u16_iter ia = { (const unsigned char *)a, alen, 0, 0, false };
	struct u16_iter ib = { (const unsigned char *)b, blen, 0, 0, false };

	for (;;) {
		uint16_t ua, ub;
		bool ha = u16_next(&ia, &ua), hb = u16_next(&ib, &ub);

		if (!ha || !hb)
			return (int)ha - (int)hb; /* a proper prefix sorts first */
		if (ua != ub)
			return ua < ub ? -1 : 1;
	}
}

static int put_utf8_string(struct obuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	int rc;

	if ((rc = ob_putc(b, '"')) < 0)
		return rc;
	/* Copy runs of literal bytes at once; only '"', '\\' and C0 controls
	 * are escaped (RFC 8785 3.2.2.2), everything else stays UTF-8. */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		if ((rc = ob_put(b, s + run, i - run)) < 0 ||
		    (rc = ob_put(b, esc, elen)) < 0)
			return rc;
		run = i + 1;
	}
	if ((rc = ob_put(b, s + run, len - run)) < 0)
		return rc;
	return ob_putc(b, '"');
}

/* A member name must be valid UTF-8 (its sort order is defined on it); a
 * string value that is not is escaped (util/text.h), so a hostile name
 * can never make an audit event unwritable.  The escaped form is what is
 * stored and hashed, and canonicalising it again gives the same bytes. */
static int put_string(struct obuf *b, const char *s, size_t len, bool is_key)
{
	char *esc;
	size_t elen;
	int rc;

	if (text_utf8_valid(s, len))
		return put_utf8_string(b, s, len);
	if (is_key)
		return JG_ERR_INVALID;
	elen = text_escaped_len(s, len, 0);
	if (elen > CANON_MAX_LEN)
		return JG_ERR_TOOBIG;
	esc = malloc(elen + 1);
	if (!esc)
		return JG_ERR_NOMEM;
	text_escape(esc, elen + 1, s, len, 0);
	rc = put_utf8_string(b, esc, elen);
	free(esc);
	return rc;
}

json_t *canon_stringn(const char *s, size_t len)
{
	char *esc;
	size_t elen;
	json_t *v;

	if (s == NULL)
		return json_null();
	if (text_utf8_valid(s, len))
		return json_stringn_nocheck(s, len);
	elen = text_escaped_len(s, len, 0);
	esc = malloc(elen + 1);
	if (!esc)
		return NULL;
	text_escape(esc, elen + 1, s, len, 0);
	v = json_stringn_nocheck(esc, elen);
	free(esc);
	return v;
}

json_t *canon_string(const char *s)
{
	return canon_stringn(s, s ? strlen(s) : 0);
}

struct member {
	const char *key;
	size_t klen;
	json_t *val;
};

static int member_cmp(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;

	return canon_key_cmp(a->key, a->klen, b->key, b->klen);
}

static int put_value(struct obuf *b, const json_t *v, int depth);

static int put_object(struct obuf *b, const json_t *v, int depth)
{
	/* jansson has no const iteration API; nothing here modifies v. */
	json_t *obj = (json_t *)v;
	size_t n = json_object_size(obj), i = 0;
	struct member *m = NULL;
	void *it;
	int rc;

	if (n > 0) {
		m = calloc(n, sizeof(*m));
		if (!m)
			return JG_ERR_NOMEM;
	}
	for (it = json_object_iter(obj); it && i < n;
	     it = json_object_iter_next(obj, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].klen = json_object_iter_key_len(it);
		m[i].val = json_object_iter_value(it);
	}
	n = i;
	if (n > 1)
		qsort(m, n, sizeof(*m), member_cmp);
	if ((rc = ob_putc(b, '{')) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if ((i > 0 && (rc = ob_putc(b, ',')) < 0) ||
		    (rc = put_string(b, m[i].key, m[i].klen, true)) < 0 ||
		    (rc = ob_putc(b, ':')) < 0 ||
		    (rc = put_value(b, m[i].val, depth + 1)) < 0)
			goto out;
	}
	rc = ob_putc(b, '}');
out:
	free(m);
	return rc;
}

static int put_value(struct obuf *b, const json_t *v, int depth)
{
	char num[32];
	json_int_t iv;
	size_t i;
	int rc;

	if (depth > CANON_MAX_DEPTH)
		return JG_ERR_INVALID;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return put_object(b, v, depth);
	case JSON_ARRAY:
		if ((rc = ob_putc(b, '[')) < 0)
			return rc;
		for (i = 0; i < json_array_size(v); i++) {
			if ((i > 0 && (rc = ob_putc(b, ',')) < 0) ||
			    (rc = put_value(b, json_array_get(v, i), depth + 1)) < 0)
				return rc;
		}
		return ob_putc(b, ']');
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v), false);
	case JSON_INTEGER:
		iv = json_integer_value(v);
		if (iv > CANON_MAX_INT || iv < -CANON_MAX_INT)
			return JG_ERR_INVALID;
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, iv);
		return ob_put(b, num, strlen(num));
	case JSON_REAL:
		/* ES6 shortest round-trip formatting is not worth carrying
		 * for values jitgate never emits; see canon.h. */
		return JG_ERR_INVALID;
	case JSON_TRUE:
		return ob_put(b, "true", 4);
	case JSON_FALSE:
		return ob_put(b, "false", 5);
	case JSON_NULL:
		return ob_put(b, "null", 4);
	}
	return JG_ERR_INVALID;
}

int canon_json(const json_t *v, char **out, size_t *outlen)
{
	struct obuf b = { NULL, 0, 0 };
	int rc;

	*out = NULL;
	if (outlen)
		*outlen = 0;
	if (!v)
		return JG_ERR_INVALID;
	rc = put_value(&b, v, 1);
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	if (outlen)
		*outlen = b.len;
	return JG_OK;
}
