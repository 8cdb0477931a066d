#include "util/jsonfast.h"

#include <stdbool.h>
#include <string.h>

#define INT_DIGITS_MAX 18 /* always fits json_int_t (long long) */

struct fp {
	const char *buf;
	size_t len, pos;
};

static void skip_ws(struct fp *p)
{
	while (p->pos < p->len && (p->buf[p->pos] == ' ' || p->buf[p->pos] == '\t' ||
				   p->buf[p->pos] == '\n' || p->buf[p->pos] == '\r'))
		p->pos++;
}

/* After a number or literal: json_loadb's lexer would read on through
 * letters and digits, so only these may follow for the token to end. */
static bool at_delimiter(const struct fp *p)
{
	char c;

	if (p->pos >= p->len)
		return true;
	c = p->buf[p->pos];
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' ||
	       c == '}';
}

/* A quoted string of printable ASCII without escapes at p->pos: sets *s
 * and *n to its contents and moves past the closing quote. */
static bool plain_string(struct fp *p, const char **s, size_t *n)
{
	size_t j;

	if (p->pos >= p->len || p->buf[p->pos] != '"')
		return false;
	for (j = p->pos + 1; j < p->len && p->buf[j] != '"'; j++) {
		unsigned char c = (unsigned char)p->buf[j];

		if (c < 0x20 || c > 0x7e || c == '\\')
			return false;
	}
	if (j >= p->len)
		return false;
	*s = p->buf + p->pos + 1;
	*n = j - p->pos - 1;
	p->pos = j + 1;
	return true;
}

static json_t *integer(struct fp *p)
{
	bool neg = false;
	long long v = 0;
	size_t digits = 0;

	if (p->buf[p->pos] == '-') {
		neg = true;
		p->pos++;
	}
	if (p->pos >= p->len || p->buf[p->pos] < '0' || p->buf[p->pos] > '9')
		return NULL;
	if (p->buf[p->pos] == '0') {
		p->pos++; /* a leading zero stands alone ("01" is not JSON) */
	} else {
		while (p->pos < p->len && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9') {
			if (++digits > INT_DIGITS_MAX)
				return NULL;
			v = v * 10 + (p->buf[p->pos] - '0');
			p->pos++;
		}
	}
	/* a fraction or exponent makes a real: json_loadb's business */
	if (!at_delimiter(p))
		return NULL;
	return json_integer(neg ? -v : v);
}

static json_t *literal(struct fp *p, const char *word, json_t *(*make)(void))
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->buf + p->pos, word, n) != 0)
		return NULL;
	p->pos += n;
	return at_delimiter(p) ? make() : NULL;
}

static json_t *make_true(void)
{
	return json_true();
}

static json_t *make_false(void)
{
	return json_false();
}

static json_t *make_null(void)
{
	return json_null();
}

static json_t *value(struct fp *p, int depth);

static json_t *object(struct fp *p, int depth)
{
	json_t *o = json_object();

	p->pos++; /* '{' */
	skip_ws(p);
	if (o != NULL && p->pos < p->len && p->buf[p->pos] == '}') {
		p->pos++;
		return o;
	}
	while (o != NULL) {
		const char *k;
		size_t kl;
		json_t *v;

		if (!plain_string(p, &k, &kl) || json_object_getn(o, k, kl) != NULL)
			break;
		skip_ws(p);
		if (p->pos >= p->len || p->buf[p->pos] != ':')
			break;
		p->pos++;
		v = value(p, depth);
		if (v == NULL || json_object_setn_new_nocheck(o, k, kl, v) != 0)
			break;
		skip_ws(p);
		if (p->pos < p->len && p->buf[p->pos] == ',') {
			p->pos++;
			skip_ws(p);
			continue;
		}
		if (p->pos < p->len && p->buf[p->pos] == '}') {
			p->pos++;
			return o;
		}
		break;
	}
	json_decref(o);
	return NULL;
}

static json_t *array(struct fp *p, int depth)
{
	json_t *a = json_array();

	p->pos++; /* '[' */
	skip_ws(p);
	if (a != NULL && p->pos < p->len && p->buf[p->pos] == ']') {
		p->pos++;
		return a;
	}
	while (a != NULL) {
		json_t *v = value(p, depth);

		if (v == NULL || json_array_append_new(a, v) != 0)
			break;
		skip_ws(p);
		if (p->pos < p->len && p->buf[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->buf[p->pos] == ']') {
			p->pos++;
			return a;
		}
		break;
	}
	json_decref(a);
	return NULL;
}

static json_t *value(struct fp *p, int depth)
{
	const char *s;
	size_t n;

	skip_ws(p);
	if (p->pos >= p->len)
		return NULL;
	switch (p->buf[p->pos]) {
	case '{':
		return depth < JSONFAST_DEPTH_MAX ? object(p, depth + 1) : NULL;
	case '[':
		return depth < JSONFAST_DEPTH_MAX ? array(p, depth + 1) : NULL;
	case '"':
		return plain_string(p, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
	case 't':
		return literal(p, "true", make_true);
	case 'f':
		return literal(p, "false", make_false);
	case 'n':
		return literal(p, "null", make_null);
	default:
		if (p->buf[p->pos] == '-' || (p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9'))
			return integer(p);
		return NULL;
	}
}

json_t *jsonfast_parse(const char *buf, size_t len)
{
	struct fp p = {buf, len, 0};
	json_t *v;

	skip_ws(&p);
	/* json_loadb without JSON_DECODE_ANY wants an object or array */
	if (p.pos >= len || (buf[p.pos] != '{' && buf[p.pos] != '['))
		return NULL;
	v = value(&p, 0);
	if (v == NULL)
		return NULL;
	skip_ws(&p);
	if (p.pos != len) {
		json_decref(v);
		return NULL;
	}
	return v;
}

json_t *jsonfast_load(const char *buf, size_t len, json_error_t *err)
{
	json_t *v = jsonfast_parse(buf, len);

	return v ? v : json_loadb(buf, len, JSON_REJECT_DUPLICATES, err);
}
