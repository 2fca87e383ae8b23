/* The schema and its migrations: a new store is created at schema 1 and
 * migrated like any other, so it ends at STORE_SCHEMA_VERSION with every
 * migration's columns; a database an older fleetmq wrote (schema 1, built
 * here by hand with its exact SQL) is migrated to 2 in place, keeps all its
 * rows and loads them with the defaults migration 2 gives the new columns:
 * empty properties, subscription identifier 0, session expiry interval
 * STORE_INTERVAL_UNKNOWN. A migration that fails leaves the database as it
 * was (one transaction) and the store refused; a newer schema is refused
 * before any migration is tried. */
#include "store_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Schema version 1 exactly as src/store/store_db.c's schema_v1 creates it
 * (copied, not shared: this is what databases already on disk hold, and
 * must not change when the store's own SQL does). */
static const char schema_v1[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES(1);"
	"CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT, topic BLOB NOT NULL, payload BLOB NOT NULL,"
	" qos INTEGER NOT NULL, expires_at INTEGER NOT NULL, refs INTEGER NOT NULL);"
	"CREATE TABLE sessions(client_id BLOB PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE subscriptions(client_id BLOB NOT NULL, filter BLOB NOT NULL, options INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, filter)) WITHOUT ROWID;"
	"CREATE TABLE queue(seq INTEGER PRIMARY KEY, client_id BLOB NOT NULL, msg_id INTEGER NOT NULL,"
	" qos INTEGER NOT NULL, state INTEGER NOT NULL, packet_id INTEGER NOT NULL);"
	"CREATE INDEX queue_by_client ON queue(client_id, msg_id);"
	"CREATE TABLE qos2_in(client_id BLOB NOT NULL, packet_id INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, packet_id)) WITHOUT ROWID;"
	"CREATE TABLE retained(topic BLOB PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL) WITHOUT ROWID;";

/* One of everything, as schema 1's store wrote it: strings bound as blobs
 * (a text 'x' would not equal the blob the store binds), message 5 logged
 * once and referenced by the one queue entry, sent with packet id 42. */
static const char rows_v1[] =
	"INSERT INTO messages(id, topic, payload, qos, expires_at, refs)"
	" VALUES(5, CAST('old/topic' AS BLOB), CAST('old payload' AS BLOB), 1, 1700000005000, 1);"
	"INSERT INTO sessions VALUES(CAST('old-client' AS BLOB), 1700000000000);"
	"INSERT INTO subscriptions VALUES(CAST('old-client' AS BLOB), CAST('old/#' AS BLOB), 1);"
	"INSERT INTO queue(client_id, msg_id, qos, state, packet_id) VALUES(CAST('old-client' AS BLOB), 5, 1, 1, 42);"
	"INSERT INTO qos2_in VALUES(CAST('old-client' AS BLOB), 7);"
	"INSERT INTO retained VALUES(CAST('old/retained' AS BLOB), CAST('kept' AS BLOB), 2, 0);";

static struct loaded ld;
static struct fm_errbuf eb;

static void setup(void)
{
	tmp_setup();
	memset(&ld, 0, sizeof(ld));
	memset(&eb, 0, sizeof(eb));
}

static void teardown(void)
{
	loaded_free(&ld);
	tmp_teardown();
}

TestSuite(store_migration, .init = setup, .fini = teardown, .timeout = 20);

/* t_db_path as a schema-1 fleetmq left it (WAL, as every fleetmq store
 * is), with the rows above and then extra (SQL run after them, or NULL). */
static void make_schema_1_store(const char *extra)
{
	cr_assert_eq(mkdir(t_store_dir, 0750), 0);
	size_t len = strlen(schema_v1) + strlen(rows_v1) + (extra ? strlen(extra) : 0) + 64;
	char *sql = malloc(len);
	cr_assert_not_null(sql);
	snprintf(sql, len, "PRAGMA journal_mode=WAL; BEGIN; %s%s%s COMMIT;", schema_v1, rows_v1, extra ? extra : "");
	db_exec(t_db_path, sql);
	free(sql);
	cr_assert_eq(db_int("SELECT version FROM schema_version"), 1);
}

/* Does table have a column of that name? (Only while no store is open.) */
static bool has_column(const char *table, const char *column)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'", table, column);
	return db_int(sql) == 1;
}

static void assert_schema_2_columns(void)
{
	cr_assert(has_column("messages", "props"));
	cr_assert(has_column("retained", "props"));
	cr_assert(has_column("queue", "sub_id"));
	cr_assert(has_column("subscriptions", "sub_id"));
	cr_assert(has_column("sessions", "expiry_interval"));
}

/* The schema-1 rows came back whole, with migration 2's defaults. */
static void assert_v1_rows_loaded(void)
{
	cr_assert_eq(ld.n, 6, "one row of each kind, got %zu rows", ld.n);

	const struct rec *m = rec_message(&ld, 5);
	cr_assert_not_null(m);
	cr_assert_str_eq(m->topic, "old/topic");
	cr_assert(m->payload_len == 11 && memcmp(m->payload, "old payload", 11) == 0);
	cr_assert_eq(m->qos, 1);
	cr_assert_eq(m->expires_at_ms, 1700000005000ull);
	cr_assert_eq(m->props_len, 0, "migration 2 gives old messages empty properties");

	const struct rec *s = rec_session(&ld, "old-client");
	cr_assert_not_null(s);
	cr_assert_eq(s->expires_at_ms, 1700000000000ull);
	cr_assert_eq(s->interval, STORE_INTERVAL_UNKNOWN, "interval %lld: a schema-1 session's is unknown", (long long)s->interval);

	const struct rec *sub = rec_sub(&ld, "old-client", "old/#");
	cr_assert_not_null(sub);
	cr_assert_eq(sub->options, 1);
	cr_assert_eq(sub->sub_id, 0, "migration 2 gives old subscriptions no identifier");

	const struct rec *q[2];
	cr_assert_eq(rec_queue(&ld, "old-client", q, 2), 1);
	cr_assert(q[0]->msg_id == 5 && q[0]->state == STORE_REF_SENT && q[0]->packet_id == 42 && q[0]->qos == 1);
	cr_assert_eq(q[0]->sub_id, 0, "migration 2 gives old queue entries no identifier");

	cr_assert(rec_has_qos2(&ld, "old-client", 7));

	const struct rec *r = rec_retained(&ld, "old/retained");
	cr_assert_not_null(r);
	cr_assert(r->payload_len == 4 && memcmp(r->payload, "kept", 4) == 0);
	cr_assert_eq(r->qos, 2);
	cr_assert_eq(r->props_len, 0, "migration 2 gives old retained messages empty properties");

	cr_assert_eq(ld.max_msg_id, 5);
}

/* A new database is created at 1 and migrated, like an old one. */
Test(store_migration, a_new_store_is_at_the_current_schema_version_with_every_migrations_columns)
{
	struct store *st = open_store(STORE_FULL, 0);
	store_close(st);
	cr_assert_eq(db_int("SELECT count(*) FROM schema_version"), 1, "one version row");
	cr_assert_eq(db_int("SELECT version FROM schema_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(STORE_SCHEMA_VERSION, 2, "this suite knows migrations up to 2; add the next one's test");
	assert_schema_2_columns();
}

/* (b) of the schema-2 change: a schema-1 database with one row of each
 * kind is migrated at open, loads with empty props, sub_id 0 and interval
 * STORE_INTERVAL_UNKNOWN, says version 2 afterwards, and opens again (a
 * migrated store is not migrated twice). */
Test(store_migration, schema_1_store_is_migrated_to_2_and_loads_with_the_new_columns_defaults)
{
	make_schema_1_store(NULL);

	reload(&ld);
	assert_v1_rows_loaded();
	cr_assert_eq(db_int("SELECT version FROM schema_version"), 2);
	cr_assert_eq(db_int("SELECT count(*) FROM schema_version"), 1, "the version row is updated, not added to");
	assert_schema_2_columns();
	/* what the loader maps to STORE_INTERVAL_UNKNOWN is the column's default */
	cr_assert_eq(db_int("SELECT expiry_interval FROM sessions"), -1);

	loaded_free(&ld);
	reload(&ld);
	assert_v1_rows_loaded();
	cr_assert_eq(db_int("SELECT version FROM schema_version"), 2);
}

/* The store's schema-2 statements work on the migrated tables and their old
 * rows (keys bound as blobs match the old blob keys; the old message's
 * reference count is honoured). */
Test(store_migration, a_migrated_store_updates_and_deletes_its_schema_1_rows)
{
	make_schema_1_store(NULL);
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	cr_assert_eq(store_session_put(&b, S("old-client"), 0, 120), FM_OK);
	cr_assert_eq(store_sub_put(&b, S("old-client"), S("old/#"), 2, 33), FM_OK);
	cr_assert_eq(store_ref_del(&b, S("old-client"), 5, 42), FM_OK); /* the PUBACK of the old send */
	struct store_message r = msg_of(S("old/retained"), S("new"), 1);
	r.props = "\x01\x01";
	r.props_len = 2;
	cr_assert_eq(store_retain_put(&b, &r), FM_OK);
	cr_assert_eq(add_msg(&b, 6, S("new/topic"), S("new payload"), 1), FM_OK);
	apply_ok(st, &b);
	store_batch_fini(&b);
	store_close(st);

	reload(&ld);
	cr_assert_eq(rec_count(&ld, REC_SESSION), 1, "the put updated the old session, it did not add one");
	cr_assert_eq(rec_session(&ld, "old-client")->interval, 120);
	cr_assert_eq(rec_count(&ld, REC_SUB), 1);
	cr_assert_eq(rec_sub(&ld, "old-client", "old/#")->sub_id, 33);
	cr_assert_eq(rec_sub(&ld, "old-client", "old/#")->options, 2);
	cr_assert_eq(rec_count(&ld, REC_QUEUED), 0);
	cr_assert_null(rec_message(&ld, 5), "the old message went with its last reference");
	cr_assert_eq(rec_count(&ld, REC_RETAINED), 1);
	cr_assert_eq(rec_retained(&ld, "old/retained")->props_len, 2);
	cr_assert_eq(ld.max_msg_id, 6, "ids continue from the old sqlite_sequence");
	cr_assert_eq(db_int("SELECT count(*) FROM messages WHERE id = 5"), 0);
}

/* A schema-1 database one of whose tables already has a column migration 2
 * adds (hand-edited, or a half-applied foreign change): the migration fails
 * partway, its earlier ALTERs are rolled back with it, the version stays 1
 * and no row is lost; the store is refused, again on a second try. */
Test(store_migration, a_migration_failing_partway_is_rolled_back_and_the_store_refused)
{
	make_schema_1_store("ALTER TABLE retained ADD COLUMN props BLOB;");
	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&eb, 0, sizeof(eb));
		cr_assert_neq(try_open(t_store_dir, &eb), FM_OK, "attempt %d opened", attempt);
		cr_log_info("refused with: %s", eb.msg);
		cr_assert_not_null(strstr(eb.msg, "migration"), "message: %s", eb.msg);
		cr_assert_not_null(strstr(eb.msg, t_db_path), "message: %s", eb.msg);
		cr_assert_eq(db_int("SELECT version FROM schema_version"), 1);
		cr_assert_not(has_column("messages", "props"), "migration 2's first ALTER was kept");
		cr_assert_not(has_column("queue", "sub_id"));
		cr_assert_not(has_column("sessions", "expiry_interval"));
		cr_assert_eq(db_int("SELECT count(*) FROM messages"), 1);
		cr_assert_eq(db_int("SELECT count(*) FROM queue"), 1);
		cr_assert_eq(db_int("SELECT count(*) FROM sessions"), 1);
	}
}

/* (c) of the schema-2 change: a real store whose version row a later
 * fleetmq moved to 3 (its own migration done) is refused as newer before
 * anything is migrated or written; not a byte of it changes. */
Test(store_migration, schema_3_store_is_refused_as_newer_and_left_untouched)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	cr_assert_eq(store_session_put(&b, S("c1"), 0, 60), FM_OK);
	apply_ok(st, &b);
	store_batch_fini(&b);
	store_close(st);
	db_exec(t_db_path, "UPDATE schema_version SET version = 3; CREATE TABLE from_schema_3(x);");

	size_t len;
	uint8_t *before = file_read(t_db_path, &len);
	cr_assert_neq(try_open(t_store_dir, &eb), FM_OK);
	cr_assert_not_null(strstr(eb.msg, "newer"), "message: %s", eb.msg);
	cr_assert_not_null(strstr(eb.msg, "schema version 3"), "message: %s", eb.msg);
	file_assert_same(t_db_path, before, len);
	free(before);
	cr_assert_eq(db_int("SELECT version FROM schema_version"), 3);
}
