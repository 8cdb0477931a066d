/* Slack request signatures and click payloads (api/slackin): Slack's own
 * documented signing example, the 5-minute window on both sides, every
 * byte of the signature mattering, and payloads that are malformed,
 * non-UTF-8, truncated or not a jitgate click. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/slackin.h"

/* api.slack.com/authentication/verifying-requests-from-slack */
static const char SECRET[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char TS[] = "1531420618";
static const char BODY[] =
	"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
	"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name="
	"roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2F"
	"hooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZR"
	"skXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
static const char SIG[] =
	"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
#define NOW 1531420618LL

static int verify(const char *secret, const char *ts, const char *sig,
		  const char *body, int64_t now)
{
	char why[128] = "";
	int rc = slackin_verify(secret, ts, sig, body, strlen(body), now, why,
				sizeof(why));

	if (rc != 0)
		assert_true(why[0] != '\0');
	return rc;
}

static void test_slack_example(void **state)
{
	char sig[sizeof(SIG)], body[sizeof(BODY)];

	(void)state;
	assert_int_equal(verify(SECRET, TS, SIG, BODY, NOW), 0);
	assert_int_equal(verify(SECRET, TS, SIG, BODY, NOW + 300), 0);
	assert_int_equal(verify(SECRET, TS, SIG, BODY, NOW - 300), 0);
	/* older than 5 minutes, or from the future: replay */
	assert_int_equal(verify(SECRET, TS, SIG, BODY, NOW + 301), -8);
	assert_int_equal(verify(SECRET, TS, SIG, BODY, NOW - 301), -8);
	/* every byte of the signature and the body counts */
	for (size_t i = 3; i < strlen(SIG); i++) {
		memcpy(sig, SIG, sizeof(SIG));
		sig[i] = sig[i] == '0' ? '1' : '0';
		assert_int_equal(verify(SECRET, TS, sig, BODY, NOW), -8);
	}
	memcpy(body, BODY, sizeof(BODY));
	body[10] ^= 1;
	assert_int_equal(verify(SECRET, TS, SIG, body, NOW), -8);
	/* wrong secret, truncated or prefixed signature, other version */
	assert_int_equal(verify("other", TS, SIG, BODY, NOW), -8);
	assert_int_equal(verify(SECRET, TS, "v0=a2114d57", BODY, NOW), -8);
	assert_int_equal(verify(SECRET, TS, SIG + 3, BODY, NOW), -8);
	memcpy(sig, SIG, sizeof(SIG));
	sig[1] = '1';
	assert_int_equal(verify(SECRET, TS, sig, BODY, NOW), -8);
	/* missing pieces, malformed timestamps, no secret configured */
	assert_int_equal(verify(SECRET, NULL, SIG, BODY, NOW), -8);
	assert_int_equal(verify(SECRET, TS, NULL, BODY, NOW), -8);
	assert_int_equal(verify(SECRET, "", SIG, BODY, NOW), -8);
	assert_int_equal(verify(SECRET, "-1531420618", SIG, BODY, NOW), -8);
	assert_int_equal(verify(SECRET, "1531420618.5", SIG, BODY, NOW), -8);
	assert_int_equal(verify(SECRET, "99999999999999999999", SIG, BODY, NOW), -8);
	assert_int_equal(verify(NULL, TS, SIG, BODY, NOW), -8);
	assert_int_equal(verify("", TS, SIG, BODY, NOW), -8);
}

static int parse(const char *body, struct slackin_click *c)
{
	char why[128] = "";
	int rc = slackin_parse(body, strlen(body), c, why, sizeof(why));

	if (rc != 0)
		assert_true(why[0] != '\0');
	return rc;
}

static void test_parse_click(void **state)
{
	struct slackin_click c;

	(void)state;
	assert_int_equal(parse("payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B"
			       "%22id%22%3A%22U0BOB%22%7D%2C%22response_url%22%3A%22https%3A%2F%2F"
			       "hooks.slack.com%2Fa%22%2C%22actions%22%3A%5B%7B%22action_id%22%3A"
			       "%22jitgate_deny%22%2C%22value%22%3A%2242%22%7D%5D%7D", &c), 0);
	assert_string_equal(c.user_id, "U0BOB");
	assert_int_equal(c.action, SLACKIN_DENY);
	assert_int_equal(c.request_id, 42);
	assert_string_equal(c.response_url, "https://hooks.slack.com/a");
	/* '+' is a space in a form; other fields around payload are fine */
	assert_int_equal(parse("a=1&payload={\"type\":+\"block_actions\",\"user\":{\"id\":\"U1\"},"
			       "\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":\"7\"}]}&b=2",
			       &c), 0);
	assert_int_equal(c.action, SLACKIN_APPROVE);
	assert_string_equal(c.response_url, "");
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"payload",
		"payload=",
		"payload=%",
		"payload=%4",
		"payload=%zz",
		"payloadx={}",
		"payload=[]",
		"payload={\"type\":\"view_submission\"}",
		"payload={\"type\":\"block_actions\"}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[]}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"x\",\"value\":\"1\"}]}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":\"0\"}]}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":\"1x\"}]}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":\"9999999999999999999\"}]}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":7}]}",
		"payload={\"type\":\"block_actions\",\"type\":\"block_actions\"}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U\xff\"},\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":\"7\"}]}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"U%00\"},\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":\"7\"}]}",
		"payload={\"type\":\"block_actions\",\"user\":{\"id\":\"UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},\"actions\":[{\"action_id\":\"jitgate_approve\",\"value\":\"7\"}]}",
	};
	struct slackin_click c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &c) != -2)
			print_message("accepted: %s\n", bad[i]);
		assert_int_equal(parse(bad[i], &c), -2);
	}
}

