/* jitgate login / logout (design section 10): sign in at the IdP the
 * server names (GET /auth/config) with the device authorization grant
 * where the IdP offers it, else a loopback redirect with PKCE, and keep
 * the tokens in the token file (cli_tokenfile.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_api.h"
#include "cli/cli_cmd.h"
#include "cli/cli_tokenfile.h"
#include "identity/oidc_client.h"
#include "util/crypto.h"

#define LOGIN_WAIT_S 600      /* the person has this long to finish */
#define DEVICE_INTERVAL_MAX 60
#define REDIRECT_REQ_MAX 8192

static const char login_usage[] =
	"login [--device | --browser] [--issuer URL --client-id ID]";

struct idp {
	char *issuer, *client_id;
	struct oidc_endpoints ep;
	char scope[128];
};

static void idp_clear(struct idp *p)
{
	free(p->issuer);
	free(p->client_id);
	oidc_endpoints_clear(&p->ep);
}

/* Where to sign in: the flags, or what the server at JITGATE_ADDR says. */
static int find_idp(const struct cli_args *a, struct idp *p)
{
	const char *iss = cli_args_opt(a, "--issuer"), *cid = cli_args_opt(a, "--client-id");
	struct cli_http *h = NULL;
	json_t *res = NULL, *o;
	char err[512];
	int rc;

	if ((iss == NULL) != (cid == NULL))
		return cli_api_usage_error("login", "--issuer and --client-id go together",
					   login_usage);
	if (iss == NULL) {
		const char *addr = getenv("JITGATE_ADDR");

		if (cli_http_new(addr && *addr ? addr : NULL, NULL, &h, err, sizeof(err)) != JG_OK) {
			fprintf(stderr, "jitgate: %s\n", err);
			return CLI_EXIT_USAGE;
		}
		rc = cli_api_call(h, "GET", "/auth/config", NULL, &res);
		cli_http_free(h);
		if (rc != CLI_EXIT_OK)
			return rc;
		o = json_object_get(res, "oidc");
		iss = json_string_value(json_object_get(o, "issuer"));
		cid = json_string_value(json_object_get(o, "client_id"));
		if (iss == NULL || cid == NULL) {
			json_decref(res);
			fputs("jitgate: this server has no OIDC sign-in (web.oidc_client_id); "
			      "use a static token in JITGATE_TOKEN\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	p->issuer = strdup(iss);
	p->client_id = strdup(cid);
	json_decref(res);
	if (p->issuer == NULL || p->client_id == NULL)
		return CLI_EXIT_SERVER;
	if (oidc_client_discover(p->issuer, NULL, &p->ep, err, sizeof(err)) != JG_OK) {
		fprintf(stderr, "jitgate: cannot reach the IdP: %s\n", err);
		return CLI_EXIT_UNREACHABLE;
	}
	snprintf(p->scope, sizeof(p->scope), "openid%s%s",
		 oidc_endpoints_has_scope(&p->ep, "offline_access") ? " offline_access" : "",
		 oidc_endpoints_has_scope(&p->ep, "groups") ? " groups" : "");
	return CLI_EXIT_OK;
}

/* POSTs form to url; the JSON answer (any status) in *out. */
static int post(const char *url, char *form, long *status, json_t **out)
{
	char err[512], *body = NULL;
	size_t len = 0;
	int rc = oidc_client_post(url, form, NULL, NULL, NULL, status, &body, &len, err,
				  sizeof(err));

	OPENSSL_cleanse(form, strlen(form));
	free(form);
	*out = NULL;
	if (rc != JG_OK) {
		fprintf(stderr, "jitgate: %s\n", err);
		return CLI_EXIT_UNREACHABLE;
	}
	*out = json_loadb(body, len, 0, NULL);
	OPENSSL_cleanse(body, len);
	free(body);
	return CLI_EXIT_OK;
}

static const char *error_of(const json_t *j)
{
	const char *e = json_string_value(json_object_get(j, "error"));

	return e ? e : "no error code";
}

/* ---- device authorization grant (RFC 8628) ---- */

static int device_flow(struct idp *p, json_t **tokens)
{
	char *form = NULL;
	json_t *d = NULL, *t = NULL;
	const char *code, *user_code, *uri, *complete;
	long status, interval, deadline;
	int rc;

	*tokens = NULL;
	if (oidc_form_add(&form, "client_id", p->client_id) != JG_OK ||
	    oidc_form_add(&form, "scope", p->scope) != JG_OK)
		return CLI_EXIT_SERVER;
	if ((rc = post(p->ep.device_authorization_endpoint, form, &status, &d)) != CLI_EXIT_OK)
		return rc;
	code = json_string_value(json_object_get(d, "device_code"));
	user_code = json_string_value(json_object_get(d, "user_code"));
	uri = json_string_value(json_object_get(d, "verification_uri"));
	complete = json_string_value(json_object_get(d, "verification_uri_complete"));
	if (status != 200 || code == NULL || user_code == NULL || uri == NULL) {
		fprintf(stderr, "jitgate: the IdP refused the device sign-in: %s\n", error_of(d));
		json_decref(d);
		return CLI_EXIT_AUTH;
	}
	interval = json_is_integer(json_object_get(d, "interval"))
			   ? (long)json_integer_value(json_object_get(d, "interval"))
			   : 5;
	if (interval < 1 || interval > DEVICE_INTERVAL_MAX)
		interval = 5;
	deadline = (long)time(NULL) +
		   (json_is_integer(json_object_get(d, "expires_in")) &&
				    json_integer_value(json_object_get(d, "expires_in")) < LOGIN_WAIT_S
			    ? (long)json_integer_value(json_object_get(d, "expires_in"))
			    : LOGIN_WAIT_S);
	fprintf(stderr, "To sign in, open %s\nand enter the code %s\n", uri, user_code);
	if (complete != NULL)
		fprintf(stderr, "(or open %s)\n", complete);
	fflush(stderr);
	for (;;) {
		if ((long)time(NULL) >= deadline) {
			fputs("jitgate: the sign-in was not completed in time\n", stderr);
			rc = CLI_EXIT_AUTH;
			break;
		}
		sleep((unsigned)interval);
		form = NULL;
		if (oidc_form_add(&form, "grant_type",
				  "urn:ietf:params:oauth:grant-type:device_code") != JG_OK ||
		    oidc_form_add(&form, "device_code", code) != JG_OK ||
		    oidc_form_add(&form, "client_id", p->client_id) != JG_OK) {
			rc = CLI_EXIT_SERVER;
			break;
		}
		if ((rc = post(p->ep.token_endpoint, form, &status, &t)) != CLI_EXIT_OK)
			break;
		if (status == 200) {
			*tokens = t;
			rc = CLI_EXIT_OK;
			break;
		}
		if (strcmp(error_of(t), "authorization_pending") == 0) {
			json_decref(t);
			continue;
		}
		if (strcmp(error_of(t), "slow_down") == 0) {
			interval += 5;
			json_decref(t);
			continue;
		}
		fprintf(stderr, "jitgate: sign-in refused: %s\n", error_of(t));
		json_decref(t);
		rc = CLI_EXIT_AUTH;
		break;
	}
	json_decref(d);
	return rc;
}

/* ---- loopback redirect with PKCE (RFC 8252) ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of name in a query string (decoded into out); false if absent. */
static bool query_value(const char *q, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	while (q && *q) {
		const char *end = q + strcspn(q, "&");

		if ((size_t)(end - q) > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
			size_t o = 0;

			for (const char *p = q + nl + 1; p < end && o + 1 < cap; p++) {
				int hi = end - p > 2 && *p == '%' ? hexval(p[1]) : -1;
				int lo = hi >= 0 ? hexval(p[2]) : -1;

				if (lo >= 0) {
					out[o++] = (char)(hi * 16 + lo);
					p += 2;
				} else {
					out[o++] = *p == '+' ? ' ' : *p;
				}
			}
			out[o] = '\0';
			return true;
		}
		q = *end ? end + 1 : end;
	}
	return false;
}

static void answer(int fd, const char *status, const char *text)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
			 status, strlen(text), text);

	if (n > 0)
		(void)!write(fd, buf, (size_t)n);
}

/* Waits for the browser to come back to /cb; fills code. */
static int wait_redirect(int ls, const char *state, char *code, size_t cap)
{
	time_t deadline = time(NULL) + LOGIN_WAIT_S;

	for (;;) {
		struct pollfd pfd = {.fd = ls, .events = POLLIN};
		char req[REDIRECT_REQ_MAX + 1], got_state[OIDC_PKCE_LEN + 2], err[128];
		const char *q;
		ssize_t n;
		size_t len = 0;
		int fd;

		if (time(NULL) >= deadline ||
		    poll(&pfd, 1, (int)(deadline - time(NULL)) * 1000) <= 0) {
			fputs("jitgate: the sign-in was not completed in time\n", stderr);
			return CLI_EXIT_AUTH;
		}
		fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		/* one request head, bounded; a slow or silly client is dropped */
		while (len < REDIRECT_REQ_MAX && !memmem(req, len, "\r\n\r\n", 4)) {
			struct pollfd cp = {.fd = fd, .events = POLLIN};

			if (poll(&cp, 1, 5000) <= 0 || (n = read(fd, req + len, REDIRECT_REQ_MAX - len)) <= 0)
				break;
			len += (size_t)n;
		}
		req[len] = '\0';
		if (strncmp(req, "GET /cb?", 8) != 0) {
			answer(fd, "404 Not Found", "not here\n");
			close(fd);
			continue;
		}
		q = req + 8;
		req[8 + strcspn(q, " \r\n")] = '\0';
		if (query_value(q, "error", err, sizeof(err))) {
			answer(fd, "400 Bad Request", "Sign-in refused. You may close this window.\n");
			close(fd);
			fprintf(stderr, "jitgate: the IdP refused the sign-in: %s\n", err);
			return CLI_EXIT_AUTH;
		}
		if (!query_value(q, "state", got_state, sizeof(got_state)) ||
		    strlen(got_state) != OIDC_PKCE_LEN ||
		    !crypto_ct_equal(got_state, state, OIDC_PKCE_LEN) ||
		    !query_value(q, "code", code, cap) || code[0] == '\0') {
			answer(fd, "400 Bad Request", "Not this sign-in.\n");
			close(fd);
			continue;
		}
		answer(fd, "200 OK", "Signed in to jitgate. You may close this window.\n");
		close(fd);
		return CLI_EXIT_OK;
	}
}

static int loopback_flow(struct idp *p, json_t **tokens)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	char state[OIDC_PKCE_LEN + 1], nonce[OIDC_PKCE_LEN + 1], verifier[OIDC_PKCE_LEN + 1];
	char challenge[OIDC_PKCE_LEN + 1], redirect[64], code[4096], *form = NULL;
	char *got_nonce;
	long status;
	json_t *t = NULL;
	int ls, rc;

	*tokens = NULL;
	if (oidc_random_token(state) != JG_OK || oidc_random_token(nonce) != JG_OK ||
	    oidc_random_token(verifier) != JG_OK)
		return CLI_EXIT_SERVER;
	oidc_pkce_challenge(verifier, challenge);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 8) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
		fprintf(stderr, "jitgate: cannot listen on 127.0.0.1: %s\n", strerror(errno));
		if (ls >= 0)
			close(ls);
		return CLI_EXIT_SERVER;
	}
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%u/cb", ntohs(sa.sin_port));
	if (oidc_form_add(&form, "response_type", "code") != JG_OK ||
	    oidc_form_add(&form, "client_id", p->client_id) != JG_OK ||
	    oidc_form_add(&form, "redirect_uri", redirect) != JG_OK ||
	    oidc_form_add(&form, "scope", p->scope) != JG_OK ||
	    oidc_form_add(&form, "state", state) != JG_OK ||
	    oidc_form_add(&form, "nonce", nonce) != JG_OK ||
	    oidc_form_add(&form, "code_challenge", challenge) != JG_OK ||
	    oidc_form_add(&form, "code_challenge_method", "S256") != JG_OK) {
		close(ls);
		free(form);
		return CLI_EXIT_SERVER;
	}
	fprintf(stderr, "To sign in, open this URL in your browser:\n%s%c%s\n",
		p->ep.authorization_endpoint,
		strchr(p->ep.authorization_endpoint, '?') ? '&' : '?', form);
	fflush(stderr);
	free(form);
	rc = wait_redirect(ls, state, code, sizeof(code));
	close(ls);
	if (rc != CLI_EXIT_OK)
		return rc;
	form = NULL;
	if (oidc_form_add(&form, "grant_type", "authorization_code") != JG_OK ||
	    oidc_form_add(&form, "code", code) != JG_OK ||
	    oidc_form_add(&form, "redirect_uri", redirect) != JG_OK ||
	    oidc_form_add(&form, "client_id", p->client_id) != JG_OK ||
	    oidc_form_add(&form, "code_verifier", verifier) != JG_OK)
		return CLI_EXIT_SERVER;
	OPENSSL_cleanse(code, sizeof(code));
	if ((rc = post(p->ep.token_endpoint, form, &status, &t)) != CLI_EXIT_OK)
		return rc;
	if (status != 200 || !json_is_string(json_object_get(t, "id_token"))) {
		fprintf(stderr, "jitgate: the IdP refused the code: %s\n", error_of(t));
		json_decref(t);
		return CLI_EXIT_AUTH;
	}
	/* the ID token must answer this sign-in, not some other one */
	got_nonce = cli_jwt_claim(json_string_value(json_object_get(t, "id_token")), "nonce");
	if (got_nonce == NULL || strcmp(got_nonce, nonce) != 0) {
		free(got_nonce);
		json_decref(t);
		fputs("jitgate: the ID token is not for this sign-in (nonce)\n", stderr);
		return CLI_EXIT_AUTH;
	}
	free(got_nonce);
	*tokens = t;
	return CLI_EXIT_OK;
}

