#include "gateway/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

#define NONCE_RAW 18
#define KEY_LEN SCRAM_KEY_LEN
#define BARE_MAX 256

enum scram_stage {
	ST_NEW,         /* nothing sent yet */
	ST_FIRST_SENT,  /* client-first sent, awaiting server-first */
	ST_KDF,         /* server-first taken, awaiting SaltedPassword */
	ST_FINAL_SENT,  /* client-final sent, awaiting server-final */
	ST_VERIFIED,    /* server signature verified */
	ST_FAILED,
};

struct scram {
	char *password;
	char user[64];
	char client_nonce[NONCE_RAW * 2 + 1];
	bool fixed_nonce;
	char client_first_bare[BARE_MAX];
	char gs2[32];                       /* "n,," "y,," "p=tls-server-end-point,," */
	uint8_t cbind[SCRAM_CBIND_MAX];     /* channel binding data ('p') */
	size_t cbind_len;
	char server_first[SCRAM_MSG_MAX + 1];
	size_t server_first_len;
	size_t nonce_len; /* the combined nonce at the start of server_first */
	const char *nonce; /* points into server_first */
	uint8_t server_sig[KEY_LEN];
	enum scram_stage stage;
};

static int scram_alloc(const char *password, struct scram **out)
{
	struct scram *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return JG_ERR_NOMEM;
	s->password = strdup(password);
	if (!s->password) {
		free(s);
		return JG_ERR_NOMEM;
	}
	*out = s;
	return 0;
}

int scram_new(const char *password, struct scram **out)
{
	return scram_alloc(password, out);
}

int scram_new_fixed(const char *password, const char *user,
		    const char *nonce, struct scram **out)
{
	int rc;

	if (strlen(user) >= sizeof((*out)->user) ||
	    strlen(nonce) >= sizeof((*out)->client_nonce) ||
	    strpbrk(user, ",=") || strchr(nonce, ','))
		return JG_ERR_INVALID;
	rc = scram_alloc(password, out);
	if (rc != 0)
		return rc;
	snprintf((*out)->user, sizeof((*out)->user), "%s", user);
	snprintf((*out)->client_nonce, sizeof((*out)->client_nonce), "%s",
		 nonce);
	(*out)->fixed_nonce = true;
	return 0;
}

void scram_free(struct scram *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s->password, strlen(s->password));
	free(s->password);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

int scram_set_channel_binding(struct scram *s, char flag,
			      const uint8_t *data, size_t len)
{
	if (s->stage != ST_NEW || (flag != 'n' && flag != 'y' && flag != 'p') ||
	    (flag == 'p') != (len > 0) || len > sizeof(s->cbind))
		return JG_ERR_INVALID;
	snprintf(s->gs2, sizeof(s->gs2), "%s",
		 flag == 'p' ? "p=tls-server-end-point,," :
		 flag == 'y' ? "y,," : "n,,");
	if (len)
		memcpy(s->cbind, data, len);
	s->cbind_len = len;
	return 0;
}

int scram_client_first(struct scram *s, char *buf, size_t buflen, size_t *len)
{
	uint8_t raw[NONCE_RAW];
	int n;

	*len = 0;
	if (s->stage != ST_NEW)
		return JG_ERR_CONFLICT;
	if (!s->fixed_nonce) {
		if (crypto_random(raw, sizeof(raw)) != 0)
			return JG_ERR_CRYPTO;
		/* hex is printable and comma-free, as the nonce must be */
		hex_encode(raw, sizeof(raw), s->client_nonce);
	}
	/* PostgreSQL ignores the SCRAM user name (it uses the startup one) */
	n = snprintf(s->client_first_bare, sizeof(s->client_first_bare),
		     "n=%s,r=%s", s->user, s->client_nonce);
	if (n < 0 || (size_t)n >= sizeof(s->client_first_bare))
		return JG_ERR_INTERNAL;
	if (!s->gs2[0])
		snprintf(s->gs2, sizeof(s->gs2), "n,,");
	n = snprintf(buf, buflen, "%s%s", s->gs2, s->client_first_bare);
	if (n < 0 || (size_t)n >= buflen)
		return JG_ERR_TOOBIG;
	*len = (size_t)n;
	s->stage = ST_FIRST_SENT;
	return 0;
}

/* Finds "k=" attribute value in a comma-separated SCRAM message. */
static bool attr(const char *msg, size_t len, char k, const char **v,
		 size_t *vl)
{
	size_t i = 0;

	while (i + 1 < len) {
		size_t j = i;

		while (j < len && msg[j] != ',')
			j++;
		if (msg[i] == k && msg[i + 1] == '=') {
			*v = msg + i + 2;
			*vl = j - i - 2;
			return true;
		}
		i = j + 1;
	}
	return false;
}

