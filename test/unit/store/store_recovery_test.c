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
#include <unistd.h>

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

/* Everything a session has, with msg_id as its one queued message (and,
 * derived from it, the session's expiry interval and the subscription
 * identifier of its subscription and queue entry). */
static void fill_session(struct store_batch *b, const char *client, uint64_t msg_id)
{
	char topic[64];
	snprintf(topic, sizeof(topic), "t/%s", client);
	cr_assert_eq(store_session_put(b, S(client), msg_id * 1000, (uint32_t)msg_id * 60), FM_OK);
	cr_assert_eq(store_sub_put(b, S(client), S(topic), 1, (uint32_t)msg_id + 100), FM_OK);
	cr_assert_eq(add_msg(b, msg_id, S(topic), S(client), 1), FM_OK);
	cr_assert_eq(store_ref_add(b, S(client), msg_id, 1, STORE_REF_QUEUED, 0, (uint32_t)msg_id + 100), FM_OK);
	cr_assert_eq(store_qos2_in_add(b, S(client), (uint16_t)msg_id), FM_OK);
	cr_assert_eq(put_retained(b, S(topic), S(client), 0), FM_OK);
}

/* What fill_session(client, msg_id) wrote came back from the load. */
static void assert_session_loaded(const char *client, uint64_t msg_id)
{
	char topic[64];
	snprintf(topic, sizeof(topic), "t/%s", client);
	const struct rec *s = rec_session(&ld, client);
	cr_assert_not_null(s, "session %s missing", client);
	cr_assert_eq(s->expires_at_ms, msg_id * 1000);
	cr_assert_eq(s->interval, (int64_t)(msg_id * 60));
	const struct rec *sub = rec_sub(&ld, client, topic);
	cr_assert_not_null(sub, "%s's subscription missing", client);
	cr_assert_eq(sub->sub_id, msg_id + 100);
	const struct rec *m = rec_message(&ld, msg_id);
	cr_assert_not_null(m, "message %llu missing", (unsigned long long)msg_id);
	cr_assert_str_eq(m->topic, topic);
	const struct rec *q[1];
	cr_assert_eq(rec_queue(&ld, client, q, 1), 1);
	cr_assert_eq(q[0]->msg_id, msg_id);
	cr_assert_eq(q[0]->sub_id, msg_id + 100);
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

/* --- MQTT 5.0 fields (schema 2) ------------------------------------------------- */

/* Properties (opaque bytes, a 0x00 inside and at the end, and empty ones
 * given both as NULL and as a pointer with length 0), subscription
 * identifiers on queue entries and subscriptions (0, 1 and the largest
 * MQTT allows) and session expiry intervals, all written through the
 * store thread, then read back by a fresh open and load. */
Test(store_recovery, props_sub_ids_and_session_intervals_survive_submit_and_reopen)
{
	static const uint8_t props[] = {
		0x01, 0x01,                            /* payload format indicator: 1 */
		0x08, 0x00, 0x03, 'r', '/', 'x',       /* response topic */
		0x09, 0x00, 0x04, 0xde, 0x00, 0xad, 0x00, /* correlation data, NULs inside and last */
	};
	static const uint8_t retained_props[] = { 0x02, 0x00, 0x00, 0x00, 0x3c }; /* message expiry 60 */
	enum { MAX_SUB_ID = 268435455 }; /* the largest variable byte integer */

	struct store *st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_start(st), FM_OK);
	struct waiter w;
	waiter_init(&w);
	struct waited_batch wb;
	waited_batch_init(&wb, &w, st);
	struct store_batch *b = &wb.b;

	cr_assert_eq(store_session_put(b, S("v5"), 0, 3600), FM_OK);
	cr_assert_eq(store_session_put(b, S("v5-ends-at-disconnect"), 0, 0), FM_OK);
	cr_assert_eq(store_session_put(b, S("v5-long"), 1700000000000ull, 0xFFFFFFFEu), FM_OK);
	/* 0xFFFFFFFF is "never expires", distinct from STORE_INTERVAL_UNKNOWN */
	cr_assert_eq(store_session_put(b, S("v5-never"), 0, 0xFFFFFFFFu), FM_OK);
	cr_assert_eq(store_sub_put(b, S("v5"), S("a/+"), 1, MAX_SUB_ID), FM_OK);
	cr_assert_eq(store_sub_put(b, S("v5"), S("b/#"), 2, 1), FM_OK);
	cr_assert_eq(store_sub_put(b, S("v5"), S("c"), 0, 0), FM_OK);

	struct store_message m = msg_of(S("a/1"), S("with props"), 1);
	m.msg_id = 1;
	m.props = props;
	m.props_len = sizeof(props);
	cr_assert_eq(store_msg_add(b, &m), FM_OK);
	m = msg_of(S("b/2"), S("no props, NULL"), 2);
	m.msg_id = 2;
	cr_assert_eq(store_msg_add(b, &m), FM_OK);
	m = msg_of(S("c"), S("no props, length 0"), 1);
	m.msg_id = 3;
	m.props = "not to be stored";
	m.props_len = 0;
	cr_assert_eq(store_msg_add(b, &m), FM_OK);
	cr_assert_eq(store_ref_add(b, S("v5"), 1, 1, STORE_REF_QUEUED, 0, MAX_SUB_ID), FM_OK);
	cr_assert_eq(store_ref_add(b, S("v5"), 2, 2, STORE_REF_SENT, 17, 1), FM_OK);
	cr_assert_eq(store_ref_add(b, S("v5"), 3, 1, STORE_REF_QUEUED, 0, 0), FM_OK);

	m = msg_of(S("r/props"), S("retained with props"), 1);
	m.props = retained_props;
	m.props_len = sizeof(retained_props);
	m.expires_at_ms = 1700000060000ull;
	cr_assert_eq(store_retain_put(b, &m), FM_OK);
	cr_assert_eq(put_retained(b, S("r/none"), S("retained without"), 0), FM_OK);

	store_submit(st, b);
	waiter_wait(&w, 1);
	cr_assert_eq(b->rc, FM_OK, "%s", fm_strerror(b->rc));
	store_close(st);
	store_batch_fini(b);
	waiter_fini(&w);

	reload(&ld);
	const struct rec *s = rec_session(&ld, "v5");
	cr_assert(s && s->interval == 3600 && s->expires_at_ms == 0);
	cr_assert_eq(rec_session(&ld, "v5-ends-at-disconnect")->interval, 0, "0 is an interval, not \"unknown\"");
	s = rec_session(&ld, "v5-long");
	cr_assert(s && s->interval == 0xFFFFFFFEu && s->expires_at_ms == 1700000000000ull);
	cr_assert_eq(rec_session(&ld, "v5-never")->interval, 0xFFFFFFFFu);
	cr_assert_neq(rec_session(&ld, "v5-never")->interval, STORE_INTERVAL_UNKNOWN);

	cr_assert_eq(rec_sub(&ld, "v5", "a/+")->sub_id, MAX_SUB_ID);
	cr_assert_eq(rec_sub(&ld, "v5", "a/+")->options, 1);
	cr_assert_eq(rec_sub(&ld, "v5", "b/#")->sub_id, 1);
	cr_assert_eq(rec_sub(&ld, "v5", "c")->sub_id, 0);

	const struct rec *r = rec_message(&ld, 1);
	cr_assert_not_null(r);
	cr_assert_eq(r->props_len, sizeof(props), "props of %zu bytes, want %zu (cut at a NUL?)", r->props_len,
		     sizeof(props));
	cr_assert_eq(memcmp(r->props, props, sizeof(props)), 0);
	cr_assert(r->payload_len == 10 && memcmp(r->payload, "with props", 10) == 0);
	cr_assert_eq(rec_message(&ld, 2)->props_len, 0);
	cr_assert_eq(rec_message(&ld, 3)->props_len, 0, "a length of 0 stores nothing, whatever the pointer");

	const struct rec *q[3];
	cr_assert_eq(rec_queue(&ld, "v5", q, 3), 3);
	cr_assert(q[0]->msg_id == 1 && q[0]->sub_id == MAX_SUB_ID);
	cr_assert(q[1]->msg_id == 2 && q[1]->sub_id == 1 && q[1]->state == STORE_REF_SENT && q[1]->packet_id == 17);
	cr_assert(q[2]->msg_id == 3 && q[2]->sub_id == 0);

	r = rec_retained(&ld, "r/props");
	cr_assert_not_null(r);
	cr_assert_eq(r->props_len, sizeof(retained_props));
	cr_assert_eq(memcmp(r->props, retained_props, sizeof(retained_props)), 0);
	cr_assert_eq(r->expires_at_ms, 1700000060000ull);
	cr_assert_eq(rec_retained(&ld, "r/none")->props_len, 0);

	/* on disk: blobs of the full length; empty ones are x'', not NULL */
	cr_assert_eq(db_int("SELECT length(props) FROM messages WHERE id = 1"), (long long)sizeof(props));
	cr_assert_eq(db_int("SELECT count(*) FROM messages WHERE props = x''"), 2);
	cr_assert_eq(db_int("SELECT count(*) FROM retained WHERE props = x''"), 1);
}

