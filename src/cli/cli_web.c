/* Subcommands of design section 10 on the API: catalog, and waiting for a
 * request to be decided (request --wait) through the live event stream. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_api.h"
#include "cli/cli_cmd.h"
#include "cli/cli_format.h"
#include "cli/cli_web.h"

#define POLL_S 2 /* when no event stream can be had */

static const char catalog_usage[] = "catalog [--json]";

static const char *int_text(const json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v))
		return NULL;
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* "1h30m" from seconds. */
static const char *dur_text(const json_t *v, char *buf, size_t len)
{
	json_int_t s;
	size_t o = 0;

	if (!json_is_integer(v))
		return NULL;
	s = json_integer_value(v);
	buf[0] = '\0';
	if (s >= 86400 && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%" JSON_INTEGER_FORMAT "d", s / 86400);
	if (s % 86400 >= 3600 && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%" JSON_INTEGER_FORMAT "h", s % 86400 / 3600);
	if (s % 3600 >= 60 && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%" JSON_INTEGER_FORMAT "m", s % 3600 / 60);
	if ((s % 60 || s == 0) && o < len)
		snprintf(buf + o, len - o, "%" JSON_INTEGER_FORMAT "s", s % 60);
	return buf;
}

static int print_catalog(const json_t *entries, FILE *f)
{
	static const char *const hdr[] = {"RESOURCE", "ROLE", "KIND", "MAX", "APPROVALS",
					  "APPROVERS", "REASON", "TICKET", "BREAK-GLASS"};
	struct cli_table *t = cli_table_new(9, hdr);
	const json_t *e;
	size_t i;
	int rc = JG_OK;

	if (t == NULL)
		return JG_ERR_NOMEM;
	json_array_foreach(entries, i, e) {
		char max[32], appr[32], bg[32], who[256] = "";
		const json_t *a = json_object_get(e, "approvers"), *p;
		size_t j, o = 0;
		const char *cells[9];

		json_array_foreach(a, j, p)
			if (json_is_string(p) && o < sizeof(who))
				o += (size_t)snprintf(who + o, sizeof(who) - o, "%s%s", j ? "," : "",
						      json_string_value(p));
		cells[0] = json_string_value(json_object_get(e, "resource"));
		cells[1] = json_string_value(json_object_get(e, "role"));
		cells[2] = json_string_value(json_object_get(e, "kind"));
		cells[3] = dur_text(json_object_get(e, "max_duration_s"), max, sizeof(max));
		cells[4] = json_integer_value(json_object_get(e, "approvals")) == 0
				   ? "at once"
				   : int_text(json_object_get(e, "approvals"), appr, sizeof(appr));
		cells[5] = who[0] ? who : NULL;
		cells[6] = json_is_true(json_object_get(e, "require_reason")) ? "required" : "-";
		cells[7] = json_string_value(json_object_get(e, "ticket_pattern"));
		cells[8] = dur_text(json_object_get(e, "break_glass_max_duration_s"), bg, sizeof(bg));
		if ((rc = cli_table_add(t, cells)) != JG_OK)
			break;
	}
	if (rc == JG_OK) {
		if (cli_table_rows(t) == 0)
			fputs("nothing: no policy lets you request anything\n", f);
		else
			cli_table_print(t, f);
	}
	cli_table_free(t);
	return rc;
}

int cli_cmd_catalog(int argc, char **argv)
{
	struct cli_http *h = NULL;
	struct cli_args a;
	json_t *res = NULL;
	int rc;

	rc = cli_api_parse(argc, argv, NULL, 0, 0, 0, catalog_usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	rc = cli_api_call(h, "GET", "/v1/catalog", NULL, &res);
	if (rc == CLI_EXIT_OK) {
		if (a.json)
			cli_api_print_json(res, stdout);
		else if (print_catalog(json_object_get(res, "entries"), stdout) != JG_OK)
			rc = CLI_EXIT_SERVER;
	}
	json_decref(res);
	cli_http_free(h);
	return rc;
}

/* ---- request --wait ---- */

struct waiter {
	struct cli_http *h; /* for GETs while the stream is open */
	int64_t id;
	char last[32];      /* the last event id seen, to resume from */
	json_t *final;      /* the request once it left pending */
	int rc;             /* an exit code when a GET failed */
};

static bool decided(const json_t *req)
{
	const char *st = json_string_value(json_object_get(req, "state"));

	return st != NULL && strcmp(st, "pending") != 0;
}

/* Reads the request now; true when it is decided (or cannot be read). */
static bool check_now(struct waiter *w)
{
	char path[64];
	json_t *r = NULL;

	snprintf(path, sizeof(path), "/v1/requests/%" PRId64, w->id);
	w->rc = cli_api_call(w->h, "GET", path, NULL, &r);
	if (w->rc != CLI_EXIT_OK)
		return true;
	if (decided(r)) {
		w->final = r;
		return true;
	}
	json_decref(r);
	return false;
}

static int on_event(void *ctx, const char *event, const char *id, const char *data)
{
	struct waiter *w = ctx;
	json_t *r;

	if (id != NULL)
		snprintf(w->last, sizeof(w->last), "%s", id);
	/* ready / reset: everything before is in the store; whatever comes
	 * later arrives on the stream */
	if (strcmp(event, "ready") == 0 || strcmp(event, "reset") == 0)
		return check_now(w) ? 1 : 0;
	if (strcmp(event, "request") != 0)
		return 0;
	r = json_loads(data, 0, NULL);
	if (json_integer_value(json_object_get(r, "id")) == w->id && decided(r)) {
		w->final = r;
		return 1;
	}
	json_decref(r);
	return 0;
}

int cli_wait_decided(struct cli_http *h, int64_t id, json_t **final)
{
	struct waiter w = {.h = h, .id = id};
	struct cli_http *stream = NULL;
	int rc;

	*final = NULL;
	if ((rc = cli_api_open(&stream)) != CLI_EXIT_OK)
		return rc;
	for (;;) {
		json_t *body = NULL;
		long status = 0;
		char err[512];

		rc = cli_http_events(stream, "/v1/events", w.last[0] ? w.last : NULL, on_event, &w,
				     &status, &body, err, sizeof(err));
		if (w.final || w.rc != CLI_EXIT_OK) {
			json_decref(body);
			break;
		}
		if (rc == JG_OK && status >= 200 && status < 300) {
			json_decref(body);
			continue; /* the server ended the stream: resume */
		}
		if (rc == JG_OK && (status == 401 || status == 403)) {
			cli_api_print_error(status, body, stderr);
			json_decref(body);
			w.rc = cli_api_exit_for_status(status);
			break;
		}
		json_decref(body);
		/* no stream to be had (too many open, an old server, a network
		 * hiccup): ask now and then instead */
		sleep(POLL_S);
		if (check_now(&w))
			break;
	}
	cli_http_free(stream);
	*final = w.final;
	return w.rc;
}
