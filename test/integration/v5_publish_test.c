/* MQTT 5.0 PUBLISH from clients: reason codes in PUBACK/PUBREC/PUBCOMP,
 * the payload format check, topic aliases, properties forwarded (and to
 * 3.1.1 subscribers not), message expiry, and the DISCONNECT reason codes
 * a bad PUBLISH earns: 0x81, 0x82, 0x93, 0x94, 0x95, 0x99 (MQTT 5.0
 * sections 3.3-3.7, 4.9). */
#include "v5.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(v5_publish, .init = v5_start_default, .fini = v5_stop, .timeout = 60);
TestSuite(v5_publish_conf, .fini = v5_stop, .timeout = 60);

static const uint8_t pingreq[] = {0xC0, 0x00};

/* The connection is still up: PINGREQ is answered. */
static void still_up(struct raw *r, const char *what)
{
	raw_send(r, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	int rc = raw_recv(r, &f, V5_WAIT_MS);
	cr_assert(rc == FM_OK && f.type == MQTT_PINGRESP, "%s: expected PINGRESP, got %s %u", what,
		  rc == FM_OK ? "packet type" : rc == FM_ECLOSED ? "the close" : "a timeout", rc == FM_OK ? f.type : 0);
}

/* Connect, send bytes, expect the broker's DISCONNECT with reason rc and
 * a Reason String (Request Problem Information defaults to 1). */
static void expect_disconnect_after(const uint8_t *bytes, size_t n, uint8_t rc, const char *what)
{
	struct raw r;
	v5_connect_simple(&r, "offender");
	raw_send(&r, bytes, n);
	struct raw_disconnect d;
	uint8_t got = raw_expect_disconnect(&r, V5_WAIT_MS, &d);
	cr_assert_eq(got, rc, "%s: DISCONNECT 0x%02x, expected 0x%02x", what, got, rc);
	cr_assert(d.props_has & MQTT_PROP_BIT(MQTT_PROP_REASON_STRING), "%s: no Reason String", what);
	raw_close(&r);
}

/* --- acknowledgement reason codes --------------------------------------------- */

Test(v5_publish, MQTT_3_4_2_1_puback_and_pubrec_0x10_when_nobody_subscribed)
{
	struct raw pub, sub;
	v5_connect_simple(&pub, "ack-pub");
	raw_publish(&pub, "nobody/t", "x", 1, false, 1);
	EXPECT_BYTES(&pub, "PUBACK 0x10", 0x40, 0x03, 0x00, 0x01, 0x10);
	raw_publish(&pub, "nobody/t", "x", 2, false, 2);
	EXPECT_BYTES(&pub, "PUBREC 0x10", 0x50, 0x03, 0x00, 0x02, 0x10);
	raw_ack(&pub, MQTT_PUBREL, 2);
	EXPECT_BYTES(&pub, "PUBCOMP 0x00", 0x70, 0x02, 0x00, 0x02);

	v5_connect_simple(&sub, "ack-sub");
	cr_assert_eq(raw_subscribe5(&sub, 1, "nobody/t", 0, 0), 0);
	raw_publish(&pub, "nobody/t", "x", 1, false, 3);
	EXPECT_BYTES(&pub, "PUBACK 0x00 (reason left out)", 0x40, 0x02, 0x00, 0x03);
	raw_publish(&pub, "nobody/t", "x", 2, false, 4);
	EXPECT_BYTES(&pub, "PUBREC 0x00 (reason left out)", 0x50, 0x02, 0x00, 0x04);
	raw_ack(&pub, MQTT_PUBREL, 4);
	EXPECT_BYTES(&pub, "PUBCOMP 0x00", 0x70, 0x02, 0x00, 0x04);
	raw_close(&pub);
	raw_close(&sub);
}

Test(v5_publish, MQTT_3_7_2_1_pubrel_for_an_unknown_packet_id_gets_pubcomp_0x92)
{
	struct raw r;
	v5_connect_simple(&r, "stray-pubrel");
	raw_ack(&r, MQTT_PUBREL, 0x1234);
	EXPECT_BYTES(&r, "PUBCOMP 0x92", 0x70, 0x03, 0x12, 0x34, 0x92);
	still_up(&r, "after PUBCOMP 0x92");
	raw_close(&r);
}

Test(v5_publish, MQTT_3_3_2_3_2_payload_not_utf8_puback_pubrec_0x99_and_not_delivered)
{
	struct raw pub, sub;
	v5_connect_simple(&sub, "pfi-sub");
	cr_assert_eq(raw_subscribe5(&sub, 1, "pfi/t", 1, 0), 1);
	v5_connect_simple(&pub, "pfi-pub");
	struct props p;
	props_begin(&p);
	props_byte(&p, MQTT_PROP_PAYLOAD_FORMAT, 1);
	raw_publish5(&pub, "pfi/t", "\xff\xfe", 1, false, 1, props_bin(&p));
	EXPECT_BYTES(&pub, "PUBACK 0x99", 0x40, 0x03, 0x00, 0x01, 0x99);
	raw_publish5(&pub, "pfi/t", "\xc0\xaf", 2, false, 2, props_bin(&p)); /* overlong '/' */
	EXPECT_BYTES(&pub, "PUBREC 0x99", 0x50, 0x03, 0x00, 0x02, 0x99);
	cr_assert(raw_silent(&sub, 1000), "a payload refused with 0x99 was delivered");
	/* valid UTF-8 with the same indicator goes through, indicator kept */
	raw_publish5(&pub, "pfi/t", "h\xc3\xa9", 1, false, 3, props_bin(&p));
	EXPECT_BYTES(&pub, "PUBACK 0x00", 0x40, 0x02, 0x00, 0x03);
	struct mqtt_props got;
	struct mqtt_publish m;
	expect_publish5(&sub, "pfi/t", "h\xc3\xa9", 1, &m, &got);
	cr_assert_eq(mqtt_props_num(&got, MQTT_PROP_PAYLOAD_FORMAT, 0xFF), 1, "Payload Format Indicator not forwarded");
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	/* QoS 0 has no ack to refuse it in: DISCONNECT 0x99 */
	raw_publish5(&pub, "pfi/t", "\xff", 0, false, 0, props_bin(&p));
	cr_assert_eq(raw_expect_disconnect(&pub, V5_WAIT_MS, NULL), MQTT_RC_PAYLOAD_FORMAT_INVALID);
	cr_assert(raw_silent(&sub, 1000), "a QoS 0 payload refused with 0x99 was delivered");
	props_end(&p);
	raw_close(&pub);
	raw_close(&sub);
}

/* A subscriber's PUBREC with a reason >= 0x80 ends that QoS 2 flow: no
 * PUBREL, and (Receive Maximum 1) the next message may go. */
Test(v5_publish, MQTT_4_3_3_pubrec_with_an_error_reason_ends_the_flow)
{
	struct props cp;
	props_begin(&cp);
	props_u16(&cp, MQTT_PROP_RECEIVE_MAXIMUM, 1);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "prec-sub", .clean = true, .keepalive = 60,
				     .props = props_bin(&cp)};
	struct raw sub, pub;
	cr_assert_eq(raw_connect(&sub, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	props_end(&cp);
	cr_assert_eq(raw_subscribe5(&sub, 1, "prec/t", 2, 0), 2);
	v5_connect_simple(&pub, "prec-pub");
	for (uint16_t id = 1; id <= 2; id++) {
		raw_publish(&pub, "prec/t", id == 1 ? "m1" : "m2", 2, false, id);
		cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBREC), id);
		raw_ack(&pub, MQTT_PUBREL, id);
		cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBCOMP), id);
	}
	struct mqtt_publish m;
	expect_publish5(&sub, "prec/t", "m1", 2, &m, NULL);
	uint16_t first = m.packet_id;
	raw_ack5(&sub, MQTT_PUBREC, first, MQTT_RC_UNSPECIFIED);
	/* no PUBREL for it: the next packet is m2 */
	expect_publish5(&sub, "prec/t", "m2", 2, &m, NULL);
	raw_ack(&sub, MQTT_PUBREC, m.packet_id);
	cr_assert_eq(raw_expect_ack(&sub, MQTT_PUBREL), m.packet_id);
	raw_ack(&sub, MQTT_PUBCOMP, m.packet_id);
	cr_assert(raw_silent(&sub, 1000), "something (a PUBREL for the refused id %u?) came after the flows ended", first);
	raw_close(&pub);
	raw_close(&sub);
}

