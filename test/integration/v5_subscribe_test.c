/* MQTT 5.0 subscriptions and flow towards subscribers: SUBACK and UNSUBACK
 * reason codes, Subscription Identifiers, No Local, Retain As Published,
 * Retain Handling, and the client's Receive Maximum and Maximum Packet
 * Size (MQTT 5.0 sections 3.1.2.11.3-4, 3.3.4, 3.8-3.11, 4.9). */
#include "v5.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(v5_subscribe, .init = v5_start_default, .fini = v5_stop, .timeout = 60);

#define NO_LOCAL 0x04
#define RETAIN_AS_PUBLISHED 0x08
#define RETAIN_HANDLING(n) ((n) << 4)

/* Publish one QoS 1 message from a fresh 5.0 client and wait for its ack. */
static void publish_from(const char *id, const char *topic, const char *payload, bool retain)
{
	struct raw pub;
	v5_connect_simple(&pub, id);
	raw_publish(&pub, topic, payload, 1, retain, 1);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 1);
	v5_disconnect(&pub);
}

static void ack_if_needed(struct raw *r, const struct mqtt_publish *m)
{
	if (m->qos == 1)
		raw_ack(r, MQTT_PUBACK, m->packet_id);
}

/* --- SUBACK / UNSUBACK ----------------------------------------------------------- */

Test(v5_subscribe, MQTT_3_9_3_suback_reason_code_per_filter)
{
	struct raw r;
	v5_connect_simple(&r, "suback5");
	struct mqtt_sub_entry e[] = {
		{{"s/q0", 4}, 0}, {{"s/q1", 4}, 1}, {{"s/q2", 4}, 2},
		{{"s/#/bad", 7}, 1}, {{"s/a+", 4}, 0}, {{"$share/g/s", 10}, 1},
	};
	uint8_t codes[6];
	raw_subscribe_n(&r, 7, e, 6, 0, codes);
	static const uint8_t want[] = {0x00, 0x01, 0x02, 0x8F, 0x8F, 0x01}; /* shared: granted */
	char w[64], g[64];
	cr_assert(memcmp(codes, want, 6) == 0, "SUBACK codes %s, expected %s", hex(codes, 6, g, sizeof(g)),
		  hex(want, 6, w, sizeof(w)));
	raw_close(&r);

	/* 3.1.1: 0x80 for the invalid filters, "$share/..." a shared one too */
	raw_connect_simple(&r, v5_broker.port, "suback311");
	raw_subscribe_n(&r, 8, e, 6, 0, codes);
	static const uint8_t want3[] = {0x00, 0x01, 0x02, 0x80, 0x80, 0x01};
	cr_assert(memcmp(codes, want3, 6) == 0, "3.1.1 SUBACK codes %s, expected %s", hex(codes, 6, g, sizeof(g)),
		  hex(want3, 6, w, sizeof(w)));
	raw_close(&r);
}

/* QoS 3 or Retain Handling 3 in a 5.0 SUBSCRIBE is a Protocol Error
 * (3.8.3.1): DISCONNECT 0x82; reserved bits 6-7 set are Malformed
 * [MQTT-3.8.3-5]: 0x81. */
