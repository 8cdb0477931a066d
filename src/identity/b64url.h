/* Strict base64url (RFC 4648 §5) as JWS uses it: no padding, nothing outside
 * the alphabet, and the unused low bits of the last character must be zero,
 * so every byte string has exactly one accepted encoding. */
#ifndef JG_IDENTITY_B64URL_H
#define JG_IDENTITY_B64URL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Bytes b64url_decode needs for an input of len characters. */
#define B64URL_DECODED_MAX(len) (((len) / 4) * 3 + 2)

/* Decodes in[0..len) into out (capacity cap).  Refuses padding, whitespace,
 * non-alphabet bytes, a length of 4k+1 and non-zero unused bits
 * (JG_ERR_PARSE); JG_ERR_TOOBIG when cap is too small. */
int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
		  size_t *outlen) JG_WUR;
/* Same into a fresh buffer of at most max bytes (JG_ERR_TOOBIG beyond);
 * caller frees *out (NUL-terminated for convenience, not counted). */
int b64url_decode_alloc(const char *in, size_t len, size_t max, uint8_t **out,
			size_t *outlen) JG_WUR;
/* Unpadded base64url of in; caller frees.  NULL when out of memory. */
char *b64url_encode(const uint8_t *in, size_t len);

#endif