/* --- properties --------------------------------------------------------------- */

Test(v5_publish, MQTT_3_3_2_17_18_properties_forwarded_user_properties_in_order)
{
	struct raw pub, sub;
	v5_connect_simple(&sub, "fwd-sub");
	cr_assert_eq(raw_subscribe5(&sub, 1, "fwd/t", 1, 0), 1);
	v5_connect_simple(&pub, "fwd-pub");
	struct props p;
	props_begin(&p);
	props_pair(&p, "z", "1");
	props_byte(&p, MQTT_PROP_PAYLOAD_FORMAT, 1);
	props_pair(&p, "a", "2");
	props_str(&p, MQTT_PROP_CONTENT_TYPE, "application/json");
	props_u16(&p, MQTT_PROP_TOPIC_ALIAS, 3);
	props_str(&p, MQTT_PROP_RESPONSE_TOPIC, "reply/to");
	props_u32(&p, MQTT_PROP_MESSAGE_EXPIRY, 60);
	props_str(&p, MQTT_PROP_CORRELATION_DATA, "\x01\x02" "corr");
	props_pair(&p, "z", "1"); /* a duplicate is kept */
	props_pair(&p, "m", "");
	raw_publish5(&pub, "fwd/t", "{}", 1, false, 1, props_bin(&p));
	props_end(&p);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 1);

	struct mqtt_publish m;
	struct mqtt_props got;
	expect_publish5(&sub, "fwd/t", "{}", 1, &m, &got);
	cr_assert_eq(mqtt_props_num(&got, MQTT_PROP_PAYLOAD_FORMAT, 0xFF), 1, "Payload Format Indicator");
	struct mqtt_bin v = got.data[MQTT_PROP_CONTENT_TYPE];
	cr_assert(mqtt_props_has(&got, MQTT_PROP_CONTENT_TYPE) && v.len == 16 && memcmp(v.p, "application/json", 16) == 0,
		  "Content Type");
	v = got.data[MQTT_PROP_RESPONSE_TOPIC];
	cr_assert(mqtt_props_has(&got, MQTT_PROP_RESPONSE_TOPIC) && v.len == 8 && memcmp(v.p, "reply/to", 8) == 0,
		  "Response Topic");
	v = got.data[MQTT_PROP_CORRELATION_DATA];
	cr_assert(mqtt_props_has(&got, MQTT_PROP_CORRELATION_DATA) && v.len == 6 && memcmp(v.p, "\x01\x02" "corr", 6) == 0,
		  "Correlation Data: has %d len %u [%.*s]", mqtt_props_has(&got, MQTT_PROP_CORRELATION_DATA), v.len, (int)v.len, (const char *)v.p);
	uint32_t left = mqtt_props_num(&got, MQTT_PROP_MESSAGE_EXPIRY, 0);
	cr_assert(left >= 1 && left <= 60, "Message Expiry Interval %u, expected 1..60", left);
	cr_assert_not(mqtt_props_has(&got, MQTT_PROP_TOPIC_ALIAS), "Topic Alias forwarded");
	cr_assert_eq(raw_prop_count(m.props, MQTT_PROP_MESSAGE_EXPIRY), 1);
	/* User Properties: all four, in the publisher's order [MQTT-3.3.2-18] */
	static const char *const want[][2] = {{"z", "1"}, {"a", "2"}, {"z", "1"}, {"m", ""}};
	struct mqtt_bin rest = m.props;
	struct mqtt_prop pr;
	unsigned n = 0;
	while (mqtt_props_next(&rest, &pr)) {
		if (pr.id != MQTT_PROP_USER_PROPERTY)
			continue;
		cr_assert(n < 4, "more than 4 User Properties");
		cr_assert(pr.data.len == strlen(want[n][0]) && memcmp(pr.data.p, want[n][0], pr.data.len) == 0 &&
				  pr.data2.len == strlen(want[n][1]) && memcmp(pr.data2.p, want[n][1], pr.data2.len) == 0,
			  "User Property %u is %.*s=%.*s, expected %s=%s", n, (int)pr.data.len, pr.data.p,
			  (int)pr.data2.len, pr.data2.p, want[n][0], want[n][1]);
		n++;
	}
	cr_assert_eq(n, 4, "%u User Properties, expected 4", n);
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	raw_close(&pub);
	raw_close(&sub);
}