Test(v5_subscribe, MQTT_3_8_3_5_bad_subscription_options_disconnect_with_the_right_code)
{
	static const struct { uint8_t options; uint8_t rc; } cases[] = {
		{0x03, MQTT_RC_PROTOCOL_ERROR}, {0x30, MQTT_RC_PROTOCOL_ERROR}, {0x41, MQTT_RC_MALFORMED_PACKET},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw r;
		v5_connect_simple(&r, "bad-options");
		const uint8_t sub[] = {0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', cases[i].options};
		raw_send(&r, sub, sizeof(sub));
		uint8_t got = raw_expect_disconnect(&r, V5_WAIT_MS, NULL);
		cr_assert_eq(got, cases[i].rc, "options 0x%02x: DISCONNECT 0x%02x, expected 0x%02x", cases[i].options, got,
			     cases[i].rc);
		raw_close(&r);
	}
}

Test(v5_subscribe, MQTT_3_11_3_unsuback_0x00_removed_0x11_not_subscribed)
{
	struct raw r;
	v5_connect_simple(&r, "unsuback5");
	cr_assert_eq(raw_subscribe5(&r, 1, "u/a", 1, 0), 1);
	cr_assert_eq(raw_subscribe5(&r, 2, "u/b", 1, 0), 1);
	const char *const f3[] = {"u/a", "u/x", "u/b"};
	uint8_t codes[3];
	raw_unsubscribe_n(&r, 3, f3, 3, codes);
	cr_assert(codes[0] == 0x00 && codes[1] == 0x11 && codes[2] == 0x00, "UNSUBACK codes %02X %02X %02X, expected 00 11 00",
		  codes[0], codes[1], codes[2]);
	const char *const f1[] = {"u/a"};
	raw_unsubscribe_n(&r, 4, f1, 1, codes);
	cr_assert_eq(codes[0], 0x11, "second UNSUBSCRIBE of u/a: 0x%02x, expected 0x11", codes[0]);
	/* and nothing is delivered any more */
	struct raw pub;
	v5_connect_simple(&pub, "unsuback-pub");
	raw_publish(&pub, "u/a", "x", 1, false, 1);
	EXPECT_BYTES(&pub, "PUBACK 0x10 after the unsubscribe", 0x40, 0x03, 0x00, 0x01, 0x10);
	cr_assert(raw_silent(&r, 1000));
	raw_close(&pub);
	raw_close(&r);
}

/* --- Subscription Identifiers ----------------------------------------------------- */

Test(v5_subscribe, MQTT_3_8_4_subscription_identifier_delivered_with_each_message)
{
	publish_from("si-retainer", "si/retained", "old", true);
	struct raw sub;
	v5_connect_simple(&sub, "si-sub");
	cr_assert_eq(raw_subscribe5(&sub, 1, "si/#", 1, 7), 1);
	struct mqtt_publish m;
	struct mqtt_props got;
	expect_publish5(&sub, "si/retained", "old", 1, &m, &got);
	cr_assert_eq(raw_prop_count(m.props, MQTT_PROP_SUBSCRIPTION_ID), 1, "retained message: one Subscription Identifier");
	cr_assert_eq(got.num[MQTT_PROP_SUBSCRIPTION_ID], 7);
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);

	publish_from("si-pub", "si/live", "new", false);
	expect_publish5(&sub, "si/live", "new", 1, &m, &got);
	cr_assert_eq(raw_prop_count(m.props, MQTT_PROP_SUBSCRIPTION_ID), 1, "one Subscription Identifier [MQTT-3.3.4-3]");
	cr_assert_eq(got.num[MQTT_PROP_SUBSCRIPTION_ID], 7);
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);

	/* a big identifier (4-byte varint) */
	cr_assert_eq(raw_subscribe5(&sub, 2, "big/id", 0, 268435455), 0);
	publish_from("si-pub", "big/id", "b", false);
	expect_publish5(&sub, "big/id", "b", 0, &m, &got);
	cr_assert_eq(mqtt_props_num(&got, MQTT_PROP_SUBSCRIPTION_ID, 0), 268435455);

	/* the subscription replaced by one without an identifier: none */
	cr_assert_eq(raw_subscribe5(&sub, 3, "si/#", 1, 0), 1);
	expect_publish5(&sub, "si/retained", "old", 1, &m, &got); /* Retain Handling 0: again */
	cr_assert_eq(raw_prop_count(m.props, MQTT_PROP_SUBSCRIPTION_ID), 0, "replaced subscription kept its identifier");
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	publish_from("si-pub", "si/live", "newer", false);
	expect_publish5(&sub, "si/live", "newer", 1, &m, &got);
	cr_assert_eq(raw_prop_count(m.props, MQTT_PROP_SUBSCRIPTION_ID), 0, "replaced subscription kept its identifier");
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	raw_close(&sub);
}

