/* Persistent sessions (clean session 0): subscriptions and QoS 1/2
 * messages survive a disconnect, unacknowledged messages are redelivered
 * with DUP, clean sessions forget: MQTT 3.1.1 sections 3.1.2.4 and 4.4. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

static struct hb broker;

static void start(void) { hb_start(&broker, "max_queued_messages 100\nmax_inflight_messages 10"); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(session, .init = start, .fini = stop, .timeout = 60);

static bool connect_persistent(struct raw *r, const char *id)
{
	struct raw_connect_opts o = {.client_id = id, .clean = false, .keepalive = 30};
	bool present = false;
	cr_assert_eq(raw_connect(r, broker.port, &o, &present), 0);
	return present;
}

/* Leave with DISCONNECT and wait for the broker's close, so the broker has
 * seen the session go offline before the test publishes to it. */
static void go_offline(struct raw *r)
{
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(r, disconnect, sizeof(disconnect));
	cr_assert(raw_closed_within(r, 5000, NULL));
	raw_close(r);
}

/* Publish n QoS 1 messages "0".."n-1" on topic and wait for every PUBACK. */
static void publish_n(const char *topic, int n, uint8_t qos)
{
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "publisher");
	char payload[16];
	for (int i = 0; i < n; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		raw_publish(&pub, topic, payload, qos, false, (uint16_t)(i + 1));
		if (qos == 1)
			raw_expect_ack(&pub, MQTT_PUBACK);
		if (qos == 2) {
			raw_expect_ack(&pub, MQTT_PUBREC);
			raw_ack(&pub, MQTT_PUBREL, (uint16_t)(i + 1));
			raw_expect_ack(&pub, MQTT_PUBCOMP);
		}
	}
	raw_close(&pub);
}

Test(session, subscriptions_survive_reconnect_MQTT_3_1_2_4)
{
	struct raw r;
	connect_persistent(&r, "dev");
	raw_subscribe(&r, 1, "cmd/dev", 1);
	raw_close(&r);
	cr_assert(connect_persistent(&r, "dev"));
	publish_n("cmd/dev", 1, 1);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	raw_assert_publish(&p, "cmd/dev", "0");
	raw_close(&r);
}

Test(session, qos1_and_qos2_queued_while_offline_are_delivered_in_order_MQTT_3_1_2_5)
{
	struct raw r;
	connect_persistent(&r, "dev");
	raw_subscribe(&r, 1, "q/#", 2);
	go_offline(&r);
	publish_n("q/1", 5, 1);
	publish_n("q/2", 5, 2);
	publish_n("q/0", 3, 0); /* QoS 0 is not queued for offline clients */
	/* the publisher's acks come from its own worker; the session's worker
	 * applies the deliveries a moment later: let it, before reconnecting */
	usleep(200000);
	cr_assert(connect_persistent(&r, "dev"));
	/* PUBLISHes and the PUBRELs of the QoS 2 ones interleave on the wire */
	char want[16];
	int published = 0, completed = 0;
	while (published < 10 || completed < 5) {
		struct mqtt_frame f;
		cr_assert_eq(raw_recv(&r, &f, RAW_TIMEOUT_MS), FM_OK);
		uint8_t reason;
		if (f.type == MQTT_PUBREL) {
			struct mqtt_ack a;
			cr_assert(mqtt_decode_ack(&f, MQTT_V311, &a, &reason) == FM_OK);
			raw_ack(&r, MQTT_PUBCOMP, a.packet_id);
			completed++;
			continue;
		}
		struct mqtt_publish p;
		cr_assert_eq(f.type, MQTT_PUBLISH);
		cr_assert(mqtt_decode_publish(&f, MQTT_V311, &p, &reason) == FM_OK);
		int i = published++;
		snprintf(want, sizeof(want), "%d", i % 5);
		raw_assert_publish(&p, i < 5 ? "q/1" : "q/2", want);
		cr_assert_eq(p.qos, i < 5 ? 1 : 2);
		raw_ack(&r, p.qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, p.packet_id);
	}
	cr_assert(raw_silent(&r, 300));
	raw_close(&r);
}