/* 3.1.1 subscribers get the same message without properties; a 3.1.1
 * publisher's message reaches 5.0 subscribers with an empty section. */
Test(v5_publish, MQTT_3_3_2_mixed_3_1_1_and_5_0_on_one_topic_exact_bytes)
{
	struct raw old_sub, new_sub, new_pub, old_pub;
	raw_connect_simple(&old_sub, v5_broker.port, "mix-old-sub");
	cr_assert_eq(raw_subscribe(&old_sub, 1, "mix/t", 0), 0);
	v5_connect_simple(&new_sub, "mix-new-sub");
	cr_assert_eq(raw_subscribe5(&new_sub, 1, "mix/t", 0, 0), 0);

	v5_connect_simple(&new_pub, "mix-new-pub");
	struct props p;
	props_begin(&p);
	props_str(&p, MQTT_PROP_CONTENT_TYPE, "c");
	props_pair(&p, "k", "v");
	raw_publish5(&new_pub, "mix/t", "hello", 0, false, 0, props_bin(&p));
	props_end(&p);
	EXPECT_BYTES(&old_sub, "5.0 message to a 3.1.1 subscriber", 0x30, 0x0C, 0x00, 0x05, 'm', 'i', 'x', '/', 't',
		     'h', 'e', 'l', 'l', 'o');
	EXPECT_BYTES(&new_sub, "5.0 message to a 5.0 subscriber", 0x30, 0x18, 0x00, 0x05, 'm', 'i', 'x', '/', 't',
		     0x0B, 0x03, 0x00, 0x01, 'c', 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', 'h', 'e', 'l', 'l', 'o');

	raw_connect_simple(&old_pub, v5_broker.port, "mix-old-pub");
	raw_publish(&old_pub, "mix/t", "old", 0, false, 0);
	EXPECT_BYTES(&old_sub, "3.1.1 message to a 3.1.1 subscriber", 0x30, 0x0A, 0x00, 0x05, 'm', 'i', 'x', '/', 't',
		     'o', 'l', 'd');
	EXPECT_BYTES(&new_sub, "3.1.1 message to a 5.0 subscriber", 0x30, 0x0B, 0x00, 0x05, 'm', 'i', 'x', '/', 't',
		     0x00, 'o', 'l', 'd');
	raw_close(&old_sub);
	raw_close(&new_sub);
	raw_close(&new_pub);
	raw_close(&old_pub);
}

/* --- topic aliases ------------------------------------------------------------- */

static void publish_alias(struct raw *r, const char *topic, uint16_t alias, const char *payload)
{
	struct props p;
	props_begin(&p);
	props_u16(&p, MQTT_PROP_TOPIC_ALIAS, alias);
	raw_publish5(r, topic, payload, 0, false, 0, props_bin(&p));
	props_end(&p);
}

static void expect_no_alias(struct raw *sub, const char *topic, const char *payload)
{
	struct mqtt_publish m;
	struct mqtt_props got;
	expect_publish5(sub, topic, payload, 0, &m, &got);
	cr_assert_not(mqtt_props_has(&got, MQTT_PROP_TOPIC_ALIAS), "the broker sent a Topic Alias");
}

Test(v5_publish, MQTT_3_3_2_3_4_topic_alias_set_used_and_reset)
{
	struct raw pub, sub;
	v5_connect_simple(&sub, "alias-sub");
	cr_assert_eq(raw_subscribe5(&sub, 1, "ta/#", 0, 0), 0);
	v5_connect_simple(&pub, "alias-pub");
	publish_alias(&pub, "ta/one", 1, "1");
	expect_no_alias(&sub, "ta/one", "1");
	publish_alias(&pub, "", 1, "2");
	expect_no_alias(&sub, "ta/one", "2");
	publish_alias(&pub, "ta/two", 1, "3"); /* a new mapping replaces the old (3.3.2.3.4) */
	expect_no_alias(&sub, "ta/two", "3");
	publish_alias(&pub, "", 1, "4");
	expect_no_alias(&sub, "ta/two", "4");
	publish_alias(&pub, "ta/ten", 10, "5"); /* the maximum, 10 */
	expect_no_alias(&sub, "ta/ten", "5");
	publish_alias(&pub, "", 10, "6");
	expect_no_alias(&sub, "ta/ten", "6");
	publish_alias(&pub, "", 1, "7");
	expect_no_alias(&sub, "ta/two", "7");
	/* QoS 1 through an alias is acknowledged like any other */
	struct props p;
	props_begin(&p);
	props_u16(&p, MQTT_PROP_TOPIC_ALIAS, 10);
	raw_publish5(&pub, "", "8", 1, false, 9, props_bin(&p));
	props_end(&p);
	EXPECT_BYTES(&pub, "PUBACK through an alias", 0x40, 0x02, 0x00, 0x09);
	expect_no_alias(&sub, "ta/ten", "8");
	raw_close(&pub);
	raw_close(&sub);
}

Test(v5_publish, MQTT_3_3_2_10_topic_alias_above_the_maximum_disconnect_0x94)
{
	/* PUBLISH "t", Topic Alias 11 (maximum 10), payload "x" */
	static const uint8_t pkt[] = {0x30, 0x08, 0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x0B, 'x'};
	expect_disconnect_after(pkt, sizeof(pkt), MQTT_RC_TOPIC_ALIAS_INVALID, "Topic Alias 11");
}

Test(v5_publish, MQTT_3_3_4_topic_alias_unset_or_missing_disconnect_0x82)
{
	/* empty topic, Topic Alias 2 never set */
	static const uint8_t unset[] = {0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x02, 'x'};
	expect_disconnect_after(unset, sizeof(unset), MQTT_RC_PROTOCOL_ERROR, "empty topic, unset alias");
	/* empty topic, no alias */
	static const uint8_t none[] = {0x30, 0x04, 0x00, 0x00, 0x00, 'x'};
	expect_disconnect_after(none, sizeof(none), MQTT_RC_PROTOCOL_ERROR, "empty topic, no alias");
}

Test(v5_publish, MQTT_3_3_2_7_topic_aliases_end_with_the_connection)
{
	struct raw r;
	v5_connect(&r, "alias-keeper", false, 60);
	publish_alias(&r, "tk/t", 1, "x");
	v5_disconnect(&r);
	cr_assert(v5_connect(&r, "alias-keeper", false, 60));
	publish_alias(&r, "", 1, "y");
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, NULL), MQTT_RC_PROTOCOL_ERROR,
		     "alias 1 was set on the previous connection only [MQTT-3.3.2-7]");
	raw_close(&r);
}