/* Where a refused click's answer may be POSTed (SSRF guard). */
static void test_response_url(void **state)
{
	static const char api[] = "http://127.0.0.1:8443/api";
	static const char *const ok[] = {
		"https://hooks.slack.com/actions/T0/1/xyz",
		"http://127.0.0.1:8443/actions/T0/1/xyz",
		"http://127.0.0.1:8443/",
	};
	static const char *const bad[] = {
		"", "hooks.slack.com/actions/x", "http://hooks.slack.com/actions/x",
		"https://hooks.slack.com.evil.example/actions/x",
		"https://hooks.slack.com@evil.example/actions/x",
		"https://evil.example/https://hooks.slack.com/",
		"https://hooks.slack.com:444/actions/x",
		"http://127.0.0.1:8443@evil.example/x", "http://127.0.0.1:84430/x",
		"http://127.0.0.1/x", "https://127.0.0.1:8443/x", "http://127.0.0.1:8443",
		"https://hooks.slack.com/actions/x y", "https://hooks.slack.com/a\\b",
		"https://hooks.slack.com/\xc3\xa9", "https://hooks.slack.com/a\r\nHost: x",
		"file:///etc/passwd", "gopher://127.0.0.1:8443/",
	};
	char longurl[SLACKIN_URL_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(slackin_response_url_ok(ok[i], api));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (slackin_response_url_ok(bad[i], api))
			fail_msg("accepted %s", bad[i]);
	}
	assert_false(slackin_response_url_ok(NULL, api));
	/* without an API URL only Slack's own */
	assert_true(slackin_response_url_ok(ok[0], NULL));
	assert_false(slackin_response_url_ok(ok[1], NULL));
	/* an api_url with userinfo does not lend its origin */
	assert_false(slackin_response_url_ok("http://u@h:1/x", "http://u@h:1/api"));
	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "https://hooks.slack.com/", 24);
	assert_false(slackin_response_url_ok(longurl, api));
	longurl[SLACKIN_URL_MAX] = '\0';
	assert_true(slackin_response_url_ok(longurl, api));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slack_example),
		cmocka_unit_test(test_parse_click),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_response_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
