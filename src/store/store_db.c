/* The store's sqlite database: open with its refusals, schema and
 * migrations, operations, load.
 *
 * The database is opened in WAL mode with an exclusive lock held for the
 * broker's whole life, so a second broker pointed at the same directory is
 * refused at open instead of the two corrupting each other's state.
 * synchronous=FULL makes every commit durable once it returns (the WAL is
 * fsynced per commit; group commit amortises that over many operations).
 *
 * Nothing here ever deletes or rewrites a file it cannot read: an unknown
 * or damaged file is an error naming the path, and the broker stops. */
#include "store/store_db.h"

#include <errno.h>
#include "core/grow.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Schema version 1. Each later version adds one entry to migrations[]
 * (SQL taking version i to i + 1) and bumps STORE_SCHEMA_VERSION; a new
 * database is created at version 1 and migrated like any other, so every
 * migration runs on every new database too. */
static const char schema_v1[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES(1);"
	/* the message log: one row per QoS 1/2 message, referenced by queue rows */
	/* AUTOINCREMENT: sqlite_sequence remembers the highest id ever used,
	 * so ids are never reused after a restart */
	"CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT, topic BLOB NOT NULL, payload BLOB NOT NULL,"
	" qos INTEGER NOT NULL, expires_at INTEGER NOT NULL, refs INTEGER NOT NULL);"
	"CREATE TABLE sessions(client_id BLOB PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE subscriptions(client_id BLOB NOT NULL, filter BLOB NOT NULL, options INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, filter)) WITHOUT ROWID;"
	/* seq orders each session's queue */
	"CREATE TABLE queue(seq INTEGER PRIMARY KEY, client_id BLOB NOT NULL, msg_id INTEGER NOT NULL,"
	" qos INTEGER NOT NULL, state INTEGER NOT NULL, packet_id INTEGER NOT NULL);"
	"CREATE INDEX queue_by_client ON queue(client_id, msg_id);"
	"CREATE TABLE qos2_in(client_id BLOB NOT NULL, packet_id INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, packet_id)) WITHOUT ROWID;"
	"CREATE TABLE retained(topic BLOB PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL) WITHOUT ROWID;";

/* migrations[i] takes a version i + 1 database to version i + 2. */
static const char *const migrations[] = {
	/* 2: MQTT 5.0. Messages keep their properties (opaque bytes), queue
	 * entries and subscriptions their subscription identifier, sessions
	 * their expiry interval (-1: stored before it was, the broker's
	 * default applies) */
	"ALTER TABLE messages ADD COLUMN props BLOB NOT NULL DEFAULT x'';"
	"ALTER TABLE retained ADD COLUMN props BLOB NOT NULL DEFAULT x'';"
	"ALTER TABLE queue ADD COLUMN sub_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE subscriptions ADD COLUMN sub_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN expiry_interval INTEGER NOT NULL DEFAULT -1;"
	/* wills waiting for their Will Delay Interval (publish_at, wall ms) */
	"CREATE TABLE wills(client_id BLOB PRIMARY KEY, topic BLOB NOT NULL, payload BLOB NOT NULL,"
	" props BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, publish_at INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	/* a client's waiting entries by state, in queue order (rowid): the
	 * spilled ones are read back oldest first */
	"CREATE INDEX queue_waiting ON queue(client_id, state);"
	/* what expires, for the sweep */
	"CREATE INDEX messages_expiring ON messages(expires_at) WHERE expires_at > 0;"
	/* a message's entries, for the sweep's reference counts */
	"CREATE INDEX queue_by_msg ON queue(msg_id);"
	"CREATE INDEX retained_expiring ON retained(expires_at) WHERE expires_at > 0;",
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT batch",
	[ST_RELEASE] = "RELEASE batch",
	[ST_ROLLBACK_TO] = "ROLLBACK TO batch",
	[ST_MSG_ADD] = "INSERT INTO messages(id, topic, payload, qos, expires_at, refs, props) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6)",
	[ST_MSG_REF] = "UPDATE messages SET refs = refs + 1 WHERE id = ?1",
	[ST_MSG_UNREF] = "UPDATE messages SET refs = refs - 1 WHERE id = ?1",
	[ST_MSG_GC] = "DELETE FROM messages WHERE id = ?1 AND refs <= 0",
	[ST_REF_ADD] = "INSERT INTO queue(client_id, msg_id, qos, state, packet_id, sub_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	/* packet id 0: the oldest entry not sent yet; else the one sent with it */
	[ST_REF_FIND] = "SELECT seq FROM queue WHERE client_id = ?1 AND msg_id = ?2 AND"
			" ((?3 = 0 AND state = 0) OR (?3 <> 0 AND state <> 0 AND packet_id = ?3)) ORDER BY seq LIMIT 1",
	[ST_REF_SET] = "UPDATE queue SET state = ?2, packet_id = ?3 WHERE seq = ?1",
	[ST_REF_DEL] = "DELETE FROM queue WHERE seq = ?1",
	[ST_SESSION_PUT] = "INSERT INTO sessions(client_id, expires_at, expiry_interval) VALUES(?1, ?2, ?3)"
			   " ON CONFLICT(client_id) DO UPDATE SET expires_at = excluded.expires_at,"
			   " expiry_interval = excluded.expiry_interval",
	[ST_SESSION_UNREF_MSGS] = "UPDATE messages SET refs = refs -"
				  " (SELECT count(*) FROM queue WHERE queue.client_id = ?1 AND queue.msg_id = messages.id)"
				  " WHERE id IN (SELECT msg_id FROM queue WHERE client_id = ?1)",
	[ST_SESSION_GC_MSGS] = "DELETE FROM messages WHERE refs <= 0 AND id IN (SELECT msg_id FROM queue WHERE client_id = ?1)",
	[ST_SESSION_DEL_QUEUE] = "DELETE FROM queue WHERE client_id = ?1",
	[ST_SESSION_DEL_SUBS] = "DELETE FROM subscriptions WHERE client_id = ?1",
	[ST_SESSION_DEL_QOS2] = "DELETE FROM qos2_in WHERE client_id = ?1",
	[ST_SESSION_DEL] = "DELETE FROM sessions WHERE client_id = ?1",
	[ST_SUB_PUT] = "INSERT INTO subscriptions(client_id, filter, options, sub_id) VALUES(?1, ?2, ?3, ?4)"
		       " ON CONFLICT(client_id, filter) DO UPDATE SET options = excluded.options, sub_id = excluded.sub_id",
	[ST_SUB_DEL] = "DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2",
	[ST_RETAIN_PUT] = "INSERT OR REPLACE INTO retained(topic, payload, qos, expires_at, props) VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_RETAIN_DEL] = "DELETE FROM retained WHERE topic = ?1",
	[ST_QOS2_ADD] = "INSERT OR IGNORE INTO qos2_in(client_id, packet_id) VALUES(?1, ?2)",
	[ST_QOS2_DEL] = "DELETE FROM qos2_in WHERE client_id = ?1 AND packet_id = ?2",
	[ST_WILL_PUT] = "INSERT OR REPLACE INTO wills(client_id, topic, payload, props, qos, retain, publish_at)"
			" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_WILL_DEL] = "DELETE FROM wills WHERE client_id = ?1",
	[ST_SESSION_DEL_WILL] = "DELETE FROM wills WHERE client_id = ?1",
	[ST_QUEUE_UNSPILL] = "UPDATE queue SET state = 0 WHERE client_id = ?1 AND state = 3",
	/* the first ?2 waiting entries stay queued, the rest spill */
	[ST_QUEUE_SPILL_FROM] = "UPDATE queue SET state = 3 WHERE client_id = ?1 AND state = 0 AND seq >="
				" (SELECT seq FROM queue WHERE client_id = ?1 AND state = 0 ORDER BY seq LIMIT 1 OFFSET ?2)",
	/* entries not sent yet (queued or spilled) of expired messages; sent
	 * ones finish their flow [MQTT-3.3.2-5: only before delivery starts] */
	[ST_SWEEP_QUEUE] = "DELETE FROM queue WHERE state IN (0, 3) AND msg_id IN"
			   " (SELECT id FROM messages WHERE expires_at > 0 AND expires_at <= ?1)",
	[ST_SWEEP_REFS] = "UPDATE messages SET refs = (SELECT count(*) FROM queue WHERE queue.msg_id = messages.id)"
			  " WHERE expires_at > 0 AND expires_at <= ?1",
	[ST_SWEEP_MSGS] = "DELETE FROM messages WHERE refs <= 0 AND expires_at > 0 AND expires_at <= ?1",
	[ST_SWEEP_RETAINED] = "DELETE FROM retained WHERE expires_at > 0 AND expires_at <= ?1",
	[ST_QUEUE_READ] = "SELECT q.seq, q.msg_id, q.qos, q.sub_id, m.topic, m.payload, m.qos, m.expires_at, m.props"
			  " FROM queue q JOIN messages m ON m.id = q.msg_id"
			  " WHERE q.client_id = ?1 AND q.state = 3 ORDER BY q.seq LIMIT ?2",
};

bool store_db_in_transaction(const struct store_db *d)
{
	return d->db && !sqlite3_get_autocommit(d->db);
}

const char *store_db_error(const struct store_db *d)
{
	return d->db ? sqlite3_errmsg(d->db) : "no database";
}

/* --- open ------------------------------------------------------------------ */

static int fail(struct store_db *d, struct fm_errbuf *eb, const char *what)
{
	fm_errbuf_set(eb, "store %s: %s: %s", d->path, what, store_db_error(d));
	store_db_close(d);
	return FM_ESTORE;
}

static int prepare_dir(const char *dir, struct fm_errbuf *eb)
{
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		fm_errbuf_set(eb, "store directory %s cannot be created: %s", dir, strerror(errno));
		return FM_ESTORE;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fm_errbuf_set(eb, "store directory %s is not a directory", dir);
		return FM_ESTORE;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		fm_errbuf_set(eb, "store directory %s is not writable: %s", dir, strerror(errno));
		return FM_ESTORE;
	}
	return FM_OK;
}

