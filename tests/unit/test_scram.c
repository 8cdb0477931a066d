/* The upstream SCRAM-SHA-256 client (RFC 5802/7677) and the worker pool
 * that runs its key derivation off the gateway loop: the RFC 7677 vector,
 * the server signature (good, wrong, missing, an "e=" error, replayed),
 * iteration bounds, malformed server messages, and a pool job cancelled
 * while it runs never calling back. */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/kdfpool.h"
#include "gateway/scram.h"
#include "util/err.h"

/* RFC 7677 section 3 */
#define V_PASSWORD "pencil"
#define V_NONCE "rOprNGfwEbeRWgbNEkqO"
#define V_SERVER_FIRST \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define V_CLIENT_FINAL \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* Runs the vector's exchange up to client-final; returns the client. */
static struct scram *vector_exchange(const char *server_first)
{
	struct scram *s = NULL;
	struct scram_kdf kdf;
	uint8_t salted[SCRAM_KEY_LEN];
	char buf[2048];
	size_t n;

	assert_int_equal(scram_new_fixed(V_PASSWORD, "user", V_NONCE, &s), 0);
	assert_int_equal(scram_client_first(s, buf, sizeof(buf), &n), 0);
	assert_string_equal(buf, "n,,n=user,r=" V_NONCE);
	assert_int_equal(n, strlen(buf));
	assert_int_equal(scram_server_first(s, server_first,
					    strlen(server_first), &kdf), 0);
	assert_int_equal(kdf.iterations, 4096);
	assert_int_equal(kdf.saltlen, 16);
	assert_int_equal(scram_salted_password(V_PASSWORD, &kdf, salted), 0);
	assert_int_equal(scram_client_final(s, salted, buf, sizeof(buf), &n), 0);
	if (strcmp(server_first, V_SERVER_FIRST) == 0)
		assert_string_equal(buf, V_CLIENT_FINAL);
	assert_int_equal(n, strlen(buf));
	return s;
}

static void test_rfc7677_vector(void **state)
{
	struct scram *s;

	(void)state;
	s = vector_exchange(V_SERVER_FIRST);
	assert_false(scram_verified(s));
	assert_int_equal(scram_verify_final(s, V_SERVER_FINAL,
					    strlen(V_SERVER_FINAL)), 0);
	assert_true(scram_verified(s));
	/* one verification per exchange */
	assert_int_equal(scram_verify_final(s, V_SERVER_FINAL,
					    strlen(V_SERVER_FINAL)),
			 JG_ERR_AUTH);
	scram_free(s);
	/* extensions after the signature are allowed by the grammar */
	s = vector_exchange(V_SERVER_FIRST);
	assert_int_equal(scram_verify_final(s, V_SERVER_FINAL ",x=y",
					    strlen(V_SERVER_FINAL ",x=y")), 0);
	scram_free(s);
}

static void test_server_signature_refused(void **state)
{
	static const char *const bad[] = {
		/* one bit off in the last byte ("G" is 6, "H" is 7) */
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95H4=",
		/* another server's signature, same length */
		"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		/* truncated, too long, not base64 */
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4AAAA=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4*",
		/* missing or empty */
		"", "v=", "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		/* the signature not first */
		"x=y,v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	};
	struct scram *s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = vector_exchange(V_SERVER_FIRST);
		assert_int_equal(scram_verify_final(s, bad[i], strlen(bad[i])),
				 JG_ERR_AUTH);
		assert_false(scram_verified(s));
		/* and no second chance with the right one */
		assert_int_equal(scram_verify_final(s, V_SERVER_FINAL,
						    strlen(V_SERVER_FINAL)),
				 JG_ERR_AUTH);
		scram_free(s);
	}
	/* a server-error is its own refusal */
	s = vector_exchange(V_SERVER_FIRST);
	assert_int_equal(scram_verify_final(s, "e=invalid-proof", 15),
			 JG_ERR_FORBIDDEN);
	assert_false(scram_verified(s));
	scram_free(s);
	/* a signature before client-final is never accepted */
	assert_int_equal(scram_new_fixed(V_PASSWORD, "user", V_NONCE, &s), 0);
	assert_int_equal(scram_verify_final(s, V_SERVER_FINAL,
					    strlen(V_SERVER_FINAL)),
			 JG_ERR_AUTH);
	scram_free(s);
}

