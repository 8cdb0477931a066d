/* Slack interaction requests (design section 13), pure: the signature
 * check (v0 = hex HMAC-SHA256 of "v0:TIMESTAMP:BODY" under the signing
 * secret, compared in constant time, the timestamp within 5 minutes of
 * now) and the bounded parse of the form-encoded `payload` JSON of a
 * block_actions click. */
#ifndef JG_API_SLACKIN_H
#define JG_API_SLACKIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SLACKIN_MAX_AGE_S 300
#define SLACKIN_ID_MAX 32
#define SLACKIN_URL_MAX 512

/* 0, or JG_ERR_AUTH with why ("bad signature", "stale timestamp", ...).
 * ts and sig are the X-Slack-Request-Timestamp and X-Slack-Signature
 * headers (NULL when absent). */
int slackin_verify(const char *secret, const char *ts, const char *sig,
		   const char *body, size_t len, int64_t now_s, char *why,
		   size_t whylen) JG_WUR;

enum slackin_action { SLACKIN_APPROVE, SLACKIN_DENY };

struct slackin_click {
	char user_id[SLACKIN_ID_MAX + 1];
	enum slackin_action action;
	int64_t request_id;
	char response_url[SLACKIN_URL_MAX + 1]; /* "" when none */
};

/* Parses a signed body: JG_ERR_INVALID with why for anything but one
 * well-formed jitgate button click. */
int slackin_parse(const char *body, size_t len, struct slackin_click *out,
		  char *why, size_t whylen) JG_WUR;

/* May a refusal be POSTed to this response_url (server-side request
 * forgery guard)?  Only https://hooks.slack.com/..., or a URL on exactly
 * the origin (scheme://host:port) of the configured slack.api_url (the
 * test suite's fake Slack), in printable ASCII, at most SLACKIN_URL_MAX
 * bytes. */
bool slackin_response_url_ok(const char *url, const char *api_url);

#endif
