/* Encoders (encode.c): exact bytes where the spec fixes them, and a round
 * trip encode -> mqtt_frame_parse -> decode for every packet type in 3.1.1
 * and 5.0 (CONNECT also in 3.1). */
#include "codec_util.h"

#include "core/buf.h"

#include <string.h>

static const uint8_t user_prop[] = {0x26, 0, 1, 'k', 0, 1, 'v'};
#define USER_PROPS ((struct mqtt_bin){user_prop, sizeof(user_prop)})

/* Frame the single packet b holds; the frame points into b. */
static struct mqtt_frame framed(const struct buf *b)
{
	return frame_of(buf_head(b), buf_used(b));
}

static bool str_eq(struct mqtt_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static bool bin_eq(struct mqtt_bin a, struct mqtt_bin b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* --- exact bytes -------------------------------------------------------------------- */

Test(encode, empty_packets_are_two_bytes_MQTT_3_12_1_MQTT_3_13_1_MQTT_3_14_1)
{
	struct buf b;
	buf_init(&b);
	cr_assert_eq(mqtt_encode_empty(&b, MQTT_PINGREQ), FM_OK);
	cr_assert_eq(mqtt_encode_empty(&b, MQTT_PINGRESP), FM_OK);
	cr_assert_eq(mqtt_encode_disconnect(&b, MQTT_V311, &(struct mqtt_disconnect){.reason = 0x80}), FM_OK);
	ASSERT_BYTES(&b, 0xC0, 0, 0xD0, 0, 0xE0, 0);
	buf_fini(&b);
}

Test(encode, v5_disconnect_omits_success_reason_and_empty_properties_MQTT_3_14_2_1)
{
	struct buf b;
	buf_init(&b);
	cr_assert_eq(mqtt_encode_disconnect(&b, MQTT_V5, &(struct mqtt_disconnect){0}), FM_OK);
	ASSERT_BYTES(&b, 0xE0, 0);
	buf_fini(&b);
	buf_init(&b);
	mqtt_encode_disconnect(&b, MQTT_V5, &(struct mqtt_disconnect){.reason = MQTT_RC_SESSION_TAKEN_OVER});
	ASSERT_BYTES(&b, 0xE0, 1, 0x8E);
	buf_fini(&b);
	buf_init(&b);
	mqtt_encode_disconnect(&b, MQTT_V5, &(struct mqtt_disconnect){.props = USER_PROPS});
	ASSERT_BYTES(&b, 0xE0, 9, 0x00, 7, 0x26, 0, 1, 'k', 0, 1, 'v');
	buf_fini(&b);
}

Test(encode, acks_3_1_1_and_5_0_MQTT_3_4_2_1)
{
	struct buf b;
	buf_init(&b);
	mqtt_encode_ack(&b, MQTT_V311, &(struct mqtt_ack){.type = MQTT_PUBREL, .packet_id = 0x0102});
	ASSERT_BYTES(&b, 0x62, 2, 0x01, 0x02);
	buf_fini(&b);
	buf_init(&b);
	mqtt_encode_ack(&b, MQTT_V5, &(struct mqtt_ack){.type = MQTT_PUBACK, .packet_id = 1});
	ASSERT_BYTES(&b, 0x40, 2, 0, 1);
	buf_fini(&b);
	buf_init(&b);
	mqtt_encode_ack(&b, MQTT_V5, &(struct mqtt_ack){.type = MQTT_PUBREC, .packet_id = 1, .reason = 0x10});
	ASSERT_BYTES(&b, 0x50, 3, 0, 1, 0x10);
	buf_fini(&b);
}

Test(encode, connack_3_1_1_and_5_0_property_length_always_written)
{
	struct buf b;
	buf_init(&b);
	mqtt_encode_connack(&b, MQTT_V311, &(struct mqtt_connack){.session_present = true});
	ASSERT_BYTES(&b, 0x20, 2, 1, 0);
	buf_fini(&b);
	buf_init(&b);
	mqtt_encode_connack(&b, MQTT_V5, &(struct mqtt_connack){.reason = MQTT_RC_NOT_AUTHORIZED});
	ASSERT_BYTES(&b, 0x20, 3, 0, 0x87, 0);
	buf_fini(&b);
}

Test(encode, subscribe_flags_0010_and_v5_property_length_MQTT_3_8_1_1)
{
	struct mqtt_sub_entry e = {{"a", 1}, 1};
	struct buf b;
	buf_init(&b);
	mqtt_encode_subscribe(&b, MQTT_V311, 7, &e, 1);
	ASSERT_BYTES(&b, 0x82, 6, 0, 7, 0, 1, 'a', 1);
	buf_fini(&b);
	buf_init(&b);
	mqtt_encode_unsubscribe(&b, MQTT_V5, 7, &e, 1);
	ASSERT_BYTES(&b, 0xA2, 6, 0, 7, 0, 0, 1, 'a');
	buf_fini(&b);
}

Test(encode, connect_3_1_uses_mqisdp)
{
	struct buf b;
	buf_init(&b);
	mqtt_encode_connect(&b, &(struct mqtt_connect){.version = MQTT_V31, .client_id = {"c", 1}});
	ASSERT_BYTES(&b, 0x10, 15, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0, 0, 0, 0, 1, 'c');
	buf_fini(&b);
}

/* --- round trips ------------------------------------------------------------------------ */

static const uint8_t versions[] = {MQTT_V311, MQTT_V5};

Test(round_trip, connect_every_version_with_will_and_credentials)
{
	static const uint8_t all[] = {MQTT_V31, MQTT_V311, MQTT_V5};
	for (size_t i = 0; i < sizeof(all); i++) {
		uint8_t v = all[i];
		bool v5 = v == MQTT_V5;
		struct mqtt_connect in = {
			.version = v, .clean_start = true, .keepalive_s = 300, .client_id = {"dev", 3},
			.will_flag = true, .will_qos = 2, .will_retain = true, .will_topic = {"w/t", 3},
			.will_payload = {(const uint8_t *)"gone", 4}, .has_username = true,
			.username = {"user", 4}, .has_password = true,
			.password = {(const uint8_t *)"\0pw", 3},
			.props = v5 ? USER_PROPS : (struct mqtt_bin){0},
			.will_props = v5 ? USER_PROPS : (struct mqtt_bin){0}};
		struct buf b;
		buf_init(&b);
		cr_assert_eq(mqtt_encode_connect(&b, &in), FM_OK);
		struct mqtt_frame f = framed(&b);
		struct mqtt_connect out;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_connect(&f, &out, &reason), FM_OK, "version %u", v);
		cr_assert_eq(out.version, v);
		cr_assert(out.clean_start && out.keepalive_s == 300 && str_eq(out.client_id, "dev"));
		cr_assert(out.will_flag && out.will_qos == 2 && out.will_retain);
		cr_assert(str_eq(out.will_topic, "w/t") && bin_eq(out.will_payload, in.will_payload));
		cr_assert(out.has_username && str_eq(out.username, "user"));
		cr_assert(out.has_password && bin_eq(out.password, in.password));
		cr_assert(bin_eq(out.props, in.props) && bin_eq(out.will_props, in.will_props));
		buf_fini(&b);
	}
}

Test(round_trip, connack)
{
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t v = versions[i];
		struct mqtt_connack in = {.session_present = true, .reason = v == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : MQTT_CONNACK_NOT_AUTHORIZED,
					  .props = v == MQTT_V5 ? USER_PROPS : (struct mqtt_bin){0}};
		struct buf b;
		buf_init(&b);
		cr_assert_eq(mqtt_encode_connack(&b, v, &in), FM_OK);
		struct mqtt_frame f = framed(&b);
		struct mqtt_connack out;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_connack(&f, v, &out, &reason), FM_OK);
		cr_assert(out.session_present && out.reason == in.reason && bin_eq(out.props, in.props));
		buf_fini(&b);
	}
}

