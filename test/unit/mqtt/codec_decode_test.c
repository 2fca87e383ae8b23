/* Decoders (decode.c, props.c, reader.c): every packet type, the normative
 * statements each one enforces, and 5.0 property sections checked against
 * the packet that carries them. Packets are written out byte by byte so
 * malformed ones can be built on purpose. */
#include "codec_util.h"

#include <string.h>

/* PKT(byte1, body...): a frame with a 1-byte remaining length over bytes
 * that live as long as the enclosing block. */
#define PKT(b0, ...)                                                                      \
	frame_of((const uint8_t[]){(b0), sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__}, \
		 2 + sizeof((const uint8_t[]){__VA_ARGS__}))

/* "MQTT" level 4 (or 5), then flags, keepalive 60 */
#define HDR_V4(flags) 0, 4, 'M', 'Q', 'T', 'T', 4, (flags), 0, 60
#define HDR_V5(flags) 0, 4, 'M', 'Q', 'T', 'T', 5, (flags), 0, 60

static int connect_rc(struct mqtt_frame f, struct mqtt_connect *c, uint8_t *reason)
{
	return mqtt_decode_connect(&f, c, reason);
}

#define CONNECT_FAILS_WITH(want, ...)                                     \
	do {                                                              \
		struct mqtt_connect c_;                                   \
		uint8_t r_ = 0;                                           \
		cr_assert_eq(connect_rc(PKT(0x10, __VA_ARGS__), &c_, &r_), FM_EPROTO); \
		cr_assert_eq(r_, (want), "reason 0x%02x", r_);            \
	} while (0)

#define PUBLISH_FAILS_WITH(v, want, b0, ...)                              \
	do {                                                              \
		struct mqtt_frame f_ = PKT(b0, __VA_ARGS__);              \
		struct mqtt_publish p_;                                   \
		uint8_t r_ = 0;                                           \
		cr_assert_eq(mqtt_decode_publish(&f_, (v), &p_, &r_), FM_EPROTO); \
		cr_assert_eq(r_, (want), "reason 0x%02x", r_);            \
	} while (0)

#define SUBSCRIBE_FAILS_WITH(v, want, ...)                                \
	do {                                                              \
		struct mqtt_frame f_ = PKT(0x82, __VA_ARGS__);            \
		struct mqtt_subscribe s_;                                 \
		uint8_t r_ = 0;                                           \
		cr_assert_eq(mqtt_decode_subscribe(&f_, (v), &s_, &r_), FM_EPROTO); \
		cr_assert_eq(r_, (want), "reason 0x%02x", r_);            \
	} while (0)

#define MALFORMED MQTT_RC_MALFORMED_PACKET
#define PROTO_ERR MQTT_RC_PROTOCOL_ERROR

/* --- CONNECT: protocol name and level ---------------------------------------- */

Test(connect, minimal_3_1_1_accepted)
{
	struct mqtt_connect c;
	uint8_t reason = 0xFF;
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V4(0x02), 0, 2, 'i', 'd'), &c, &reason), FM_OK);
	cr_assert_eq(reason, 0);
	cr_assert_eq(c.version, MQTT_V311);
	cr_assert(c.clean_start && !c.will_flag && !c.has_username && !c.has_password);
	cr_assert_eq(c.keepalive_s, 60);
	cr_assert(c.client_id.len == 2 && memcmp(c.client_id.p, "id", 2) == 0);
}

Test(connect, mqisdp_level_3_accepted)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(PKT(0x10, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 10, 0, 1, 'x'),
				&c, &reason), FM_OK);
	cr_assert_eq(c.version, MQTT_V31);
}

Test(connect, empty_client_id_left_to_the_broker_MQTT_3_1_3_6)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V4(0x00), 0, 0), &c, &reason), FM_OK);
	cr_assert_eq(c.client_id.len, 0);
}

