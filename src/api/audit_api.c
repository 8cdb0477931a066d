/* The audit endpoints: paged listing, streamed export, verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/render.h"
#include "audit/chain.h"

#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_PAGE_MAX 1000
#define EXPORT_CHUNK 256

struct audit_list_ctx {
	json_t *events;
	long limit;
	int64_t last;
	bool bad;
};

static int list_one(void *arg, int64_t seq, const char *event)
{
	struct audit_list_ctx *l = arg;
	json_t *ev = json_loads(event, 0, NULL);

	if (ev == NULL) {
		l->bad = true;
		return 1;
	}
	json_array_append_new(l->events, ev);
	l->last = seq;
	return (long)json_array_size(l->events) >= l->limit ? 1 : 0;
}

static const char *opt_arg(struct conn *c, const char *name)
{
	const char *v = conn_arg(c, name);

	return v && *v ? v : NULL;
}

void handle_audit_list(struct conn *c)
{
	struct audit_list_ctx l = {.limit = AUDIT_PAGE_DEFAULT};
	long after = 0;
	struct audit_filter f;
	int rc;

	if (!conn_arg_long(c, "after", 0, 0x7fffffffffffffffL, &after) ||
	    !conn_arg_long(c, "limit", 1, AUDIT_PAGE_MAX, &l.limit))
		return;
	f.after_seq = after;
	f.subject = selftest_audit_subject(c);
	if (f.subject == NULL)
		f.subject = opt_arg(c, "subject");
	f.resource = opt_arg(c, "resource");
	f.action = opt_arg(c, "action");
	l.events = json_array();
	l.last = after;
	rc = l.events ? store_audit_scan(c->deps->store, &f, list_one, &l) : JG_ERR_NOMEM;
	if (rc < 0 || l.bad) {
		json_decref(l.events);
		conn_fail(c, JG_ERR_STORE, "the audit log is not readable");
		return;
	}
	/* next_after is where to continue (also for --follow when the page
	 * was short) */
	conn_reply(c, 200, json_pack("{s:o, s:I}", "events", l.events, "next_after",
				     (json_int_t)l.last));
}

static int verify_one(void *arg, int64_t seq, const char *event)
{
	struct audit_verifier *v = arg;

	(void)seq;
	/* the verifier keeps the first failure; stop reading there */
	return audit_verifier_feed_line(v, event, strlen(event)) == JG_OK ? 0 : 1;
}

void handle_audit_verify(struct conn *c)
{
	struct audit_filter f = {0};
	struct audit_verifier *v = NULL;
	struct audit_verify_result res;
	int rc = audit_verifier_new(&v);

	if (rc == JG_OK)
		rc = store_audit_scan(c->deps->store, &f, verify_one, v);
	if (rc < 0) {
		audit_verifier_free(v);
		conn_fail(c, JG_ERR_STORE, "the audit log is not readable");
		return;
	}
	audit_verifier_result(v, &res);
	audit_verifier_free(v);
	if (res.ok)
		conn_reply(c, 200, json_pack("{s:b, s:I, s:s, s:I}", "ok", 1, "count",
					     (json_int_t)res.count, "head", res.head,
					     "head_seq", (json_int_t)res.head_seq));
	else
		conn_reply(c, 200, json_pack("{s:b, s:I, s:s, s:I, s:I, s:s}", "ok", 0,
					     "count", (json_int_t)res.count, "head",
					     res.head, "head_seq", (json_int_t)res.head_seq,
					     "bad_seq", (json_int_t)res.bad_seq, "reason",
					     res.reason));
}

/* Streams the log a chunk of rows at a time, so an export of any size
 * needs bounded memory. */
struct export_ctx {
	struct store *store;
	int64_t after;
	char *buf;
	size_t len, off;
	bool eof;
};

struct export_fill {
	struct export_ctx *x;
	FILE *f;
	int n;
};

static int export_one(void *arg, int64_t seq, const char *event)
{
	struct export_fill *fl = arg;

	fputs(event, fl->f);
	fputc('\n', fl->f);
	fl->x->after = seq;
	return ++fl->n >= EXPORT_CHUNK ? 1 : 0;
}

static ssize_t export_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct export_ctx *x = cls;
	size_t n;

	(void)pos;
	if (x->off == x->len) {
		struct audit_filter f = {.after_seq = x->after};
		struct export_fill fl = {.x = x};
		int rc;

		free(x->buf);
		x->buf = NULL;
		x->len = x->off = 0;
		if (x->eof)
			return MHD_CONTENT_READER_END_OF_STREAM;
		fl.f = open_memstream(&x->buf, &x->len);
		if (fl.f == NULL)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		rc = store_audit_scan(x->store, &f, export_one, &fl);
		fclose(fl.f);
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (fl.n < EXPORT_CHUNK)
			x->eof = true;
		if (x->len == 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = x->len - x->off < max ? x->len - x->off : max;
	memcpy(out, x->buf + x->off, n);
	x->off += n;
	return (ssize_t)n;
}

static void export_free(void *cls)
{
	struct export_ctx *x = cls;

	free(x->buf);
	free(x);
}

struct MHD_Response *audit_export_response(struct conn *c)
{
	struct export_ctx *x = calloc(1, sizeof(*x));
	struct MHD_Response *r;

	if (x == NULL)
		return NULL;
	x->store = c->deps->store;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, export_read, x,
					      export_free);
	if (r == NULL) {
		free(x);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	return r;
}
