/* Writing text into XML (JUnit reports). */
#ifndef JG_UTIL_XMLOUT_H
#define JG_UTIL_XMLOUT_H

#include <stdio.h>

/* Writes s escaped for an XML attribute or text node: & < > " ' as
 * entities; bytes XML 1.0 cannot hold (C0 controls other than tab,
 * newline and return) as '?'. */
void xml_put(const char *s, FILE *f);

#endif
