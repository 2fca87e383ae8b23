/* The store's operations, one concern at a time: building batches (arena
 * and op array growth, reuse), then every operation type applied with
 * store_apply_now() and checked by what store_load() gives back after the
 * store is closed and opened again. Where the load cannot tell (a message
 * row left behind with no references is not loaded, but is garbage), the
 * database is queried directly.
 *
 * Queue entries: REF_STATE to SENT takes the oldest unsent entry of the
 * message; RELEASED, and REF_DEL with a packet id, take the entry sent
 * with that id; REF_DEL with packet id 0 takes the oldest unsent one. The
 * same message queued twice for one session is where this matters. */
#include "store_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* --- building batches -------------------------------------------------------- */

Test(store_batch, arena_grows_for_a_large_payload_and_earlier_spans_stay_valid)
{
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	cr_assert(store_batch_empty(&b));
	cr_assert_eq(store_sub_put(&b, S("client-1"), S("a/+"), 1, 77), FM_OK);

	/* 1 MiB cannot fit the first arena: it is reallocated (and may move),
	 * which spans survive because they are offsets; the properties are
	 * copied after the payload, so they land past the move too */
	size_t big_len = 1 << 20;
	uint8_t *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	static const uint8_t props[] = { 0x02, 0x00, 0x00, 0x0e, 0x10 };
	struct store_message m = msg_of(S("big/topic"), big, big_len, 1);
	m.msg_id = 42;
	m.props = props;
	m.props_len = sizeof(props);
	cr_assert_eq(store_msg_add(&b, &m), FM_OK);
	/* and past the op array's first capacity too */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(store_qos2_in_add(&b, S("client-1"), (uint16_t)(i + 1)), FM_OK);

	cr_assert_eq(b.n_ops, 102);
	cr_assert_geq(b.cap_ops, b.n_ops);
	cr_assert_geq(b.arena_cap, b.arena_used);
	cr_assert_geq(b.arena_used, big_len);
	const struct store_op *sub = &b.ops[0], *msg = &b.ops[1];
	cr_assert_eq(sub->client_id.len, 8);
	cr_assert_eq(memcmp(store_bytes(&b, sub->client_id), "client-1", 8), 0);
	cr_assert_eq(memcmp(store_bytes(&b, sub->topic), "a/+", 3), 0);
	cr_assert_eq(sub->sub_id, 77);
	cr_assert_eq(msg->type, STORE_MSG_ADD);
	cr_assert_eq(msg->msg_id, 42, "msg_id is taken from the store_message");
	cr_assert_eq(msg->payload.len, big_len);
	cr_assert_eq(memcmp(store_bytes(&b, msg->payload), big, big_len), 0);
	cr_assert_eq(msg->props.len, sizeof(props));
	cr_assert_eq(memcmp(store_bytes(&b, msg->props), props, sizeof(props)), 0);
	cr_assert_eq(b.ops[101].packet_id, 100);
	free(big);
	store_batch_fini(&b);
	cr_assert_null(b.arena);
	cr_assert_null(b.ops);
}

Test(store_batch, reset_keeps_the_memory_and_a_reused_batch_holds_only_new_ops)
{
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	char payload[3000];
	memset(payload, 'x', sizeof(payload));
	for (int i = 0; i < 40; i++)
		cr_assert_eq(put_retained(&b, S("t"), payload, sizeof(payload), 0), FM_OK);
	b.rc = FM_ESTORE; /* as if the last submission had failed */
	uint8_t *arena = b.arena;
	struct store_op *ops = b.ops;
	uint32_t arena_cap = b.arena_cap, cap_ops = b.cap_ops;

	store_batch_reset(&b);
	cr_assert(store_batch_empty(&b));
	cr_assert_eq(b.arena_used, 0);
	cr_assert_eq(b.rc, FM_OK, "a recycled batch must not carry the old result");
	cr_assert_eq(b.done, done_nothing);

	/* refilling within the old capacity allocates nothing */
	cr_assert_eq(store_retain_del(&b, S("other")), FM_OK);
	cr_assert_eq(b.arena, arena);
	cr_assert_eq(b.ops, ops);
	cr_assert_eq(b.arena_cap, arena_cap);
	cr_assert_eq(b.cap_ops, cap_ops);
	cr_assert_eq(b.n_ops, 1);
	cr_assert_eq(b.ops[0].type, STORE_RETAIN_DEL);
	cr_assert_eq(b.ops[0].topic.off, 0, "the arena starts over");
	cr_assert_eq(memcmp(store_bytes(&b, b.ops[0].topic), "other", 5), 0);
	store_batch_fini(&b);
}

