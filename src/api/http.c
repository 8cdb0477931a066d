/* HTTP plumbing: the MHD daemon, body reading with its limit, bearer
 * authentication, routing, and turning answers into responses. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "api/httpaccept.h"
#include "api/httpguard.h"
#include "api/render.h"
#include "api/webui.h"
#include "core/policy.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/timeutil.h"

#define API_THREADS_MIN 2  /* one may be busy with a long answer (audit export) */
#define API_THREADS_MAX 16
#define API_IDLE_TIMEOUT_S 60

struct api {
	struct MHD_Daemon *d;
	struct api_deps *deps;
	struct websessions *sessions;
	struct weblogin *login;
	struct httpguard *guard;
	struct httpaccept *acceptor;
};

void conn_reply(struct conn *c, int status, json_t *resp)
{
	json_decref(c->resp);
	free(c->resp_text);
	c->resp_text = NULL;
	c->status = status;
	c->resp = resp;
}

void conn_reply_text(struct conn *c, int status, char *text)
{
	if (text == NULL) {
		conn_fail(c, JG_ERR_NOMEM, NULL);
		return;
	}
	conn_reply(c, status, NULL);
	c->resp_text = text;
}

void conn_error(struct conn *c, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_reply(c, status, render_error(code, msg));
}

void conn_fail(struct conn *c, int err, const char *message)
{
	static const struct { int err, status; const char *code; } map[] = {
		{JG_ERR_INVALID, 400, "bad_request"},
		{JG_ERR_PARSE, 400, "bad_request"},
		{JG_ERR_AUTH, 401, "unauthenticated"},
		{JG_ERR_FORBIDDEN, 403, "forbidden"},
		{JG_ERR_NOTFOUND, 404, "not_found"},
		{JG_ERR_CONFLICT, 409, "conflict"},
		{JG_ERR_TOOBIG, 413, "too_large"},
		{JG_ERR_STORE, 503, "unavailable"},
		{JG_ERR_UNAVAILABLE, 503, "unavailable"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].err == err) {
			conn_error(c, map[i].status, map[i].code, "%s",
				   message && *message ? message : jg_strerror(err));
			return;
		}
	}
	conn_error(c, 500, "internal", "internal error");
}

const char *conn_arg(struct conn *c, const char *name)
{
	return MHD_lookup_connection_value(c->mhd, MHD_GET_ARGUMENT_KIND, name);
}

bool conn_arg_long(struct conn *c, const char *name, long lo, long hi, long *out)
{
	const char *v = NULL;
	size_t len = 0;
	uint64_t val;

	/* with its length: "%00" decodes to a NUL, which is not "absent" */
	if (MHD_lookup_connection_value_n(c->mhd, MHD_GET_ARGUMENT_KIND, name,
					  strlen(name), &v, &len) != MHD_YES ||
	    v == NULL || len == 0)
		return true;
	if (lo < 0 || num_parse_u64(v, len, (uint64_t)lo, (uint64_t)hi,
				    &val) != JG_OK) {
		conn_error(c, 400, "bad_request", "%s: must be an integer from %ld to %ld",
			   name, lo, hi);
		return false;
	}
	*out = (long)val;
	return true;
}

static void on_engine_done(struct engine_cmd *cmd, void *arg)
{
	struct conn *c = arg;
	struct api_deps *deps = c->deps; /* c may be gone once resumed */

	(void)cmd;
	MHD_resume_connection(c->mhd);
	atomic_fetch_sub(&deps->inflight, 1);
}

void conn_submit(struct conn *c, void (*after)(struct conn *c))
{
	c->after = after;
	c->cmd.on_done = on_engine_done;
	c->cmd.on_done_arg = c;
	c->state = CONN_SUSPENDED;
	/* suspend first: the engine may finish before submit returns */
	MHD_suspend_connection(c->mhd);
	atomic_fetch_add(&c->deps->inflight, 1);
	if (engine_submit(c->deps->engine, &c->cmd) != JG_OK) {
		atomic_fetch_sub(&c->deps->inflight, 1);
		c->cmd.err = JG_ERR_UNAVAILABLE;
		snprintf(c->cmd.res.message, sizeof(c->cmd.res.message),
			 "jitgate is overloaded or shutting down; nothing was changed");
		json_decref(c->cmd.event);
		c->cmd.event = NULL;
		MHD_resume_connection(c->mhd);
	}
}

