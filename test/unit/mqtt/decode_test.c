/* Decoders: one test per malformed case the 3.1.1 specification names,
 * named after its normative statement, plus what must be accepted. */
#include "codec_util.h"

#include <string.h>

static int connect_rc(struct mqtt_frame f, struct mqtt_connect *c, uint8_t *reason)
{
	return mqtt_decode_connect(&f, c, reason);
}

/* CONNECT "MQTT" 4, flags, keepalive 10, then payload bytes. */
#define CONNECT4(flags, ...) FRAME(0x10, (uint8_t)(10 + sizeof((const uint8_t[]){__VA_ARGS__})), \
	0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 10, __VA_ARGS__)

Test(connect, minimal_3_1_1_connect_accepted)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02, 0, 1, 'x'), &c, &reason), FM_OK);
	cr_assert_eq(c.version, MQTT_V311);
	cr_assert(c.clean_start);
	cr_assert_eq(c.keepalive_s, 10);
	cr_assert_eq(c.client_id.len, 1);
}

Test(connect, mqtt_3_1_MQIsdp_level_3_accepted)
{
	struct mqtt_connect c;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x10, 15, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 10, 0, 1, 'x');
	cr_assert_eq(connect_rc(f, &c, &reason), FM_OK);
	cr_assert_eq(c.version, MQTT_V31);
}

Test(connect, unknown_level_reports_it_for_connack_1_MQTT_3_1_2_2)
{
	struct mqtt_connect c;
	uint8_t reason = 0;
	struct mqtt_frame f = FRAME(0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 7, 0x02, 0, 10, 0, 1, 'x');
	cr_assert_eq(connect_rc(f, &c, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	cr_assert_eq(c.version, 7);
}

Test(connect, wrong_protocol_name_refused_MQTT_3_1_2_1)
{
	struct mqtt_connect c;
	uint8_t reason = 0;
	struct mqtt_frame f = FRAME(0x10, 13, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 10, 0, 1, 'x');
	cr_assert_eq(connect_rc(f, &c, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
}

Test(connect, reserved_flag_set_is_malformed_MQTT_3_1_2_3)
{
	struct mqtt_connect c;
	uint8_t reason = 0;
	cr_assert_eq(connect_rc(CONNECT4(0x03, 0, 1, 'x'), &c, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
}

Test(connect, will_qos_without_will_flag_is_malformed_MQTT_3_1_2_13)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02 | 0x08, 0, 1, 'x'), &c, &reason), FM_EPROTO);
}

Test(connect, will_qos_3_is_malformed_MQTT_3_1_2_14)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02 | 0x04 | 0x18, 0, 1, 'x', 0, 1, 'w', 0, 0), &c, &reason), FM_EPROTO);
}

Test(connect, will_retain_without_will_flag_is_malformed_MQTT_3_1_2_15)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02 | 0x20, 0, 1, 'x'), &c, &reason), FM_EPROTO);
}

Test(connect, will_fields_read_when_will_flag_set_MQTT_3_1_2_9)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02 | 0x04 | 0x08 | 0x20, 0, 1, 'x', 0, 1, 'w', 0, 2, 'h', 'i'), &c, &reason), FM_OK);
	cr_assert(c.will_flag && c.will_retain);
	cr_assert_eq(c.will_qos, 1);
	cr_assert_eq(c.will_topic.len, 1);
	cr_assert_eq(c.will_payload.len, 2);
}

Test(connect, password_without_username_is_malformed_MQTT_3_1_2_22)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02 | 0x40, 0, 1, 'x', 0, 1, 'p'), &c, &reason), FM_EPROTO);
}

Test(connect, username_and_password_read_MQTT_3_1_3_11)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02 | 0x80 | 0x40, 0, 1, 'x', 0, 1, 'u', 0, 2, 0xFF, 0x00), &c, &reason), FM_OK);
	cr_assert_eq(c.username.len, 1);
	cr_assert_eq(c.password.len, 2, "password is binary data");
}

Test(connect, missing_fields_are_malformed_MQTT_3_1_3_3)
{
	struct mqtt_connect c;
	uint8_t reason;
	/* username flag set but no username in the payload */
	cr_assert_eq(connect_rc(CONNECT4(0x02 | 0x80, 0, 1, 'x'), &c, &reason), FM_EPROTO);
}

Test(connect, trailing_bytes_are_malformed)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02, 0, 1, 'x', 'z'), &c, &reason), FM_EPROTO);
}

Test(connect, client_id_with_nul_is_malformed_MQTT_1_5_3_2)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(CONNECT4(0x02, 0, 2, 'a', 0), &c, &reason), FM_EPROTO);
}

Test(connect, v5_connect_with_properties_parsed)
{
	struct mqtt_connect c;
	uint8_t reason;
	/* properties: session expiry interval (0x11) = 60 */
	struct mqtt_frame f = FRAME(0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 10,
				    5, 0x11, 0, 0, 0, 60, 0, 1, 'x');
	cr_assert_eq(mqtt_decode_connect(&f, &c, &reason), FM_OK);
	cr_assert_eq(c.version, MQTT_V5);
	cr_assert_eq(c.props.len, 5);
}

Test(connect, v5_unknown_property_id_is_malformed)
{
	struct mqtt_connect c;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 10,
				    2, 0x7F, 0, 0, 1, 'x');
	cr_assert_eq(mqtt_decode_connect(&f, &c, &reason), FM_EPROTO);
}

/* --- PUBLISH --------------------------------------------------------- */

static int publish_rc(struct mqtt_frame f, struct mqtt_publish *p)
{
	uint8_t reason;
	return mqtt_decode_publish(&f, MQTT_V311, p, &reason);
}

Test(publish, qos1_publish_fields)
{
	struct mqtt_publish p;
	cr_assert_eq(publish_rc(FRAME(0x3B, 7, 0, 1, 't', 0, 5, 'h', 'i'), &p), FM_OK);
	cr_assert(p.dup && p.retain);
	cr_assert_eq(p.qos, 1);
	cr_assert_eq(p.packet_id, 5);
	cr_assert_eq(p.payload.len, 2);
}

Test(publish, zero_length_payload_allowed_MQTT_3_3_2)
{
	struct mqtt_publish p;
	cr_assert_eq(publish_rc(FRAME(0x31, 3, 0, 1, 't'), &p), FM_OK);
	cr_assert_eq(p.payload.len, 0);
}

Test(publish, dup_with_qos0_is_malformed_MQTT_3_3_1_2)
{
	struct mqtt_publish p;
	cr_assert_eq(publish_rc(FRAME(0x38, 3, 0, 1, 't'), &p), FM_EPROTO);
}