Test(connect, bad_protocol_name_refused_MQTT_3_1_2_1)
{
	CONNECT_FAILS_WITH(MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION, 0, 4, 'M', 'Q', 'T', 'X', 4, 2, 0, 60, 0, 0);
	/* the names belong to their levels: MQIsdp is 3.1 only */
	CONNECT_FAILS_WITH(MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION,
			   0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4, 2, 0, 60, 0, 0);
}

Test(connect, unknown_level_reports_version_for_connack_1_MQTT_3_1_2_2)
{
	struct mqtt_connect c;
	uint8_t reason = 0;
	cr_assert_eq(connect_rc(PKT(0x10, 0, 4, 'M', 'Q', 'T', 'T', 6, 2, 0, 60, 0, 0), &c, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	cr_assert_eq(c.version, 6, "the caller needs the level to pick CONNACK's format");
}

Test(connect, truncated_protocol_name_is_malformed)
{
	CONNECT_FAILS_WITH(MALFORMED, 0, 4, 'M', 'Q');
}

/* --- CONNECT: flags ------------------------------------------------------------ */

Test(connect, reserved_flag_set_is_malformed_MQTT_3_1_2_3)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x03), 0, 0);
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x03), 0, 0, 0);
}

Test(connect, will_qos_without_will_flag_is_malformed_MQTT_3_1_2_11_MQTT_3_1_2_13)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02 | 0x08), 0, 0);
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02 | 0x10), 0, 0);
}

Test(connect, will_retain_without_will_flag_is_malformed_MQTT_3_1_2_15)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02 | 0x20), 0, 0);
}

Test(connect, will_qos_3_is_malformed_MQTT_3_1_2_14)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02 | 0x04 | 0x18), 0, 0, 0, 1, 't', 0, 0);
}

Test(connect, will_fields_read_MQTT_3_1_2_9)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V4(0x02 | 0x04 | 0x10 | 0x20), 0, 0, 0, 1, 't', 0, 2, 'h', 'i'),
				&c, &reason), FM_OK);
	cr_assert(c.will_flag && c.will_qos == 2 && c.will_retain);
	cr_assert(c.will_topic.len == 1 && c.will_topic.p[0] == 't');
	cr_assert(c.will_payload.len == 2 && memcmp(c.will_payload.p, "hi", 2) == 0);
}

Test(connect, will_flag_without_will_fields_is_malformed_MQTT_3_1_2_9)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02 | 0x04), 0, 0);
}

Test(connect, password_without_username_is_malformed_3_1_1_MQTT_3_1_2_22)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x42), 0, 0, 0, 1, 'p');
}

Test(connect, password_without_username_allowed_in_5_0)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V5(0x42), 0, 0, 0, 0, 1, 'p'), &c, &reason), FM_OK);
	cr_assert(c.has_password && !c.has_username && c.password.len == 1);
}

Test(connect, username_and_password_read_MQTT_3_1_3_11)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V4(0xC2), 0, 0, 0, 1, 'u', 0, 2, 0x00, 0xFF), &c, &reason), FM_OK);
	cr_assert(c.username.len == 1 && c.username.p[0] == 'u');
	cr_assert(c.password.len == 2 && c.password.p[0] == 0x00, "password is binary, NUL allowed");
}

Test(connect, missing_username_is_malformed)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x82), 0, 0);
}

Test(connect, leftover_bytes_are_malformed)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02), 0, 0, 0xAA);
}

/* --- CONNECT: UTF-8 [MQTT-1.5.3] (3.1.1) / [MQTT-1.5.4] (5.0) ---------------------- */

Test(connect, client_id_with_u0000_is_malformed_MQTT_1_5_3_2)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02), 0, 3, 'a', 0x00, 'b');
}

Test(connect, client_id_with_surrogate_is_malformed_MQTT_1_5_3_1)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02), 0, 3, 0xED, 0xA0, 0x80); /* U+D800 */
}

Test(connect, client_id_with_overlong_is_malformed_MQTT_1_5_3_1)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02), 0, 2, 0xC0, 0xAF);       /* overlong '/' */
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x02), 0, 3, 0xE0, 0x80, 0xAF); /* 3-byte overlong */
}

