/* SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK and wildcard matching:
 * MQTT 3.1.1 sections 3.8-3.11 and 4.7. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct hb broker;

static void start(void) { hb_start(&broker, NULL); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(subscribe, .init = start, .fini = stop, .timeout = 60);

static void send_subscribe(struct raw *r, uint16_t id, const struct mqtt_sub_entry *e, uint32_t n)
{
	struct buf b;
	buf_init(&b);
	cr_assert(mqtt_encode_subscribe(&b, MQTT_V311, id, e, n) == FM_OK);
	raw_send_buf(r, &b);
	buf_fini(&b);
}

#define ENTRY(s, q) {.filter = {(s), (uint16_t)(sizeof(s) - 1)}, .options = (q)}

Test(subscribe, suback_has_one_code_per_filter_in_order_MQTT_3_9_3_1)
{
	struct raw r;
	raw_connect_simple(&r, broker.port, "multi");
	struct mqtt_sub_entry e[] = {ENTRY("a/0", 0), ENTRY("a/1", 1), ENTRY("a/2", 2),
				     ENTRY("bad/#/x", 1), ENTRY("ok/+/x", 2)};
	send_subscribe(&r, 321, e, 5);
	struct mqtt_frame f;
	raw_expect(&r, MQTT_SUBACK, &f);
	struct mqtt_suback s;
	uint8_t reason;
	cr_assert(mqtt_decode_suback(&f, MQTT_V311, &s, &reason) == FM_OK);
	cr_assert_eq(s.packet_id, 321, "[MQTT-3.8.4-2]");
	cr_assert_eq(s.codes.len, 5);
	static const uint8_t want[] = {0, 1, 2, MQTT_SUBACK_FAILURE, 2};
	cr_assert_arr_eq(s.codes.p, want, 5, "granted QoS per filter, 0x80 for the invalid one");
	raw_close(&r);
}

Test(subscribe, invalid_filters_get_0x80_and_the_connection_stays_MQTT_4_7_1_2)
{
	struct raw r;
	raw_connect_simple(&r, broker.port, "bad");
	cr_assert_eq(raw_subscribe(&r, 1, "a/#/b", 0), MQTT_SUBACK_FAILURE);
	cr_assert_eq(raw_subscribe(&r, 2, "a/b#", 0), MQTT_SUBACK_FAILURE);
	cr_assert_eq(raw_subscribe(&r, 3, "a+/b", 0), MQTT_SUBACK_FAILURE); /* [MQTT-4.7.1-3] */
	cr_assert_eq(raw_subscribe(&r, 4, "fine/#", 0), 0);
	raw_close(&r);
}

Test(subscribe, subscribe_with_wrong_flags_closes_MQTT_3_8_1_1)
{
	struct raw r;
	raw_connect_simple(&r, broker.port, "flags");
	/* SUBSCRIBE with flags 0000 instead of 0010 */
	static const uint8_t pkt[] = {0x80, 6, 0, 1, 0, 1, 'a', 0};
	raw_send(&r, pkt, sizeof(pkt));
	cr_assert(raw_closed_within(&r, 3000, NULL));
	raw_close(&r);
}

Test(subscribe, subscribe_without_filters_closes_MQTT_3_8_3_3)
{
	struct raw r;
	raw_connect_simple(&r, broker.port, "empty");
	static const uint8_t pkt[] = {0x82, 2, 0, 1};
	raw_send(&r, pkt, sizeof(pkt));
	cr_assert(raw_closed_within(&r, 3000, NULL));
	raw_close(&r);
}

Test(subscribe, resubscribe_replaces_the_qos_MQTT_3_8_4_3)
{
	struct raw sub, pub;
	raw_connect_simple(&sub, broker.port, "sub");
	cr_assert_eq(raw_subscribe(&sub, 1, "re/t", 1), 1);
	cr_assert_eq(raw_subscribe(&sub, 2, "re/t", 0), 0);
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "re/t", "m", 1, false, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	cr_assert_eq(p.qos, 0, "the second SUBSCRIBE replaced the first");
	cr_assert(raw_silent(&sub, 300), "one subscription, one delivery");
	raw_close(&sub);
	raw_close(&pub);
}