/* Stores the tokens and says who is signed in. */
static int keep(const struct idp *p, const json_t *t)
{
	const char *idt = json_string_value(json_object_get(t, "id_token"));
	const json_t *rt = json_object_get(t, "refresh_token");
	json_t *file, *me = NULL;
	struct cli_http *h = NULL;
	char err[512];
	int rc;

	if (idt == NULL) {
		fputs("jitgate: the IdP answered without an ID token\n", stderr);
		return CLI_EXIT_AUTH;
	}
	file = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "issuer", p->issuer, "client_id",
			 p->client_id, "token_endpoint", p->ep.token_endpoint, "id_token", idt,
			 "refresh_token", json_is_string(rt) ? json_copy((json_t *)rt) : json_null(),
			 "expires_at", (json_int_t)cli_jwt_exp(idt));
	if (file == NULL)
		return CLI_EXIT_SERVER;
	rc = cli_tokenfile_save(file, err, sizeof(err));
	json_decref(file);
	if (rc != JG_OK) {
		fprintf(stderr, "jitgate: %s\n", err);
		return CLI_EXIT_SERVER;
	}
	/* the server's word on who this is (its rules, its audience check) */
	unsetenv("JITGATE_TOKEN");
	if ((rc = cli_api_open(&h)) != CLI_EXIT_OK)
		return rc;
	rc = cli_api_call(h, "GET", "/v1/whoami", NULL, &me);
	if (rc == CLI_EXIT_OK)
		printf("Signed in as %s\n", json_string_value(json_object_get(me, "subject")));
	json_decref(me);
	cli_http_free(h);
	return rc;
}

