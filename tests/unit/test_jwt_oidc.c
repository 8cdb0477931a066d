/* The OIDC verifier end to end inside one process: a small HTTP server on
 * loopback plays the IdP (discovery + JWKS) so discovery, refetch on an
 * unknown kid and its rate limit, the saved key set when the IdP is down,
 * cache invalidation and the claim mapping are exercised for real. */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "identity/oidc.h"
#include "test_jwt_util.h"

static int listen_fd, port;
static char issuer[64];
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static char *jwks_doc;          /* what /jwks serves; guarded by srv_mu */
static bool idp_down;           /* 503 for everything */
static atomic_int jwks_fetches;
static EVP_PKEY *key_a, *key_b;

static void serve_one(int fd)
{
	char req[4096], body[65536], head[512], path[256] = "";
	ssize_t n = 0, r;
	int status = 200;

	while (n < (ssize_t)sizeof(req) - 1 && (r = read(fd, req + n, sizeof(req) - 1 - (size_t)n)) > 0) {
		n += r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	sscanf(req, "GET %255s", path);
	pthread_mutex_lock(&srv_mu);
	if (idp_down) {
		status = 503;
		snprintf(body, sizeof(body), "down");
	} else if (strcmp(path, "/.well-known/openid-configuration") == 0) {
		snprintf(body, sizeof(body), "{\"issuer\":\"%s\",\"jwks_uri\":\"%s/jwks\"}",
			 issuer, issuer);
	} else if (strcmp(path, "/jwks") == 0) {
		atomic_fetch_add(&jwks_fetches, 1);
		snprintf(body, sizeof(body), "%s", jwks_doc);
	} else {
		status = 404;
		snprintf(body, sizeof(body), "no");
	}
	pthread_mutex_unlock(&srv_mu);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nCache-Control: "
		 "public, max-age=300\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		 status, strlen(body));
	if (write(fd, head, strlen(head)) < 0 || write(fd, body, strlen(body)) < 0)
		perror("write");
	close(fd);
}

static void *server_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);

		if (fd < 0)
			return NULL;
		serve_one(fd);
	}
}

static void set_keys(EVP_PKEY *a, const char *kid_a, EVP_PKEY *b, const char *kid_b)
{
	json_t *doc = json_pack("{s:[]}", "keys");

	if (a)
		json_array_append_new(json_object_get(doc, "keys"), tk_jwk(a, kid_a, NULL));
	if (b)
		json_array_append_new(json_object_get(doc, "keys"), tk_jwk(b, kid_b, NULL));
	pthread_mutex_lock(&srv_mu);
	free(jwks_doc);
	jwks_doc = json_dumps(doc, 0);
	pthread_mutex_unlock(&srv_mu);
	json_decref(doc);
}

static void set_down(bool down)
{
	pthread_mutex_lock(&srv_mu);
	idp_down = down;
	pthread_mutex_unlock(&srv_mu);
}

/* the store: one saved JWKS */
static char *saved;
static atomic_int saves;

static int store_load(void *ctx, const char *iss, char **out)
{
	(void)ctx;
	assert_string_equal(iss, issuer);
	if (!saved)
		return JG_ERR_NOTFOUND;
	*out = strdup(saved);
	return JG_OK;
}

static int store_save(void *ctx, const char *iss, const char *json)
{
	(void)ctx;
	assert_string_equal(iss, issuer);
	free(saved);
	saved = strdup(json);
	atomic_fetch_add(&saves, 1);
	return JG_OK;
}

static const struct oidc_store_hooks hooks = {NULL, store_load, store_save};
static char *aud[] = {"jitgate"};

static struct oidc_cfg cfg(void)
{
	return (struct oidc_cfg){.enabled = true, .issuer = issuer, .audiences = aud,
				 .naudiences = 1, .leeway_s = 60};
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static char *token(EVP_PKEY *k, const char *kid, const char *extra)
{
	char hdr[128], payload[1024];

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
		 EVP_PKEY_is_a(k, "EC") ? "ES256" : "RS256", kid);
	snprintf(payload, sizeof(payload),
		 "{\"iss\":\"%s\",\"aud\":\"jitgate\",\"sub\":\"alice\",\"exp\":%lld%s%s}",
		 issuer, (long long)now_s() + 600, extra ? "," : "", extra ? extra : "");
	return tk_token_raw(hdr, payload, k, EVP_PKEY_is_a(k, "EC") ? "ES256" : "RS256");
}

