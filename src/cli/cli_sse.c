#include "cli/cli_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int append(char **buf, size_t *len, const char *p, size_t n)
{
	char *nb;

	if (*len + n + 2 > CLI_SSE_LINE_MAX)
		return JG_ERR_TOOBIG;
	nb = realloc(*buf, *len + n + 2);
	if (nb == NULL)
		return JG_ERR_NOMEM;
	memcpy(nb + *len, p, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
	return JG_OK;
}

/* One complete line, without its LF. */
static int line(struct cli_sse *s, char *l, size_t n)
{
	const char *v, *colon;
	size_t vn, klen;
	int rc;

	if (n > 0 && l[n - 1] == '\r')
		l[--n] = '\0';
	if (n == 0) {
		int stop = s->have && s->on_event(s->ctx, s->event[0] ? s->event : "message",
						  s->id[0] ? s->id : NULL,
						  s->data ? s->data : "") != 0;

		s->dlen = 0;
		if (s->data)
			s->data[0] = '\0';
		s->event[0] = '\0';
		s->have = false;
		return stop ? CLI_SSE_STOP : JG_OK;
	}
	if (l[0] == ':')
		return JG_OK; /* a comment: keepalive */
	colon = memchr(l, ':', n);
	if (colon == NULL)
		return JG_OK; /* a field without a value: nothing jitgate sends */
	klen = (size_t)(colon - l);
	v = colon + 1;
	if (v < l + n && *v == ' ')
		v++;
	vn = n - (size_t)(v - l);
	if (klen == 4 && memcmp(l, "data", 4) == 0) {
		if (s->have && s->dlen > 0 && (rc = append(&s->data, &s->dlen, "\n", 1)) != JG_OK)
			return rc;
		if ((rc = append(&s->data, &s->dlen, v, vn)) != JG_OK)
			return rc;
		s->have = true;
	} else if (klen == 5 && memcmp(l, "event", 5) == 0) {
		snprintf(s->event, sizeof(s->event), "%.*s", (int)vn, v);
		s->have = true;
	} else if (klen == 2 && memcmp(l, "id", 2) == 0 && memchr(v, '\0', vn) == NULL) {
		snprintf(s->id, sizeof(s->id), "%.*s", (int)vn, v);
	}
	return JG_OK;
}

int cli_sse_feed(struct cli_sse *s, const char *p, size_t n)
{
	size_t start = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if ((rc = append(&s->line, &s->llen, p + start, i - start)) != JG_OK)
			return rc;
		rc = line(s, s->line, s->llen);
		s->llen = 0;
		if (rc != JG_OK)
			return rc;
		start = i + 1;
	}
	if (start < n)
		return append(&s->line, &s->llen, p + start, n - start);
	return JG_OK;
}

void cli_sse_clear(struct cli_sse *s)
{
	free(s->line);
	free(s->data);
	s->line = s->data = NULL;
	s->llen = s->dlen = 0;
	s->event[0] = s->id[0] = '\0';
	s->have = false;
}