/* --- operations through the database ------------------------------------------ */

static struct store *st;
static struct store_batch b;
static struct loaded ld;

static void setup(void)
{
	tmp_setup();
	st = open_store(STORE_FULL, 0);
	store_batch_init(&b, done_nothing);
	memset(&ld, 0, sizeof(ld));
}

static void teardown(void)
{
	store_close(st); /* accepts NULL: tests that reload close it first */
	store_batch_fini(&b);
	loaded_free(&ld);
	tmp_teardown();
}

TestSuite(store_ops, .init = setup, .fini = teardown, .timeout = 10);

/* Apply what b holds, close, reopen and load it all into ld. */
static void apply_and_reload(void)
{
	if (!store_batch_empty(&b))
		apply_ok(st, &b);
	store_close(st);
	st = NULL;
	loaded_free(&ld);
	reload(&ld);
}

/* Close if needed, then count rows of the database directly. */
static long long count_rows(const char *sql)
{
	store_close(st);
	st = NULL;
	return db_int(sql);
}

/* A message with payload "payload of <id>" queued for the given clients. */
static void msg_for(uint64_t msg_id, const char *const *clients, size_t n)
{
	char payload[32];
	snprintf(payload, sizeof(payload), "payload of %llu", (unsigned long long)msg_id);
	cr_assert_eq(add_msg(&b, msg_id, S("t/x"), S(payload), 1), FM_OK);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(store_ref_add(&b, S(clients[i]), msg_id, 1, STORE_REF_QUEUED, 0, 0), FM_OK);
}

static void assert_entry(const struct rec *r, uint64_t msg_id, enum store_ref_state state, uint16_t packet_id)
{
	cr_assert_eq(r->msg_id, msg_id, "msg_id %llu, want %llu", (unsigned long long)r->msg_id,
		     (unsigned long long)msg_id);
	cr_assert_eq(r->state, state, "msg %llu: state %d, want %d", (unsigned long long)msg_id, r->state, state);
	cr_assert_eq(r->packet_id, packet_id, "msg %llu: packet id %u, want %u", (unsigned long long)msg_id,
		     r->packet_id, packet_id);
}

Test(store_ops, message_and_queue_entries_come_back_with_every_field)
{
	static const uint8_t payload[] = { 0, 1, 2, 0xff, 0 }; /* binary, NULs included */
	struct store_message m7 = msg_of(S("sensors/1/temp"), payload, sizeof(payload), 2);
	m7.msg_id = 7;
	m7.expires_at_ms = 1700000000123ull;
	cr_assert_eq(store_msg_add(&b, &m7), FM_OK);
	cr_assert_eq(add_msg(&b, 8, S("empty"), NULL, 0, 1), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c1"), 7, 2, STORE_REF_QUEUED, 0, 0), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c2"), 7, 1, STORE_REF_SENT, 33, 0), FM_OK);
	cr_assert_eq(store_ref_add(&b, "c\0bin", 5, 8, 1, STORE_REF_RELEASED, 34, 0), FM_OK);
	apply_and_reload();

	cr_assert_eq(rec_count(&ld, REC_MESSAGE), 2);
	const struct rec *m = rec_message(&ld, 7);
	cr_assert_not_null(m);
	cr_assert_str_eq(m->topic, "sensors/1/temp");
	cr_assert_eq(m->payload_len, sizeof(payload));
	cr_assert_eq(memcmp(m->payload, payload, sizeof(payload)), 0);
	cr_assert_eq(m->qos, 2);
	cr_assert_eq(m->expires_at_ms, 1700000000123ull);
	cr_assert_eq(m->props_len, 0, "no properties given, none loaded");
	cr_assert_eq(rec_message(&ld, 8)->payload_len, 0);

	const struct rec *q[4];
	cr_assert_eq(rec_queue(&ld, "c1", q, 4), 1);
	assert_entry(q[0], 7, STORE_REF_QUEUED, 0);
	cr_assert_eq(q[0]->qos, 2);
	cr_assert_eq(q[0]->sub_id, 0);
	cr_assert_eq(rec_queue(&ld, "c2", q, 4), 1);
	assert_entry(q[0], 7, STORE_REF_SENT, 33);
	cr_assert_eq(q[0]->qos, 1, "the entry's QoS (granted), not the message's");
	/* client ids are bytes: one with a NUL inside comes back whole */
	const struct rec *bin = NULL;
	for (size_t i = 0; i < ld.n; i++)
		if (ld.v[i].kind == REC_QUEUED && ld.v[i].client_len == 5)
			bin = &ld.v[i];
	cr_assert_not_null(bin);
	cr_assert_eq(memcmp(bin->client, "c\0bin", 5), 0);
	assert_entry(bin, 8, STORE_REF_RELEASED, 34);
	cr_assert_eq(ld.max_msg_id, 8);
}