/* A single integer from a query, or -1 (with the sqlite error) on failure. */
static long long query_int(struct store_db *d, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static bool exec_ok(struct store_db *d, const char *sql)
{
	return sqlite3_exec(d->db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* Take the lock and read the header: a locked or non-database file shows
 * here, before anything is written. */
static int lock_and_check(struct store_db *d, struct fm_errbuf *eb)
{
	sqlite3_busy_timeout(d->db, 0);
	if (!exec_ok(d, "PRAGMA locking_mode=EXCLUSIVE"))
		return fail(d, eb, "cannot set the locking mode");
	/* reading the page count reads the header: NOTADB for a foreign file */
	if (query_int(d, "PRAGMA page_count") < 0) {
		int code = sqlite3_errcode(d->db);
		if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
			return fail(d, eb, "locked by another process (is another broker using this directory?)");
		return fail(d, eb, "not a fleetmq database, or damaged; it was left untouched");
	}
	return FM_OK;
}

/* Switch to WAL and take the write lock: the first writes to the file, so
 * only once it is known to be ours (or new). */
static int start_writing(struct store_db *d, enum store_durability durability, struct fm_errbuf *eb)
{
	if (!exec_ok(d, "PRAGMA journal_mode=WAL") || !exec_ok(d, "BEGIN IMMEDIATE") || !exec_ok(d, "COMMIT")) {
		int code = sqlite3_errcode(d->db);
		if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
			return fail(d, eb, "locked by another process (is another broker using this directory?)");
		if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
			return fail(d, eb, "not writable");
		return fail(d, eb, "cannot be opened for writing");
	}
	if (!exec_ok(d, durability == STORE_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"))
		return fail(d, eb, "cannot set synchronous mode");
	return FM_OK;
}

static int create_schema(struct store_db *d, struct fm_errbuf *eb)
{
	if (!exec_ok(d, "BEGIN") || !exec_ok(d, schema_v1) || !exec_ok(d, "COMMIT")) {
		exec_ok(d, "ROLLBACK");
		return fail(d, eb, "cannot create the schema");
	}
	return FM_OK;
}

static int migrate(struct store_db *d, long long from, struct fm_errbuf *eb)
{
	for (long long v = from; v < STORE_SCHEMA_VERSION; v++) {
		char bump[64];
		snprintf(bump, sizeof(bump), "UPDATE schema_version SET version = %lld", v + 1);
		if (!exec_ok(d, "BEGIN") || !exec_ok(d, migrations[v - 1]) || !exec_ok(d, bump) ||
		    !exec_ok(d, "COMMIT")) {
			/* the cause first: the rollback replaces sqlite's message */
			fm_errbuf_set(eb, "store %s: schema migration to version %lld failed: %s", d->path, v + 1,
				      store_db_error(d));
			exec_ok(d, "ROLLBACK");
			store_db_close(d);
			return FM_ESTORE;
		}
	}
	return FM_OK;
}

/* Read-only: is this file new (*version 0), ours at a version we can
 * use, or something to refuse? */
static int check_schema(struct store_db *d, long long *version, struct fm_errbuf *eb)
{
	*version = 0;
	long long tables = query_int(d, "SELECT count(*) FROM sqlite_master");
	if (tables < 0)
		return fail(d, eb, "cannot read the schema (damaged?)");
	if (tables == 0)
		return FM_OK;
	if (query_int(d, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") != 1)
		return fail(d, eb, "is an sqlite database but not a fleetmq store; it was left untouched");
	long long v = query_int(d, "SELECT max(version) FROM schema_version");
	if (v < 1)
		return fail(d, eb, "has no valid schema version; it was left untouched");
	if (v > STORE_SCHEMA_VERSION) {
		fm_errbuf_set(eb, "store %s: written by a newer fleetmq (schema version %lld, this one knows up to %d); "
			      "refusing to touch it", d->path, v, STORE_SCHEMA_VERSION);
		store_db_close(d);
		return FM_ESTORE;
	}
	*version = v;
	return FM_OK;
}

static int prepare_all(struct store_db *d, struct fm_errbuf *eb)
{
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(d->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->stmt[i], NULL) != SQLITE_OK)
			return fail(d, eb, "cannot prepare statements (damaged schema?)");
	return FM_OK;
}

int store_db_open(struct store_db *d, const char *dir, enum store_durability durability, struct fm_errbuf *eb)
{
	memset(d, 0, sizeof(*d));
	int rc = prepare_dir(dir, eb);
	if (rc != FM_OK)
		return rc;
	if ((size_t)snprintf(d->path, sizeof(d->path), "%s/fleetmq.db", dir) >= sizeof(d->path))
		return fm_errbuf_set(eb, "store directory path too long: %s", dir), FM_ESTORE;
	/* sqlite would fall back to reading a file it cannot write and fail
	 * later with a vaguer error */
	if (access(d->path, F_OK) == 0 && access(d->path, R_OK | W_OK) != 0) {
		fm_errbuf_set(eb, "store %s: not writable: %s", d->path, strerror(errno));
		return FM_ESTORE;
	}
	if (sqlite3_open_v2(d->path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return fail(d, eb, "cannot be opened");
	sqlite3_extended_result_codes(d->db, 0);
	long long version;
	if ((rc = lock_and_check(d, eb)) != FM_OK || (rc = check_schema(d, &version, eb)) != FM_OK ||
	    (rc = start_writing(d, durability, eb)) != FM_OK)
		return rc;
	if (version == 0 && (rc = create_schema(d, eb)) == FM_OK)
		version = 1;
	if (rc == FM_OK)
		rc = migrate(d, version, eb);
	return rc == FM_OK ? prepare_all(d, eb) : rc;
}

void store_db_close(struct store_db *d)
{
	for (int i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(d->stmt[i]);
		d->stmt[i] = NULL;
	}
	if (d->db)
		sqlite3_close(d->db);
	d->db = NULL;
}

int store_db_set_max_bytes(struct store_db *d, uint64_t max_bytes)
{
	long long page = query_int(d, "PRAGMA page_size");
	if (page <= 0)
		return FM_ESTORE;
	/* sqlite's own ceiling stands for "no limit"; a limit below the file's
	 * present size holds it where it is */
	unsigned long long pages = max_bytes ? max_bytes / (unsigned long long)page : 4294967294ull;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %llu", pages ? pages : 1);
	return query_int(d, sql) > 0 ? FM_OK : FM_ESTORE;
}

/* --- operations -------------------------------------------------------------- */

/* Run a prepared statement to completion with its bindings, then reset. */
static int run(struct store_db *d, enum store_stmt which)
{
	sqlite3_stmt *st = d->stmt[which];
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return FM_OK;
	return rc == SQLITE_FULL ? FM_EFULL : FM_ESTORE;
}

static void bind_span(sqlite3_stmt *st, int i, const struct store_batch *b, struct store_span s)
{
	/* the batch outlives the statement's execution: no copy needed */
	sqlite3_bind_blob(st, i, s.len ? store_bytes(b, s) : "", (int)s.len, SQLITE_STATIC);
}

int store_db_begin(struct store_db *d) { return run(d, ST_BEGIN); }
int store_db_commit(struct store_db *d) { return run(d, ST_COMMIT); }
void store_db_rollback(struct store_db *d) { (void)run(d, ST_ROLLBACK); }

static int msg_add(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	sqlite3_stmt *st = d->stmt[ST_MSG_ADD];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)op->msg_id);
	bind_span(st, 2, b, op->topic);
	bind_span(st, 3, b, op->payload);
	sqlite3_bind_int(st, 4, op->qos);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)op->expires_at_ms);
	bind_span(st, 6, b, op->props);
	return run(d, ST_MSG_ADD);
}

static int msg_ref_change(struct store_db *d, enum store_stmt which, uint64_t msg_id)
{
	sqlite3_bind_int64(d->stmt[which], 1, (sqlite3_int64)msg_id);
	return run(d, which);
}

static int ref_add(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	sqlite3_stmt *st = d->stmt[ST_REF_ADD];
	bind_span(st, 1, b, op->client_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)op->msg_id);
	sqlite3_bind_int(st, 3, op->qos);
	sqlite3_bind_int(st, 4, op->state);
	sqlite3_bind_int(st, 5, op->packet_id);
	sqlite3_bind_int64(st, 6, op->sub_id);
	int rc = run(d, ST_REF_ADD);
	return rc == FM_OK ? msg_ref_change(d, ST_MSG_REF, op->msg_id) : rc;
}

/* The queue row an op means (see ST_REF_FIND), or 0 when there is none. */
static sqlite3_int64 ref_find(struct store_db *d, const struct store_batch *b, const struct store_op *op,
			      uint16_t packet_id, int *rc)
{
	sqlite3_stmt *st = d->stmt[ST_REF_FIND];
	bind_span(st, 1, b, op->client_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)op->msg_id);
	sqlite3_bind_int(st, 3, packet_id);
	int step = sqlite3_step(st);
	sqlite3_int64 seq = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	*rc = step == SQLITE_ROW || step == SQLITE_DONE ? FM_OK : FM_ESTORE;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return seq;
}

static int ref_state(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	int rc;
	/* sending picks the oldest unsent entry; PUBREC the one sent with the id */
	uint16_t match = op->state == STORE_REF_SENT ? 0 : op->packet_id;
	sqlite3_int64 seq = ref_find(d, b, op, match, &rc);
	if (rc != FM_OK || seq == 0)
		return rc; /* already gone (the session ended): nothing to change */
	sqlite3_stmt *st = d->stmt[ST_REF_SET];
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int(st, 2, op->state);
	sqlite3_bind_int(st, 3, op->packet_id);
	return run(d, ST_REF_SET);
}

static int ref_del(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	int rc;
	sqlite3_int64 seq = ref_find(d, b, op, op->packet_id, &rc);
	if (rc != FM_OK || seq == 0)
		return rc;
	sqlite3_bind_int64(d->stmt[ST_REF_DEL], 1, seq);
	if ((rc = run(d, ST_REF_DEL)) != FM_OK || (rc = msg_ref_change(d, ST_MSG_UNREF, op->msg_id)) != FM_OK)
		return rc;
	return msg_ref_change(d, ST_MSG_GC, op->msg_id);
}

static int session_put(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	sqlite3_stmt *st = d->stmt[ST_SESSION_PUT];
	bind_span(st, 1, b, op->client_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)op->expires_at_ms);
	sqlite3_bind_int64(st, 3, op->interval);
	return run(d, ST_SESSION_PUT);
}

/* Statements keyed by the client id alone, in the order a session ends:
 * its queue's references first, then what is unreferenced, then the rest. */
static const enum store_stmt session_del_steps[] = {
	ST_SESSION_UNREF_MSGS, ST_SESSION_GC_MSGS, ST_SESSION_DEL_QUEUE,
	ST_SESSION_DEL_SUBS, ST_SESSION_DEL_QOS2, ST_SESSION_DEL_WILL, ST_SESSION_DEL,
};

static int session_del(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	for (size_t i = 0; i < sizeof(session_del_steps) / sizeof(session_del_steps[0]); i++) {
		bind_span(d->stmt[session_del_steps[i]], 1, b, op->client_id);
		int rc = run(d, session_del_steps[i]);
		if (rc != FM_OK)
			return rc;
	}
	return FM_OK;
}

static int sub_change(struct store_db *d, const struct store_batch *b, const struct store_op *op, bool put)
{
	enum store_stmt which = put ? ST_SUB_PUT : ST_SUB_DEL;
	sqlite3_stmt *st = d->stmt[which];
	bind_span(st, 1, b, op->client_id);
	bind_span(st, 2, b, op->topic);
	if (put) {
		sqlite3_bind_int(st, 3, op->options);
		sqlite3_bind_int64(st, 4, op->sub_id);
	}
	return run(d, which);
}

static int retain_put(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	sqlite3_stmt *st = d->stmt[ST_RETAIN_PUT];
	bind_span(st, 1, b, op->topic);
	bind_span(st, 2, b, op->payload);
	sqlite3_bind_int(st, 3, op->qos);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)op->expires_at_ms);
	bind_span(st, 5, b, op->props);
	return run(d, ST_RETAIN_PUT);
}