Test(v5_subscribe, MQTT_3_3_4_5_overlapping_subscriptions_with_different_identifiers_one_copy_each)
{
	struct raw sub;
	v5_connect_simple(&sub, "so-sub");
	cr_assert_eq(raw_subscribe5(&sub, 1, "so/#", 1, 1), 1);
	cr_assert_eq(raw_subscribe5(&sub, 2, "so/+", 0, 2), 0);
	publish_from("so-pub", "so/x", "twice", false);
	bool seen[3] = {false};
	for (int i = 0; i < 2; i++) {
		struct mqtt_publish m;
		struct mqtt_props got;
		raw_expect_publish5(&sub, &m, &got);
		raw_assert_publish(&m, "so/x", "twice");
		cr_assert_eq(raw_prop_count(m.props, MQTT_PROP_SUBSCRIPTION_ID), 1,
			     "each copy carries exactly its own identifier [MQTT-3.3.4-5]");
		uint32_t id = got.num[MQTT_PROP_SUBSCRIPTION_ID];
		cr_assert(id == 1 || id == 2, "Subscription Identifier %u", id);
		cr_assert_not(seen[id], "two copies with identifier %u", id);
		seen[id] = true;
		cr_assert_eq(m.qos, id == 1 ? 1 : 0, "copy for identifier %u at QoS %u", id, m.qos);
		ack_if_needed(&sub, &m);
	}
	cr_assert(raw_silent(&sub, 1000), "a third copy");
	raw_close(&sub);
}

Test(v5_subscribe, MQTT_3_3_4_2_overlapping_subscriptions_with_the_same_identifier_one_copy)
{
	struct raw sub;
	v5_connect_simple(&sub, "ss-sub");
	cr_assert_eq(raw_subscribe5(&sub, 1, "ss/#", 0, 5), 0);
	cr_assert_eq(raw_subscribe5(&sub, 2, "ss/+", 1, 5), 1);
	publish_from("ss-pub", "ss/x", "once", false);
	struct mqtt_publish m;
	struct mqtt_props got;
	expect_publish5(&sub, "ss/x", "once", 1, &m, &got); /* at the higher QoS */
	cr_assert_eq(raw_prop_count(m.props, MQTT_PROP_SUBSCRIPTION_ID), 1);
	cr_assert_eq(got.num[MQTT_PROP_SUBSCRIPTION_ID], 5);
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	cr_assert(raw_silent(&sub, 1000), "a second copy");
	raw_close(&sub);
}

/* A Subscription Identifier of 0 is a Protocol Error (3.8.2.1.2). */
Test(v5_subscribe, MQTT_3_8_2_1_2_subscription_identifier_0_disconnect_0x82)
{
	struct raw r;
	v5_connect_simple(&r, "subid0");
	/* SUBSCRIBE id 1, properties: Subscription Identifier 0; "t" QoS 0 */
	static const uint8_t pkt[] = {0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, 't', 0x00};
	raw_send(&r, pkt, sizeof(pkt));
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, NULL), MQTT_RC_PROTOCOL_ERROR);
	raw_close(&r);
}

/* --- subscription options --------------------------------------------------------- */

Test(v5_subscribe, MQTT_3_8_3_3_no_local)
{
	struct raw a, b;
	v5_connect_simple(&a, "nl-a");
	cr_assert_eq(raw_subscribe5(&a, 1, "nl/t", 0 | NO_LOCAL, 0), 0);
	v5_connect_simple(&b, "nl-b");
	cr_assert_eq(raw_subscribe5(&b, 1, "nl/t", 0, 0), 0);
	raw_publish(&a, "nl/t", "from-a", 0, false, 0);
	expect_publish5(&b, "nl/t", "from-a", 0, NULL, NULL);
	cr_assert(raw_silent(&a, 1000), "No Local: own message delivered back [MQTT-3.8.3-3]");
	raw_publish(&b, "nl/t", "from-b", 0, false, 0);
	expect_publish5(&a, "nl/t", "from-b", 0, NULL, NULL); /* others' messages still come */
	expect_publish5(&b, "nl/t", "from-b", 0, NULL, NULL); /* without No Local: own message back */
	raw_close(&a);
	raw_close(&b);
}

