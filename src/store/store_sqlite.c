/* SQLite backend of the store: WAL mode, synchronous=FULL (a commit is on
 * disk when it returns), one writer connection for the engine and a small
 * pool of reader connections for the API threads. */
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_int.h"
#include "util/log.h"
#include "util/timeutil.h"


/* The engine's statements, prepared once: compiling SQL was most of the
 * engine's work per transition. */
enum wq { WQ_INSERT_REQ, WQ_UPDATE_REQ, WQ_GET_REQ, WQ_AUDIT, WQ_OUTBOX, WQ_KV, WQ_COUNT };

/* How often a store opened read-only tries to become writable again. */
#define REOPEN_EVERY_MS 1000

struct sq {
	struct store base; /* first: the ops table */
	char *path;
	sqlite3 *w; /* writer */
	sqlite3_stmt *wq[WQ_COUNT];
	sqlite3 *readers[STORE_READERS];
	struct store_pool pool;
	/* Opened read-only because the file could not be opened for writing
	 * (a full disk will not take the WAL index): every connection reads
	 * the main file as it is; writes fail until sq_begin manages to open
	 * it for writing (engine thread only). */
	bool degraded;
	int64_t reopen_at_ms;
	atomic_int gen;                 /* bumped when readers must reopen */
	int reader_gen[STORE_READERS];  /* per slot, under the pool */
};

/* Versioned migrations: migrations[i] brings the schema from version i to
 * i+1, applied in one transaction each. */
static const char *const migrations[] = {
	"CREATE TABLE requests ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" state TEXT NOT NULL, requester TEXT NOT NULL, resource TEXT NOT NULL,"
	" role TEXT NOT NULL, duration_s INTEGER NOT NULL, reason TEXT,"
	" ticket TEXT, policy TEXT NOT NULL, approvals_required INTEGER NOT NULL,"
	" approvals TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL,"
	" pending_until INTEGER, activated_at INTEGER, expires_at INTEGER,"
	" ended_at INTEGER, ended_by TEXT, break_glass INTEGER NOT NULL,"
	" review_required INTEGER NOT NULL, reviewed_by TEXT, extends INTEGER);"
	"CREATE INDEX requests_state ON requests(state);"
	"CREATE INDEX requests_requester ON requests(requester, id);"
	"CREATE TABLE audit ("
	" seq INTEGER PRIMARY KEY, time TEXT NOT NULL, action TEXT NOT NULL,"
	" actor TEXT NOT NULL, request_id INTEGER, subject TEXT, resource TEXT,"
	" role TEXT, event TEXT NOT NULL, hash TEXT NOT NULL);"
	"CREATE INDEX audit_subject ON audit(subject, seq);"
	"CREATE INDEX audit_resource ON audit(resource, seq);"
	"CREATE INDEX audit_action ON audit(action, seq);"
	/* the audit table is append-only, also against a stray UPDATE */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TABLE outbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL,"
	" target TEXT NOT NULL, payload TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT, done INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX outbox_due ON outbox(done, next_at);"
	"CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
	/* 2: why a request ended (deny comment, revoke reason) */
	"ALTER TABLE requests ADD COLUMN end_comment TEXT;",
	/* an append must follow the last event (as on PostgreSQL) */
	"CREATE TRIGGER audit_follow BEFORE INSERT ON audit"
	" WHEN NEW.seq <> coalesce((SELECT max(seq) FROM audit), 0) + 1"
	"  OR json_extract(NEW.event, '$.prev') IS NOT coalesce("
	"   (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1),"
	"   '0000000000000000000000000000000000000000000000000000000000000000')"
	" BEGIN SELECT RAISE(ABORT, 'audit event does not follow the head of the chain'); END;",
	/* 4: the notices sent (core/notices.h), each once */
	"ALTER TABLE requests ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE requests ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE requests ADD COLUMN expiry_warned INTEGER NOT NULL DEFAULT 0;",
	/* 5: each request's Slack channel message, updated in place */
	"CREATE TABLE slack_messages ("
	" request_id INTEGER NOT NULL, channel TEXT NOT NULL,"
	" post_row INTEGER NOT NULL, channel_id TEXT, ts TEXT,"
	" PRIMARY KEY (request_id, channel));",
};

