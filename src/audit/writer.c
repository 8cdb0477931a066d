#include "audit/writer.h"

#include <stdlib.h>
#include <string.h>

#include "audit/canon.h"
#include "util/log.h"
#include "util/timeutil.h"

struct audit_writer {
	int64_t seq;
	char hash[AUDIT_HASH_HEX_LEN + 1];
};

int audit_writer_new(struct audit_writer **out)
{
	struct audit_writer *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (w == NULL)
		return JG_ERR_NOMEM;
	memcpy(w->hash, AUDIT_GENESIS_PREV, sizeof(w->hash));
	*out = w;
	return JG_OK;
}

void audit_writer_free(struct audit_writer *w)
{
	free(w);
}

int audit_writer_load(struct audit_writer *w, struct store *st)
{
	return store_tx_audit_head(st, &w->seq, w->hash);
}

int64_t audit_writer_seq(const struct audit_writer *w)
{
	return w->seq;
}

const char *audit_writer_hash(const struct audit_writer *w)
{
	return w->hash;
}

int audit_writer_append(struct audit_writer *w, struct store *st, json_t *ev,
			int64_t now_ms, struct audit_appended *out)
{
	char tbuf[TIME_RFC3339_LEN], hash[AUDIT_HASH_HEX_LEN + 1];
	const char *action = json_string_value(json_object_get(ev, "action"));
	char *text = NULL;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (action == NULL || !action_parse(action, &out->action)) {
		rc = JG_ERR_INVALID; /* a caller's bug, not a store failure */
		goto out;
	}
	time_format(now_ms, tbuf);
	json_object_set_new(ev, "seq", json_integer(w->seq + 1));
	json_object_set_new(ev, "time", json_string(tbuf));
	rc = audit_event_seal(ev, w->hash, hash);
	if (rc == JG_OK)
		rc = canon_json(ev, &text, &len);
	if (rc == JG_OK) {
		struct audit_row row = {
			.seq = w->seq + 1,
			.time = tbuf,
			.action = action,
			.actor = json_string_value(json_object_get(ev, "actor")),
			.request_id = json_integer_value(json_object_get(ev, "request_id")),
			.subject = json_string_value(json_object_get(ev, "subject")),
			.resource = json_string_value(json_object_get(ev, "resource")),
			.role = json_string_value(json_object_get(ev, "role")),
			.event = text,
			.hash = hash,
		};

		rc = store_tx_audit_append(st, &row);
	}
	if (rc == JG_OK) {
		w->seq++;
		memcpy(w->hash, hash, sizeof(hash));
		out->seq = w->seq;
		out->text = text;
		text = NULL;
	}
	else
		log_error(NULL, "audit append of %s failed: %s", action, jg_strerror(rc));
out:
	free(text);
	json_decref(ev);
	return rc;
}
