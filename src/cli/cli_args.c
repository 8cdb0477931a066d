#include "cli/cli_args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actions.h"

/* Largest integer a JSON number (an IEEE double) holds exactly. */
#define CLI_ID_MAX 9007199254740991LL

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	JG_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int find_opt(const struct cli_opt *opts, size_t nopts, const char *name,
		    size_t namelen)
{
	for (size_t i = 0; i < nopts; i++) {
		if (strlen(opts[i].name) == namelen &&
		    memcmp(opts[i].name, name, namelen) == 0)
			return (int)i;
	}
	return -1;
}

int cli_args_parse(int argc, char **argv, const struct cli_opt *opts,
		   size_t nopts, int min_pos, int max_pos, struct cli_args *out,
		   char *err, size_t errlen)
{
	bool only_pos = false;

	memset(out, 0, sizeof(*out));
	if (nopts > CLI_MAX_OPTS || max_pos > CLI_MAX_POS)
		return JG_ERR_INTERNAL;
	out->opts = opts;
	out->nopts = nopts;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq, *val;
		size_t namelen;
		int idx;

		if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (out->npos >= max_pos) {
				set_err(err, errlen, "unexpected argument '%.64s'", arg);
				return JG_ERR_INVALID;
			}
			if (strlen(arg) > CLI_ARG_MAX) {
				set_err(err, errlen, "argument too long (max %d bytes)",
					CLI_ARG_MAX);
				return JG_ERR_INVALID;
			}
			out->pos[out->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(arg, "--json") == 0) {
			out->json = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			out->help = true;
			continue;
		}
		eq = strchr(arg, '=');
		namelen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		idx = find_opt(opts, nopts, arg, namelen);
		if (idx < 0) {
			set_err(err, errlen, "unknown option '%.*s'",
				(int)(namelen > 64 ? 64 : namelen), arg);
			return JG_ERR_INVALID;
		}
		if (out->value[idx] != NULL) {
			set_err(err, errlen, "option %s given twice", opts[idx].name);
			return JG_ERR_INVALID;
		}
		if (!opts[idx].has_value) {
			if (eq != NULL) {
				set_err(err, errlen, "option %s takes no value",
					opts[idx].name);
				return JG_ERR_INVALID;
			}
			out->value[idx] = "";
			continue;
		}
		if (eq != NULL) {
			val = eq + 1;
		} else {
			/* Like getopt, the next word is the value even when it
			 * starts with '-': "--reason -" is a valid reason. */
			if (i + 1 >= argc) {
				set_err(err, errlen, "option %s needs a value",
					opts[idx].name);
				return JG_ERR_INVALID;
			}
			val = argv[++i];
		}
		if (strlen(val) > CLI_ARG_MAX) {
			set_err(err, errlen, "value of %s too long (max %d bytes)",
				opts[idx].name, CLI_ARG_MAX);
			return JG_ERR_INVALID;
		}
		out->value[idx] = val;
	}
	if (out->help)
		return JG_OK;
	if (out->npos < min_pos) {
		set_err(err, errlen, "missing argument%s (%d needed, %d given)",
			min_pos - out->npos > 1 ? "s" : "", min_pos, out->npos);
		return JG_ERR_INVALID;
	}
	return JG_OK;
}

const char *cli_args_opt(const struct cli_args *a, const char *name)
{
	int idx = find_opt(a->opts, a->nopts, name, strlen(name));

	return idx < 0 ? NULL : a->value[idx];
}

static int parse_uint(const char *s, int64_t min, int64_t *out)
{
	int64_t v = 0;

	*out = 0;
	if (s == NULL || *s == '\0' || strlen(s) > 16)
		return JG_ERR_INVALID;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return JG_ERR_INVALID;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > CLI_ID_MAX)
		return JG_ERR_INVALID;
	*out = v;
	return JG_OK;
}

int cli_args_id(const char *s, int64_t *out)
{
	return parse_uint(s, 1, out);
}

int cli_args_uint(const char *s, int64_t *out)
{
	return parse_uint(s, 0, out);
}

/* json_object_set_new that reports failure instead of leaking silently. */
static int set_str(json_t *obj, const char *key, const char *val)
{
	json_t *s = json_string(val);

	if (s == NULL)
		return JG_ERR_INVALID; /* NULL only for invalid UTF-8 */
	return json_object_set_new(obj, key, s) == 0 ? JG_OK : JG_ERR_NOMEM;
}

static bool blank(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s != ' ' && *s != '\t')
			return false;
	}
	return true;
}