static void reply_after_audit(struct conn *c)
{
	/* the prepared answer stands unless the audit could not be made
	 * durable: then the caller is told (fail closed) */
	if (c->cmd.err != JG_OK)
		conn_fail(c, c->cmd.err, c->cmd.res.message);
}

void conn_audit_then_reply(struct conn *c, json_t *event, int status, json_t *resp)
{
	conn_reply(c, status, resp);
	memset(&c->cmd, 0, sizeof(c->cmd));
	c->cmd.op = ENG_AUDIT;
	c->cmd.event = event;
	conn_submit(c, reply_after_audit);
}

void conn_remote_addr(struct conn *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	if (ci == NULL || ci->client_addr == NULL)
		snprintf(buf, len, "unknown");
	else
		netaddr_host(ci->client_addr, buf, len);
}

static void reply_limited(struct conn *c, const struct auth_result *res)
{
	conn_error(c, 429, "too_many_requests", "%s", res->reason);
	c->retry_after_s = res->retry_after_s;
}

/* Answers a refusal from server/authsvc: 429 with Retry-After, or 401
 * after its auth.failed event (if any) is durable. */
static void answer_refusal(struct conn *c, struct auth_result *res)
{
	if (res->outcome == AUTH_LIMITED) {
		reply_limited(c, res);
		return;
	}
	if (res->event) {
		conn_audit_then_reply(c, res->event, 401,
				      render_error("unauthenticated", res->reason));
		res->event = NULL;
		return;
	}
	conn_error(c, 401, "unauthenticated", "%s", res->reason);
}

bool conn_verify(struct conn *c, struct auth_attempt *at, struct authn *who)
{
	struct auth_result res;
	char addr[64];

	conn_remote_addr(c, addr, sizeof(addr));
	at->client = addr;
	if (authsvc_authenticate(c->deps->auth, c->cfg, at, time_now_ms(), who, &res) ==
	    AUTH_OK)
		return true;
	answer_refusal(c, &res);
	return false;
}

void conn_refuse_auth(struct conn *c, const char *via, const struct auth_failure *fail)
{
	struct auth_attempt at = {.via = via};
	struct auth_result res;
	char addr[64];

	conn_remote_addr(c, addr, sizeof(addr));
	at.client = addr;
	(void)authsvc_record_failure(c->deps->auth, c->cfg, &at, fail, time_now_ms(), &res);
	answer_refusal(c, &res);
}

/* The API's one authentication entry point: every protected path comes
 * through here (a new kind of credential is added here, not beside it).
 * The browser's session cookie is used when there is no Authorization
 * header (webauth: 403 for a cookie call that fails the CSRF rules);
 * otherwise the bearer token goes through conn_verify:
 * - no credentials: 401, nothing audited (a probe is not a failure);
 * - credentials that fail: 401 with the reason; the first failure of this
 *   address and claimed subject in a minute is audited as auth.failed
 *   before the answer goes out, the others are counted (server/authsvc);
 * - an address past limits.auth_failures_per_ip_per_min and no valid
 *   credentials: 429 with Retry-After, nothing written.
 * The token itself is never recorded. */
static bool authenticate(struct conn *c, const char *method)
{
	const char *h = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	struct auth_attempt at = {.via = "api"};

	if (h == NULL && webauth_has_cookie(c))
		return webauth_authenticate(c, method);
	if (h == NULL)
		at.why_absent = "no bearer token";
	else if (strncasecmp(h, "Bearer ", 7) == 0)
		at.credential = h + 7;
	else
		at.unusable = "authorization is not a bearer token";
	if (!conn_verify(c, &at, &c->who))
		return false;
	c->authed = true;
	return true;
	return false;
}

static bool parse_id(const char *s, int64_t *id)
{
	size_t len = strcspn(s, "/");
	uint64_t v;

	if (num_parse_u64(s, len, 1, INT64_MAX, &v) != JG_OK)
		return false;
	*id = (int64_t)v;
	return true;
}