Test(connect, username_with_bad_utf8_is_malformed_MQTT_1_5_3_1)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x82), 0, 0, 0, 1, 0xFF);
}

Test(connect, will_topic_with_bad_utf8_is_malformed_MQTT_1_5_3_1)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V4(0x06), 0, 0, 0, 1, 0x80, 0, 0);
}

/* --- CONNECT: 5.0 properties ---------------------------------------------------------- */

Test(connect, v5_properties_kept_raw)
{
	struct mqtt_connect c;
	uint8_t reason;
	/* session expiry 10, receive maximum 5, user property k=v */
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V5(0x02), 15, 0x11, 0, 0, 0, 10, 0x21, 0, 5,
				    0x26, 0, 1, 'k', 0, 1, 'v', 0, 0), &c, &reason), FM_OK);
	cr_assert_eq(c.props.len, 15);
	cr_assert_eq(c.props.p[0], 0x11);
	cr_assert_eq(c.client_id.len, 0);
}

Test(connect, v5_will_properties_checked_as_will_properties)
{
	struct mqtt_connect c;
	uint8_t reason;
	/* will delay interval belongs in the will properties ... */
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V5(0x06), 0, 0, 0, 5, 0x18, 0, 0, 0, 9, 0, 1, 't', 0, 0),
				&c, &reason), FM_OK);
	cr_assert(c.will_props.len == 5 && c.will_props.p[0] == 0x18);
	/* ... and not in the CONNECT's own, nor session expiry in the will's */
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 5, 0x18, 0, 0, 0, 9, 0, 0);
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x06), 0, 0, 0, 5, 0x11, 0, 0, 0, 9, 0, 1, 't', 0, 0);
}

Test(connect, v5_property_for_another_packet_is_malformed)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 3, 0x23, 0, 1, 0, 0);  /* topic alias */
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 2, 0x24, 1, 0, 0);     /* maximum QoS */
}

Test(connect, v5_unknown_property_id_is_malformed)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 2, 0x7F, 0, 0, 0);
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 2, 0x00, 0, 0, 0);
}

Test(connect, v5_repeated_single_property_is_protocol_error)
{
	CONNECT_FAILS_WITH(PROTO_ERR, HDR_V5(0x02), 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2, 0, 0);
}

Test(connect, v5_repeated_user_property_allowed)
{
	struct mqtt_connect c;
	uint8_t reason;
	cr_assert_eq(connect_rc(PKT(0x10, HDR_V5(0x02), 14, 0x26, 0, 1, 'k', 0, 1, 'v',
				    0x26, 0, 1, 'k', 0, 1, 'w', 0, 0), &c, &reason), FM_OK);
}

Test(connect, v5_forbidden_values_are_protocol_errors)
{
	CONNECT_FAILS_WITH(PROTO_ERR, HDR_V5(0x02), 3, 0x21, 0, 0, 0, 0);       /* receive maximum 0 */
	CONNECT_FAILS_WITH(PROTO_ERR, HDR_V5(0x02), 5, 0x27, 0, 0, 0, 0, 0, 0); /* max packet size 0 */
	CONNECT_FAILS_WITH(PROTO_ERR, HDR_V5(0x02), 2, 0x17, 2, 0, 0);          /* request problem info 2 */
	CONNECT_FAILS_WITH(PROTO_ERR, HDR_V5(0x02), 2, 0x19, 2, 0, 0);          /* request response info 2 */
}

Test(connect, v5_property_section_overruns_are_malformed)
{
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 9, 0x11, 0, 0, 0, 1);       /* length past the packet */
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 3, 0x11, 0, 0, 0, 0, 0, 0); /* value past the section */
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 4, 0x15, 0, 1, 0xFF, 0, 0); /* auth method not UTF-8 */
	CONNECT_FAILS_WITH(MALFORMED, HDR_V5(0x02), 0x80, 0x80, 0x80, 0x80, 0x01); /* 5-byte length */
}