Test(session, unacknowledged_publish_resent_with_dup_on_reconnect_MQTT_4_4_0_1)
{
	struct raw r;
	connect_persistent(&r, "dev");
	raw_subscribe(&r, 1, "t", 1);
	publish_n("t", 1, 1);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	uint16_t id = p.packet_id;
	cr_assert_not(p.dup);
	raw_close(&r); /* never acknowledged */
	cr_assert(connect_persistent(&r, "dev"));
	raw_expect_publish(&r, &p);
	raw_assert_publish(&p, "t", "0");
	cr_assert(p.dup, "[MQTT-3.3.1-1] re-delivery has DUP set");
	cr_assert_eq(p.packet_id, id, "same packet id on re-delivery");
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	raw_close(&r);
	cr_assert(connect_persistent(&r, "dev"));
	cr_assert(raw_silent(&r, 300), "acknowledged message delivered again");
	raw_close(&r);
}

Test(session, pubrel_resent_on_reconnect_after_pubrec_MQTT_4_4_0_1)
{
	struct raw r;
	connect_persistent(&r, "dev");
	raw_subscribe(&r, 1, "t2", 2);
	publish_n("t2", 1, 2);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	uint16_t id = p.packet_id;
	raw_ack(&r, MQTT_PUBREC, id);
	raw_expect_ack(&r, MQTT_PUBREL);
	raw_close(&r); /* PUBCOMP never sent */
	cr_assert(connect_persistent(&r, "dev"));
	cr_assert_eq(raw_expect_ack(&r, MQTT_PUBREL), id, "PUBREL, not the PUBLISH again");
	raw_ack(&r, MQTT_PUBCOMP, id);
	cr_assert(raw_silent(&r, 300));
	raw_close(&r);
}

Test(session, clean_session_discards_the_stored_state_MQTT_3_1_2_6)
{
	struct raw r;
	connect_persistent(&r, "dev");
	raw_subscribe(&r, 1, "gone", 1);
	go_offline(&r);
	publish_n("gone", 2, 1);
	struct raw_connect_opts o = {.client_id = "dev", .clean = true};
	bool present = true;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert_not(present);
	cr_assert(raw_silent(&r, 300), "queued messages of the discarded session arrived");
	publish_n("gone", 1, 1);
	cr_assert(raw_silent(&r, 300), "subscription of the discarded session still active");
	raw_close(&r);
}

Test(session, inflight_window_limits_unacknowledged_deliveries)
{
	struct raw r;
	connect_persistent(&r, "slow");
	raw_subscribe(&r, 1, "w", 1);
	publish_n("w", 15, 1);
	uint16_t ids[15];
	for (int i = 0; i < 10; i++) {
		struct mqtt_publish p;
		raw_expect_publish(&r, &p);
		ids[i] = p.packet_id;
	}
	cr_assert(raw_silent(&r, 300), "more than max_inflight_messages (10) unacknowledged");
	for (int i = 0; i < 5; i++)
		raw_ack(&r, MQTT_PUBACK, ids[i]);
	char want[16];
	for (int i = 10; i < 15; i++) {
		struct mqtt_publish p;
		raw_expect_publish(&r, &p);
		snprintf(want, sizeof(want), "%d", i);
		raw_assert_publish(&p, "w", want);
	}
	raw_close(&r);
}

Test(session, queue_beyond_max_queued_messages_is_dropped)
{
	struct raw r;
	connect_persistent(&r, "offline");
	raw_subscribe(&r, 1, "flood", 1);
	go_offline(&r);
	publish_n("flood", 150, 1);
	connect_persistent(&r, "offline");
	int got = 0;
	struct mqtt_frame f;
	while (raw_recv(&r, &f, 500) == FM_OK) {
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert(mqtt_decode_publish(&f, MQTT_V311, &p, &reason) == FM_OK);
		raw_ack(&r, MQTT_PUBACK, p.packet_id);
		got++;
	}
	/* max_queued_messages 100 plus nothing in flight while offline */
	cr_assert_eq(got, 100, "got %d", got);
	raw_close(&r);
}

Test(session, qos2_from_publisher_exactly_once_across_a_reconnect_MQTT_4_3_3_2)
{
	struct raw sub, pub;
	raw_connect_simple(&sub, broker.port, "sub");
	raw_subscribe(&sub, 1, "eo", 2);
	connect_persistent(&pub, "pub");
	raw_publish(&pub, "eo", "exactly", 2, false, 11);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBREC), 11);
	raw_close(&pub); /* gone before PUBREL */

	cr_assert(connect_persistent(&pub, "pub"));
	struct mqtt_publish again = {.qos = 2, .dup = true, .topic = {"eo", 2}, .packet_id = 11,
				     .payload = {(const uint8_t *)"exactly", 7}};
	struct buf b;
	buf_init(&b);
	mqtt_encode_publish(&b, MQTT_V311, &again);
	raw_send_buf(&pub, &b);
	buf_fini(&b);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBREC), 11);
	raw_ack(&pub, MQTT_PUBREL, 11);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBCOMP), 11);

	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "eo", "exactly");
	raw_ack(&sub, MQTT_PUBREC, p.packet_id);
	raw_expect_ack(&sub, MQTT_PUBREL);
	raw_ack(&sub, MQTT_PUBCOMP, p.packet_id);
	cr_assert(raw_silent(&sub, 400), "QoS 2 message delivered twice");
	raw_close(&sub);
	raw_close(&pub);
}