static void route_requests(struct conn *c, const char *method, const char *rest)
{
	int64_t id;
	const char *slash;

	if (*rest == '\0') {
		if (strcmp(method, "POST") == 0)
			handle_create(c);
		else if (strcmp(method, "GET") == 0)
			handle_list(c);
		else
			conn_error(c, 405, "method_not_allowed", "use GET or POST");
		return;
	}
	if (*rest != '/' || !parse_id(rest + 1, &id)) {
		conn_error(c, 404, "not_found", "no such path");
		return;
	}
	slash = strchr(rest + 1, '/');
	if (slash == NULL) {
		if (strcmp(method, "GET") == 0)
			handle_get_request(c, id);
		else
			conn_error(c, 405, "method_not_allowed", "use GET");
		return;
	}
	if (strcmp(method, "POST") != 0) {
		conn_error(c, 405, "method_not_allowed", "use POST");
		return;
	}
	handle_action(c, id, slash + 1);
}

/* A text/plain answer; with MHD_RESPMEM_MUST_FREE text is freed, also on
 * failure. */
static struct MHD_Response *text_response(const char *text, size_t len,
					  enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, mode);

	if (!r && mode == MHD_RESPMEM_MUST_FREE)
		free((void *)text);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
	return r;
}

/* Public endpoints answer without credentials (the web UI's files hold
 * no data). */