/* --- PUBLISH --------------------------------------------------------------------------- */

Test(publish, qos1_fields)
{
	struct mqtt_frame f = PKT(0x3B, 0, 3, 'a', '/', 'b', 0x12, 0x34, 'x', 'y');
	struct mqtt_publish p;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_OK);
	cr_assert(p.qos == 1 && p.dup && p.retain);
	cr_assert_eq(p.packet_id, 0x1234);
	cr_assert(p.topic.len == 3 && memcmp(p.topic.p, "a/b", 3) == 0);
	cr_assert(p.payload.len == 2 && memcmp(p.payload.p, "xy", 2) == 0);
}

Test(publish, wildcard_in_topic_name_is_invalid_MQTT_3_3_2_2)
{
	PUBLISH_FAILS_WITH(MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID, 0x30, 0, 3, 'a', '/', '+');
	PUBLISH_FAILS_WITH(MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID, 0x30, 0, 3, 'a', '/', '#');
	PUBLISH_FAILS_WITH(MQTT_V5, MQTT_RC_TOPIC_NAME_INVALID, 0x30, 0, 1, '#', 0);
}

Test(publish, empty_topic_refused_in_3_1_1_MQTT_4_7_3_1)
{
	PUBLISH_FAILS_WITH(MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID, 0x30, 0, 0, 'x');
}

Test(publish, empty_topic_left_to_topic_alias_in_5_0_MQTT_3_3_2_8)
{
	struct mqtt_frame f = PKT(0x30, 0, 0, 3, 0x23, 0, 1, 'x');
	struct mqtt_publish p;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V5, &p, &reason), FM_OK);
	cr_assert(p.topic.len == 0 && p.props.len == 3 && p.payload.len == 1);
}

/* A Protocol Error that 3.3.4 answers with 0x94 Topic Alias invalid. */
Test(publish, topic_alias_0_is_topic_alias_invalid_MQTT_3_3_2_8)
{
	PUBLISH_FAILS_WITH(MQTT_V5, MQTT_RC_TOPIC_ALIAS_INVALID, 0x30, 0, 1, 't', 3, 0x23, 0, 0);
}

Test(publish, packet_id_0_is_malformed_MQTT_2_3_1_1)
{
	PUBLISH_FAILS_WITH(MQTT_V311, MALFORMED, 0x32, 0, 1, 't', 0, 0);
	PUBLISH_FAILS_WITH(MQTT_V311, MALFORMED, 0x34, 0, 1, 't', 0, 0);
	PUBLISH_FAILS_WITH(MQTT_V5, MALFORMED, 0x32, 0, 1, 't', 0, 0, 0);
}

Test(publish, qos_3_is_malformed_even_on_a_hand_built_frame_MQTT_3_3_1_4)
{
	const uint8_t body[] = {0, 1, 't', 0, 1};
	struct mqtt_frame f = {.type = MQTT_PUBLISH, .flags = 0x06, .remaining_len = sizeof(body),
			       .header_len = 2, .body = body};
	struct mqtt_publish p;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
}

Test(publish, dup_with_qos_0_is_malformed_MQTT_3_3_1_2)
{
	PUBLISH_FAILS_WITH(MQTT_V311, MALFORMED, 0x38, 0, 1, 't');
}

Test(publish, topic_utf8_checked_MQTT_1_5_3_1_MQTT_1_5_3_2)
{
	PUBLISH_FAILS_WITH(MQTT_V311, MALFORMED, 0x30, 0, 3, 0xED, 0xBF, 0xBF); /* U+DFFF */
	PUBLISH_FAILS_WITH(MQTT_V311, MALFORMED, 0x30, 0, 2, 'a', 0x00);
	PUBLISH_FAILS_WITH(MQTT_V311, MALFORMED, 0x30, 0, 4, 0xF0, 0x80, 0x80, 0x80); /* overlong */
}