/* One PUBLISH to a client that takes aliases: its topic (empty or not)
 * and the alias it carries (0: none). */
static void expect_aliased(struct raw *r, const char *topic, uint16_t alias, const char *payload)
{
	struct mqtt_publish p;
	struct mqtt_props props;
	raw_expect_publish5(r, &p, &props);
	cr_assert(p.topic.len == strlen(topic) && memcmp(p.topic.p, topic, p.topic.len) == 0,
		  "topic \"%.*s\", expected \"%s\"", (int)p.topic.len, p.topic.p, topic);
	cr_assert_eq(mqtt_props_num(&props, MQTT_PROP_TOPIC_ALIAS, 0), alias);
	cr_assert(p.payload.len == strlen(payload) && memcmp(p.payload.p, payload, p.payload.len) == 0);
}

/* Server to client: a client with Topic Alias Maximum 2 gets its first
 * PUBLISH on a topic with topic and alias, the next ones with the alias
 * only [MQTT-3.3.2-12]; never an alias above its maximum [MQTT-3.3.2-11];
 * a third topic takes over an alias, carrying its topic again. A client
 * without a maximum gets no alias at all [MQTT-3.3.2-11]. */
Test(v5_publish, MQTT_3_3_2_11_MQTT_3_3_2_12_server_to_client_topic_aliases)
{
	struct raw sub, plain, pub;
	struct props cp;
	props_begin(&cp);
	props_u16(&cp, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, 2);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "alias-out", .clean = true, .keepalive = 60,
				     .props = props_bin(&cp)};
	cr_assert_eq(raw_connect(&sub, v5_broker.port, &o, NULL), 0);
	props_end(&cp);
	cr_assert_eq(raw_subscribe5(&sub, 1, "ao/#", 0, 0), 0);
	v5_connect_simple(&plain, "alias-none");
	cr_assert_eq(raw_subscribe5(&plain, 1, "ao/#", 0, 0), 0);
	v5_connect_simple(&pub, "alias-pub");
	static const char *const topics[] = {"ao/a", "ao/a", "ao/b", "ao/b", "ao/c", "ao/a", "ao/c"};
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		raw_publish5(&pub, topics[i], topics[i], 0, false, 0, (struct mqtt_bin){0});
	expect_aliased(&sub, "ao/a", 1, "ao/a");
	expect_aliased(&sub, "", 1, "ao/a");
	expect_aliased(&sub, "ao/b", 2, "ao/b");
	expect_aliased(&sub, "", 2, "ao/b");
	expect_aliased(&sub, "ao/c", 1, "ao/c"); /* alias 1 now means ao/c */
	expect_aliased(&sub, "ao/a", 2, "ao/a"); /* and 2 ao/a */
	expect_aliased(&sub, "", 1, "ao/c");
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		expect_aliased(&plain, topics[i], 0, topics[i]);
	raw_close(&sub);
	raw_close(&plain);
	raw_close(&pub);
}