/* Waits until the refresh thread has installed a new key set: it saves
 * it through the store hook right after installing it (the test's sync
 * point; the bound only stops a broken build from hanging). */
static void wait_for_saves(int n)
{
	struct timespec ts = {0, 2 * 1000 * 1000};

	for (int i = 0; i < 15000 && atomic_load(&saves) < n; i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&saves) >= n);
}

static int setup(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	pthread_t t;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(listen_fd, 16) != 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	port = ntohs(sa.sin_port);
	snprintf(issuer, sizeof(issuer), "http://127.0.0.1:%d", port);
	key_a = tk_keygen("EC", 0);
	key_b = tk_keygen("RSA", 2048);
	set_keys(key_a, "A", NULL, NULL);
	pthread_create(&t, NULL, server_thread, NULL);
	pthread_detach(t);
	return 0;
}

static void test_start_authenticate_and_save(void **state)
{
	struct oidc_cfg c = cfg();
	struct oidc *o = NULL;
	struct oidc_identity id;
	struct oidc_failure f;
	char *tok = token(key_a, "A", "\"groups\":[\"sre\",\"ops\"]");
	int fetches = atomic_load(&jwks_fetches);

	(void)state;
	assert_int_equal(oidc_new(&c, &hooks, &o), 0);
	assert_int_equal(oidc_key_count(o), 1);
	assert_int_equal(atomic_load(&jwks_fetches), fetches + 1);
	assert_non_null(saved);
	assert_non_null(strstr(saved, "\"A\""));
	assert_int_equal(oidc_authenticate(o, tok, now_s(), &id, &f), 0);
	assert_string_equal(id.subject, "alice");
	assert_int_equal(id.ngroups, 2);
	assert_string_equal(id.groups[0], "sre");
	assert_string_equal(id.groups[1], "ops");
	oidc_identity_clear(&id);
	/* the cached path gives the same identity */
	assert_int_equal(oidc_authenticate(o, tok, now_s(), &id, &f), 0);
	assert_string_equal(id.subject, "alice");
	assert_int_equal(id.ngroups, 2);
	oidc_identity_clear(&id);
	/* ...but not past exp + leeway */
	assert_int_not_equal(oidc_authenticate(o, tok, now_s() + 661, &id, &f), 0);
	assert_non_null(strstr(f.reason, "expired"));
	oidc_free(o);
	free(tok);
}

static void test_rotation_refetch_and_rate_limit(void **state)
{
	struct oidc_cfg c = cfg();
	struct oidc *o = NULL;
	struct oidc_identity id;
	struct oidc_failure f;
	char *tok_a = token(key_a, "A", NULL), *tok_b = token(key_b, "B", NULL);
	char *tok_x = token(key_b, "X", NULL);
	int fetches, nsaves;

	(void)state;
	set_keys(key_a, "A", NULL, NULL);
	assert_int_equal(oidc_new(&c, &hooks, &o), 0);
	assert_int_equal(oidc_authenticate(o, tok_a, now_s(), &id, &f), 0);
	oidc_identity_clear(&id);
	/* the IdP rotates: A withdrawn, B published.  The first token with
	 * the new kid is refused at once (no fetch on the caller's thread)
	 * and wakes the refresh thread; once B is installed it verifies. */
	set_keys(key_b, "B", NULL, NULL);
	nsaves = atomic_load(&saves);
	assert_int_not_equal(oidc_authenticate(o, tok_b, now_s(), &id, &f), 0);
	assert_non_null(strstr(f.reason, "no key with kid"));
	assert_non_null(strstr(f.reason, "refetched"));
	assert_string_equal(f.kid, "B");
	wait_for_saves(nsaves + 1);
	assert_int_equal(oidc_authenticate(o, tok_b, now_s(), &id, &f), 0);
	oidc_identity_clear(&id);
	/* A was withdrawn: its token is no longer served from the cache */
	assert_int_not_equal(oidc_authenticate(o, tok_a, now_s(), &id, &f), 0);
	assert_non_null(strstr(f.reason, "no key with kid"));
	/* made-up kids do not make us refetch again within the window (the
	 * refetch for B above opened it): none of them asks */
	fetches = atomic_load(&jwks_fetches);
	for (int i = 0; i < 5; i++) {
		assert_int_not_equal(oidc_authenticate(o, tok_x, now_s(), &id, &f), 0);
		assert_string_equal(f.kid, "X");
		assert_null(strstr(f.reason, "refetched"));
	}
	assert_int_equal(atomic_load(&jwks_fetches), fetches);
	oidc_free(o);
	free(tok_a);
	free(tok_b);
	free(tok_x);
}

