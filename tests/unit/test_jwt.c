/* Strict JWT verification: one test per attack class of issue 3, plus the
 * positive case for each algorithm.  Keys are generated here and tokens
 * signed here, so nothing is precomputed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "identity/jwt.h"
#include "test_jwt_util.h"

#define NOW 1800000000LL
#define ISS "https://idp.example.com"

static EVP_PKEY *rsa, *rsa_other, *ec, *ed;
static struct jwks *keys;
static const char *const aud_list[] = {"jitgate"};

static struct jwt_rules rules(void)
{
	return (struct jwt_rules){.algs = JWS_ALG_ALL, .issuer = ISS,
				  .audiences = aud_list, .naudiences = 1,
				  .leeway_s = 60};
}

static int setup(void **state)
{
	json_t *arr = json_array();

	(void)state;
	rsa = tk_keygen("RSA", 2048);
	rsa_other = tk_keygen("RSA", 2048);
	ec = tk_keygen("EC", 0);
	ed = tk_keygen("ED25519", 0);
	json_array_append_new(arr, tk_jwk(rsa, "rsa1", NULL));
	json_array_append_new(arr, tk_jwk(ec, "ec1", "ES256"));
	json_array_append_new(arr, tk_jwk(ed, "ed1", NULL));
	keys = tk_jwks(arr);
	json_decref(arr);
	return jwks_count(keys) == 3 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	jwks_unref(keys);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	return 0;
}

static char *claims(const char *extra)
{
	static char buf[40000];

	snprintf(buf, sizeof(buf),
		 "{\"iss\":\"" ISS "\",\"aud\":\"jitgate\",\"sub\":\"alice\","
		 "\"exp\":%lld,\"iat\":%lld%s%s}",
		 NOW + 300, NOW - 10, extra ? "," : "", extra ? extra : "");
	return buf;
}

/* Verifies tok with the default rules; returns the code, reason into why. */
static int check_with(const char *tok, const struct jwt_rules *r, char *why)
{
	struct jwt_result res;
	int rc = jwt_verify(tok, strlen(tok), keys, r, NOW, &res);

	snprintf(why, JWT_REASON_MAX, "%s", res.reason);
	jwt_result_clear(&res);
	return rc;
}

static int check(const char *tok, char *why)
{
	struct jwt_rules r = rules();

	return check_with(tok, &r, why);
}

static void assert_refused(const char *tok, const char *reason_part)
{
	char why[JWT_REASON_MAX];
	int rc = check(tok, why);

	if (rc == 0 || !strstr(why, reason_part))
		print_error("token %.60s...: rc %d, reason \"%s\", expected \"%s\"\n",
			    tok, rc, why, reason_part);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(why, reason_part));
}

static void assert_accepted(const char *tok)
{
	char why[JWT_REASON_MAX];
	int rc = check(tok, why);

	if (rc != 0)
		print_error("refused: %s\n", why);
	assert_int_equal(rc, 0);
}

static void signed_ok(const char *alg, EVP_PKEY *k, const char *kid)
{
	char hdr[128];
	char *tok;
	struct jwt_result res;
	struct jwt_rules r = rules();

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid);
	tok = tk_token_raw(hdr, claims("\"groups\":[\"sre\"]"), k, alg);
	assert_int_equal(jwt_verify(tok, strlen(tok), keys, &r, NOW, &res), 0);
	assert_string_equal(res.reason, "");
	assert_string_equal(json_string_value(json_object_get(res.claims, "sub")), "alice");
	assert_int_equal(res.exp_s, NOW + 300);
	assert_string_equal(res.info.kid, kid);
	jwt_result_clear(&res);
	free(tok);
}

static void test_valid_rs256(void **s) { (void)s; signed_ok("RS256", rsa, "rsa1"); }
static void test_valid_ps256(void **s) { (void)s; signed_ok("PS256", rsa, "rsa1"); }
static void test_valid_es256(void **s) { (void)s; signed_ok("ES256", ec, "ec1"); }
static void test_valid_eddsa(void **s) { (void)s; signed_ok("EdDSA", ed, "ed1"); }