/* server-first of the vector with another iteration count text. */
static int server_first_with(const char *iter, struct scram_kdf *kdf)
{
	struct scram *s = NULL;
	char sf[512], buf[256];
	size_t n;
	int rc;

	snprintf(sf, sizeof(sf), "r=" V_NONCE "srv,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
		 "i=%s", iter);
	assert_int_equal(scram_new_fixed(V_PASSWORD, "", V_NONCE, &s), 0);
	assert_int_equal(scram_client_first(s, buf, sizeof(buf), &n), 0);
	rc = scram_server_first(s, sf, strlen(sf), kdf);
	scram_free(s);
	return rc;
}

static void test_iteration_bounds(void **state)
{
	struct scram_kdf kdf;
	uint8_t out[SCRAM_KEY_LEN];

	(void)state;
	assert_int_equal(server_first_with("4096", &kdf), 0);
	assert_int_equal(kdf.iterations, SCRAM_ITER_MIN);
	assert_int_equal(server_first_with("1000000", &kdf), 0);
	assert_int_equal(kdf.iterations, SCRAM_ITER_MAX);
	/* too few makes a captured proof cheap to crack; too many is a
	 * denial of service */
	assert_int_equal(server_first_with("4095", &kdf), JG_ERR_TOOBIG);
	assert_int_equal(server_first_with("1", &kdf), JG_ERR_TOOBIG);
	assert_int_equal(server_first_with("0", &kdf), JG_ERR_TOOBIG);
	assert_int_equal(server_first_with("1000001", &kdf), JG_ERR_TOOBIG);
	assert_int_equal(server_first_with("100000000", &kdf), JG_ERR_TOOBIG);
	assert_int_equal(server_first_with("99999999999999999999", &kdf),
			 JG_ERR_TOOBIG);
	/* not plain decimal */
	assert_int_equal(server_first_with("-4096", &kdf), JG_ERR_PARSE);
	assert_int_equal(server_first_with("+4096", &kdf), JG_ERR_PARSE);
	assert_int_equal(server_first_with(" 4096", &kdf), JG_ERR_PARSE);
	assert_int_equal(server_first_with("4096x", &kdf), JG_ERR_PARSE);
	assert_int_equal(server_first_with("0x1000", &kdf), JG_ERR_PARSE);
	assert_int_equal(server_first_with("", &kdf), JG_ERR_PARSE);
	/* the derivation itself refuses what the parser would */
	kdf.iterations = SCRAM_ITER_MAX + 1;
	assert_int_equal(scram_salted_password("x", &kdf, out),
			 JG_ERR_INVALID);
	kdf.iterations = 1;
	assert_int_equal(scram_salted_password("x", &kdf, out),
			 JG_ERR_INVALID);
}