static int retain_del(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	bind_span(d->stmt[ST_RETAIN_DEL], 1, b, op->topic);
	return run(d, ST_RETAIN_DEL);
}

static int qos2_change(struct store_db *d, const struct store_batch *b, const struct store_op *op, bool add)
{
	enum store_stmt which = add ? ST_QOS2_ADD : ST_QOS2_DEL;
	sqlite3_stmt *st = d->stmt[which];
	bind_span(st, 1, b, op->client_id);
	sqlite3_bind_int(st, 2, op->packet_id);
	return run(d, which);
}

static int will_put(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	sqlite3_stmt *st = d->stmt[ST_WILL_PUT];
	bind_span(st, 1, b, op->client_id);
	bind_span(st, 2, b, op->topic);
	bind_span(st, 3, b, op->payload);
	bind_span(st, 4, b, op->props);
	sqlite3_bind_int(st, 5, op->qos);
	sqlite3_bind_int(st, 6, op->options);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)op->expires_at_ms);
	return run(d, ST_WILL_PUT);
}

static int will_del(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	bind_span(d->stmt[ST_WILL_DEL], 1, b, op->client_id);
	return run(d, ST_WILL_DEL);
}

static int queue_split(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	bind_span(d->stmt[ST_QUEUE_UNSPILL], 1, b, op->client_id);
	int rc = run(d, ST_QUEUE_UNSPILL);
	if (rc != FM_OK)
		return rc;
	sqlite3_stmt *st = d->stmt[ST_QUEUE_SPILL_FROM];
	bind_span(st, 1, b, op->client_id);
	sqlite3_bind_int64(st, 2, op->count);
	return run(d, ST_QUEUE_SPILL_FROM);
}

