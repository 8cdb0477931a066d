/* Subcommands about requests and grants: request, approve, deny, cancel,
 * revoke, review, show, list, check, whoami. */
#include "cli/cli_cmd.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "cli/cli_format.h"
#include "cli/cli_web.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

/* Rows kept for one `list` table; beyond it the listing says it stopped. */
#define LIST_MAX_ROWS 100000
/* Pages fetched for one listing, against a server whose cursor never ends. */
#define LIST_MAX_PAGES 100000

/* Sends one call, prints its result as JSON or through show, and returns
 * the exit code. */
static int call_and_print(const char *method, const char *path,
			  const json_t *body, bool json,
			  void (*show)(const json_t *, FILE *))
{
	struct cli_http *h = NULL;
	json_t *res = NULL;
	int rc;

	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	rc = cli_api_call(h, method, path, body, &res);
	if (rc == CLI_EXIT_OK) {
		if (json)
			cli_api_print_json(res, stdout);
		else
			show(res, stdout);
	}
	json_decref(res);
	cli_http_free(h);
	return rc;
}

static const char request_usage[] =
	"request RESOURCE ROLE --for DURATION [--reason TEXT] [--ticket T] "
	"[--break-glass] [--extends ID] [--wait] [--json]";

/* request --wait: the request once decided; exit 0 when it became active,
 * 1 when it was denied, timed out or canceled. */
static int create_and_wait(const json_t *body, bool json)
{
	struct cli_http *h = NULL;
	json_t *res = NULL, *final = NULL;
	const char *state;
	int rc;

	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	rc = cli_api_call(h, "POST", "/v1/requests", body, &res);
	if (rc != CLI_EXIT_OK)
		goto out;
	state = json_string_value(json_object_get(res, "state"));
	if (state != NULL && strcmp(state, "pending") == 0) {
		fprintf(stderr, "request %" JSON_INTEGER_FORMAT
			" is pending: waiting for %" JSON_INTEGER_FORMAT " approval(s)...\n",
			json_integer_value(json_object_get(res, "id")),
			json_integer_value(json_object_get(res, "approvals_required")));
		rc = cli_wait_decided(h, json_integer_value(json_object_get(res, "id")), &final);
		if (rc != CLI_EXIT_OK)
			goto out;
		json_decref(res);
		res = final;
	}
	if (json)
		cli_api_print_json(res, stdout);
	else
		cli_format_request(res, stdout);
	state = json_string_value(json_object_get(res, "state"));
	rc = state != NULL && strcmp(state, "active") == 0 ? CLI_EXIT_OK : CLI_EXIT_FALSE;
out:
	json_decref(res);
	cli_http_free(h);
	return rc;
}

int cli_cmd_request(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{"--for", true}, {"--reason", true}, {"--ticket", true},
		{"--break-glass", false}, {"--extends", true}, {"--wait", false},
	};
	struct cli_args a;
	json_t *body = NULL;
	char err[256];
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 2, 2, request_usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli_args_request_body(&a, &body, err, sizeof(err)) != JG_OK)
		return cli_api_usage_error(argv[0], err, request_usage);
	if (cli_args_opt(&a, "--wait"))
		rc = create_and_wait(body, a.json);
	else
		rc = call_and_print("POST", "/v1/requests", body, a.json, cli_format_request);
	json_decref(body);
	return rc;
}

struct decision {
	const char *name;
	const char *opt;   /* option carrying the text, or NULL */
	const char *field; /* its body member */
	const char *usage;
};

static const struct decision decisions[] = {
	{"approve", "--comment", "comment", "approve ID [--comment TEXT] [--json]"},
	{"deny", "--comment", "comment", "deny ID [--comment TEXT] [--json]"},
	{"cancel", NULL, NULL, "cancel ID [--json]"},
	{"revoke", "--reason", "reason", "revoke ID [--reason TEXT] [--json]"},
	{"review", "--comment", "comment", "review ID [--comment TEXT] [--json]"},
};

int cli_cmd_decide(int argc, char **argv)
{
	const struct decision *d = NULL;
	struct cli_opt opts[1];
	struct cli_args a;
	json_t *body = NULL;
	char path[64];
	int64_t id;
	int rc;

	for (size_t i = 0; i < NOPTS(decisions); i++) {
		if (strcmp(argv[0], decisions[i].name) == 0)
			d = &decisions[i];
	}
	if (d == NULL)
		return CLI_EXIT_USAGE;
	opts[0] = (struct cli_opt){d->opt != NULL ? d->opt : "", true};
	rc = cli_api_parse(argc, argv, opts, d->opt != NULL ? 1 : 0, 1, 1,
			   d->usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli_args_id(a.pos[0], &id) != JG_OK)
		return cli_api_usage_error(argv[0], "ID must be a positive integer",
					   d->usage);
	if (d->opt != NULL) {
		if (cli_args_text_body(&a, d->opt, d->field, &body) != JG_OK)
			return cli_api_usage_error(argv[0], "text must be valid UTF-8",
						   d->usage);
	}
	snprintf(path, sizeof(path), "/v1/requests/%" PRId64 "/%s", id, d->name);
	rc = call_and_print("POST", path, body, a.json, cli_format_request);
	json_decref(body);
	return rc;
}

int cli_cmd_show(int argc, char **argv)
{
	static const char usage[] = "show ID [--json]";
	struct cli_args a;
	char path[64];
	int64_t id;
	int rc;

	rc = cli_api_parse(argc, argv, NULL, 0, 1, 1, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli_args_id(a.pos[0], &id) != JG_OK)
		return cli_api_usage_error(argv[0], "ID must be a positive integer",
					   usage);
	snprintf(path, sizeof(path), "/v1/requests/%" PRId64, id);
	return call_and_print("GET", path, NULL, a.json, cli_format_request);
}

