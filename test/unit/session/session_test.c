/* Session state: inflight window and packet ids, queue limits and order,
 * incoming QoS 2 ids, subscriptions list, the session table. */
#include "fleetmq/errors.h"
#include "session/session.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct msg *mk(const char *topic, const char *payload)
{
	return msg_new(topic, strlen(topic), payload, strlen(payload), 1, false);
}

Test(msg, shares_one_allocation_and_counts_references)
{
	struct msg *m = mk("a/b", "hello");
	cr_assert_str_eq(m->topic, "a/b");
	cr_assert_eq(memcmp(msg_payload(m), "hello", 5), 0);
	cr_assert_eq(msg_size(m), 8);
	msg_ref(m);
	cr_assert_eq(atomic_load(&m->refs), 2);
	msg_unref(m);
	msg_unref(m); /* freed here; ASan reports if not or twice */
}

/* [MQTT-2.3.1-2] a new packet id must not be one still in use, and ids
 * are never 0 [MQTT-2.3.1-1]. */
Test(session_inflight, MQTT_2_3_1_2_packet_ids_unique_and_nonzero)
{
	struct session *s = session_new("c", 1, true, NULL);
	struct msg *m = mk("t", "x");
	s->next_packet_id = 65533; /* force wrap-around */
	uint16_t ids[5];
	for (int i = 0; i < 5; i++)
		cr_assert_eq(session_inflight_add(s, m, 1, 0, &ids[i]), FM_OK);
	for (int i = 0; i < 5; i++) {
		cr_assert_neq(ids[i], 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(ids[i], ids[j]);
	}
	/* free one in the middle; wrapping again must skip the ones in use */
	session_inflight_del(s, ids[1]);
	s->next_packet_id = 65533;
	uint16_t id;
	cr_assert_eq(session_inflight_add(s, m, 1, 0, &id), FM_OK);
	cr_assert_eq(id, ids[1], "the only free id in the range is reused");
	msg_unref(m);
	session_free(s);
}

Test(session_inflight, window_limit_and_send_order_kept_on_delete)
{
	struct session *s = session_new("c", 1, true, NULL);
	struct session_limits lim = { .max_inflight = 3 };
	struct msg *m = mk("t", "x");
	uint16_t ids[3];
	for (int i = 0; i < 3; i++) {
		cr_assert_not(session_inflight_full(s, &lim, 0));
		session_inflight_add(s, m, (uint8_t)(i == 2 ? 2 : 1), 0, &ids[i]);
	}
	cr_assert(session_inflight_full(s, &lim, 0));
	cr_assert_eq(session_inflight_find(s, ids[0])->state, INFLIGHT_WAIT_PUBACK);
	cr_assert_eq(session_inflight_find(s, ids[2])->state, INFLIGHT_WAIT_PUBREC);
	session_inflight_del(s, ids[0]);
	cr_assert_not(session_inflight_full(s, &lim, 0));
	cr_assert_eq(s->inflight[0].packet_id, ids[1]);
	cr_assert_eq(s->inflight[1].packet_id, ids[2]);
	cr_assert_null(session_inflight_find(s, ids[0]));
	cr_assert_eq(atomic_load(&m->refs), 3, "two inflight refs plus ours");
	msg_unref(m);
	session_free(s);
}

Test(session_queue, fifo_with_count_limit)
{
	struct session *s = session_new("c", 1, true, NULL);
	struct session_limits lim = { .max_queued = 2 };
	struct msg *a = mk("t", "a"), *b = mk("t", "b"), *c = mk("t", "c");
	cr_assert_eq(session_queue_push(s, a, 1, 0, &lim), FM_OK);
	cr_assert_eq(session_queue_push(s, b, 2, 0, &lim), FM_OK);
	cr_assert_eq(session_queue_push(s, c, 1, 0, &lim), FM_ELIMIT);
	cr_assert_eq(s->queued, 2, "the third is not queued");
	struct msg *m;
	uint8_t qos;
	uint32_t sub_id;
	cr_assert(session_queue_pop(s, &m, &qos, &sub_id));
	cr_assert_eq(m, a);
	cr_assert_eq(qos, 1);
	msg_unref(m);
	cr_assert(session_queue_pop(s, &m, &qos, &sub_id));
	cr_assert_eq(m, b);
	cr_assert_eq(qos, 2);
	msg_unref(m);
	cr_assert_not(session_queue_pop(s, &m, &qos, &sub_id));
	msg_unref(a);
	msg_unref(b);
	msg_unref(c);
	session_free(s);
}

/* A queued or in-flight delivery keeps the subscription identifier it is
 * delivered for, so a resend carries it again [MQTT-3.3.4-3]. */
Test(session_queue, MQTT_3_3_4_3_subscription_identifier_kept_through_queue_and_inflight)
{
	struct session *s = session_new("c", 1, true, NULL);
	struct session_limits lim = {0};
	struct msg *a = mk("t", "a");
	cr_assert_eq(session_queue_push(s, a, 1, 268435455u, &lim), FM_OK);
	struct msg *m;
	uint8_t qos;
	uint32_t sub_id = 0;
	cr_assert(session_queue_pop(s, &m, &qos, &sub_id));
	cr_assert_eq(sub_id, 268435455u);
	uint16_t id;
	cr_assert_eq(session_inflight_add(s, m, qos, sub_id, &id), FM_OK);
	cr_assert_eq(session_inflight_find(s, id)->sub_id, 268435455u);
	msg_unref(m);
	msg_unref(a);
	session_free(s);
}

/* A 5.0 client's Receive Maximum caps the window below max_inflight
 * [MQTT-3.3.4-7]; the smaller of the two applies. */
Test(session_inflight, MQTT_3_3_4_7_receive_maximum_caps_the_window)
{
	struct session *s = session_new("c", 1, false, NULL);
	struct session_limits lim = { .max_inflight = 20 };
	struct msg *m = mk("t", "x");
	uint16_t id;
	cr_assert_eq(session_inflight_add(s, m, 1, 0, &id), FM_OK);
	cr_assert_not(session_inflight_full(s, &lim, 2));
	cr_assert_eq(session_inflight_add(s, m, 1, 0, &id), FM_OK);
	cr_assert(session_inflight_full(s, &lim, 2), "receive maximum 2 reached");
	cr_assert_not(session_inflight_full(s, &lim, 100), "max_inflight 20 is the smaller now");
	cr_assert_not(session_inflight_full(s, &lim, 0), "no receive maximum: max_inflight 20");
	msg_unref(m);
	session_free(s);
}

Test(session_queue, byte_limit)
{
	struct session *s = session_new("c", 1, true, NULL);
	struct session_limits lim = { .max_queued_bytes = 10 };
	struct msg *m = mk("t", "1234"); /* 5 bytes */
	cr_assert_eq(session_queue_push(s, m, 1, 0, &lim), FM_OK);
	cr_assert_eq(session_queue_push(s, m, 1, 0, &lim), FM_OK);
	cr_assert_eq(session_queue_push(s, m, 1, 0, &lim), FM_ELIMIT);
	cr_assert_eq(s->queued_bytes, 10);
	msg_unref(m);
	session_free(s); /* frees the two queued references */
}

Test(session_qos2, MQTT_4_3_3_2_incoming_ids_remembered_until_pubrel)
{
	struct session *s = session_new("c", 1, true, NULL);
	cr_assert_not(session_qos2_in_has(s, 7));
	session_qos2_in_add(s, 7);
	session_qos2_in_add(s, 9);
	cr_assert(session_qos2_in_has(s, 7));
	session_qos2_in_del(s, 7);
	cr_assert_not(session_qos2_in_has(s, 7));
	cr_assert(session_qos2_in_has(s, 9));
	session_free(s);
}

Test(session_subs, set_replaces_and_del_removes)
{
	struct session *s = session_new("c", 1, true, NULL);
	session_sub_set(s, "a/#", 3, 0);
	session_sub_set(s, "b", 1, 1);
	session_sub_set(s, "a/#", 3, 2);
	cr_assert_eq(s->n_subs, 2);
	cr_assert_eq(s->subs[0].options, 2);
	cr_assert_eq(session_sub_del(s, "a/#", 3), FM_OK);
	cr_assert_eq(session_sub_del(s, "a/#", 3), FM_ENOTFOUND);
	cr_assert_eq(s->n_subs, 1);
	cr_assert_str_eq(s->subs[0].filter, "b");
	session_free(s);
}

/* append trusts the caller that the filter is new: it keeps order, and a
 * later set finds and updates what it added */
Test(session_subs, append_adds_without_search_and_set_updates_it)
{
	struct session *s = session_new("c", 1, true, NULL);
	char filter[32];
	for (int i = 0; i < 1000; i++) {
		int len = snprintf(filter, sizeof(filter), "dev/%d/cmd", i);
		cr_assert_eq(session_sub_append(s, filter, (size_t)len, 1), FM_OK);
	}
	cr_assert_eq(s->n_subs, 1000);
	cr_assert_str_eq(s->subs[999].filter, "dev/999/cmd");
	cr_assert_eq(session_sub_set(s, "dev/500/cmd", 11, 2), FM_OK);
	cr_assert_eq(s->n_subs, 1000, "set of an appended filter added a second entry");
	cr_assert_eq(s->subs[500].options, 2);
	cr_assert_eq(session_sub_del(s, "dev/0/cmd", 9), FM_OK);
	cr_assert_eq(s->n_subs, 999);
	session_free(s);
}

Test(session_table, add_get_del_across_growth)
{
	struct session_table *t = session_table_new();
	char id[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "client-%d", i);
		cr_assert_eq(session_table_add(t, session_new(id, strlen(id), false, NULL)), FM_OK);
	}
	cr_assert_eq(session_table_count(t), 1000);
	for (int i = 0; i < 1000; i += 7) {
		snprintf(id, sizeof(id), "client-%d", i);
		struct session *s = session_table_get(t, id, strlen(id));
		cr_assert_not_null(s);
		cr_assert_str_eq(s->client_id, id);
	}
	struct session *s = session_table_get(t, "client-5", 8);
	session_table_del(t, s);
	session_free(s);
	cr_assert_null(session_table_get(t, "client-5", 8));
	cr_assert_eq(session_table_count(t), 999);
	session_table_free(t);
}

