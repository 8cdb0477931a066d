#include "store/pgarray.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for need more bytes and the closing "}\0". */
static int reserve(struct pgarray *a, size_t need)
{
	size_t want;
	char *v;

	if (need > SIZE_MAX / 2 - a->len - 2)
		return JG_ERR_NOMEM;
	want = a->len + need + 2;
	if (want <= a->cap)
		return JG_OK;
	if (want < a->cap * 2)
		want = a->cap * 2;
	if (want < 256)
		want = 256;
	v = realloc(a->s, want);
	if (v == NULL)
		return JG_ERR_NOMEM;
	a->s = v;
	a->cap = want;
	return JG_OK;
}

/* The separator before the next element ('{' before the first). */
static void sep(struct pgarray *a)
{
	a->s[a->len++] = a->n++ ? ',' : '{';
}

int pgarray_add_text(struct pgarray *a, const char *v)
{
	size_t extra = 0;

	if (v == NULL) {
		if (reserve(a, 5) != JG_OK)
			return JG_ERR_NOMEM;
		sep(a);
		memcpy(a->s + a->len, "NULL", 4);
		a->len += 4;
		return JG_OK;
	}
	for (const char *p = v; *p; p++)
		extra += *p == '"' || *p == '\\';
	if (reserve(a, strlen(v) + extra + 3) != JG_OK)
		return JG_ERR_NOMEM;
	sep(a);
	a->s[a->len++] = '"';
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			a->s[a->len++] = '\\';
		a->s[a->len++] = *p;
	}
	a->s[a->len++] = '"';
	return JG_OK;
}

int pgarray_add_int(struct pgarray *a, int64_t v, bool zero_is_null)
{
	if (v == 0 && zero_is_null)
		return pgarray_add_text(a, NULL);
	if (reserve(a, 22) != JG_OK)
		return JG_ERR_NOMEM;
	sep(a);
	a->len += (size_t)snprintf(a->s + a->len, 22, "%lld", (long long)v);
	return JG_OK;
}

const char *pgarray_text(struct pgarray *a)
{
	if (reserve(a, 1) != JG_OK)
		return NULL;
	if (a->n == 0)
		a->s[a->len] = '{';
	/* the closing brace goes after the elements without being counted:
	 * a later add overwrites it */
	a->s[a->len + (a->n == 0)] = '}';
	a->s[a->len + (a->n == 0) + 1] = '\0';
	return a->s;
}

void pgarray_reset(struct pgarray *a)
{
	a->len = 0;
	a->n = 0;
}

void pgarray_free(struct pgarray *a)
{
	free(a->s);
	*a = (struct pgarray){0};
}