Test(store_ops, a_large_payload_survives_the_round_trip)
{
	size_t len = 1 << 20;
	uint8_t *big = malloc(len);
	for (size_t i = 0; i < len; i++)
		big[i] = (uint8_t)(i ^ (i >> 8));
	cr_assert_eq(add_msg(&b, 1, S("big"), big, len, 1), FM_OK);
	cr_assert_eq(store_ref_add(&b, S("c1"), 1, 1, STORE_REF_QUEUED, 0, 0), FM_OK);
	cr_assert_eq(put_retained(&b, S("big/retained"), big, len, 0), FM_OK);
	apply_and_reload();
	const struct rec *m = rec_message(&ld, 1), *r = rec_retained(&ld, "big/retained");
	cr_assert(m && m->payload_len == len && memcmp(m->payload, big, len) == 0);
	cr_assert(r && r->payload_len == len && memcmp(r->payload, big, len) == 0);
	free(big);
}

/* Messages are refcounted by queue entries: acknowledging the first of two
 * sessions keeps the message, acknowledging the second removes its row. */
Test(store_ops, message_shared_by_two_sessions_goes_with_the_second_ack)
{
	msg_for(1, (const char *[]){ "c1", "c2" }, 2);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 11), FM_OK);
	cr_assert_eq(store_ref_state(&b, S("c2"), 1, STORE_REF_SENT, 22), FM_OK);
	apply_ok(st, &b);

	cr_assert_eq(store_ref_del(&b, S("c1"), 1, 11), FM_OK); /* c1's PUBACK */
	apply_and_reload();
	cr_assert_not_null(rec_message(&ld, 1), "c2 still holds the message");
	const struct rec *q[2];
	cr_assert_eq(rec_queue(&ld, "c1", q, 2), 0);
	cr_assert_eq(rec_queue(&ld, "c2", q, 2), 1);
	assert_entry(q[0], 1, STORE_REF_SENT, 22);
	cr_assert_eq(db_int("SELECT refs FROM messages WHERE id = 1"), 1);

	st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_ref_del(&b, S("c2"), 1, 22), FM_OK); /* c2's PUBACK */
	apply_and_reload();
	cr_assert_null(rec_message(&ld, 1));
	cr_assert_eq(rec_count(&ld, REC_QUEUED), 0);
	cr_assert_eq(count_rows("SELECT count(*) FROM messages"), 0, "the last reference takes the row with it");
}