static void test_alg_none_all_spellings(void **state)
{
	static const char *const spellings[] = {"none", "None", "NONE", "nOnE", "NoNe"};

	(void)state;
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		char hdr[96], *tok, *tok2;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", spellings[i]);
		tok = tk_token_raw(hdr, claims(NULL), NULL, NULL); /* empty signature */
		assert_refused(tok, "none");
		/* with a signature attached: still none */
		tok2 = malloc(strlen(tok) + 8);
		sprintf(tok2, "%sAAAA", tok);
		assert_refused(tok2, "none");
		free(tok);
		free(tok2);
	}
}

static void test_hs256_with_rsa_public_key_as_secret(void **state)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem, *tok;
	long len;
	unsigned char der[1024], *p = der;
	int dlen;

	(void)state;
	PEM_write_bio_PUBKEY(b, rsa);
	len = BIO_get_mem_data(b, &pem);
	tok = tk_token_hs256("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", claims(NULL),
			     (unsigned char *)pem, (size_t)len);
	assert_refused(tok, "symmetric");
	free(tok);
	dlen = i2d_PUBKEY(rsa, &p);
	tok = tk_token_hs256("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", claims(NULL), der,
			     (size_t)dlen);
	assert_refused(tok, "symmetric");
	free(tok);
	tok = tk_token_hs256("{\"alg\":\"hs512\",\"kid\":\"rsa1\"}", claims(NULL), der,
			     (size_t)dlen);
	assert_refused(tok, "symmetric");
	free(tok);
	BIO_free(b);
}

static void test_embedded_jwk(void **state)
{
	json_t *attacker = tk_jwk(rsa_other, "rsa1", NULL);
	json_t *hdr = json_pack("{s:s,s:s,s:O}", "alg", "RS256", "kid", "rsa1", "jwk", attacker);
	char *h = json_dumps(hdr, 0), *tok;

	(void)state;
	tok = tk_token_raw(h, claims(NULL), rsa_other, "RS256");
	assert_refused(tok, "(jwk)");
	free(tok);
	free(h);
	/* even when signed with the real key the header is refused */
	h = json_dumps(hdr, 0);
	tok = tk_token_raw(h, claims(NULL), rsa, "RS256");
	assert_refused(tok, "(jwk)");
	free(tok);
	free(h);
	json_decref(hdr);
	json_decref(attacker);
}

static void test_jku_x5u_x5c(void **state)
{
	static const char *const hdrs[][2] = {
		{"{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":\"https://evil.example/jwks\"}", "(jku)"},
		{"{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x5u\":\"https://evil.example/cert.pem\"}", "(x5u)"},
		{"{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x5c\":[\"MIIB\"]}", "(x5c)"},
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char *tok = tk_token_raw(hdrs[i][0], claims(NULL), rsa, "RS256");

		assert_refused(tok, hdrs[i][1]);
		free(tok);
	}
}

static void test_kid_path_traversal_and_sql(void **state)
{
	static const char *const kids[] = {
		"../../../../etc/passwd", "/dev/null", "rsa1/../rsa1",
		"' OR '1'='1", "rsa1' --", "rsa1\\u0000", "x; DROP TABLE keys;"};

	(void)state;
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
		char hdr[160], why[JWT_REASON_MAX], *tok;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kids[i]);
		tok = tk_token_raw(hdr, claims(NULL), rsa, "RS256");
		assert_int_not_equal(check(tok, why), 0);
		/* either "no key" or refused outright: never a key lookup outside the set */
		assert_true(strstr(why, "no key with kid") || strstr(why, "header"));
		free(tok);
	}
}

static void test_unknown_crit(void **state)
{
	char *tok = tk_token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"x-bank\"],\"x-bank\":1}",
				 claims(NULL), rsa, "RS256");

	(void)state;
	assert_refused(tok, "crit");
	free(tok);
	tok = tk_token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"b64\"],\"b64\":false}",
			   claims(NULL), rsa, "RS256");
	assert_refused(tok, "crit");
	free(tok);
}

static char *tok_claims(const char *payload)
{
	return tk_token_raw("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", payload, ec, "ES256");
}