/* The verified-token cache never accepts what verifying again would
 * refuse: not a token that differs in one byte of its signature (another
 * hash), not one that shares the cached token's slot (the whole hash is
 * compared, in constant time), not outside the nbf/iat/exp window even
 * when the clock steps back, and not a token signed by another key. */
static void test_cache_never_widens(void **state)
{
	struct oidc_cfg c = cfg();
	struct oidc *o = NULL;
	struct oidc_identity id;
	struct oidc_failure f;
	int64_t t = now_s();
	char *tok = token(key_a, "A", NULL), *forged, *late, *other;
	EVP_PKEY *key_c;
	char iat[64];
	size_t len = strlen(tok), tries = 0;

	(void)state;
	set_keys(key_a, "A", NULL, NULL);
	assert_int_equal(oidc_new(&c, &hooks, &o), 0);
	assert_int_equal(oidc_authenticate(o, tok, t, &id, &f), 0);
	oidc_identity_clear(&id);
	assert_int_equal(oidc_authenticate(o, tok, t, &id, &f), 0); /* cached */
	oidc_identity_clear(&id);

	/* one signature character changed: refused */
	forged = strdup(tok);
	forged[len - 2] = forged[len - 2] == 'A' ? 'B' : 'A';
	assert_int_not_equal(oidc_authenticate(o, forged, t, &id, &f), 0);
	assert_non_null(strstr(f.reason, "signature"));

	/* a forgery in the very slot the good token is cached in: found by
	 * changing signature characters until the slots meet */
	do {
		static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

		memcpy(forged, tok, len);
		forged[len - 3 - (tries / 64) % 40] = b64[tries % 64];
		forged[len - 45] = b64[(tries / 2560) % 64];
		tries++;
	} while ((strcmp(forged, tok) == 0 || oidc_cache_slot(forged) != oidc_cache_slot(tok)) &&
		 tries < 1000000);
	assert_int_equal(oidc_cache_slot(forged), oidc_cache_slot(tok));
	assert_int_not_equal(oidc_authenticate(o, forged, t, &id, &f), 0);
	assert_non_null(strstr(f.reason, "signature"));
	/* and the good token is still served */
	assert_int_equal(oidc_authenticate(o, tok, t, &id, &f), 0);
	oidc_identity_clear(&id);

	/* the same claims under kid A, signed by another P-256 key */
	key_c = tk_keygen("EC", 0);
	other = token(key_c, "A", NULL);
	assert_int_not_equal(oidc_authenticate(o, other, t, &id, &f), 0);
	assert_non_null(strstr(f.reason, "signature"));

	/* issued 300 s ahead: verified and cached once the clock is there,
	 * refused from the cache when the clock steps back past iat - leeway
	 * (leeway 60) */
	snprintf(iat, sizeof(iat), "\"iat\":%lld", (long long)t + 300);
	late = token(key_a, "A", iat);
	assert_int_not_equal(oidc_authenticate(o, late, t, &id, &f), 0);
	assert_non_null(strstr(f.reason, "future"));
	assert_int_equal(oidc_authenticate(o, late, t + 300, &id, &f), 0);
	oidc_identity_clear(&id);
	assert_int_equal(oidc_authenticate(o, late, t + 240, &id, &f), 0); /* within leeway */
	oidc_identity_clear(&id);
	assert_int_not_equal(oidc_authenticate(o, late, t + 239, &id, &f), 0);
	assert_non_null(strstr(f.reason, "future"));

	/* expiry: exp is token time + 600 (t + 600, or a second or two
	 * later), leeway 60: served from the cache before, refused after */
	assert_int_equal(oidc_authenticate(o, tok, t + 659, &id, &f), 0);
	oidc_identity_clear(&id);
	assert_int_not_equal(oidc_authenticate(o, tok, t + 663, &id, &f), 0);
	assert_non_null(strstr(f.reason, "expired"));
	oidc_free(o);
	free(tok);
	free(forged);
	free(late);
	free(other);
	EVP_PKEY_free(key_c);
}

