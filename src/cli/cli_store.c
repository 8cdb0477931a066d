/* store copy SRC DST [--password-env VAR] (offline; design section 12). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_api.h"
#include "cli/cli_cmd.h"
#include "store/copy.h"

static const char usage[] =
	"usage: jitgate store copy SRC DST [--password-env VAR]\n"
	"  SRC, DST: sqlite:PATH or postgresql://... (DST must be empty)\n"
	"  PostgreSQL password: PGPASSWORD, PGPASSFILE, or the variable VAR\n";

static int open_one(const char *url, const struct store_options *so, struct store **out)
{
	char err[512], shown[256];

	if (store_open(url, so, out, err, sizeof(err)) == JG_OK)
		return 0;
	store_url_redact(url, shown, sizeof(shown));
	fprintf(stderr, "jitgate: store copy: %s: %s\n", shown, err);
	return -1;
}

int cli_cmd_store(int argc, char **argv)
{
	struct store_options so = {0};
	struct store *src = NULL, *dst = NULL;
	struct store_copy_result res;
	const char *pos[2] = {NULL, NULL};
	int npos = 0, rc = CLI_EXIT_FALSE;

	if (argc < 2 || strcmp(argv[1], "copy") != 0) {
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-env") == 0 && i + 1 < argc) {
			so.password = getenv(argv[++i]);
			if (so.password == NULL) {
				fprintf(stderr, "jitgate: store copy: %.64s is not set\n", argv[i]);
				return CLI_EXIT_USAGE;
			}
		} else if (argv[i][0] != '-' && npos < 2) {
			pos[npos++] = argv[i];
		} else {
			fputs(usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (npos != 2 || !store_url_supported(pos[0]) || !store_url_supported(pos[1])) {
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(pos[0], pos[1]) == 0) {
		fputs("jitgate: store copy: SRC and DST are the same store\n", stderr);
		return CLI_EXIT_USAGE;
	}
	if (open_one(pos[0], &so, &src) != 0 || open_one(pos[1], &so, &dst) != 0)
		goto out;
	if (store_copy(src, dst, &res) != JG_OK) {
		fprintf(stderr, "jitgate: store copy: %s; the destination is unchanged\n",
			res.reason);
		goto out;
	}
	printf("copied %lld requests, %lld audit events, %lld outbox rows,"
	       " %lld Slack messages; the chain verifies: head %lld %s\n",
	       (long long)res.requests, (long long)res.events, (long long)res.outbox,
	       (long long)res.slack_messages, (long long)res.head_seq, res.head);
	rc = CLI_EXIT_OK;
out:
	store_close(src);
	store_close(dst);
	return rc;
}