static void test_expired(void **state)
{
	char p[256], *tok;

	(void)state;
	snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"aud\":\"jitgate\",\"sub\":\"a\",\"exp\":%lld}", NOW - 61);
	tok = tok_claims(p);
	assert_refused(tok, "expired");
	free(tok);
	/* inside the leeway: accepted */
	snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"aud\":\"jitgate\",\"sub\":\"a\",\"exp\":%lld}", NOW - 59);
	tok = tok_claims(p);
	assert_accepted(tok);
	free(tok);
	/* exp is required */
	tok = tok_claims("{\"iss\":\"" ISS "\",\"aud\":\"jitgate\",\"sub\":\"a\"}");
	assert_refused(tok, "exp missing");
	free(tok);
	tok = tok_claims("{\"iss\":\"" ISS "\",\"aud\":\"jitgate\",\"sub\":\"a\",\"exp\":\"2030\"}");
	assert_refused(tok, "exp is not");
	free(tok);
}

static void test_nbf_in_future(void **state)
{
	char *tok;

	(void)state;
	tok = tok_claims(claims("\"nbf\":1800000300"));
	assert_refused(tok, "not valid yet");
	free(tok);
	tok = tok_claims(claims("\"nbf\":1800000030")); /* within leeway */
	assert_accepted(tok);
	free(tok);
	tok = tok_claims("{\"iss\":\"" ISS "\",\"aud\":\"jitgate\",\"exp\":1800000300,\"iat\":1800000600}");
	assert_refused(tok, "issued in the future");
	free(tok);
}

static void test_wrong_iss(void **state)
{
	char *tok;

	(void)state;
	tok = tok_claims("{\"iss\":\"https://evil.example.com\",\"aud\":\"jitgate\",\"exp\":1800000300}");
	assert_refused(tok, "iss");
	free(tok);
	tok = tok_claims("{\"iss\":\"" ISS "/\",\"aud\":\"jitgate\",\"exp\":1800000300}");
	assert_refused(tok, "iss");
	free(tok);
	tok = tok_claims("{\"aud\":\"jitgate\",\"exp\":1800000300}");
	assert_refused(tok, "iss missing");
	free(tok);
}

static void test_wrong_aud(void **state)
{
	char *tok;

	(void)state;
	tok = tok_claims("{\"iss\":\"" ISS "\",\"aud\":\"other\",\"exp\":1800000300}");
	assert_refused(tok, "aud");
	free(tok);
	tok = tok_claims("{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"exp\":1800000300}");
	assert_refused(tok, "aud");
	free(tok);
	tok = tok_claims("{\"iss\":\"" ISS "\",\"exp\":1800000300}");
	assert_refused(tok, "aud missing");
	free(tok);
	tok = tok_claims("{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"jitgate\"],\"exp\":1800000300}");
	assert_accepted(tok);
	free(tok);
}

static void test_signature_of_another_key(void **state)
{
	char *tok = tk_token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", claims(NULL),
				 rsa_other, "RS256");

	(void)state;
	assert_refused(tok, "signature does not verify");
	free(tok);
	/* PS256 signature presented as RS256 */
	tok = tk_token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", claims(NULL), rsa, "PS256");
	assert_refused(tok, "signature does not verify");
	free(tok);
	/* an ES256 token naming the RSA key */
	tok = tk_token_raw("{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", claims(NULL), ec, "ES256");
	assert_refused(tok, "does not fit");
	free(tok);
	/* the EC key is pinned to ES256 by its own alg; EdDSA key to EdDSA */
	tok = tk_token_raw("{\"alg\":\"EdDSA\",\"kid\":\"ec1\"}", claims(NULL), ed, "EdDSA");
	assert_refused(tok, "does not fit");
	free(tok);
}

/* The prepared verify contexts are a pool of JWK_VCTX_POOL per key and
 * algorithm: more threads than that verify at once (so some fall back to
 * a duplicate), good and forged tokens interleaved, every answer right,
 * and a context used for a failed verification verifies the next good
 * token. */
struct pool_job {
	const char *good, *forged;
	atomic_int wrong;
};

static void *pool_worker(void *arg)
{
	struct pool_job *j = arg;
	struct jwt_rules r = rules();

	for (int i = 0; i < 150; i++) {
		const char *tok = i % 3 == 2 ? j->forged : j->good;
		struct jwt_result res;
		int rc = jwt_verify(tok, strlen(tok), keys, &r, NOW, &res);

		if ((rc == 0) != (tok == j->good))
			atomic_fetch_add(&j->wrong, 1);
		jwt_result_clear(&res);
	}
	return NULL;
}

