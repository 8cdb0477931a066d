#include "identity/token_verify.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/jwk.h"
#include "identity/jwt.h"
#include "identity/oidc_fetch.h"

#define TV_MAX_AUDIENCES 16
#define TV_DEFAULT_LEEWAY_S 60

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jitgate token verify [--jwks FILE] [--issuer URL] "
		"[--audience A]... [--signature-only] TOKEN|-\n"
		"  keys come from FILE (a JWKS or one JWK) or are discovered from URL\n");
}

/* Reads at most max bytes of path (or stdin for "-"); caller frees. */
static char *read_bounded(const char *path, size_t max, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n;

	*len = 0;
	if (!f)
		return NULL;
	buf = malloc(max + 2);
	if (buf) {
		n = fread(buf, 1, max + 1, f);
		if (n > max || ferror(f)) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = n;
		}
	}
	if (f != stdin)
		fclose(f);
	return buf;
}

static void print_skip(void *ctx, size_t index, const char *kid, const char *reason)
{
	(void)ctx;
	fprintf(stderr, "key #%zu (kid %s) skipped: %s\n", index, kid ? kid : "-", reason);
}

static int load_keys(const char *jwks_file, const char *issuer, struct jwks **keys)
{
	char err[512], *json = NULL, *uri = NULL;
	size_t len = 0;
	int64_t max_age;
	int rc;

	if (jwks_file) {
		json = read_bounded(jwks_file, JWKS_JSON_MAX, &len);
		if (!json) {
			fprintf(stderr, "%s: cannot read (or larger than %d bytes)\n",
				jwks_file, JWKS_JSON_MAX);
			return 2;
		}
	} else {
		rc = oidc_discover_jwks_uri(issuer, NULL, &uri, err, sizeof(err));
		if (rc == 0)
			rc = oidc_http_get(uri, JWKS_JSON_MAX, NULL, &json, &len, &max_age,
					   err, sizeof(err));
		free(uri);
		if (rc != 0) {
			fprintf(stderr, "cannot fetch the issuer's keys: %s\n", err);
			return 2;
		}
	}
	rc = jwks_parse(json, len, true, print_skip, NULL, keys);
	free(json);
	if (rc != 0) {
		fprintf(stderr, "%s: not a JWKS or JWK\n", jwks_file ? jwks_file : "jwks_uri");
		return 2;
	}
	if (jwks_count(*keys) == 0) {
		fprintf(stderr, "no usable key\n");
		return 2;
	}
	return 0;
}

int identity_cli_token_verify(int argc, char **argv)
{
	const char *jwks_file = NULL, *issuer = NULL, *token_arg = NULL;
	const char *audiences[TV_MAX_AUDIENCES];
	size_t naud = 0, len = 0;
	bool sig_only = false;
	struct jwks *keys = NULL;
	struct jwt_result res = {0};
	struct jwt_rules rules;
	char *token = NULL, *h = NULL, *c = NULL;
	int rc, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--jwks") == 0 && i + 1 < argc)
			jwks_file = argv[++i];
		else if (strcmp(a, "--issuer") == 0 && i + 1 < argc)
			issuer = argv[++i];
		else if (strcmp(a, "--audience") == 0 && i + 1 < argc &&
			 naud < TV_MAX_AUDIENCES)
			audiences[naud++] = argv[++i];
		else if (strcmp(a, "--signature-only") == 0)
			sig_only = true;
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		else if ((a[0] != '-' || strcmp(a, "-") == 0) && !token_arg)
			token_arg = a;
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!token_arg || (!jwks_file && !issuer)) {
		usage(stderr);
		return 2;
	}
	if (strcmp(token_arg, "-") == 0) {
		token = read_bounded("-", JWT_TOKEN_MAX + 2, &len);
		while (token && len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'))
			token[--len] = '\0';
	} else {
		token = strdup(token_arg);
		len = token ? strlen(token) : 0;
	}
	if (!token) {
		fprintf(stderr, "cannot read the token\n");
		return 2;
	}
	rc = load_keys(jwks_file, issuer, &keys);
	if (rc != 0)
		goto out;
	rules = (struct jwt_rules){.algs = JWS_ALG_ALL, .issuer = issuer,
				   .audiences = audiences, .naudiences = naud,
				   .leeway_s = TV_DEFAULT_LEEWAY_S,
				   .signature_only = sig_only};
	if (jwt_verify(token, len, keys, &rules, (int64_t)time(NULL), &res) != 0) {
		printf("invalid: %s\n", res.reason);
		rc = 1;
		goto out;
	}
	h = json_dumps(res.header, JSON_INDENT(2) | JSON_SORT_KEYS);
	c = res.claims ? json_dumps(res.claims, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	printf("valid%s\nheader: %s\nclaims: %s\n", sig_only ? " (signature only)" : "",
	       h ? h : "{}", c ? c : "(payload is not a JSON object)");
	rc = 0;
out:
	free(h);
	free(c);
	jwt_result_clear(&res);
	jwks_unref(keys);
	if (token)
		memset(token, 0, len);
	free(token);
	return rc;
}