Test(publish, topic_longer_than_packet_is_malformed)
{
	PUBLISH_FAILS_WITH(MQTT_V311, MALFORMED, 0x30, 0, 9, 't');
}

Test(publish, v5_properties_and_payload_split)
{
	/* two subscription identifiers: the one property PUBLISH may repeat */
	struct mqtt_frame f = PKT(0x30, 0, 1, 't', 4, 0x0B, 1, 0x0B, 2, 'p');
	struct mqtt_publish p;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V5, &p, &reason), FM_OK);
	cr_assert(p.props.len == 4 && p.props.p[0] == 0x0B);
	cr_assert(p.payload.len == 1 && p.payload.p[0] == 'p');
}

Test(publish, v5_property_rules_in_publish)
{
	PUBLISH_FAILS_WITH(MQTT_V5, MALFORMED, 0x30, 0, 1, 't', 5, 0x11, 0, 0, 0, 1);
	PUBLISH_FAILS_WITH(MQTT_V5, PROTO_ERR, 0x30, 0, 1, 't', 6, 0x23, 0, 1, 0x23, 0, 2); /* alias twice */
}

/* --- PUBACK, PUBREC, PUBREL, PUBCOMP ------------------------------------------------------ */

static int ack_rc(struct mqtt_frame f, uint8_t v, struct mqtt_ack *a, uint8_t *reason)
{
	return mqtt_decode_ack(&f, v, a, reason);
}

Test(ack, each_type_reads_packet_id)
{
	static const uint8_t b0[] = {0x40, 0x50, 0x62, 0x70};
	for (size_t i = 0; i < 4; i++) {
		struct mqtt_ack a;
		uint8_t reason;
		cr_assert_eq(ack_rc(PKT(b0[i], 0x01, 0x02), MQTT_V311, &a, &reason), FM_OK);
		cr_assert_eq(a.type, b0[i] >> 4);
		cr_assert_eq(a.packet_id, 0x0102);
	}
}

Test(ack, packet_id_0_is_malformed_MQTT_2_3_1_1)
{
	static const uint8_t b0[] = {0x40, 0x50, 0x62, 0x70};
	for (size_t i = 0; i < 4; i++) {
		struct mqtt_ack a;
		uint8_t reason = 0;
		cr_assert_eq(ack_rc(PKT(b0[i], 0, 0), MQTT_V311, &a, &reason), FM_EPROTO);
		cr_assert_eq(reason, MALFORMED);
	}
}

Test(ack, leftover_bytes_in_3_1_1_are_malformed)
{
	struct mqtt_ack a;
	uint8_t reason;
	cr_assert_eq(ack_rc(PKT(0x40, 0, 1, 0x10), MQTT_V311, &a, &reason), FM_EPROTO);
	cr_assert_eq(ack_rc(PKT(0x40, 0), MQTT_V311, &a, &reason), FM_EPROTO);
}

Test(ack, v5_reason_and_properties_may_be_omitted_MQTT_3_4_2_1)
{
	struct mqtt_ack a;
	uint8_t reason;
	cr_assert_eq(ack_rc(PKT(0x40, 0, 1), MQTT_V5, &a, &reason), FM_OK);
	cr_assert(a.reason == 0 && a.props.len == 0);
	cr_assert_eq(ack_rc(PKT(0x50, 0, 1, 0x10), MQTT_V5, &a, &reason), FM_OK);
	cr_assert_eq(a.reason, MQTT_RC_NO_MATCHING_SUBSCRIBERS);
	cr_assert_eq(ack_rc(PKT(0x70, 0, 1, 0x92, 4, 0x1F, 0, 1, 'r'), MQTT_V5, &a, &reason), FM_OK);
	cr_assert(a.reason == MQTT_RC_PACKET_ID_NOT_FOUND && a.props.len == 4);
}