/* Copy a column into the batch's row arena. */
static int row_copy(struct store_batch *b, sqlite3_stmt *st, int col, struct store_span *out)
{
	const void *p = sqlite3_column_blob(st, col);
	uint32_t len = (uint32_t)sqlite3_column_bytes(st, col);
	if (len > UINT32_MAX - b->row_arena_used)
		return FM_ENOMEM;
	uint32_t need = b->row_arena_used + len;
	if (need > b->row_arena_cap) {
		uint32_t cap = b->row_arena_cap ? b->row_arena_cap : 4096;
		while (cap < need)
			cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
		uint8_t *a = realloc(b->row_arena, cap);
		if (!a)
			return FM_ENOMEM;
		b->row_arena = a;
		b->row_arena_cap = cap;
	}
	if (len)
		memcpy(b->row_arena + b->row_arena_used, p, len);
	*out = (struct store_span){ .off = b->row_arena_used, .len = len };
	b->row_arena_used += len;
	return FM_OK;
}

static int row_add(struct store_batch *b, sqlite3_stmt *st, uint32_t op_index)
{
	if (fm_grow((void **)&b->rows, &b->cap_rows, b->n_rows + 1, sizeof(*b->rows), 64) != FM_OK)
		return FM_ENOMEM;
	struct store_row *r = &b->rows[b->n_rows];
	*r = (struct store_row){ .seq = (uint64_t)sqlite3_column_int64(st, 0), .op = op_index,
				 .msg_id = (uint64_t)sqlite3_column_int64(st, 1),
				 .qos = (uint8_t)sqlite3_column_int(st, 2),
				 .sub_id = (uint32_t)sqlite3_column_int64(st, 3),
				 .msg_qos = (uint8_t)sqlite3_column_int(st, 6),
				 .expires_at_ms = (uint64_t)sqlite3_column_int64(st, 7) };
	if (row_copy(b, st, 4, &r->topic) != FM_OK || row_copy(b, st, 5, &r->payload) != FM_OK ||
	    row_copy(b, st, 8, &r->props) != FM_OK)
		return FM_ENOMEM;
	b->n_rows++;
	return FM_OK;
}