static int b64_decode(const char *in, size_t inlen, uint8_t *out,
		      size_t outmax, size_t *outlen)
{
	uint8_t tmp[SCRAM_MSG_MAX];
	int n;

	if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > sizeof(tmp))
		return JG_ERR_PARSE;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)inlen);
	if (n < 0)
		return JG_ERR_PARSE;
	/* EVP_DecodeBlock counts padding as zero bytes */
	if (in[inlen - 1] == '=')
		n--;
	if (in[inlen - 2] == '=')
		n--;
	if ((size_t)n > outmax)
		return JG_ERR_TOOBIG;
	memcpy(out, tmp, (size_t)n);
	*outlen = (size_t)n;
	return 0;
}

static int hmac(const uint8_t *key, size_t keylen, const void *data,
		size_t len, uint8_t out[KEY_LEN])
{
	unsigned int ol = KEY_LEN;

	if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &ol))
		return JG_ERR_CRYPTO;
	return 0;
}

/* "i=" value: decimal digits only, within the bounds. */
static int parse_iterations(const char *v, size_t vl, int *out)
{
	long n = 0;

	if (vl == 0)
		return JG_ERR_PARSE;
	for (size_t i = 0; i < vl; i++)
		if (v[i] < '0' || v[i] > '9')
			return JG_ERR_PARSE;
	if (vl > 9)
		return JG_ERR_TOOBIG;
	for (size_t i = 0; i < vl; i++)
		n = n * 10 + (v[i] - '0');
	if (n < SCRAM_ITER_MIN || n > SCRAM_ITER_MAX)
		return JG_ERR_TOOBIG;
	*out = (int)n;
	return 0;
}

int scram_server_first(struct scram *s, const char *sf, size_t sflen,
		       struct scram_kdf *kdf)
{
	const char *nonce, *salt64, *iter;
	size_t noncel, salt64l, iterl, cl = strlen(s->client_nonce);
	int rc;

	if (s->stage != ST_FIRST_SENT)
		return JG_ERR_CONFLICT;
	s->stage = ST_FAILED;
	if (sflen > SCRAM_MSG_MAX || memchr(sf, '\0', sflen))
		return JG_ERR_PARSE;
	/* "m=": a mandatory extension we cannot know */
	if (sflen < 2 || sf[0] != 'r' || sf[1] != '=')
		return JG_ERR_PARSE;
	if (!attr(sf, sflen, 'r', &nonce, &noncel) ||
	    !attr(sf, sflen, 's', &salt64, &salt64l) ||
	    !attr(sf, sflen, 'i', &iter, &iterl))
		return JG_ERR_PARSE;
	/* the server's nonce must extend ours, or this is a replay */
	if (noncel <= cl || memcmp(nonce, s->client_nonce, cl) != 0)
		return JG_ERR_AUTH;
	for (size_t i = 0; i < noncel; i++)
		if (nonce[i] < 0x21 || nonce[i] > 0x7e)
			return JG_ERR_PARSE;
	rc = parse_iterations(iter, iterl, &kdf->iterations);
	if (rc != 0)
		return rc;
	if (b64_decode(salt64, salt64l, kdf->salt, sizeof(kdf->salt),
		       &kdf->saltlen) != 0 || kdf->saltlen == 0)
		return JG_ERR_PARSE;
	memcpy(s->server_first, sf, sflen);
	s->server_first[sflen] = '\0';
	s->server_first_len = sflen;
	s->nonce = s->server_first + (nonce - sf);
	s->nonce_len = noncel;
	s->stage = ST_KDF;
	return 0;
}

int scram_salted_password(const char *password, const struct scram_kdf *kdf,
			  uint8_t out[SCRAM_KEY_LEN])
{
	if (kdf->iterations < SCRAM_ITER_MIN ||
	    kdf->iterations > SCRAM_ITER_MAX ||
	    kdf->saltlen > sizeof(kdf->salt))
		return JG_ERR_INVALID;
	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), kdf->salt,
			       (int)kdf->saltlen, kdf->iterations,
			       EVP_sha256(), KEY_LEN, out))
		return JG_ERR_CRYPTO;
	return 0;
}

