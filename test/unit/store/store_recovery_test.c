/* The store thread and what survives a restart: batches submitted to the
 * thread and handed back through done, group commit (one transaction for
 * everything that arrived together, a failing batch failing alone), the
 * two durability settings, and the message id high-water mark that
 * store_load() reports so ids are never reused.
 *
 * Waiting is on a condition variable signalled from done, never on time:
 * the suite's timeout only turns a hang into a failure. */
#include "store_util.h"

#include <criterion/criterion.h>
#include <stdio.h>

static struct loaded ld;

static void setup(void)
{
	tmp_setup();
	memset(&ld, 0, sizeof(ld));
}

static void teardown(void)
{
	loaded_free(&ld);
	tmp_teardown();
}

TestSuite(store_recovery, .init = setup, .fini = teardown, .timeout = 20);

/* Everything a session has, with msg_id as its one queued message. */
static void fill_session(struct store_batch *b, const char *client, uint64_t msg_id)
{
	char topic[64];
	snprintf(topic, sizeof(topic), "t/%s", client);
	cr_assert_eq(store_session_put(b, S(client), msg_id * 1000), FM_OK);
	cr_assert_eq(store_sub_put(b, S(client), S(topic), 1), FM_OK);
	cr_assert_eq(store_msg_add(b, msg_id, S(topic), S(client), 1, 0), FM_OK);
	cr_assert_eq(store_ref_add(b, S(client), msg_id, 1, STORE_REF_QUEUED, 0), FM_OK);
	cr_assert_eq(store_qos2_in_add(b, S(client), (uint16_t)msg_id), FM_OK);
	cr_assert_eq(store_retain_put(b, S(topic), S(client), 0, 0), FM_OK);
}

/* What fill_session(client, msg_id) wrote came back from the load. */
static void assert_session_loaded(const char *client, uint64_t msg_id)
{
	char topic[64];
	snprintf(topic, sizeof(topic), "t/%s", client);
	const struct rec *s = rec_session(&ld, client);
	cr_assert_not_null(s, "session %s missing", client);
	cr_assert_eq(s->expires_at_ms, msg_id * 1000);
	cr_assert_not_null(rec_sub(&ld, client, topic), "%s's subscription missing", client);
	const struct rec *m = rec_message(&ld, msg_id);
	cr_assert_not_null(m, "message %llu missing", (unsigned long long)msg_id);
	cr_assert_str_eq(m->topic, topic);
	const struct rec *q[1];
	cr_assert_eq(rec_queue(&ld, client, q, 1), 1);
	cr_assert_eq(q[0]->msg_id, msg_id);
	cr_assert(rec_has_qos2(&ld, client, (uint16_t)msg_id));
	cr_assert_not_null(rec_retained(&ld, topic));
}

Test(store_recovery, batches_submitted_to_the_thread_survive_close_and_reopen)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct loaded first = { 0 };
	struct store_loader l = recording_loader(&first);
	struct fm_errbuf eb = { { 0 } };
	uint64_t max = 99;
	cr_assert_eq(store_load(st, &l, &max, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(first.n, 0, "a new store is empty");
	cr_assert_eq(max, 0);
	loaded_free(&first);

	cr_assert_eq(store_start(st), FM_OK);
	struct waiter w;
	waiter_init(&w);
	struct waited_batch wb[3];
	static const char *const clients[] = { "alpha", "beta", "gamma" };
	for (int i = 0; i < 3; i++) {
		waited_batch_init(&wb[i], &w, st);
		fill_session(&wb[i].b, clients[i], (uint64_t)(10 + i * 5)); /* ids 10, 15, 20 */
		store_submit(st, &wb[i].b);
	}
	waiter_wait(&w, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(wb[i].b.rc, FM_OK, "batch %d: %s", i, fm_strerror(wb[i].b.rc));
		/* durability full: handed back only once committed */
		cr_assert_geq(wb[i].commits_at_done, 1, "batch %d came back before any commit", i);
	}
	store_close(st);

	reload(&ld);
	for (int i = 0; i < 3; i++)
		assert_session_loaded(clients[i], (uint64_t)(10 + i * 5));
	cr_assert_eq(ld.max_msg_id, 20);
	for (int i = 0; i < 3; i++)
		store_batch_fini(&wb[i].b);
	waiter_fini(&w);
}

Test(store_recovery, batches_applied_now_without_the_thread_survive_close_and_reopen)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	fill_session(&b, "alpha", 3);
	apply_ok(st, &b);
	fill_session(&b, "beta", 4);
	apply_ok(st, &b);
	store_close(st);
	store_batch_fini(&b);
	reload(&ld);
	assert_session_loaded("alpha", 3);
	assert_session_loaded("beta", 4);
	cr_assert_eq(ld.max_msg_id, 4);
}

