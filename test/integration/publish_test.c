/* PUBLISH and its acknowledgements, QoS 0/1/2 in both directions, retained
 * messages, ordering and topic rules: MQTT 3.1.1 sections 3.3-3.7, 4.3-4.7. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct hb broker;

static void start(void) { hb_start(&broker, NULL); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(publish, .init = start, .fini = stop, .timeout = 60);

/* A subscriber on filter at qos, and a publisher, both connected. */
static void pair(struct raw *sub, struct raw *pub, const char *filter, uint8_t qos)
{
	raw_connect_simple(sub, broker.port, "sub");
	cr_assert_eq(raw_subscribe(sub, 1, filter, qos), qos);
	raw_connect_simple(pub, broker.port, "pub");
}

Test(publish, qos0_delivered_at_qos0)
{
	struct raw sub, pub;
	pair(&sub, &pub, "a/b", 0);
	raw_publish(&pub, "a/b", "hello", 0, false, 0);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "a/b", "hello");
	cr_assert_eq(p.qos, 0);
	cr_assert_not(p.retain, "[MQTT-3.3.1-9]");
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, qos1_puback_carries_the_packet_id_MQTT_4_3_2_2)
{
	struct raw sub, pub;
	pair(&sub, &pub, "q1/#", 1);
	raw_publish(&pub, "q1/x", "one", 1, false, 77);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 77);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "q1/x", "one");
	cr_assert_eq(p.qos, 1);
	cr_assert_neq(p.packet_id, 0, "[MQTT-2.3.1-1]");
	cr_assert_not(p.dup, "first delivery has DUP 0 [MQTT-3.3.1-3]");
	raw_ack(&sub, MQTT_PUBACK, p.packet_id);
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, qos2_full_exchange_both_directions_MQTT_4_3_3_2)
{
	struct raw sub, pub;
	pair(&sub, &pub, "q2", 2);
	raw_publish(&pub, "q2", "two", 2, false, 5);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBREC), 5);
	raw_ack(&pub, MQTT_PUBREL, 5);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBCOMP), 5);

	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "q2", "two");
	cr_assert_eq(p.qos, 2);
	uint16_t id = p.packet_id;
	raw_ack(&sub, MQTT_PUBREC, id);
	struct mqtt_frame f;
	raw_expect(&sub, MQTT_PUBREL, &f);
	cr_assert_eq(f.flags, 0x2, "PUBREL fixed header flags 0010 [MQTT-3.6.1-1]");
	cr_assert_eq(f.body[0] << 8 | f.body[1], id);
	raw_ack(&sub, MQTT_PUBCOMP, id);
	cr_assert(raw_silent(&sub, 300));
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, qos2_resent_before_pubrel_delivered_once_MQTT_4_3_3_2)
{
	struct raw sub, pub;
	pair(&sub, &pub, "once", 0);
	raw_publish(&pub, "once", "x", 2, false, 9);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBREC), 9);
	/* the PUBREC "got lost": the client re-sends with DUP */
	struct mqtt_publish again = {.qos = 2, .dup = true, .topic = {"once", 4}, .packet_id = 9,
				     .payload = {(const uint8_t *)"x", 1}};
	struct buf b;
	buf_init(&b);
	mqtt_encode_publish(&b, MQTT_V311, &again);
	raw_send_buf(&pub, &b);
	buf_fini(&b);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBREC), 9);
	raw_ack(&pub, MQTT_PUBREL, 9);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBCOMP), 9);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	cr_assert(raw_silent(&sub, 400), "delivered twice");
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, pubrel_for_unknown_id_still_gets_pubcomp_MQTT_4_3_3_2)
{
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "pub");
	raw_ack(&pub, MQTT_PUBREL, 4242);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBCOMP), 4242);
	raw_close(&pub);
}

Test(publish, delivered_qos_is_the_minimum_of_published_and_granted_MQTT_3_8_4_6)
{
	struct raw sub, pub;
	pair(&sub, &pub, "min", 1);
	raw_publish(&pub, "min", "hi", 2, false, 3);
	raw_expect_ack(&pub, MQTT_PUBREC);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	cr_assert_eq(p.qos, 1);
	raw_ack(&sub, MQTT_PUBACK, p.packet_id);
	raw_publish(&pub, "min", "lo", 0, false, 0);
	raw_expect_publish(&sub, &p);
	cr_assert_eq(p.qos, 0);
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, overlapping_subscriptions_deliver_once_at_the_highest_qos_MQTT_3_3_5_1)
{
	struct raw sub, pub;
	raw_connect_simple(&sub, broker.port, "sub");
	cr_assert_eq(raw_subscribe(&sub, 1, "x/#", 0), 0);
	cr_assert_eq(raw_subscribe(&sub, 2, "x/+", 1), 1);
	cr_assert_eq(raw_subscribe(&sub, 3, "x/y", 0), 0);
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "x/y", "m", 1, false, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	cr_assert_eq(p.qos, 1);
	raw_ack(&sub, MQTT_PUBACK, p.packet_id);
	cr_assert(raw_silent(&sub, 300), "delivered more than once");
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, publisher_receives_its_own_message_when_subscribed)
{
	struct raw c;
	raw_connect_simple(&c, broker.port, "echo");
	raw_subscribe(&c, 1, "me", 0);
	raw_publish(&c, "me", "self", 0, false, 0);
	struct mqtt_publish p;
	raw_expect_publish(&c, &p);
	raw_assert_publish(&p, "me", "self");
	raw_close(&c);
}

