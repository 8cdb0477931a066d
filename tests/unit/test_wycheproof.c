/* Project Wycheproof vectors (tests/vectors/wycheproof, see its README):
 * every valid case of an algorithm jitgate supports verifies, every invalid
 * case is refused, and cases of other algorithms (HS*, RS384, ES512...)
 * are refused.  "acceptable" cases are printed with our decision; they are
 * listed in docs/identity.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/b64url.h"
#include "identity/jwk.h"
#include "identity/jwt.h"
#include "util/crypto.h"

#define VEC_DIR JG_SOURCE_DIR "/tests/vectors/wycheproof/"

static json_t *load(const char *name)
{
	json_error_t err;
	json_t *j = json_load_file(name, 0, &err);

	if (!j)
		print_error("%s: %s\n", name, err.text);
	assert_non_null(j);
	return j;
}

/* Public half of a JWK: the vectors give private keys for the JWS cases. */
static json_t *public_jwk(json_t *jwk)
{
	static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};
	json_t *c = json_deep_copy(jwk);

	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		json_object_del(c, priv[i]);
	return c;
}

static struct jwks *set_from(json_t *jwk_or_set)
{
	json_t *doc = json_object_get(jwk_or_set, "keys")
			      ? json_deep_copy(jwk_or_set)
			      : json_pack("{s:[o]}", "keys", public_jwk(jwk_or_set));
	json_t *keys = json_object_get(doc, "keys"), *k;
	struct jwks *set = NULL;
	size_t i;
	char *s;

	json_array_foreach(keys, i, k)
		json_array_set_new(keys, i, public_jwk(k));
	s = json_dumps(doc, 0);
	assert_int_equal(jwks_parse(s, strlen(s), false, NULL, NULL, &set), 0);
	free(s);
	json_decref(doc);
	return set;
}

static enum jws_alg header_alg(const char *jws)
{
	const char *dot = strchr(jws, '.');
	uint8_t *h = NULL;
	size_t hl;
	json_t *j;
	enum jws_alg a = JWS_ALG_INVALID;

	if (!dot || b64url_decode_alloc(jws, (size_t)(dot - jws), 4096, &h, &hl) != 0)
		return a;
	j = json_loadb((char *)h, hl, 0, NULL);
	if (json_is_string(json_object_get(j, "alg")))
		a = jws_alg_from_name(json_string_value(json_object_get(j, "alg")));
	json_decref(j);
	free(h);
	return a;
}

struct tally {
	int valid_ok, invalid_refused, unsupported_refused, acceptable;
};

/* Runs the JWS cases of one file (json_web_signature / json_web_key). */
static void run_jws_file(const char *file, struct tally *t)
{
	json_t *root = load(file), *g, *tc;
	struct jwt_rules rules = {.algs = JWS_ALG_ALL, .signature_only = true};
	size_t gi, ti;

	json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
		json_t *keysrc = json_object_get(g, "public") ? json_object_get(g, "public")
							      : json_object_get(g, "private");
		struct jwks *set = set_from(keysrc);

		json_array_foreach(json_object_get(g, "tests"), ti, tc) {
			json_t *jws = json_object_get(tc, "jws");
			const char *result = json_string_value(json_object_get(tc, "result"));
			char *tok = json_is_string(jws) ? strdup(json_string_value(jws))
							: json_dumps(jws, 0);
			struct jwt_result res;
			int rc = jwt_verify(tok, strlen(tok), set, &rules, 0, &res);
			bool supported = header_alg(tok) != JWS_ALG_INVALID;
			long id = (long)json_integer_value(json_object_get(tc, "tcId"));

			if (strcmp(result, "valid") == 0 && supported) {
				if (rc != 0)
					print_error("%s tc %ld valid but refused: %s\n", file, id, res.reason);
				assert_int_equal(rc, 0);
				t->valid_ok++;
			} else if (strcmp(result, "acceptable") == 0) {
				print_message("%s tc %ld acceptable: %s\n", file, id,
					      rc == 0 ? "accepted" : res.reason);
				t->acceptable++;
			} else {
				if (rc == 0)
					print_error("%s tc %ld (%s) accepted\n", file, id, result);
				assert_int_not_equal(rc, 0);
				if (strcmp(result, "valid") == 0)
					t->unsupported_refused++;
				else
					t->invalid_refused++;
			}
			jwt_result_clear(&res);
			free(tok);
		}
		jwks_unref(set);
	}
	json_decref(root);
}

static void test_json_web_signature(void **state)
{
	struct tally t = {0};

	(void)state;
	run_jws_file(VEC_DIR "json_web_signature_test.json", &t);
	print_message("JWS: %d valid verified, %d invalid refused, %d valid of "
		      "unsupported algorithms refused\n",
		      t.valid_ok, t.invalid_refused, t.unsupported_refused);
	assert_true(t.valid_ok >= 10);
	assert_true(t.invalid_refused >= 300);
}

