#include "api/slackin.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

static int fail(char *why, size_t len, int err, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return err;
}

int slackin_verify(const char *secret, const char *ts, const char *sig,
		   const char *body, size_t len, int64_t now_s, char *why,
		   size_t whylen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char want[3 + 2 * EVP_MAX_MD_SIZE + 1];
	char *base;
	int64_t t = 0;
	size_t tl;
	bool ok;

	if (secret == NULL || *secret == '\0')
		return fail(why, whylen, JG_ERR_AUTH, "slack signing secret not set");
	if (ts == NULL || sig == NULL)
		return fail(why, whylen, JG_ERR_AUTH, "no Slack signature");
	tl = strlen(ts);
	if (tl == 0 || tl > 12)
		return fail(why, whylen, JG_ERR_AUTH, "bad Slack timestamp");
	for (size_t i = 0; i < tl; i++) {
		if (ts[i] < '0' || ts[i] > '9')
			return fail(why, whylen, JG_ERR_AUTH, "bad Slack timestamp");
		t = t * 10 + (ts[i] - '0');
	}
	/* replays: refuse old (and far-future) timestamps */
	if (t < now_s - SLACKIN_MAX_AGE_S || t > now_s + SLACKIN_MAX_AGE_S)
		return fail(why, whylen, JG_ERR_AUTH, "stale Slack timestamp");
	base = malloc(tl + len + 5);
	if (base == NULL)
		return fail(why, whylen, JG_ERR_NOMEM, "out of memory");
	memcpy(base, "v0:", 3);
	memcpy(base + 3, ts, tl);
	base[3 + tl] = ':';
	memcpy(base + 4 + tl, body, len);
	ok = HMAC(EVP_sha256(), secret, (int)strlen(secret),
		  (const unsigned char *)base, tl + len + 4, mac, &maclen) != NULL;
	free(base);
	if (!ok)
		return fail(why, whylen, JG_ERR_AUTH, "signature not computed");
	memcpy(want, "v0=", 3);
	hex_encode(mac, maclen, want + 3);
	if (strlen(sig) != 3 + 2 * (size_t)maclen ||
	    !crypto_ct_equal(sig, want, 3 + 2 * (size_t)maclen))
		return fail(why, whylen, JG_ERR_AUTH, "bad Slack signature");
	return JG_OK;
}

/* The decoded value of form field name (caller frees, *n its length), or
 * NULL when absent or malformed. */
static char *form_value(const char *body, size_t len, const char *name,
			size_t *n)
{
	size_t nl = strlen(name), i = 0;

	while (i < len) {
		size_t end = i;

		while (end < len && body[end] != '&')
			end++;
		if (end - i > nl && memcmp(body + i, name, nl) == 0 &&
		    body[i + nl] == '=') {
			char *out = malloc(end - i + 1);
			size_t o = 0;

			if (out == NULL)
				return NULL;
			for (size_t k = i + nl + 1; k < end; k++) {
				if (body[k] == '+') {
					out[o++] = ' ';
				} else if (body[k] == '%') {
					int hi = k + 2 < end ? hex_digit_value(body[k + 1]) : -1;
					int lo = hi >= 0 ? hex_digit_value(body[k + 2]) : -1;

					if (lo < 0) {
						free(out);
						return NULL;
					}
					out[o++] = (char)(hi * 16 + lo);
					k += 2;
				} else {
					out[o++] = body[k];
				}
			}
			out[o] = '\0';
			*n = o;
			return out;
		}
		i = end + 1;
	}
	return NULL;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int slackin_parse(const char *body, size_t len, struct slackin_click *out,
		  char *why, size_t whylen)
{
	const char *type, *uid, *aid, *val, *rurl;
	const json_t *act;
	json_t *j = NULL;
	char *payload;
	size_t plen = 0;
	int rc = JG_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	payload = form_value(body, len, "payload", &plen);
	if (payload == NULL)
		return fail(why, whylen, JG_ERR_INVALID, "no payload form field");
	/* strict: valid UTF-8, no NUL, no duplicate keys */
	j = json_loadb(payload, plen, JSON_REJECT_DUPLICATES, NULL);
	free(payload);
	if (!json_is_object(j)) {
		fail(why, whylen, rc, "payload is not a JSON object in UTF-8");
		goto out;
	}
	type = jstr(j, "type");
	if (type == NULL || strcmp(type, "block_actions") != 0) {
		fail(why, whylen, rc, "not a block_actions payload");
		goto out;
	}
	uid = jstr(json_object_get(j, "user"), "id");
	act = json_array_get(json_object_get(j, "actions"), 0);
	aid = jstr(act, "action_id");
	val = jstr(act, "value");
	rurl = jstr(j, "response_url");
	if (uid == NULL || strlen(uid) > SLACKIN_ID_MAX || aid == NULL || val == NULL) {
		fail(why, whylen, rc, "payload lacks user.id or actions[0]");
		goto out;
	}
	if (strcmp(aid, "jitgate_approve") == 0)
		out->action = SLACKIN_APPROVE;
	else if (strcmp(aid, "jitgate_deny") == 0)
		out->action = SLACKIN_DENY;
	else {
		fail(why, whylen, rc, "unknown action_id");
		goto out;
	}
	if (*val < '1' || *val > '9' || strlen(val) > 18 ||
	    strspn(val, "0123456789") != strlen(val)) {
		fail(why, whylen, rc, "action value is not a request id");
		goto out;
	}
	out->request_id = strtoll(val, NULL, 10);
	snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
	/* kept as given; whether we may POST to it is slackin_response_url_ok */
	if (rurl != NULL && strlen(rurl) <= SLACKIN_URL_MAX)
		snprintf(out->response_url, sizeof(out->response_url), "%s", rurl);
	rc = JG_OK;
out:
	json_decref(j);
	return rc;
}

/* The length of url's scheme://authority, or 0 when it has none. */
static size_t origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	if (p == NULL || p == url)
		return 0;
	p += 3;
	p += strcspn(p, "/?#");
	return (size_t)(p - url);
}

bool slackin_response_url_ok(const char *url, const char *api_url)
{
	static const char slack[] = "https://hooks.slack.com/";
	size_t n = url ? strlen(url) : 0, o;

	if (n == 0 || n > SLACKIN_URL_MAX)
		return false;
	/* printable ASCII only: no space, control, or byte a parser might
	 * read another way */
	for (size_t i = 0; i < n; i++)
		if (url[i] <= 0x20 || url[i] >= 0x7f || url[i] == '\\')
			return false;
	if (strncmp(url, slack, sizeof(slack) - 1) == 0)
		return true;
	/* the configured API's own origin (a test's fake Slack), exactly,
	 * followed by a path */
	o = api_url ? origin_len(api_url) : 0;
	return o > 0 && strncmp(url, api_url, o) == 0 && url[o] == '/' &&
	       memchr(api_url, '@', o) == NULL;
}