int scram_client_final(struct scram *s, const uint8_t salted[SCRAM_KEY_LEN],
		       char *buf, size_t buflen, size_t *len)
{
	uint8_t client_key[KEY_LEN], server_key[KEY_LEN], stored_key[KEY_LEN],
		sig[KEY_LEN], proof[KEY_LEN];
	char proof64[64], auth_msg[3 * SCRAM_MSG_MAX];
	char without_proof[SCRAM_MSG_MAX + 256];
	uint8_t cb[sizeof(s->gs2) + SCRAM_CBIND_MAX];
	char cb64[(sizeof(cb) + 2) / 3 * 4 + 1];
	size_t gl = strlen(s->gs2);
	int n, rc = JG_ERR_CRYPTO;

	*len = 0;
	if (s->stage != ST_KDF)
		return JG_ERR_CONFLICT;
	s->stage = ST_FAILED;
	if (hmac(salted, KEY_LEN, "Client Key", 10, client_key) != 0 ||
	    hmac(salted, KEY_LEN, "Server Key", 10, server_key) != 0)
		goto out;
	SHA256(client_key, KEY_LEN, stored_key);

	/* c= is base64(gs2 header + channel binding data): "biws" for
	 * "n,," */
	memcpy(cb, s->gs2, gl);
	memcpy(cb + gl, s->cbind, s->cbind_len);
	EVP_EncodeBlock((unsigned char *)cb64, cb, (int)(gl + s->cbind_len));
	n = snprintf(without_proof, sizeof(without_proof), "c=%s,r=%.*s",
		     cb64, (int)s->nonce_len, s->nonce);
	if (n < 0 || (size_t)n >= sizeof(without_proof)) {
		rc = JG_ERR_TOOBIG;
		goto out;
	}
	n = snprintf(auth_msg, sizeof(auth_msg), "%s,%s,%s",
		     s->client_first_bare, s->server_first, without_proof);
	if (n < 0 || (size_t)n >= sizeof(auth_msg)) {
		rc = JG_ERR_TOOBIG;
		goto out;
	}
	if (hmac(stored_key, KEY_LEN, auth_msg, (size_t)n, sig) != 0)
		goto out;
	for (size_t i = 0; i < KEY_LEN; i++)
		proof[i] = client_key[i] ^ sig[i];
	EVP_EncodeBlock((unsigned char *)proof64, proof, KEY_LEN);
	/* keep what verify needs: the server signature over auth_msg */
	if (hmac(server_key, KEY_LEN, auth_msg, (size_t)n, s->server_sig) != 0)
		goto out;
	n = snprintf(buf, buflen, "%s,p=%s", without_proof, proof64);
	if (n < 0 || (size_t)n >= buflen) {
		rc = JG_ERR_TOOBIG;
		goto out;
	}
	*len = (size_t)n;
	s->stage = ST_FINAL_SENT;
	rc = 0;
out:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(server_key, sizeof(server_key));
	OPENSSL_cleanse(stored_key, sizeof(stored_key));
	OPENSSL_cleanse(proof, sizeof(proof));
	return rc;
}

int scram_verify_final(struct scram *s, const char *sfin, size_t len)
{
	size_t vl, got;
	uint8_t sig[SCRAM_MSG_MAX];

	if (s->stage != ST_FINAL_SENT)
		return JG_ERR_AUTH;
	s->stage = ST_FAILED;
	if (len > SCRAM_MSG_MAX || len < 2 || sfin[1] != '=')
		return JG_ERR_AUTH;
	if (sfin[0] == 'e')
		return JG_ERR_FORBIDDEN; /* server-error, e.g. invalid-proof */
	if (sfin[0] != 'v')
		return JG_ERR_AUTH;
	for (vl = 2; vl < len && sfin[vl] != ','; vl++)
		;
	if (b64_decode(sfin + 2, vl - 2, sig, sizeof(sig), &got) != 0 ||
	    got != KEY_LEN)
		return JG_ERR_AUTH;
	if (!crypto_ct_equal(sig, s->server_sig, KEY_LEN))
		return JG_ERR_AUTH;
	s->stage = ST_VERIFIED;
	return 0;
}

bool scram_verified(const struct scram *s)
{
	return s && s->stage == ST_VERIFIED;
}

void scram_md5_password(const char *user, const char *password,
			const uint8_t salt[4], char out[36])
{
	uint8_t d[16];
	char inner[33];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int dl = 16;

	out[0] = '\0';
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, password, strlen(password));
	EVP_DigestUpdate(ctx, user, strlen(user));
	EVP_DigestFinal_ex(ctx, d, &dl);
	hex_encode(d, 16, inner);
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, inner, 32);
	EVP_DigestUpdate(ctx, salt, 4);
	EVP_DigestFinal_ex(ctx, d, &dl);
	EVP_MD_CTX_free(ctx);
	memcpy(out, "md5", 3);
	hex_encode(d, 16, out + 3);
	OPENSSL_cleanse(inner, sizeof(inner));
}