#define REQ_COLS STORE_REQ_COLS

static const char *const wq_sql[WQ_COUNT] = {
	/* ?22 is the id: NULL lets SQLite assign it */
	[WQ_INSERT_REQ] = ("INSERT INTO requests (" REQ_COLS ") VALUES (?22,"
			   "?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,"
			   "?19,?20,?21,?23,?24,?25)"),
	[WQ_UPDATE_REQ] = ("UPDATE requests SET state=?1, requester=?2, resource=?3,"
			   " role=?4, duration_s=?5, reason=?6, ticket=?7, policy=?8,"
			   " approvals_required=?9, approvals=?10, created_at=?11,"
			   " pending_until=?12, activated_at=?13, expires_at=?14,"
			   " ended_at=?15, ended_by=?16, break_glass=?17,"
			   " review_required=?18, reviewed_by=?19, extends=?20,"
			   " end_comment=?21, reminders=?23, escalated=?24,"
			   " expiry_warned=?25 WHERE id=?22"),
	[WQ_GET_REQ] = ("SELECT " REQ_COLS " FROM requests WHERE id=?"),
	[WQ_AUDIT] = ("INSERT INTO audit (seq, time, action, actor, request_id,"
		      " subject, resource, role, event, hash)"
		      " VALUES (?,?,?,?,?,?,?,?,?,?)"),
	[WQ_OUTBOX] = "INSERT INTO outbox (seq, target, payload) VALUES (?,?,?)",
	[WQ_KV] = ("INSERT INTO kv (key, value) VALUES (?1, ?2)"
		   " ON CONFLICT(key) DO UPDATE SET value = ?2"),
};

static int db_err(sqlite3 *db, const char *what)
{
	log_error(NULL, "sqlite %s: %s", what, sqlite3_errmsg(db));
	return JG_ERR_STORE;
}

/* A writer statement ready for binding (NULL on failure).  Callers reset
 * it when done (wq_done) so it holds no lock between transactions. */
static sqlite3_stmt *wq_get(struct sq *s, enum wq q)
{
	if (s->wq[q] == NULL &&
	    sqlite3_prepare_v3(s->w, wq_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
			       &s->wq[q], NULL) != SQLITE_OK) {
		db_err(s->w, "prepare");
		s->wq[q] = NULL;
		return NULL;
	}
	return s->wq[q];
}

static void wq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error(NULL, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return JG_ERR_STORE;
	}
	return JG_OK;
}

static int open_conn(const char *path, bool writer, sqlite3 **out)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		    (writer ? SQLITE_OPEN_CREATE : 0);
	sqlite3 *db = NULL;

	*out = NULL;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		if (db)
			db_err(db, "open");
		sqlite3_close(db);
		return JG_ERR_STORE;
	}
	sqlite3_busy_timeout(db, 5000);
	if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "PRAGMA foreign_keys=ON;") != JG_OK) {
		sqlite3_close(db);
		return JG_ERR_STORE;
	}
	*out = db;
	return JG_OK;
}

/* The same as open_conn, without a log line per failure: used while the
 * store waits for space, once a second. */
static int open_conn_quiet(const char *path, sqlite3 **out)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	sqlite3 *db = NULL;

	*out = NULL;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return JG_ERR_STORE;
	}
	sqlite3_busy_timeout(db, 5000);
	*out = db;
	return JG_OK;
}

/* A read-only connection to the main file alone (immutable=1: no WAL
 * index, so it needs no disk space).  Used only when no WAL holds
 * committed data the main file lacks. */
