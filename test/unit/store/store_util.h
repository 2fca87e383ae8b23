/* Shared by the store tests: a temporary directory per test, a loader that
 * records every row store_load() hands it (so tests assert on what really
 * came back from disk), batches that signal a waiting test when the store
 * thread is done with them, and raw access to the database and its file.
 *
 * Every helper asserts (criterion) instead of returning an error: a test
 * reads as the story it checks, not as error handling. */
#ifndef FM_TEST_STORE_UTIL_H
#define FM_TEST_STORE_UTIL_H

#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A C string as the (pointer, length) pair the store's functions take. */
#define S(s) (s), strlen(s)

/* --- messages ------------------------------------------------------------------ */

/* A message with that topic, payload and QoS (each a pointer and length,
 * as S() gives them): no id, no properties, no expiry. Tests set the other
 * fields they need. Asserts nothing, so producer threads may use it. */
struct store_message msg_of(const char *topic, size_t topic_len, const void *payload, size_t payload_len,
			    uint8_t qos);
/* store_msg_add() of msg_of(...) with msg_id; returns its result. */
int add_msg(struct store_batch *b, uint64_t msg_id, const char *topic, size_t topic_len, const void *payload,
	    size_t payload_len, uint8_t qos);
/* store_retain_put() of msg_of(...); returns its result. */
int put_retained(struct store_batch *b, const char *topic, size_t topic_len, const void *payload,
		 size_t payload_len, uint8_t qos);

/* --- the test's directory --------------------------------------------------- */

extern char t_dir[64];        /* mkdtemp under /tmp, made by tmp_setup() */
extern char t_store_dir[128]; /* t_dir/store: not created, store_open() makes it */
extern char t_db_path[192];   /* t_store_dir/fleetmq.db */

/* TestSuite .init and .fini: make the directory, and remove it with
 * everything in it. */
void tmp_setup(void);
void tmp_teardown(void);

/* --- opening and applying ---------------------------------------------------- */

/* store_open(t_store_dir) that must succeed. */
struct store *open_store(enum store_durability durability, uint32_t batched_interval_ms);
/* store_open(dir); closes again on success. Returns store_open's result. */
int try_open(const char *dir, struct fm_errbuf *eb);

/* A done callback for batches applied with store_apply_now(). */
void done_nothing(struct store_batch *b);
/* store_apply_now(b), assert it succeeded, and empty b for the next use. */
void apply_ok(struct store *st, struct store_batch *b);

/* --- batches driven through the store thread ------------------------------- */

/* Counts finished batches; a test waits on it for the count it expects. */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned done;      /* batches handed back so far */
};

void waiter_init(struct waiter *w);
void waiter_fini(struct waiter *w);
/* Block until at least n batches came back (no timeout: a hang is caught
 * by the suite's timeout, and nothing here asserts on time). */
void waiter_wait(struct waiter *w, unsigned n);

struct waited_batch {
	struct store_batch b;       /* first: the done callback casts back */
	struct waiter *w;
	struct store *st;
	uint64_t commits_at_done;   /* store_stats().commits when done was called */
};

/* b.done records the commit count, then signals w. */
void waited_batch_init(struct waited_batch *wb, struct waiter *w, struct store *st);

/* --- the recording loader --------------------------------------------------- */

enum rec_kind { REC_MESSAGE, REC_SESSION, REC_SUB, REC_QUEUED, REC_QOS2, REC_RETAINED };

/* One row as a loader callback got it; strings are copied and NUL-terminated
 * (lengths kept, so embedded NULs can be compared too). */
struct rec {
	enum rec_kind kind;
	char client[64];
	size_t client_len;
	char topic[256];        /* topic, or the filter of a subscription */
	size_t topic_len;
	uint8_t *payload;       /* malloc'd copy */
	size_t payload_len;
	uint8_t *props;         /* malloc'd copy (messages, retained) */
	size_t props_len;
	uint32_t sub_id;        /* subscriptions and queue entries */
	int64_t interval;       /* sessions: expiry interval (STORE_INTERVAL_UNKNOWN: schema 1) */
	uint64_t msg_id;
	uint64_t expires_at_ms;
	uint8_t qos;
	uint8_t options;
	uint8_t state;          /* enum store_ref_state */
	uint16_t packet_id;
};

struct loaded {
	struct rec *v;          /* every row, in the order the callbacks came */
	size_t n, cap;
	uint64_t max_msg_id;
	enum rec_kind fail_kind; /* with fail_rc: the first callback of this kind returns it */
	int fail_rc;
};

/* The loader whose callbacks append to ld. */
struct store_loader recording_loader(struct loaded *ld);
/* Open t_store_dir, load everything into *ld (zeroed first), close. */
void reload(struct loaded *ld);
void loaded_free(struct loaded *ld);

size_t rec_count(const struct loaded *ld, enum rec_kind kind);
/* NULL when absent. */
const struct rec *rec_message(const struct loaded *ld, uint64_t msg_id);
const struct rec *rec_session(const struct loaded *ld, const char *client_id);
const struct rec *rec_sub(const struct loaded *ld, const char *client_id, const char *filter);
const struct rec *rec_retained(const struct loaded *ld, const char *topic);
bool rec_has_qos2(const struct loaded *ld, const char *client_id, uint16_t packet_id);
/* client_id's queue entries in load order (at most max); returns how many. */
size_t rec_queue(const struct loaded *ld, const char *client_id, const struct rec **out, size_t max);

/* --- the database file, bypassing the store -------------------------------- */

/* One integer from sql run on t_db_path through a connection of our own
 * (only while no store has it open: the store holds an exclusive lock). */
long long db_int(const char *sql);
/* Run sql (several statements) on the sqlite database at path. */
void db_exec(const char *path, const char *sql);

/* The whole file, malloc'd. */
uint8_t *file_read(const char *path, size_t *len);
void file_write(const char *path, const void *data, size_t len);
/* The file holds exactly want. */
void file_assert_same(const char *path, const uint8_t *want, size_t len);

#endif