/* store_close() promises to apply what was submitted: nothing is waited
 * for before closing here. */
Test(store_recovery, close_applies_batches_still_waiting_in_the_inbox)
{
	struct store *st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_start(st), FM_OK);
	struct waiter w;
	waiter_init(&w);
	struct waited_batch wb[4];
	for (int i = 0; i < 4; i++) {
		waited_batch_init(&wb[i], &w, st);
		char client[16];
		snprintf(client, sizeof(client), "c%d", i);
		fill_session(&wb[i].b, client, (uint64_t)i + 1);
		store_submit(st, &wb[i].b);
	}
	store_close(st);
	cr_assert_eq(w.done, 4, "every submitted batch was handed back by close");
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(wb[i].b.rc, FM_OK);
		store_batch_fini(&wb[i].b);
	}
	waiter_fini(&w);
	reload(&ld);
	cr_assert_eq(rec_count(&ld, REC_SESSION), 4);
	assert_session_loaded("c3", 4);
}

/* Message ids continue above the largest one ever logged, including a
 * message no queue references (logged, not loaded). */
Test(store_recovery, max_msg_id_counts_a_logged_message_nobody_references)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	fill_session(&b, "c1", 5);
	cr_assert_eq(store_msg_add(&b, 9, S("t"), S("nobody's"), 1, 0), FM_OK);
	apply_ok(st, &b);
	store_close(st);
	store_batch_fini(&b);
	reload(&ld);
	cr_assert_null(rec_message(&ld, 9), "an unreferenced message is not loaded");
	cr_assert_eq(ld.max_msg_id, 9);
}

/* The newest message is delivered and acknowledged, then the broker
 * restarts: its id was used, so new ids must start above it. */
Test(store_recovery, max_msg_id_stays_above_an_acknowledged_message)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	fill_session(&b, "c1", 5);
	cr_assert_eq(store_msg_add(&b, 6, S("t"), S("newest"), 1, 0), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c1"), 6, 1, STORE_REF_QUEUED, 0), FM_OK);
	apply_ok(st, &b);
	cr_assert_eq(store_ref_del(&b, S("c1"), 6, 0), FM_OK); /* dropped unsent: the message goes */
	apply_ok(st, &b);
	store_close(st);
	store_batch_fini(&b);
	reload(&ld);
	cr_assert_null(rec_message(&ld, 6));
	cr_assert_eq(ld.max_msg_id, 6, "max_msg_id %llu: id 6 would be used again",
		     (unsigned long long)ld.max_msg_id);
}

/* batched: a batch is handed back once applied, before any commit (the
 * interval is far longer than the test), and closing commits it. */
Test(store_recovery, batched_hands_back_before_the_commit_and_close_commits)
{
	struct store *st = open_store(STORE_BATCHED, 10000);
	cr_assert_eq(store_start(st), FM_OK);
	struct waiter w;
	waiter_init(&w);
	struct waited_batch wb[3];
	for (int i = 0; i < 3; i++) {
		waited_batch_init(&wb[i], &w, st);
		char client[16];
		snprintf(client, sizeof(client), "c%d", i);
		fill_session(&wb[i].b, client, (uint64_t)i + 1);
		store_submit(st, &wb[i].b);
		waiter_wait(&w, (unsigned)i + 1); /* one at a time: each its own drain */
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(wb[i].b.rc, FM_OK);
		cr_assert_eq(wb[i].commits_at_done, 0, "batch %d was handed back after a commit", i);
	}
	struct store_stats s = store_stats(st);
	cr_assert_eq(s.batches, 3);
	cr_assert_eq(s.commits, 0, "nothing committed before the interval");
	store_close(st);

	reload(&ld);
	for (int i = 0; i < 3; i++) {
		char client[16];
		snprintf(client, sizeof(client), "c%d", i);
		assert_session_loaded(client, (uint64_t)i + 1);
	}
	for (int i = 0; i < 3; i++)
		store_batch_fini(&wb[i].b);
	waiter_fini(&w);
}