Test(store_ops, queue_order_is_kept_per_session_across_batches)
{
	for (uint64_t id = 1; id <= 6; id++)
		cr_assert_eq(add_msg(&b, id, S("t"), S("p"), 1), FM_OK);
	apply_ok(st, &b);
	/* interleaved, and in an order unlike the ids */
	static const uint64_t c1_order[] = { 3, 1, 6, 2 }, c2_order[] = { 2, 5, 3, 4 };
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(store_ref_add(&b, S("c1"), c1_order[i], 1, STORE_REF_QUEUED, 0, 0), FM_OK);
		cr_assert_eq(store_ref_add(&b, S("c2"), c2_order[i], 1, STORE_REF_QUEUED, 0, 0), FM_OK);
		if (i == 1)
			apply_ok(st, &b); /* half in one batch, half in another */
	}
	apply_and_reload();
	const struct rec *q[4];
	cr_assert_eq(rec_queue(&ld, "c1", q, 4), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(q[i]->msg_id, c1_order[i], "c1 entry %d", i);
	cr_assert_eq(rec_queue(&ld, "c2", q, 4), 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(q[i]->msg_id, c2_order[i], "c2 entry %d", i);
}

/* The same message queued twice (two matching subscriptions): SENT moves
 * the oldest unsent entry, so two sends mark both, oldest first. */
Test(store_ops, ref_state_sent_picks_the_oldest_unsent_entry)
{
	msg_for(1, (const char *[]){ "c1", "c1" }, 2);
	msg_for(2, (const char *[]){ "c1" }, 1);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 5), FM_OK);
	apply_and_reload();
	const struct rec *q[3];
	cr_assert_eq(rec_queue(&ld, "c1", q, 3), 3);
	assert_entry(q[0], 1, STORE_REF_SENT, 5);
	assert_entry(q[1], 1, STORE_REF_QUEUED, 0);
	assert_entry(q[2], 2, STORE_REF_QUEUED, 0);

	st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 6), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_queue(&ld, "c1", q, 3), 3);
	assert_entry(q[0], 1, STORE_REF_SENT, 5);
	assert_entry(q[1], 1, STORE_REF_SENT, 6);
	assert_entry(q[2], 2, STORE_REF_QUEUED, 0);
}

/* PUBREC for the second send: RELEASED goes to the entry sent with that
 * packet id, not to the oldest entry of the message. */
Test(store_ops, ref_state_released_picks_the_entry_sent_with_that_packet_id)
{
	msg_for(1, (const char *[]){ "c1", "c1" }, 2);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 5), FM_OK);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 6), FM_OK);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_RELEASED, 6), FM_OK);
	apply_and_reload();
	const struct rec *q[2];
	cr_assert_eq(rec_queue(&ld, "c1", q, 2), 2);
	assert_entry(q[0], 1, STORE_REF_SENT, 5);
	assert_entry(q[1], 1, STORE_REF_RELEASED, 6);
}

Test(store_ops, ref_del_with_a_packet_id_removes_the_entry_sent_with_it)
{
	msg_for(1, (const char *[]){ "c1", "c1" }, 2);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 5), FM_OK);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 6), FM_OK);
	cr_assert_eq(store_ref_del(&b, S("c1"), 1, 6), FM_OK); /* PUBACK of the second send */
	apply_and_reload();
	const struct rec *q[2];
	cr_assert_eq(rec_queue(&ld, "c1", q, 2), 1);
	assert_entry(q[0], 1, STORE_REF_SENT, 5);
	cr_assert_not_null(rec_message(&ld, 1), "one entry still holds it");

	st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_ref_del(&b, S("c1"), 1, 5), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_QUEUED), 0);
	cr_assert_eq(count_rows("SELECT count(*) FROM messages"), 0);
}

/* Dropping a queued message (queue limit, expiry) names no packet id:
 * the oldest unsent entry goes, a sent one is left to its ack. */
Test(store_ops, ref_del_without_a_packet_id_removes_the_oldest_unsent_entry)
{
	msg_for(1, (const char *[]){ "c1", "c1", "c1" }, 3);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 5), FM_OK);
	cr_assert_eq(store_ref_del(&b, S("c1"), 1, 0), FM_OK);
	apply_and_reload();
	const struct rec *q[3];
	cr_assert_eq(rec_queue(&ld, "c1", q, 3), 2);
	assert_entry(q[0], 1, STORE_REF_SENT, 5);
	assert_entry(q[1], 1, STORE_REF_QUEUED, 0);
	cr_assert_eq(count_rows("SELECT refs FROM messages WHERE id = 1"), 2);
}

