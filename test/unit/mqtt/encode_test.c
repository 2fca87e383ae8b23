/* Encoders: exact bytes for a few packets, and encode -> frame -> decode
 * round trips for every packet type in 3.1.1 and 5.0. */
#include "codec_util.h"

#include "core/buf.h"

#include <string.h>

static struct mqtt_frame frame_buf(struct buf *b)
{
	return frame_of(buf_head(b), buf_used(b));
}

Test(encode, exact_bytes_of_small_packets)
{
	struct buf b;
	buf_init(&b);
	mqtt_encode_connack(&b, MQTT_V311, &(struct mqtt_connack){.session_present = true, .reason = 0});
	mqtt_encode_ack(&b, MQTT_V311, &(struct mqtt_ack){.type = MQTT_PUBREL, .packet_id = 0x0102});
	mqtt_encode_empty(&b, MQTT_PINGRESP);
	struct mqtt_publish p = {.qos = 1, .retain = true, .topic = {"a/b", 3}, .packet_id = 10,
				 .payload = {(const uint8_t *)"hi", 2}};
	mqtt_encode_publish(&b, MQTT_V311, &p);
	static const uint8_t want[] = {
		0x20, 0x02, 0x01, 0x00,                   /* CONNACK, session present */
		0x62, 0x02, 0x01, 0x02,                   /* PUBREL flags 0010 [MQTT-3.6.1-1] */
		0xD0, 0x00,                               /* PINGRESP */
		0x33, 0x09, 0, 3, 'a', '/', 'b', 0, 10, 'h', 'i', /* PUBLISH QoS 1 retain */
	};
	cr_assert_eq(buf_used(&b), sizeof(want));
	cr_assert_arr_eq(buf_head(&b), want, sizeof(want));
	cr_assert_eq(mqtt_publish_size(MQTT_V311, &p), 11);
	buf_fini(&b);
}

Test(encode, v5_ack_omits_a_success_reason_and_empty_properties)
{
	struct buf b;
	buf_init(&b);
	mqtt_encode_ack(&b, MQTT_V5, &(struct mqtt_ack){.type = MQTT_PUBACK, .packet_id = 1});
	cr_assert_eq(buf_used(&b), 4);
	mqtt_encode_ack(&b, MQTT_V5, &(struct mqtt_ack){.type = MQTT_PUBACK, .packet_id = 1, .reason = 0x10});
	cr_assert_eq(buf_used(&b), 4 + 5);
	buf_fini(&b);
}

static void round_trip_connect(uint8_t version)
{
	struct buf b;
	buf_init(&b);
	struct mqtt_connect in = {
		.version = version, .clean_start = true, .keepalive_s = 300,
		.client_id = {"dev-1", 5}, .will_flag = true, .will_qos = 2, .will_retain = true,
		.will_topic = {"w/t", 3}, .will_payload = {(const uint8_t *)"gone", 4},
		.has_username = true, .username = {"user", 4},
		.has_password = true, .password = {(const uint8_t *)"pw", 2},
	};
	cr_assert_eq(mqtt_encode_connect(&b, &in), FM_OK);
	struct mqtt_frame f = frame_buf(&b);
	struct mqtt_connect out;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_connect(&f, &out, &reason), FM_OK, "version %u", version);
	cr_assert_eq(out.version, version);
	cr_assert(out.clean_start && out.will_flag && out.will_retain);
	cr_assert_eq(out.will_qos, 2);
	cr_assert_eq(out.keepalive_s, 300);
	cr_assert(out.client_id.len == 5 && !memcmp(out.client_id.p, "dev-1", 5));
	cr_assert(out.will_topic.len == 3 && out.will_payload.len == 4);
	cr_assert(out.username.len == 4 && out.password.len == 2);
	buf_fini(&b);
}

Test(round_trip, connect_3_1_and_3_1_1_and_5_0)
{
	round_trip_connect(MQTT_V31);
	round_trip_connect(MQTT_V311);
	round_trip_connect(MQTT_V5);
}

Test(round_trip, connack)
{
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		struct buf b;
		buf_init(&b);
		mqtt_encode_connack(&b, v, &(struct mqtt_connack){.session_present = true, .reason = 5});
		struct mqtt_frame f = frame_buf(&b);
		struct mqtt_connack a;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_connack(&f, v, &a, &reason), FM_OK);
		cr_assert(a.session_present);
		cr_assert_eq(a.reason, 5);
		buf_fini(&b);
	}
}