static int open_conn_ro(const char *path, sqlite3 **out)
{
	static const char hex[] = "0123456789ABCDEF";
	char uri[4200];
	size_t n = 0;

	*out = NULL;
	n = (size_t)snprintf(uri, sizeof(uri), "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < sizeof(uri); p++) {
		if (*p == '?' || *p == '#' || *p == '%' || *p < 0x21 || *p >= 0x7f) {
			uri[n++] = '%';
			uri[n++] = hex[*p >> 4];
			uri[n++] = hex[*p & 15];
		} else {
			uri[n++] = (char)*p;
		}
	}
	if (n + 16 >= sizeof(uri))
		return JG_ERR_STORE;
	snprintf(uri + n, sizeof(uri) - n, "?immutable=1");
	if (sqlite3_open_v2(uri, out, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sqlite3_close(*out);
		*out = NULL;
		return JG_ERR_STORE;
	}
	return JG_OK;
}

/* True when PATH-wal is absent or empty: the main file holds every
 * committed transaction (a clean shutdown checkpoints and removes it). */
static bool wal_empty(const char *path)
{
	char wal[4200];
	struct stat st;

	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal))
		return false;
	if (stat(wal, &st) != 0)
		return errno == ENOENT;
	return st.st_size == 0;
}

static int schema_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc;

	*v = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_err(db, "user_version");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? JG_OK : db_err(db, "user_version");
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	int have, want = (int)(sizeof(migrations) / sizeof(migrations[0]));
	char sql[64];

	if (schema_version(db, &have) != JG_OK)
		return JG_ERR_STORE;
	if (have > want) {
		snprintf(err, errlen, "store schema version %d is newer than this jitgate (%d)",
			 have, want);
		return JG_ERR_STORE;
	}
	for (int v = have; v < want; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", v + 1);
		if (exec(db, "BEGIN IMMEDIATE") != JG_OK)
			return JG_ERR_STORE;
		if (exec(db, migrations[v]) != JG_OK || exec(db, sql) != JG_OK) {
			exec(db, "ROLLBACK");
			snprintf(err, errlen, "store migration to version %d failed", v + 1);
			return JG_ERR_STORE;
		}
		if (exec(db, "COMMIT") != JG_OK)
			return JG_ERR_STORE;
		log_info(NULL, "store schema migrated to version %d", v + 1);
	}
	return JG_OK;
}

static void sq_close(struct store *base);

/* The file exists and is readable but cannot be opened for writing (disk
 * full, read-only file system): open every connection read-only, so the
 * daemon can recover its grants, answer checks and cut sessions while
 * every write fails (503).  Refused when a WAL may hold commits the main
 * file lacks, or when the schema is not this build's. */
static int open_degraded(struct sq *s)
{
	int want = (int)(sizeof(migrations) / sizeof(migrations[0])), have = -1;

	sqlite3_close(s->w);
	s->w = NULL;
	if (!wal_empty(s->path) || open_conn_ro(s->path, &s->w) != JG_OK)
		return JG_ERR_STORE;
	if (schema_version(s->w, &have) != JG_OK || have != want)
		goto fail;
	for (int i = 0; i < STORE_READERS; i++)
		if (open_conn_ro(s->path, &s->readers[i]) != JG_OK)
			goto fail;
	s->degraded = true;
	log_warn(NULL, "sqlite %s cannot be opened for writing (disk full or read-only?): "
		       "serving it read-only; changes fail until it can be written",
		 s->path);
	return JG_OK;
fail:
	for (int i = 0; i < STORE_READERS; i++) {
		sqlite3_close(s->readers[i]);
		s->readers[i] = NULL;
	}
	sqlite3_close(s->w);
	s->w = NULL;
	return JG_ERR_STORE;
}

/* Engine thread: a degraded store tries, once a second, to open the file
 * for writing; when it can, the writer switches over and the readers
 * follow at their next use (gen). */
static int reopen_writer(struct sq *s)
{
	int64_t now = time_now_ms();
	sqlite3 *w;

	if (now < s->reopen_at_ms)
		return JG_ERR_STORE;
	s->reopen_at_ms = now + REOPEN_EVERY_MS;
	if (open_conn_quiet(s->path, &w) != JG_OK)
		return JG_ERR_STORE;
	for (int i = 0; i < WQ_COUNT; i++) {
		sqlite3_finalize(s->wq[i]);
		s->wq[i] = NULL;
	}
	sqlite3_close(s->w);
	s->w = w;
	s->degraded = false;
	atomic_fetch_add(&s->gen, 1);
	log_info(NULL, "sqlite %s can be written again", s->path);
	return JG_OK;
}

static int sq_open(const char *url, const struct store_options *opts,
		   struct store **out, char *err, size_t errlen)
{
	struct sq *s;
	int rc;

