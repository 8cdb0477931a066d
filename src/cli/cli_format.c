#include "cli/cli_format.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"

/* Bytes for a cleaned cell: CLI_CELL_MAX characters of up to 4 bytes. */
#define CELL_BUF (CLI_CELL_MAX * 4 + 4)
/* Rows grow by doubling; this bounds one table (the caller pages). */
#define TABLE_MAX_ROWS (1 << 22)
/* Room for a server time string, shortened or not. */
#define TIME_BUF 64

struct cli_table {
	size_t ncols;
	size_t nrows, cap;
	char *headers[CLI_TABLE_MAX_COLS];
	char **cells; /* nrows * ncols, row-major, owned */
	size_t width[CLI_TABLE_MAX_COLS];
};

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Length in bytes of the UTF-8 sequence starting with byte c. */
static size_t seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1; /* stray byte: copied alone */
}

void cli_format_put(const char *s, FILE *f)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fputc('?', f);
		} else if (*p == 0xC2 && p[1] >= 0x80 && p[1] < 0xA0) {
			fputc('?', f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
}

void cli_format_clean(const char *s, size_t max_chars, char *out, size_t len)
{
	size_t total = utf8_chars(s), keep = total, chars = 0, n = 0;
	bool cut = false;

	if (len == 0)
		return;
	if (max_chars > 0 && total > max_chars) {
		keep = max_chars > 3 ? max_chars - 3 : max_chars;
		cut = true;
	}
	while (*s != '\0' && chars < keep) {
		unsigned char c = (unsigned char)*s;
		size_t sl = seq_len(c);

		for (size_t i = 1; i < sl; i++) {
			if (s[i] == '\0') { /* truncated sequence at the end */
				sl = i;
				break;
			}
		}
		if (n + sl + 1 > len)
			break;
		if (c < 0x20 || c == 0x7f ||
		    (c == 0xC2 && sl == 2 && (unsigned char)s[1] < 0xA0)) {
			out[n++] = '?'; /* C0, DEL or C1 control */
		} else {
			memcpy(out + n, s, sl);
			n += sl;
		}
		s += sl;
		chars++;
	}
	if (cut && n + 4 <= len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

void cli_format_time(const char *s, char *out, size_t len)
{
	const char *dot = strchr(s, '.');
	size_t n = strlen(s);

	if (len == 0)
		return;
	/* Only the exact "...:SS.fffZ" shape is shortened. */
	if (dot != NULL && n > 0 && s[n - 1] == 'Z' && dot - s == 19 &&
	    (size_t)(dot - s) + 2 <= len) {
		memcpy(out, s, (size_t)(dot - s));
		out[dot - s] = 'Z';
		out[dot - s + 1] = '\0';
		return;
	}
	snprintf(out, len, "%s", s);
}

struct cli_table *cli_table_new(size_t ncols, const char *const *headers)
{
	struct cli_table *t;

	if (ncols == 0 || ncols > CLI_TABLE_MAX_COLS)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	for (size_t i = 0; i < ncols; i++) {
		t->headers[i] = strdup(headers[i]);
		if (t->headers[i] == NULL) {
			cli_table_free(t);
			return NULL;
		}
		t->width[i] = utf8_chars(headers[i]);
	}
	return t;
}

void cli_table_free(struct cli_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	for (size_t i = 0; i < t->ncols; i++)
		free(t->headers[i]);
	free(t);
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	char buf[CELL_BUF];
	char **row;

	if (t->nrows == t->cap) {
		size_t ncap = t->cap == 0 ? 16 : t->cap * 2;
		char **nc;

		if (ncap > TABLE_MAX_ROWS)
			return JG_ERR_TOOBIG;
		nc = realloc(t->cells, ncap * t->ncols * sizeof(*nc));
		if (nc == NULL)
			return JG_ERR_NOMEM;
		t->cells = nc;
		t->cap = ncap;
	}
	row = t->cells + t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		size_t w;

		cli_format_clean(cells[i] != NULL ? cells[i] : "-", CLI_CELL_MAX,
				 buf, sizeof(buf));
		row[i] = strdup(buf);
		if (row[i] == NULL) {
			while (i-- > 0)
				free(row[i]);
			return JG_ERR_NOMEM;
		}
		w = utf8_chars(buf);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
	return JG_OK;
}

size_t cli_table_rows(const struct cli_table *t)
{
	return t->nrows;
}

static void print_row(const struct cli_table *t, char *const *row, FILE *f)
{
	for (size_t i = 0; i < t->ncols; i++) {
		fputs(row[i], f);
		if (i + 1 == t->ncols)
			break;
		for (size_t w = utf8_chars(row[i]); w < t->width[i] + 2; w++)
			fputc(' ', f);
	}
	fputc('\n', f);
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	print_row(t, t->headers, f);
	for (size_t r = 0; r < t->nrows; r++)
		print_row(t, t->cells + r * t->ncols, f);
}

/* String member or NULL (a missing, null or non-string member). */
static const char *str_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Integer member as text into buf, or NULL. */
static const char *int_of(const json_t *obj, const char *key, char *buf,
			  size_t len)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return NULL;
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

static const char *time_of(const json_t *obj, const char *key, char *buf,
			   size_t len)
{
	const char *s = str_of(obj, key);
	char raw[TIME_BUF];

	if (s == NULL)
		return NULL;
	cli_format_time(s, raw, sizeof(raw));
	cli_format_clean(raw, 0, buf, len);
	return buf;
}

static const char *duration_of(const json_t *obj, char *buf, size_t len)
{
	const json_t *v = json_object_get(obj, "duration_s");

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return NULL;
	duration_format(json_integer_value(v), buf, len);
	return buf;
}

int cli_format_requests(const json_t *requests, FILE *f)
{
	static const char *const headers[] = {
		"ID", "STATE", "REQUESTER", "RESOURCE", "ROLE", "DURATION",
		"EXPIRES/PENDING-UNTIL", "REASON",
	};
	struct cli_table *t = cli_table_new(8, headers);
	size_t i;
	const json_t *req;
	int rc = JG_OK;

	if (t == NULL)
		return JG_ERR_NOMEM;
	json_array_foreach(requests, i, req) {
		char id[24], state[48], dur[32], when[TIME_BUF];
		const char *st = str_of(req, "state");
		const char *until = NULL;
		const char *cells[8];

		if (st != NULL && strcmp(st, "pending") == 0)
			until = time_of(req, "pending_until", when, sizeof(when));
		else if (st != NULL && strcmp(st, "active") == 0)
			until = time_of(req, "expires_at", when, sizeof(when));
		/* Break-glass grants are flagged in the state column so they
		 * stand out in a long list; "!" while a review is owed. */
		snprintf(state, sizeof(state), "%s%s%s", st != NULL ? st : "-",
			 json_is_true(json_object_get(req, "break_glass")) ? "+bg" : "",
			 json_is_true(json_object_get(req, "review_required")) ? "!" : "");
		cells[0] = int_of(req, "id", id, sizeof(id));
		cells[1] = state;
		cells[2] = str_of(req, "requester");
		cells[3] = str_of(req, "resource");
		cells[4] = str_of(req, "role");
		cells[5] = duration_of(req, dur, sizeof(dur));
		cells[6] = until;
		cells[7] = str_of(req, "reason");
		if ((rc = cli_table_add(t, cells)) != JG_OK)
			goto out;
	}
	cli_table_print(t, f);
out:
	cli_table_free(t);
	return rc;
}

static void kv(FILE *f, const char *key, const char *val)
{
	fprintf(f, "%-17s ", key);
	cli_format_put(val != NULL ? val : "-", f);
	fputc('\n', f);
}

static void print_approvals(const json_t *req, FILE *f)
{
	const json_t *apps = json_object_get(req, "approvals");
	const json_t *need = json_object_get(req, "approvals_required");
	char line[64];
	size_t i;
	const json_t *a;

	snprintf(line, sizeof(line), "%zu of %" JSON_INTEGER_FORMAT,
		 json_is_array(apps) ? json_array_size(apps) : (size_t)0,
		 json_is_integer(need) ? json_integer_value(need) : (json_int_t)0);
	kv(f, "approvals:", line);
	json_array_foreach(apps, i, a) {
		char at[TIME_BUF];
		const char *c = str_of(a, "comment");

		if (time_of(a, "at", at, sizeof(at)) == NULL)
			snprintf(at, sizeof(at), "-");
		fputs("  - ", f);
		cli_format_put(str_of(a, "by") != NULL ? str_of(a, "by") : "-", f);
		fprintf(f, " at %s", at);
		if (c != NULL && *c != '\0') {
			fputs(": ", f);
			cli_format_put(c, f);
		}
		fputc('\n', f);
	}
}

void cli_format_request(const json_t *req, FILE *f)
{
	static const char *const times[] = {
		"created_at", "pending_until", "activated_at", "expires_at",
		"ended_at",
	};
	char buf[64], key[32];

	kv(f, "id:", int_of(req, "id", buf, sizeof(buf)));
	kv(f, "state:", str_of(req, "state"));
	kv(f, "requester:", str_of(req, "requester"));
	kv(f, "resource:", str_of(req, "resource"));
	kv(f, "role:", str_of(req, "role"));
	kv(f, "duration:", duration_of(req, buf, sizeof(buf)));
	kv(f, "reason:", str_of(req, "reason"));
	kv(f, "ticket:", str_of(req, "ticket"));
	kv(f, "policy:", str_of(req, "policy"));
	print_approvals(req, f);
	for (size_t i = 0; i < sizeof(times) / sizeof(*times); i++) {
		snprintf(key, sizeof(key), "%s:", times[i]);
		kv(f, key, time_of(req, times[i], buf, sizeof(buf)));
	}
	kv(f, "ended_by:", str_of(req, "ended_by"));
	kv(f, "end_comment:", str_of(req, "end_comment"));
	kv(f, "break_glass:",
	   json_is_true(json_object_get(req, "break_glass")) ? "yes" : "no");
	kv(f, "review_required:",
	   json_is_true(json_object_get(req, "review_required")) ? "yes" : "no");
	kv(f, "reviewed_by:", str_of(req, "reviewed_by"));
	kv(f, "extends:", int_of(req, "extends", buf, sizeof(buf)));
}

static void audit_field(FILE *f, const char *key, const json_t *v)
{
	char raw[64];
	char *dumped = NULL;
	const char *text;

	if (v == NULL || json_is_null(v))
		return;
	if (json_is_string(v)) {
		text = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(raw, sizeof(raw), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		text = raw;
	} else {
		dumped = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		text = dumped != NULL ? dumped : "?";
	}
	fprintf(f, " %s=", key);
	cli_format_put(text, f);
	free(dumped);
}

void cli_format_audit_event(const json_t *ev, FILE *f)
{
	static const char *const keys[] = {
		"actor", "request_id", "subject", "resource", "role", "detail",
	};
	char seq[24], when[TIME_BUF];

	if (int_of(ev, "seq", seq, sizeof(seq)) == NULL)
		snprintf(seq, sizeof(seq), "-");
	if (time_of(ev, "time", when, sizeof(when)) == NULL)
		snprintf(when, sizeof(when), "-");
	fprintf(f, "%s  %s  ", seq, when);
	cli_format_put(str_of(ev, "action") != NULL ? str_of(ev, "action") : "-", f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		audit_field(f, keys[i], json_object_get(ev, keys[i]));
	fputc('\n', f);
}

void cli_format_check(const json_t *res, FILE *f)
{
	char id[24], when[TIME_BUF], rem[32], parts[256] = "";
	const json_t *r = json_object_get(res, "remaining_s");
	size_t n = 0;

	if (!json_is_true(json_object_get(res, "allowed"))) {
		fputs("denied\n", f);
		return;
	}
	if (int_of(res, "request_id", id, sizeof(id)) != NULL)
		n += (size_t)snprintf(parts + n, sizeof(parts) - n, "request %s", id);
	if (n < sizeof(parts) && time_of(res, "expires_at", when, sizeof(when)) != NULL)
		n += (size_t)snprintf(parts + n, sizeof(parts) - n, "%sexpires %s",
				      n > 0 ? ", " : "", when);
	if (n < sizeof(parts) && json_is_integer(r) && json_integer_value(r) >= 0) {
		if (json_integer_value(r) > 0)
			duration_format(json_integer_value(r), rem, sizeof(rem));
		else
			snprintf(rem, sizeof(rem), "0s");
		snprintf(parts + n, sizeof(parts) - n, "%s%s left", n > 0 ? ", " : "", rem);
	}
	if (parts[0] != '\0')
		fprintf(f, "allowed (%s)\n", parts);
	else
		fputs("allowed\n", f);
}

void cli_format_whoami(const json_t *res, FILE *f)
{
	const json_t *groups = json_object_get(res, "groups");
	size_t i;
	const json_t *g;
	bool first = true;

	kv(f, "subject:", str_of(res, "subject"));
	fprintf(f, "%-17s ", "groups:");
	json_array_foreach(groups, i, g) {
		if (!json_is_string(g))
			continue;
		fputs(first ? "" : ", ", f);
		cli_format_put(json_string_value(g), f);
		first = false;
	}
	fputs(first ? "-\n" : "\n", f);
}
