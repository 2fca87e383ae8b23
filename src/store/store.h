/* The durable store: what must survive a crash, behind a small interface.
 *
 * The broker describes changes as operations (a message logged, a message
 * referenced by a session's queue, acknowledged, a subscription saved, a
 * retained message set ...) collected into batches; the store applies each
 * batch it is given, in order, and several batches together in one
 * transaction (group commit). It knows sessions only by client id and
 * messages only as id, topic, payload, QoS and expiry: nothing of MQTT's
 * wire format, nothing of the broker's structs.
 *
 * Threading: a store thread (store_start) owns the database connection.
 * Workers fill batches (store_batch_*), hand them over with store_submit()
 * and get each back through its done callback, called on the store thread
 * once the transaction holding it has committed (durability `full`) or has
 * been written to the database without waiting for the disk (`batched`).
 * The callback must only pass the batch on (e.g. post it to the worker's
 * inbox); the worker then reads b->rc and recycles the batch.
 *
 * Messages are logged once (by id) and referenced by every queue entry that
 * holds them; a message goes when its last reference does. */
#ifndef FM_STORE_STORE_H
#define FM_STORE_STORE_H

#include "core/err.h"
#include "loop/inbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Schema version this build writes; an older database is migrated forward,
 * a newer one is refused. */
#define STORE_SCHEMA_VERSION 2

enum store_durability {
	STORE_FULL,    /* fsync on every group commit; acknowledge after it */
	STORE_BATCHED, /* commit at most every interval; acknowledge before */
	STORE_MEMORY,  /* no store at all */
};

/* A queue entry's delivery state, as the session's inflight window has it. */
enum store_ref_state {
	STORE_REF_QUEUED = 0,   /* waiting to be sent */
	STORE_REF_SENT = 1,     /* sent with packet_id, no PUBACK/PUBREC yet */
	STORE_REF_RELEASED = 2, /* PUBREC received, PUBREL sent with packet_id */
	STORE_REF_SPILLED = 3,  /* waiting to be sent, kept only here (not in the broker's memory) */
};

enum store_op_type {
	STORE_MSG_ADD,      /* log message msg_id (topic, payload, props, qos, expiry) */
	STORE_REF_ADD,      /* client's queue gains msg_id at qos (state, packet_id, sub_id) */
	STORE_REF_STATE,    /* an entry of msg_id moves to state: to SENT the oldest unsent one
	                     * (taking packet_id), to RELEASED the one sent with packet_id */
	STORE_REF_DEL,      /* the entry sent with packet_id (or, with 0, the oldest unsent one)
	                     * is acknowledged or dropped; the message goes with its last entry */
	STORE_SESSION_PUT,  /* client's session exists (deadline: 0 = none now; expiry interval) */
	STORE_SESSION_DEL,  /* client's session ends: its subscriptions and queue go too */
	STORE_SUB_PUT,      /* client subscribes to filter with options (and sub_id) */
	STORE_SUB_DEL,      /* client unsubscribes from filter */
	STORE_RETAIN_PUT,   /* topic's retained message (payload, props, qos, expiry) */
	STORE_RETAIN_DEL,   /* topic has no retained message any more */
	STORE_QOS2_IN_ADD,  /* client's incoming QoS 2 packet_id awaits PUBREL */
	STORE_QOS2_IN_DEL,  /* ... released */
	STORE_QUEUE_SPLIT,  /* client's waiting entries (queued or spilled), oldest first: the first
	                     * count queued, the rest spilled (used at start) */
	STORE_QUEUE_READ,   /* up to count of client's spilled entries, oldest first, become queued
	                     * again and are read back into the batch's rows */
	STORE_WILL_PUT,     /* client's will waits to be published at expires_at_ms */
	STORE_WILL_DEL,     /* ... published, or cancelled by a reconnect */
};

/* Strings and payloads live in the batch's arena (offsets, so the arena can
 * grow while the batch fills). */
struct store_span {
	uint32_t off, len;
};

struct store_op {
	uint8_t type;           /* enum store_op_type */
	uint8_t qos;
	uint8_t state;          /* enum store_ref_state */
	uint8_t options;        /* subscription options */
	uint16_t packet_id;
	uint32_t sub_id;        /* subscription identifier (SUB_PUT, REF_ADD) */
	uint32_t count;         /* QUEUE_SPLIT, QUEUE_READ */
	int64_t interval;       /* SESSION_PUT: session expiry interval, seconds (or STORE_INTERVAL_UNKNOWN) */
	uint64_t msg_id;
	uint64_t expires_at_ms; /* wall clock; 0 = never */
	struct store_span client_id;
	struct store_span topic;   /* topic, or the filter for SUB_* */
	struct store_span payload;
	struct store_span props;   /* opaque bytes kept with a message (MQTT 5.0 properties) */
};