/* Read the spilled entries first, then mark them queued (not while the
 * select walks the same index). */
static int queue_read(struct store_db *d, struct store_batch *b, const struct store_op *op, uint32_t op_index)
{
	sqlite3_stmt *st = d->stmt[ST_QUEUE_READ];
	bind_span(st, 1, b, op->client_id);
	sqlite3_bind_int64(st, 2, op->count);
	uint32_t first = b->n_rows;
	int step, rc = FM_OK;
	while (rc == FM_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = row_add(b, st, op_index);
	if (rc == FM_OK && step != SQLITE_DONE)
		rc = FM_ESTORE;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (uint32_t i = first; rc == FM_OK && i < b->n_rows; i++) {
		sqlite3_stmt *set = d->stmt[ST_REF_SET];
		sqlite3_bind_int64(set, 1, (sqlite3_int64)b->rows[i].seq);
		sqlite3_bind_int(set, 2, STORE_REF_QUEUED);
		sqlite3_bind_int(set, 3, 0);
		rc = run(d, ST_REF_SET);
	}
	return rc;
}

static int apply_op(struct store_db *d, const struct store_batch *b, const struct store_op *op)
{
	switch ((enum store_op_type)op->type) {
	case STORE_MSG_ADD: return msg_add(d, b, op);
	case STORE_REF_ADD: return ref_add(d, b, op);
	case STORE_REF_STATE: return ref_state(d, b, op);
	case STORE_REF_DEL: return ref_del(d, b, op);
	case STORE_SESSION_PUT: return session_put(d, b, op);
	case STORE_SESSION_DEL: return session_del(d, b, op);
	case STORE_SUB_PUT: return sub_change(d, b, op, true);
	case STORE_SUB_DEL: return sub_change(d, b, op, false);
	case STORE_RETAIN_PUT: return retain_put(d, b, op);
	case STORE_RETAIN_DEL: return retain_del(d, b, op);
	case STORE_QOS2_IN_ADD: return qos2_change(d, b, op, true);
	case STORE_QOS2_IN_DEL: return qos2_change(d, b, op, false);
	case STORE_QUEUE_SPLIT: return queue_split(d, b, op);
	case STORE_QUEUE_READ: return FM_EINVAL; /* store_db_apply reads, it needs the batch */
	case STORE_WILL_PUT: return will_put(d, b, op);
	case STORE_WILL_DEL: return will_del(d, b, op);
	}
	return FM_EINVAL;
}

int store_db_sweep(struct store_db *d, uint64_t now_ms, uint64_t *removed)
{
	static const enum store_stmt steps[] = { ST_SWEEP_QUEUE, ST_SWEEP_REFS, ST_SWEEP_MSGS, ST_SWEEP_RETAINED };
	*removed = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		sqlite3_bind_int64(d->stmt[steps[i]], 1, (sqlite3_int64)now_ms);
		int rc = run(d, steps[i]);
		if (rc != FM_OK)
			return rc;
		if (steps[i] != ST_SWEEP_REFS)
			*removed += (uint64_t)sqlite3_changes(d->db);
	}
	return FM_OK;
}