/* The QoS 2 life of an entry, each step a batch of its own as the broker
 * writes them: queued, sent (PUBLISH 9), released (PUBREC 9, PUBREL sent),
 * completed (PUBCOMP 9). A restart at each step sees that step. */
Test(store_ops, qos2_entry_goes_through_sent_and_released_to_gone)
{
	msg_for(1, (const char *[]){ "c1" }, 1);
	apply_ok(st, &b);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_SENT, 9), FM_OK);
	apply_and_reload();
	const struct rec *q[1];
	cr_assert_eq(rec_queue(&ld, "c1", q, 1), 1);
	assert_entry(q[0], 1, STORE_REF_SENT, 9);

	st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_RELEASED, 9), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_queue(&ld, "c1", q, 1), 1);
	assert_entry(q[0], 1, STORE_REF_RELEASED, 9);

	st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_ref_del(&b, S("c1"), 1, 9), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_QUEUED), 0, "the completed entry is still queued after a restart");
	cr_assert_null(rec_message(&ld, 1), "the completed message is still loaded");
}

Test(store_ops, ref_changes_for_entries_that_do_not_exist_change_nothing)
{
	msg_for(1, (const char *[]){ "c1" }, 1);
	apply_ok(st, &b);
	/* a session that ended meanwhile, a message never queued, an unknown id */
	cr_assert_eq(store_ref_state(&b, S("gone"), 1, STORE_REF_SENT, 3), FM_OK);
	cr_assert_eq(store_ref_state(&b, S("c1"), 99, STORE_REF_SENT, 3), FM_OK);
	cr_assert_eq(store_ref_state(&b, S("c1"), 1, STORE_REF_RELEASED, 77), FM_OK);
	cr_assert_eq(store_ref_del(&b, S("gone"), 1, 0), FM_OK);
	cr_assert_eq(store_ref_del(&b, S("c1"), 1, 77), FM_OK);
	apply_and_reload();
	const struct rec *q[1];
	cr_assert_eq(rec_queue(&ld, "c1", q, 1), 1);
	assert_entry(q[0], 1, STORE_REF_QUEUED, 0);
	cr_assert_eq(count_rows("SELECT refs FROM messages WHERE id = 1"), 1, "no reference was dropped");
}

Test(store_ops, session_put_creates_and_a_second_put_updates_the_expiry_and_interval)
{
	cr_assert_eq(store_session_put(&b, S("c1"), 0, 60), FM_OK);
	cr_assert_eq(store_session_put(&b, S("c2"), 1000, 300), FM_OK);
	cr_assert_eq(store_session_put(&b, S("c1"), 5000, 7200), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_SESSION), 2);
	cr_assert_eq(rec_session(&ld, "c1")->expires_at_ms, 5000);
	cr_assert_eq(rec_session(&ld, "c1")->interval, 7200, "the second put replaces the interval too");
	cr_assert_eq(rec_session(&ld, "c2")->expires_at_ms, 1000);
	cr_assert_eq(rec_session(&ld, "c2")->interval, 300);
}

/* A session ending takes its subscriptions, queue, QoS 2 ids and the
 * messages only it referenced; a message another session still queues
 * stays, with that session's references only. */