static void count_session(struct session *s, void *arg)
{
	(void)s;
	(*(size_t *)arg)++;
}

static struct session_table *table_of(int n)
{
	struct session_table *t = session_table_new();
	char id[32];
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "walk-%d", i);
		cr_assert_eq(session_table_add(t, session_new(id, strlen(id), false, NULL)), FM_OK);
	}
	return t;
}

/* A walk in slices sees every session once, whatever the slice size. */
Test(session_table, a_walk_in_slices_sees_each_session_once)
{
	struct session_table *t = table_of(5000);
	size_t slices[] = {1, 7, 4096, 100000};
	for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
		struct session_walk w;
		size_t seen = 0;
		bool regrown = false;
		session_walk_begin(t, &w);
		while (session_walk_step(t, &w, slices[i], count_session, &seen, &regrown))
			;
		cr_assert_not(regrown);
		cr_assert_eq(seen, 5000, "slice %zu: %zu seen", slices[i], seen);
	}
	session_table_free(t);
}

/* The table grows between two slices: the walk says so and stops (the
 * sessions moved between buckets), and a new walk sees them all. */
Test(session_table, a_walk_stops_when_the_table_grows_under_it)
{
	struct session_table *t = table_of(64); /* at its load factor: the next add doubles it */
	struct session_walk w;
	size_t seen = 0;
	bool regrown = false;
	session_walk_begin(t, &w);
	cr_assert(session_walk_step(t, &w, 8, count_session, &seen, &regrown));
	cr_assert_eq(session_table_add(t, session_new("late", 4, false, NULL)), FM_OK);
	cr_assert_not(session_walk_step(t, &w, 8, count_session, &seen, &regrown));
	cr_assert(regrown, "a rehash between slices went unnoticed");
	seen = 0;
	session_walk_begin(t, &w);
	while (session_walk_step(t, &w, 8, count_session, &seen, &regrown))
		;
	cr_assert_not(regrown);
	cr_assert_eq(seen, 65);
	session_table_free(t);
}

Test(session, last_reference_frees_the_session)
{
	struct session *s = session_new("r", 1, true, NULL);
	session_ref(s);
	session_unref(s);
	cr_assert_eq(atomic_load(&s->refs), 1);
	session_unref(s); /* freed here; ASan reports a leak otherwise */
}