	(void)opts;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(url + 7)) == NULL) {
		free(s);
		return JG_ERR_NOMEM;
	}
	store_pool_init(&s->pool);
	rc = open_conn(s->path, true, &s->w);
	if (rc != JG_OK) {
		snprintf(err, errlen, "cannot open sqlite database %s", s->path);
		if (open_degraded(s) == JG_OK) {
			*out = &s->base;
			return JG_OK;
		}
		goto fail;
	}
	rc = migrate(s->w, err, errlen);
	if (rc != JG_OK)
		goto fail;
	for (int i = 0; i < STORE_READERS; i++) {
		rc = open_conn(s->path, false, &s->readers[i]);
		if (rc != JG_OK) {
			snprintf(err, errlen, "cannot open sqlite reader on %s", s->path);
			goto fail;
		}
	}
	*out = &s->base;
	return JG_OK;
fail:
	sq_close(&s->base);
	return rc;
}

static void sq_close(struct store *base)
{
	struct sq *s = (struct sq *)base;

	if (s == NULL)
		return;
	for (int i = 0; i < STORE_READERS; i++)
		sqlite3_close(s->readers[i]);
	for (int i = 0; i < WQ_COUNT; i++)
		sqlite3_finalize(s->wq[i]);
	sqlite3_close(s->w);
	store_pool_destroy(&s->pool);
	free(s->path);
	free(s);
}

static sqlite3 *reader_acquire(struct sq *s)
{
	int i = store_pool_acquire(&s->pool, 0), g = atomic_load(&s->gen);
	sqlite3 *db;

	/* the slot is ours until released: safe to swap its connection */
	if (s->reader_gen[i] != g && open_conn_quiet(s->path, &db) == JG_OK) {
		sqlite3_close(s->readers[i]);
		s->readers[i] = db;
		s->reader_gen[i] = g;
	}
	return s->readers[i];
}

static void reader_release(struct sq *s, sqlite3 *db)
{
	for (int i = 0; i < STORE_READERS; i++)
		if (s->readers[i] == db)
			store_pool_release(&s->pool, i);
}

static int sq_begin(struct store *base)
{
	struct sq *s = (struct sq *)base;

	if (s->degraded && reopen_writer(s) != JG_OK)
		return JG_ERR_STORE;
	return exec(s->w, "BEGIN IMMEDIATE");
}

static int sq_commit(struct store *base)
{
	struct sq *s = (struct sq *)base;

	return exec(s->w, "COMMIT");
}

static void sq_rollback(struct store *base)
{
	struct sq *s = (struct sq *)base;

	if (!sqlite3_get_autocommit(s->w))
		(void)exec(s->w, "ROLLBACK");
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* Binds every column but id starting at index 1, in REQ_COLS order. */
static int bind_request(sqlite3_stmt *st, const struct request *r)
{
	char *appr = store_approvals_json(r);

	if (appr == NULL)
		return JG_ERR_NOMEM;
	bind_text(st, 1, req_state_name(r->state));
	bind_text(st, 2, r->requester);
	bind_text(st, 3, r->resource);
	bind_text(st, 4, r->role);
	sqlite3_bind_int64(st, 5, r->duration_s);
	bind_text(st, 6, r->reason);
	bind_text(st, 7, r->ticket);
	bind_text(st, 8, r->policy);
	sqlite3_bind_int(st, 9, r->approvals_required);
	bind_text(st, 10, appr);
	sqlite3_bind_int64(st, 11, r->created_at);
	bind_time(st, 12, r->pending_until);
	bind_time(st, 13, r->activated_at);
	bind_time(st, 14, r->expires_at);
	bind_time(st, 15, r->ended_at);
	bind_text(st, 16, r->ended_by);
	sqlite3_bind_int(st, 17, r->break_glass);
	sqlite3_bind_int(st, 18, r->review_required);
	bind_text(st, 19, r->reviewed_by);
	bind_time(st, 20, r->extends);
	bind_text(st, 21, r->end_comment);
	sqlite3_bind_int(st, 23, r->reminders);
	sqlite3_bind_int(st, 24, r->escalated);
	sqlite3_bind_int(st, 25, r->expiry_warned);
	free(appr);
	return JG_OK;
}

static int row_to_request(sqlite3_stmt *st, struct request *r)
{
	const char *c[STORE_REQ_NCOLS];

	for (int k = 0; k < STORE_REQ_NCOLS; k++)
		c[k] = (const char *)sqlite3_column_text(st, k);
	return store_request_from_cells(c, r);
}

static int sq_tx_request_insert(struct store *base, struct request *r)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = wq_get(s, WQ_INSERT_REQ);
	int rc;

	if (st == NULL)
		return JG_ERR_STORE;
	rc = bind_request(st, r);
	bind_time(st, 22, r->id);
	if (rc == JG_OK) {
		if (sqlite3_step(st) == SQLITE_DONE)
			r->id = sqlite3_last_insert_rowid(s->w);
		else
			rc = db_err(s->w, "insert request");
	}
	wq_done(st);
	return rc;
}