Test(store_ops, session_del_removes_its_state_and_only_its_unshared_messages)
{
	cr_assert_eq(store_session_put(&b, S("c1"), 0, 0), FM_OK);
	cr_assert_eq(store_session_put(&b, S("c2"), 0, 0), FM_OK);
	msg_for(1, (const char *[]){ "c1" }, 1);
	msg_for(2, (const char *[]){ "c1", "c1", "c2" }, 3); /* twice for c1 */
	msg_for(3, (const char *[]){ "c2" }, 1);
	cr_assert_eq(store_sub_put(&b, S("c1"), S("a/#"), 1, 0), FM_OK);
	cr_assert_eq(store_sub_put(&b, S("c2"), S("a/#"), 2, 0), FM_OK);
	cr_assert_eq(store_qos2_in_add(&b, S("c1"), 10), FM_OK);
	cr_assert_eq(store_qos2_in_add(&b, S("c2"), 10), FM_OK);
	apply_ok(st, &b);

	cr_assert_eq(store_session_del(&b, S("c1")), FM_OK);
	apply_and_reload();
	cr_assert_null(rec_session(&ld, "c1"));
	cr_assert_not_null(rec_session(&ld, "c2"));
	cr_assert_null(rec_sub(&ld, "c1", "a/#"));
	cr_assert_eq(rec_sub(&ld, "c2", "a/#")->options, 2);
	cr_assert_not(rec_has_qos2(&ld, "c1", 10));
	cr_assert(rec_has_qos2(&ld, "c2", 10));
	const struct rec *q[3];
	cr_assert_eq(rec_queue(&ld, "c1", q, 3), 0);
	cr_assert_eq(rec_queue(&ld, "c2", q, 3), 2);
	assert_entry(q[0], 2, STORE_REF_QUEUED, 0);
	assert_entry(q[1], 3, STORE_REF_QUEUED, 0);
	cr_assert_null(rec_message(&ld, 1));
	cr_assert_not_null(rec_message(&ld, 2));
	cr_assert_not_null(rec_message(&ld, 3));
	cr_assert_eq(db_int("SELECT count(*) FROM messages WHERE id = 1"), 0, "c1's own message is deleted");
	cr_assert_eq(db_int("SELECT refs FROM messages WHERE id = 2"), 1, "both of c1's references dropped");
}

Test(store_ops, sub_put_again_updates_options_and_sub_id_and_sub_del_removes_only_that_filter)
{
	cr_assert_eq(store_sub_put(&b, S("c1"), S("a/+"), 1, 5), FM_OK);
	cr_assert_eq(store_sub_put(&b, S("c1"), S("b/#"), 0, 0), FM_OK);
	cr_assert_eq(store_sub_put(&b, S("c2"), S("a/+"), 0, 9), FM_OK);
	cr_assert_eq(store_sub_put(&b, S("c1"), S("a/+"), 0x26, 6), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_SUB), 3, "a second put replaces, it does not add");
	cr_assert_eq(rec_sub(&ld, "c1", "a/+")->options, 0x26);
	cr_assert_eq(rec_sub(&ld, "c1", "a/+")->sub_id, 6, "a SUBSCRIBE again may change the identifier");
	cr_assert_eq(rec_sub(&ld, "c2", "a/+")->sub_id, 9);

	st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_sub_del(&b, S("c1"), S("a/+")), FM_OK);
	cr_assert_eq(store_sub_del(&b, S("c1"), S("never/subscribed")), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_SUB), 2);
	cr_assert_null(rec_sub(&ld, "c1", "a/+"));
	cr_assert_not_null(rec_sub(&ld, "c1", "b/#"));
	cr_assert_not_null(rec_sub(&ld, "c2", "a/+"), "another client's same filter stays");
}

Test(store_ops, retain_put_replaces_the_topics_message_and_retain_del_removes_it)
{
	struct store_message old = msg_of(S("t/1"), S("old"), 0);
	old.props = "\x03\x00\x04" "text"; /* content type "text" */
	old.props_len = 7;
	cr_assert_eq(store_retain_put(&b, &old), FM_OK);
	cr_assert_eq(put_retained(&b, S("t/2"), S("two"), 1), FM_OK);
	struct store_message newer = msg_of(S("t/1"), S("new"), 2);
	newer.expires_at_ms = 123456;
	cr_assert_eq(store_retain_put(&b, &newer), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_RETAINED), 2);
	const struct rec *r = rec_retained(&ld, "t/1");
	cr_assert(r->payload_len == 3 && memcmp(r->payload, "new", 3) == 0);
	cr_assert_eq(r->qos, 2);
	cr_assert_eq(r->expires_at_ms, 123456);
	cr_assert_eq(r->props_len, 0, "the old message's properties went with it");

	st = open_store(STORE_FULL, 0);
	cr_assert_eq(store_retain_del(&b, S("t/1")), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_RETAINED), 1);
	cr_assert_null(rec_retained(&ld, "t/1"));
	cr_assert_not_null(rec_retained(&ld, "t/2"));
}