int cli_args_request_body(const struct cli_args *a, json_t **out, char *err,
			  size_t errlen)
{
	const char *dur = cli_args_opt(a, "--for");
	const char *reason = cli_args_opt(a, "--reason");
	const char *ticket = cli_args_opt(a, "--ticket");
	const char *ext = cli_args_opt(a, "--extends");
	json_t *body = NULL;
	int64_t ext_id = 0;
	int rc;

	*out = NULL;
	if (a->npos != 2 || a->pos[0][0] == '\0' || a->pos[1][0] == '\0') {
		set_err(err, errlen, "need RESOURCE and ROLE");
		return JG_ERR_INVALID;
	}
	if (dur == NULL) {
		set_err(err, errlen, "--for DURATION is required (e.g. --for 30m)");
		return JG_ERR_INVALID;
	}
	if (blank(dur)) {
		set_err(err, errlen, "--for needs a duration such as 30m or 1h30m");
		return JG_ERR_INVALID;
	}
	if (reason != NULL && blank(reason)) {
		set_err(err, errlen, "--reason must not be empty");
		return JG_ERR_INVALID;
	}
	if (ticket != NULL && blank(ticket)) {
		set_err(err, errlen, "--ticket must not be empty");
		return JG_ERR_INVALID;
	}
	if (ext != NULL && cli_args_id(ext, &ext_id) != JG_OK) {
		set_err(err, errlen, "--extends needs a request id (a positive integer)");
		return JG_ERR_INVALID;
	}
	body = json_object();
	if (body == NULL)
		return JG_ERR_NOMEM;
	/* The duration goes as written: the server owns its grammar and the
	 * policy maximum, and its error names the field. */
	if ((rc = set_str(body, "resource", a->pos[0])) != JG_OK ||
	    (rc = set_str(body, "role", a->pos[1])) != JG_OK ||
	    (rc = set_str(body, "duration", dur)) != JG_OK)
		goto out;
	if (reason != NULL && (rc = set_str(body, "reason", reason)) != JG_OK)
		goto out;
	if (ticket != NULL && (rc = set_str(body, "ticket", ticket)) != JG_OK)
		goto out;
	if (cli_args_opt(a, "--break-glass") != NULL &&
	    json_object_set_new(body, "break_glass", json_true()) != 0) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	if (ext != NULL &&
	    json_object_set_new(body, "extends", json_integer(ext_id)) != 0) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	*out = body;
	body = NULL;
	rc = JG_OK;
out:
	if (rc == JG_ERR_INVALID)
		set_err(err, errlen, "arguments must be valid UTF-8");
	json_decref(body);
	return rc;
}

int cli_args_text_body(const struct cli_args *a, const char *opt,
		       const char *field, json_t **out)
{
	const char *val = cli_args_opt(a, opt);
	json_t *body = json_object();
	int rc = JG_OK;

	*out = NULL;
	if (body == NULL)
		return JG_ERR_NOMEM;
	if (val != NULL && (rc = set_str(body, field, val)) != JG_OK) {
		json_decref(body);
		return rc;
	}
	*out = body;
	return JG_OK;
}

static int parse_limit(const struct cli_args *a, int64_t *out, char *err,
		       size_t errlen)
{
	const char *lim = cli_args_opt(a, "--limit");

	*out = 0;
	if (lim != NULL && cli_args_id(lim, out) != JG_OK) {
		set_err(err, errlen, "--limit needs a positive integer");
		return JG_ERR_INVALID;
	}
	return JG_OK;
}

static const char *const request_states[] = {
	"pending", "active", "denied", "canceled", "expired", "revoked",
	"timed_out",
};

int cli_args_list_filter(const struct cli_args *a, struct cli_list_filter *out,
			 char *err, size_t errlen)
{
	const char *state = cli_args_opt(a, "--state");
	int nstate = 0;
	bool known = false;

	memset(out, 0, sizeof(*out));
	if (cli_args_opt(a, "--pending") != NULL) {
		out->state = "pending";
		nstate++;
	}
	if (cli_args_opt(a, "--active") != NULL) {
		out->state = "active";
		nstate++;
	}
	if (state != NULL) {
		for (size_t i = 0; i < sizeof(request_states) / sizeof(*request_states); i++)
			known = known || strcmp(state, request_states[i]) == 0;
		if (!known) {
			set_err(err, errlen,
				"--state must be one of pending, active, denied, "
				"canceled, expired, revoked, timed_out");
			return JG_ERR_INVALID;
		}
		out->state = state;
		nstate++;
	}
	if (nstate > 1) {
		set_err(err, errlen, "--pending, --active and --state exclude each other");
		return JG_ERR_INVALID;
	}
	out->mine = cli_args_opt(a, "--mine") != NULL;
	out->approvable = cli_args_opt(a, "--approvable") != NULL;
	return parse_limit(a, &out->limit, err, errlen);
}