static int sq_tx_request_update(struct store *base, const struct request *r)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = wq_get(s, WQ_UPDATE_REQ);
	int rc;

	if (st == NULL)
		return JG_ERR_STORE;
	rc = bind_request(st, r);
	sqlite3_bind_int64(st, 22, r->id);
	if (rc == JG_OK && (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(s->w) != 1))
		rc = db_err(s->w, "update request");
	wq_done(st);
	return rc;
}

/* Runs a prepared "SELECT ... WHERE id=?" statement; leaves it reset. */
static int get_request_with(sqlite3 *db, sqlite3_stmt *st, int64_t id,
			    struct request *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = row_to_request(st, out);
	else if (rc == SQLITE_DONE)
		rc = JG_ERR_NOTFOUND;
	else
		rc = db_err(db, "get request");
	sqlite3_reset(st);
	return rc;
}

static int sq_tx_request_get(struct store *base, int64_t id, struct request *out)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = wq_get(s, WQ_GET_REQ);
	int rc;

	if (st == NULL)
		return JG_ERR_STORE;
	rc = get_request_with(s->w, st, id, out);
	wq_done(st);
	return rc;
}

static int sq_request_get(struct store *base, int64_t id, struct request *out)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(db, wq_sql[WQ_GET_REQ], -1, &st, NULL) != SQLITE_OK)
		rc = db_err(db, "get request");
	else
		rc = get_request_with(db, st, id, out);
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

static int scan_requests(sqlite3 *db, sqlite3_stmt *st, store_request_cb cb,
			 void *ctx)
{
	int rc, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct request r;

		rc = row_to_request(st, &r);
		if (rc != JG_OK)
			return rc;
		rc = cb(ctx, &r);
		request_clear(&r);
		if (rc != 0)
			return rc;
	}
	return step == SQLITE_DONE ? JG_OK : db_err(db, "scan requests");
}

static int sq_tx_requests_live(struct store *base, store_request_cb cb, void *ctx)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->w, "SELECT " REQ_COLS " FROM requests WHERE"
			       " state IN ('pending','active') ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s->w, "live requests");
	rc = scan_requests(s->w, st, cb, ctx);
	sqlite3_finalize(st);
	return rc;
}

static int sq_tx_audit_head(struct store *base, int64_t *seq, char hash[65]);

static int sq_tx_changed_requests(struct store *base, int64_t after_seq,
				  int64_t *upto_seq, store_request_cb cb, void *ctx)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	char hash[65];
	int rc;

	if (*upto_seq == 0 && (rc = sq_tx_audit_head(base, upto_seq, hash)) != JG_OK)
		return rc;
	if (sqlite3_prepare_v2(s->w, "SELECT " REQ_COLS " FROM requests WHERE id IN"
			       " (SELECT request_id FROM audit WHERE seq > ?1 AND seq <= ?2"
			       " AND request_id IS NOT NULL) ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s->w, "changed requests");
	sqlite3_bind_int64(st, 1, after_seq);
	sqlite3_bind_int64(st, 2, *upto_seq);
	rc = scan_requests(s->w, st, cb, ctx);
	sqlite3_finalize(st);
	return rc;
}

static int sq_requests_scan(struct store *base, const struct request_filter *f,
			store_request_cb cb, void *ctx)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT " REQ_COLS " FROM requests WHERE"
			       " (?1 = 0 OR id < ?1) AND (?2 IS NULL OR state = ?2)"
			       " AND (?3 IS NULL OR requester = ?3) ORDER BY id DESC",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, "scan requests");
		goto out;
	}
	sqlite3_bind_int64(st, 1, f->before_id);
	bind_text(st, 2, f->state >= 0 ? req_state_name((enum req_state)f->state) : NULL);
	bind_text(st, 3, f->requester);
	rc = scan_requests(db, st, cb, ctx);
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

