/* Text that came from outside (user names, application_name, token
 * claims, reasons) made safe to record: valid UTF-8 for the audit log,
 * and no control characters for a log line.  A byte that is not part of a
 * valid UTF-8 sequence is written as the four characters \xNN, so nothing
 * is dropped and the original bytes can be read back from the record. */
#ifndef JG_UTIL_TEXT_H
#define JG_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Also escape C0 controls, DEL and the backslash (\n, \t, \\, \xNN): what a
 * log line needs so that a name cannot end the line or forge another. */
#define TEXT_ESC_CONTROL 1u

/* Decodes one UTF-8 sequence at s[*i] (i < len) into *cp.  Returns false,
 * consuming one byte (*cp = that byte), for anything RFC 3629 does not
 * allow: overlong forms, surrogates, values past U+10FFFF, truncation. */
bool text_utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp);
bool text_utf8_valid(const char *s, size_t len);

/* Length of src[0..len) once escaped under flags (without the NUL). */
size_t text_escaped_len(const char *src, size_t len, unsigned flags);
/* Writes src[0..len) escaped under flags into dst (cap >= 1 bytes, always
 * NUL-terminated).  When it does not fit it is cut before the first
 * character or escape that would not fit whole, so the result is always
 * valid UTF-8.  Returns the length written. */
size_t text_escape(char *dst, size_t cap, const char *src, size_t len,
		   unsigned flags);
/* Copies src (NULL: "") into dst (cap >= 1, always NUL-terminated) cut at
 * cap - 1 bytes, every byte outside printable ASCII (controls, DEL,
 * non-ASCII) written as '?': for a short untrusted value (a key id, an
 * IdP's error code) quoted in a message, where one byte per byte matters
 * more than keeping the original readable. */
void text_copy_printable(char *dst, size_t cap, const char *src);
/* True when text_escape under flags would change src. */
bool text_needs_escape(const char *src, size_t len, unsigned flags);

#endif