Test(publish, wildcard_in_topic_name_refused_MQTT_3_3_2_2)
{
	struct mqtt_publish p;
	uint8_t reason = 0;
	struct mqtt_frame f = FRAME(0x30, 5, 0, 3, 'a', '/', '#');
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_TOPIC_NAME_INVALID);
	cr_assert_eq(publish_rc(FRAME(0x30, 3, 0, 1, '+'), &p), FM_EPROTO);
}

Test(publish, empty_topic_name_refused_MQTT_4_7_3_1)
{
	struct mqtt_publish p;
	cr_assert_eq(publish_rc(FRAME(0x30, 3, 0, 0, 'x'), &p), FM_EPROTO);
}

Test(publish, packet_id_0_with_qos1_is_malformed_MQTT_2_3_1_1)
{
	struct mqtt_publish p;
	cr_assert_eq(publish_rc(FRAME(0x32, 5, 0, 1, 't', 0, 0), &p), FM_EPROTO);
}

Test(publish, topic_with_surrogate_is_malformed_MQTT_1_5_3_1)
{
	struct mqtt_publish p;
	cr_assert_eq(publish_rc(FRAME(0x30, 5, 0, 3, 0xED, 0xA0, 0x80), &p), FM_EPROTO);
}

Test(publish, topic_length_beyond_packet_is_malformed)
{
	struct mqtt_publish p;
	cr_assert_eq(publish_rc(FRAME(0x30, 3, 0, 9, 't'), &p), FM_EPROTO);
}

/* --- acks ------------------------------------------------------------- */

Test(ack, ack_packet_id_read)
{
	struct mqtt_ack a;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x62, 2, 0x12, 0x34);
	cr_assert_eq(mqtt_decode_ack(&f, MQTT_V311, &a, &reason), FM_OK);
	cr_assert_eq(a.type, MQTT_PUBREL);
	cr_assert_eq(a.packet_id, 0x1234);
}

Test(ack, ack_with_extra_bytes_in_3_1_1_is_malformed)
{
	struct mqtt_ack a;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x40, 3, 0, 1, 0);
	cr_assert_eq(mqtt_decode_ack(&f, MQTT_V311, &a, &reason), FM_EPROTO);
}

Test(ack, ack_packet_id_0_is_malformed_MQTT_2_3_1_1)
{
	struct mqtt_ack a;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x40, 2, 0, 0);
	cr_assert_eq(mqtt_decode_ack(&f, MQTT_V311, &a, &reason), FM_EPROTO);
}

Test(ack, v5_ack_with_reason_code)
{
	struct mqtt_ack a;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x40, 3, 0, 1, 0x10);
	cr_assert_eq(mqtt_decode_ack(&f, MQTT_V5, &a, &reason), FM_OK);
	cr_assert_eq(a.reason, 0x10);
}

/* --- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------- */

static int subscribe_rc(struct mqtt_frame f, struct mqtt_subscribe *s)
{
	uint8_t reason;
	return mqtt_decode_subscribe(&f, MQTT_V311, s, &reason);
}

Test(subscribe, entries_iterated_in_order_MQTT_3_8_3_1)
{
	struct mqtt_subscribe s;
	cr_assert_eq(subscribe_rc(FRAME(0x82, 12, 0, 7, 0, 3, 'a', '/', '#', 1, 0, 1, '+', 2), &s), FM_OK);
	cr_assert_eq(s.packet_id, 7);
	cr_assert_eq(s.count, 2);
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	mqtt_entries_begin(&s, true, &it);
	cr_assert(mqtt_entries_next(&it, &e));
	cr_assert_eq(e.filter.len, 3);
	cr_assert_eq(e.options, 1);
	cr_assert(mqtt_entries_next(&it, &e));
	cr_assert_eq(e.filter.len, 1);
	cr_assert_eq(e.options, 2);
	cr_assert_not(mqtt_entries_next(&it, &e));
}

Test(subscribe, no_entries_is_malformed_MQTT_3_8_3_3)
{
	struct mqtt_subscribe s;
	cr_assert_eq(subscribe_rc(FRAME(0x82, 2, 0, 1), &s), FM_EPROTO);
}

Test(subscribe, requested_qos_3_is_malformed_MQTT_3_8_3_4)
{
	struct mqtt_subscribe s;
	cr_assert_eq(subscribe_rc(FRAME(0x82, 6, 0, 1, 0, 1, 'a', 3), &s), FM_EPROTO);
}

Test(subscribe, reserved_option_bits_are_malformed_MQTT_3_8_3_4)
{
	struct mqtt_subscribe s;
	cr_assert_eq(subscribe_rc(FRAME(0x82, 6, 0, 1, 0, 1, 'a', 0x04), &s), FM_EPROTO);
}

Test(subscribe, packet_id_0_is_malformed_MQTT_2_3_1_1)
{
	struct mqtt_subscribe s;
	cr_assert_eq(subscribe_rc(FRAME(0x82, 6, 0, 0, 0, 1, 'a', 0), &s), FM_EPROTO);
}

Test(subscribe, missing_options_byte_is_malformed)
{
	struct mqtt_subscribe s;
	cr_assert_eq(subscribe_rc(FRAME(0x82, 5, 0, 1, 0, 1, 'a'), &s), FM_EPROTO);
}

Test(subscribe, v5_options_accepted_and_retain_handling_3_refused)
{
	struct mqtt_subscribe s;
	uint8_t reason;
	struct mqtt_frame ok = FRAME(0x82, 7, 0, 1, 0, 0, 1, 'a', 0x2E);
	cr_assert_eq(mqtt_decode_subscribe(&ok, MQTT_V5, &s, &reason), FM_OK);
	struct mqtt_frame bad = FRAME(0x82, 7, 0, 1, 0, 0, 1, 'a', 0x30);
	cr_assert_eq(mqtt_decode_subscribe(&bad, MQTT_V5, &s, &reason), FM_EPROTO);
}

Test(unsubscribe, no_entries_is_malformed_MQTT_3_10_3_2)
{
	struct mqtt_subscribe s;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0xA2, 2, 0, 1);
	cr_assert_eq(mqtt_decode_unsubscribe(&f, MQTT_V311, &s, &reason), FM_EPROTO);
}

Test(unsubscribe, entries_without_options)
{
	struct mqtt_subscribe s;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0xA2, 8, 0, 1, 0, 1, 'a', 0, 1, 'b');
	cr_assert_eq(mqtt_decode_unsubscribe(&f, MQTT_V311, &s, &reason), FM_OK);
	cr_assert_eq(s.count, 2);
}

/* --- PINGREQ, DISCONNECT ------------------------------------------------- */

