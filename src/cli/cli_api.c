#include "cli/cli_api.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_format.h"
#include "cli/cli_tokenfile.h"

int cli_api_exit_for_status(long status)
{
	switch (status) {
	case 400:
	case 413:
		return CLI_EXIT_BADREQ;
	case 401:
		return CLI_EXIT_AUTH;
	case 403:
		return CLI_EXIT_FORBIDDEN;
	case 404:
		return CLI_EXIT_NOTFOUND;
	case 409:
		return CLI_EXIT_CONFLICT;
	default:
		return status >= 200 && status < 300 ? CLI_EXIT_OK : CLI_EXIT_SERVER;
	}
}

void cli_api_print_error(long status, const json_t *body, FILE *f)
{
	const json_t *e = json_object_get(body, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *code = json_string_value(json_object_get(e, "code"));

	fputs("jitgate: ", f);
	if (msg != NULL) {
		cli_format_put(msg, f);
		fputs(" (", f);
		cli_format_put(code != NULL ? code : "error", f);
		fprintf(f, ", HTTP %ld)\n", status);
	} else {
		fprintf(f, "server answered HTTP %ld\n", status);
	}
}

int cli_api_usage_error(const char *cmd, const char *msg, const char *usage)
{
	fprintf(stderr, "jitgate: %s: %s\nusage: jitgate %s\n", cmd, msg, usage);
	return CLI_EXIT_USAGE;
}

int cli_api_parse(int argc, char **argv, const struct cli_opt *opts,
		  size_t nopts, int min_pos, int max_pos, const char *usage,
		  struct cli_args *a)
{
	char err[256];

	if (cli_args_parse(argc, argv, opts, nopts, min_pos, max_pos, a, err,
			   sizeof(err)) != JG_OK)
		return cli_api_usage_error(argv[0], err, usage);
	if (a->help) {
		printf("usage: jitgate %s\n", usage);
		return CLI_EXIT_OK;
	}
	return CLI_CONTINUE;
}

int cli_api_open(struct cli_http **out)
{
	const char *token = getenv("JITGATE_TOKEN");
	const char *addr = getenv("JITGATE_ADDR");
	char err[512], *stored = NULL;
	int rc;

	*out = NULL;
	if (token == NULL || token[0] == '\0') {
		/* the sign-in of `jitgate login`, refreshed when due */
		rc = cli_tokenfile_token(&stored, err, sizeof(err));
		if (rc == JG_ERR_NOTFOUND) {
			fputs("jitgate: not signed in: run jitgate login, or export "
			      "JITGATE_TOKEN (static token or OIDC JWT)\n", stderr);
			return CLI_EXIT_USAGE;
		}
		if (rc != JG_OK) {
			fprintf(stderr, "jitgate: %s\n", err);
			return CLI_EXIT_AUTH;
		}
		token = stored;
	}
	if (addr != NULL && addr[0] == '\0')
		addr = NULL;
	rc = cli_http_new(addr, token, out, err, sizeof(err));
	if (stored) {
		OPENSSL_cleanse(stored, strlen(stored));
		free(stored);
	}
	if (rc == JG_ERR_INVALID) {
		fprintf(stderr, "jitgate: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (rc != JG_OK) {
		fprintf(stderr, "jitgate: %s\n", jg_strerror(rc));
		return CLI_EXIT_SERVER;
	}
	return CLI_EXIT_OK;
}

int cli_api_call(struct cli_http *h, const char *method, const char *path,
		 const json_t *body, json_t **out)
{
	char err[512];
	json_t *res = NULL;
	long status;
	int rc;

	*out = NULL;
	rc = cli_http_json(h, method, path, body, &status, &res, err, sizeof(err));
	if (rc == JG_ERR_IO) {
		fprintf(stderr, "jitgate: %s\n", err);
		return CLI_EXIT_UNREACHABLE;
	}
	if (rc == JG_ERR_TOOBIG) {
		fprintf(stderr, "jitgate: %s\n", err);
		return CLI_EXIT_SERVER;
	}
	if (rc != JG_OK) {
		fprintf(stderr, "jitgate: %s\n", jg_strerror(rc));
		return CLI_EXIT_SERVER;
	}
	if (status < 200 || status >= 300) {
		cli_api_print_error(status, res, stderr);
		json_decref(res);
		return cli_api_exit_for_status(status);
	}
	if (res == NULL) {
		fprintf(stderr, "jitgate: the server's answer (HTTP %ld) is not JSON\n",
			status);
		return CLI_EXIT_SERVER;
	}
	*out = res;
	return CLI_EXIT_OK;
}

void cli_api_print_json(const json_t *j, FILE *f)
{
	json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
}
