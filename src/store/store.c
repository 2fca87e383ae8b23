/* The store thread: group commit over batches from every worker.
 *
 * Workers push batches into the store's inbox (MPSC, no lock); the thread
 * wakes, takes everything that has arrived, applies it all in one
 * transaction and commits once, then hands each batch back through its
 * done callback. Under load, a commit's fsync covers every batch that
 * arrived while the previous one was syncing, so the cost per operation
 * falls as the load rises.
 *
 * `batched` durability applies batches as they arrive and hands them back
 * at once (their operations are in sqlite's hands, not yet on disk), and
 * commits on a timer: what the last interval changed can be lost on a
 * crash, which is the documented price.
 *
 * A failing batch (disk full, I/O error) does not take the others down:
 * the transaction is rolled back and each batch retried in its own, so
 * only the failing ones come back with an error. */
#include "store/store.h"
#include "store/store_db.h"

#include "core/clock.h"
#include "core/grow.h"
#include "core/histogram.h"
#include "loop/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct store {
	struct store_db db;
	struct store_opts opts;
	struct loop *loop;
	struct inbox inbox;
	pthread_t thread;
	bool started;
	bool txn_open;            /* batched: a transaction waits for its commit timer */
	struct loop_timer commit_timer;
	struct loop_timer sweep_timer;  /* expired entries, messages, retained messages */
	struct store_batch **taken; /* one drain's batches */
	uint32_t n_taken, cap_taken;
	_Atomic uint64_t batches, commits, ops, commit_us_total, commit_us_max, errors, swept;
	_Atomic uint64_t submitted;      /* batches handed to the thread (queue depth: submitted - batches) */
	struct histogram commit_hist;    /* commit latency (store thread writes) */
	_Atomic uint64_t max_bytes;      /* wanted cap, set by any thread */
	uint64_t max_bytes_applied;      /* the cap the connection has (store thread) */
};

static void count_commit(struct store *st, uint64_t started_us)
{
	uint64_t us = clock_mono_us() - started_us;
	atomic_fetch_add_explicit(&st->commits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->commit_us_total, us, memory_order_relaxed);
	if (us > atomic_load_explicit(&st->commit_us_max, memory_order_relaxed))
		atomic_store_explicit(&st->commit_us_max, us, memory_order_relaxed);
	histogram_observe(&st->commit_hist, us);
}

static void finish(struct store *st, struct store_batch *b, int rc)
{
	b->rc = rc;
	atomic_fetch_add_explicit(&st->batches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->ops, b->n_ops, memory_order_relaxed);
	if (rc != FM_OK)
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
	b->done(b);
}

/* One batch in a transaction of its own (after a group failed). Out of
 * space is told apart from other failures (FM_EFULL). */
static int apply_alone(struct store *st, struct store_batch *b)
{
	uint64_t t0 = clock_mono_us();
	if (store_db_begin(&st->db) != FM_OK)
		return FM_ESTORE;
	int rc = store_db_apply(&st->db, b);
	if (rc == FM_OK)
		rc = store_db_commit(&st->db);
	if (rc != FM_OK) {
		store_db_rollback(&st->db);
		return rc == FM_EFULL ? FM_EFULL : FM_ESTORE;
	}
	count_commit(st, t0);
	return FM_OK;
}

/* A cap changed by a reload takes effect between transactions. */
static void apply_max_bytes(struct store *st)
{
	uint64_t want = atomic_load_explicit(&st->max_bytes, memory_order_relaxed);
	if (want != st->max_bytes_applied && !st->txn_open && store_db_set_max_bytes(&st->db, want) == FM_OK)
		st->max_bytes_applied = want;
}

void store_set_max_bytes(struct store *st, uint64_t max_bytes)
{
	atomic_store_explicit(&st->max_bytes, max_bytes, memory_order_relaxed);
	loop_wake(st->loop);
}