static void test_server_first_malformed(void **state)
{
	static const char *const bad[] = {
		/* a nonce that does not extend ours: a replay */
		"r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=" V_NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=rOprNGfwEbeRWgbNEkqP123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		/* missing parts, mandatory extension, bad salt */
		"r=" V_NONCE "x,i=4096",
		"r=" V_NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==",
		"m=ext,r=" V_NONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=" V_NONCE "x,s=not*base64,i=4096",
		"r=" V_NONCE "x,s=,i=4096",
		/* control bytes in the nonce */
		"r=" V_NONCE "\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=" V_NONCE "\xc3\xa9,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"",
	};
	struct scram_kdf kdf;
	struct scram *s;
	char buf[256], big[SCRAM_MSG_MAX + 2];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(scram_new_fixed(V_PASSWORD, "", V_NONCE, &s), 0);
		assert_int_equal(scram_client_first(s, buf, sizeof(buf), &n), 0);
		assert_true(scram_server_first(s, bad[i], strlen(bad[i]),
					       &kdf) < 0);
		/* a failed exchange cannot be continued */
		assert_int_equal(scram_client_final(s, (const uint8_t *)buf,
						    buf, sizeof(buf), &n),
				 JG_ERR_CONFLICT);
		scram_free(s);
	}
	/* an embedded NUL and an oversized message */
	assert_int_equal(scram_new_fixed(V_PASSWORD, "", V_NONCE, &s), 0);
	assert_int_equal(scram_client_first(s, buf, sizeof(buf), &n), 0);
	assert_int_equal(scram_server_first(s, "r=" V_NONCE "x\0,s=", 27, &kdf),
			 JG_ERR_PARSE);
	scram_free(s);
	memset(big, 'a', sizeof(big));
	memcpy(big, "r=" V_NONCE, 22);
	assert_int_equal(scram_new_fixed(V_PASSWORD, "", V_NONCE, &s), 0);
	assert_int_equal(scram_client_first(s, buf, sizeof(buf), &n), 0);
	assert_int_equal(scram_server_first(s, big, sizeof(big), &kdf),
			 JG_ERR_PARSE);
	scram_free(s);
	/* messages out of order */
	assert_int_equal(scram_new(V_PASSWORD, &s), 0);
	assert_int_equal(scram_server_first(s, V_SERVER_FIRST,
					    strlen(V_SERVER_FIRST), &kdf),
			 JG_ERR_CONFLICT);
	scram_free(s);
}

static void test_random_nonce(void **state)
{
	struct scram *a, *b;
	char fa[128], fb[128];
	size_t na, nb;

	(void)state;
	assert_int_equal(scram_new("pw", &a), 0);
	assert_int_equal(scram_new("pw", &b), 0);
	assert_int_equal(scram_client_first(a, fa, sizeof(fa), &na), 0);
	assert_int_equal(scram_client_first(b, fb, sizeof(fb), &nb), 0);
	/* PostgreSQL takes the user from the startup packet */
	assert_memory_equal(fa, "n,,n=,r=", 8);
	assert_int_equal(na, 8 + 36);
	assert_string_not_equal(fa, fb);
	/* the first message goes out once */
	assert_int_equal(scram_client_first(a, fa, sizeof(fa), &na),
			 JG_ERR_CONFLICT);
	scram_free(a);
	scram_free(b);
}

static void test_channel_binding(void **state)
{
	struct scram_kdf kdf;
	uint8_t salted[SCRAM_KEY_LEN] = {0}, hash[SCRAM_CBIND_MAX + 1];
	struct scram *s;
	char buf[2048];
	size_t n;

	(void)state;
	memset(hash, 'A', sizeof(hash));
	/* 'p': c= carries the gs2 header and the certificate hash */
	assert_int_equal(scram_new_fixed(V_PASSWORD, "", V_NONCE, &s), 0);
	assert_int_equal(scram_set_channel_binding(s, 'p', hash, 3), 0);
	assert_int_equal(scram_client_first(s, buf, sizeof(buf), &n), 0);
	assert_string_equal(buf, "p=tls-server-end-point,,n=,r=" V_NONCE);
	assert_int_equal(scram_server_first(s, V_SERVER_FIRST,
					    strlen(V_SERVER_FIRST), &kdf), 0);
	assert_int_equal(scram_client_final(s, salted, buf, sizeof(buf), &n), 0);
	/* base64("p=tls-server-end-point,,AAA") */
	assert_memory_equal(buf, "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsQUFB,", 39);
	scram_free(s);
	/* 'y': we could bind, the server did not offer it */
	assert_int_equal(scram_new_fixed(V_PASSWORD, "", V_NONCE, &s), 0);
	assert_int_equal(scram_set_channel_binding(s, 'y', NULL, 0), 0);
	assert_int_equal(scram_client_first(s, buf, sizeof(buf), &n), 0);
	assert_memory_equal(buf, "y,,n=,r=", 8);
	assert_int_equal(scram_server_first(s, V_SERVER_FIRST,
					    strlen(V_SERVER_FIRST), &kdf), 0);
	assert_int_equal(scram_client_final(s, salted, buf, sizeof(buf), &n), 0);
	assert_memory_equal(buf, "c=eSws,", 7);
	/* too late, and malformed requests */
	assert_int_equal(scram_set_channel_binding(s, 'n', NULL, 0),
			 JG_ERR_INVALID);
	scram_free(s);
	assert_int_equal(scram_new(V_PASSWORD, &s), 0);
	assert_int_equal(scram_set_channel_binding(s, 'p', NULL, 0),
			 JG_ERR_INVALID);
	assert_int_equal(scram_set_channel_binding(s, 'n', hash, 3),
			 JG_ERR_INVALID);
	assert_int_equal(scram_set_channel_binding(s, 'p', hash,
						   SCRAM_CBIND_MAX + 1),
			 JG_ERR_INVALID);
	assert_int_equal(scram_set_channel_binding(s, 'x', NULL, 0),
			 JG_ERR_INVALID);
	scram_free(s);
}