static struct MHD_Response *route_public(struct conn *c, const char *method,
					 const char *url, int *status)
{
	struct MHD_Response *r;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	/* HEAD is GET without the body (MHD leaves the body out) */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return NULL;
	if ((r = webui_response(c->mhd, url, status)) != NULL)
		return r;
	if (strcmp(url, "/healthz") == 0) {
		*status = 200;
		return text_response("ok\n", 3, MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/readyz") == 0) {
		const char *why = atomic_load(&c->deps->not_ready);
		bool engine = atomic_load(&c->deps->ready);
		bool store_ok = why == NULL && store_ping(c->deps->store);
		const char *verbose = conn_arg(c, "verbose");

		if (verbose != NULL && strcmp(verbose, "1") == 0)
			return selftest_readyz(c, engine, store_ok, why, status);
		if (why == NULL && !engine)
			why = "starting or stopping";
		if (why == NULL && !store_ok)
			why = "the store does not answer";
		*status = why ? 503 : 200;
		if (why == NULL)
			return text_response("ready\n", 6, MHD_RESPMEM_PERSISTENT);
		if (asprintf(&text, "not ready: %s\n", why) < 0)
			return NULL;
		return text_response(text, strlen(text), MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/metrics") == 0) {
		int64_t by_state[REQ_STATE_COUNT];

		for (int i = 0; i < REQ_STATE_COUNT; i++)
			by_state[i] = -1;
		f = open_memstream(&text, &len);
		if (f == NULL)
			return NULL;
		if (store_count_by_state(c->deps->store, by_state, REQ_STATE_COUNT) != JG_OK)
			for (int i = 0; i < REQ_STATE_COUNT; i++)
				by_state[i] = -1;
		metrics_render(c->deps->metrics, by_state, REQ_STATE_COUNT,
			       (int64_t)grant_index_count(c->deps->gi), f);
		if (c->deps->events)
			fprintf(f,
				"# TYPE jitgate_event_streams gauge\njitgate_event_streams %zu\n"
				"# TYPE jitgate_event_streams_dropped_total counter\n"
				"jitgate_event_streams_dropped_total %llu\n",
				eventhub_streams(c->deps->events),
				(unsigned long long)eventhub_dropped(c->deps->events));
		fclose(f);
		*status = 200;
		r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		/* Prometheus 3 refuses a scrape without a Content-Type */
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
						"text/plain; version=0.0.4; charset=utf-8");
		else
			free(text);
		return r;
	}
	return NULL;
}

static void route(struct conn *c, const char *method, const char *url)
{
	if (strncmp(url, "/auth/", 6) == 0) {
		webauth_route(c, method, url);
		return;
	}
	if (strcmp(url, "/v1/slack/interactions") == 0) {
		/* authenticated by Slack's signature, not a bearer token */
		strcmp(method, "POST") == 0 ? handle_slack_interaction(c)
					    : conn_error(c, 405, "method_not_allowed", "use POST");
		return;
	}
	if (strcmp(url, "/v1/check") == 0 && strcmp(method, "POST") == 0)
		check_prefetch(c);
	if (!authenticate(c, method))
		return;
	if (strncmp(url, "/v1/requests", 12) == 0)
		route_requests(c, method, url + 12);
	else if (strcmp(url, "/v1/check") == 0)
		strcmp(method, "POST") == 0 ? handle_check(c)
					    : conn_error(c, 405, "method_not_allowed", "use POST");
	else if (strcmp(url, "/v1/events") == 0)
		strcmp(method, "GET") == 0 ? handle_events(c)
					   : conn_error(c, 405, "method_not_allowed", "use GET");
	else if (strcmp(url, "/v1/catalog") == 0)
		strcmp(method, "GET") == 0 ? handle_catalog(c)
					   : conn_error(c, 405, "method_not_allowed", "use GET");
	else if (strcmp(url, "/v1/selftest") == 0)
		strcmp(method, "GET") == 0 ? handle_selftest_info(c)
					   : conn_error(c, 405, "method_not_allowed", "use GET");
	else if (strcmp(url, "/v1/whoami") == 0)
		strcmp(method, "GET") == 0 ? handle_whoami(c)
					   : conn_error(c, 405, "method_not_allowed", "use GET");
	else if (strcmp(url, "/v1/audit") == 0 || strcmp(url, "/v1/audit/verify") == 0 ||
		 strcmp(url, "/v1/audit/export") == 0) {
		if (strcmp(method, "GET") != 0)
			conn_error(c, 405, "method_not_allowed", "use GET");
		else if (!selftest_audit_allowed(c, url))
			conn_error(c, 403, "forbidden",
				   "only admins and auditors may read the audit log");
		else if (strcmp(url, "/v1/audit") == 0)
			handle_audit_list(c);
		else if (strcmp(url, "/v1/audit/verify") == 0)
			handle_audit_verify(c);
		/* export answers with a streamed response in send_answer */
	} else {
		conn_error(c, 404, "not_found", "no such path");
	}
}

static enum MHD_Result send_answer(struct conn *c, const char *url)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text;
	int status = c->status;

	if (c->resp == NULL && c->resp_text == NULL && strcmp(url, "/v1/audit/export") == 0 &&
	    c->authed) {
		r = audit_export_response(c);
		status = 200;
	} else if (c->resp == NULL && c->resp_text == NULL && c->stream != NULL) {
		r = events_response(c);
		status = 200;
	} else if (c->html_page && c->resp != NULL && c->status >= 400) {
		r = weblogin_error_response(c);
	} else {
		if (c->resp == NULL && c->resp_text == NULL) {
			c->status = 500;
			c->resp = render_error("internal", "no answer");
		}
		text = c->resp_text ? c->resp_text : json_dumps(c->resp, JSON_COMPACT);
		c->resp_text = NULL; /* the response owns it now */
		if (text == NULL)
			return MHD_NO;
		status = c->status;
		r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
						"application/json");
	}
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (c->set_cookie)
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, c->set_cookie);
	if (c->location)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, c->location);
	if (c->retry_after_s > 0) {
		char ra[24];

		snprintf(ra, sizeof(ra), "%lld", (long long)c->retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (status >= 400)
		atomic_fetch_add_explicit(&c->deps->metrics->http_errors, 1,
					  memory_order_relaxed);
	ret = MHD_queue_response(c->mhd, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Each HTTP thread keeps one struct conn between requests: it is 1.3 KiB,
 * above glibc's per-thread cache, so calloc and free of it took the arena
 * (and its consolidation) on every request.  A thread's spare is freed
 * when the thread ends. */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static bool spare_ok;

static void spare_init(void)
{
	spare_ok = pthread_key_create(&spare_key, free) == 0;
}

static struct conn *conn_new(void)
{
	struct conn *c = spare_ok ? pthread_getspecific(spare_key) : NULL;

	if (c == NULL)
		return calloc(1, sizeof(*c));
	(void)pthread_setspecific(spare_key, NULL);
	memset(c, 0, sizeof(*c));
	return c;
}

/* c is cleared of everything it owned */
static void conn_free(struct conn *c)
{
	if (spare_ok && pthread_getspecific(spare_key) == NULL &&
	    pthread_setspecific(spare_key, c) == 0)
		return;
	free(c);
}

/* What route_public answers: GET or HEAD of the UI's files and pages,
 * /healthz, /readyz and /metrics. */
static bool is_public(const char *method, const char *url)
{
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return false;
	return strcmp(url, "/") == 0 || strncmp(url, "/ui/", 4) == 0 ||
	       strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
	       strcmp(url, "/metrics") == 0;
}

static bool has_body(struct MHD_Connection *mhd)
{
	const char *cl = MHD_lookup_connection_value(mhd, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl != NULL && strcmp(cl, "0") != 0) ||
	       MHD_lookup_connection_value(mhd, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result answer_public(struct api *a, struct MHD_Connection *mhd,
				     const char *method, const char *url)
{
	int status = 200;
	struct MHD_Response *pub = route_public(&(struct conn){.deps = a->deps, .mhd = mhd},
						method, url, &status);
	enum MHD_Result ret;

	if (pub == NULL)
		return MHD_NO;
	ret = MHD_queue_response(mhd, (unsigned)status, pub);
	MHD_destroy_response(pub);
	return ret;
}

/* con_cls of a public request between its first call and its answer */
static char public_mark;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mhd,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct conn *c = *con_cls;

	(void)version;
	if (*con_cls == &public_mark) {
		*con_cls = NULL;
		return answer_public(a, mhd, method, url);
	}
	if (c == NULL) {
		const char *cl;

		httpguard_head_done(a->guard, mhd);
		atomic_fetch_add_explicit(&a->deps->metrics->http_requests, 1,
					  memory_order_relaxed);
		if (is_public(method, url)) {
			/* answered in the next call, when MHD has the whole
			 * request: a response queued in this first one is an
			 * "early" answer, after which MHD closes the connection
			 * (Connection: close), so a page load took a new
			 * connection for every file.  A request with a body is
			 * answered at once: MHD then closes rather than read a
			 * body nobody wants. */
			if (has_body(mhd))
				return answer_public(a, mhd, method, url);
			*con_cls = &public_mark;
			return MHD_YES;
		}
		c = conn_new();
		if (c == NULL)
			return MHD_NO;
		c->deps = a->deps;
		c->mhd = mhd;
		c->sessions = a->sessions;
		c->login = a->login;
		c->state = CONN_READING;
		*con_cls = c;
		cl = MHD_lookup_connection_value(mhd, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > API_BODY_MAX)
			c->too_big = true; /* answered below without reading it */
		if (!c->too_big)
			return MHD_YES;
	}
	if (c->state == CONN_READING && *upload_data_size > 0) {
		if (!c->too_big && c->len + *upload_data_size <= API_BODY_MAX) {
			char *nb = realloc(c->body, c->len + *upload_data_size + 1);

			if (nb == NULL)
				return MHD_NO;
			c->body = nb;
			memcpy(c->body + c->len, upload_data, *upload_data_size);
			c->len += *upload_data_size;
			c->body[c->len] = '\0';
		} else {
			c->too_big = true; /* the rest is read and dropped */
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (c->state == CONN_READING) {
		c->ref = cfgholder_get(a->deps->cfg);
		c->cfg = cfgref_config(c->ref);
		if (c->too_big)
			conn_error(c, 413, "too_large", "body larger than %d bytes",
				   API_BODY_MAX);
		else
			route(c, method, url);
		if (c->state == CONN_SUSPENDED)
			return MHD_YES;
	}
	if (c->state == CONN_SUSPENDED) {
		/* resumed: the engine (or the sign-in worker) is done */
		void (*after)(struct conn *c) = c->after;

		c->state = CONN_RESUMED;
		c->after = NULL;
		if (after)
			after(c);
		/* a step may hand on to another (a sign-in is audited next) */
		if (c->state == CONN_SUSPENDED)
			return MHD_YES;
	}
	return send_answer(c, url);
}

static void on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct conn *c = *con_cls;

	(void)toe;
	httpguard_request_done(a->guard, mhd);
	if (c == NULL || *con_cls == &public_mark) {
		*con_cls = NULL;
		return;
	}
	if (c->ref)
		cfgref_put(c->ref);
	authn_clear(&c->who);
	request_clear(&c->cmd.out);
	json_decref(c->cmd.event);
	json_decref(c->args);
	json_decref(c->resp);
	free(c->resp_text);
	free(c->body);
	free(c->set_cookie);
	free(c->location);
	free(c->slack_respond);
	weblogin_job_free(c->job);
	eventhub_unsubscribe(c->stream);
	OPENSSL_cleanse(c->csrf, sizeof(c->csrf));
	conn_free(c);
	*con_cls = NULL;
}

/* Raises the soft open-file limit to the hard one: every connection is a
 * descriptor, and libmicrohttpd pauses accepting (it does not spin) when
 * it runs out, so the limits below should fit in it. */
static void check_nofile(const struct limits_cfg *l)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)l->http_connections + 64 > rl.rlim_cur)
		log_warn(NULL, "limits.http_connections (%lld) does not fit the open-file limit "
			       "(%llu): past it new HTTP connections wait in the backlog",
			 (long long)l->http_connections, (unsigned long long)rl.rlim_cur);
}

/* libmicrohttpd's internal thread pool, each thread with its own epoll
 * set: one per online CPU, within [API_THREADS_MIN, API_THREADS_MAX].  No
 * request holds a thread while it waits (engine work and sign-ins
 * suspend the connection), so threads beyond the cores would only add
 * context switches; thread-per-connection would add a thread per
 * keep-alive client. */
static unsigned api_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < API_THREADS_MIN)
		return API_THREADS_MIN;
	return n > API_THREADS_MAX ? API_THREADS_MAX : (unsigned)n;
}