int cli_args_query_add(char *buf, size_t len, const char *key,
		       const char *value)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t start = strlen(buf), n = start;

	if (n + strlen(key) + 2 >= len)
		return JG_ERR_TOOBIG;
	buf[n++] = strchr(buf, '?') != NULL ? '&' : '?';
	memcpy(buf + n, key, strlen(key));
	n += strlen(key);
	buf[n++] = '=';
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
			     *p == '.' || *p == '~';

		if (n + (plain ? 1 : 3) >= len) {
			buf[start] = '\0'; /* leave buf as it was */
			return JG_ERR_TOOBIG;
		}
		if (plain) {
			buf[n++] = (char)*p;
		} else {
			buf[n++] = '%';
			buf[n++] = hexd[*p >> 4];
			buf[n++] = hexd[*p & 15];
		}
	}
	buf[n] = '\0';
	return JG_OK;
}

static int query_add_int(char *buf, size_t len, const char *key, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	return cli_args_query_add(buf, len, key, num);
}

static int set_base(char *buf, size_t len, const char *base)
{
	if (strlen(base) >= len)
		return JG_ERR_TOOBIG;
	strcpy(buf, base);
	return JG_OK;
}

int cli_args_list_path(const struct cli_list_filter *f, int64_t after,
		       int64_t page_limit, char *buf, size_t len)
{
	int rc;

	if ((rc = set_base(buf, len, "/v1/requests")) != JG_OK)
		return rc;
	if (f->state != NULL &&
	    (rc = cli_args_query_add(buf, len, "state", f->state)) != JG_OK)
		return rc;
	if (f->mine && (rc = cli_args_query_add(buf, len, "mine", "1")) != JG_OK)
		return rc;
	if (f->approvable &&
	    (rc = cli_args_query_add(buf, len, "approvable", "1")) != JG_OK)
		return rc;
	if (page_limit > 0 &&
	    (rc = query_add_int(buf, len, "limit", page_limit)) != JG_OK)
		return rc;
	if (after > 0 && (rc = query_add_int(buf, len, "after", after)) != JG_OK)
		return rc;
	return JG_OK;
}

int cli_args_audit_filter(const struct cli_args *a,
			  struct cli_audit_filter *out, char *err,
			  size_t errlen)
{
	const char *after = cli_args_opt(a, "--after");
	const char *names[] = {"--subject", "--resource", "--action"};
	const char *vals[3];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 3; i++) {
		vals[i] = cli_args_opt(a, names[i]);
		if (vals[i] != NULL && blank(vals[i])) {
			set_err(err, errlen, "%s must not be empty", names[i]);
			return JG_ERR_INVALID;
		}
	}
	out->subject = vals[0];
	out->resource = vals[1];
	out->action = vals[2];
	if (out->action != NULL) {
		enum audit_action act;

		/* a typo would match nothing and print nothing: refuse it */
		if (!action_parse(out->action, &act)) {
			char list[1024] = "";
			size_t used = 0;

			for (int i = 0; i < ACT_COUNT && used < sizeof(list); i++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 i ? ", " : "", action_name((enum audit_action)i));
			set_err(err, errlen, "--action: unknown action; one of: %s", list);
			return JG_ERR_INVALID;
		}
	}
	out->follow = cli_args_opt(a, "--follow") != NULL;
	if (after != NULL && cli_args_uint(after, &out->after) != JG_OK) {
		set_err(err, errlen, "--after needs a sequence number (0 or more)");
		return JG_ERR_INVALID;
	}
	if (parse_limit(a, &out->limit, err, errlen) != JG_OK)
		return JG_ERR_INVALID;
	if (out->follow && out->limit > 0) {
		set_err(err, errlen, "--follow and --limit exclude each other");
		return JG_ERR_INVALID;
	}
	return JG_OK;
}

int cli_args_audit_path(const struct cli_audit_filter *f, int64_t after,
			int64_t page_limit, char *buf, size_t len)
{
	int rc;

	/* after=0 is sent explicitly: the API names it as the cursor. */
	if ((rc = set_base(buf, len, "/v1/audit")) != JG_OK ||
	    (rc = query_add_int(buf, len, "after", after)) != JG_OK)
		return rc;
	if (page_limit > 0 &&
	    (rc = query_add_int(buf, len, "limit", page_limit)) != JG_OK)
		return rc;
	if (f->subject != NULL &&
	    (rc = cli_args_query_add(buf, len, "subject", f->subject)) != JG_OK)
		return rc;
	if (f->resource != NULL &&
	    (rc = cli_args_query_add(buf, len, "resource", f->resource)) != JG_OK)
		return rc;
	if (f->action != NULL &&
	    (rc = cli_args_query_add(buf, len, "action", f->action)) != JG_OK)
		return rc;
	return JG_OK;
}