static void test_verify_context_pool(void **state)
{
	static const struct {
		const char *alg, *kid;
	} cases[] = {{"RS256", "rsa1"}, {"PS256", "rsa1"}, {"ES256", "ec1"}};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char hdr[128];
		struct pool_job job = {0};
		pthread_t t[3 * JWK_VCTX_POOL];
		char *good, *forged;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
			 cases[c].alg, cases[c].kid);
		good = tk_token_raw(hdr, claims(NULL),
				    strcmp(cases[c].alg, "ES256") == 0 ? ec : rsa, cases[c].alg);
		/* other claims under the good token's signature */
		forged = tk_token_raw(hdr, claims("\"admin\":true"),
				      strcmp(cases[c].alg, "ES256") == 0 ? ec : rsa, cases[c].alg);
		forged = realloc(forged, strlen(forged) + strlen(good) + 1);
		assert_non_null(forged);
		strcpy(strrchr(forged, '.'), strrchr(good, '.'));
		job.good = good;
		job.forged = forged;
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			assert_int_equal(pthread_create(&t[i], NULL, pool_worker, &job), 0);
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			pthread_join(t[i], NULL);
		if (atomic_load(&job.wrong))
			print_error("%s: %d wrong answers\n", cases[c].alg, atomic_load(&job.wrong));
		assert_int_equal(atomic_load(&job.wrong), 0);
		assert_accepted(good);
		assert_refused(forged, "signature does not verify");
		free(good);
		free(forged);
	}
}