Test(round_trip, publish_every_qos_and_flag_and_size_matches)
{
	static uint8_t big[20000]; /* 3-byte remaining length */
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t v = versions[i];
		for (uint8_t qos = 0; qos <= 2; qos++) {
			for (unsigned fl = 0; fl < 4; fl++) {
				struct mqtt_publish in = {
					.qos = qos, .dup = qos && (fl & 1), .retain = fl & 2,
					.topic = {"a/b/c", 5}, .packet_id = qos ? 0xBEEF : 0,
					.props = v == MQTT_V5 ? USER_PROPS : (struct mqtt_bin){0},
					.payload = {big, fl == 3 ? sizeof(big) : fl}};
				struct buf b;
				buf_init(&b);
				cr_assert_eq(mqtt_encode_publish(&b, v, &in), FM_OK);
				cr_assert_eq(mqtt_publish_size(v, &in), buf_used(&b));
				struct mqtt_frame f = framed(&b);
				struct mqtt_publish out;
				uint8_t reason;
				cr_assert_eq(mqtt_decode_publish(&f, v, &out, &reason), FM_OK);
				cr_assert(out.qos == qos && out.dup == in.dup && out.retain == in.retain);
				cr_assert(str_eq(out.topic, "a/b/c") && out.packet_id == in.packet_id);
				cr_assert(bin_eq(out.props, in.props) && bin_eq(out.payload, in.payload));
				buf_fini(&b);
			}
		}
	}
}

Test(round_trip, acks_of_every_type)
{
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t v = versions[i];
		for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
			struct mqtt_ack in = {.type = t, .packet_id = 42,
					      .reason = v == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : 0,
					      .props = v == MQTT_V5 ? USER_PROPS : (struct mqtt_bin){0}};
			struct buf b;
			buf_init(&b);
			cr_assert_eq(mqtt_encode_ack(&b, v, &in), FM_OK);
			struct mqtt_frame f = framed(&b);
			cr_assert_eq(f.type, t);
			struct mqtt_ack out;
			uint8_t reason;
			cr_assert_eq(mqtt_decode_ack(&f, v, &out, &reason), FM_OK);
			cr_assert(out.type == t && out.packet_id == 42 && out.reason == in.reason);
			cr_assert(bin_eq(out.props, in.props));
			buf_fini(&b);
		}
	}
}