int cli_cmd_login(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{"--device", false}, {"--browser", false}, {"--issuer", true}, {"--client-id", true},
	};
	struct idp p = {0};
	struct cli_args a;
	json_t *t = NULL;
	bool device;
	int rc;

	rc = cli_api_parse(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), 0, 0, login_usage,
			   &a);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli_args_opt(&a, "--device") && cli_args_opt(&a, "--browser"))
		return cli_api_usage_error(argv[0], "--device or --browser, not both", login_usage);
	if ((rc = find_idp(&a, &p)) != CLI_EXIT_OK)
		goto out;
	device = p.ep.device_authorization_endpoint != NULL && !cli_args_opt(&a, "--browser");
	if (cli_args_opt(&a, "--device") && p.ep.device_authorization_endpoint == NULL) {
		fputs("jitgate: the IdP offers no device sign-in; use --browser\n", stderr);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	rc = device ? device_flow(&p, &t) : loopback_flow(&p, &t);
	if (rc == CLI_EXIT_OK)
		rc = keep(&p, t);
out:
	json_decref(t);
	idp_clear(&p);
	return rc;
}

int cli_cmd_logout(int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_api_parse(argc, argv, NULL, 0, 0, 0, "logout", &a);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_tokenfile_remove();
	if (rc == JG_ERR_NOTFOUND) {
		puts("Not signed in");
		return CLI_EXIT_OK;
	}
	if (rc != JG_OK) {
		fprintf(stderr, "jitgate: cannot remove the token file: %s\n", strerror(errno));
		return CLI_EXIT_SERVER;
	}
	puts("Signed out");
	return CLI_EXIT_OK;
}