static void test_idp_down_uses_saved_keys(void **state)
{
	struct oidc_cfg c = cfg();
	struct oidc *o = NULL;
	struct oidc_identity id;
	struct oidc_failure f;
	char *tok = token(key_b, "B", NULL);

	(void)state;
	set_keys(key_b, "B", NULL, NULL);
	assert_int_equal(oidc_new(&c, &hooks, &o), 0); /* saves B */
	oidc_free(o);
	set_down(true);
	assert_int_equal(oidc_new(&c, &hooks, &o), 0);
	assert_int_equal(oidc_key_count(o), 1);
	assert_int_equal(oidc_authenticate(o, tok, now_s(), &id, &f), 0);
	assert_string_equal(id.subject, "alice");
	oidc_identity_clear(&id);
	oidc_free(o);
	set_down(false);
	free(tok);
}

static void test_idp_down_without_saved_keys(void **state)
{
	struct oidc_cfg c = cfg();
	struct oidc *o = NULL;
	struct oidc_identity id;
	struct oidc_failure f;
	char *tok = token(key_b, "B", NULL);

	(void)state;
	free(saved);
	saved = NULL;
	set_down(true);
	/* starts anyway (static tokens keep working), refuses OIDC tokens */
	assert_int_equal(oidc_new(&c, &hooks, &o), 0);
	assert_int_equal(oidc_key_count(o), 0);
	assert_int_not_equal(oidc_authenticate(o, tok, now_s(), &id, &f), 0);
	assert_null(id.subject);
	oidc_free(o);
	set_down(false);
	free(tok);
}

static void test_failure_fields_and_mapping(void **state)
{
	struct oidc_cfg c = cfg();
	struct oidc *o = NULL;
	struct oidc_identity id;
	struct oidc_failure f;
	char *forged = token(key_b, "A", "\"groups\":\"x\"");
	char *spaced = token(key_a, "A", "\"roles\":\"dev  ops sre\",\"email\":\"a@example.com\"");
	char *badgroups = token(key_a, "A", "\"groups\":[\"ok\",7]");

	(void)state;
	set_keys(key_a, "A", NULL, NULL);
	assert_int_equal(oidc_new(&c, &hooks, &o), 0);
	assert_int_equal(oidc_authenticate(o, forged, now_s(), &id, &f), JG_ERR_AUTH);
	assert_non_null(strstr(f.reason, "does not fit"));
	assert_string_equal(f.kid, "A");
	assert_string_equal(f.sub, "alice");
	assert_string_equal(f.iss, issuer);
	assert_null(strstr(f.reason, forged));
	assert_int_equal(oidc_authenticate(o, badgroups, now_s(), &id, &f), JG_ERR_AUTH);
	assert_non_null(strstr(f.reason, "groups"));
	oidc_free(o);

	c.groups_claim = "roles";
	c.subject_claim = "email";
	assert_int_equal(oidc_new(&c, &hooks, &o), 0);
	assert_int_equal(oidc_authenticate(o, spaced, now_s(), &id, &f), 0);
	assert_string_equal(id.subject, "a@example.com");
	assert_int_equal(id.ngroups, 3);
	assert_string_equal(id.groups[0], "dev");
	assert_string_equal(id.groups[2], "sre");
	oidc_identity_clear(&id);
	oidc_free(o);
	free(forged);
	free(spaced);
	free(badgroups);
}

static void test_invalid_config(void **state)
{
	struct oidc_cfg c = cfg();
	struct oidc *o = NULL;
	char *algs[] = {"HS256"};

	(void)state;
	c.issuer = "http://idp.example.com"; /* http off loopback */
	assert_int_equal(oidc_new(&c, &hooks, &o), JG_ERR_INVALID);
	assert_null(o);
	c = cfg();
	c.algorithms = algs;
	c.nalgorithms = 1;
	assert_int_equal(oidc_new(&c, &hooks, &o), JG_ERR_INVALID);
	c = cfg();
	c.naudiences = 0;
	assert_int_equal(oidc_new(&c, &hooks, &o), JG_ERR_INVALID);
}

int main(void)
{
	/* the fake IdP answers a client that may already have hung up (a
	 * fetch aborted by oidc_free): that must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_authenticate_and_save),
		cmocka_unit_test(test_rotation_refetch_and_rate_limit),
		cmocka_unit_test(test_cache_never_widens),
		cmocka_unit_test(test_idp_down_uses_saved_keys),
		cmocka_unit_test(test_idp_down_without_saved_keys),
		cmocka_unit_test(test_failure_fields_and_mapping),
		cmocka_unit_test(test_invalid_config),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