Test(empty, pingreq_with_body_is_malformed_MQTT_3_12)
{
	uint8_t reason;
	struct mqtt_frame ok = FRAME(0xC0, 0);
	cr_assert_eq(mqtt_decode_empty(&ok, &reason), FM_OK);
	struct mqtt_frame bad = FRAME(0xC0, 1, 0);
	cr_assert_eq(mqtt_decode_empty(&bad, &reason), FM_EPROTO);
}

Test(empty, disconnect_3_1_1_with_body_is_malformed_MQTT_3_14)
{
	struct mqtt_disconnect d;
	uint8_t reason;
	struct mqtt_frame bad = FRAME(0xE0, 1, 0);
	cr_assert_eq(mqtt_decode_disconnect(&bad, MQTT_V311, &d, &reason), FM_EPROTO);
	cr_assert_eq(mqtt_decode_disconnect(&bad, MQTT_V5, &d, &reason), FM_OK, "5.0: reason code");
}

/* --- client side --------------------------------------------------------- */

Test(connack, reserved_ack_flags_are_malformed_MQTT_3_2_2_1)
{
	struct mqtt_connack a;
	uint8_t reason;
	struct mqtt_frame ok = FRAME(0x20, 2, 1, 0);
	cr_assert_eq(mqtt_decode_connack(&ok, MQTT_V311, &a, &reason), FM_OK);
	cr_assert(a.session_present);
	struct mqtt_frame bad = FRAME(0x20, 2, 2, 0);
	cr_assert_eq(mqtt_decode_connack(&bad, MQTT_V311, &a, &reason), FM_EPROTO);
}

/* ===========================================================================
 * More malformed cases. Bodies are decoded from exact-size heap copies so
 * that a read past the end is caught under AddressSanitizer.
 * ======================================================================== */

#include <stdlib.h>

#define BODY(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* Decode body[0, n) as a packet of the given type; outputs are discarded
 * (they would point into the freed copy), except the CONNECT version. */
static int run(uint8_t type, uint8_t flags, uint8_t version, const uint8_t *body, size_t n,
	       uint8_t *reason, uint8_t *seen_version)
{
	uint8_t *copy = malloc(n ? n : 1);
	cr_assert_not_null(copy);
	if (n)
		memcpy(copy, body, n);
	struct mqtt_frame f = {.type = type, .flags = flags, .remaining_len = (uint32_t)n,
			       .header_len = 2, .body = copy};
	int rc;
	*reason = 0xEE;
	union {
		struct mqtt_connect c;
		struct mqtt_publish p;
		struct mqtt_ack a;
		struct mqtt_subscribe s;
		struct mqtt_disconnect d;
		struct mqtt_connack ca;
		struct mqtt_suback sa;
	} u;
	switch (type) {
	case MQTT_CONNECT:
		rc = mqtt_decode_connect(&f, &u.c, reason);
		if (seen_version)
			*seen_version = u.c.version;
		break;
	case MQTT_PUBLISH: rc = mqtt_decode_publish(&f, version, &u.p, reason); break;
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
		rc = mqtt_decode_ack(&f, version, &u.a, reason);
		break;
	case MQTT_SUBSCRIBE: rc = mqtt_decode_subscribe(&f, version, &u.s, reason); break;
	case MQTT_UNSUBSCRIBE: rc = mqtt_decode_unsubscribe(&f, version, &u.s, reason); break;
	case MQTT_DISCONNECT: rc = mqtt_decode_disconnect(&f, version, &u.d, reason); break;
	case MQTT_CONNACK: rc = mqtt_decode_connack(&f, version, &u.ca, reason); break;
	case MQTT_SUBACK: case MQTT_UNSUBACK: rc = mqtt_decode_suback(&f, version, &u.sa, reason); break;
	default: rc = mqtt_decode_empty(&f, reason); break;
	}
	free(copy);
	return rc;
}

static void expect_malformed(uint8_t type, uint8_t flags, uint8_t version, const uint8_t *body, size_t n)
{
	uint8_t reason;
	int rc = run(type, flags, version, body, n, &reason, NULL);
	cr_assert_eq(rc, FM_EPROTO, "type %u v%u: accepted", type, version);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET, "type %u v%u: reason %#x", type, version, reason);
}

static void expect_protocol_error(uint8_t type, uint8_t flags, uint8_t version, const uint8_t *body, size_t n)
{
	uint8_t reason;
	int rc = run(type, flags, version, body, n, &reason, NULL);
	cr_assert_eq(rc, FM_EPROTO, "type %u v%u: accepted", type, version);
	cr_assert_eq(reason, MQTT_RC_PROTOCOL_ERROR, "type %u v%u: reason %#x", type, version, reason);
}

static void expect_ok(uint8_t type, uint8_t flags, uint8_t version, const uint8_t *body, size_t n)
{
	uint8_t reason;
	int rc = run(type, flags, version, body, n, &reason, NULL);
	cr_assert_eq(rc, FM_OK, "type %u v%u: refused, reason %#x", type, version, reason);
	cr_assert_eq(reason, 0, "reason cleared on success");
}

/* A frame over a literal body, remaining length counted for us. */
static struct mqtt_frame bframe(uint8_t type, uint8_t flags, const uint8_t *p, size_t n)
{
	return (struct mqtt_frame){.type = type, .flags = flags, .remaining_len = (uint32_t)n,
				   .header_len = 2, .body = p};
}

#define MALFORMED(type, flags, version, ...) expect_malformed(type, flags, version, BODY(__VA_ARGS__))
#define PROTOCOL_ERROR(type, flags, version, ...) expect_protocol_error(type, flags, version, BODY(__VA_ARGS__))
#define ACCEPTED(type, flags, version, ...) expect_ok(type, flags, version, BODY(__VA_ARGS__))

/* CONNECT variable header for "MQTT" level lv with the given flags, keepalive 10 */
#define VH4(lv, fl) 0, 4, 'M', 'Q', 'T', 'T', lv, fl, 0, 10

/* --- CONNECT: protocol name and level -------------------------------------- */

static void expect_unsupported(const uint8_t *body, size_t n, uint8_t level)
{
	uint8_t reason, seen = 0;
	cr_assert_eq(run(MQTT_CONNECT, 0, 0, body, n, &reason, &seen), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION, "reason %#x", reason);
	cr_assert_eq(seen, level, "level seen reported for CONNACK");
}

Test(connect, protocol_name_wrong_MQTT_3_1_2_1)
{
	expect_unsupported(BODY(0, 4, 'm', 'q', 't', 't', 4, 0x02, 0, 10, 0, 1, 'x'), 4);
	expect_unsupported(BODY(0, 3, 'M', 'Q', 'T', 4, 0x02, 0, 10, 0, 1, 'x'), 4);
	expect_unsupported(BODY(0, 5, 'M', 'Q', 'T', 'T', 'T', 4, 0x02, 0, 10, 0, 1, 'x'), 4);
	expect_unsupported(BODY(0, 0, 4, 0x02, 0, 10, 0, 1, 'x'), 4);
	expect_unsupported(BODY(0, 6, 'M', 'Q', 'I', 's', 'd', 'P', 3, 0x02, 0, 10, 0, 1, 'x'), 3);
}

