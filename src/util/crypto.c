#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetched once: EVP_sha256() is a legacy handle that makes every
 * EVP_Digest look the implementation up in the provider again (a tenth of
 * the instructions of hashing a bearer token). */
static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *crypto_sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md;
}

void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	const EVP_MD *md = crypto_sha256_md();
	unsigned int olen = SHA256_LEN;

	/* without the fetched digest (out of memory at the first call),
	 * the one-shot SHA256 still gives the right answer */
	if (md == NULL || EVP_Digest(data, len, out, &olen, md, NULL) != 1)
		SHA256(data, len, out);
}

void crypto_sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	uint8_t md[SHA256_LEN];

	crypto_sha256(data, len, md);
	hex_encode(md, sizeof(md), out);
}

bool crypto_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int crypto_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? JG_OK : JG_ERR_CRYPTO;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t len)
{
	if (strlen(in) != 2 * len)
		return JG_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		int hi = hex_digit_value(in[2 * i]), lo = hex_digit_value(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return JG_ERR_INVALID;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return JG_OK;
}
