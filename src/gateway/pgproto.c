#include "gateway/pgproto.h"

#include <stdlib.h>
#include <string.h>

uint32_t pgproto_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

void pgproto_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int pgproto_startup_len(const uint8_t *p, size_t n, uint32_t *len)
{
	uint32_t l;

	*len = 0;
	if (n < 4)
		return 1;
	l = pgproto_be32(p);
	if (l < 8)
		return JG_ERR_PARSE;
	if (l > PGPROTO_STARTUP_MAX)
		return JG_ERR_TOOBIG;
	*len = l;
	return 0;
}

void pgproto_startup_clear(struct pgproto_startup *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* Splits the NUL-separated name/value list of a v3 startup packet. */
static int parse_params(struct pgproto_startup *s, size_t len)
{
	size_t i = 0;

	for (;;) {
		const char *name, *value;
		size_t nl, vl;

		if (i >= len)
			return JG_ERR_PARSE; /* missing terminator */
		if (s->buf[i] == '\0')
			return i + 1 == len ? 0 : JG_ERR_PARSE;
		name = s->buf + i;
		nl = strnlen(name, len - i);
		if (i + nl >= len)
			return JG_ERR_PARSE;
		i += nl + 1;
		if (i >= len)
			return JG_ERR_PARSE;
		value = s->buf + i;
		vl = strnlen(value, len - i);
		if (i + vl >= len)
			return JG_ERR_PARSE;
		i += vl + 1;
		if (s->nparams == PGPROTO_STARTUP_PARAMS_MAX)
			return JG_ERR_TOOBIG;
		s->params[s->nparams].name = name;
		s->params[s->nparams].value = value;
		s->nparams++;
	}
}

int pgproto_startup_parse(const uint8_t *p, size_t n,
			  struct pgproto_startup *out)
{
	uint32_t len, code;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = pgproto_startup_len(p, n, &len);
	if (rc != 0)
		return rc < 0 ? rc : JG_ERR_PARSE;
	if (len != n)
		return JG_ERR_PARSE;
	code = pgproto_be32(p + 4);
	switch (code) {
	case PGPROTO_SSL_CODE:
		out->kind = PGPROTO_SSL_REQUEST;
		return n == 8 ? 0 : JG_ERR_PARSE;
	case PGPROTO_GSSENC_CODE:
		out->kind = PGPROTO_GSSENC_REQUEST;
		return n == 8 ? 0 : JG_ERR_PARSE;
	case PGPROTO_CANCEL_CODE:
		out->kind = PGPROTO_CANCEL_REQUEST;
		if (n != 16)
			return JG_ERR_PARSE;
		out->cancel_pid = pgproto_be32(p + 8);
		out->cancel_key = pgproto_be32(p + 12);
		return 0;
	default:
		break;
	}
	/* Only 3.x; minor versions above 0 are negotiated down by servers
	 * with NegotiateProtocolVersion, which we do not need: we speak 3.0
	 * to the client and to the upstream. */
	if ((code >> 16) != 3)
		return JG_ERR_PARSE;
	out->kind = PGPROTO_STARTUP;
	out->version = code;
	out->buf = malloc(n - 8 + 1);
	if (!out->buf)
		return JG_ERR_NOMEM;
	memcpy(out->buf, p + 8, n - 8);
	out->buf[n - 8] = '\0';
	rc = parse_params(out, n - 8);
	if (rc != 0) {
		pgproto_startup_clear(out);
		return rc;
	}
	return 0;
}

const char *pgproto_startup_get(const struct pgproto_startup *s,
				const char *name)
{
	for (size_t i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return s->params[i].value;
	return NULL;
}

int pgproto_msg_header(const uint8_t *p, size_t n, size_t max, uint8_t *type,
		       uint32_t *bodylen)
{
	uint32_t len;

	*type = 0;
	*bodylen = 0;
	if (n < 5)
		return 1;
	len = pgproto_be32(p + 1);
	if (len < 4)
		return JG_ERR_PARSE;
	if ((size_t)len - 4 > max)
		return JG_ERR_TOOBIG;
	*type = p[0];
	*bodylen = len - 4;
	return 0;
}

bool pgproto_framer_at_boundary(const struct pgproto_framer *f)
{
	return !f->in_body && f->hdrlen == 0;
}

/* type is one of the NUL-terminated types (a short string: a loop costs
 * less than a strchr call, once per relayed message). */
static bool type_in(const char *types, uint8_t type)
{
	if (!types || type == 0)
		return false;
	for (; *types; types++)
		if ((uint8_t)*types == type)
			return true;
	return false;
}

static bool framer_captures(const struct pgproto_framer *f, uint8_t type)
{
	return type_in(f->capture_types, type);
}

static void framer_end_msg(struct pgproto_framer *f)
{
	f->nmsgs++;
	f->in_body = false;
	if (f->on_msg && framer_captures(f, f->type))
		f->on_msg(f->arg, f->type, f->cap, f->caplen, f->bodylen);
	f->caplen = 0;
}

/* Keeps what fits of n body bytes of a captured message.  The name of a
 * Parse is kept up to PGPROTO_CAPTURE_NAME_MAX bytes and the rest of it
 * skipped, so that the statement text after it is captured too. */
static void framer_capture(struct pgproto_framer *f, const uint8_t *p,
			   size_t n)
{
	size_t room;

	if (f->cap_in_name) {
		const uint8_t *nul = memchr(p, 0, n);
		size_t nl = nul ? (size_t)(nul - p) : n;
		size_t keep = f->caplen < PGPROTO_CAPTURE_NAME_MAX ?
			      PGPROTO_CAPTURE_NAME_MAX - f->caplen : 0;

		if (keep > nl)
			keep = nl;
		memcpy(f->cap + f->caplen, p, keep);
		f->caplen += keep;
		if (!nul)
			return;
		f->cap[f->caplen++] = 0;
		f->cap_in_name = false;
		p += nl + 1;
		n -= nl + 1;
	}
	room = sizeof(f->cap) - f->caplen;
	if (n > room)
		n = room;
	memcpy(f->cap + f->caplen, p, n);
	f->caplen += n;
}

long pgproto_framer_feed(struct pgproto_framer *f, const uint8_t *p, size_t n,
			 bool stop_at_boundary)
{
	size_t i = 0;

	if ((stop_at_boundary || f->hold) && pgproto_framer_at_boundary(f))
		return 0;
	while (i < n) {
		if (!f->in_body) {
			const uint8_t *hdr = p + i;
			uint8_t type;
			uint32_t bodylen;
			int rc;

			if (f->hdrlen == 0 && n - i >= 5) {
				/* a whole header in this piece: read it there */
				i += 5;
			} else {
				size_t take = 5u - f->hdrlen;

				if (take > n - i)
					take = n - i;
				memcpy(f->hdr + f->hdrlen, p + i, take);
				f->hdrlen = (uint8_t)(f->hdrlen + take);
				i += take;
				if (f->hdrlen < 5)
					break;
				hdr = f->hdr;
			}
			rc = pgproto_msg_header(hdr, 5, PGPROTO_RELAY_MSG_MAX,
						&type, &bodylen);
			if (rc < 0)
				return rc;
			f->hdrlen = 0;
			if (type_in(f->count_types, type))
				f->ncounted++;
			f->type = type;
			f->bodylen = bodylen;
			f->remaining = bodylen;
			f->in_body = true;
			f->caplen = 0;
			f->cap_in_name = type == 'P';
		}
		if (f->remaining > 0) {
			size_t take = f->remaining;

			if (take > n - i)
				take = n - i;
			if (framer_captures(f, f->type))
				framer_capture(f, p + i, take);
			f->remaining -= (uint32_t)take;
			i += take;
		}
		if (f->remaining == 0) {
			framer_end_msg(f);
			if (stop_at_boundary || f->hold)
				break;
		}
	}
	return (long)i;
}

void pgproto_error_field(const uint8_t *body, size_t n, char code, char *buf,
			 size_t buflen)
{
	size_t i = 0;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	while (i < n && body[i] != 0) {
		char c = (char)body[i++];
		size_t l = strnlen((const char *)body + i, n - i);

		if (c == code) {
			size_t k = l < buflen - 1 ? l : buflen - 1;

			memcpy(buf, body + i, k);
			buf[k] = '\0';
			return;
		}
		i += l + 1;
	}
}

int pgproto_put_msg(struct evbuffer *out, uint8_t type, const void *body,
		    size_t bodylen)
{
	uint8_t hdr[5];
	size_t h = 0;

	if (bodylen > PGPROTO_RELAY_MSG_MAX)
		return JG_ERR_TOOBIG;
	if (type != 0)
		hdr[h++] = type;
	pgproto_put_be32(hdr + h, (uint32_t)bodylen + 4);
	h += 4;
	if (evbuffer_add(out, hdr, h) != 0)
		return JG_ERR_NOMEM;
	if (bodylen > 0 && evbuffer_add(out, body, bodylen) != 0)
		return JG_ERR_NOMEM;
	return 0;
}

/* Appends one code-tagged NUL-terminated field; C strings cannot carry a
 * NUL, so text from the client cannot break the field framing. */
static int put_field(struct evbuffer *b, char code, const char *s)
{
	if (evbuffer_add(b, &code, 1) != 0)
		return JG_ERR_NOMEM;
	if (evbuffer_add(b, s, strlen(s) + 1) != 0)
		return JG_ERR_NOMEM;
	return 0;
}

int pgproto_put_error(struct evbuffer *out, bool notice, const char *severity,
		      const char *sqlstate, const char *message)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t zero = 0;
	int rc = JG_ERR_NOMEM;
	size_t len;
	uint8_t *body;

	if (!b)
		return JG_ERR_NOMEM;
	if (put_field(b, 'S', severity) || put_field(b, 'V', severity) ||
	    put_field(b, 'C', sqlstate) || put_field(b, 'M', message) ||
	    evbuffer_add(b, &zero, 1) != 0)
		goto out;
	len = evbuffer_get_length(b);
	body = evbuffer_pullup(b, -1);
	if (!body)
		goto out;
	rc = pgproto_put_msg(out, notice ? 'N' : 'E', body, len);
out:
	evbuffer_free(b);
	return rc;
}

int pgproto_put_auth(struct evbuffer *out, uint32_t code, const void *extra,
		     size_t extralen)
{
	uint8_t hdr[9];

	if (extralen > PGPROTO_LOGIN_MSG_MAX)
		return JG_ERR_TOOBIG;
	hdr[0] = 'R';
	pgproto_put_be32(hdr + 1, (uint32_t)(8 + extralen));
	pgproto_put_be32(hdr + 5, code);
	if (evbuffer_add(out, hdr, sizeof(hdr)) != 0)
		return JG_ERR_NOMEM;
	if (extralen > 0 && evbuffer_add(out, extra, extralen) != 0)
		return JG_ERR_NOMEM;
	return 0;
}

int pgproto_put_backend_key(struct evbuffer *out, uint32_t pid, uint32_t key)
{
	uint8_t body[8];

	pgproto_put_be32(body, pid);
	pgproto_put_be32(body + 4, key);
	return pgproto_put_msg(out, 'K', body, sizeof(body));
}

int pgproto_put_param_status(struct evbuffer *out, const char *name,
			     const char *value)
{
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
	char body[1024];

	if (nl + vl > sizeof(body))
		return JG_ERR_TOOBIG;
	memcpy(body, name, nl);
	memcpy(body + nl, value, vl);
	return pgproto_put_msg(out, 'S', body, nl + vl);
}

int pgproto_put_startup(struct evbuffer *out, const char *const *names,
			const char *const *values, size_t n)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t v[4];
	int rc = JG_ERR_NOMEM;
	size_t len;
	uint8_t *body;

	if (!b)
		return JG_ERR_NOMEM;
	pgproto_put_be32(v, PGPROTO_V3);
	if (evbuffer_add(b, v, 4) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (evbuffer_add(b, names[i], strlen(names[i]) + 1) != 0 ||
		    evbuffer_add(b, values[i], strlen(values[i]) + 1) != 0)
			goto out;
	if (evbuffer_add(b, "", 1) != 0)
		goto out;
	len = evbuffer_get_length(b);
	if (len + 4 > PGPROTO_STARTUP_MAX) {
		rc = JG_ERR_TOOBIG;
		goto out;
	}
	body = evbuffer_pullup(b, -1);
	if (!body)
		goto out;
	rc = pgproto_put_msg(out, 0, body, len);
out:
	evbuffer_free(b);
	return rc;
}

int pgproto_put_cancel(struct evbuffer *out, uint32_t pid, uint32_t key)
{
	uint8_t m[16];

	pgproto_put_be32(m, 16);
	pgproto_put_be32(m + 4, PGPROTO_CANCEL_CODE);
	pgproto_put_be32(m + 8, pid);
	pgproto_put_be32(m + 12, key);
	return evbuffer_add(out, m, sizeof(m)) == 0 ? 0 : JG_ERR_NOMEM;
}
