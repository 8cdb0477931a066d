/* `jitgate store copy`: every request (with its id), the audit log (each
 * event verbatim, in seq order, verified on the way), the undelivered
 * outbox and the posted Slack messages from one store into an empty one,
 * in one transaction. */
#include "store/copy.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "audit/chain.h"

struct copy {
	struct store *dst;
	struct audit_verifier *v;
	struct store_copy_result *out;
};

static int copy_request(void *ctx, const struct request *r)
{
	struct copy *c = ctx;
	struct request dup;
	int rc = request_copy(&dup, r);

	if (rc == JG_OK)
		rc = store_tx_request_insert(c->dst, &dup);
	if (rc == JG_OK && dup.id != r->id)
		rc = JG_ERR_STORE;
	request_clear(&dup);
	if (rc == JG_OK)
		c->out->requests++;
	return rc;
}

static const char *str_field(const json_t *ev, const char *key)
{
	return json_string_value(json_object_get(ev, key));
}

static int copy_event(void *ctx, int64_t seq, const char *text)
{
	struct copy *c = ctx;
	json_t *ev;
	int rc;

	/* the source must verify: a copy never launders a broken chain */
	if (audit_verifier_feed_line(c->v, text, strlen(text)) != JG_OK)
		return JG_ERR_INVALID;
	ev = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (ev == NULL)
		return JG_ERR_INVALID;
	{
		struct audit_row row = {
			.seq = seq,
			.time = str_field(ev, "time"),
			.action = str_field(ev, "action"),
			.actor = str_field(ev, "actor"),
			.request_id = json_integer_value(json_object_get(ev, "request_id")),
			.subject = str_field(ev, "subject"),
			.resource = str_field(ev, "resource"),
			.role = str_field(ev, "role"),
			.event = text,
			.hash = str_field(ev, "hash"),
		};

		rc = store_tx_audit_append(c->dst, &row);
	}
	json_decref(ev);
	if (rc == JG_OK)
		c->out->events++;
	return rc;
}

/* A posted Slack message, so that later events still update it; a post
 * still on its way is not copied (its outbox row is, and claims anew). */
static int copy_slackmsg(void *ctx, int64_t request_id, const char *channel,
			 const char *channel_id, const char *ts)
{
	struct copy *c = ctx;
	int rc = store_tx_slackmsg_put(c->dst, request_id, channel, channel_id, ts);

	if (rc == JG_OK)
		c->out->slack_messages++;
	return rc;
}

static int copy_outbox(void *ctx, const struct outbox_row *row)
{
	struct copy *c = ctx;
	int rc = store_tx_outbox_add(c->dst, 0, row->target, row->payload);

	if (rc == JG_OK)
		c->out->outbox++;
	return rc;
}

/* The copy's own export must verify to the same head. */
static int feed(void *ctx, int64_t seq, const char *text)
{
	(void)seq;
	return audit_verifier_feed_line(ctx, text, strlen(text)) == JG_OK ? 0 : JG_ERR_INVALID;
}

static int verify_dst(struct store *dst, struct store_copy_result *out)
{
	struct audit_verifier *v = NULL;
	struct audit_verify_result res;
	struct audit_filter all = {0};
	int rc = audit_verifier_new(&v);

	if (rc == JG_OK && out->head_seq > 0)
		rc = audit_verifier_expect_head(v, out->head_seq, out->head);
	if (rc == JG_OK)
		rc = store_audit_scan(dst, &all, feed, v);
	if (v) {
		audit_verifier_result(v, &res);
		if (rc == JG_OK && (!res.ok || (int64_t)res.count != out->events))
			rc = JG_ERR_INVALID;
		if (rc != JG_OK)
			snprintf(out->reason, sizeof(out->reason),
				 "the copy does not verify: %s", res.reason);
	}
	audit_verifier_free(v);
	return rc;
}

int store_copy(struct store *src, struct store *dst, struct store_copy_result *out)
{
	struct copy c = {.dst = dst, .out = out};
	struct request_filter every = {.state = -1};
	struct audit_filter all = {0};
	struct audit_verify_result res;
	int64_t counts[REQ_STATE_COUNT], n = 0, seq;
	char hash[AUDIT_HASH_HEX_LEN + 1];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_count_by_state(dst, counts, REQ_STATE_COUNT);
	for (int i = 0; rc == JG_OK && i < REQ_STATE_COUNT; i++)
		n += counts[i];
	if (rc == JG_OK)
		rc = store_tx_audit_head(dst, &seq, hash);
	if (rc != JG_OK) {
		snprintf(out->reason, sizeof(out->reason), "cannot read the destination");
		return rc;
	}
	if (n != 0 || seq != 0) {
		snprintf(out->reason, sizeof(out->reason),
			 "the destination is not empty (%lld requests, %lld audit events)",
			 (long long)n, (long long)seq);
		return JG_ERR_CONFLICT;
	}
	rc = audit_verifier_new(&c.v);
	if (rc != JG_OK)
		return rc;
	rc = store_begin(dst);
	if (rc == JG_OK)
		rc = store_requests_scan(src, &every, copy_request, &c);
	if (rc == JG_OK)
		rc = store_audit_scan(src, &all, copy_event, &c);
	audit_verifier_result(c.v, &res);
	if (rc == JG_ERR_INVALID || (rc == JG_OK && !res.ok)) {
		snprintf(out->reason, sizeof(out->reason),
			 "the source's audit chain does not verify at seq %lld: %s",
			 (long long)res.bad_seq, res.reason);
		rc = JG_ERR_INVALID;
	}
	if (rc == JG_OK)
		rc = store_outbox_due(src, INT64_MAX, INT32_MAX, copy_outbox, &c);
	if (rc == JG_OK)
		rc = store_slackmsg_scan(src, copy_slackmsg, &c);
	if (rc == JG_OK)
		rc = store_commit(dst);
	if (rc != JG_OK) {
		store_rollback(dst);
		if (!out->reason[0])
			snprintf(out->reason, sizeof(out->reason), "copy failed: %s",
				 jg_strerror(rc));
		audit_verifier_free(c.v);
		return rc;
	}
	out->head_seq = res.head_seq;
	memcpy(out->head, res.head, sizeof(out->head));
	audit_verifier_free(c.v);
	return verify_dst(dst, out);
}