Test(v5_subscribe, MQTT_3_3_1_12_retain_as_published)
{
	struct raw rap, plain;
	v5_connect_simple(&rap, "rap-1");
	cr_assert_eq(raw_subscribe5(&rap, 1, "rap/t", 0 | RETAIN_AS_PUBLISHED, 0), 0);
	v5_connect_simple(&plain, "rap-0");
	cr_assert_eq(raw_subscribe5(&plain, 1, "rap/t", 0, 0), 0);
	publish_from("rap-pub", "rap/t", "kept", true);
	struct mqtt_publish m;
	expect_publish5(&rap, "rap/t", "kept", 0, &m, NULL);
	cr_assert(m.retain, "Retain As Published: RETAIN cleared [MQTT-3.3.1-12]");
	expect_publish5(&plain, "rap/t", "kept", 0, &m, NULL);
	cr_assert_not(m.retain, "without Retain As Published: RETAIN set on a live delivery [MQTT-3.3.1-12]");
	publish_from("rap-pub", "rap/t", "plain", false);
	expect_publish5(&rap, "rap/t", "plain", 0, &m, NULL);
	cr_assert_not(m.retain, "Retain As Published set RETAIN on a message published without it");
	raw_close(&rap);
	raw_close(&plain);
}

/* Retain Handling 0: retained messages on every subscribe; 1: only when
 * the subscription is new; 2: never [MQTT-3.3.1-9..11]. */
Test(v5_subscribe, MQTT_3_3_1_9_10_11_retain_handling)
{
	publish_from("rh-pub", "rh/t", "kept", true);
	struct mqtt_publish m;
	struct raw r0, r1, r2;

	v5_connect_simple(&r0, "rh0");
	cr_assert_eq(raw_subscribe5(&r0, 1, "rh/t", 0 | RETAIN_HANDLING(0), 0), 0);
	expect_publish5(&r0, "rh/t", "kept", 0, &m, NULL);
	cr_assert(m.retain, "retained message on subscribe without RETAIN [MQTT-3.3.1-8]");
	cr_assert_eq(raw_subscribe5(&r0, 2, "rh/t", 0 | RETAIN_HANDLING(0), 0), 0);
	expect_publish5(&r0, "rh/t", "kept", 0, &m, NULL); /* [MQTT-3.3.1-9]: again on a re-subscribe */

	v5_connect_simple(&r1, "rh1");
	cr_assert_eq(raw_subscribe5(&r1, 1, "rh/t", 0 | RETAIN_HANDLING(1), 0), 0);
	expect_publish5(&r1, "rh/t", "kept", 0, &m, NULL); /* new subscription [MQTT-3.3.1-10] */
	cr_assert_eq(raw_subscribe5(&r1, 2, "rh/t", 0 | RETAIN_HANDLING(1), 0), 0);
	cr_assert(raw_silent(&r1, 1000), "Retain Handling 1: retained sent for an existing subscription [MQTT-3.3.1-10]");

	v5_connect_simple(&r2, "rh2");
	cr_assert_eq(raw_subscribe5(&r2, 1, "rh/t", 0 | RETAIN_HANDLING(2), 0), 0);
	cr_assert(raw_silent(&r2, 1000), "Retain Handling 2: retained sent [MQTT-3.3.1-11]");
	/* live messages still come */
	publish_from("rh-pub", "rh/t", "live", false);
	expect_publish5(&r2, "rh/t", "live", 0, NULL, NULL);
	raw_close(&r0);
	raw_close(&r1);
	raw_close(&r2);
}

/* --- the client's limits ----------------------------------------------------------- */

/* Receive Maximum 2: never more than 2 QoS 1 PUBLISH unacknowledged
 * towards the client [MQTT-3.3.4-9]; the rest go as acks come back. */