Test(ack, v5_ack_property_rules)
{
	struct mqtt_ack a;
	uint8_t reason = 0;
	/* session expiry is not an ack property */
	cr_assert_eq(ack_rc(PKT(0x40, 0, 1, 0, 5, 0x11, 0, 0, 0, 1), MQTT_V5, &a, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
	/* two reason strings */
	cr_assert_eq(ack_rc(PKT(0x40, 0, 1, 0, 6, 0x1F, 0, 0, 0x1F, 0, 0), MQTT_V5, &a, &reason), FM_EPROTO);
	cr_assert_eq(reason, PROTO_ERR);
}

/* --- SUBSCRIBE, UNSUBSCRIBE ------------------------------------------------------------------ */

Test(subscribe, entries_walked_in_order_MQTT_3_8_3_1)
{
	struct mqtt_frame f = PKT(0x82, 0, 5, 0, 3, 'a', '/', '+', 1, 0, 1, '#', 2);
	struct mqtt_subscribe s;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_subscribe(&f, MQTT_V311, &s, &reason), FM_OK);
	cr_assert(s.packet_id == 5 && s.count == 2);
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	mqtt_entries_begin(&s, true, &it);
	cr_assert(mqtt_entries_next(&it, &e));
	cr_assert(e.filter.len == 3 && memcmp(e.filter.p, "a/+", 3) == 0 && e.options == 1);
	cr_assert(mqtt_entries_next(&it, &e));
	cr_assert(e.filter.len == 1 && e.filter.p[0] == '#' && e.options == 2);
	cr_assert_not(mqtt_entries_next(&it, &e));
}

Test(subscribe, filter_syntax_left_to_the_topic_module)
{
	struct mqtt_frame f = PKT(0x82, 0, 5, 0, 5, 'a', '/', '#', '/', 'b', 0, 0, 2, 'x', '+', 1);
	struct mqtt_subscribe s;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_subscribe(&f, MQTT_V311, &s, &reason), FM_OK);
	cr_assert_eq(s.count, 2);
}

Test(subscribe, no_entries_is_malformed_MQTT_3_8_3_3_and_a_protocol_error_in_5_MQTT_3_8_3_2)
{
	SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 5);
	SUBSCRIBE_FAILS_WITH(MQTT_V5, PROTO_ERR, 0, 5, 0);
}

Test(subscribe, requested_qos_3_is_malformed_MQTT_3_8_3_4)
{
	SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 5, 0, 1, 'a', 3);
	SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 5, 0, 1, 'a', 0, 0, 1, 'b', 3);
}

Test(subscribe, reserved_option_bits_are_malformed_MQTT_3_8_3_4)
{
	for (unsigned bit = 2; bit < 8; bit++)
		SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 5, 0, 1, 'a', (uint8_t)(1u << bit));
}

Test(subscribe, v5_options_and_reserved_bits_MQTT_3_8_3_5)
{
	struct mqtt_frame f = PKT(0x82, 0, 5, 0, 0, 1, 'a', 0x2E); /* rh 2, rap, nl, QoS 2 */
	struct mqtt_subscribe s;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_subscribe(&f, MQTT_V5, &s, &reason), FM_OK);
	SUBSCRIBE_FAILS_WITH(MQTT_V5, MALFORMED, 0, 5, 0, 0, 1, 'a', 0x40);
	SUBSCRIBE_FAILS_WITH(MQTT_V5, MALFORMED, 0, 5, 0, 0, 1, 'a', 0x80);
	SUBSCRIBE_FAILS_WITH(MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0, 5, 0, 0, 1, 'a', 0x30); /* retain handling 3 */
	SUBSCRIBE_FAILS_WITH(MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0, 5, 0, 0, 1, 'a', 0x03); /* QoS 3 */
}

Test(subscribe, empty_filter_is_malformed_MQTT_4_7_3_1)
{
	SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 5, 0, 0, 1);
}

Test(subscribe, filter_utf8_checked_MQTT_1_5_3_1)
{
	SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 5, 0, 2, 0xC1, 0x81, 0);
}