int store_db_apply(struct store_db *d, struct store_batch *b)
{
	/* a batch applied again (its group failed, it is retried alone) reads
	 * its rows again */
	b->n_rows = 0;
	b->row_arena_used = 0;
	for (uint32_t i = 0; i < b->n_ops; i++) {
		const struct store_op *op = &b->ops[i];
		int rc = op->type == STORE_QUEUE_READ ? queue_read(d, b, op, i) : apply_op(d, b, op);
		if (rc != FM_OK)
			return rc;
	}
	return FM_OK;
}

int store_db_apply_atomic(struct store_db *d, struct store_batch *b)
{
	int rc = run(d, ST_SAVEPOINT);
	if (rc != FM_OK)
		return rc;
	rc = store_db_apply(d, b);
	if (rc != FM_OK)
		(void)run(d, ST_ROLLBACK_TO);
	(void)run(d, ST_RELEASE);
	return rc;
}

/* --- load ------------------------------------------------------------------- */

static const char *col_blob(sqlite3_stmt *st, int i, size_t *len)
{
	const char *p = sqlite3_column_blob(st, i);
	*len = (size_t)sqlite3_column_bytes(st, i);
	return p ? p : "";
}

/* One table's rows, each handed to row(); stops at the first error. */
typedef int load_row_fn(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id);