/* --- kdfpool --------------------------------------------------------- */

struct cb_state {
	struct event_base *base;
	int calls;
	int rc;
	uint8_t salted[SCRAM_KEY_LEN];
	bool stop;
};

static void on_done(void *arg, int rc, const uint8_t salted[SCRAM_KEY_LEN])
{
	struct cb_state *c = arg;

	c->calls++;
	c->rc = rc;
	memcpy(c->salted, salted, SCRAM_KEY_LEN);
	if (c->stop)
		event_base_loopbreak(c->base);
}

static void test_kdfpool(void **state)
{
	struct event_base *base = event_base_new();
	struct cb_state first = {0}, second = {0};
	struct scram_kdf kdf = {.saltlen = 16, .iterations = 4096};
	uint8_t direct[SCRAM_KEY_LEN];
	struct kdf_job *j1, *j2, *extra;
	struct kdfpool *p;

	(void)state;
	assert_non_null(base);
	memcpy(kdf.salt, "0123456789abcdef", 16);
	assert_int_equal(scram_salted_password("secret", &kdf, direct), 0);
	/* one worker: jobs finish in order */
	assert_int_equal(kdfpool_new(base, 1, &p), 0);
	first.base = second.base = base;
	second.stop = true;
	kdfpool_test_hold(p, true);
	assert_int_equal(kdfpool_submit(p, "secret", &kdf, on_done, &first,
					&j1), 0);
	assert_int_equal(kdfpool_submit(p, "secret", &kdf, on_done, &second,
					&j2), 0);
	/* the first job's session goes away before its result arrives */
	kdfpool_cancel(j1);
	kdfpool_test_hold(p, false);
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(first.calls, 0);
	assert_int_equal(second.calls, 1);
	assert_int_equal(second.rc, 0);
	assert_memory_equal(second.salted, direct, SCRAM_KEY_LEN);

	/* a bounded queue: past KDFPOOL_QUEUE_MAX waiting jobs, refuse */
	kdfpool_test_hold(p, true);
	for (int i = 0; i < KDFPOOL_QUEUE_MAX; i++)
		assert_int_equal(kdfpool_submit(p, "secret", &kdf, on_done,
						&first, &extra), 0);
	assert_int_equal(kdfpool_submit(p, "secret", &kdf, on_done, &first,
					&extra), JG_ERR_UNAVAILABLE);
	assert_null(extra);
	/* freeing with jobs waiting runs no callback and leaks nothing */
	kdfpool_free(p);
	assert_int_equal(first.calls, 0);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_vector),
		cmocka_unit_test(test_server_signature_refused),
		cmocka_unit_test(test_iteration_bounds),
		cmocka_unit_test(test_server_first_malformed),
		cmocka_unit_test(test_random_nonce),
		cmocka_unit_test(test_channel_binding),
		cmocka_unit_test(test_kdfpool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