static void test_json_web_key(void **state)
{
	struct tally t = {0};

	(void)state;
	run_jws_file(VEC_DIR "json_web_key_test.json", &t);
	print_message("JWK: %d valid verified, %d invalid refused, %d unsupported refused\n",
		      t.valid_ok, t.invalid_refused, t.unsupported_refused);
	assert_true(t.valid_ok >= 1);
	assert_true(t.invalid_refused >= 20);
}

static uint8_t *from_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *b = malloc(n + 1);

	assert_int_equal(hex_decode(hex, b, n), 0);
	*len = n;
	return b;
}

/* JWK of a primitive-vector group; EC groups without one give wx/wy. */
static json_t *group_jwk(json_t *g)
{
	json_t *j = json_object_get(g, "publicKeyJwk");
	json_t *pk = json_object_get(g, "publicKey");
	uint8_t xy[2][32];
	const char *names[2] = {"wx", "wy"};
	char *b[2];

	if (!j)
		j = json_object_get(g, "keyJwk");
	if (j) {
		j = json_deep_copy(j);
		json_object_del(j, "kid");
		return j;
	}
	for (int i = 0; i < 2; i++) {
		const char *h = json_string_value(json_object_get(pk, names[i]));
		size_t n;
		uint8_t *raw = from_hex(h, &n), *p = raw;

		while (n > 32 && *p == 0) {
			p++;
			n--;
		}
		assert_true(n <= 32);
		memset(xy[i], 0, 32);
		memcpy(xy[i] + 32 - n, p, n);
		free(raw);
		b[i] = b64url_encode(xy[i], 32);
	}
	j = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", b[0], "y", b[1]);
	free(b[0]);
	free(b[1]);
	return j;
}

static void run_primitive_file(const char *file, enum jws_alg alg, struct tally *t)
{
	json_t *root = load(file), *g, *tc;
	size_t gi, ti;

	json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
		json_t *doc = json_pack("{s:[o]}", "keys", group_jwk(g));
		char *s = json_dumps(doc, 0);
		struct jwks *set = NULL;
		const struct jwk *key;

		assert_int_equal(jwks_parse(s, strlen(s), false, NULL, NULL, &set), 0);
		key = jwks_at(set, 0); /* NULL when the key itself was refused */
		json_array_foreach(json_object_get(g, "tests"), ti, tc) {
			const char *result = json_string_value(json_object_get(tc, "result"));
			size_t mlen, slen;
			uint8_t *msg = from_hex(json_string_value(json_object_get(tc, "msg")), &mlen);
			uint8_t *sig = from_hex(json_string_value(json_object_get(tc, "sig")), &slen);
			int rc = key ? jwt_verify_signature(key, alg, msg, mlen, sig, slen)
				     : JG_ERR_CRYPTO;
			long id = (long)json_integer_value(json_object_get(tc, "tcId"));
			const char *comment = json_string_value(json_object_get(tc, "comment"));

			if (strcmp(result, "valid") == 0) {
				if (rc != 0)
					print_error("%s tc %ld valid refused (%s)%s\n", file, id,
						    comment, key ? "" : " [key refused]");
				assert_int_equal(rc, 0);
				t->valid_ok++;
			} else if (strcmp(result, "invalid") == 0) {
				if (rc == 0)
					print_error("%s tc %ld invalid accepted (%s)\n", file, id, comment);
				assert_int_not_equal(rc, 0);
				t->invalid_refused++;
			} else {
				print_message("%s tc %ld acceptable (%s): %s\n", file, id, comment,
					      rc == 0 ? "accepted" : "refused");
				t->acceptable++;
			}
			free(msg);
			free(sig);
		}
		jwks_unref(set);
		free(s);
		json_decref(doc);
	}
	json_decref(root);
}

static void primitive(const char *file, enum jws_alg alg)
{
	struct tally t = {0};

	run_primitive_file(file, alg, &t);
	print_message("%s: %d valid verified, %d invalid refused, %d acceptable\n",
		      strrchr(file, '/') + 1, t.valid_ok, t.invalid_refused, t.acceptable);
	assert_true(t.valid_ok > 0);
	assert_true(t.invalid_refused > 0);
}

static void test_rs256_pkcs1(void **s)
{
	(void)s;
	primitive(VEC_DIR "rsa_signature_2048_sha256_test.json", JWS_RS256);
}

static void test_ps256_pss(void **s)
{
	(void)s;
	primitive(VEC_DIR "rsa_pss_2048_sha256_mgf1_32_test.json", JWS_PS256);
}

static void test_es256_p1363(void **s)
{
	(void)s;
	primitive(VEC_DIR "ecdsa_secp256r1_sha256_p1363_test.json", JWS_ES256);
}

static void test_ed25519(void **s)
{
	(void)s;
	primitive(VEC_DIR "ed25519_test.json", JWS_EDDSA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_web_signature),
		cmocka_unit_test(test_json_web_key),
		cmocka_unit_test(test_rs256_pkcs1),
		cmocka_unit_test(test_ps256_pss),
		cmocka_unit_test(test_es256_p1363),
		cmocka_unit_test(test_ed25519),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