Test(v5_publish_conf, MQTT_3_3_2_9_max_topic_alias_0_no_aliases_at_all)
{
	v5_start("max_topic_alias 0");
	struct raw r;
	struct mqtt_props p;
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "noalias", .clean = true, .keepalive = 60,
				     .connack_props = &p};
	cr_assert_eq(raw_connect(&r, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	cr_assert_not(mqtt_props_has(&p, MQTT_PROP_TOPIC_ALIAS_MAXIMUM),
		      "max_topic_alias 0: Topic Alias Maximum left out (0 is its default)");
	publish_alias(&r, "t", 1, "x");
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, NULL), MQTT_RC_TOPIC_ALIAS_INVALID);
	raw_close(&r);
}

/* --- malformed and forbidden PUBLISH ------------------------------------------- */

Test(v5_publish, MQTT_2_2_2_2_property_not_allowed_in_publish_disconnect_0x81)
{
	/* PUBLISH "t" with Session Expiry Interval 10, payload "x" */
	static const uint8_t pkt[] = {0x30, 0x0A, 0x00, 0x01, 't', 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A, 'x'};
	expect_disconnect_after(pkt, sizeof(pkt), MQTT_RC_MALFORMED_PACKET, "Session Expiry in PUBLISH");
}

Test(v5_publish, MQTT_1_5_5_1_two_byte_property_identifier_disconnect_0x81)
{
	/* property id 0x81 0x00: 1 (Payload Format Indicator) in two bytes */
	static const uint8_t pkt[] = {0x30, 0x08, 0x00, 0x01, 't', 0x03, 0x81, 0x00, 0x00, 'x'};
	expect_disconnect_after(pkt, sizeof(pkt), MQTT_RC_MALFORMED_PACKET, "2-byte property id");
}

