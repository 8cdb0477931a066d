#include "gateway/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

#define NONCE_RAW 18
#define KEY_LEN 32

struct scram {
	char *password;
	char client_nonce[NONCE_RAW * 2 + 1];
	char client_first_bare[64];
	uint8_t server_key[KEY_LEN];
	bool final_sent;
};

int scram_new(const char *password, struct scram **out)
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

void scram_free(struct scram *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s->password, strlen(s->password));
	free(s->password);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

int scram_client_first(struct scram *s, char *buf, size_t buflen, size_t *len)
{
	uint8_t raw[NONCE_RAW];
	int n;

	*len = 0;
	if (crypto_random(raw, sizeof(raw)) != 0)
		return JG_ERR_CRYPTO;
	/* hex is printable and comma-free, as the nonce must be */
	hex_encode(raw, sizeof(raw), s->client_nonce);
	/* PostgreSQL ignores the SCRAM user name (it uses the startup one) */
	n = snprintf(s->client_first_bare, sizeof(s->client_first_bare),
		     "n=,r=%s", s->client_nonce);
	if (n < 0 || (size_t)n >= sizeof(s->client_first_bare))
		return JG_ERR_INTERNAL;
	n = snprintf(buf, buflen, "n,,%s", s->client_first_bare);
	if (n < 0 || (size_t)n >= buflen)
		return JG_ERR_TOOBIG;
	*len = (size_t)n;
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

int scram_client_final(struct scram *s, const char *sf, size_t sflen,
		       char *buf, size_t buflen, size_t *len)
{
	const char *nonce, *salt64, *iter;
	size_t noncel, salt64l, iterl, saltlen;
	uint8_t salt[128], salted[KEY_LEN], client_key[KEY_LEN],
		stored_key[KEY_LEN], sig[KEY_LEN], proof[KEY_LEN];
	char itbuf[16], proof64[64], auth_msg[3 * SCRAM_MSG_MAX];
	char without_proof[SCRAM_MSG_MAX];
	long iterations;
	char *end;
	int n, rc = JG_ERR_AUTH;

	*len = 0;
	if (sflen > SCRAM_MSG_MAX || memchr(sf, '\0', sflen))
		return JG_ERR_PARSE;
	if (!attr(sf, sflen, 'r', &nonce, &noncel) ||
	    !attr(sf, sflen, 's', &salt64, &salt64l) ||
	    !attr(sf, sflen, 'i', &iter, &iterl))
		return JG_ERR_PARSE;
	/* the server's nonce must extend ours, or this is a replay */
	if (noncel <= strlen(s->client_nonce) ||
	    memcmp(nonce, s->client_nonce, strlen(s->client_nonce)) != 0)
		return JG_ERR_AUTH;
	if (iterl == 0 || iterl >= sizeof(itbuf))
		return JG_ERR_PARSE;
	memcpy(itbuf, iter, iterl);
	itbuf[iterl] = '\0';
	iterations = strtol(itbuf, &end, 10);
	if (*end != '\0' || iterations < 1 || iterations > SCRAM_ITER_MAX)
		return JG_ERR_PARSE;
	if (b64_decode(salt64, salt64l, salt, sizeof(salt), &saltlen) != 0)
		return JG_ERR_PARSE;

	if (!PKCS5_PBKDF2_HMAC(s->password, (int)strlen(s->password), salt,
			       (int)saltlen, (int)iterations, EVP_sha256(),
			       KEY_LEN, salted))
		return JG_ERR_CRYPTO;
	if (hmac(salted, KEY_LEN, "Client Key", 10, client_key) != 0 ||
	    hmac(salted, KEY_LEN, "Server Key", 10, s->server_key) != 0)
		goto out;
	SHA256(client_key, KEY_LEN, stored_key);

	/* channel binding "biws" is base64("n,,") */
	n = snprintf(without_proof, sizeof(without_proof), "c=biws,r=%.*s",
		     (int)noncel, nonce);
	if (n < 0 || (size_t)n >= sizeof(without_proof)) {
		rc = JG_ERR_TOOBIG;
		goto out;
	}
	n = snprintf(auth_msg, sizeof(auth_msg), "%s,%.*s,%s",
		     s->client_first_bare, (int)sflen, sf, without_proof);
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
	if (hmac(s->server_key, KEY_LEN, auth_msg, (size_t)n,
		 s->server_key) != 0)
		goto out;
	n = snprintf(buf, buflen, "%s,p=%s", without_proof, proof64);
	if (n < 0 || (size_t)n >= buflen) {
		rc = JG_ERR_TOOBIG;
		goto out;
	}
	*len = (size_t)n;
	s->final_sent = true;
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(stored_key, sizeof(stored_key));
	return rc;
}

int scram_verify_final(struct scram *s, const char *sfin, size_t len)
{
	const char *v;
	size_t vl, got;
	uint8_t sig[KEY_LEN];

	if (!s->final_sent || len > SCRAM_MSG_MAX)
		return JG_ERR_AUTH;
	if (!attr(sfin, len, 'v', &v, &vl))
		return JG_ERR_AUTH;
	if (b64_decode(v, vl, sig, sizeof(sig), &got) != 0 || got != KEY_LEN)
		return JG_ERR_AUTH;
	/* s->server_key now holds the expected ServerSignature */
	return crypto_ct_equal(sig, s->server_key, KEY_LEN) ? 0 : JG_ERR_AUTH;
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