Test(connect, protocol_level_unsupported_MQTT_3_1_2_2)
{
	for (unsigned lv = 0; lv < 256; lv++) {
		if (lv == MQTT_V311 || lv == MQTT_V5 || lv == (0x80 | MQTT_V311))
			continue; /* 0x84: a bridge (bridge_bit_on_a_3_x_level_is_a_bridge) */
		uint8_t b[] = {VH4((uint8_t)lv, 0x02), 0, 1, 'x'};
		expect_unsupported(b, sizeof(b), (uint8_t)lv);
	}
}

Test(connect, name_and_level_must_agree_MQTT_3_1_2_2)
{
	/* "MQTT" with the 3.1 level, "MQIsdp" with the 3.1.1 and 5.0 levels */
	expect_unsupported(BODY(VH4(3, 0x02), 0, 1, 'x'), 3);
	expect_unsupported(BODY(0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4, 0x02, 0, 10, 0, 1, 'x'), 4);
	expect_unsupported(BODY(0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 5, 0x02, 0, 10, 0, 1, 'x'), 5);
}

Test(connect, mqisdp_3_1_with_will_and_credentials_accepted_MQTT_3_1_2_2)
{
	struct mqtt_connect c;
	uint8_t reason;
	struct mqtt_frame f = bframe(MQTT_CONNECT, 0, BODY(0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0xEE, 0, 30,
				    0, 2, 'i', 'd', 0, 1, 't', 0, 1, 'm', 0, 2, 'u', 's', 0, 2, 'p', 'w'));
	cr_assert_eq(mqtt_decode_connect(&f, &c, &reason), FM_OK);
	cr_assert_eq(c.version, MQTT_V31);
	cr_assert(c.will_flag && c.will_retain && c.clean_start);
	cr_assert_eq(c.will_qos, 1);
	cr_assert_eq(c.keepalive_s, 30);
	cr_assert(c.client_id.len == 2 && !memcmp(c.client_id.p, "id", 2));
	cr_assert(c.will_topic.len == 1 && c.will_topic.p[0] == 't');
	cr_assert(c.will_payload.len == 1 && c.will_payload.p[0] == 'm');
	cr_assert(c.username.len == 2 && !memcmp(c.username.p, "us", 2));
	cr_assert(c.password.len == 2 && !memcmp(c.password.p, "pw", 2));
}

/* --- CONNECT: flags ------------------------------------------------------- */

Test(connect, reserved_flag_MQTT_3_1_2_3)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x01), 0, 1, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x03), 0, 0, 1, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x03, 0, 10, 0, 1, 'x');
}

Test(connect, will_flag_0_with_will_qos_MQTT_3_1_2_13)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02 | 0x08), 0, 1, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02 | 0x10), 0, 1, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02 | 0x10), 0, 0, 1, 'x');
}

Test(connect, will_qos_3_MQTT_3_1_2_14)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02 | 0x04 | 0x18), 0, 1, 'x', 0, 1, 'w', 0, 0);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02 | 0x04 | 0x18), 0, 0, 1, 'x', 0, 0, 1, 'w', 0, 0);
	/* without the will flag too */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02 | 0x18), 0, 1, 'x');
}

Test(connect, will_flag_0_with_will_retain_MQTT_3_1_2_15)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x20), 0, 1, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x20), 0, 0, 1, 'x');
}

Test(connect, will_qos_0_1_2_accepted_MQTT_3_1_2_14)
{
	for (uint8_t q = 0; q <= 2; q++) {
		uint8_t b[] = {VH4(4, (uint8_t)(0x04 | q << 3)), 0, 1, 'x', 0, 1, 'w', 0, 0};
		expect_ok(MQTT_CONNECT, 0, 0, b, sizeof(b));
	}
}

Test(connect, password_without_username_MQTT_3_1_2_22)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x42), 0, 1, 'x', 0, 1, 'p');
	MALFORMED(MQTT_CONNECT, 0, 0, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x42, 0, 10, 0, 1, 'x', 0, 1, 'p');
	/* 5.0 allows a password without a user name (section 3.1.2.9) */
	ACCEPTED(MQTT_CONNECT, 0, 0, VH4(5, 0x42), 0, 0, 1, 'x', 0, 1, 'p');
}

Test(connect, username_flag_0_with_username_bytes_is_leftover_MQTT_3_1_2_18)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 1, 'x', 0, 1, 'u');
}

Test(connect, will_flag_1_without_will_fields_MQTT_3_1_2_9)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x06), 0, 1, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x06), 0, 1, 'x', 0, 1, 'w');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x06), 0, 1, 'x', 0, 1, 'w', 0, 3, 'a');
}

/* --- CONNECT: truncation and leftovers --------------------------------------- */

Test(connect, leftover_bytes_are_malformed)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 1, 'x', 0);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0xC2), 0, 1, 'x', 0, 1, 'u', 0, 1, 'p', 9);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02), 0, 0, 1, 'x', 0);
}

Test(connect, every_truncation_is_malformed)
{
	static const uint8_t full4[] = {VH4(4, 0xEE), 0, 2, 'i', 'd', 0, 1, 't', 0, 1, 'm',
					0, 2, 'u', 's', 0, 2, 'p', 'w'};
	expect_ok(MQTT_CONNECT, 0, 0, full4, sizeof(full4));
	for (size_t n = 0; n < sizeof(full4); n++)
		expect_malformed(MQTT_CONNECT, 0, 0, full4, n);
	static const uint8_t full5[] = {VH4(5, 0xEE), 5, 0x11, 0, 0, 0, 60, 0, 2, 'i', 'd',
					2, 0x01, 1, 0, 1, 't', 0, 1, 'm', 0, 2, 'u', 's', 0, 2, 'p', 'w'};
	expect_ok(MQTT_CONNECT, 0, 0, full5, sizeof(full5));
	for (size_t n = 0; n < sizeof(full5); n++)
		expect_malformed(MQTT_CONNECT, 0, 0, full5, n);
}

Test(connect, field_length_beyond_packet)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 5, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0xFF, 0xFF, 'x');
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0xC2), 0, 1, 'x', 0, 1, 'u', 0, 9, 'p');
	MALFORMED(MQTT_CONNECT, 0, 0, 0, 9, 'M', 'Q', 'T', 'T');
}

/* --- CONNECT: UTF-8 in the client id, will topic and user name --------------- */

Test(connect, client_id_U_0000_MQTT_1_5_3_2)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 1, 0);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 3, 'a', 0, 'b');
}