Test(v5_publish, MQTT_2_1_3_1_malformed_fixed_header_after_connack_disconnect_0x81)
{
	/* PUBREL with flags 0000 instead of 0010 */
	static const uint8_t pubrel[] = {0x60, 0x02, 0x00, 0x01};
	expect_disconnect_after(pubrel, sizeof(pubrel), MQTT_RC_MALFORMED_PACKET, "PUBREL flags 0");
	/* remaining length in five bytes */
	static const uint8_t len5[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
	expect_disconnect_after(len5, sizeof(len5), MQTT_RC_MALFORMED_PACKET, "5-byte remaining length");
}

Test(v5_publish, MQTT_3_3_4_6_publish_with_a_subscription_identifier_disconnect_0x82)
{
	static const uint8_t pkt[] = {0x30, 0x07, 0x00, 0x01, 't', 0x02, 0x0B, 0x01, 'x'};
	expect_disconnect_after(pkt, sizeof(pkt), MQTT_RC_PROTOCOL_ERROR, "Subscription Identifier in PUBLISH");
}

Test(v5_publish, MQTT_3_3_2_14_response_topic_with_wildcard_disconnect_0x82)
{
	/* PUBLISH "t", Response Topic "r/#", payload "x" */
	static const uint8_t pkt[] = {0x30, 0x0B, 0x00, 0x01, 't', 0x06, 0x08, 0x00, 0x03, 'r', '/', '#', 'x'};
	expect_disconnect_after(pkt, sizeof(pkt), MQTT_RC_PROTOCOL_ERROR, "Response Topic r/#");
}

/* Our Receive Maximum is 20: 20 QoS 2 PUBLISH not released are fine, a
 * 21st new QoS 1/2 PUBLISH is DISCONNECT 0x93 [MQTT-3.3.4-8]. A resend of
 * an open one is not new; a PUBREL frees a place. */
Test(v5_publish, MQTT_3_3_4_8_receive_maximum_exceeded_disconnect_0x93)
{
	struct raw r;
	v5_connect_simple(&r, "flood");
	for (uint16_t id = 1; id <= 20; id++) {
		raw_publish(&r, "flood/t", "x", 2, false, id);
		uint8_t reason = 0xFF;
		cr_assert_eq(raw_expect_ack5(&r, MQTT_PUBREC, &reason), id);
		cr_assert_eq(reason, MQTT_RC_NO_MATCHING_SUBSCRIBERS);
	}
	/* resend of id 2 with DUP: not a new message */
	struct mqtt_publish d = {.qos = 2, .dup = true, .topic = {"flood/t", 7}, .packet_id = 2,
				 .payload = {(const uint8_t *)"x", 1}};
	struct buf b;
	buf_init(&b);
	cr_assert(mqtt_encode_publish(&b, MQTT_V5, &d) == FM_OK);
	raw_send_buf(&r, &b);
	buf_fini(&b);
	cr_assert_eq(raw_expect_ack(&r, MQTT_PUBREC), 2, "a resent open QoS 2 PUBLISH is acknowledged again");
	/* PUBREL 1 frees a place for one more */
	raw_ack(&r, MQTT_PUBREL, 1);
	cr_assert_eq(raw_expect_ack(&r, MQTT_PUBCOMP), 1);
	raw_publish(&r, "flood/t", "x", 2, false, 21);
	cr_assert_eq(raw_expect_ack(&r, MQTT_PUBREC), 21);
	/* 20 open again: one more new QoS 1 is one too many */
	raw_publish(&r, "flood/t", "x", 1, false, 22);
	struct raw_disconnect dc;
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, &dc), MQTT_RC_RECEIVE_MAX_EXCEEDED);
	cr_assert(dc.props_has & MQTT_PROP_BIT(MQTT_PROP_REASON_STRING), "no Reason String");
	raw_close(&r);
}