Test(store_ops, qos2_in_ids_are_added_once_and_deleted_per_client)
{
	cr_assert_eq(store_qos2_in_add(&b, S("c1"), 1), FM_OK);
	cr_assert_eq(store_qos2_in_add(&b, S("c1"), 2), FM_OK);
	cr_assert_eq(store_qos2_in_add(&b, S("c2"), 1), FM_OK);
	cr_assert_eq(store_qos2_in_add(&b, S("c1"), 1), FM_OK); /* a resent PUBLISH: no error, no duplicate */
	cr_assert_eq(store_qos2_in_del(&b, S("c1"), 1), FM_OK);
	apply_and_reload();
	cr_assert_eq(rec_count(&ld, REC_QOS2), 2);
	cr_assert_not(rec_has_qos2(&ld, "c1", 1));
	cr_assert(rec_has_qos2(&ld, "c1", 2));
	cr_assert(rec_has_qos2(&ld, "c2", 1), "deleting c1's id 1 leaves c2's");
}

/* The broker rebuilds state in dependency order: messages before the queues
 * that point at them, sessions before their subscriptions. */
Test(store_ops, load_delivers_rows_in_the_documented_order)
{
	/* built in the reverse order, so the load cannot just replay inserts */
	cr_assert_eq(put_retained(&b, S("r"), S("v"), 0), FM_OK);
	cr_assert_eq(store_qos2_in_add(&b, S("c1"), 4), FM_OK);
	cr_assert_eq(store_sub_put(&b, S("c1"), S("f"), 0, 0), FM_OK);
	cr_assert_eq(store_session_put(&b, S("c1"), 0, 0), FM_OK);
	msg_for(1, (const char *[]){ "c1" }, 1);
	apply_and_reload();
	cr_assert_eq(ld.n, 6);
	for (size_t i = 0; i < ld.n; i++)
		cr_assert_eq(ld.v[i].kind, (enum rec_kind)i, "row %zu has kind %d", i, ld.v[i].kind);
}

Test(store_ops, a_loader_error_stops_the_load_and_is_returned)
{
	cr_assert_eq(store_session_put(&b, S("c1"), 0, 0), FM_OK);
	cr_assert_eq(store_sub_put(&b, S("c1"), S("f"), 0, 0), FM_OK);
	apply_ok(st, &b);
	ld.fail_kind = REC_SESSION;
	ld.fail_rc = FM_ENOMEM;
	struct store_loader l = recording_loader(&ld);
	struct fm_errbuf eb = { { 0 } };
	uint64_t max = 99;
	cr_assert_eq(store_load(st, &l, &max, &eb), FM_ENOMEM);
	cr_assert_not_null(strstr(eb.msg, "loading failed"), "message: %s", eb.msg);
	cr_assert_eq(rec_count(&ld, REC_SUB), 0, "nothing after the failing row");
}

/* A batch is applied whole or not at all: a duplicate message id fails it,
 * and the subscription earlier in the same batch is not kept either. */
Test(store_ops, a_failing_batch_applied_now_leaves_nothing_behind)
{
	msg_for(1, (const char *[]){ "c1" }, 1);
	apply_ok(st, &b);
	cr_assert_eq(store_sub_put(&b, S("c1"), S("half/applied"), 0, 0), FM_OK);
	cr_assert_eq(add_msg(&b, 1, S("dup"), S("dup"), 1), FM_OK);
	store_apply_now(st, &b);
	cr_assert_eq(b.rc, FM_ESTORE);
	cr_assert_eq(store_stats(st).errors, 1);
	store_batch_reset(&b);
	apply_and_reload();
	cr_assert_null(rec_sub(&ld, "c1", "half/applied"));
	cr_assert_str_eq(rec_message(&ld, 1)->topic, "t/x");
}