/* batched: a batch that fails must not leave half of itself to be
 * committed later (its worker was told it was not applied). */
Test(store_recovery, batched_failing_batch_leaves_nothing_behind)
{
	struct store *st = open_store(STORE_BATCHED, 10000);
	cr_assert_eq(store_start(st), FM_OK);
	struct waiter w;
	waiter_init(&w);
	struct waited_batch ok, bad;
	waited_batch_init(&ok, &w, st);
	waited_batch_init(&bad, &w, st);
	fill_session(&ok.b, "c1", 1);
	store_submit(st, &ok.b);
	waiter_wait(&w, 1);
	cr_assert_eq(store_sub_put(&bad.b, S("c1"), S("half/applied"), 0), FM_OK);
	cr_assert_eq(store_msg_add(&bad.b, 1, S("dup"), S("dup"), 1, 0), FM_OK); /* id 1 is taken */
	store_submit(st, &bad.b);
	waiter_wait(&w, 2);
	cr_assert_eq(ok.b.rc, FM_OK);
	cr_assert_eq(bad.b.rc, FM_ESTORE);
	store_close(st);

	reload(&ld);
	assert_session_loaded("c1", 1);
	cr_assert_null(rec_sub(&ld, "c1", "half/applied"), "part of a failed batch was committed");
	store_batch_fini(&ok.b);
	store_batch_fini(&bad.b);
	waiter_fini(&w);
}

/* Batches submitted before the thread starts are all in the inbox at its
 * first drain: one transaction, one commit, for all of them. */