/* A PUBLISH of exactly n bytes on the wire: topic "t", QoS 0, no properties. */
static void publish_of_size(struct raw *r, size_t n)
{
	/* 1 + 2 (remaining length, 128..16383) + 2 + 1 + 1 + payload */
	size_t payload = n - 7;
	char *p = malloc(payload + 1);
	memset(p, 'p', payload);
	p[payload] = '\0';
	struct mqtt_publish pub = {.topic = {"t", 1}, .payload = {(const uint8_t *)p, (uint32_t)payload}};
	cr_assert_eq(mqtt_publish_size(MQTT_V5, &pub), n);
	raw_publish5(r, "t", p, 0, false, 0, (struct mqtt_bin){0});
	free(p);
}

Test(v5_publish_conf, MQTT_3_2_2_3_6_maximum_packet_size_exceeded_disconnect_0x95)
{
	v5_start("max_packet_size 1000");
	struct raw r;
	struct mqtt_props p;
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "big", .clean = true, .keepalive = 60,
				     .connack_props = &p};
	cr_assert_eq(raw_connect(&r, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	cr_assert_eq(mqtt_props_num(&p, MQTT_PROP_MAXIMUM_PACKET_SIZE, 0), 1000,
		     "CONNACK must announce Maximum Packet Size 1000");
	publish_of_size(&r, 1000);
	still_up(&r, "a 1000-byte PUBLISH with max_packet_size 1000");
	publish_of_size(&r, 2000);
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, &d), MQTT_RC_PACKET_TOO_LARGE);
	cr_assert(d.props_has & MQTT_PROP_BIT(MQTT_PROP_REASON_STRING), "no Reason String");
	raw_close(&r);
	/* one byte over is too large too */
	cr_assert_eq(raw_connect(&r, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	publish_of_size(&r, 1001);
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, NULL), MQTT_RC_PACKET_TOO_LARGE);
	raw_close(&r);
}

/* The DISCONNECT 0x95 must reach the client even when most of the
 * oversized packet is still unread (a close with unread input can reset
 * the connection and lose what was sent before it). */
Test(v5_publish_conf, MQTT_3_2_2_3_6_much_larger_packet_still_gets_disconnect_0x95)
{
	v5_start("max_packet_size 1000");
	struct raw r;
	v5_connect_simple(&r, "huge");
	char *p = malloc(1000001);
	memset(p, 'h', 1000000);
	p[1000000] = '\0';
	raw_publish(&r, "t", p, 0, false, 0);
	free(p);
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, &d), MQTT_RC_PACKET_TOO_LARGE);
	raw_close(&r);
}

Test(v5_publish_conf, MQTT_3_3_payload_above_message_size_limit_disconnect_0x95)
{
	v5_start("message_size_limit 100");
	struct raw r;
	v5_connect_simple(&r, "chatty");
	char payload[102];
	memset(payload, 'x', 101);
	payload[101] = '\0';
	raw_publish(&r, "t", payload + 1, 1, false, 1); /* 100 bytes: fine */
	cr_assert_eq(raw_expect_ack(&r, MQTT_PUBACK), 1);
	raw_publish(&r, "t", payload, 1, false, 2); /* 101 */
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, NULL), MQTT_RC_PACKET_TOO_LARGE);
	raw_close(&r);
}

/* --- message expiry ------------------------------------------------------------ */

/* An offline persistent session subscribed to topic at QoS 1. */
static void park(const char *id, const char *topic)
{
	struct raw r;
	v5_connect(&r, id, true, 60);
	cr_assert_eq(raw_subscribe5(&r, 1, topic, 1, 0), 1);
	v5_disconnect(&r);
}

static void publish_expiring(struct raw *pub, const char *topic, const char *payload, uint32_t expiry,
			     bool retain, uint16_t id)
{
	struct props p;
	props_begin(&p);
	if (expiry)
		props_u32(&p, MQTT_PROP_MESSAGE_EXPIRY, expiry);
	raw_publish5(pub, topic, payload, 1, retain, id, props_bin(&p));
	props_end(&p);
	cr_assert_eq(raw_expect_ack(pub, MQTT_PUBACK), id);
}

Test(v5_publish, MQTT_3_3_2_6_message_expiry_interval_rewritten_to_what_is_left)
{
	park("mx-sub", "mx/t");
	struct raw pub, sub;
	v5_connect_simple(&pub, "mx-pub");
	publish_expiring(&pub, "mx/t", "aging", 100, false, 1);
	sleep_ms(1200);
	cr_assert(v5_connect(&sub, "mx-sub", false, 60));
	struct mqtt_publish m;
	struct mqtt_props got;
	expect_publish5(&sub, "mx/t", "aging", 1, &m, &got);
	cr_assert(mqtt_props_has(&got, MQTT_PROP_MESSAGE_EXPIRY), "no Message Expiry Interval [MQTT-3.3.2-6]");
	uint32_t left = got.num[MQTT_PROP_MESSAGE_EXPIRY];
	cr_assert(left <= 99 && left >= 50, "Message Expiry Interval %u after 1.2 s of 100, expected <= 99 [MQTT-3.3.2-6]",
		  left);
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	raw_close(&pub);
	raw_close(&sub);
}

