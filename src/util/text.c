#include "util/text.h"

#include <string.h>

bool text_utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	unsigned char c = s[*i];
	uint32_t v, min;
	size_t n, k;

	if (c < 0x80) {
		*cp = c;
		(*i)++;
		return true;
	}
	if ((c & 0xE0) == 0xC0) {
		n = 1, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 2, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 3, v = c & 0x07, min = 0x10000;
	} else {
		goto bad;
	}
	if (len - *i <= n)
		goto bad;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80)
			goto bad;
		v = v << 6 | (s[*i + k] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto bad;
	*cp = v;
	*i += n + 1;
	return true;
bad:
	*cp = c;
	(*i)++;
	return false;
}

bool text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < len)
		if (!text_utf8_next(u, len, &i, &cp))
			return false;
	return true;
}

/* The escape for the character at s[*i] (advancing *i): its bytes in out,
 * returning their count. */
static size_t escape_one(const unsigned char *s, size_t len, size_t *i,
			 unsigned flags, char out[4])
{
	static const char hex[] = "0123456789abcdef";
	size_t start = *i;
	uint32_t cp;
	bool ok = text_utf8_next(s, len, i, &cp);
	unsigned char c = s[start];

	if (ok && !((flags & TEXT_ESC_CONTROL) && (cp < 0x20 || cp == 0x7f || cp == '\\'))) {
		memcpy(out, s + start, *i - start);
		return *i - start;
	}
	out[0] = '\\';
	if (ok && cp == '\\') {
		out[1] = '\\';
		return 2;
	}
	if (ok && (cp == '\n' || cp == '\r' || cp == '\t')) {
		out[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
		return 2;
	}
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 15];
	return 4;
}

size_t text_escaped_len(const char *src, size_t len, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n = 0;
	char tmp[4];

	while (i < len)
		n += escape_one(s, len, &i, flags, tmp);
	return n;
}

bool text_needs_escape(const char *src, size_t len, unsigned flags)
{
	/* every escape is longer than what it replaces */
	return text_escaped_len(src, len, flags) != len;
}

size_t text_escape(char *dst, size_t cap, const char *src, size_t len,
		   unsigned flags)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n = 0, k;
	char tmp[4];

	while (i < len) {
		k = escape_one(s, len, &i, flags, tmp);
		if (n + k + 1 > cap)
			break;
		memcpy(dst + n, tmp, k);
		n += k;
	}
	dst[n] = '\0';
	return n;
}

void text_copy_printable(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}