Test(connect, client_id_surrogate_MQTT_1_5_3_1)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 3, 0xED, 0xA0, 0x80);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 3, 0xED, 0xBF, 0xBF);
}

Test(connect, client_id_overlong_MQTT_1_5_3_1)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 2, 0xC0, 0x80);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 3, 0xE0, 0x80, 0x80);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 4, 0xF0, 0x80, 0x80, 0x80);
}

Test(connect, client_id_truncated_sequence_MQTT_1_5_3_1)
{
	/* the string length cuts a 3-byte sequence short */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 2, 0xE2, 0x82);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 1, 0xC3);
}

Test(connect, client_id_multibyte_accepted_MQTT_1_5_3)
{
	ACCEPTED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 7, 'c', 0xC3, 0xA9, 0xF4, 0x8F, 0xBF, 0xBF);
	ACCEPTED(MQTT_CONNECT, 0, 0, VH4(4, 0x02), 0, 0); /* zero-length client id [MQTT-3.1.3-6] */
}

Test(connect, will_topic_and_username_utf8_MQTT_1_5_3_1)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x06), 0, 1, 'x', 0, 1, 0, 0, 0);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x06), 0, 1, 'x', 0, 3, 0xED, 0xA0, 0x80, 0, 0);
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(4, 0x82), 0, 1, 'x', 0, 2, 0xC0, 0x80);
	/* the password is binary: anything goes */
	ACCEPTED(MQTT_CONNECT, 0, 0, VH4(4, 0xC2), 0, 1, 'x', 0, 1, 'u', 0, 3, 0, 0xED, 0xA0);
}

/* --- CONNECT: 5.0 properties ---------------------------------------------------- */

Test(connect, v5_properties_and_will_properties_parsed)
{
	struct mqtt_connect c;
	uint8_t reason;
	/* props: session expiry 0x11 (u32), receive max 0x21 (u16), user property 0x26
	 * ("k","v"), auth method 0x15 ("m"), auth data 0x16 (bin "d"), max packet 0x27;
	 * will props: will delay 0x18, payload format 0x01, content type 0x03 */
	struct mqtt_frame f = bframe(MQTT_CONNECT, 0, BODY(VH4(5, 0x06),
		32, 0x11, 0, 0, 1, 0, 0x21, 0, 10, 0x26, 0, 1, 'k', 0, 1, 'v', 0x15, 0, 1, 'm',
		    0x16, 0, 1, 'd', 0x27, 0, 0, 0x10, 0, 0x17, 1, 0x19, 1,
		0, 2, 'i', 'd',
		11, 0x18, 0, 0, 0, 5, 0x01, 1, 0x03, 0, 1, 't',
		0, 1, 'w', 0, 0));
	cr_assert_eq(mqtt_decode_connect(&f, &c, &reason), FM_OK, "reason %#x", reason);
	cr_assert_eq(c.version, MQTT_V5);
	cr_assert_eq(c.props.len, 32);
	cr_assert_eq(c.props.p, f.body + 11);
	cr_assert_eq(c.props.p[0], 0x11);
	cr_assert(c.client_id.len == 2 && !memcmp(c.client_id.p, "id", 2));
	cr_assert_eq(c.will_props.len, 11);
	cr_assert_eq(c.will_props.p[0], 0x18);
	cr_assert(c.will_topic.len == 1 && c.will_topic.p[0] == 'w');
	cr_assert_eq(c.will_payload.len, 0);
}

Test(connect, v5_empty_properties_accepted)
{
	struct mqtt_connect c;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x10, 14, VH4(5, 0x02), 0, 0, 1, 'x');
	cr_assert_eq(mqtt_decode_connect(&f, &c, &reason), FM_OK);
	cr_assert_eq(c.props.len, 0);
	cr_assert_eq(c.client_id.len, 1);
}

Test(connect, v5_unknown_property_id_refused)
{
	static const uint8_t unknown[] = {0x00, 0x04, 0x05, 0x07, 0x0A, 0x0C, 0x10, 0x14, 0x1B, 0x1D,
					  0x1E, 0x20, 0x2B, 0x7F};
	for (size_t i = 0; i < sizeof(unknown); i++) {
		uint8_t b[] = {VH4(5, 0x02), 2, unknown[i], 0, 0, 1, 'x'};
		expect_malformed(MQTT_CONNECT, 0, 0, b, sizeof(b));
	}
	/* a multi-byte varint id that is not a property */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02), 3, 0x80, 0x01, 0, 0, 1, 'x');
	/* in the will properties */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x06), 0, 0, 1, 'x', 2, 0x7F, 0, 0, 1, 'w', 0, 0);
}

Test(connect, v5_property_length_beyond_packet)
{
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02), 50, 0x11, 0, 0, 0, 1, 0, 1, 'x');
	/* property length varint never ends */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02), 0xFF, 0xFF, 0xFF, 0xFF, 0x01);
	/* a value that runs past the property section (u32 in 2 bytes) */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02), 3, 0x11, 0, 0, 0, 0, 0, 1, 'x');
	/* a string property with invalid UTF-8 */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02), 4, 0x15, 0, 1, 0, 0, 1, 'x');
	/* a user property missing its value string */
	MALFORMED(MQTT_CONNECT, 0, 0, VH4(5, 0x02), 4, 0x26, 0, 1, 'k', 0, 1, 'x');
}

/* --- PUBLISH ---------------------------------------------------------------- */

Test(publish, wildcard_topic_MQTT_3_3_2_2)
{
	static const char *topics[] = {"#", "+", "a/#", "a/+/b", "+/x", "a#", "a+b"};
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++)
		for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
			uint8_t b[32];
			size_t tl = strlen(topics[i]), n = 0;
			b[n++] = 0;
			b[n++] = (uint8_t)tl;
			memcpy(b + n, topics[i], tl);
			n += tl;
			if (v == MQTT_V5)
				b[n++] = 0;
			uint8_t reason;
			cr_assert_eq(run(MQTT_PUBLISH, 0, v, b, n, &reason, NULL), FM_EPROTO, "%s", topics[i]);
			cr_assert_eq(reason, MQTT_RC_TOPIC_NAME_INVALID, "%s", topics[i]);
		}
}

Test(publish, dup_with_qos_0_MQTT_3_3_1_2)
{
	MALFORMED(MQTT_PUBLISH, 0x08, MQTT_V311, 0, 1, 't');
	MALFORMED(MQTT_PUBLISH, 0x09, MQTT_V311, 0, 1, 't');
	MALFORMED(MQTT_PUBLISH, 0x08, MQTT_V5, 0, 1, 't', 0);
	/* DUP with QoS 1 and 2 is fine */
	ACCEPTED(MQTT_PUBLISH, 0x0A, MQTT_V311, 0, 1, 't', 0, 1);
	ACCEPTED(MQTT_PUBLISH, 0x0C, MQTT_V311, 0, 1, 't', 0, 1);
}