Test(v5_publish, MQTT_3_3_2_5_expired_message_not_delivered)
{
	park("mx-late", "mxl/t");
	struct raw pub, sub;
	v5_connect_simple(&pub, "mxl-pub");
	publish_expiring(&pub, "mxl/t", "stale", 1, false, 1);
	sleep_ms(2500);
	publish_expiring(&pub, "mxl/t", "fresh", 0, false, 2);
	cr_assert(v5_connect(&sub, "mx-late", false, 60));
	struct mqtt_publish m;
	expect_publish5(&sub, "mxl/t", "fresh", 1, &m, NULL); /* not "stale" [MQTT-3.3.2-5] */
	raw_ack(&sub, MQTT_PUBACK, m.packet_id);
	cr_assert(raw_silent(&sub, 1000), "something after the fresh message");
	raw_close(&pub);
	raw_close(&sub);
}

Test(v5_publish, MQTT_3_3_2_5_retained_message_expires)
{
	struct raw pub, a, b;
	v5_connect_simple(&pub, "rx-pub");
	publish_expiring(&pub, "rx/short", "short", 2, true, 1);
	publish_expiring(&pub, "rx/long", "long", 0, true, 2);
	/* at once: both, the expiring one with what is left */
	v5_connect_simple(&a, "rx-a");
	cr_assert_eq(raw_subscribe5(&a, 1, "rx/#", 0, 0), 0);
	bool seen_short = false, seen_long = false;
	for (int i = 0; i < 2; i++) {
		struct mqtt_publish m;
		struct mqtt_props got;
		raw_expect_publish5(&a, &m, &got);
		cr_assert(m.retain, "retained message without RETAIN on subscribe [MQTT-3.3.1-8]");
		if (m.topic.len == 8 && memcmp(m.topic.p, "rx/short", 8) == 0) {
			seen_short = true;
			uint32_t left = mqtt_props_num(&got, MQTT_PROP_MESSAGE_EXPIRY, 0);
			cr_assert(left >= 1 && left <= 2, "retained Message Expiry Interval %u, expected 1..2", left);
		} else {
			raw_assert_publish(&m, "rx/long", "long");
			seen_long = true;
			cr_assert_not(mqtt_props_has(&got, MQTT_PROP_MESSAGE_EXPIRY));
		}
	}
	cr_assert(seen_short && seen_long);
	raw_close(&a);
	sleep_ms(3500);
	/* later: only the one without expiry */
	v5_connect_simple(&b, "rx-b");
	cr_assert_eq(raw_subscribe5(&b, 1, "rx/#", 0, 0), 0);
	struct mqtt_publish m;
	raw_expect_publish5(&b, &m, NULL);
	raw_assert_publish(&m, "rx/long", "long");
	cr_assert(raw_silent(&b, 1000), "an expired retained message was sent [MQTT-3.3.2-5]");
	raw_close(&b);
	raw_close(&pub);
}

/* The Receive Maximum a client was told holds for its connection: a
 * reload lowering max_inflight_messages does not make a client that keeps
 * to the announced 5 exceed anything [MQTT-3.3.4-7]; the sixth is one too
 * many [MQTT-3.3.4-8]. */
Test(v5_publish_conf, MQTT_3_3_4_8_receive_maximum_as_announced_survives_a_reload)
{
	v5_start("max_inflight_messages 5");
	struct raw r;
	v5_connect_simple(&r, "announced");
	char conf[256];
	snprintf(conf, sizeof(conf), "listener %%PORT%% 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 2\n");
	hb_write_conf(&v5_broker, conf);
	hb_signal(&v5_broker, SIGHUP);
	cr_assert(hb_log_contains(&v5_broker, "SIGHUP: reloaded", V5_WAIT_MS));
	for (uint16_t id = 1; id <= 5; id++) {
		raw_publish(&r, "ann/t", "x", 2, false, id);
		cr_assert_eq(raw_expect_ack(&r, MQTT_PUBREC), id, "within the announced 5");
	}
	raw_publish(&r, "ann/t", "x", 2, false, 6);
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, NULL), MQTT_RC_RECEIVE_MAX_EXCEEDED);
	raw_close(&r);
}
