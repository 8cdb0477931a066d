/* audit, audit export, audit verify [FILE]. */
#include "cli/cli_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_api.h"
#include "audit/chain.h"
#include "cli/cli_format.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))
#define FOLLOW_INTERVAL_MS 500

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Ctrl-C during --follow ends the loop after the current poll, so the
 * output ends on a whole line and the exit code is 0. */
static void catch_interrupts(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	/* An interrupt cuts the sleep short, which is what we want. */
	nanosleep(&ts, NULL);
}

struct audit_out {
	bool json;
	bool follow;
	bool opened; /* the {"events": [ document has been started */
	size_t printed;
};

/* Starts the one-document --json output once the first page is in, so a
 * refused request leaves stdout empty. */
static void open_document(struct audit_out *o)
{
	if (o->json && !o->follow && !o->opened) {
		fputs("{\"events\": [", stdout);
		o->opened = true;
	}
}

static void print_event(struct audit_out *o, const json_t *ev)
{
	if (!o->json) {
		cli_format_audit_event(ev, stdout);
	} else {
		/* Without --follow the events form one document; with it,
		 * one compact object per line, like the export. */
		if (!o->follow)
			fputs(o->printed == 0 ? "\n  " : ",\n  ", stdout);
		json_dumpf(ev, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (o->follow)
			fputc('\n', stdout);
	}
	o->printed++;
}

/* --follow outlives a restart of the daemon: while the server cannot be
 * reached (or answers 503 while it starts) the same page is asked for
 * again, quietly, at most 5 s apart; the cursor keeps its place, so
 * nothing is shown twice or skipped.  Returns CLI_EXIT_OK once the server
 * answers (or on Ctrl-C), or the exit code of an answer that retrying
 * will not change (401, 403...). */
static int await_server(struct cli_http *h, const char *path)
{
	long delay = FOLLOW_INTERVAL_MS, status = 0;
	char err[512];
	json_t *res;
	int rc;

	fputs("jitgate: audit --follow: lost the server; retrying (Ctrl-C stops)\n", stderr);
	while (!interrupted) {
		sleep_ms(delay);
		if (interrupted)
			break;
		res = NULL;
		rc = cli_http_json(h, "GET", path, NULL, &status, &res, err, sizeof(err));
		json_decref(res);
		if (rc == JG_OK && status >= 200 && status < 300) {
			fputs("jitgate: audit --follow: reconnected\n", stderr);
			return CLI_EXIT_OK;
		}
		if (rc == JG_OK && status != 503)
			return cli_api_exit_for_status(status);
		if (delay < 5000)
			delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	return CLI_EXIT_OK;
}

/* Pages through /v1/audit from f->after, printing as it goes; with
 * f->follow it keeps polling.  Returns the exit code. */
static int page_audit(struct cli_http *h, const struct cli_audit_filter *f,
		      struct audit_out *o, int64_t *cursor)
{
	char path[CLI_QUERY_MAX];
	int rc;

	for (;;) {
		int64_t want = 0, next, last = 0;
		json_t *page = NULL, *evs, *ev;
		bool caught_up;
		size_t i, n;

		if (f->limit > 0) {
			want = f->limit - (int64_t)o->printed;
			if (want > CLI_AUDIT_PAGE_MAX)
				want = CLI_AUDIT_PAGE_MAX;
		}
		if (cli_args_audit_path(f, *cursor, want, path, sizeof(path)) != JG_OK)
			return CLI_EXIT_USAGE;
		if ((rc = cli_api_call(h, "GET", path, NULL, &page)) != CLI_EXIT_OK) {
			if (!o->follow || (rc != CLI_EXIT_UNREACHABLE && rc != CLI_EXIT_SERVER))
				return rc;
			if ((rc = await_server(h, path)) != CLI_EXIT_OK || interrupted)
				return rc;
			continue;
		}
		evs = json_object_get(page, "events");
		if (!json_is_array(evs)) {
			fputs("jitgate: the server's answer has no events array\n",
			      stderr);
			json_decref(page);
			return CLI_EXIT_SERVER;
		}
		n = json_array_size(evs);
		open_document(o);
		json_array_foreach(evs, i, ev) {
			const json_t *seq = json_object_get(ev, "seq");

			if (f->limit > 0 && (int64_t)o->printed >= f->limit)
				break;
			print_event(o, ev);
			if (json_is_integer(seq) && json_integer_value(seq) > last)
				last = json_integer_value(seq);
		}
		next = json_integer_value(json_object_get(page, "next_after"));
		json_decref(page);
		if (o->follow)
			fflush(stdout);
		if (f->limit > 0 && (int64_t)o->printed >= f->limit) {
			/* Stopped inside the page: resume after what was shown. */
			if (last > *cursor)
				*cursor = last;
			return CLI_EXIT_OK;
		}
		/* No next_after (or an empty page) means caught up.  The
		 * cursor moves to next_after or the newest seq seen, never
		 * back, so a confused server cannot make us loop. */
		caught_up = n == 0 || next <= 0;
		if (next < last)
			next = last;
		if (next > *cursor)
			*cursor = next;
		else
			caught_up = true;
		if (caught_up) {
			if (!o->follow)
				return CLI_EXIT_OK;
			sleep_ms(FOLLOW_INTERVAL_MS);
		}
		if (interrupted)
			return CLI_EXIT_OK;
	}
}

static const char audit_usage[] =
	"audit [--follow] [--subject S] [--resource R] [--action A] "
	"[--after SEQ] [--limit N] [--json]\n"
	"       jitgate audit export\n"
	"       jitgate audit verify [FILE|-]\n"
	"       jitgate audit replay -c NEW EXPORT.jsonl";

static int audit_list(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{"--follow", false}, {"--subject", true}, {"--resource", true},
		{"--action", true}, {"--after", true}, {"--limit", true},
	};
	struct cli_audit_filter f;
	struct audit_out o = {0};
	struct cli_http *h = NULL;
	struct cli_args a;
	int64_t cursor;
	char err[1200];
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 0, 0, audit_usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli_args_audit_filter(&a, &f, err, sizeof(err)) != JG_OK)
		return cli_api_usage_error(argv[0], err, audit_usage);
	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	o.json = a.json;
	o.follow = f.follow;
	if (f.follow)
		catch_interrupts();
	cursor = f.after;
	rc = page_audit(h, &f, &o, &cursor);
	if (o.opened) {
		fprintf(stdout, "%s],\n  \"next_after\": %" PRId64 "\n}\n",
			o.printed > 0 ? "\n  " : "", cursor);
	}
	cli_http_free(h);
	return rc;
}

