#include "server/slackblocks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"
#include "util/text.h"
#include "util/timeutil.h"

/* Slack's limits: a section's text 3000 characters, a field's 2000. */
#define LINE_MAX_B 2900
#define FIELD_MAX_B 1900

/* One character of src at *i as mrkdwn wants it, into rep (>= 8 bytes). */
static void esc_char(const char *src, size_t len, size_t *i, char rep[8])
{
	size_t start = *i;
	uint32_t cp;

	if (!text_utf8_next((const unsigned char *)src, len, i, &cp))
		snprintf(rep, 8, "?"); /* not UTF-8: never sent */
	else if (cp == '&')
		snprintf(rep, 8, "&amp;");
	else if (cp == '<')
		snprintf(rep, 8, "&lt;");
	else if (cp == '>')
		snprintf(rep, 8, "&gt;");
	else if ((cp < 0x20 && cp != '\n') || cp == 0x7f)
		snprintf(rep, 8, " ");
	else {
		memcpy(rep, src + start, *i - start);
		rep[*i - start] = '\0';
	}
}

/* The escaped length of src, or of its first bytes up to limit. */
static size_t esc_fill(const char *src, size_t len, char *out, size_t limit)
{
	size_t i = 0, n = 0;
	char rep[8];

	while (i < len) {
		size_t k;

		esc_char(src, len, &i, rep);
		k = strlen(rep);
		if (n + k > limit)
			break;
		if (out)
			memcpy(out + n, rep, k);
		n += k;
	}
	return n;
}

char *slackblocks_escape(const char *src, size_t max)
{
	static const char ell[] = "\xe2\x80\xa6"; /* U+2026 */
	size_t len = src ? strlen(src) : 0, n;
	char *out = malloc(max + 1);

	if (out == NULL)
		return NULL;
	if (esc_fill(src, len, NULL, (size_t)-1) <= max) {
		n = esc_fill(src, len, out, max);
	} else if (max >= sizeof(ell) - 1) {
		n = esc_fill(src, len, out, max - (sizeof(ell) - 1));
		memcpy(out + n, ell, sizeof(ell) - 1);
		n += sizeof(ell) - 1;
	} else {
		n = 0;
	}
	out[n] = '\0';
	return out;
}

/* A bounded mrkdwn line: a piece that would not fit whole is left out
 * (so the text stays valid UTF-8) and the line marked cut. */
struct line {
	char b[LINE_MAX_B + 1];
	size_t n;
	bool cut;
	size_t cap; /* 0: LINE_MAX_B */
};

static bool add(struct line *l, const char *s)
{
	size_t k = strlen(s);

	if (l->cut || l->n + k > (l->cap ? l->cap : LINE_MAX_B)) {
		l->cut = true;
		return false;
	}
	memcpy(l->b + l->n, s, k);
	l->n += k;
	l->b[l->n] = '\0';
	return true;
}

static bool addf(struct line *l, const char *fmt, ...) JG_PRINTF(2, 3);

static bool addf(struct line *l, const char *fmt, ...)
{
	char buf[LINE_MAX_B + 1];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(buf)) {
		l->cut = true;
		return false;
	}
	return add(l, buf);
}

/* User text, escaped and bounded. */
static bool add_user(struct line *l, const char *s, size_t max)
{
	char *e = slackblocks_escape(s ? s : "", max);
	bool ok = e != NULL && add(l, e);

	free(e);
	return ok;
}

/* A time Slack shows in the reader's zone, with RFC 3339 UTC as fallback. */
static void add_time(struct line *l, int64_t ms)
{
	char iso[TIME_RFC3339_LEN];

	time_format(ms, iso);
	addf(l, "<!date^%lld^{date_short_pretty} {time}|%s>", (long long)(ms / 1000), iso);
}

static void add_approvers(struct line *l, const struct request *r)
{
	for (size_t i = 0; i < r->napprovals; i++) {
		if (i > 0)
			add(l, ", ");
		if (!add_user(l, r->approvals[i].by, SLACKBLOCKS_FIELD_MAX))
			return;
	}
}

