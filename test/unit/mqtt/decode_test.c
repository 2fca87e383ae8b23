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
