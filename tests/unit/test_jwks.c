/* JWKS parsing: every skip reason, and that a skipped key is never used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "identity/jwk.h"
#include "test_jwt_util.h"

struct skips {
	size_t n;
	char reasons[JWKS_KEYS_MAX + 8][128];
	char kids[JWKS_KEYS_MAX + 8][64];
};

static void collect(void *ctx, size_t index, const char *kid, const char *reason)
{
	struct skips *s = ctx;

	(void)index;
	snprintf(s->reasons[s->n], sizeof(s->reasons[0]), "%s", reason);
	snprintf(s->kids[s->n], sizeof(s->kids[0]), "%s", kid ? kid : "");
	s->n++;
}

static EVP_PKEY *rsa, *ec;

static int setup(void **state)
{
	(void)state;
	rsa = tk_keygen("RSA", 2048);
	ec = tk_keygen("EC", 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	return 0;
}

/* Parses {"keys":[good, bad]} and expects exactly bad skipped for reason. */
static void expect_skip(json_t *bad, const char *reason)
{
	json_t *doc = json_pack("{s:[o,o]}", "keys", tk_jwk(ec, "good", NULL), bad);
	char *s = json_dumps(doc, 0);
	struct skips sk = {0};
	struct jwks *set = NULL;

	assert_int_equal(jwks_parse(s, strlen(s), false, collect, &sk, &set), 0);
	if (sk.n != 1 || !strstr(sk.reasons[0], reason))
		print_error("expected skip \"%s\", got %zu: \"%s\"\n", reason, sk.n, sk.reasons[0]);
	assert_int_equal(sk.n, 1);
	assert_non_null(strstr(sk.reasons[0], reason));
	assert_int_equal(jwks_count(set), 1);
	assert_string_equal(jwks_at(set, 0)->kid, "good");
	jwks_unref(set);
	free(s);
	json_decref(doc);
}

static void test_valid_set(void **state)
{
	EVP_PKEY *ed = tk_keygen("ED25519", 0);
	json_t *doc = json_pack("{s:[o,o,o]}", "keys", tk_jwk(rsa, "r", "PS256"),
				tk_jwk(ec, "e", NULL), tk_jwk(ed, "d", "EdDSA"));
	char *s = json_dumps(doc, 0);
	struct skips sk = {0};
	struct jwks *set = NULL;

	(void)state;
	assert_int_equal(jwks_parse(s, strlen(s), false, collect, &sk, &set), 0);
	assert_int_equal(sk.n, 0);
	assert_int_equal(jwks_count(set), 3);
	assert_int_equal(jwks_find(set, "r", JWS_PS256)->algs, JWS_PS256);
	assert_int_equal(jwks_find(set, "r", JWS_PS256)->sig_len, 256);
	assert_int_equal(jwks_find(set, "e", JWS_ES256)->algs, JWS_ES256);
	assert_int_equal(jwks_find(set, "d", JWS_EDDSA)->kty, JWK_KTY_ED25519);
	assert_null(jwks_find(set, "nope", JWS_ES256));
	jwks_unref(set);
	free(s);
	json_decref(doc);
	EVP_PKEY_free(ed);
}

static void test_malformed(void **state)
{
	json_t *k;

	(void)state;
	k = tk_jwk(rsa, "m1", NULL);
	json_object_set_new(k, "n", json_string("not base64url!"));
	expect_skip(k, "n or e");
	k = tk_jwk(rsa, "m2", NULL);
	json_object_del(k, "e");
	expect_skip(k, "n or e");
	k = tk_jwk(ec, "m3", NULL);
	json_object_set_new(k, "x", json_string("AAAA"));
	expect_skip(k, "32 bytes");
	k = tk_jwk(ec, "m4", NULL);
	json_object_del(k, "kty");
	expect_skip(k, "kty missing");
	expect_skip(json_string("a string"), "not a JSON object");
	k = tk_jwk(ec, "m5", NULL);
	json_object_set_new(k, "kty", json_string("XYZ"));
	expect_skip(k, "kty not supported");
	k = tk_jwk(ec, "m6", NULL);
	json_object_set_new(k, "crv", json_string("P-384"));
	expect_skip(k, "curve not supported");
	k = tk_jwk(ec, NULL, NULL);
	json_object_set_new(k, "kid", json_integer(7));
	expect_skip(k, "kid");
}

static void test_rsa_too_small(void **state)
{
	EVP_PKEY *small = tk_keygen("RSA", 1024);

	(void)state;
	expect_skip(tk_jwk(small, "small", NULL), "smaller than 2048");
	EVP_PKEY_free(small);
}

static void test_rsa_bad_exponent(void **state)
{
	json_t *k = tk_jwk(rsa, "e1", NULL);

	(void)state;
	json_object_set_new(k, "e", json_string("AQ")); /* e = 1 */
	expect_skip(k, "exponent");
	k = tk_jwk(rsa, "e2", NULL);
	json_object_set_new(k, "e", json_string("Ag")); /* e = 2 */
	expect_skip(k, "exponent");
}