Test(v5_subscribe, MQTT_3_3_4_9_client_receive_maximum)
{
	struct props cp;
	props_begin(&cp);
	props_u16(&cp, MQTT_PROP_RECEIVE_MAXIMUM, 2);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "rm2", .clean = true, .keepalive = 60,
				     .props = props_bin(&cp)};
	struct raw sub, pub;
	cr_assert_eq(raw_connect(&sub, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	props_end(&cp);
	cr_assert_eq(raw_subscribe5(&sub, 1, "rm/t", 1, 0), 1);
	v5_connect_simple(&pub, "rm-pub");
	for (uint16_t i = 0; i < 5; i++) {
		char payload[8];
		snprintf(payload, sizeof(payload), "m%u", i);
		raw_publish(&pub, "rm/t", payload, 1, false, (uint16_t)(i + 1));
		cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), i + 1);
	}
	uint16_t ids[5];
	struct mqtt_publish m;
	expect_publish5(&sub, "rm/t", "m0", 1, &m, NULL);
	ids[0] = m.packet_id;
	expect_publish5(&sub, "rm/t", "m1", 1, &m, NULL);
	ids[1] = m.packet_id;
	cr_assert(raw_silent(&sub, 1000), "a third PUBLISH before any ack, Receive Maximum 2 [MQTT-3.3.4-9]");
	for (uint16_t i = 2; i < 5; i++) {
		raw_ack(&sub, MQTT_PUBACK, ids[i - 2]);
		char payload[8];
		snprintf(payload, sizeof(payload), "m%u", i);
		expect_publish5(&sub, "rm/t", payload, 1, &m, NULL);
		ids[i] = m.packet_id;
		if (i < 4)
			cr_assert(raw_silent(&sub, 500), "more than one PUBLISH for one ack");
	}
	raw_ack(&sub, MQTT_PUBACK, ids[3]);
	raw_ack(&sub, MQTT_PUBACK, ids[4]);
	cr_assert(raw_silent(&sub, 1000));
	raw_close(&pub);
	raw_close(&sub);
}

/* Messages queued while the session was offline go no faster: Receive
 * Maximum 2 on the reconnect, 4 queued, 2 at first. */
Test(v5_subscribe, MQTT_3_3_4_9_client_receive_maximum_on_resume)
{
	struct props cp;
	props_begin(&cp);
	props_u32(&cp, MQTT_PROP_SESSION_EXPIRY, 60);
	props_u16(&cp, MQTT_PROP_RECEIVE_MAXIMUM, 2);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "rmq", .clean = true, .keepalive = 60,
				     .props = props_bin(&cp)};
	struct raw sub;
	cr_assert_eq(raw_connect(&sub, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	cr_assert_eq(raw_subscribe5(&sub, 1, "rmq/t", 1, 0), 1);
	v5_disconnect(&sub);
	for (int i = 0; i < 4; i++) {
		char payload[8];
		snprintf(payload, sizeof(payload), "q%d", i);
		publish_from("rmq-pub", "rmq/t", payload, false);
	}
	o.clean = false;
	bool present = false;
	cr_assert_eq(raw_connect(&sub, v5_broker.port, &o, &present), MQTT_RC_SUCCESS);
	props_end(&cp);
	cr_assert(present);
	struct mqtt_publish m;
	uint16_t ids[4];
	expect_publish5(&sub, "rmq/t", "q0", 1, &m, NULL);
	ids[0] = m.packet_id;
	expect_publish5(&sub, "rmq/t", "q1", 1, &m, NULL);
	ids[1] = m.packet_id;
	cr_assert(raw_silent(&sub, 1000), "a third queued PUBLISH before any ack, Receive Maximum 2");
	raw_ack(&sub, MQTT_PUBACK, ids[0]);
	raw_ack(&sub, MQTT_PUBACK, ids[1]);
	expect_publish5(&sub, "rmq/t", "q2", 1, &m, NULL);
	ids[2] = m.packet_id;
	expect_publish5(&sub, "rmq/t", "q3", 1, &m, NULL);
	ids[3] = m.packet_id;
	raw_ack(&sub, MQTT_PUBACK, ids[2]);
	raw_ack(&sub, MQTT_PUBACK, ids[3]);
	cr_assert(raw_silent(&sub, 1000));
	raw_close(&sub);
}

/* QoS 2 holds its place in the client's Receive Maximum until PUBCOMP,
 * not PUBREC (section 4.9). */
Test(v5_subscribe, MQTT_4_9_client_receive_maximum_counts_qos2_until_pubcomp)
{
	struct props cp;
	props_begin(&cp);
	props_u16(&cp, MQTT_PROP_RECEIVE_MAXIMUM, 1);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "rm1", .clean = true, .keepalive = 60,
				     .props = props_bin(&cp)};
	struct raw sub, pub;
	cr_assert_eq(raw_connect(&sub, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	props_end(&cp);
	cr_assert_eq(raw_subscribe5(&sub, 1, "rm1/t", 2, 0), 2);
	v5_connect_simple(&pub, "rm1-pub");
	for (uint16_t id = 1; id <= 2; id++) {
		raw_publish(&pub, "rm1/t", id == 1 ? "q1" : "q2", 2, false, id);
		cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBREC), id);
		raw_ack(&pub, MQTT_PUBREL, id);
		cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBCOMP), id);
	}
	struct mqtt_publish m;
	expect_publish5(&sub, "rm1/t", "q1", 2, &m, NULL);
	uint16_t id = m.packet_id;
	raw_ack(&sub, MQTT_PUBREC, id);
	cr_assert_eq(raw_expect_ack(&sub, MQTT_PUBREL), id, "PUBREL expected before anything else");
	cr_assert(raw_silent(&sub, 1000), "a second QoS 2 PUBLISH before PUBCOMP with Receive Maximum 1");
	raw_ack(&sub, MQTT_PUBCOMP, id);
	expect_publish5(&sub, "rm1/t", "q2", 2, &m, NULL);
	raw_ack(&sub, MQTT_PUBREC, m.packet_id);
	cr_assert_eq(raw_expect_ack(&sub, MQTT_PUBREL), m.packet_id);
	raw_ack(&sub, MQTT_PUBCOMP, m.packet_id);
	raw_close(&pub);
	raw_close(&sub);
}

