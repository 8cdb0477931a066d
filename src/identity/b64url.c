#include "identity/b64url.h"

#include <stdlib.h>

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
		  size_t *outlen)
{
	size_t need, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	*outlen = 0;
	if (len % 4 == 1)
		return JG_ERR_PARSE;
	need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (need > cap)
		return JG_ERR_TOOBIG;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)in[i]);

		if (v < 0)
			return JG_ERR_PARSE;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero: otherwise two encodings decode to the
	 * same bytes and a signature would cover text we never compared. */
	if (acc != 0)
		return JG_ERR_PARSE;
	*outlen = o;
	return JG_OK;
}

int b64url_decode_alloc(const char *in, size_t len, size_t max, uint8_t **out,
			size_t *outlen)
{
	size_t cap = B64URL_DECODED_MAX(len);
	uint8_t *buf;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (len / 4 * 3 > max)
		return JG_ERR_TOOBIG;
	buf = malloc(cap + 1);
	if (!buf)
		return JG_ERR_NOMEM;
	rc = b64url_decode(in, len, buf, cap, outlen);
	if (rc == JG_OK && *outlen > max)
		rc = JG_ERR_TOOBIG;
	if (rc != JG_OK) {
		free(buf);
		*outlen = 0;
		return rc;
	}
	buf[*outlen] = '\0';
	*out = buf;
	return JG_OK;
}

char *b64url_encode(const uint8_t *in, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(len / 3 * 4 + 4 + 1);
	size_t o = 0, i = 0;

	if (!out)
		return NULL;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return out;
}
