/* jitgate audit replay -c NEW EXPORT.jsonl [--json]: past requests whose
 * outcome would differ under NEW.  Offline; exit 0 none differ, 1 some
 * do, 2 bad config, unreadable export or one that does not verify. */
#include "cli/cli_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/chain.h"
#include "cli/cli_api.h"
#include "cli/cli_format.h"
#include "cli/cli_policy.h"
#include "policytest/replay.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))

/* The next line of in into buf (at most cap bytes kept, without the
 * '\n'; NUL bytes included): its full length, or -1 at the end.  A longer
 * line is read to its end but not kept. */
static long read_line(FILE *in, char *buf, size_t cap)
{
	size_t n = 0;
	int ch;

	while ((ch = getc_unlocked(in)) != EOF && ch != '\n') {
		if (n < cap)
			buf[n] = (char)ch;
		n++;
	}
	if (ch == EOF && n == 0)
		return -1;
	return (long)n;
}

/* Feeds every line of in to rp.  A line longer than AUDIT_LINE_MAX is
 * refused without being held whole. */
static int feed_file(struct replay *rp, FILE *in, const char *name)
{
	char *buf = malloc(AUDIT_LINE_MAX + 1), err[512];
	size_t lineno = 0;
	int rc = CLI_EXIT_OK;
	long len;

	if (buf == NULL)
		return CLI_EXIT_SERVER;
	while ((len = read_line(in, buf, AUDIT_LINE_MAX)) >= 0) {
		lineno++;
		if (len > (long)AUDIT_LINE_MAX) {
			fprintf(stderr, "jitgate: %s:%zu: line longer than %u bytes\n",
				name, lineno, AUDIT_LINE_MAX);
			rc = CLI_EXIT_USAGE;
			break;
		}
		if (replay_feed_line(rp, buf, (size_t)len, err, sizeof(err)) != JG_OK) {
			fprintf(stderr, "jitgate: %s does not verify, not replayed: ", name);
			cli_format_put(err[0] ? err : "out of memory", stderr);
			fputc('\n', stderr);
			rc = CLI_EXIT_USAGE;
			break;
		}
	}
	if (rc == CLI_EXIT_OK && ferror(in)) {
		fprintf(stderr, "jitgate: cannot read %s\n", name);
		rc = CLI_EXIT_USAGE;
	}
	free(buf);
	return rc;
}

int cli_audit_replay(int argc, char **argv)
{
	static const char usage[] = "audit replay -c NEW EXPORT.jsonl [--json]";
	static const struct cli_opt opts[] = {{"-c", true}, {"--config", true}};
	const struct replay_item *v;
	struct replay *rp = NULL;
	struct config *cfg = NULL;
	size_t replayed, n;
	struct cli_args a;
	char line[1024];
	FILE *in = NULL;
	int rc;

	rc = cli_api_parse(argc, argv, opts, NOPTS(opts), 1, 1, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_policy_load(cli_policy_config_opt(&a), &cfg)) != CLI_EXIT_OK)
		return rc;
	in = strcmp(a.pos[0], "-") == 0 ? stdin : fopen(a.pos[0], "r");
	if (in == NULL) {
		fprintf(stderr, "jitgate: cannot open %s: %s\n", a.pos[0], strerror(errno));
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (replay_new(cfg, &rp) != JG_OK) {
		rc = CLI_EXIT_SERVER;
		goto out;
	}
	if ((rc = feed_file(rp, in, a.pos[0])) != CLI_EXIT_OK)
		goto out;
	replay_results(rp, &replayed, &v, &n);
	if (a.json) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, replay_item_json(&v[i]));
		json_t *doc = json_pack("{s:o*, s:I, s:I}", "differ", arr, "replayed",
					(json_int_t)replayed, "differing", (json_int_t)n);

		if (doc != NULL)
			cli_api_print_json(doc, stdout);
		json_decref(doc);
	} else {
		for (size_t i = 0; i < n; i++) {
			replay_item_text(&v[i], line, sizeof(line));
			cli_format_put(line, stdout);
			putchar('\n');
		}
		printf("%zu replayed, %zu would differ\n", replayed, n);
	}
	rc = n > 0 ? CLI_EXIT_FALSE : CLI_EXIT_OK;
out:
	if (in != NULL && in != stdin)
		fclose(in);
	replay_free(rp);
	config_free(cfg);
	return rc;
}
