/* The sqlite database under the store: opening with every refusal the
 * store promises, the schema and its migrations, applying operations,
 * loading. Single-threaded: whoever holds the struct store_db uses it
 * (the store thread, or a test). */
#ifndef FM_STORE_STORE_DB_H
#define FM_STORE_STORE_DB_H

#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

/* One prepared statement per thing the store does, prepared at open. */
enum store_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_MSG_ADD, ST_MSG_REF, ST_MSG_UNREF, ST_MSG_GC,
	ST_REF_ADD, ST_REF_FIND, ST_REF_SET, ST_REF_DEL,
	ST_SESSION_PUT, ST_SESSION_UNREF_MSGS, ST_SESSION_GC_MSGS, ST_SESSION_DEL_QUEUE,
	ST_SESSION_DEL_SUBS, ST_SESSION_DEL_QOS2, ST_SESSION_DEL,
	ST_SUB_PUT, ST_SUB_DEL,
	ST_RETAIN_PUT, ST_RETAIN_DEL,
	ST_QOS2_ADD, ST_QOS2_DEL,
	ST_WILL_PUT, ST_WILL_DEL, ST_SESSION_DEL_WILL,
	ST_QUEUE_UNSPILL, ST_QUEUE_SPILL_FROM, ST_QUEUE_READ,
	ST_SWEEP_QUEUE, ST_SWEEP_REFS, ST_SWEEP_MSGS, ST_SWEEP_RETAINED,
	ST_COUNT
};

struct store_db {
	struct sqlite3 *db;
	struct sqlite3_stmt *stmt[ST_COUNT];
	char path[4096];
};

/* Cap the database file at max_bytes (0: no cap); a write that would grow
 * it further fails with FM_EFULL, like a full disk. */
int store_db_set_max_bytes(struct store_db *d, uint64_t max_bytes);

/* Open dir/fleetmq.db exclusively (see store_open for the refusals). */
int store_db_open(struct store_db *d, const char *dir, enum store_durability durability, struct fm_errbuf *eb);
void store_db_close(struct store_db *d);

int store_db_begin(struct store_db *d);
int store_db_commit(struct store_db *d);
void store_db_rollback(struct store_db *d);
/* Apply every op of b inside the current transaction. FM_OK or FM_ESTORE
 * (the sqlite message is logged by the caller from store_db_error). */
int store_db_apply(struct store_db *d, struct store_batch *b);
/* Remove what expired by now_ms (wall clock): waiting queue entries of
 * expired messages, the messages no entry refers to any more, expired
 * retained messages. Inside the caller's transaction. Rows removed in
 * *removed. */
int store_db_sweep(struct store_db *d, uint64_t now_ms, uint64_t *removed);
/* The same, all or nothing inside the open transaction (a savepoint): a
 * failing batch leaves no trace in it. */
int store_db_apply_atomic(struct store_db *d, struct store_batch *b);
const char *store_db_error(const struct store_db *d);
/* Whether a transaction is open (sqlite ends one by itself on some errors,
 * e.g. a full disk). */
bool store_db_in_transaction(const struct store_db *d);

int store_db_load(struct store_db *d, const struct store_loader *l, uint64_t *max_msg_id, struct fm_errbuf *eb);

#endif