static void test_truncated_base64url(void **state)
{
	char *tok = tk_token_raw("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims(NULL), ec, "ES256");
	char *t = strdup(tok);
	char why[JWT_REASON_MAX];

	(void)state;
	assert_accepted(tok);
	t[strlen(t) - 1] = '\0'; /* 86 → 85 chars: 4k+1 */
	assert_refused(t, "signature");
	memcpy(t, tok, strlen(tok) + 1);
	t[strlen(t) - 2] = '\0'; /* valid length, wrong size */
	assert_int_not_equal(check(t, why), 0);
	/* header cut */
	assert_refused(tok + 1, "header");
	/* missing parts */
	assert_refused("abc.def", "three parts");
	assert_refused("a.b.c.d", "three parts");
	assert_refused("", "three parts");
	free(t);
	free(tok);
}

static void test_noncanonical_base64url(void **state)
{
	char *tok = tk_token_raw("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims(NULL), ec, "ES256");
	size_t n = strlen(tok);
	char *t = malloc(n + 8);
	const char *dot = strchr(tok, '.');

	(void)state;
	/* 64-byte signature = 86 chars, last char carries 4 unused bits */
	snprintf(t, n + 8, "%s", tok);
	t[n - 1] = (char)(t[n - 1] == 'A' ? 'B' : t[n - 1] ^ 1);
	assert_refused(t, "signature");
	/* padding */
	snprintf(t, n + 8, "%s==", tok);
	assert_refused(t, "base64url");
	/* standard alphabet / whitespace / non-ASCII in the header */
	snprintf(t, n + 8, "%s", tok);
	t[3] = '+';
	assert_refused(t, "header");
	snprintf(t, n + 8, "%s", tok);
	t[(size_t)(dot - tok) + 2] = ' ';
	assert_refused(t, "payload");
	snprintf(t, n + 8, "%s", tok);
	t[(size_t)(dot - tok) + 2] = '/';
	assert_refused(t, "payload");
	free(t);
	free(tok);
}

static void test_oversized_token(void **state)
{
	char *pad = malloc(17000), *extra = malloc(17100), *tok;
	char why[JWT_REASON_MAX];
	struct jwt_rules r = rules();

	(void)state;
	memset(pad, 'x', 16999);
	pad[16999] = '\0';
	snprintf(extra, 17100, "\"pad\":\"%s\"", pad);
	tok = tok_claims(claims(extra));
	assert_true(strlen(tok) > JWT_TOKEN_MAX);
	assert_int_equal(check_with(tok, &r, why), JG_ERR_TOOBIG);
	free(tok);
	/* just under the limit is fine */
	pad[JWT_TOKEN_MAX * 3 / 4 - 400] = '\0';
	snprintf(extra, 17100, "\"pad\":\"%s\"", pad);
	tok = tok_claims(claims(extra));
	assert_true(strlen(tok) <= JWT_TOKEN_MAX);
	assert_accepted(tok);
	free(tok);
	free(pad);
	free(extra);
}

static void test_duplicate_keys(void **state)
{
	char *tok;

	(void)state;
	tok = tk_token_raw("{\"alg\":\"ES256\",\"kid\":\"ec1\",\"kid\":\"rsa1\"}", claims(NULL), ec, "ES256");
	assert_refused(tok, "duplicate");
	free(tok);
	tok = tok_claims("{\"iss\":\"" ISS "\",\"aud\":\"jitgate\",\"sub\":\"alice\","
			 "\"sub\":\"admin\",\"exp\":1800000300}");
	assert_refused(tok, "duplicate");
	free(tok);
}

static void test_alg_allowlist_and_typ(void **state)
{
	struct jwt_rules r = rules();
	char why[JWT_REASON_MAX];
	char *tok = tk_token_raw("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", claims(NULL), rsa, "PS256");

	(void)state;
	r.algs = JWS_RS256 | JWS_ES256;
	assert_int_not_equal(check_with(tok, &r, why), 0);
	assert_non_null(strstr(why, "not in the allowed"));
	free(tok);
	tok = tk_token_raw("{\"alg\":\"RS384\",\"kid\":\"rsa1\"}", claims(NULL), rsa, "RS256");
	assert_refused(tok, "not supported");
	free(tok);
	tok = tk_token_raw("{\"alg\":\"rs256\",\"kid\":\"rsa1\"}", claims(NULL), rsa, "RS256");
	assert_refused(tok, "not supported");
	free(tok);
	tok = tk_token_raw("{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":\"dpop+jwt\"}", claims(NULL), ec, "ES256");
	assert_refused(tok, "typ");
	free(tok);
	tok = tk_token_raw("{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":\"at+jwt\"}", claims(NULL), ec, "ES256");
	assert_accepted(tok);
	free(tok);
}

static void test_missing_kid(void **state)
{
	char *tok;

	(void)state;
	/* exactly one key fits ES256: usable without a kid */
	tok = tk_token_raw("{\"alg\":\"ES256\"}", claims(NULL), ec, "ES256");
	assert_accepted(tok);
	free(tok);
	/* header claims a kid-less RS256 token: only rsa1 fits, but a forged
	 * signature still fails */
	tok = tk_token_raw("{\"alg\":\"RS256\"}", claims(NULL), rsa_other, "RS256");
	assert_refused(tok, "signature");
	free(tok);
}

static void test_info_for_audit(void **state)
{
	char *tok = tk_token_raw("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
				 "{\"iss\":\"https://x\\n\",\"sub\":\"mallory\",\"exp\":1800000300}",
				 rsa_other, "RS256");
	struct jwt_result res;
	struct jwt_rules r = rules();

	(void)state;
	assert_int_not_equal(jwt_verify(tok, strlen(tok), keys, &r, NOW, &res), 0);
	assert_string_equal(res.info.kid, "rsa1");
	assert_string_equal(res.info.sub, "mallory");
	assert_string_equal(res.info.iss, "https://x?"); /* control char neutralised */
	assert_string_equal(res.info.alg, "RS256");
	assert_null(strstr(res.reason, tok)); /* never the token */
	jwt_result_clear(&res);
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_rs256),
		cmocka_unit_test(test_valid_ps256),
		cmocka_unit_test(test_valid_es256),
		cmocka_unit_test(test_valid_eddsa),
		cmocka_unit_test(test_alg_none_all_spellings),
		cmocka_unit_test(test_hs256_with_rsa_public_key_as_secret),
		cmocka_unit_test(test_embedded_jwk),
		cmocka_unit_test(test_jku_x5u_x5c),
		cmocka_unit_test(test_kid_path_traversal_and_sql),
		cmocka_unit_test(test_unknown_crit),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_nbf_in_future),
		cmocka_unit_test(test_wrong_iss),
		cmocka_unit_test(test_wrong_aud),
		cmocka_unit_test(test_signature_of_another_key),
		cmocka_unit_test(test_verify_context_pool),
		cmocka_unit_test(test_truncated_base64url),
		cmocka_unit_test(test_noncanonical_base64url),
		cmocka_unit_test(test_oversized_token),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_alg_allowlist_and_typ),
		cmocka_unit_test(test_missing_kid),
		cmocka_unit_test(test_info_for_audit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