static char *filled(size_t n)
{
	char *p = malloc(n + 1);
	memset(p, 'p', n);
	p[n] = '\0';
	return p;
}

/* Maximum Packet Size 100: a PUBLISH that would be larger is not sent
 * [MQTT-3.1.2-24], later smaller ones are. To "mps/t" at QoS 1 with no
 * properties, a packet is 12 bytes + payload. */
Test(v5_subscribe, MQTT_3_1_2_24_client_maximum_packet_size)
{
	struct props cp;
	props_begin(&cp);
	props_u32(&cp, MQTT_PROP_MAXIMUM_PACKET_SIZE, 100);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "mps", .clean = true, .keepalive = 60,
				     .props = props_bin(&cp)};
	struct raw sub, pub;
	cr_assert_eq(raw_connect(&sub, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	props_end(&cp);
	cr_assert_eq(raw_subscribe5(&sub, 1, "mps/t", 1, 0), 1);
	v5_connect_simple(&pub, "mps-pub");
	char *big = filled(200), *edge = filled(88), *over = filled(89);
	struct {
		const char *payload;
		uint8_t qos;
	} seq[] = {{big, 1}, {"small", 1}, {big, 0}, {over, 1}, {edge, 1}, {"small0", 0}};
	for (uint16_t i = 0; i < 6; i++) {
		raw_publish(&pub, "mps/t", seq[i].payload, seq[i].qos, false, seq[i].qos ? (uint16_t)(i + 1) : 0);
		if (seq[i].qos) {
			uint8_t reason = 0xFF;
			cr_assert_eq(raw_expect_ack5(&pub, MQTT_PUBACK, &reason), i + 1);
			cr_assert_eq(reason, MQTT_RC_SUCCESS, "PUBACK 0x%02x: the subscription matched", reason);
		}
	}
	struct mqtt_publish m;
	expect_publish5(&sub, "mps/t", "small", 1, &m, NULL); /* the 200-byte one was skipped */
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	expect_publish5(&sub, "mps/t", edge, 1, &m, NULL); /* 100 bytes exactly: sent; 101 skipped */
	size_t size = m.payload.len + 12;
	cr_assert_eq(size, 100);
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	expect_publish5(&sub, "mps/t", "small0", 0, &m, NULL);
	cr_assert(raw_silent(&sub, 1000), "a PUBLISH larger than Maximum Packet Size");
	free(big);
	free(edge);
	free(over);
	raw_close(&pub);
	raw_close(&sub);
}
