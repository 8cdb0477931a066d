/* Small wrappers over OpenSSL used across modules. */
#ifndef JG_UTIL_CRYPTO_H
#define JG_UTIL_CRYPTO_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

/* SHA-256, fetched from the default provider once per process (NULL only
 * when that failed); shared so that hot paths do not fetch it per call. */
const EVP_MD *crypto_sha256_md(void);
void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* Lowercase hex of SHA-256(data) into out (65 bytes with NUL). */
void crypto_sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);
/* Constant-time equality of two equal-length buffers. */
bool crypto_ct_equal(const void *a, const void *b, size_t len);
/* Fills buf with cryptographically strong random bytes. */
int crypto_random(void *buf, size_t len) JG_WUR;
/* Lowercase hex encoding; out must hold 2*len+1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* The value of one hex digit (either case), or -1. */
int hex_digit_value(char c);
/* Decodes exactly 2*len hex digits into out. */
int hex_decode(const char *in, uint8_t *out, size_t len) JG_WUR;

#endif
