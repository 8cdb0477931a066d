/* token new, token verify. */
#include "cli/cli_cmd.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_api.h"
#include "identity/token_verify.h"
#include "util/crypto.h"

#define NOPTS(o) (sizeof(o) / sizeof((o)[0]))
#define TOKEN_RANDOM_BYTES 32
/* "jg_" + unpadded base64url of 32 bytes (43 characters) + NUL. */
#define TOKEN_LEN (3 + 43 + 1)

/* Unpadded base64url (RFC 4648 section 5): tokens go into shell variables,
 * URLs and headers without quoting. */
static void base64url(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
}

static int token_new(int argc, char **argv)
{
	static const char usage[] = "token new [--json]";
	uint8_t raw[TOKEN_RANDOM_BYTES];
	char token[TOKEN_LEN], hash[SHA256_HEX_LEN + 1];
	struct cli_args a;
	int rc;

	rc = cli_api_parse(argc, argv, NULL, 0, 0, 0, usage, &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (crypto_random(raw, sizeof(raw)) != JG_OK) {
		fputs("jitgate: token new: no random bytes available\n", stderr);
		return CLI_EXIT_SERVER;
	}
	memcpy(token, "jg_", 3);
	base64url(raw, sizeof(raw), token + 3);
	explicit_bzero(raw, sizeof(raw));
	/* The server hashes the bearer token exactly as sent, prefix
	 * included. */
	crypto_sha256_hex(token, strlen(token), hash);
	if (a.json)
		printf("{\n  \"token\": \"%s\",\n  \"token_sha256\": \"%s\"\n}\n",
		       token, hash);
	else
		printf("%s\ntoken_sha256: %s\n", token, hash);
	explicit_bzero(token, sizeof(token));
	return CLI_EXIT_OK;
}

int cli_cmd_token(int argc, char **argv)
{
	static const char usage[] =
		"token new [--json]\n"
		"       jitgate token verify [--jwks FILE] [--issuer URL] "
		"[--audience A]... [--signature-only] TOKEN|-";

	if (argc >= 2 && strcmp(argv[1], "new") == 0)
		return token_new(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return identity_cli_token_verify(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: jitgate %s\n", usage);
		return CLI_EXIT_OK;
	}
	return cli_api_usage_error("token",
				   argc >= 2 ? "unknown subcommand" : "missing subcommand",
				   usage);
}