Test(round_trip, subscribe_and_unsubscribe)
{
	const struct mqtt_sub_entry in[] = {{{"a/+", 3}, 1}, {{"#", 1}, 2}, {{"x/y", 3}, 0}};
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t v = versions[i];
		for (int unsub = 0; unsub <= 1; unsub++) {
			struct buf b;
			buf_init(&b);
			int rc = unsub ? mqtt_encode_unsubscribe(&b, v, 77, in, 3)
				       : mqtt_encode_subscribe(&b, v, 77, in, 3);
			cr_assert_eq(rc, FM_OK);
			struct mqtt_frame f = framed(&b);
			struct mqtt_subscribe s;
			uint8_t reason;
			rc = unsub ? mqtt_decode_unsubscribe(&f, v, &s, &reason)
				   : mqtt_decode_subscribe(&f, v, &s, &reason);
			cr_assert_eq(rc, FM_OK);
			cr_assert(s.packet_id == 77 && s.count == 3);
			struct mqtt_entry_iter it;
			struct mqtt_sub_entry e;
			mqtt_entries_begin(&s, !unsub, &it);
			for (size_t k = 0; k < 3; k++) {
				cr_assert(mqtt_entries_next(&it, &e));
				cr_assert(e.filter.len == in[k].filter.len &&
					  memcmp(e.filter.p, in[k].filter.p, e.filter.len) == 0);
				cr_assert_eq(e.options, unsub ? 0 : in[k].options);
			}
			cr_assert_not(mqtt_entries_next(&it, &e));
			buf_fini(&b);
		}
	}
}

Test(round_trip, suback_and_unsuback)
{
	static const uint8_t codes[] = {0x01, MQTT_SUBACK_FAILURE, 0x02};
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t v = versions[i];
		bool v5 = v == MQTT_V5;
		for (uint8_t t = MQTT_SUBACK; t <= MQTT_UNSUBACK; t += 2) {
			struct mqtt_suback in = {.packet_id = 9, .props = v5 ? USER_PROPS : (struct mqtt_bin){0}};
			if (t == MQTT_SUBACK || v5)
				in.codes = (struct mqtt_bin){codes, sizeof(codes)};
			struct buf b;
			buf_init(&b);
			cr_assert_eq(mqtt_encode_suback(&b, v, t, &in), FM_OK);
			struct mqtt_frame f = framed(&b);
			cr_assert_eq(f.type, t);
			struct mqtt_suback out;
			uint8_t reason;
			cr_assert_eq(mqtt_decode_suback(&f, v, &out, &reason), FM_OK);
			cr_assert(out.packet_id == 9 && bin_eq(out.codes, in.codes) && bin_eq(out.props, in.props));
			buf_fini(&b);
		}
	}
}

Test(round_trip, pingreq_pingresp_disconnect)
{
	for (uint8_t t = MQTT_PINGREQ; t <= MQTT_DISCONNECT; t++) {
		struct buf b;
		buf_init(&b);
		cr_assert_eq(mqtt_encode_empty(&b, t), FM_OK);
		struct mqtt_frame f = framed(&b);
		uint8_t reason;
		cr_assert_eq(f.type, t);
		cr_assert_eq(mqtt_decode_empty(&f, &reason), FM_OK);
		buf_fini(&b);
	}
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t v = versions[i];
		bool v5 = v == MQTT_V5;
		struct mqtt_disconnect in = {.reason = v5 ? MQTT_RC_DISCONNECT_WITH_WILL : 0,
					     .props = v5 ? USER_PROPS : (struct mqtt_bin){0}};
		struct buf b;
		buf_init(&b);
		cr_assert_eq(mqtt_encode_disconnect(&b, v, &in), FM_OK);
		struct mqtt_frame f = framed(&b);
		struct mqtt_disconnect out;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_disconnect(&f, v, &out, &reason), FM_OK);
		cr_assert(out.reason == in.reason && bin_eq(out.props, in.props));
		buf_fini(&b);
	}
}

Test(round_trip, many_packets_appended_to_one_buffer)
{
	struct buf b;
	buf_init(&b);
	for (uint16_t id = 1; id <= 100; id++)
		cr_assert_eq(mqtt_encode_ack(&b, MQTT_V311, &(struct mqtt_ack){.type = MQTT_PUBACK, .packet_id = id}),
			     FM_OK);
	cr_assert_eq(buf_used(&b), 400);
	const uint8_t *p = buf_head(&b);
	for (uint16_t id = 1; id <= 100; id++, p += 4) {
		struct mqtt_frame f = frame_of(p, 4);
		struct mqtt_ack a;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_ack(&f, MQTT_V311, &a, &reason), FM_OK);
		cr_assert_eq(a.packet_id, id);
	}
	buf_fini(&b);
}