static int sq_tx_audit_append(struct store *base, const struct audit_row *row)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = wq_get(s, WQ_AUDIT);
	int rc = JG_OK;

	if (st == NULL)
		return JG_ERR_STORE;
	sqlite3_bind_int64(st, 1, row->seq);
	bind_text(st, 2, row->time);
	bind_text(st, 3, row->action);
	bind_text(st, 4, row->actor);
	bind_time(st, 5, row->request_id);
	bind_text(st, 6, row->subject);
	bind_text(st, 7, row->resource);
	bind_text(st, 8, row->role);
	bind_text(st, 9, row->event);
	bind_text(st, 10, row->hash);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s->w, "audit append");
	wq_done(st);
	return rc;
}

static int sq_tx_audit_head(struct store *base, int64_t *seq, char hash[65])
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	int rc;

	*seq = 0;
	memset(hash, '0', 64);
	hash[64] = '\0';
	if (sqlite3_prepare_v2(s->w, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s->w, "audit head");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);

		*seq = sqlite3_column_int64(st, 0);
		if (h && strlen(h) == 64)
			memcpy(hash, h, 64);
		rc = JG_OK;
	} else {
		rc = rc == SQLITE_DONE ? JG_OK : db_err(s->w, "audit head");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_audit_scan(struct store *base, const struct audit_filter *f,
		     store_audit_cb cb, void *ctx)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc = JG_OK, step;

	if (sqlite3_prepare_v2(db, "SELECT seq, event FROM audit WHERE seq > ?1"
			       " AND (?2 IS NULL OR subject = ?2)"
			       " AND (?3 IS NULL OR resource = ?3)"
			       " AND (?4 IS NULL OR action = ?4) ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, "audit scan");
		goto out;
	}
	sqlite3_bind_int64(st, 1, f->after_seq);
	bind_text(st, 2, f->subject);
	bind_text(st, 3, f->resource);
	bind_text(st, 4, f->action);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = cb(ctx, sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1));
		if (rc != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_err(db, "audit scan");
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

static int sq_tx_outbox_add(struct store *base, int64_t seq, const char *target,
			const char *payload)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = wq_get(s, WQ_OUTBOX);
	int rc = JG_OK;

	if (st == NULL)
		return JG_ERR_STORE;
	sqlite3_bind_int64(st, 1, seq);
	bind_text(st, 2, target);
	bind_text(st, 3, payload);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s->w, "outbox add");
	wq_done(st);
	return rc;
}