Test(publish, qos_3_MQTT_3_3_1_4)
{
	MALFORMED(MQTT_PUBLISH, 0x06, MQTT_V311, 0, 1, 't', 0, 1);
	MALFORMED(MQTT_PUBLISH, 0x0F, MQTT_V5, 0, 1, 't', 0, 1, 0);
}

Test(publish, packet_id_0_MQTT_2_3_1_1)
{
	MALFORMED(MQTT_PUBLISH, 0x02, MQTT_V311, 0, 1, 't', 0, 0);
	MALFORMED(MQTT_PUBLISH, 0x04, MQTT_V311, 0, 1, 't', 0, 0, 'p');
	MALFORMED(MQTT_PUBLISH, 0x02, MQTT_V5, 0, 1, 't', 0, 0, 0);
	MALFORMED(MQTT_PUBLISH, 0x04, MQTT_V5, 0, 1, 't', 0, 0, 0);
}

Test(publish, qos_0_has_no_packet_id_MQTT_2_3_1_5)
{
	struct mqtt_publish p;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x30, 5, 0, 1, 't', 0, 0);
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_OK);
	cr_assert_eq(p.packet_id, 0);
	cr_assert_eq(p.payload.len, 2, "the two bytes are payload");
}

Test(publish, truncated_fields_are_malformed)
{
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311);
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0);
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 2, 't');
	MALFORMED(MQTT_PUBLISH, 0x02, MQTT_V311, 0, 1, 't');
	MALFORMED(MQTT_PUBLISH, 0x02, MQTT_V311, 0, 1, 't', 0);
	MALFORMED(MQTT_PUBLISH, 0x04, MQTT_V311, 0, 1, 't', 0);
	MALFORMED(MQTT_PUBLISH, 0x02, MQTT_V5, 0, 1, 't', 0, 1);      /* property length missing */
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V5, 0, 1, 't', 5, 0x01, 1);    /* properties cut short */
}

Test(publish, topic_U_0000_MQTT_1_5_3_2)
{
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 3, 'a', 0, 'b');
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V5, 0, 1, 0, 0);
}

Test(publish, topic_surrogate_MQTT_1_5_3_1)
{
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 3, 0xED, 0xBF, 0xBF);
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V5, 0, 3, 0xED, 0xA0, 0x80, 0);
}

Test(publish, topic_overlong_MQTT_1_5_3_1)
{
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 2, 0xC0, 0xAF);
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 3, 0xE0, 0x80, 0xAF);
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 4, 0xF0, 0x80, 0x80, 0xAF);
}

Test(publish, topic_truncated_sequence_MQTT_1_5_3_1)
{
	/* the payload would complete the sequence; the string length does not */
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 2, 0xE2, 0x82, 0xAC);
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V311, 0, 1, 0xF0, 0x9F, 0x98, 0x80);
}

Test(publish, multibyte_topic_and_binary_payload_accepted)
{
	struct mqtt_publish p;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x34, 13, 0, 6, 0xE2, 0x82, 0xAC, '/', 0xC3, 0xA9, 0x12, 0x34, 0, 0xFF, 0xED);
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_OK);
	cr_assert_eq(p.qos, 2);
	cr_assert_eq(p.packet_id, 0x1234);
	cr_assert_eq(p.topic.len, 6);
	cr_assert_eq(p.payload.len, 3);
	cr_assert_eq(p.payload.p, f.body + 10);
}

Test(publish, v5_properties_parsed_and_empty_topic_allowed)
{
	struct mqtt_publish p;
	uint8_t reason;
	/* topic alias 0x23 = 1, message expiry 0x02, content type 0x03 "j" */
	struct mqtt_frame f = FRAME(0x32, 18, 0, 0, 0, 9, 12, 0x23, 0, 1, 0x02, 0, 0, 0, 9, 0x03, 0, 1, 'j', 'P');
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V5, &p, &reason), FM_OK, "reason %#x", reason);
	cr_assert_eq(p.topic.len, 0);
	cr_assert_eq(p.packet_id, 9);
	cr_assert_eq(p.props.len, 12);
	cr_assert_eq(p.props.p[0], 0x23);
	cr_assert(p.payload.len == 1 && p.payload.p[0] == 'P');
	/* 3.1.1: empty topic refused */
	uint8_t r2;
	cr_assert_eq(run(MQTT_PUBLISH, 0, MQTT_V311, BODY(0, 0, 'P'), &r2, NULL), FM_EPROTO);
}

Test(publish, v5_unknown_property_refused)
{
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V5, 0, 1, 't', 2, 0x7F, 0);
	MALFORMED(MQTT_PUBLISH, 0, MQTT_V5, 0, 1, 't', 2, 0x00, 0);
}

/* --- acks -------------------------------------------------------------------- */

static uint8_t ack_flags(uint8_t t) { return t == MQTT_PUBREL ? 2 : 0; }

Test(ack, packet_id_0_for_every_ack_MQTT_2_3_1_1)
{
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
		MALFORMED(t, ack_flags(t), MQTT_V311, 0, 0);
		MALFORMED(t, ack_flags(t), MQTT_V5, 0, 0);
		MALFORMED(t, ack_flags(t), MQTT_V5, 0, 0, 0x10);
		MALFORMED(t, ack_flags(t), MQTT_V5, 0, 0, 0x10, 0);
	}
}

Test(ack, truncated_and_leftover_bytes_are_malformed)
{
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
		MALFORMED(t, ack_flags(t), MQTT_V311);
		MALFORMED(t, ack_flags(t), MQTT_V311, 0);
		MALFORMED(t, ack_flags(t), MQTT_V311, 0, 1, 0, 0);
		MALFORMED(t, ack_flags(t), MQTT_V5);
		MALFORMED(t, ack_flags(t), MQTT_V5, 0);
		MALFORMED(t, ack_flags(t), MQTT_V5, 0, 1, 0, 3, 0x1F, 0);    /* property cut short */
		MALFORMED(t, ack_flags(t), MQTT_V5, 0, 1, 0, 0, 7);          /* leftover after props */
		MALFORMED(t, ack_flags(t), MQTT_V5, 0, 1, 0, 2, 0x7F, 0);    /* unknown property */
	}
}

