/* Versioned migrations of the PostgreSQL schema.  Plain SQL (BIGINT, TEXT,
 * BOOLEAN, ordinary indexes) so that it also runs on PostgreSQL-compatible
 * distributed engines; the only server-side code is the PL/pgSQL of the
 * audit triggers (the chain rule needs transition tables, PostgreSQL 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgconn.h"
#include "store/store_pg.h"
#include "util/log.h"

/* migrations[i] brings the schema from version i to i + 1. */
static const char *const migrations[] = {
	/* 1: the tables of the SQLite schema, the audit head and its rules */
	"CREATE TABLE requests ("
	" id BIGSERIAL PRIMARY KEY,"
	" state TEXT NOT NULL, requester TEXT NOT NULL, resource TEXT NOT NULL,"
	" role TEXT NOT NULL, duration_s BIGINT NOT NULL, reason TEXT,"
	" ticket TEXT, policy TEXT NOT NULL, approvals_required INTEGER NOT NULL,"
	" approvals TEXT NOT NULL DEFAULT '[]', created_at BIGINT NOT NULL,"
	" pending_until BIGINT, activated_at BIGINT, expires_at BIGINT,"
	" ended_at BIGINT, ended_by TEXT, break_glass BOOLEAN NOT NULL,"
	" review_required BOOLEAN NOT NULL, reviewed_by TEXT, extends BIGINT,"
	" end_comment TEXT);"
	"CREATE INDEX requests_state ON requests (state);"
	"CREATE INDEX requests_requester ON requests (requester, id);"
	"CREATE TABLE audit ("
	" seq BIGINT PRIMARY KEY CHECK (seq >= 1), time TEXT NOT NULL,"
	" action TEXT NOT NULL, actor TEXT NOT NULL, request_id BIGINT,"
	" subject TEXT, resource TEXT, role TEXT, event TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	"CREATE INDEX audit_subject ON audit (subject, seq);"
	"CREATE INDEX audit_resource ON audit (resource, seq);"
	"CREATE INDEX audit_action ON audit (action, seq);"
	/* the head of the chain: one row, locked by every appender */
	"CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1),"
	" seq BIGINT NOT NULL, hash TEXT NOT NULL);"
	"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0,"
	" '0000000000000000000000000000000000000000000000000000000000000000');"
	/* an append must follow the head: seq + 1 and prev = the head's hash */
	"CREATE FUNCTION jitgate_audit_follow() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash"
	"   WHERE id = 1 AND seq = NEW.seq - 1"
	"   AND hash = (NEW.event::json ->> 'prev');"
	"  IF NOT FOUND THEN"
	"   RAISE EXCEPTION 'audit event % does not follow the head of the chain', NEW.seq;"
	"  END IF;"
	"  RETURN NEW;"
	" END $$;"
	"CREATE TRIGGER audit_follow BEFORE INSERT ON audit"
	" FOR EACH ROW EXECUTE FUNCTION jitgate_audit_follow();"
	"CREATE FUNCTION jitgate_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;"
	"CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
	" FOR EACH ROW EXECUTE FUNCTION jitgate_audit_immutable();"
	"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
	" FOR EACH STATEMENT EXECUTE FUNCTION jitgate_audit_immutable();"
	"CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head"
	" FOR EACH STATEMENT EXECUTE FUNCTION jitgate_audit_immutable();"
	"CREATE TABLE outbox ("
	" id BIGSERIAL PRIMARY KEY, seq BIGINT NOT NULL,"
	" target TEXT NOT NULL, payload TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL DEFAULT 0,"
	" last_error TEXT, done BOOLEAN NOT NULL DEFAULT false);"
	"CREATE INDEX outbox_due ON outbox (done, next_at);"
	"CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	/* who fires deadlines and delivers the outbox (several nodes) */
	"CREATE TABLE lease (name TEXT PRIMARY KEY, node_id TEXT NOT NULL,"
	" heartbeat TIMESTAMPTZ NOT NULL);",
	/* 2: the notices sent (core/notices.h), each once */
	"ALTER TABLE requests ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0,"
	" ADD COLUMN escalated BOOLEAN NOT NULL DEFAULT false,"
	" ADD COLUMN expiry_warned BOOLEAN NOT NULL DEFAULT false;",
	/* 3: each request's Slack channel message, updated in place */
	"CREATE TABLE slack_messages ("
	" request_id BIGINT NOT NULL, channel TEXT NOT NULL,"
	" post_row BIGINT NOT NULL, channel_id TEXT, ts TEXT,"
	" PRIMARY KEY (request_id, channel));",
	/* 4: the chain rule checks a statement's rows at once, not each row:
	 * a writer sends a batch's events as one INSERT, and the head moves
	 * once per batch (per row, the trigger's PL/pgSQL call and the
	 * head's UPDATE, each one more version of the same row in the same
	 * transaction, were a third of the database's work per cycle).  The
	 * same rule as version 1's: the rows are contiguous, each one's prev
	 * is the hash of the one before, the first follows the head (seq
	 * and hash), and the head becomes the last. */
	"DROP TRIGGER IF EXISTS audit_follow ON audit;"
	"DROP FUNCTION IF EXISTS jitgate_audit_follow();"
	"CREATE OR REPLACE FUNCTION jitgate_audit_follow_rows() RETURNS trigger"
	" LANGUAGE plpgsql AS $$"
	" DECLARE lo BIGINT; hi BIGINT; n BIGINT; broken BIGINT;"
	"  first_prev TEXT; last_hash TEXT;"
	" BEGIN"
	"  SELECT min(seq), max(seq), count(*),"
	"   count(*) FILTER (WHERE before_seq IS NOT NULL AND (seq <> before_seq + 1"
	"    OR prev IS DISTINCT FROM before_hash)),"
	"   max(prev) FILTER (WHERE before_seq IS NULL),"
	"   max(hash) FILTER (WHERE after_seq IS NULL)"
	"  INTO lo, hi, n, broken, first_prev, last_hash"
	"  FROM (SELECT seq, hash, event::json ->> 'prev' AS prev,"
	"   lag(seq) OVER w AS before_seq, lag(hash) OVER w AS before_hash,"
	"   lead(seq) OVER w AS after_seq FROM appended WINDOW w AS (ORDER BY seq)) t;"
	"  IF n = 0 THEN RETURN NULL; END IF;"
	"  IF broken > 0 THEN"
	"   RAISE EXCEPTION 'audit events % to % are not one chain', lo, hi;"
	"  END IF;"
	"  UPDATE audit_head SET seq = hi, hash = last_hash"
	"   WHERE id = 1 AND seq = lo - 1 AND hash = first_prev;"
	"  IF NOT FOUND THEN"
	"   RAISE EXCEPTION 'audit event % does not follow the head of the chain', lo;"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE TRIGGER audit_follow AFTER INSERT ON audit"
	" REFERENCING NEW TABLE AS appended"
	" FOR EACH STATEMENT EXECUTE FUNCTION jitgate_audit_follow_rows();",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int current(PGconn *c, int timeout_ms, int *v)
{
	PGresult *r;
	int rc = pgconn_exec(c, "SELECT coalesce(max(version), 0) FROM schema_version",
			     0, NULL, timeout_ms, &r, NULL);

	*v = rc == JG_OK ? (int)pgconn_int(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

int store_pg_migrate(PGconn *c, int timeout_ms, char *err, size_t errlen)
{
	int have = 0, rc, tries = 0;

	/* creating it can race another node doing the same: try again */
	do
		rc = pgconn_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
				 " version INTEGER PRIMARY KEY,"
				 " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
				 0, NULL, timeout_ms, NULL, NULL);
	while (rc == JG_ERR_STORE && ++tries < 3);
	if (rc == JG_OK)
		rc = current(c, timeout_ms, &have);
	if (rc != JG_OK) {
		snprintf(err, errlen, "postgresql: cannot read the schema version");
		return JG_ERR_STORE;
	}
	if (have > NMIGRATIONS) {
		snprintf(err, errlen, "store schema version %d is newer than this jitgate (%d)",
			 have, NMIGRATIONS);
		return JG_ERR_STORE;
	}
	tries = 0;
	while (have < NMIGRATIONS) {
		char v[16], state[6];
		const char *vals[] = {v};

		snprintf(v, sizeof(v), "%d", have + 1);
		/* the version row first: a node migrating at the same time
		 * waits on it, then fails with a unique violation and re-reads */
		rc = pgconn_exec(c, "BEGIN", 0, NULL, timeout_ms, NULL, NULL);
		if (rc == JG_OK)
			rc = pgconn_exec(c, "INSERT INTO schema_version (version) VALUES ($1)",
					 1, vals, timeout_ms, NULL, state);
		if (rc == JG_OK)
			rc = pgconn_exec(c, migrations[have], 0, NULL, timeout_ms, NULL, state);
		if (rc == JG_OK)
			rc = pgconn_exec(c, "COMMIT", 0, NULL, timeout_ms, NULL, state);
		if (rc != JG_OK) {
			if (pgconn_exec(c, "ROLLBACK", 0, NULL, timeout_ms, NULL, NULL) != JG_OK)
				break;
			if (rc == JG_ERR_STORE && ++tries < 5 &&
			    current(c, timeout_ms, &have) == JG_OK)
				continue;
			break;
		}
		log_info(NULL, "store schema migrated to version %s", v);
		have++;
	}
	if (have < NMIGRATIONS) {
		snprintf(err, errlen, "store migration to version %d failed", have + 1);
		return JG_ERR_STORE;
	}
	return JG_OK;
}