int api_start(struct api_deps *deps, int listen_fd, struct api **out)
{
	struct cfgref *ref;
	struct limits_cfg lim;
	struct api *a;

	*out = NULL;
	ref = cfgholder_get(deps->cfg);
	lim = cfgref_config(ref)->limits;
	cfgref_put(ref);
	check_nofile(&lim);
	(void)pthread_once(&spare_once, spare_init);
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		close(listen_fd);
		return JG_ERR_NOMEM;
	}
	a->deps = deps;
	if (websessions_new(WEBSESSIONS_MAX, WEBSESSIONS_PER_SUBJECT, &a->sessions) != JG_OK ||
	    weblogin_new(deps->idp, &a->login) != JG_OK ||
	    httpguard_new(lim.header_timeout_s * 1000, (size_t)lim.http_connections,
			  &a->guard) != JG_OK) {
		weblogin_free(a->login);
		websessions_free(a->sessions);
		free(a);
		close(listen_fd);
		return JG_ERR_NOMEM;
	}
	/* the socket is bound by the daemon (netaddr_listen: no address
	 * reuse) and accepted by httpaccept (libmicrohttpd's own accept
	 * spins at EMFILE, see httpaccept.h), which hands connections over:
	 * MHD never binds, never sets SO_REUSEPORT, never accepts */
	a->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET,
		0, NULL, NULL, on_request, a,
		MHD_OPTION_THREAD_POOL_SIZE, api_threads(),
		/* limits: (design section 9); past them a new connection is
		 * closed at accept, before anything is read from it */
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)lim.http_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)lim.http_connections_per_ip,
		/* inactivity once the head is in (body, slow readers); the
		 * head itself has the guard's absolute deadline */
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_TIMEOUT_S,
		MHD_OPTION_NOTIFY_CONNECTION, httpguard_notify, a->guard,
		/* headers only (the body is copied out as it arrives): a
		 * 16 KiB token and ~3.5 KiB of other header lines fit
		 * (e2e/test_core).  MHD zeroes this whole pool after every
		 * request and half of it again while answering, so its size
		 * is paid by every request: 32 KiB was ~1 us of CPU per
		 * /v1/check here (docs/api.md, Limits) */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(24 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_END);
	if (a->d == NULL ||
	    httpaccept_start(listen_fd, a->d, &a->acceptor) != JG_OK) {
		log_error(NULL, "cannot start the HTTP server: %s", strerror(errno));
		if (a->d == NULL)
			close(listen_fd);
		else
			MHD_stop_daemon(a->d);
		weblogin_free(a->login);
		httpguard_free(a->guard);
		websessions_free(a->sessions);
		free(a);
		return JG_ERR_IO;
	}
	*out = a;
	return JG_OK;
}

void api_reloaded(struct api *a, const struct config *cfg)
{
	httpguard_set_timeout(a->guard, cfg->limits.header_timeout_s * 1000);
}

void api_stop(struct api *a)
{
	if (a == NULL)
		return;
	/* no new connections; then let the engine answer every suspended
	 * one (it still runs: it stops after the API), so MHD never frees a
	 * connection whose command the engine still holds */
	httpaccept_stop(a->acceptor);
	for (int i = 0; i < 30000 && atomic_load(&a->deps->inflight) > 0; i++)
		usleep(1000);
	/* the login worker answers its suspended sign-ins and every event
	 * stream ends, since MHD needs suspended connections resumed before
	 * it stops */
	weblogin_stop(a->login);
	if (a->deps->events)
		eventhub_close_all(a->deps->events);
	MHD_stop_daemon(a->d);
	/* only now: a request still on an HTTP thread may read it */
	weblogin_free(a->login);
	httpguard_free(a->guard);
	websessions_free(a->sessions);
	free(a);
}