Test(subscribe, packet_id_0_is_malformed_MQTT_2_3_1_1)
{
	SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 0, 0, 1, 'a', 0);
}

Test(subscribe, missing_options_byte_is_malformed)
{
	SUBSCRIBE_FAILS_WITH(MQTT_V311, MALFORMED, 0, 5, 0, 1, 'a');
}

Test(subscribe, v5_subscription_identifier_rules_MQTT_3_8_2_1_2)
{
	struct mqtt_frame f = PKT(0x82, 0, 5, 3, 0x0B, 0x80, 0x01, 0, 1, 'a', 0);
	struct mqtt_subscribe s;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_subscribe(&f, MQTT_V5, &s, &reason), FM_OK);
	cr_assert(s.props.len == 3 && s.count == 1);
	SUBSCRIBE_FAILS_WITH(MQTT_V5, PROTO_ERR, 0, 5, 2, 0x0B, 0x00, 0, 1, 'a', 0);         /* id 0 */
	SUBSCRIBE_FAILS_WITH(MQTT_V5, PROTO_ERR, 0, 5, 4, 0x0B, 1, 0x0B, 2, 0, 1, 'a', 0); /* twice */
	SUBSCRIBE_FAILS_WITH(MQTT_V5, MALFORMED, 0, 5, 3, 0x23, 0, 1, 0, 1, 'a', 0);       /* alias */
}

Test(unsubscribe, entries_without_options)
{
	struct mqtt_frame f = PKT(0xA2, 0, 6, 0, 1, 'a', 0, 1, 'b');
	struct mqtt_subscribe s;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_unsubscribe(&f, MQTT_V311, &s, &reason), FM_OK);
	cr_assert(s.packet_id == 6 && s.count == 2);
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	mqtt_entries_begin(&s, false, &it);
	cr_assert(mqtt_entries_next(&it, &e) && e.filter.p[0] == 'a' && e.options == 0);
	cr_assert(mqtt_entries_next(&it, &e) && e.filter.p[0] == 'b');
	cr_assert_not(mqtt_entries_next(&it, &e));
}

