#include "api/websession.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "identity/b64url.h"
#include "util/crypto.h"

#define NBUCKETS 4096

struct entry {
	uint8_t key[SHA256_LEN]; /* SHA-256 of the cookie's id */
	char csrf[WEBSESSION_CSRF_LEN + 1];
	struct authn who;
	int64_t created_ms, expires_ms;
	struct entry *next;
};

struct websessions {
	pthread_mutex_t mu;
	size_t max, per_subject, count;
	struct entry *buckets[NBUCKETS];
};

int websessions_new(size_t max, size_t per_subject, struct websessions **out)
{
	struct websessions *ws = calloc(1, sizeof(*ws));

	*out = NULL;
	if (ws == NULL)
		return JG_ERR_NOMEM;
	pthread_mutex_init(&ws->mu, NULL);
	ws->max = max;
	ws->per_subject = per_subject;
	*out = ws;
	return JG_OK;
}

static void entry_free(struct entry *e)
{
	authn_clear(&e->who);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

void websessions_free(struct websessions *ws)
{
	if (ws == NULL)
		return;
	for (size_t b = 0; b < NBUCKETS; b++)
		for (struct entry *e = ws->buckets[b], *n; e; e = n) {
			n = e->next;
			entry_free(e);
		}
	pthread_mutex_destroy(&ws->mu);
	free(ws);
}

static size_t bucket_of(const uint8_t key[SHA256_LEN])
{
	return ((size_t)key[0] | (size_t)key[1] << 8) % NBUCKETS;
}

/* Unlinks *pp (mu held). */
static void unlink_at(struct websessions *ws, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	entry_free(e);
	ws->count--;
}

/* Drops every expired entry (mu held). */
static void sweep(struct websessions *ws, int64_t now_ms)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		for (struct entry **pp = &ws->buckets[b]; *pp;)
			if ((*pp)->expires_ms <= now_ms)
				unlink_at(ws, pp);
			else
				pp = &(*pp)->next;
}

/* Ends name's oldest sessions until it has room for one more (mu held). */
static void make_room_for(struct websessions *ws, const char *name)
{
	for (;;) {
		struct entry **oldest = NULL;
		size_t n = 0;

		for (size_t b = 0; b < NBUCKETS; b++)
			for (struct entry **pp = &ws->buckets[b]; *pp; pp = &(*pp)->next)
				if (strcmp((*pp)->who.name, name) == 0) {
					n++;
					if (!oldest || (*pp)->created_ms < (*oldest)->created_ms)
						oldest = pp;
				}
		if (n < ws->per_subject || oldest == NULL)
			return;
		unlink_at(ws, oldest);
	}
}

static int random_token(char out[WEBSESSION_ID_LEN + 1], uint8_t raw[32])
{
	char *t;

	if (crypto_random(raw, 32) != JG_OK)
		return JG_ERR_INTERNAL;
	t = b64url_encode(raw, 32);
	if (t == NULL)
		return JG_ERR_NOMEM;
	memcpy(out, t, WEBSESSION_ID_LEN + 1);
	OPENSSL_cleanse(t, WEBSESSION_ID_LEN);
	free(t);
	return JG_OK;
}

int websession_create(struct websessions *ws, const struct authn *who,
		      int64_t now_ms, int64_t ttl_ms,
		      char cookie[WEBSESSION_ID_LEN + 1],
		      char csrf[WEBSESSION_CSRF_LEN + 1], int64_t *expires_ms)
{
	struct entry *e = calloc(1, sizeof(*e));
	uint8_t raw[32];
	int rc;

	cookie[0] = csrf[0] = '\0';
	if (e == NULL)
		return JG_ERR_NOMEM;
	rc = authn_copy(&e->who, who);
	if (rc == JG_OK)
		rc = random_token(cookie, raw);
	if (rc == JG_OK) {
		crypto_sha256(cookie, WEBSESSION_ID_LEN, e->key);
		rc = random_token(e->csrf, raw);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc != JG_OK) {
		entry_free(e);
		OPENSSL_cleanse(cookie, WEBSESSION_ID_LEN);
		cookie[0] = '\0';
		return rc;
	}
	e->created_ms = now_ms;
	e->expires_ms = now_ms + ttl_ms;
	pthread_mutex_lock(&ws->mu);
	make_room_for(ws, who->name);
	if (ws->count >= ws->max)
		sweep(ws, now_ms);
	if (ws->count >= ws->max) {
		pthread_mutex_unlock(&ws->mu);
		entry_free(e);
		OPENSSL_cleanse(cookie, WEBSESSION_ID_LEN);
		cookie[0] = '\0';
		return JG_ERR_UNAVAILABLE;
	}
	e->next = ws->buckets[bucket_of(e->key)];
	ws->buckets[bucket_of(e->key)] = e;
	ws->count++;
	memcpy(csrf, e->csrf, sizeof(e->csrf));
	*expires_ms = e->expires_ms;
	pthread_mutex_unlock(&ws->mu);
	return JG_OK;
}

/* The table key of a well-formed cookie; false for anything else (wrong
 * length, bytes outside base64url) without touching the table. */
static bool cookie_key(const char *cookie, uint8_t key[SHA256_LEN])
{
	uint8_t raw[B64URL_DECODED_MAX(WEBSESSION_ID_LEN)];
	size_t n;

	if (cookie == NULL || strnlen(cookie, WEBSESSION_ID_LEN + 1) != WEBSESSION_ID_LEN ||
	    b64url_decode(cookie, WEBSESSION_ID_LEN, raw, sizeof(raw), &n) != JG_OK ||
	    n != 32)
		return false;
	crypto_sha256(cookie, WEBSESSION_ID_LEN, key);
	return true;
}

/* The entry slot for key (mu held); NULL when none. */
static struct entry **find(struct websessions *ws, const uint8_t key[SHA256_LEN])
{
	for (struct entry **pp = &ws->buckets[bucket_of(key)]; *pp; pp = &(*pp)->next)
		if (crypto_ct_equal((*pp)->key, key, SHA256_LEN))
			return pp;
	return NULL;
}

int websession_lookup(struct websessions *ws, const char *cookie, int64_t now_ms,
		      struct websession_view *out)
{
	uint8_t key[SHA256_LEN];
	struct entry **pp;
	int rc = JG_ERR_AUTH;

	memset(out, 0, sizeof(*out));
	if (!cookie_key(cookie, key))
		return JG_ERR_AUTH;
	pthread_mutex_lock(&ws->mu);
	pp = find(ws, key);
	if (pp != NULL && (*pp)->expires_ms <= now_ms) {
		unlink_at(ws, pp);
	} else if (pp != NULL) {
		rc = authn_copy(&out->who, &(*pp)->who);
		memcpy(out->csrf, (*pp)->csrf, sizeof(out->csrf));
		out->expires_ms = (*pp)->expires_ms;
	}
	pthread_mutex_unlock(&ws->mu);
	return rc;
}

bool websession_end(struct websessions *ws, const char *cookie)
{
	uint8_t key[SHA256_LEN];
	struct entry **pp;

	if (!cookie_key(cookie, key))
		return false;
	pthread_mutex_lock(&ws->mu);
	pp = find(ws, key);
	if (pp != NULL)
		unlink_at(ws, pp);
	pthread_mutex_unlock(&ws->mu);
	return pp != NULL;
}

size_t websession_count(struct websessions *ws)
{
	size_t n;

	pthread_mutex_lock(&ws->mu);
	n = ws->count;
	pthread_mutex_unlock(&ws->mu);
	return n;
}