/* The page's cursor for the next page: 0 when there is none. */
static int64_t next_cursor(const json_t *page)
{
	const json_t *n = json_object_get(page, "next_after");

	return json_is_integer(n) && json_integer_value(n) > 0 ?
		       json_integer_value(n) : 0;
}

/* Fetches pages of requests into all (an array) until the end or f->limit
 * rows.  Returns the exit code; *last_next is the final cursor. */
static int fetch_requests(struct cli_http *h, const struct cli_list_filter *f,
			  json_t *all, int64_t *last_next, bool *cut)
{
	int64_t after = 0;
	char path[CLI_QUERY_MAX];
	int rc = CLI_EXIT_OK;

	*last_next = 0;
	*cut = false;
	for (int pages = 0; pages < LIST_MAX_PAGES; pages++) {
		int64_t want = 0, next;
		json_t *page = NULL, *reqs;
		size_t n;

		if (f->limit > 0) {
			want = f->limit - (int64_t)json_array_size(all);
			if (want > CLI_LIST_PAGE_MAX)
				want = CLI_LIST_PAGE_MAX;
		}
		if (cli_args_list_path(f, after, want, path, sizeof(path)) != JG_OK)
			return CLI_EXIT_USAGE;
		if ((rc = cli_api_call(h, "GET", path, NULL, &page)) != CLI_EXIT_OK)
			return rc;
		reqs = json_object_get(page, "requests");
		if (!json_is_array(reqs)) {
			fputs("jitgate: the server's answer has no requests array\n",
			      stderr);
			json_decref(page);
			return CLI_EXIT_SERVER;
		}
		n = json_array_size(reqs);
		for (size_t i = 0; i < n; i++) {
			if ((f->limit > 0 && (int64_t)json_array_size(all) >= f->limit) ||
			    json_array_size(all) >= LIST_MAX_ROWS) {
				*cut = f->limit == 0;
				break;
			}
			if (json_array_append(all, json_array_get(reqs, i)) != 0) {
				json_decref(page);
				return CLI_EXIT_SERVER;
			}
		}
		next = next_cursor(page);
		json_decref(page);
		*last_next = next;
		/* Stop at the end, on a cursor that does not move, or once
		 * enough rows are in. */
		if (n == 0 || next == 0 || next == after || *cut ||
		    (f->limit > 0 && (int64_t)json_array_size(all) >= f->limit))
			break;
		after = next;
	}
	return rc;
}

int cli_cmd_list(int argc, char **argv)
{
	static const char usage[] =
		"list [--pending|--active|--state STATE] [--mine] "
		"[--approvable] [--limit N] [--json]";
	static const struct cli_opt opts[] = {
		{"--pending", false}, {"--active", false}, {"--state", true},
		{"--mine", false}, {"--approvable", false}, {"--limit", true},
	};
	struct cli_list_filter f;
	struct cli_http *h = NULL;
	struct cli_args a;
	json_t *all = NULL, *doc = NULL;
	int64_t next = 0;
	bool cut = false;
	char err[256];
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 0, 0, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli_args_list_filter(&a, &f, err, sizeof(err)) != JG_OK)
		return cli_api_usage_error(argv[0], err, usage);
	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	all = json_array();
	if (all == NULL) {
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	if ((rc = fetch_requests(h, &f, all, &next, &cut)) != CLI_EXIT_OK)
		goto out;
	if (cut)
		fprintf(stderr, "jitgate: stopped after %d requests; use --limit "
			"or a filter\n", LIST_MAX_ROWS);
	if (a.json) {
		/* All pages as one document of the server's shape. */
		doc = json_pack("{sOso}", "requests", all, "next_after",
				next > 0 ? json_integer(next) : json_null());
		if (doc == NULL) {
			rc = CLI_EXIT_SERVER;
			goto out;
		}
		cli_api_print_json(doc, stdout);
	} else if (cli_format_requests(all, stdout) != JG_OK) {
		rc = CLI_EXIT_SERVER;
	}
out:
	json_decref(doc);
	json_decref(all);
	cli_http_free(h);
	return rc;
}

int cli_cmd_check(int argc, char **argv)
{
	static const char usage[] = "check SUBJECT RESOURCE ROLE [--json]";
	struct cli_http *h = NULL;
	struct cli_args a;
	json_t *body = NULL, *res = NULL;
	int rc;

	rc = cli_api_parse(argc, argv, NULL, 0, 3, 3, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	body = json_pack("{ssssss}", "subject", a.pos[0], "resource", a.pos[1],
			 "role", a.pos[2]);
	if (body == NULL)
		return cli_api_usage_error(argv[0], "arguments must be valid UTF-8",
					   usage);
	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		goto out;
	if ((rc = cli_api_call(h, "POST", "/v1/check", body, &res)) != CLI_EXIT_OK)
		goto out;
	if (a.json)
		cli_api_print_json(res, stdout);
	else
		cli_format_check(res, stdout);
	rc = json_is_true(json_object_get(res, "allowed")) ? CLI_EXIT_OK :
							     CLI_EXIT_FALSE;
out:
	json_decref(res);
	json_decref(body);
	cli_http_free(h);
	return rc;
}

int cli_cmd_whoami(int argc, char **argv)
{
	static const char usage[] = "whoami [--json]";
	struct cli_args a;
	int rc;

	rc = cli_api_parse(argc, argv, NULL, 0, 0, 0, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	return call_and_print("GET", "/v1/whoami", NULL, a.json, cli_format_whoami);
}