/* What happened to the request, one line: the headline of the message. */
static void state_line(struct line *l, const struct request *r)
{
	switch (r->state) {
	case REQ_PENDING:
		addf(l, ":hourglass_flowing_sand: *Waiting for approval* (%zu of %d)",
		     r->napprovals, r->approvals_required);
		break;
	case REQ_ACTIVE:
		if (r->break_glass) {
			add(l, ":rotating_light: *Break-glass: active*");
		} else if (r->napprovals > 0) {
			add(l, ":white_check_mark: *Approved* by ");
			add_approvers(l, r);
		} else {
			add(l, ":white_check_mark: *Active* (no approval needed)");
		}
		add(l, " \xe2\x80\x94 active until ");
		add_time(l, r->expires_at);
		break;
	case REQ_DENIED:
		add(l, ":no_entry: *Denied* by ");
		add_user(l, r->ended_by, SLACKBLOCKS_FIELD_MAX);
		break;
	case REQ_CANCELED:
		add(l, ":heavy_multiplication_x: *Cancelled* by ");
		add_user(l, r->ended_by, SLACKBLOCKS_FIELD_MAX);
		break;
	case REQ_EXPIRED:
		add(l, ":checkered_flag: *Expired* at ");
		add_time(l, r->ended_at ? r->ended_at : r->expires_at);
		break;
	case REQ_REVOKED:
		add(l, ":octagonal_sign: *Revoked* by ");
		add_user(l, r->ended_by, SLACKBLOCKS_FIELD_MAX);
		break;
	case REQ_TIMED_OUT:
		add(l, ":zzz: *Timed out*: nobody decided by ");
		add_time(l, r->ended_at ? r->ended_at : r->pending_until);
		break;
	default:
		add(l, "*Unknown state*");
		break;
	}
	if ((r->state == REQ_DENIED || r->state == REQ_REVOKED) && r->end_comment &&
	    *r->end_comment) {
		add(l, r->state == REQ_DENIED ? "\n*Comment:* " : "\n*Reason for revoking:* ");
		add_user(l, r->end_comment, SLACKBLOCKS_TEXT_MAX);
	}
	if (r->break_glass && r->review_required) {
		if (r->reviewed_by) {
			add(l, "\nReviewed by ");
			add_user(l, r->reviewed_by, SLACKBLOCKS_FIELD_MAX);
		} else {
			add(l, "\n_Awaiting review_");
		}
	}
}

static json_t *mrkdwn(const char *text)
{
	return json_pack("{s:s, s:s}", "type", "mrkdwn", "text", text);
}

static json_t *section(const char *text)
{
	return json_pack("{s:s, s:o}", "type", "section", "text", mrkdwn(text));
}

static void field(json_t *fields, const char *label, const char *value,
		  bool code, size_t max)
{
	struct line l = {.n = 0, .cap = FIELD_MAX_B};

	addf(&l, "*%s*\n%s", label, code ? "`" : "");
	add_user(&l, value, max);
	if (code)
		add(&l, "`");
	json_array_append_new(fields, mrkdwn(l.b));
}

static json_t *fields_block(const struct request *r)
{
	json_t *f = json_array(), *b;
	char dur[32];
	struct line l = {.n = 0, .cap = FIELD_MAX_B};

	if (f == NULL)
		return NULL;
	field(f, "Requester", r->requester, false, SLACKBLOCKS_FIELD_MAX);
	field(f, "Resource", r->resource, true, SLACKBLOCKS_FIELD_MAX);
	field(f, "Role", r->role, true, SLACKBLOCKS_FIELD_MAX);
	duration_format(r->duration_s, dur, sizeof(dur));
	field(f, "Duration", dur, false, SLACKBLOCKS_FIELD_MAX);
	if (r->ticket && *r->ticket)
		field(f, "Ticket", r->ticket, false, SLACKBLOCKS_FIELD_MAX);
	if (!r->break_glass) {
		addf(&l, "*Approvals*\n%zu of %d", r->napprovals, r->approvals_required);
		if (r->napprovals > 0) {
			add(&l, ": ");
			add_approvers(&l, r);
		}
		json_array_append_new(f, mrkdwn(l.b));
	}
	b = json_pack("{s:s, s:o}", "type", "section", "fields", f);
	return b;
}