Test(ack, v5_ack_forms_accepted_MQTT_3_4_2_1)
{
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
		ACCEPTED(t, ack_flags(t), MQTT_V5, 0, 1);
		ACCEPTED(t, ack_flags(t), MQTT_V5, 0, 1, 0x92);
		ACCEPTED(t, ack_flags(t), MQTT_V5, 0, 1, 0x00, 0);
		ACCEPTED(t, ack_flags(t), MQTT_V5, 0, 1, 0x80, 4, 0x1F, 0, 1, 'r');
	}
	struct mqtt_ack a;
	uint8_t reason;
	struct mqtt_frame f = FRAME(0x50, 8, 0xAB, 0xCD, 0x80, 4, 0x1F, 0, 1, 'r');
	cr_assert_eq(mqtt_decode_ack(&f, MQTT_V5, &a, &reason), FM_OK);
	cr_assert_eq(a.type, MQTT_PUBREC);
	cr_assert_eq(a.packet_id, 0xABCD);
	cr_assert_eq(a.reason, 0x80);
	cr_assert_eq(a.props.len, 4);
	cr_assert_eq(a.props.p, f.body + 4);
}

/* --- SUBSCRIBE --------------------------------------------------------------- */

Test(subscribe, packet_id_0_MQTT_2_3_1_1)
{
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 0, 0, 1, 'a', 1);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V5, 0, 0, 0, 0, 1, 'a', 1);
}

/* 3.1.1: malformed [MQTT-3.8.3-3]; 5.0: "a SUBSCRIBE packet with no
 * Payload is a Protocol Error" [MQTT-3.8.3-2] */
Test(subscribe, no_entries_MQTT_3_8_3_3_and_MQTT_3_8_3_2)
{
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1);
	PROTOCOL_ERROR(MQTT_SUBSCRIBE, 2, MQTT_V5, 0, 1, 0);
	PROTOCOL_ERROR(MQTT_SUBSCRIBE, 2, MQTT_V5, 0, 1, 2, 0x0B, 5);
}

Test(subscribe, requested_qos_3_MQTT_3_8_3_4)
{
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 'a', 3);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 'a', 0, 0, 1, 'b', 3);
	PROTOCOL_ERROR(MQTT_SUBSCRIBE, 2, MQTT_V5, 0, 1, 0, 0, 1, 'a', 3); /* 5.0: 3.8.3.1 */
}

Test(subscribe, reserved_option_bits_MQTT_3_8_3_4)
{
	for (unsigned bit = 2; bit < 8; bit++) {
		uint8_t b[] = {0, 1, 0, 1, 'a', (uint8_t)(1u << bit | 1)};
		expect_malformed(MQTT_SUBSCRIBE, 2, MQTT_V311, b, sizeof(b));
	}
	/* 5.0: bits 6 and 7 are reserved (malformed), retain handling 3 is a
	 * Protocol Error (3.8.3.1) */
	for (unsigned bit = 6; bit < 8; bit++) {
		uint8_t b[] = {0, 1, 0, 0, 1, 'a', (uint8_t)(1u << bit)};
		expect_malformed(MQTT_SUBSCRIBE, 2, MQTT_V5, b, sizeof(b));
	}
	PROTOCOL_ERROR(MQTT_SUBSCRIBE, 2, MQTT_V5, 0, 1, 0, 0, 1, 'a', 0x30);
	/* every 5.0 combination of no-local, RAP, retain handling 0..2, QoS 0..2 */
	for (unsigned o = 0; o < 0x40; o++) {
		if ((o & 3) == 3 || ((o >> 4) & 3) == 3)
			continue;
		uint8_t b[] = {0, 1, 0, 0, 1, 'a', (uint8_t)o};
		expect_ok(MQTT_SUBSCRIBE, 2, MQTT_V5, b, sizeof(b));
	}
}

Test(subscribe, truncated_entries_are_malformed)
{
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 3, 'a', 1);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 'a', 1, 0);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 'a', 1, 0, 1, 'b');
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V5, 0, 1);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V5, 0, 1, 9, 0x0B, 1, 0, 1, 'a', 0);
}

Test(subscribe, empty_filter_MQTT_4_7_3_1)
{
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 0, 1);
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 'a', 1, 0, 0, 1);
}

Test(subscribe, filter_utf8_MQTT_1_5_3_1)
{
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 0, 1);             /* U+0000 */
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 3, 0xED, 0xA0, 0x80, 1); /* surrogate */
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 2, 0xC0, 0x80, 1);    /* overlong */
	MALFORMED(MQTT_SUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 0xC3, 1);          /* truncated */
}

Test(subscribe, every_entry_returned_in_order_MQTT_3_8_3_1)
{
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		uint8_t b[64];
		size_t n = 0;
		b[n++] = 0x12;
		b[n++] = 0x34;
		if (v == MQTT_V5) {
			b[n++] = 2;       /* subscription identifier 0x0B = 7 */
			b[n++] = 0x0B;
			b[n++] = 7;
		}
		static const char *filters[] = {"a/b", "#", "+/+/c", "s\xC3\xA9", "x"};
		static const uint8_t opts[] = {0, 1, 2, 1, 0};
		const size_t nf = 5;
		for (size_t i = 0; i < nf; i++) {
			size_t l = strlen(filters[i]);
			b[n++] = 0;
			b[n++] = (uint8_t)l;
			memcpy(b + n, filters[i], l);
			n += l;
			b[n++] = (uint8_t)(opts[i] | (v == MQTT_V5 && i == 4 ? 0x2C : 0));
		}
		struct mqtt_frame f = {.type = MQTT_SUBSCRIBE, .flags = 2, .remaining_len = (uint32_t)n,
				       .header_len = 2, .body = b};
		struct mqtt_subscribe s;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_subscribe(&f, v, &s, &reason), FM_OK, "v%u reason %#x", v, reason);
		cr_assert_eq(s.packet_id, 0x1234);
		cr_assert_eq(s.count, nf);
		cr_assert_eq(s.props.len, v == MQTT_V5 ? 2u : 0u);
		struct mqtt_entry_iter it;
		struct mqtt_sub_entry e;
		mqtt_entries_begin(&s, true, &it);
		for (size_t i = 0; i < nf; i++) {
			cr_assert(mqtt_entries_next(&it, &e), "entry %zu", i);
			cr_assert_eq(e.filter.len, strlen(filters[i]));
			cr_assert_arr_eq(e.filter.p, filters[i], e.filter.len, "entry %zu", i);
			cr_assert_eq(e.options, (uint8_t)(opts[i] | (v == MQTT_V5 && i == 4 ? 0x2C : 0)));
		}
		cr_assert_not(mqtt_entries_next(&it, &e));
		cr_assert_not(mqtt_entries_next(&it, &e), "stays at the end");
	}
}

/* --- UNSUBSCRIBE ------------------------------------------------------------- */

/* malformed in 3.1.1, a Protocol Error in 5.0 (3.10.3) [MQTT-3.10.3-2] */
Test(unsubscribe, no_entries_MQTT_3_10_3_2)
{
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V311, 0, 1);
	PROTOCOL_ERROR(MQTT_UNSUBSCRIBE, 2, MQTT_V5, 0, 1, 0);
}