static void apply_group(struct store *st, struct store_batch **v, size_t n)
{
	uint64_t t0 = clock_mono_us();
	bool ok = store_db_begin(&st->db) == FM_OK;
	for (size_t i = 0; ok && i < n; i++)
		ok = store_db_apply(&st->db, v[i]) == FM_OK;
	if (ok && store_db_commit(&st->db) == FM_OK) {
		count_commit(st, t0);
		for (size_t i = 0; i < n; i++)
			finish(st, v[i], FM_OK);
		return;
	}
	store_db_rollback(&st->db);
	for (size_t i = 0; i < n; i++)
		finish(st, v[i], apply_alone(st, v[i]));
}

static void commit_batched(struct store *st)
{
	if (!st->txn_open)
		return;
	uint64_t t0 = clock_mono_us();
	st->txn_open = false;
	if (store_db_commit(&st->db) == FM_OK) {
		count_commit(st, t0);
	} else {
		/* acknowledged already: the loss the batched setting accepts */
		store_db_rollback(&st->db);
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
	}
}

/* Expired messages leave the store without anyone asking for them: every
 * STORE_SWEEP_MS, in a transaction of its own (or, with batched, the open
 * one). */
static void sweep(struct store *st)
{
	uint64_t removed = 0;
	bool own = !st->txn_open;
	if (own && store_db_begin(&st->db) != FM_OK)
		return;
	int rc = store_db_sweep(&st->db, clock_wall_ms(), &removed);
	if (own && (rc != FM_OK || store_db_commit(&st->db) != FM_OK)) {
		store_db_rollback(&st->db);
		rc = FM_ESTORE;
	}
	if (rc != FM_OK)
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&st->swept, removed, memory_order_relaxed);
}

static void on_sweep_timer(struct loop *lp, struct loop_timer *t)
{
	struct store *st = list_entry(t, struct store, sweep_timer);
	sweep(st);
	loop_timer_start(lp, t, st->opts.sweep_ms ? st->opts.sweep_ms : STORE_SWEEP_MS);
}

static void on_commit_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	commit_batched(list_entry(t, struct store, commit_timer));
}

static void apply_batched(struct store *st, struct store_batch **v, size_t n)
{
	if (!st->txn_open) {
		if (store_db_begin(&st->db) != FM_OK) {
			for (size_t i = 0; i < n; i++)
				finish(st, v[i], FM_ESTORE);
			return;
		}
		st->txn_open = true;
		loop_timer_start(st->loop, &st->commit_timer, st->opts.batched_interval_ms);
	}
	for (size_t i = 0; i < n; i++) {
		int rc = store_db_apply_atomic(&st->db, v[i]);
		if (rc != FM_OK && rc != FM_EFULL)
			rc = FM_ESTORE;
		if (!store_db_in_transaction(&st->db)) {
			/* sqlite rolled the whole transaction back (disk full, I/O
			 * error): what this interval acknowledged is lost, the price
			 * of batched; say so and start a new transaction */
			st->txn_open = false;
			loop_timer_stop(st->loop, &st->commit_timer);
			atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
			rc = FM_ESTORE;
		}
		finish(st, v[i], rc);
		if (!st->txn_open && i + 1 < n) {
			apply_batched(st, v + i + 1, n - i - 1);
			return;
		}
	}
}

static bool take(struct store *st, struct store_batch *b)
{
	if (fm_grow((void **)&st->taken, &st->cap_taken, st->n_taken + 1, sizeof(*st->taken), 64) != FM_OK)
		return false;
	st->taken[st->n_taken++] = b;
	return true;
}

static void drain(struct loop *lp, void *arg)
{
	(void)lp;
	struct store *st = arg;
	apply_max_bytes(st);
	inbox_begin_drain(&st->inbox);
	st->n_taken = 0;
	for (struct inbox_node *n; (n = inbox_pop(&st->inbox)) != NULL;) {
		struct store_batch *b = (struct store_batch *)((char *)n - offsetof(struct store_batch, node));
		if (!take(st, b))
			finish(st, b, apply_alone(st, b)); /* no room to group it */
	}
	if (st->n_taken == 0)
		return;
	if (st->opts.durability == STORE_BATCHED)
		apply_batched(st, st->taken, st->n_taken);
	else
		apply_group(st, st->taken, st->n_taken);
	st->n_taken = 0;
}