Test(subscribe, resubscribe_resends_retained_messages_MQTT_3_8_4_3)
{
	struct raw c;
	raw_connect_simple(&c, broker.port, "c");
	raw_publish(&c, "kept", "v", 0, true, 0);
	cr_assert_eq(raw_subscribe(&c, 1, "kept", 0), 0);
	struct mqtt_publish p;
	raw_expect_publish(&c, &p);
	cr_assert_eq(raw_subscribe(&c, 2, "kept", 0), 0);
	raw_expect_publish(&c, &p);
	raw_assert_publish(&p, "kept", "v");
	cr_assert(p.retain);
	raw_close(&c);
}

Test(subscribe, unsubscribe_stops_delivery_MQTT_3_10_4_1)
{
	struct raw sub, pub;
	raw_connect_simple(&sub, broker.port, "sub");
	raw_subscribe(&sub, 1, "u/+", 0);
	raw_unsubscribe(&sub, 2, "u/+");
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "u/x", "m", 0, false, 0);
	cr_assert(raw_silent(&sub, 400));
	raw_close(&sub);
	raw_close(&pub);
}

Test(subscribe, unsuback_sent_even_when_nothing_matched_MQTT_3_10_4_5)
{
	struct raw r;
	raw_connect_simple(&r, broker.port, "nobody");
	raw_unsubscribe(&r, 17, "never/subscribed");
	raw_close(&r);
}

Test(subscribe, unsubscribe_matches_filters_literally_MQTT_3_10_4_1)
{
	struct raw sub, pub;
	raw_connect_simple(&sub, broker.port, "sub");
	raw_subscribe(&sub, 1, "lit/#", 0);
	raw_unsubscribe(&sub, 2, "lit/x"); /* a different filter: lit/# stays */
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "lit/x", "m", 0, false, 0);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_close(&sub);
	raw_close(&pub);
}

struct match_case {
	const char *filter, *topic;
	bool match;
};

/* The examples of section 4.7.1.2 / 4.7.1.3, checked end to end. */
Test(subscribe, wildcard_examples_of_section_4_7)
{
	static const struct match_case cases[] = {
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true},
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"#", "a/b/c", true},
	};
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "pub");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw sub;
		raw_connect_simple(&sub, broker.port, "sub");
		raw_subscribe(&sub, 1, cases[i].filter, 0);
		raw_publish(&pub, cases[i].topic, "m", 0, false, 0);
		struct mqtt_frame f;
		int rc = raw_recv(&sub, &f, cases[i].match ? RAW_TIMEOUT_MS : 200);
		cr_assert_eq(rc == FM_OK, cases[i].match, "filter %s topic %s", cases[i].filter,
			     cases[i].topic);
		raw_close(&sub);
	}
	raw_close(&pub);
}

/* Every retained message matching a new subscription is sent
 * [MQTT-3.3.1-6], also when together they are far more than a
 * connection's ordinary output limit (8 MiB): here 20,000 of 600 bytes to
 * one wildcard subscriber at QoS 0. */
Test(subscribe, all_retained_messages_are_sent_even_past_the_output_limit_MQTT_3_3_1_6)
{
	enum { N = 20000, SIZE = 600 };
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "big-pub");
	static char payload[SIZE + 1];
	memset(payload, 'r', SIZE);
	char topic[32];
	for (int i = 0; i < N; i++) {
		snprintf(topic, sizeof(topic), "big/%d", i);
		raw_publish(&pub, topic, payload, 0, true, 0);
	}
	raw_publish(&pub, "big/sync", "", 1, false, 1); /* acknowledged after all of the above */
	raw_expect_ack(&pub, MQTT_PUBACK);
	struct raw sub;
	raw_connect_simple(&sub, broker.port, "big-sub");
	cr_assert_eq(raw_subscribe(&sub, 1, "big/#", 0), 0);
	static bool seen[N];
	int got = 0;
	struct mqtt_frame f;
	while (got < N && raw_recv(&sub, &f, 3000) == FM_OK) {
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_OK);
		cr_assert(p.retain && p.payload.len == SIZE);
		int i = atoi((const char *)p.topic.p + 4);
		cr_assert(i >= 0 && i < N && !seen[i], "retained message %d twice", i);
		seen[i] = true;
		got++;
	}
	cr_assert_eq(got, N, "%d of %d retained messages arrived", got, N);
	for (int i = 0; i < N; i++) { /* leave the broker's store small again */
		snprintf(topic, sizeof(topic), "big/%d", i);
		raw_publish(&pub, topic, "", 0, true, 0);
	}
	raw_close(&sub);
	raw_close(&pub);
}