/* Message ids continue above the largest one ever logged, including a
 * message no queue references (logged, not loaded). */
Test(store_recovery, max_msg_id_counts_a_logged_message_nobody_references)
{
	struct store *st = open_store(STORE_FULL, 0);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	fill_session(&b, "c1", 5);
	cr_assert_eq(add_msg(&b, 9, S("t"), S("nobody's"), 1), FM_OK);
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
	cr_assert_eq(add_msg(&b, 6, S("t"), S("newest"), 1), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c1"), 6, 1, STORE_REF_QUEUED, 0, 0), FM_OK);
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
	cr_assert_eq(store_sub_put(&bad.b, S("c1"), S("half/applied"), 0, 0), FM_OK);
	cr_assert_eq(add_msg(&bad.b, 1, S("dup"), S("dup"), 1), FM_OK); /* id 1 is taken */
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
			cr_assert_eq(store_session_put(&wb[i].b, S(client), 0, 0), FM_OK);
			/* the id batch 0 logs, earlier in the same transaction */
			cr_assert_eq(add_msg(&wb[i].b, 1, S("dup"), S("dup"), 1), FM_OK);
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
		if (add_msg(b, id, S("t"), S(client), 1) != FM_OK ||
		    store_ref_add(b, S(client), id, 1, STORE_REF_QUEUED, 0, 0) != FM_OK)
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

/* A size cap (store_max_size) fails writes like a full disk, with their
 * own error (FM_EFULL) so the broker can say so; the batch changes
 * nothing; raising the cap lets the same batch through. */
Test(store_recovery, size_cap_fails_writes_as_full_and_raising_it_lets_them_through)
{
	struct store_opts o = { .dir = t_store_dir, .durability = STORE_FULL, .max_bytes = 65536 };
	struct fm_errbuf eb = { { 0 } };
	struct store *st = NULL;
	cr_assert_eq(store_open(&st, &o, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(store_start(st), FM_OK);
	struct waiter w;
	waiter_init(&w);
	static uint8_t big[200000];
	memset(big, 'b', sizeof(big));
	struct waited_batch wb;
	waited_batch_init(&wb, &w, st);
	cr_assert_eq(add_msg(&wb.b, 1, S("t"), big, sizeof(big), 1), FM_OK);
	cr_assert_eq(store_ref_add(&wb.b, S("c"), 1, 1, STORE_REF_QUEUED, 0, 0), FM_OK);
	store_submit(st, &wb.b);
	waiter_wait(&w, 1);
	cr_assert_eq(wb.b.rc, FM_EFULL, "rc %d (%s)", wb.b.rc, fm_strerror(wb.b.rc));
	/* the same batch again, with room: had the failed one left its message
	 * row behind, inserting id 1 again would fail */
	store_set_max_bytes(st, 0);
	wb.b.rc = FM_OK;
	store_submit(st, &wb.b);
	waiter_wait(&w, 2);
	cr_assert_eq(wb.b.rc, FM_OK, "with the cap lifted: %s", fm_strerror(wb.b.rc));
	store_close(st);
	cr_assert_eq(db_int("SELECT count(*) FROM messages"), 1);
	store_batch_fini(&wb.b);
	waiter_fini(&w);
}

/* Expired messages leave the store by themselves (the sweep): waiting
 * entries of an expired message go, and the message with its last entry;
 * an entry already sent stays (its flow finishes, MQTT-3.3.2-5 speaks of
 * messages not yet sent); expired retained messages go; nothing that has
 * not expired is touched. */
Test(store_recovery, MQTT_3_3_2_5_sweep_removes_what_expired_and_nothing_else)
{
	struct store_opts o = { .dir = t_store_dir, .durability = STORE_FULL, .sweep_ms = 50 };
	struct fm_errbuf eb = { { 0 } };
	struct store *st = NULL;
	cr_assert_eq(store_open(&st, &o, &eb), FM_OK, "%s", eb.msg);
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	uint64_t past = 1000, future = UINT64_C(4102444800000); /* 1970 + 1 s; 2100 */
	struct store_message gone = msg_of(S("t/gone"), S("x"), 1), kept = msg_of(S("t/kept"), S("y"), 1),
			     sent = msg_of(S("t/sent"), S("z"), 1);
	gone.msg_id = 1, gone.expires_at_ms = past;
	kept.msg_id = 2, kept.expires_at_ms = future;
	sent.msg_id = 3, sent.expires_at_ms = past;
	cr_assert_eq(store_session_put(&b, S("c"), 0, 60), FM_OK);
	cr_assert_eq(store_msg_add(&b, &gone), FM_OK);
	cr_assert_eq(store_msg_add(&b, &kept), FM_OK);
	cr_assert_eq(store_msg_add(&b, &sent), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c"), 1, 1, STORE_REF_QUEUED, 0, 0), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c"), 1, 1, STORE_REF_SPILLED, 0, 0), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c"), 2, 1, STORE_REF_QUEUED, 0, 0), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c"), 3, 1, STORE_REF_SENT, 7, 0), FM_OK);
	struct store_message r_gone = msg_of(S("r/gone"), S("old"), 0), r_kept = msg_of(S("r/kept"), S("new"), 0);
	r_gone.expires_at_ms = past;
	r_kept.expires_at_ms = future;
	cr_assert_eq(store_retain_put(&b, &r_gone), FM_OK);
	cr_assert_eq(store_retain_put(&b, &r_kept), FM_OK);
	apply_ok(st, &b);
	store_batch_fini(&b);
	cr_assert_eq(store_start(st), FM_OK);
	/* the sweep runs every 50 ms: polled, bounded (10 s) */
	for (int i = 0; i < 500 && store_stats(st).swept == 0; i++)
		usleep(20000);
	cr_assert_eq(store_stats(st).swept, 4, "2 waiting entries, 1 message, 1 retained message: %llu",
		     (unsigned long long)store_stats(st).swept);
	store_close(st);

	reload(&ld);
	const struct rec *q[8];
	size_t n = rec_queue(&ld, "c", q, 8);
	cr_assert_eq(n, 2, "the kept message's entry and the sent one remain");
	cr_assert(q[0]->msg_id == 2 && q[1]->msg_id == 3);
	cr_assert_not_null(rec_message(&ld, 3), "a message with a sent entry stays");
	cr_assert_null(rec_message(&ld, 1), "the expired message went with its entries");
	cr_assert_null(rec_retained(&ld, "r/gone"));
	cr_assert_not_null(rec_retained(&ld, "r/kept"));
}