static int load_table(struct store_db *d, const char *sql, load_row_fn *row, const struct store_loader *l,
		      uint64_t *max_msg_id, struct fm_errbuf *eb)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fm_errbuf_set(eb, "store %s: cannot read (%s): %s", d->path, sql, store_db_error(d));
		return FM_ESTORE;
	}
	int step, rc = FM_OK;
	while (rc == FM_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = row(st, l, max_msg_id);
	if (rc == FM_OK && step != SQLITE_DONE) {
		fm_errbuf_set(eb, "store %s: reading failed (damaged?): %s", d->path, store_db_error(d));
		rc = FM_ESTORE;
	} else if (rc != FM_OK) {
		fm_errbuf_set(eb, "store %s: loading failed: %s", d->path, fm_strerror(rc));
	}
	sqlite3_finalize(st);
	return rc;
}

/* A message row: topic, payload, qos, expires_at, props from column
 * first on. */
static struct store_message message_at(sqlite3_stmt *st, int first)
{
	struct store_message m = { .qos = (uint8_t)sqlite3_column_int(st, first + 2),
				   .expires_at_ms = (uint64_t)sqlite3_column_int64(st, first + 3) };
	m.topic = col_blob(st, first, &m.topic_len);
	m.payload = col_blob(st, first + 1, &m.payload_len);
	m.props = col_blob(st, first + 4, &m.props_len);
	return m;
}