Test(unsubscribe, packet_id_0_MQTT_2_3_1_1)
{
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V311, 0, 0, 0, 1, 'a');
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V5, 0, 0, 0, 0, 1, 'a');
}

Test(unsubscribe, truncated_and_invalid_filters)
{
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 2, 'a');
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 'a', 0);
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 0);
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 1, 0);
	MALFORMED(MQTT_UNSUBSCRIBE, 2, MQTT_V311, 0, 1, 0, 3, 0xED, 0xA0, 0x80);
}

Test(unsubscribe, every_entry_returned_in_order_MQTT_3_10_3_1)
{
	struct mqtt_subscribe s;
	uint8_t reason;
	struct mqtt_frame f = bframe(MQTT_UNSUBSCRIBE, 2, BODY(0, 9, 0, 3, 'a', '/', 'b', 0, 1, '#', 0, 3, '+', '/', 'c'));
	cr_assert_eq(mqtt_decode_unsubscribe(&f, MQTT_V311, &s, &reason), FM_OK);
	cr_assert_eq(s.packet_id, 9);
	cr_assert_eq(s.count, 3);
	static const char *want[] = {"a/b", "#", "+/c"};
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	mqtt_entries_begin(&s, false, &it);
	for (size_t i = 0; i < 3; i++) {
		cr_assert(mqtt_entries_next(&it, &e));
		cr_assert_eq(e.filter.len, strlen(want[i]));
		cr_assert_arr_eq(e.filter.p, want[i], e.filter.len);
		cr_assert_eq(e.options, 0);
	}
	cr_assert_not(mqtt_entries_next(&it, &e));

	/* 5.0: a user property pair cut short by the property length */
	struct mqtt_frame f5 = bframe(MQTT_UNSUBSCRIBE, 2, BODY(0, 9, 3, 0x26, 0, 0, 0, 1, 'a'));
	cr_assert_eq(mqtt_decode_unsubscribe(&f5, MQTT_V5, &s, &reason), FM_EPROTO);
}

/* --- PINGREQ, PINGRESP, DISCONNECT ---------------------------------------------- */

Test(empty, pingreq_and_pingresp_with_body_MQTT_3_12)
{
	MALFORMED(MQTT_PINGREQ, 0, MQTT_V311, 0);
	MALFORMED(MQTT_PINGREQ, 0, MQTT_V5, 0, 0);
	MALFORMED(MQTT_PINGRESP, 0, MQTT_V311, 0);
	ACCEPTED(MQTT_PINGREQ, 0, MQTT_V311);
	ACCEPTED(MQTT_PINGRESP, 0, MQTT_V5);
}

Test(empty, disconnect_with_body_MQTT_3_14)
{
	MALFORMED(MQTT_DISCONNECT, 0, MQTT_V311, 0);
	MALFORMED(MQTT_DISCONNECT, 0, MQTT_V31, 0, 0);
	ACCEPTED(MQTT_DISCONNECT, 0, MQTT_V311);
	ACCEPTED(MQTT_DISCONNECT, 0, MQTT_V5);
	ACCEPTED(MQTT_DISCONNECT, 0, MQTT_V5, 0x04);
	ACCEPTED(MQTT_DISCONNECT, 0, MQTT_V5, 0x00, 0);
	ACCEPTED(MQTT_DISCONNECT, 0, MQTT_V5, 0x8B, 5, 0x11, 0, 0, 0, 0);
	MALFORMED(MQTT_DISCONNECT, 0, MQTT_V5, 0x00, 2, 0x7F, 0);
	MALFORMED(MQTT_DISCONNECT, 0, MQTT_V5, 0x00, 5, 0x11, 0);
	MALFORMED(MQTT_DISCONNECT, 0, MQTT_V5, 0x00, 0, 1);
}

/* --- client side: CONNACK, SUBACK, UNSUBACK ---------------------------------- */

Test(connack, length_and_properties)
{
	MALFORMED(MQTT_CONNACK, 0, MQTT_V311, 0);
	MALFORMED(MQTT_CONNACK, 0, MQTT_V311, 0, 0, 0);
	MALFORMED(MQTT_CONNACK, 0, MQTT_V5, 0, 0);
	MALFORMED(MQTT_CONNACK, 0, MQTT_V5, 0, 0, 2, 0x7F, 0);
	ACCEPTED(MQTT_CONNACK, 0, MQTT_V5, 0, 0, 0);
	ACCEPTED(MQTT_CONNACK, 0, MQTT_V5, 1, 0, 5, 0x21, 0, 10, 0x24, 1);
}

Test(suback, return_codes_and_lengths_MQTT_3_9_3)
{
	MALFORMED(MQTT_SUBACK, 0, MQTT_V311, 0, 1);              /* no return code */
	MALFORMED(MQTT_SUBACK, 0, MQTT_V311, 0);
	MALFORMED(MQTT_SUBACK, 0, MQTT_V5, 0, 1, 0);
	ACCEPTED(MQTT_SUBACK, 0, MQTT_V311, 0, 1, 0, 1, 2, 0x80);
	ACCEPTED(MQTT_SUBACK, 0, MQTT_V5, 0, 1, 0, 0x00, 0x87);
	ACCEPTED(MQTT_UNSUBACK, 0, MQTT_V311, 0, 1);
	ACCEPTED(MQTT_UNSUBACK, 0, MQTT_V5, 0, 1, 0, 0x00, 0x11);
}

/* 3.1.1 section 3.11.1: the UNSUBACK remaining length is 2. */
Test(suback, unsuback_3_1_1_with_extra_bytes_MQTT_3_11_1)
{
	MALFORMED(MQTT_UNSUBACK, 0, MQTT_V311, 0, 1, 0);
	MALFORMED(MQTT_UNSUBACK, 0, MQTT_V311);
}

/* mosquitto's bridges (try_private) set 0x80 on a 3.x protocol level; the
 * level itself is what is left (not in the spec: every mosquitto-compatible
 * broker takes it). 5.0 has no such bit: 0x85 is refused [MQTT-3.1.2-2]. */
Test(connect, bridge_bit_on_a_3_x_level_is_a_bridge)
{
	uint8_t p[] = { 0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 0x84, 0x02, 0, 10, 0, 1, 'x' };
	struct mqtt_connect c;
	uint8_t reason = 0;
	cr_assert_eq(connect_rc(frame_of(p, sizeof(p)), &c, &reason), FM_OK);
	cr_assert(c.bridge);
	cr_assert_eq(c.version, MQTT_V311);
	p[8] = 0x85;
	cr_assert_neq(connect_rc(frame_of(p, sizeof(p)), &c, &reason), FM_OK);
	cr_assert_eq(reason, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
}