static void test_wrong_use(void **state)
{
	json_t *k = tk_jwk(rsa, "enc1", NULL);

	(void)state;
	json_object_set_new(k, "use", json_string("enc"));
	expect_skip(k, "use");
	k = tk_jwk(rsa, "enc2", NULL);
	json_object_del(k, "use");
	json_object_set_new(k, "key_ops", json_pack("[s,s]", "encrypt", "decrypt"));
	expect_skip(k, "key_ops");
}

static void test_duplicate_kid(void **state)
{
	json_t *doc = json_pack("{s:[o,o,o]}", "keys", tk_jwk(rsa, "same", NULL),
				tk_jwk(ec, "same", NULL), tk_jwk(ec, "other", NULL));
	char *s = json_dumps(doc, 0);
	struct skips sk = {0};
	struct jwks *set = NULL;

	(void)state;
	assert_int_equal(jwks_parse(s, strlen(s), false, collect, &sk, &set), 0);
	assert_int_equal(sk.n, 2); /* both, not "the first one wins" */
	assert_non_null(strstr(sk.reasons[0], "duplicate kid"));
	assert_non_null(strstr(sk.reasons[1], "duplicate kid"));
	assert_int_equal(jwks_count(set), 1);
	assert_null(jwks_find(set, "same", JWS_ES256));
	jwks_unref(set);
	free(s);
	json_decref(doc);
}

static void test_key_alg_mismatch(void **state)
{
	(void)state;
	expect_skip(tk_jwk(rsa, "a1", "ES256"), "does not fit");
	expect_skip(tk_jwk(ec, "a2", "RS256"), "does not fit");
	expect_skip(tk_jwk(ec, "a3", "ES384"), "alg not supported");
	expect_skip(tk_jwk(rsa, "a4", "HS256"), "alg not supported");
	expect_skip(tk_jwk(rsa, "a5", "none"), "alg not supported");
}

static void test_symmetric_and_private(void **state)
{
	json_t *k;

	(void)state;
	expect_skip(json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid", "hmac", "k", "c2VjcmV0"),
		    "symmetric");
	k = tk_jwk(ec, "priv", NULL);
	json_object_set_new(k, "d", json_string("AAAA"));
	expect_skip(k, "private");
}

static void test_ec_point_not_on_curve(void **state)
{
	json_t *k = tk_jwk(ec, "offcurve", NULL);
	char *y = strdup(json_string_value(json_object_get(k, "y")));

	(void)state;
	y[10] = y[10] == 'A' ? 'B' : 'A';
	json_object_set_new(k, "y", json_string(y));
	expect_skip(k, "not on the P-256 curve");
	free(y);
}

static void test_not_a_key_set(void **state)
{
	struct jwks *set = NULL;
	const char *bad[] = {"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[],\"keys\":[]}",
			     "{\"kty\":\"EC\"}", "not json"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(jwks_parse(bad[i], strlen(bad[i]), false, NULL, NULL, &set), 0);
		assert_null(set);
	}
	/* a single JWK is accepted where the caller allows it (token verify --jwks) */
	{
		json_t *k = tk_jwk(ec, "one", NULL);
		char *s = json_dumps(k, 0);
		json_t *j = json_loads(s, 0, NULL);

		json_decref(k);
		free(s);
		s = json_dumps(j, 0);
		assert_int_equal(jwks_parse(s, strlen(s), true, NULL, NULL, &set), 0);
		assert_int_equal(jwks_count(set), 1);
		jwks_unref(set);
		free(s);
		json_decref(j);
	}
}

static void test_too_many_keys(void **state)
{
	json_t *arr = json_array(), *doc;
	char *s;
	struct jwks *set = NULL;

	(void)state;
	for (int i = 0; i <= JWKS_KEYS_MAX; i++)
		json_array_append_new(arr, json_pack("{s:s}", "kty", "oct"));
	doc = json_pack("{s:o}", "keys", arr);
	s = json_dumps(doc, 0);
	assert_int_equal(jwks_parse(s, strlen(s), false, NULL, NULL, &set), JG_ERR_TOOBIG);
	assert_null(set);
	free(s);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_set),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_rsa_too_small),
		cmocka_unit_test(test_rsa_bad_exponent),
		cmocka_unit_test(test_wrong_use),
		cmocka_unit_test(test_duplicate_kid),
		cmocka_unit_test(test_key_alg_mismatch),
		cmocka_unit_test(test_symmetric_and_private),
		cmocka_unit_test(test_ec_point_not_on_curve),
		cmocka_unit_test(test_not_a_key_set),
		cmocka_unit_test(test_too_many_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