static int row_message(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id)
{
	struct store_message m = message_at(st, 1);
	m.msg_id = (uint64_t)sqlite3_column_int64(st, 0);
	if (m.msg_id > *max_msg_id)
		*max_msg_id = m.msg_id;
	return l->message(l->arg, &m);
}

static int row_session(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id)
{
	(void)max_msg_id;
	size_t il;
	const char *id = col_blob(st, 0, &il);
	sqlite3_int64 interval = sqlite3_column_int64(st, 2);
	return l->session(l->arg, id, il, (uint64_t)sqlite3_column_int64(st, 1),
			  interval < 0 || interval > UINT32_MAX ? STORE_INTERVAL_UNKNOWN : interval);
}

static int row_subscription(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id)
{
	(void)max_msg_id;
	size_t il, fl;
	const char *id = col_blob(st, 0, &il);
	const char *filter = col_blob(st, 1, &fl);
	return l->subscription(l->arg, id, il, filter, fl, (uint8_t)sqlite3_column_int(st, 2),
			       (uint32_t)sqlite3_column_int64(st, 3));
}

/* client_id, msg_id, qos, state, packet_id, sub_id, then the message */
static int row_queued(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id)
{
	size_t il;
	const char *id = col_blob(st, 0, &il);
	struct store_message m = message_at(st, 6);
	m.msg_id = (uint64_t)sqlite3_column_int64(st, 1);
	if (m.msg_id > *max_msg_id)
		*max_msg_id = m.msg_id;
	return l->queued(l->arg, id, il, &m, (uint8_t)sqlite3_column_int(st, 2),
			 (enum store_ref_state)sqlite3_column_int(st, 3), (uint16_t)sqlite3_column_int(st, 4),
			 (uint32_t)sqlite3_column_int64(st, 5));
}

static int row_qos2_in(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id)
{
	(void)max_msg_id;
	size_t il;
	const char *id = col_blob(st, 0, &il);
	return l->qos2_in(l->arg, id, il, (uint16_t)sqlite3_column_int(st, 1));
}

static int row_retained(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id)
{
	(void)max_msg_id;
	struct store_message m = message_at(st, 0);
	return l->retained(l->arg, &m);
}

/* client_id, then topic, payload, qos, publish_at, props, then retain */
static int row_will(sqlite3_stmt *st, const struct store_loader *l, uint64_t *max_msg_id)
{
	(void)max_msg_id;
	if (!l->will)
		return FM_OK; /* a loader that does not ask for them (tools, tests) */
	size_t il;
	const char *id = col_blob(st, 0, &il);
	struct store_message m = message_at(st, 1);
	uint64_t publish_at_ms = m.expires_at_ms;
	m.expires_at_ms = 0;
	return l->will(l->arg, id, il, &m, sqlite3_column_int(st, 6) != 0, publish_at_ms);
}

int store_db_load(struct store_db *d, const struct store_loader *l, uint64_t *max_msg_id, struct fm_errbuf *eb)
{
	static const struct {
		const char *sql;
		load_row_fn *row;
	} tables[] = {
		{ "SELECT id, topic, payload, qos, expires_at, props FROM messages WHERE refs > 0 ORDER BY id", row_message },
		{ "SELECT client_id, topic, payload, qos, publish_at, props, retain FROM wills", row_will },
		{ "SELECT client_id, expires_at, expiry_interval FROM sessions", row_session },
		{ "SELECT client_id, filter, options, sub_id FROM subscriptions", row_subscription },
		/* each entry with its message: the loader decides which messages
		 * it keeps in memory (a long queue's tail stays on disk) */
		{ "SELECT q.client_id, q.msg_id, q.qos, q.state, q.packet_id, q.sub_id,"
		  " m.topic, m.payload, m.qos, m.expires_at, m.props"
		  " FROM queue q JOIN messages m ON m.id = q.msg_id ORDER BY q.seq", row_queued },
		{ "SELECT client_id, packet_id FROM qos2_in", row_qos2_in },
		{ "SELECT topic, payload, qos, expires_at, props FROM retained", row_retained },
	};
	*max_msg_id = 0;
	/* ids of messages no longer referenced are still taken: never reuse one */
	long long top = query_int(d, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'messages'");
	if (top > 0)
		*max_msg_id = (uint64_t)top;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (tables[i].row == row_message && !l->message)
			continue;
		int rc = load_table(d, tables[i].sql, tables[i].row, l, max_msg_id, eb);
		if (rc != FM_OK)
			return rc;
	}
	return FM_OK;
}