static json_t *buttons(int64_t id)
{
	char v[24];

	snprintf(v, sizeof(v), "%lld", (long long)id);
	return json_pack(
		"{s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:{s:s, s:s}},"
		" {s:s, s:s, s:s, s:s, s:{s:s, s:s}}]}",
		"type", "actions", "block_id", "jitgate_decide", "elements",
		"type", "button", "action_id", "jitgate_approve", "value", v,
		"style", "primary", "text", "type", "plain_text", "text", "Approve",
		"type", "button", "action_id", "jitgate_deny", "value", v,
		"style", "danger", "text", "type", "plain_text", "text", "Deny");
}

/* Without the request (it could not be read): the event's own words. */
static json_t *from_event(const json_t *ev)
{
	struct line l = {.n = 0};
	const char *action = json_string_value(json_object_get(ev, "action"));

	add(&l, "jitgate: ");
	add_user(&l, action ? action : "event", SLACKBLOCKS_FIELD_MAX);
	add(&l, " by ");
	add_user(&l, json_string_value(json_object_get(ev, "actor")), SLACKBLOCKS_FIELD_MAX);
	addf(&l, " (request %lld)",
	     (long long)json_integer_value(json_object_get(ev, "request_id")));
	return json_pack("{s:s, s:[o]}", "text", l.b, "blocks", section(l.b));
}

json_t *slackblocks_message(const struct slackblocks_in *in)
{
	const struct request *r = in->req;
	struct line head = {.n = 0}, fb = {.n = 0}, st = {.n = 0};
	json_t *blocks, *msg;

	if (r == NULL)
		return from_event(in->event);
	if (r->break_glass)
		add(&head, ":rotating_light: *BREAK-GLASS* ");
	addf(&head, "*Request %lld*: ", (long long)r->id);
	add_user(&head, r->requester, SLACKBLOCKS_FIELD_MAX);
	add(&head, r->extends ? " asks to extend " : " asks for ");
	add(&head, "`");
	add_user(&head, r->role, SLACKBLOCKS_FIELD_MAX);
	add(&head, "` on `");
	add_user(&head, r->resource, SLACKBLOCKS_FIELD_MAX);
	add(&head, "`");
	state_line(&st, r);

	blocks = json_pack("[o, o]", section(head.b), fields_block(r));
	if (blocks != NULL && r->reason && *r->reason) {
		struct line why = {.n = 0};

		add(&why, "*Reason*\n");
		add_user(&why, r->reason, SLACKBLOCKS_TEXT_MAX);
		json_array_append_new(blocks, section(why.b));
	}
	if (blocks != NULL)
		json_array_append_new(blocks, section(st.b));
	/* buttons only while a decision is still possible */
	if (blocks != NULL && in->interactive && r->state == REQ_PENDING)
		json_array_append_new(blocks, buttons(r->id));
	if (blocks != NULL && in->public_url != NULL && *in->public_url) {
		struct line link = {.n = 0};

		add(&link, "<");
		add_user(&link, in->public_url, 512);
		addf(&link, "/ui/requests/%lld|Open request %lld in jitgate>",
		     (long long)r->id, (long long)r->id);
		json_array_append_new(blocks, json_pack("{s:s, s:[o]}", "type", "context",
							"elements", mrkdwn(link.b)));
	}

	/* the notification text (and what clients without blocks show) */
	addf(&fb, "%sjitgate request %lld: ", r->break_glass ? "BREAK-GLASS " : "",
	     (long long)r->id);
	add_user(&fb, r->requester, SLACKBLOCKS_FIELD_MAX);
	add(&fb, " \xe2\x80\x94 ");
	add_user(&fb, r->role, SLACKBLOCKS_FIELD_MAX);
	add(&fb, " on ");
	add_user(&fb, r->resource, SLACKBLOCKS_FIELD_MAX);
	addf(&fb, " \xe2\x80\x94 %s", req_state_name(r->state));
	msg = json_pack("{s:s, s:o*}", "text", fb.b, "blocks", blocks);
	return msg;
}