static void *store_main(void *arg)
{
	struct store *st = arg;
	loop_timer_start(st->loop, &st->sweep_timer, st->opts.sweep_ms ? st->opts.sweep_ms : STORE_SWEEP_MS);
	loop_run(st->loop);
	drain(st->loop, st); /* whatever was submitted before the stop */
	commit_batched(st);
	return NULL;
}

int store_open(struct store **out, const struct store_opts *o, struct fm_errbuf *eb)
{
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return FM_ENOMEM;
	st->opts = *o;
	if (st->opts.batched_interval_ms == 0)
		st->opts.batched_interval_ms = 100;
	int rc = store_db_open(&st->db, o->dir, o->durability, eb);
	if (rc == FM_OK && o->max_bytes && store_db_set_max_bytes(&st->db, o->max_bytes) != FM_OK) {
		fm_errbuf_set(eb, "store %s: cannot set its size limit: %s", o->dir, store_db_error(&st->db));
		rc = FM_ESTORE;
	}
	st->max_bytes_applied = o->max_bytes;
	atomic_init(&st->max_bytes, o->max_bytes);
	if (rc == FM_OK && (st->loop = loop_new()) == NULL)
		rc = FM_ENOMEM;
	if (rc != FM_OK) {
		store_db_close(&st->db);
		free(st);
		return rc;
	}
	inbox_init(&st->inbox, st->loop);
	loop_set_wake_fn(st->loop, drain, st);
	loop_timer_init(&st->commit_timer, on_commit_timer);
	loop_timer_init(&st->sweep_timer, on_sweep_timer);
	*out = st;
	return FM_OK;
}

int store_load(struct store *st, const struct store_loader *l, uint64_t *max_msg_id, struct fm_errbuf *eb)
{
	return store_db_load(&st->db, l, max_msg_id, eb);
}

int store_start(struct store *st)
{
	if (pthread_create(&st->thread, NULL, store_main, st) != 0)
		return FM_ENOMEM;
	st->started = true;
	return FM_OK;
}

void store_submit(struct store *st, struct store_batch *b)
{
	/* one per worker loop iteration at most: a shared add is cheap here */
	atomic_fetch_add_explicit(&st->submitted, 1, memory_order_relaxed);
	inbox_push(&st->inbox, &b->node);
}

void store_apply_now(struct store *st, struct store_batch *b)
{
	if (st->txn_open)
		commit_batched(st);
	finish(st, b, apply_alone(st, b));
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->started) {
		loop_stop(st->loop);
		pthread_join(st->thread, NULL);
	} else {
		drain(st->loop, st);
		commit_batched(st);
	}
	store_db_close(&st->db);
	loop_free(st->loop);
	free(st->taken);
	free(st);
}

void store_commit_latency(const struct store *st, struct histogram_reading *into)
{
	histogram_read_into(&st->commit_hist, into);
}

/* Batches submitted and not yet applied (read in that order, so the
 * difference is never negative). */
static uint64_t queue_depth(struct store *s)
{
	uint64_t done = atomic_load_explicit(&s->batches, memory_order_relaxed);
	uint64_t in = atomic_load_explicit(&s->submitted, memory_order_relaxed);
	return in > done ? in - done : 0;
}

struct store_stats store_stats(const struct store *st)
{
	struct store *s = (struct store *)st;
	return (struct store_stats){
		.batches = atomic_load_explicit(&s->batches, memory_order_relaxed),
		.commits = atomic_load_explicit(&s->commits, memory_order_relaxed),
		.ops = atomic_load_explicit(&s->ops, memory_order_relaxed),
		.commit_us_total = atomic_load_explicit(&s->commit_us_total, memory_order_relaxed),
		.commit_us_max = atomic_load_explicit(&s->commit_us_max, memory_order_relaxed),
		.errors = atomic_load_explicit(&s->errors, memory_order_relaxed),
		.swept = atomic_load_explicit(&s->swept, memory_order_relaxed),
		.queued = queue_depth(s),
	};
}