Test(session, qos2_to_subscriber_exactly_once_across_a_reconnect_MQTT_4_4_0_1)
{
	struct raw r;
	connect_persistent(&r, "dev");
	raw_subscribe(&r, 1, "eo2", 2);
	publish_n("eo2", 1, 2);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	raw_close(&r); /* no PUBREC: the broker must resend the PUBLISH */
	cr_assert(connect_persistent(&r, "dev"));
	raw_expect_publish(&r, &p);
	cr_assert(p.dup);
	raw_ack(&r, MQTT_PUBREC, p.packet_id);
	raw_expect_ack(&r, MQTT_PUBREL);
	raw_ack(&r, MQTT_PUBCOMP, p.packet_id);
	raw_close(&r);
	cr_assert(connect_persistent(&r, "dev"));
	cr_assert(raw_silent(&r, 300), "completed QoS 2 message resent");
	raw_close(&r);
}

Test(session, retained_messages_of_every_matching_topic_on_wildcard_subscribe_MQTT_3_3_1_6)
{
	struct raw pub, sub;
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, "home/kitchen/temp", "21", 0, true, 0);
	raw_publish(&pub, "home/hall/temp", "19", 0, true, 0);
	raw_publish(&pub, "home/hall/door", "shut", 0, true, 0);
	raw_publish(&pub, "office/temp", "23", 0, true, 0);
	raw_subscribe(&pub, 9, "sync", 0);
	raw_connect_simple(&sub, broker.port, "sub");
	raw_subscribe(&sub, 1, "home/+/temp", 0);
	int kitchen = 0, hall = 0;
	for (int i = 0; i < 2; i++) {
		struct mqtt_publish p;
		raw_expect_publish(&sub, &p);
		cr_assert(p.retain);
		if (p.topic.len == 17)
			kitchen++;
		else
			hall++;
	}
	cr_assert(kitchen == 1 && hall == 1);
	cr_assert(raw_silent(&sub, 300));
	raw_subscribe(&sub, 2, "home/#", 0);
	int n = 0;
	struct mqtt_frame f;
	while (raw_recv(&sub, &f, 300) == FM_OK)
		n++;
	cr_assert_eq(n, 3, "home/# matches three retained topics");
	raw_close(&pub);
	raw_close(&sub);
}

Test(session_bytes, offline_queue_bounded_by_max_queued_bytes, .timeout = 60)
{
	struct hb b;
	hb_start(&b, "max_queued_messages 0\nmax_queued_bytes 1000");
	struct raw r, pub;
	struct raw_connect_opts o = {.client_id = "offline", .clean = false};
	cr_assert_eq(raw_connect(&r, b.port, &o, NULL), 0);
	raw_subscribe(&r, 1, "bytes", 1);
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&r, disconnect, sizeof(disconnect));
	cr_assert(raw_closed_within(&r, 5000, NULL));
	raw_close(&r);
	raw_connect_simple(&pub, b.port, "pub");
	static char payload[101];
	memset(payload, 'b', 100);
	for (int i = 0; i < 30; i++) {
		raw_publish(&pub, "bytes", payload, 1, false, (uint16_t)(i + 1));
		raw_expect_ack(&pub, MQTT_PUBACK);
	}
	raw_close(&pub);
	cr_assert_eq(raw_connect(&r, b.port, &o, NULL), 0);
	int got = 0;
	struct mqtt_frame f;
	while (raw_recv(&r, &f, 500) == FM_OK) {
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert(mqtt_decode_publish(&f, MQTT_V311, &p, &reason) == FM_OK);
		raw_ack(&r, MQTT_PUBACK, p.packet_id);
		got++;
	}
	cr_assert(got >= 5 && got <= 10, "1000 queued bytes hold 5..10 100-byte messages, got %d", got);
	raw_close(&r);
	cr_assert_eq(hb_stop(&b), 0);
}