static int sq_outbox_due(struct store *base, int64_t now_ms, int limit,
		     store_outbox_cb cb, void *ctx)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc = JG_OK, step;

	if (sqlite3_prepare_v2(db, "SELECT id, target, payload, attempts, next_at FROM outbox"
			       " WHERE done = 0 AND next_at <= ? ORDER BY id LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, "outbox due");
		goto out;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, limit);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct outbox_row row = {
			.id = sqlite3_column_int64(st, 0),
			.target = (const char *)sqlite3_column_text(st, 1),
			.payload = (const char *)sqlite3_column_text(st, 2),
			.attempts = sqlite3_column_int(st, 3),
			.next_at_ms = sqlite3_column_int64(st, 4),
		};

		rc = cb(ctx, &row);
		if (rc != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_err(db, "outbox due");
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

/* Outbox bookkeeping runs outside the engine's transactions, on a reader
 * connection: WAL allows it to write between the engine's batches. */
static int outbox_update(struct sq *s, const char *sql, int64_t id,
			 int64_t next_at, const char *err)
{
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc = JG_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, "outbox update");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 3) {
		sqlite3_bind_int64(st, 2, next_at);
		bind_text(st, 3, err);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(db, "outbox update");
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

static int sq_outbox_done(struct store *base, int64_t id)
{
	struct sq *s = (struct sq *)base;

	return outbox_update(s, "UPDATE outbox SET done = 1 WHERE id = ?1", id, 0, NULL);
}

static int sq_outbox_retry(struct store *base, int64_t id, int64_t next_at_ms,
		       const char *last_error)
{
	struct sq *s = (struct sq *)base;

	return outbox_update(s, "UPDATE outbox SET attempts = attempts + 1,"
			     " next_at = ?2, last_error = ?3 WHERE id = ?1",
			     id, next_at_ms, last_error);
}

static int sq_outbox_wait(struct store *base, int64_t id, int64_t next_at_ms,
			  const char *why)
{
	struct sq *s = (struct sq *)base;

	return outbox_update(s, "UPDATE outbox SET next_at = ?2, last_error = ?3"
			     " WHERE id = ?1", id, next_at_ms, why);
}

/* ---- Slack channel messages (the notifier's, on a reader connection) ---- */

/* Runs sql on db with ?1 = request_id, ?2 = channel, ?3 = n3, ?4 and ?5
 * the texts, as far as sql numbers its parameters (an unused lower index
 * may be bound). */
static int slack_step(sqlite3 *db, const char *sql, int64_t request_id,
		      const char *channel, int64_t n3, const char *t4, const char *t5)
{
	sqlite3_stmt *st = NULL;
	int rc = JG_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(db, "slack message");
	sqlite3_bind_int64(st, 1, request_id);
	bind_text(st, 2, channel);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, n3);
	if (sqlite3_bind_parameter_count(st) >= 5) {
		bind_text(st, 4, t4);
		bind_text(st, 5, t5);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(db, "slack message");
	sqlite3_finalize(st);
	return rc;
}

static int sq_slackmsg_get(struct store *base, int64_t request_id, const char *channel,
			   struct store_slackmsg *out)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc = JG_ERR_NOTFOUND, step;

	if (sqlite3_prepare_v2(db, "SELECT m.post_row, m.channel_id, m.ts, o.next_at,"
			       " coalesce(o.done, 1)"
			       " FROM slack_messages m LEFT JOIN outbox o ON o.id = m.post_row"
			       " WHERE m.request_id = ?1 AND m.channel = ?2", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = db_err(db, "slack message");
		goto out;
	}
	sqlite3_bind_int64(st, 1, request_id);
	bind_text(st, 2, channel);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *cid = (const char *)sqlite3_column_text(st, 1);
		const char *ts = (const char *)sqlite3_column_text(st, 2);

		out->post_row = sqlite3_column_int64(st, 0);
		out->post_next_at_ms = sqlite3_column_int64(st, 3);
		out->post_done = sqlite3_column_int(st, 4) != 0;
		out->posted = cid != NULL && ts != NULL;
		snprintf(out->channel_id, sizeof(out->channel_id), "%s", cid ? cid : "");
		snprintf(out->ts, sizeof(out->ts), "%s", ts ? ts : "");
		rc = JG_OK;
	} else if (step != SQLITE_DONE) {
		rc = db_err(db, "slack message");
	}
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

static int sq_slackmsg_claim(struct store *base, int64_t request_id, const char *channel,
			     int64_t post_row)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	int rc = slack_step(db, "INSERT INTO slack_messages (request_id, channel, post_row)"
			    " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
			    request_id, channel, post_row, NULL, NULL);

	reader_release(s, db);
	return rc;
}

static int sq_slackmsg_posted(struct store *base, int64_t request_id, const char *channel,
			      int64_t post_row, const char *channel_id, const char *ts)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	int rc = exec(db, "BEGIN IMMEDIATE");

	if (rc == JG_OK)
		rc = slack_step(db, "UPDATE slack_messages SET channel_id = ?4, ts = ?5"
				" WHERE request_id = ?1 AND channel = ?2 AND post_row = ?3",
				request_id, channel, post_row, channel_id, ts);
	if (rc == JG_OK)
		rc = slack_step(db, "UPDATE outbox SET done = 1 WHERE id = ?3",
				request_id, channel, post_row, NULL, NULL);
	if (rc == JG_OK)
		rc = exec(db, "COMMIT");
	if (rc != JG_OK && !sqlite3_get_autocommit(db))
		(void)exec(db, "ROLLBACK");
	reader_release(s, db);
	return rc;
}