/* A message as the store keeps it, logged or retained. props are opaque
 * to the store. */
struct store_message {
	uint64_t msg_id;        /* logged messages only */
	const char *topic;
	size_t topic_len;
	const void *payload;
	size_t payload_len;
	const void *props;
	size_t props_len;
	uint8_t qos;
	uint64_t expires_at_ms; /* wall clock; 0 = never */
};

/* A session's expiry interval as stored for sessions written before it was
 * (schema 1): the broker applies its configured default. */
#define STORE_INTERVAL_UNKNOWN (-1)


/* A queue entry read back by STORE_QUEUE_READ, with its message; spans
 * are in the batch's row arena. */
struct store_row {
	uint64_t seq;           /* the entry's place in the queue table */
	uint32_t op;            /* index of the QUEUE_READ op it answers */
	uint8_t qos;            /* the entry's (delivery) QoS */
	uint8_t msg_qos;
	uint32_t sub_id;
	uint64_t msg_id;
	uint64_t expires_at_ms;
	struct store_span topic, payload, props;
};

struct store_batch;
typedef void store_done_fn(struct store_batch *b);

struct store_batch {
	struct inbox_node node;  /* in the store's inbox */
	struct store_op *ops;
	uint32_t n_ops, cap_ops;
	uint8_t *arena;
	uint32_t arena_used, arena_cap;
	struct store_row *rows;  /* what QUEUE_READ ops read (filled by the store) */
	uint32_t n_rows, cap_rows;
	uint8_t *row_arena;
	uint32_t row_arena_used, row_arena_cap;
	store_done_fn *done;     /* called on the store thread when applied */
	int rc;                  /* FM_OK, FM_EFULL (out of space), or why the batch could not be applied */
};

/* --- building batches (any thread; a batch belongs to one at a time) ------ */

void store_batch_init(struct store_batch *b, store_done_fn *done);
void store_batch_fini(struct store_batch *b);
/* Empty it for reuse (keeps its memory). */
void store_batch_reset(struct store_batch *b);
static inline bool store_batch_empty(const struct store_batch *b) { return b->n_ops == 0; }

int store_msg_add(struct store_batch *b, const struct store_message *m);
int store_ref_add(struct store_batch *b, const char *client_id, size_t id_len, uint64_t msg_id,
		  uint8_t qos, enum store_ref_state state, uint16_t packet_id, uint32_t sub_id);
int store_ref_state(struct store_batch *b, const char *client_id, size_t id_len, uint64_t msg_id,
		    enum store_ref_state state, uint16_t packet_id);
/* packet_id: the id the entry was sent with (PUBACK, PUBCOMP), or 0 for the
 * oldest entry of msg_id not sent yet (dropped by a queue limit). */
int store_ref_del(struct store_batch *b, const char *client_id, size_t id_len, uint64_t msg_id,
		  uint16_t packet_id);
/* expires_at_ms: the offline session's deadline (0: none running);
 * interval: its expiry interval in seconds (0xFFFFFFFF: never), or
 * STORE_INTERVAL_UNKNOWN to leave it to the broker's configuration. */
int store_session_put(struct store_batch *b, const char *client_id, size_t id_len, uint64_t expires_at_ms,
		      int64_t interval);
int store_session_del(struct store_batch *b, const char *client_id, size_t id_len);
int store_sub_put(struct store_batch *b, const char *client_id, size_t id_len, const char *filter,
		  size_t filter_len, uint8_t options, uint32_t sub_id);
int store_sub_del(struct store_batch *b, const char *client_id, size_t id_len, const char *filter,
		  size_t filter_len);
int store_retain_put(struct store_batch *b, const struct store_message *m);
int store_retain_del(struct store_batch *b, const char *topic, size_t topic_len);
/* Spilling a long queue to the store only (the broker keeps the oldest
 * entries in memory, marks the rest STORE_REF_SPILLED with store_ref_state,
 * and reads them back as the memory part drains). */
int store_queue_split(struct store_batch *b, const char *client_id, size_t id_len, uint32_t keep);
int store_queue_read(struct store_batch *b, const char *client_id, size_t id_len, uint32_t count);
/* The bytes of a row span. */
static inline const void *store_row_bytes(const struct store_batch *b, struct store_span s)
{
	return b->row_arena + s.off;
}
int store_qos2_in_add(struct store_batch *b, const char *client_id, size_t id_len, uint16_t packet_id);
int store_qos2_in_del(struct store_batch *b, const char *client_id, size_t id_len, uint16_t packet_id);
/* A will waiting for its delay (5.0 Will Delay Interval): m's expires_at_ms
 * is when it is to be published. A session's end deletes its will too. */