Test(store_recovery, batches_that_arrive_together_share_one_commit)
{
	enum { N = 20 };
	struct store *st = open_store(STORE_FULL, 0);
	struct waiter w;
	waiter_init(&w);
	struct waited_batch wb[N];
	for (int i = 0; i < N; i++) {
		waited_batch_init(&wb[i], &w, st);
		char client[16];
		snprintf(client, sizeof(client), "c%02d", i);
		fill_session(&wb[i].b, client, (uint64_t)i + 1);
		store_submit(st, &wb[i].b);
	}
	cr_assert_eq(store_start(st), FM_OK);
	waiter_wait(&w, N);
	struct store_stats s = store_stats(st);
	cr_assert_eq(s.batches, N);
	cr_assert_eq(s.ops, N * 6);
	cr_assert_eq(s.commits, 1);
	cr_assert_eq(s.errors, 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(wb[i].b.rc, FM_OK);
	store_close(st);
	reload(&ld);
	cr_assert_eq(rec_count(&ld, REC_SESSION), N);
	for (int i = 0; i < N; i++)
		store_batch_fini(&wb[i].b);
	waiter_fini(&w);
}

/* One bad batch in a group: the group is rolled back and each batch
 * retried alone, so only the bad one fails, and none of it is kept. */
Test(store_recovery, a_failing_batch_in_a_group_fails_alone)
{
	enum { N = 5, BAD = 2 };
	struct store *st = open_store(STORE_FULL, 0);
	struct waiter w;
	waiter_init(&w);
	struct waited_batch wb[N];
	for (int i = 0; i < N; i++) {
		waited_batch_init(&wb[i], &w, st);
		char client[16];
		snprintf(client, sizeof(client), "c%d", i);
		if (i == BAD) {
			cr_assert_eq(store_session_put(&wb[i].b, S(client), 0), FM_OK);
			/* the id batch 0 logs, earlier in the same transaction */
			cr_assert_eq(store_msg_add(&wb[i].b, 1, S("dup"), S("dup"), 1, 0), FM_OK);
		} else {
			fill_session(&wb[i].b, client, (uint64_t)i + 1);
		}
		store_submit(st, &wb[i].b);
	}
	cr_assert_eq(store_start(st), FM_OK);
	waiter_wait(&w, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(wb[i].b.rc, i == BAD ? FM_ESTORE : FM_OK, "batch %d: %s", i, fm_strerror(wb[i].b.rc));
	cr_assert_eq(store_stats(st).errors, 1);
	store_close(st);

	reload(&ld);
	cr_assert_eq(rec_count(&ld, REC_SESSION), N - 1);
	cr_assert_null(rec_session(&ld, "c2"), "nothing of the failed batch");
	for (int i = 0; i < N; i++) {
		if (i == BAD)
			continue;
		char client[16];
		snprintf(client, sizeof(client), "c%d", i);
		assert_session_loaded(client, (uint64_t)i + 1);
	}
	for (int i = 0; i < N; i++)
		store_batch_fini(&wb[i].b);
	waiter_fini(&w);
}

/* --- group commit under concurrent submitters ---------------------------------- */

enum { PRODUCERS = 4, PER_PRODUCER = 50 };

struct producer {
	pthread_t thread;
	struct store *st;
	int index;
	struct waiter w;
	struct waited_batch wb[PER_PRODUCER];
};

/* Submit every batch at once (so they can be grouped), then wait for all. */
static void *produce(void *arg)
{
	struct producer *p = arg;
	char client[16];
	snprintf(client, sizeof(client), "p%d", p->index);
	for (int i = 0; i < PER_PRODUCER; i++) {
		struct store_batch *b = &p->wb[i].b;
		uint64_t id = (uint64_t)p->index * 1000 + (uint64_t)i + 1;
		if (store_msg_add(b, id, S("t"), S(client), 1, 0) != FM_OK ||
		    store_ref_add(b, S(client), id, 1, STORE_REF_QUEUED, 0) != FM_OK)
			return "batch building failed"; /* asserted on the test's thread */
		store_submit(p->st, b);
	}
	waiter_wait(&p->w, PER_PRODUCER);
	return NULL;
}

Test(store_recovery, concurrent_submitters_all_succeed_with_no_more_commits_than_batches)
{
	struct store *st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_start(st), FM_OK);
	static struct producer p[PRODUCERS];
	for (int t = 0; t < PRODUCERS; t++) {
		p[t].st = st;
		p[t].index = t;
		waiter_init(&p[t].w);
		for (int i = 0; i < PER_PRODUCER; i++)
			waited_batch_init(&p[t].wb[i], &p[t].w, st);
	}
	for (int t = 0; t < PRODUCERS; t++)
		cr_assert_eq(pthread_create(&p[t].thread, NULL, produce, &p[t]), 0);
	for (int t = 0; t < PRODUCERS; t++) {
		void *err;
		pthread_join(p[t].thread, &err);
		cr_assert_null(err, "producer %d: %s", t, (const char *)err);
	}

	for (int t = 0; t < PRODUCERS; t++)
		for (int i = 0; i < PER_PRODUCER; i++)
			cr_assert_eq(p[t].wb[i].b.rc, FM_OK, "producer %d batch %d: %s", t, i,
				     fm_strerror(p[t].wb[i].b.rc));
	struct store_stats s = store_stats(st);
	cr_assert_eq(s.batches, PRODUCERS * PER_PRODUCER);
	cr_assert_eq(s.ops, PRODUCERS * PER_PRODUCER * 2);
	cr_assert_eq(s.errors, 0);
	cr_assert_geq(s.commits, 1);
	cr_assert_leq(s.commits, s.batches);
	cr_log_info("%llu batches in %llu commits", (unsigned long long)s.batches, (unsigned long long)s.commits);
	store_close(st);

	/* each producer's batches were applied in the order it submitted them */
	reload(&ld);
	cr_assert_eq(rec_count(&ld, REC_MESSAGE), PRODUCERS * PER_PRODUCER);
	for (int t = 0; t < PRODUCERS; t++) {
		char client[16];
		snprintf(client, sizeof(client), "p%d", t);
		const struct rec *q[PER_PRODUCER];
		cr_assert_eq(rec_queue(&ld, client, q, PER_PRODUCER), PER_PRODUCER);
		for (int i = 0; i < PER_PRODUCER; i++)
			cr_assert_eq(q[i]->msg_id, (uint64_t)t * 1000 + (uint64_t)i + 1, "%s entry %d", client, i);
	}
	cr_assert_eq(ld.max_msg_id, (PRODUCERS - 1) * 1000 + PER_PRODUCER);
	for (int t = 0; t < PRODUCERS; t++) {
		for (int i = 0; i < PER_PRODUCER; i++)
			store_batch_fini(&p[t].wb[i].b);
		waiter_fini(&p[t].w);
	}
}