Test(round_trip, publish_every_qos_with_flags)
{
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++)
		for (uint8_t q = 0; q <= 2; q++) {
			struct buf b;
			buf_init(&b);
			struct mqtt_publish in = {.qos = q, .dup = q > 0, .retain = true, .topic = {"x/y/z", 5},
						  .packet_id = q ? 65535 : 0, .payload = {(const uint8_t *)"\0\1\2", 3}};
			cr_assert_eq(mqtt_encode_publish(&b, v, &in), FM_OK);
			cr_assert_eq(buf_used(&b), mqtt_publish_size(v, &in));
			struct mqtt_frame f = frame_buf(&b);
			struct mqtt_publish out;
			uint8_t reason;
			cr_assert_eq(mqtt_decode_publish(&f, v, &out, &reason), FM_OK);
			cr_assert_eq(out.qos, q);
			cr_assert_eq(out.dup, q > 0);
			cr_assert(out.retain);
			cr_assert_eq(out.packet_id, in.packet_id);
			cr_assert(out.payload.len == 3 && !memcmp(out.payload.p, "\0\1\2", 3));
			buf_fini(&b);
		}
}

Test(round_trip, acks_of_every_type)
{
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++)
		for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
			struct buf b;
			buf_init(&b);
			uint8_t code = v == MQTT_V5 ? 0x80 : 0;
			mqtt_encode_ack(&b, v, &(struct mqtt_ack){.type = t, .packet_id = 42, .reason = code});
			struct mqtt_frame f = frame_buf(&b);
			cr_assert_eq(f.type, t);
			struct mqtt_ack a;
			uint8_t reason;
			cr_assert_eq(mqtt_decode_ack(&f, v, &a, &reason), FM_OK);
			cr_assert_eq(a.packet_id, 42);
			cr_assert_eq(a.reason, code);
			buf_fini(&b);
		}
}

Test(round_trip, subscribe_suback_unsubscribe_unsuback)
{
	struct mqtt_sub_entry e[] = {{.filter = {"a/+", 3}, .options = 1}, {.filter = {"#", 1}, .options = 2}};
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		struct buf b;
		buf_init(&b);
		uint8_t reason;
		mqtt_encode_subscribe(&b, v, 11, e, 2);
		struct mqtt_frame f = frame_buf(&b);
		struct mqtt_subscribe s;
		cr_assert_eq(mqtt_decode_subscribe(&f, v, &s, &reason), FM_OK);
		cr_assert(s.packet_id == 11 && s.count == 2);
		buf_consume(&b, buf_used(&b));

		static const uint8_t codes[] = {1, 0x80};
		mqtt_encode_suback(&b, v, MQTT_SUBACK, &(struct mqtt_suback){.packet_id = 11, .codes = {codes, 2}});
		f = frame_buf(&b);
		struct mqtt_suback a;
		cr_assert_eq(mqtt_decode_suback(&f, v, &a, &reason), FM_OK);
		cr_assert(a.packet_id == 11 && a.codes.len == 2 && a.codes.p[1] == 0x80);
		buf_consume(&b, buf_used(&b));

		mqtt_encode_unsubscribe(&b, v, 12, e, 2);
		f = frame_buf(&b);
		cr_assert_eq(f.flags, 2, "[MQTT-3.10.1-1]");
		cr_assert_eq(mqtt_decode_unsubscribe(&f, v, &s, &reason), FM_OK);
		cr_assert_eq(s.count, 2);
		buf_consume(&b, buf_used(&b));

		mqtt_encode_suback(&b, v, MQTT_UNSUBACK, &(struct mqtt_suback){.packet_id = 12});
		f = frame_buf(&b);
		cr_assert_eq(f.type, MQTT_UNSUBACK);
		cr_assert_eq(mqtt_decode_suback(&f, v, &a, &reason), FM_OK);
		cr_assert_eq(a.packet_id, 12);
		buf_fini(&b);
	}
}

Test(round_trip, pingreq_pingresp_disconnect)
{
	struct buf b;
	buf_init(&b);
	uint8_t reason;
	static const uint8_t types[] = {MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT};
	for (size_t i = 0; i < 3; i++) {
		mqtt_encode_empty(&b, types[i]);
		struct mqtt_frame f = frame_buf(&b);
		cr_assert_eq(f.type, types[i]);
		cr_assert_eq(mqtt_decode_empty(&f, &reason), FM_OK);
		buf_consume(&b, buf_used(&b));
	}
	mqtt_encode_disconnect(&b, MQTT_V5, &(struct mqtt_disconnect){.reason = MQTT_RC_SERVER_SHUTTING_DOWN});
	struct mqtt_frame f = frame_buf(&b);
	struct mqtt_disconnect d;
	cr_assert_eq(mqtt_decode_disconnect(&f, MQTT_V5, &d, &reason), FM_OK);
	cr_assert_eq(d.reason, MQTT_RC_SERVER_SHUTTING_DOWN);
	buf_fini(&b);
}
