/* cli_main as a user runs it, for what needs no server: token new, offline
 * audit verification of a real sealed chain, and the exit codes for a
 * missing token, an unreachable server and usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/chain.h"
#include "cli/cli.h"
#include "util/crypto.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Runs cli_main with stdout and stderr sent to files; returns the exit code
 * and the captured text (caller frees). */
static int run(int argc, char **argv, char **out, char **err)
{
	FILE *fo = tmpfile(), *fe = tmpfile();
	int so, se, rc;
	long n;

	assert_non_null(fo);
	assert_non_null(fe);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	assert_true(so >= 0 && se >= 0);
	assert_true(dup2(fileno(fo), 1) >= 0);
	assert_true(dup2(fileno(fe), 2) >= 0);
	rc = cli_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	for (int i = 0; i < 2; i++) {
		FILE *f = i == 0 ? fo : fe;
		char **dst = i == 0 ? out : err;

		n = ftell(f);
		assert_true(n >= 0);
		*dst = calloc(1, (size_t)n + 1);
		assert_non_null(*dst);
		rewind(f);
		assert_int_equal(fread(*dst, 1, (size_t)n, f), (size_t)n);
		fclose(f);
	}
	return rc;
}

static void test_token_new(void **state)
{
	char *argv[] = {"token", "new"};
	char *out, *err, hash[SHA256_HEX_LEN + 1], *nl, *out2, *err2;

	(void)state;
	assert_int_equal(run(N(argv), argv, &out, &err), 0);
	assert_string_equal(err, "");
	nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	/* "jg_" + 43 base64url characters for 32 random bytes. */
	assert_int_equal(strlen(out), 3 + 43);
	assert_memory_equal(out, "jg_", 3);
	assert_int_equal(strspn(out + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	/* The config line is the SHA-256 of the whole token as sent. */
	crypto_sha256_hex(out, strlen(out), hash);
	assert_true(strncmp(nl + 1, "token_sha256: ", 14) == 0);
	assert_memory_equal(nl + 1 + 14, hash, SHA256_HEX_LEN);
	assert_string_equal(nl + 1 + 14 + SHA256_HEX_LEN, "\n");
	/* Two tokens differ. */
	assert_int_equal(run(N(argv), argv, &out2, &err2), 0);
	assert_true(strncmp(out, out2, strlen(out)) != 0);
	free(out);
	free(err);
	free(out2);
	free(err2);
}

/* Writes a sealed chain of n events to path; returns the head hash. */
static void write_chain(const char *path, int n, char head[AUDIT_HASH_HEX_LEN + 1])
{
	FILE *f = fopen(path, "w");
	char prev[AUDIT_HASH_HEX_LEN + 1] = AUDIT_GENESIS_PREV;

	assert_non_null(f);
	for (int i = 1; i <= n; i++) {
		json_t *ev = json_pack("{sIsssssssIss}", "seq", (json_int_t)i,
				       "time", "2026-03-01T09:00:00.000Z",
				       "action", "request.created", "actor", "alice",
				       "request_id", (json_int_t)i, "resource", "orders-db");
		char *line;

		assert_non_null(ev);
		assert_int_equal(audit_event_seal(ev, prev, prev), 0);
		line = json_dumps(ev, JSON_COMPACT);
		assert_non_null(line);
		fprintf(f, "%s\n", line);
		free(line);
		json_decref(ev);
	}
	memcpy(head, prev, sizeof(prev));
	assert_int_equal(fclose(f), 0);
}

static void test_audit_verify_offline(void **state)
{
	char path[] = "/tmp/jg-cli-test-XXXXXX";
	char head[AUDIT_HASH_HEX_LEN + 1], want[160], headopt[96], badhead[96];
	char *argv[] = {"audit", "verify", path};
	char *argv_head[] = {"audit", "verify", path, "--head", headopt};
	char *argv_bad_head[] = {"audit", "verify", path, "--head", badhead};
	char *out, *err;
	FILE *f;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* No server: whatever JITGATE_ADDR says must not matter. */
	setenv("JITGATE_ADDR", "http://127.0.0.1:1", 1);
	unsetenv("JITGATE_TOKEN");
	write_chain(path, 3, head);
	assert_int_equal(run(N(argv), argv, &out, &err), 0);
	snprintf(want, sizeof(want), "ok: 3 events, head %s\n", head);
	assert_string_equal(out, want);
	free(out);
	free(err);

	snprintf(headopt, sizeof(headopt), "3:%s", head);
	assert_int_equal(run(N(argv_head), argv_head, &out, &err), 0);
	free(out);
	free(err);
	/* A head beyond the file is truncation. */
	snprintf(badhead, sizeof(badhead), "4:%s", head);
	assert_int_equal(run(N(argv_bad_head), argv_bad_head, &out, &err), 1);
	assert_true(strncmp(out, "FAIL", 4) == 0);
	free(out);
	free(err);

	/* Change the actor of event 2: that line no longer hashes. */
	f = fopen(path, "r+");
	assert_non_null(f);
	{
		char buf[4096];
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		char *second, *actor;

		buf[len] = '\0';
		second = strchr(buf, '\n') + 1;
		actor = strstr(second, "\"alice\"");
		assert_non_null(actor);
		actor[1] = 'A';
		rewind(f);
		assert_int_equal(fwrite(buf, 1, len, f), len);
	}
	fclose(f);
	assert_int_equal(run(N(argv), argv, &out, &err), 1);
	if (strncmp(out, "FAIL at line 2 (seq 2): ", 24) != 0)
		fail_msg("unexpected verdict: %s", out);
	free(out);
	free(err);
	unlink(path);
}

static void test_verify_usage_errors(void **state)
{
	char *missing[] = {"audit", "verify", "/nonexistent/jg-cli-export"};
	char *badhead[] = {"audit", "verify", "-", "--head", "7:abc"};
	char *headless[] = {"audit", "verify", "--head", "1:abc"};
	char *out, *err;

	(void)state;
	assert_int_equal(run(N(missing), missing, &out, &err), 2);
	assert_non_null(strstr(err, "cannot open"));
	free(out);
	free(err);
	assert_int_equal(run(N(badhead), badhead, &out, &err), 2);
	free(out);
	free(err);
	assert_int_equal(run(N(headless), headless, &out, &err), 2);
	free(out);
	free(err);
}

static void test_api_without_token_or_server(void **state)
{
	char *whoami[] = {"whoami"};
	char *show[] = {"--json", "show", "5"};
	char *out, *err;

	(void)state;
	unsetenv("JITGATE_TOKEN");
	/* and no token file of `jitgate login` either */
	setenv("XDG_CONFIG_HOME", "/nonexistent/jitgate-test", 1);
	assert_int_equal(run(N(whoami), whoami, &out, &err), 2);
	assert_non_null(strstr(err, "not signed in"));
	assert_non_null(strstr(err, "JITGATE_TOKEN"));
	free(out);
	free(err);

	/* Port 1 on loopback refuses the connection at once.  The token must
	 * not show up in the error. */
	setenv("JITGATE_TOKEN", "jg_secret-value-never-printed", 1);
	setenv("JITGATE_ADDR", "127.0.0.1:1", 1);
	assert_int_equal(run(N(show), show, &out, &err), 3);
	assert_non_null(strstr(err, "cannot reach http://127.0.0.1:1"));
	assert_null(strstr(err, "secret-value"));
	assert_string_equal(out, "");
	free(out);
	free(err);

	setenv("JITGATE_TOKEN", "has space", 1);
	assert_int_equal(run(N(whoami), whoami, &out, &err), 2);
	assert_null(strstr(err, "has space"));
	free(out);
	free(err);
	unsetenv("JITGATE_TOKEN");
	unsetenv("JITGATE_ADDR");
}

static void test_usage_exit_codes(void **state)
{
	char *unknown[] = {"frobnicate"};
	char *bad_id[] = {"approve", "0"};
	char *bad_flag[] = {"list", "--everything"};
	char *help[] = {"request", "--help"};
	char *out, *err;

	(void)state;
	assert_int_equal(run(N(unknown), unknown, &out, &err), 2);
	free(out);
	free(err);
	assert_int_equal(run(N(bad_id), bad_id, &out, &err), 2);
	assert_non_null(strstr(err, "ID must be a positive integer"));
	free(out);
	free(err);
	assert_int_equal(run(N(bad_flag), bad_flag, &out, &err), 2);
	assert_non_null(strstr(err, "usage: jitgate list"));
	free(out);
	free(err);
	assert_int_equal(run(N(help), help, &out, &err), 0);
	assert_true(strncmp(out, "usage: jitgate request RESOURCE ROLE --for", 42) == 0);
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_new),
		cmocka_unit_test(test_audit_verify_offline),
		cmocka_unit_test(test_verify_usage_errors),
		cmocka_unit_test(test_api_without_token_or_server),
		cmocka_unit_test(test_usage_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