Test(unsubscribe, no_entries_is_malformed_MQTT_3_10_3_2)
{
	struct mqtt_frame f = PKT(0xA2, 0, 6);
	struct mqtt_subscribe s;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_unsubscribe(&f, MQTT_V311, &s, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
}

Test(unsubscribe, v5_only_user_properties)
{
	struct mqtt_frame ok = PKT(0xA2, 0, 6, 7, 0x26, 0, 1, 'k', 0, 1, 'v', 0, 1, 'a');
	struct mqtt_frame bad = PKT(0xA2, 0, 6, 2, 0x0B, 1, 0, 1, 'a');
	struct mqtt_subscribe s;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_unsubscribe(&ok, MQTT_V5, &s, &reason), FM_OK);
	cr_assert_eq(mqtt_decode_unsubscribe(&bad, MQTT_V5, &s, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
}

/* --- PINGREQ, PINGRESP, DISCONNECT --------------------------------------------------------------- */

Test(empty, pingreq_pingresp_must_be_empty_MQTT_3_12_1_MQTT_3_13_1)
{
	struct mqtt_frame ok = PKT(0xC0), req = PKT(0xC0, 0), resp = PKT(0xD0, 0);
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_empty(&ok, &reason), FM_OK);
	cr_assert_eq(mqtt_decode_empty(&req, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
	cr_assert_eq(mqtt_decode_empty(&resp, &reason), FM_EPROTO);
}

Test(disconnect, v3_1_1_must_be_empty_MQTT_3_14_1)
{
	struct mqtt_frame ok = PKT(0xE0), bad = PKT(0xE0, 0);
	struct mqtt_disconnect d;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_disconnect(&ok, MQTT_V311, &d, &reason), FM_OK);
	cr_assert_eq(mqtt_decode_disconnect(&bad, MQTT_V311, &d, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
}

Test(disconnect, v5_reason_and_properties_MQTT_3_14_2_1)
{
	struct mqtt_disconnect d;
	uint8_t reason = 0;
	struct mqtt_frame empty = PKT(0xE0), only = PKT(0xE0, 0x04);
	struct mqtt_frame props = PKT(0xE0, 0x8B, 5, 0x11, 0, 0, 0, 0);
	struct mqtt_frame alias = PKT(0xE0, 0x00, 3, 0x23, 0, 1);
	cr_assert_eq(mqtt_decode_disconnect(&empty, MQTT_V5, &d, &reason), FM_OK);
	cr_assert_eq(d.reason, 0);
	cr_assert_eq(mqtt_decode_disconnect(&only, MQTT_V5, &d, &reason), FM_OK);
	cr_assert_eq(d.reason, MQTT_RC_DISCONNECT_WITH_WILL);
	cr_assert_eq(mqtt_decode_disconnect(&props, MQTT_V5, &d, &reason), FM_OK);
	cr_assert(d.reason == MQTT_RC_SERVER_SHUTTING_DOWN && d.props.len == 5);
	cr_assert_eq(mqtt_decode_disconnect(&alias, MQTT_V5, &d, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
}

/* --- client side: CONNACK, SUBACK, UNSUBACK -------------------------------------------------------- */

Test(connack, fields_and_reserved_flags_MQTT_3_2_2_1)
{
	struct mqtt_frame ok = PKT(0x20, 1, 0), bad = PKT(0x20, 2, 0);
	struct mqtt_connack c;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_connack(&ok, MQTT_V311, &c, &reason), FM_OK);
	cr_assert(c.session_present && c.reason == 0);
	cr_assert_eq(mqtt_decode_connack(&bad, MQTT_V311, &c, &reason), FM_EPROTO);
	cr_assert_eq(reason, MALFORMED);
}

Test(connack, v5_connack_properties)
{
	struct mqtt_frame ok = PKT(0x20, 0, 0, 8, 0x12, 0, 1, 'c', 0x24, 1, 0x25, 0);
	struct mqtt_frame bad = PKT(0x20, 0, 0, 2, 0x24, 2); /* maximum QoS 2 */
	struct mqtt_connack c;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_connack(&ok, MQTT_V5, &c, &reason), FM_OK);
	cr_assert_eq(c.props.len, 8);
	cr_assert_eq(mqtt_decode_connack(&bad, MQTT_V5, &c, &reason), FM_EPROTO);
	cr_assert_eq(reason, PROTO_ERR);
}

Test(suback, codes_and_their_absence)
{
	struct mqtt_frame sub = PKT(0x90, 0, 5, 0x01, 0x80), nosub = PKT(0x90, 0, 5);
	struct mqtt_frame unsub = PKT(0xB0, 0, 5), unsub_extra = PKT(0xB0, 0, 5, 0);
	struct mqtt_suback s;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_decode_suback(&sub, MQTT_V311, &s, &reason), FM_OK);
	cr_assert(s.packet_id == 5 && s.codes.len == 2 && s.codes.p[1] == 0x80);
	cr_assert_eq(mqtt_decode_suback(&nosub, MQTT_V311, &s, &reason), FM_EPROTO, "one code per filter");
	cr_assert_eq(mqtt_decode_suback(&unsub, MQTT_V311, &s, &reason), FM_OK);
	cr_assert_eq(s.codes.len, 0);
	cr_assert_eq(mqtt_decode_suback(&unsub_extra, MQTT_V311, &s, &reason), FM_EPROTO,
		     "3.1.1 UNSUBACK is only a packet id");
	struct mqtt_frame unsub5 = PKT(0xB0, 0, 5, 0, 0x11);
	cr_assert_eq(mqtt_decode_suback(&unsub5, MQTT_V5, &s, &reason), FM_OK);
	cr_assert(s.codes.len == 1 && s.codes.p[0] == MQTT_RC_NO_SUBSCRIPTION_EXISTED);
}