Test(publish, one_publisher_order_is_kept_per_topic_MQTT_4_6_0_6)
{
	struct raw sub, pub;
	pair(&sub, &pub, "ord/#", 1);
	char payload[16];
	for (int i = 0; i < 200; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		raw_publish(&pub, i % 2 ? "ord/a" : "ord/b", payload, 1, false, (uint16_t)(i + 1));
	}
	for (int i = 0; i < 200; i++) {
		struct mqtt_publish p;
		raw_expect_publish(&sub, &p);
		snprintf(payload, sizeof(payload), "%d", i);
		raw_assert_publish(&p, i % 2 ? "ord/a" : "ord/b", payload);
		raw_ack(&sub, MQTT_PUBACK, p.packet_id);
	}
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, retained_message_sent_to_new_subscribers_with_retain_set_MQTT_3_3_1_6)
{
	struct raw pub, late;
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "state/door", "open", 1, true, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	raw_connect_simple(&late, broker.port, "late");
	cr_assert_eq(raw_subscribe(&late, 1, "state/+", 1), 1);
	struct mqtt_publish p;
	raw_expect_publish(&late, &p);
	raw_assert_publish(&p, "state/door", "open");
	cr_assert(p.retain, "[MQTT-3.3.1-8]");
	cr_assert_eq(p.qos, 1, "stored with its QoS [MQTT-3.3.1-5]");
	raw_ack(&late, MQTT_PUBACK, p.packet_id);
	raw_close(&pub);
	raw_close(&late);
}

Test(publish, retained_message_replaced_by_the_next_one_MQTT_3_3_1_5)
{
	struct raw pub, late;
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "r/t", "first", 0, true, 0);
	raw_publish(&pub, "r/t", "second", 0, true, 0);
	raw_publish(&pub, "r/t", "not retained", 0, false, 0); /* [MQTT-3.3.1-12] */
	raw_subscribe(&pub, 9, "sync", 0);                      /* round trip: all processed */
	raw_connect_simple(&late, broker.port, "late");
	raw_subscribe(&late, 1, "r/t", 0);
	struct mqtt_publish p;
	raw_expect_publish(&late, &p);
	raw_assert_publish(&p, "r/t", "second");
	cr_assert(raw_silent(&late, 300));
	raw_close(&pub);
	raw_close(&late);
}

Test(publish, empty_retained_payload_clears_the_topic_MQTT_3_3_1_10)
{
	struct raw pub, late;
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "gone/t", "x", 0, true, 0);
	raw_publish(&pub, "gone/t", "", 0, true, 0);
	raw_subscribe(&pub, 9, "sync", 0);
	raw_connect_simple(&late, broker.port, "late");
	raw_subscribe(&late, 1, "gone/#", 0);
	cr_assert(raw_silent(&late, 400), "cleared retained message was delivered [MQTT-3.3.1-11]");
	raw_close(&pub);
	raw_close(&late);
}

Test(publish, retain_flag_cleared_for_established_subscriptions_MQTT_3_3_1_9)
{
	struct raw sub, pub;
	pair(&sub, &pub, "live", 0);
	raw_publish(&pub, "live", "now", 0, true, 0);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	cr_assert_not(p.retain);
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish, wildcards_do_not_match_dollar_topics_MQTT_4_7_2_1)
{
	struct raw all, dollar, pub;
	raw_connect_simple(&all, broker.port, "all");
	raw_subscribe(&all, 1, "#", 0);
	raw_subscribe(&all, 2, "+/x", 0);
	raw_connect_simple(&dollar, broker.port, "dollar");
	raw_subscribe(&dollar, 1, "$app/#", 0);
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "$app/x", "d", 0, false, 0);
	struct mqtt_publish p;
	raw_expect_publish(&dollar, &p);
	raw_assert_publish(&p, "$app/x", "d");
	cr_assert(raw_silent(&all, 300));
	raw_close(&all);
	raw_close(&dollar);
	raw_close(&pub);
}

Test(publish, topic_name_with_wildcard_closes_the_connection_MQTT_3_3_2_2)
{
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "pub");
	/* PUBLISH QoS 0 topic "a/+" payload "x" */
	static const uint8_t pkt[] = {0x30, 6, 0, 3, 'a', '/', '+', 'x'};
	raw_send(&pub, pkt, sizeof(pkt));
	cr_assert(raw_closed_within(&pub, 3000, NULL));
	raw_close(&pub);
}

Test(publish, large_payload_round_trips)
{
	struct raw sub, pub;
	pair(&sub, &pub, "big", 1);
	static char payload[300000];
	memset(payload, 'z', sizeof(payload) - 1);
	raw_publish(&pub, "big", payload, 1, false, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "big", payload);
	raw_close(&sub);
	raw_close(&pub);
}

Test(publish_opts, payload_above_message_size_limit_closes_the_publisher, .timeout = 30)
{
	struct hb b;
	hb_start(&b, "message_size_limit 10");
	struct raw sub, pub;
	raw_connect_simple(&sub, b.port, "sub");
	raw_subscribe(&sub, 1, "t", 0);
	raw_connect_simple(&pub, b.port, "pub");
	raw_publish(&pub, "t", "0123456789", 0, false, 0);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_publish(&pub, "t", "0123456789A", 0, false, 0);
	cr_assert(raw_closed_within(&pub, 3000, NULL));
	cr_assert(raw_silent(&sub, 300), "oversized message was delivered");
	raw_close(&sub);
	raw_close(&pub);
	cr_assert_eq(hb_stop(&b), 0);
}