int store_will_put(struct store_batch *b, const char *client_id, size_t id_len, const struct store_message *m,
		   bool retain);
int store_will_del(struct store_batch *b, const char *client_id, size_t id_len);

/* The bytes of a span of b. */
static inline const void *store_bytes(const struct store_batch *b, struct store_span s)
{
	return b->arena + s.off;
}

/* --- the store ------------------------------------------------------------ */

struct store;

struct store_opts {
	const char *dir;               /* created if missing (one level) */
	enum store_durability durability; /* FULL or BATCHED */
	uint32_t batched_interval_ms;  /* BATCHED: longest wait before a commit */
	uint64_t max_bytes;            /* cap on the database file (0: none): past it, writes fail FM_EFULL */
	uint32_t sweep_ms;             /* how often expired messages are removed (0: STORE_SWEEP_MS) */
};

/* Expired messages (and the queue entries waiting with them, and expired
 * retained messages) are removed from the store this often. */
#define STORE_SWEEP_MS 60000u

/* Open (or create) dir/fleetmq.db. Refuses, with the reason in eb: an
 * unwritable or uncreatable directory, a file that is not a fleetmq
 * database or is corrupt, one another running broker holds, one written
 * by a newer fleetmq (schema version above ours). Never deletes or
 * rewrites user data it cannot read. Older schemas are migrated. */
int store_open(struct store **out, const struct store_opts *o, struct fm_errbuf *eb);
/* Stop the thread if started (applying what was submitted) and close. */
void store_close(struct store *st);

/* What the database holds, delivered once at start by store_load(), in
 * this order: messages (only if the loader asks: queue entries bring
 * theirs), delayed wills, sessions, subscriptions, queue entries (oldest
 * first per session, each with its message), incoming QoS 2 ids, retained
 * messages. Each callback
 * returns FM_OK or an error that stops the load. Strings are not
 * NUL-terminated and are valid only during the call. */
struct store_loader {
	void *arg;
	int (*message)(void *arg, const struct store_message *m);
	/* interval: STORE_INTERVAL_UNKNOWN for a session stored by schema 1 */
	int (*session)(void *arg, const char *client_id, size_t id_len, uint64_t expires_at_ms, int64_t interval);
	int (*subscription)(void *arg, const char *client_id, size_t id_len, const char *filter,
			    size_t filter_len, uint8_t options, uint32_t sub_id);
	/* m: the entry's message (m->msg_id); the same message comes with
	 * every entry that refers to it */
	int (*queued)(void *arg, const char *client_id, size_t id_len, const struct store_message *m, uint8_t qos,
		      enum store_ref_state state, uint16_t packet_id, uint32_t sub_id);
	int (*qos2_in)(void *arg, const char *client_id, size_t id_len, uint16_t packet_id);
	int (*retained)(void *arg, const struct store_message *m);
	/* m->expires_at_ms is 0; publish_at_ms is when the will is due */
	int (*will)(void *arg, const char *client_id, size_t id_len, const struct store_message *m, bool retain,
		    uint64_t publish_at_ms);
};

/* Read everything (before store_start). The largest message id seen goes
 * to *max_msg_id so new ids continue above it. */
int store_load(struct store *st, const struct store_loader *l, uint64_t *max_msg_id, struct fm_errbuf *eb);

/* A new cap on the database file (any thread; applied before the next
 * transaction). Raising it lets a full store write again. */
void store_set_max_bytes(struct store *st, uint64_t max_bytes);

/* Start the store thread. */
int store_start(struct store *st);
/* Hand b to the store thread (any thread). b comes back through b->done. */
void store_submit(struct store *st, struct store_batch *b);
/* Apply b on the calling thread, synchronously (tests, and shutdown after
 * the thread stopped). Calls b->done. */
void store_apply_now(struct store *st, struct store_batch *b);

/* Counters for stats: batches and transactions committed, their latency. */
struct store_stats {
	uint64_t batches;
	uint64_t commits;
	uint64_t ops;
	uint64_t commit_us_total;
	uint64_t commit_us_max;
	uint64_t errors;
	uint64_t swept;       /* rows removed because they expired */
	uint64_t queued;      /* batches waiting for the store thread now */
};
struct store_stats store_stats(const struct store *st);
/* Commit latencies so far, added into *into (any thread). */
struct histogram_reading;
void store_commit_latency(const struct store *st, struct histogram_reading *into);

#endif