static int sq_slackmsg_scan(struct store *base, store_slackmsg_cb cb, void *ctx)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc = JG_OK, step;

	if (sqlite3_prepare_v2(db, "SELECT request_id, channel, channel_id, ts"
			       " FROM slack_messages WHERE channel_id IS NOT NULL"
			       " AND ts IS NOT NULL", -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, "slack messages");
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = cb(ctx, sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 2),
			(const char *)sqlite3_column_text(st, 3));
		if (rc != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_err(db, "slack messages");
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

static int sq_tx_slackmsg_put(struct store *base, int64_t request_id, const char *channel,
			      const char *channel_id, const char *ts)
{
	struct sq *s = (struct sq *)base;

	return slack_step(s->w, "INSERT INTO slack_messages (request_id, channel, post_row,"
			  " channel_id, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
			  request_id, channel, 0, channel_id, ts);
}

static int sq_tx_kv_put(struct store *base, const char *key, const char *value)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = wq_get(s, WQ_KV);
	int rc = JG_OK;

	if (st == NULL)
		return JG_ERR_STORE;
	bind_text(st, 1, key);
	bind_text(st, 2, value);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s->w, "kv put");
	wq_done(st);
	return rc;
}

static int sq_kv_get(struct store *base, const char *key, char **value)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc;

	*value = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM kv WHERE key = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = db_err(db, "kv get");
		goto out;
	}
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*value = strdup((const char *)sqlite3_column_text(st, 0));
		rc = *value ? JG_OK : JG_ERR_NOMEM;
	} else {
		rc = rc == SQLITE_DONE ? JG_ERR_NOTFOUND : db_err(db, "kv get");
	}
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

static bool sq_ping(struct store *base)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	bool ok = exec(db, "SELECT 1") == JG_OK;

	reader_release(s, db);
	return ok;
}

static int sq_count_by_state(struct store *base, int64_t *counts, size_t n)
{
	struct sq *s = (struct sq *)base;
	sqlite3 *db = reader_acquire(s);
	sqlite3_stmt *st = NULL;
	int rc = JG_OK, step;

	for (size_t i = 0; i < n; i++)
		counts[i] = 0;
	if (sqlite3_prepare_v2(db, "SELECT state, count(*) FROM requests GROUP BY state",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, "count");
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		enum req_state state;
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (name && req_state_parse(name, &state) && (size_t)state < n)
			counts[state] = sqlite3_column_int64(st, 1);
	}
	if (step != SQLITE_DONE)
		rc = db_err(db, "count");
out:
	sqlite3_finalize(st);
	reader_release(s, db);
	return rc;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.tx_request_insert = sq_tx_request_insert,
	.tx_request_update = sq_tx_request_update,
	.tx_request_get = sq_tx_request_get,
	.tx_audit_append = sq_tx_audit_append,
	.tx_outbox_add = sq_tx_outbox_add,
	.tx_kv_put = sq_tx_kv_put,
	.tx_audit_head = sq_tx_audit_head,
	.tx_requests_live = sq_tx_requests_live,
	.tx_changed_requests = sq_tx_changed_requests,
	.request_get = sq_request_get,
	.requests_scan = sq_requests_scan,
	.audit_scan = sq_audit_scan,
	.kv_get = sq_kv_get,
	.outbox_due = sq_outbox_due,
	.outbox_done = sq_outbox_done,
	.outbox_retry = sq_outbox_retry,
	.outbox_wait = sq_outbox_wait,
	.slackmsg_get = sq_slackmsg_get,
	.slackmsg_claim = sq_slackmsg_claim,
	.slackmsg_posted = sq_slackmsg_posted,
	.slackmsg_scan = sq_slackmsg_scan,
	.tx_slackmsg_put = sq_tx_slackmsg_put,
	.count_by_state = sq_count_by_state,
	.ping = sq_ping,
};