static int audit_export(int argc, char **argv)
{
	static const char usage[] = "audit export > FILE";
	struct cli_http *h = NULL;
	struct cli_args a;
	json_t *body = NULL;
	char err[512];
	long status;
	int rc;

	rc = cli_api_parse(argc, argv, NULL, 0, 0, 0, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	rc = cli_http_stream(h, "/v1/audit/export", stdout, &status, &body, err,
			     sizeof(err));
	if (rc == JG_ERR_IO) {
		fprintf(stderr, "jitgate: %s\n", err);
		/* A full disk or closed pipe is ours; anything else is the
		 * transfer (refused, or cut midway). */
		rc = ferror(stdout) ? CLI_EXIT_SERVER : CLI_EXIT_UNREACHABLE;
	} else if (rc != JG_OK) {
		fprintf(stderr, "jitgate: %s\n", jg_strerror(rc));
		rc = CLI_EXIT_SERVER;
	} else if (status < 200 || status >= 300) {
		cli_api_print_error(status, body, stderr);
		rc = cli_api_exit_for_status(status);
	} else if (fflush(stdout) != 0) {
		fprintf(stderr, "jitgate: cannot write the export: %s\n",
			strerror(errno));
		rc = CLI_EXIT_SERVER;
	} else {
		rc = CLI_EXIT_OK;
	}
	json_decref(body);
	cli_http_free(h);
	return rc;
}

/* "SEQ:HASH" as printed by the server's verify, for --head. */
static int parse_head(const char *s, int64_t *seq, char hash[AUDIT_HASH_HEX_LEN + 1])
{
	const char *colon = strchr(s, ':');
	char num[24];

	*seq = 0;
	if (colon == NULL || colon - s >= (long)sizeof(num) ||
	    strlen(colon + 1) != AUDIT_HASH_HEX_LEN)
		return JG_ERR_INVALID;
	memcpy(num, s, (size_t)(colon - s));
	num[colon - s] = '\0';
	if (cli_args_id(num, seq) != JG_OK)
		return JG_ERR_INVALID;
	memcpy(hash, colon + 1, AUDIT_HASH_HEX_LEN + 1);
	return JG_OK;
}

/* `audit verify --json` has one shape, offline and against the server:
 * {ok, count, head_seq, head, bad_seq, bad_line, reason}; what does not
 * apply is null (bad_* and reason when ok; bad_line, a line of a file,
 * against the server). */
static json_t *verify_doc(bool ok, int64_t count, int64_t head_seq, const char *head,
			  int64_t bad_seq, int64_t bad_line, const char *reason)
{
	return json_pack("{s:b, s:I, s:I, s:s?, s:o, s:o, s:s?}", "ok", ok, "count",
			 (json_int_t)count, "head_seq", (json_int_t)head_seq, "head", head,
			 "bad_seq", bad_seq > 0 ? json_integer(bad_seq) : json_null(),
			 "bad_line", bad_line > 0 ? json_integer(bad_line) : json_null(),
			 "reason", reason);
}

/* Offline verification of an export with the audit module's verifier; no
 * server is involved.  head_hash NULL: no known head. */
static int verify_file(FILE *in, int64_t head_seq, const char *head_hash,
		       bool json)
{
	struct audit_verify_result r;
	char line[AUDIT_REASON_LEN + 256];
	int rc;

	rc = audit_verify_file_head(in, head_seq, head_hash, &r);
	if (rc == JG_ERR_IO || rc == JG_ERR_NOMEM) {
		fprintf(stderr, "jitgate: audit verify: %s\n", jg_strerror(rc));
		return CLI_EXIT_USAGE;
	}
	if (json) {
		json_t *doc = verify_doc(r.ok, r.count, r.head_seq, r.head,
					 r.ok ? 0 : r.bad_seq, r.ok ? 0 : r.bad_line,
					 r.ok ? NULL : r.reason);

		if (doc != NULL)
			cli_api_print_json(doc, stdout);
		json_decref(doc);
	} else {
		audit_verify_result_format(&r, line, sizeof(line));
		puts(line);
	}
	return rc == JG_OK && r.ok ? CLI_EXIT_OK : CLI_EXIT_FALSE;
}

static int verify_server(bool json)
{
	struct cli_http *h = NULL;
	json_t *res = NULL;
	int rc;

	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	if ((rc = cli_api_call(h, "GET", "/v1/audit/verify", NULL, &res)) != CLI_EXIT_OK)
		goto out;
	rc = json_is_true(json_object_get(res, "ok")) ? CLI_EXIT_OK : CLI_EXIT_FALSE;
	if (json) {
		json_t *doc = verify_doc(
			rc == CLI_EXIT_OK, json_integer_value(json_object_get(res, "count")),
			json_integer_value(json_object_get(res, "head_seq")),
			json_string_value(json_object_get(res, "head")),
			rc == CLI_EXIT_OK ? 0 : json_integer_value(json_object_get(res, "bad_seq")),
			0, rc == CLI_EXIT_OK ? NULL
					     : json_string_value(json_object_get(res, "reason")));

		if (doc != NULL)
			cli_api_print_json(doc, stdout);
		json_decref(doc);
	} else {
		const char *head = json_string_value(json_object_get(res, "head"));
		json_int_t count = json_integer_value(json_object_get(res, "count"));
		char clean[80];

		cli_format_clean(head != NULL ? head : "-", 0, clean, sizeof(clean));
		if (rc == CLI_EXIT_OK)
			printf("ok: %" JSON_INTEGER_FORMAT " events, head %s\n",
			       count, clean);
		else
			printf("FAIL: the server's audit log does not verify "
			       "(%" JSON_INTEGER_FORMAT " events, head %s)\n",
			       count, clean);
	}
out:
	json_decref(res);
	cli_http_free(h);
	return rc;
}

static int audit_verify(int argc, char **argv)
{
	static const char usage[] =
		"audit verify [FILE|- [--head SEQ:HASH]] [--json]";
	static const struct cli_opt opts[] = {{"--head", true}};
	char hash[AUDIT_HASH_HEX_LEN + 1];
	const char *head;
	int64_t seq = 0;
	struct cli_args a;
	FILE *in;
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 0, 1, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	head = cli_args_opt(&a, "--head");
	if (a.npos == 0) {
		if (head != NULL)
			return cli_api_usage_error("audit verify",
						   "--head needs FILE", usage);
		return verify_server(a.json);
	}
	if (head != NULL && parse_head(head, &seq, hash) != JG_OK)
		return cli_api_usage_error("audit verify",
					   "--head wants SEQ:HASH (64 hex digits)",
					   usage);
	if (strcmp(a.pos[0], "-") == 0)
		return verify_file(stdin, seq, head != NULL ? hash : NULL, a.json);
	in = fopen(a.pos[0], "r");
	if (in == NULL) {
		fprintf(stderr, "jitgate: audit verify: cannot open %s: %s\n",
			a.pos[0], strerror(errno));
		return CLI_EXIT_USAGE;
	}
	rc = verify_file(in, seq, head != NULL ? hash : NULL, a.json);
	fclose(in);
	return rc;
}

int cli_cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return audit_export(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "replay") == 0)
		return cli_audit_replay(argc - 1, argv + 1);
	return audit_list(argc, argv);
}
