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

/* ===========================================================================
 * Exact bytes against the layouts of the specifications, size accounting,
 * and full round trips of every field.
 * ======================================================================== */

#include <stdlib.h>

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static void assert_bytes(struct buf *b, const uint8_t *want, size_t n)
{
	cr_assert_eq(buf_used(b), n, "wrote %zu bytes, want %zu", buf_used(b), n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(buf_head(b)[i], want[i], "byte %zu: %#04x, want %#04x", i, buf_head(b)[i], want[i]);
	buf_consume(b, buf_used(b));
}

/* 3.1.1 section 3.1.2.10: the example variable header, 00 04 MQTT 04 CE 00 0A,
 * with will (QoS 1), user name and password; then the payload in order
 * client id, will topic, will message, user name, password (3.1.3). */
Test(exact, connect_3_1_1_spec_example)
{
	struct buf b;
	buf_init(&b);
	struct mqtt_connect c = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 10,
				 .will_flag = true, .will_qos = 1, .client_id = {"c", 1},
				 .will_topic = {"w", 1}, .will_payload = {(const uint8_t *)"m", 1},
				 .has_username = true, .username = {"u", 1},
				 .has_password = true, .password = {(const uint8_t *)"p", 1}};
	cr_assert_eq(mqtt_encode_connect(&b, &c), FM_OK);
	assert_bytes(&b, BYTES(0x10, 25, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xCE, 0x00, 0x0A,
			       0, 1, 'c', 0, 1, 'w', 0, 1, 'm', 0, 1, 'u', 0, 1, 'p'));
	buf_fini(&b);
}

Test(exact, connect_minimal_3_1_3_1_1_and_5_0)
{
	struct buf b;
	buf_init(&b);
	struct mqtt_connect c = {.version = MQTT_V31, .clean_start = true, .keepalive_s = 0x1234,
				 .client_id = {"id", 2}};
	cr_assert_eq(mqtt_encode_connect(&b, &c), FM_OK);
	assert_bytes(&b, BYTES(0x10, 16, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0x12, 0x34, 0, 2, 'i', 'd'));
	c.version = MQTT_V311;
	c.clean_start = false;
	c.client_id = (struct mqtt_str){"", 0};
	cr_assert_eq(mqtt_encode_connect(&b, &c), FM_OK);
	assert_bytes(&b, BYTES(0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0x12, 0x34, 0, 0));
	c.version = MQTT_V5;
	static const uint8_t props[] = {0x11, 0, 0, 0, 60};
	c.props = (struct mqtt_bin){props, sizeof(props)};
	cr_assert_eq(mqtt_encode_connect(&b, &c), FM_OK);
	assert_bytes(&b, BYTES(0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x00, 0x12, 0x34,
			       5, 0x11, 0, 0, 0, 60, 0, 0));
	buf_fini(&b);
}

/* 5.0 section 3.1.3: will properties come before the will topic. */
Test(exact, connect_5_0_with_will_properties)
{
	struct buf b;
	buf_init(&b);
	static const uint8_t wprops[] = {0x01, 1};
	struct mqtt_connect c = {.version = MQTT_V5, .will_flag = true, .will_qos = 2, .will_retain = true,
				 .client_id = {"c", 1}, .will_props = {wprops, 2}, .will_topic = {"t", 1},
				 .will_payload = {(const uint8_t *)"xy", 2}, .has_password = true,
				 .password = {(const uint8_t *)"\0", 1}};
	cr_assert_eq(mqtt_encode_connect(&b, &c), FM_OK);
	assert_bytes(&b, BYTES(0x10, 27, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x74, 0, 0,
			       0, 0, 1, 'c', 2, 0x01, 1, 0, 1, 't', 0, 2, 'x', 'y', 0, 1, 0));
	buf_fini(&b);
}

Test(exact, connack_3_1_1_and_5_0)
{
	struct buf b;
	buf_init(&b);
	cr_assert_eq(mqtt_encode_connack(&b, MQTT_V311, &(struct mqtt_connack){.reason = MQTT_CONNACK_BAD_PROTOCOL}), FM_OK);
	assert_bytes(&b, BYTES(0x20, 2, 0, 1));
	cr_assert_eq(mqtt_encode_connack(&b, MQTT_V5, &(struct mqtt_connack){.session_present = true}), FM_OK);
	assert_bytes(&b, BYTES(0x20, 3, 1, 0, 0));
	static const uint8_t props[] = {0x24, 1, 0x21, 0, 20};
	cr_assert_eq(mqtt_encode_connack(&b, MQTT_V5, &(struct mqtt_connack){.reason = 0x84, .props = {props, 5}}), FM_OK);
	assert_bytes(&b, BYTES(0x20, 8, 0, 0x84, 5, 0x24, 1, 0x21, 0, 20));
	buf_fini(&b);
}

Test(exact, publish_header_flags_and_v5_properties)
{
	struct buf b;
	buf_init(&b);
	/* QoS 0: no packet id [MQTT-2.3.1-5] */
	struct mqtt_publish p = {.topic = {"a", 1}, .payload = {(const uint8_t *)"z", 1}};
	cr_assert_eq(mqtt_encode_publish(&b, MQTT_V311, &p), FM_OK);
	assert_bytes(&b, BYTES(0x30, 4, 0, 1, 'a', 'z'));
	/* QoS 2, DUP, retain */
	p = (struct mqtt_publish){.qos = 2, .dup = true, .retain = true, .topic = {"a", 1}, .packet_id = 0xBEEF};
	cr_assert_eq(mqtt_encode_publish(&b, MQTT_V311, &p), FM_OK);
	assert_bytes(&b, BYTES(0x3D, 5, 0, 1, 'a', 0xBE, 0xEF));
	/* 5.0: properties after the packet id, before the payload */
	static const uint8_t props[] = {0x23, 0, 7};
	p = (struct mqtt_publish){.qos = 1, .topic = {"", 0}, .packet_id = 1, .props = {props, 3},
				  .payload = {(const uint8_t *)"P", 1}};
	cr_assert_eq(mqtt_encode_publish(&b, MQTT_V5, &p), FM_OK);
	assert_bytes(&b, BYTES(0x32, 9, 0, 0, 0, 1, 3, 0x23, 0, 7, 'P'));
	/* 5.0 with no properties: a zero property length */
	p = (struct mqtt_publish){.topic = {"a", 1}};
	cr_assert_eq(mqtt_encode_publish(&b, MQTT_V5, &p), FM_OK);
	assert_bytes(&b, BYTES(0x30, 4, 0, 1, 'a', 0));
	buf_fini(&b);
}

Test(exact, acks_3_1_1)
{
	struct buf b;
	buf_init(&b);
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
		/* the reason is ignored for 3.1.1 */
		cr_assert_eq(mqtt_encode_ack(&b, MQTT_V311, &(struct mqtt_ack){.type = t, .packet_id = 0x0A0B, .reason = 0x80}), FM_OK);
		uint8_t want[] = {(uint8_t)(t << 4 | (t == MQTT_PUBREL ? 2 : 0)), 2, 0x0A, 0x0B};
		assert_bytes(&b, want, sizeof(want));
	}
	buf_fini(&b);
}

/* 5.0 section 3.4.2.1: reason 0 with no properties may be omitted (2 bytes),
 * a reason with no properties is 3 bytes. */
Test(exact, acks_5_0_short_forms_MQTT_3_4_2_1)
{
	struct buf b;
	buf_init(&b);
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
		uint8_t hdr = (uint8_t)(t << 4 | (t == MQTT_PUBREL ? 2 : 0));
		cr_assert_eq(mqtt_encode_ack(&b, MQTT_V5, &(struct mqtt_ack){.type = t, .packet_id = 5}), FM_OK);
		uint8_t w2[] = {hdr, 2, 0, 5};
		assert_bytes(&b, w2, sizeof(w2));
		cr_assert_eq(mqtt_encode_ack(&b, MQTT_V5, &(struct mqtt_ack){.type = t, .packet_id = 5, .reason = 0x92}), FM_OK);
		uint8_t w3[] = {hdr, 3, 0, 5, 0x92};
		assert_bytes(&b, w3, sizeof(w3));
		static const uint8_t props[] = {0x1F, 0, 1, 'r'};
		cr_assert_eq(mqtt_encode_ack(&b, MQTT_V5, &(struct mqtt_ack){.type = t, .packet_id = 5, .props = {props, 4}}), FM_OK);
		uint8_t w4[] = {hdr, 8, 0, 5, 0x00, 4, 0x1F, 0, 1, 'r'};
		assert_bytes(&b, w4, sizeof(w4));
	}
	buf_fini(&b);
}

/* 3.1.1 section 3.8: the SUBSCRIBE example, packet id 10, "a/b" QoS 1, "c/d" QoS 2. */
Test(exact, subscribe_suback_unsubscribe_unsuback_spec_examples)
{
	struct buf b;
	buf_init(&b);
	struct mqtt_sub_entry e[] = {{.filter = {"a/b", 3}, .options = 1}, {.filter = {"c/d", 3}, .options = 2}};
	cr_assert_eq(mqtt_encode_subscribe(&b, MQTT_V311, 10, e, 2), FM_OK);
	assert_bytes(&b, BYTES(0x82, 14, 0, 10, 0, 3, 'a', '/', 'b', 1, 0, 3, 'c', '/', 'd', 2));
	cr_assert_eq(mqtt_encode_subscribe(&b, MQTT_V5, 10, e, 2), FM_OK);
	assert_bytes(&b, BYTES(0x82, 15, 0, 10, 0, 0, 3, 'a', '/', 'b', 1, 0, 3, 'c', '/', 'd', 2));
	/* 3.9.3 example: 0, 1, 2, 0x80 */
	static const uint8_t codes[] = {0, 1, 2, 0x80};
	cr_assert_eq(mqtt_encode_suback(&b, MQTT_V311, MQTT_SUBACK, &(struct mqtt_suback){.packet_id = 10, .codes = {codes, 4}}), FM_OK);
	assert_bytes(&b, BYTES(0x90, 6, 0, 10, 0, 1, 2, 0x80));
	cr_assert_eq(mqtt_encode_suback(&b, MQTT_V5, MQTT_SUBACK, &(struct mqtt_suback){.packet_id = 10, .codes = {codes, 2}}), FM_OK);
	assert_bytes(&b, BYTES(0x90, 5, 0, 10, 0, 0, 1));
	cr_assert_eq(mqtt_encode_unsubscribe(&b, MQTT_V311, 11, e, 2), FM_OK);
	assert_bytes(&b, BYTES(0xA2, 12, 0, 11, 0, 3, 'a', '/', 'b', 0, 3, 'c', '/', 'd'));
	cr_assert_eq(mqtt_encode_unsubscribe(&b, MQTT_V5, 11, e, 1), FM_OK);
	assert_bytes(&b, BYTES(0xA2, 8, 0, 11, 0, 0, 3, 'a', '/', 'b'));
	cr_assert_eq(mqtt_encode_suback(&b, MQTT_V311, MQTT_UNSUBACK, &(struct mqtt_suback){.packet_id = 11}), FM_OK);
	assert_bytes(&b, BYTES(0xB0, 2, 0, 11));
	static const uint8_t ucodes[] = {0x00, 0x11};
	cr_assert_eq(mqtt_encode_suback(&b, MQTT_V5, MQTT_UNSUBACK, &(struct mqtt_suback){.packet_id = 11, .codes = {ucodes, 2}}), FM_OK);
	assert_bytes(&b, BYTES(0xB0, 5, 0, 11, 0, 0x00, 0x11));
	buf_fini(&b);
}

Test(exact, pingreq_pingresp_disconnect)
{
	struct buf b;
	buf_init(&b);
	cr_assert_eq(mqtt_encode_empty(&b, MQTT_PINGREQ), FM_OK);
	assert_bytes(&b, BYTES(0xC0, 0));
	cr_assert_eq(mqtt_encode_empty(&b, MQTT_PINGRESP), FM_OK);
	assert_bytes(&b, BYTES(0xD0, 0));
	cr_assert_eq(mqtt_encode_empty(&b, MQTT_DISCONNECT), FM_OK);
	assert_bytes(&b, BYTES(0xE0, 0));
	cr_assert_eq(mqtt_encode_disconnect(&b, MQTT_V311, &(struct mqtt_disconnect){.reason = 0x8B}), FM_OK);
	assert_bytes(&b, BYTES(0xE0, 0));
	cr_assert_eq(mqtt_encode_disconnect(&b, MQTT_V5, &(struct mqtt_disconnect){0}), FM_OK);
	assert_bytes(&b, BYTES(0xE0, 0));
	cr_assert_eq(mqtt_encode_disconnect(&b, MQTT_V5, &(struct mqtt_disconnect){.reason = 0x8B}), FM_OK);
	assert_bytes(&b, BYTES(0xE0, 1, 0x8B));
	static const uint8_t props[] = {0x11, 0, 0, 0, 0};
	cr_assert_eq(mqtt_encode_disconnect(&b, MQTT_V5, &(struct mqtt_disconnect){.props = {props, 5}}), FM_OK);
	assert_bytes(&b, BYTES(0xE0, 7, 0, 5, 0x11, 0, 0, 0, 0));
	buf_fini(&b);
}

Test(exact, encoders_append_after_existing_bytes)
{
	struct buf b;
	buf_init(&b);
	cr_assert_eq(buf_append(&b, "xyz", 3), FM_OK);
	cr_assert_eq(mqtt_encode_empty(&b, MQTT_PINGREQ), FM_OK);
	cr_assert_eq(mqtt_encode_ack(&b, MQTT_V311, &(struct mqtt_ack){.type = MQTT_PUBACK, .packet_id = 1}), FM_OK);
	assert_bytes(&b, BYTES('x', 'y', 'z', 0xC0, 0, 0x40, 2, 0, 1));
	buf_fini(&b);
}

/* --- mqtt_publish_size ----------------------------------------------------- */

Test(size, publish_size_equals_bytes_written)
{
	static const uint8_t props[] = {0x02, 0, 0, 0, 1, 0x23, 0, 3};
	static const uint32_t payloads[] = {0, 1, 100, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128,
					    16370, 16375, 16380, 16384, 20000, 2097140, 2097152};
	uint8_t *data = calloc(1, 2097152);
	cr_assert_not_null(data);
	for (uint8_t v = MQTT_V31; v <= MQTT_V5; v++)
		for (uint8_t q = 0; q <= 2; q++)
			for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++)
				for (int withprops = 0; withprops <= 1; withprops++) {
					struct mqtt_publish p = {.qos = q, .dup = q > 0, .topic = {"some/topic", 10},
								 .packet_id = q ? 3 : 0,
								 .props = {withprops ? props : NULL, withprops ? 8 : 0},
								 .payload = {data, payloads[i]}};
					struct buf b;
					buf_init(&b);
					cr_assert_eq(mqtt_encode_publish(&b, v, &p), FM_OK);
					cr_assert_eq(mqtt_publish_size(v, &p), buf_used(&b),
						     "v%u qos %u payload %u props %d", v, q, payloads[i], withprops);
					struct mqtt_frame f = frame_buf(&b);
					cr_assert_eq(f.header_len + f.remaining_len, buf_used(&b));
					buf_fini(&b);
				}
	free(data);
}

/* --- round trips with every field compared ------------------------------------- */

static bool str_eq(struct mqtt_str a, struct mqtt_str b)
{
	return a.len == b.len && (a.len == 0 || !memcmp(a.p, b.p, a.len));
}

static bool bin_eq(struct mqtt_bin a, struct mqtt_bin b)
{
	return a.len == b.len && (a.len == 0 || !memcmp(a.p, b.p, a.len));
}

static void connect_round_trip(const struct mqtt_connect *in)
{
	struct buf b;
	buf_init(&b);
	cr_assert_eq(mqtt_encode_connect(&b, in), FM_OK);
	struct mqtt_frame f = frame_buf(&b);
	cr_assert_eq(f.type, MQTT_CONNECT);
	cr_assert_eq(f.flags, 0);
	struct mqtt_connect out;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_connect(&f, &out, &reason), FM_OK, "v%u reason %#x", in->version, reason);
	cr_assert_eq(out.version, in->version);
	cr_assert_eq(out.clean_start, in->clean_start);
	cr_assert_eq(out.will_flag, in->will_flag);
	cr_assert_eq(out.will_qos, in->will_qos);
	cr_assert_eq(out.will_retain, in->will_retain);
	cr_assert_eq(out.has_username, in->has_username);
	cr_assert_eq(out.has_password, in->has_password);
	cr_assert_eq(out.keepalive_s, in->keepalive_s);
	cr_assert(str_eq(out.client_id, in->client_id));
	cr_assert(str_eq(out.will_topic, in->will_topic));
	cr_assert(bin_eq(out.will_payload, in->will_payload));
	cr_assert(str_eq(out.username, in->username));
	cr_assert(bin_eq(out.password, in->password));
	if (in->version == MQTT_V5) {
		cr_assert(bin_eq(out.props, in->props));
		cr_assert(bin_eq(out.will_props, in->will_props));
	} else {
		cr_assert_eq(out.props.len, 0, "3.x has no properties");
		cr_assert_eq(out.will_props.len, 0);
	}
	buf_fini(&b);
}

Test(round_trip, connect_every_field_and_combination)
{
	static const uint8_t props[] = {0x11, 0, 0, 0, 60, 0x26, 0, 1, 'k', 0, 1, 'v', 0x22, 0, 5};
	static const uint8_t wprops[] = {0x18, 0, 0, 0, 9, 0x03, 0, 2, 't', 'x'};
	static uint8_t big_payload[300];
	for (uint8_t v = MQTT_V31; v <= MQTT_V5; v++)
		for (unsigned mask = 0; mask < 32; mask++) {
			bool will = mask & 1, user = mask & 2, pass = mask & 4, clean = mask & 8, retain = mask & 16;
			if (pass && !user && v != MQTT_V5)
				continue; /* [MQTT-3.1.2-22] */
			for (uint8_t wq = 0; wq <= (will ? 2 : 0); wq++) {
				struct mqtt_connect c = {
					.version = v, .clean_start = clean, .keepalive_s = 65535,
					.client_id = {"client-\xC3\xA9", 9},
					.will_flag = will, .will_qos = wq, .will_retain = will && retain,
					.has_username = user, .has_password = pass,
				};
				if (will) {
					c.will_topic = (struct mqtt_str){"will/topic", 10};
					c.will_payload = (struct mqtt_bin){big_payload, sizeof(big_payload)};
					if (v == MQTT_V5)
						c.will_props = (struct mqtt_bin){wprops, sizeof(wprops)};
				}
				if (user)
					c.username = (struct mqtt_str){"user", 4};
				if (pass)
					c.password = (struct mqtt_bin){(const uint8_t *)"\0\xFF", 2};
				if (v == MQTT_V5)
					c.props = (struct mqtt_bin){props, sizeof(props)};
				connect_round_trip(&c);
			}
		}
}

Test(round_trip, connack_with_properties)
{
	static const uint8_t props[] = {0x24, 1, 0x12, 0, 3, 'a', 'b', 'c'};
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++)
		for (int sp = 0; sp <= 1; sp++) {
			struct buf b;
			buf_init(&b);
			struct mqtt_connack in = {.session_present = sp, .reason = sp ? 0 : 0x87, .props = {props, sizeof(props)}};
			cr_assert_eq(mqtt_encode_connack(&b, v, &in), FM_OK);
			struct mqtt_frame f = frame_buf(&b);
			struct mqtt_connack out;
			uint8_t reason;
			cr_assert_eq(mqtt_decode_connack(&f, v, &out, &reason), FM_OK);
			cr_assert_eq(out.session_present, sp);
			cr_assert_eq(out.reason, in.reason);
			cr_assert_eq(out.props.len, v == MQTT_V5 ? sizeof(props) : 0);
			if (v == MQTT_V5)
				cr_assert(bin_eq(out.props, in.props));
			buf_fini(&b);
		}
}

Test(round_trip, publish_every_flag_combination)
{
	static const uint8_t props[] = {0x01, 1, 0x0B, 0x80, 0x01, 0x08, 0, 1, 'r', 0x09, 0, 2, 1, 2};
	static uint8_t big[200];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++)
		for (uint8_t q = 0; q <= 2; q++)
			for (unsigned m = 0; m < 8; m++) {
				bool dup = m & 1, retain = m & 2, with_big = m & 4;
				if (dup && q == 0)
					continue; /* [MQTT-3.3.1-2] */
				struct mqtt_publish in = {.qos = q, .dup = dup, .retain = retain,
							  .topic = {"\xE2\x82\xAC/x", 5}, .packet_id = q ? (uint16_t)(1 + m) : 0,
							  .props = {props, sizeof(props)},
							  .payload = {with_big ? big : NULL, with_big ? sizeof(big) : 0}};
				struct buf b;
				buf_init(&b);
				cr_assert_eq(mqtt_encode_publish(&b, v, &in), FM_OK);
				cr_assert_eq(buf_used(&b), mqtt_publish_size(v, &in));
				struct mqtt_frame f = frame_buf(&b);
				cr_assert_eq(f.type, MQTT_PUBLISH);
				struct mqtt_publish out;
				uint8_t reason;
				cr_assert_eq(mqtt_decode_publish(&f, v, &out, &reason), FM_OK, "reason %#x", reason);
				cr_assert_eq(out.qos, q);
				cr_assert_eq(out.dup, dup);
				cr_assert_eq(out.retain, retain);
				cr_assert(str_eq(out.topic, in.topic));
				cr_assert_eq(out.packet_id, in.packet_id);
				cr_assert(bin_eq(out.payload, in.payload));
				if (v == MQTT_V5)
					cr_assert(bin_eq(out.props, in.props));
				else
					cr_assert_eq(out.props.len, 0);
				buf_fini(&b);
			}
}

Test(round_trip, v5_publish_with_empty_topic_and_alias)
{
	static const uint8_t props[] = {0x23, 0, 1};
	struct mqtt_publish in = {.qos = 1, .topic = {"", 0}, .packet_id = 1, .props = {props, 3}};
	struct buf b;
	buf_init(&b);
	cr_assert_eq(mqtt_encode_publish(&b, MQTT_V5, &in), FM_OK);
	struct mqtt_frame f = frame_buf(&b);
	struct mqtt_publish out;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V5, &out, &reason), FM_OK);
	cr_assert_eq(out.topic.len, 0);
	cr_assert(bin_eq(out.props, in.props));
	cr_assert_eq(out.payload.len, 0);
	buf_fini(&b);
}

Test(round_trip, acks_with_reason_and_properties)
{
	static const uint8_t props[] = {0x1F, 0, 2, 'n', 'o', 0x26, 0, 1, 'a', 0, 0};
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++)
		for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++)
			for (unsigned m = 0; m < 4; m++) {
				uint8_t code = (m & 1) ? 0x80 : 0;
				struct mqtt_bin pr = (m & 2) ? (struct mqtt_bin){props, sizeof(props)} : (struct mqtt_bin){0};
				struct mqtt_ack in = {.type = t, .packet_id = (uint16_t)(0xFFF0 + m), .reason = code, .props = pr};
				struct buf b;
				buf_init(&b);
				cr_assert_eq(mqtt_encode_ack(&b, v, &in), FM_OK);
				struct mqtt_frame f = frame_buf(&b);
				cr_assert_eq(f.type, t);
				cr_assert_eq(f.flags, t == MQTT_PUBREL ? 0x2 : 0, "[MQTT-3.6.1-1]");
				struct mqtt_ack out;
				uint8_t reason;
				cr_assert_eq(mqtt_decode_ack(&f, v, &out, &reason), FM_OK);
				cr_assert_eq(out.type, t);
				cr_assert_eq(out.packet_id, in.packet_id);
				if (v == MQTT_V5) {
					cr_assert_eq(out.reason, code);
					cr_assert(bin_eq(out.props, pr));
					size_t want = 2 + (pr.len ? 1 + 1 + pr.len : code ? 1 : 0);
					cr_assert_eq(f.remaining_len, want);
				} else {
					cr_assert_eq(out.reason, 0);
					cr_assert_eq(f.remaining_len, 2);
				}
				buf_fini(&b);
			}
}

Test(round_trip, subscribe_and_unsubscribe_entries_in_order)
{
	struct mqtt_sub_entry in[] = {
		{.filter = {"a/b/c", 5}, .options = 0},
		{.filter = {"#", 1}, .options = 1},
		{.filter = {"+/+", 3}, .options = 2},
		{.filter = {"\xC3\xA9t\xC3\xA9", 5}, .options = 1},
		{.filter = {"$SYS/#", 6}, .options = 0},
	};
	const uint32_t n = 5;
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		if (v == MQTT_V5)
			in[4].options = 0x2E; /* retain handling 2, RAP, no local, QoS 2 */
		for (int unsub = 0; unsub <= 1; unsub++) {
			struct buf b;
			buf_init(&b);
			int rc = unsub ? mqtt_encode_unsubscribe(&b, v, 77, in, n) : mqtt_encode_subscribe(&b, v, 77, in, n);
			cr_assert_eq(rc, FM_OK);
			struct mqtt_frame f = frame_buf(&b);
			cr_assert_eq(f.type, unsub ? MQTT_UNSUBSCRIBE : MQTT_SUBSCRIBE);
			cr_assert_eq(f.flags, 0x2, "[MQTT-3.8.1-1], [MQTT-3.10.1-1]");
			struct mqtt_subscribe s;
			uint8_t reason;
			rc = unsub ? mqtt_decode_unsubscribe(&f, v, &s, &reason) : mqtt_decode_subscribe(&f, v, &s, &reason);
			cr_assert_eq(rc, FM_OK, "v%u unsub %d reason %#x", v, unsub, reason);
			cr_assert_eq(s.packet_id, 77);
			cr_assert_eq(s.count, n);
			struct mqtt_entry_iter it;
			struct mqtt_sub_entry e;
			mqtt_entries_begin(&s, !unsub, &it);
			for (uint32_t i = 0; i < n; i++) {
				cr_assert(mqtt_entries_next(&it, &e), "entry %u", i);
				cr_assert(str_eq(e.filter, in[i].filter), "entry %u", i);
				cr_assert_eq(e.options, unsub ? 0 : in[i].options, "entry %u", i);
			}
			cr_assert_not(mqtt_entries_next(&it, &e));
			buf_fini(&b);
		}
	}
}

Test(round_trip, suback_and_unsuback_codes)
{
	static const uint8_t codes[] = {0, 1, 2, 0x80, 0x87, 0x8F, 0x97, 0xA1, 0xA2, 0x9E};
	static const uint8_t props[] = {0x1F, 0, 1, 'x'};
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++)
		for (uint8_t type = MQTT_SUBACK; type <= MQTT_UNSUBACK; type += 2) {
			struct mqtt_suback in = {.packet_id = 500, .props = {props, sizeof(props)},
						 .codes = {codes, (v == MQTT_V311 && type == MQTT_UNSUBACK) ? 0 :
							  v == MQTT_V311 ? 4 : sizeof(codes)}};
			struct buf b;
			buf_init(&b);
			cr_assert_eq(mqtt_encode_suback(&b, v, type, &in), FM_OK);
			struct mqtt_frame f = frame_buf(&b);
			cr_assert_eq(f.type, type);
			cr_assert_eq(f.flags, 0);
			struct mqtt_suback out;
			uint8_t reason;
			cr_assert_eq(mqtt_decode_suback(&f, v, &out, &reason), FM_OK);
			cr_assert_eq(out.packet_id, 500);
			cr_assert(bin_eq(out.codes, in.codes));
			cr_assert_eq(out.props.len, v == MQTT_V5 ? sizeof(props) : 0);
			buf_fini(&b);
		}
}

Test(round_trip, pingreq_pingresp_disconnect_both_versions)
{
	static const uint8_t props[] = {0x11, 0, 0, 0, 5, 0x1F, 0, 1, 'z'};
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		struct buf b;
		buf_init(&b);
		uint8_t reason;
		for (uint8_t t = MQTT_PINGREQ; t <= MQTT_PINGRESP; t++) {
			cr_assert_eq(mqtt_encode_empty(&b, t), FM_OK);
			struct mqtt_frame f = frame_buf(&b);
			cr_assert_eq(f.type, t);
			cr_assert_eq(f.remaining_len, 0);
			cr_assert_eq(mqtt_decode_empty(&f, &reason), FM_OK);
			buf_consume(&b, buf_used(&b));
		}
		for (unsigned m = 0; m < 4; m++) {
			struct mqtt_disconnect in = {.reason = (m & 1) ? MQTT_RC_DISCONNECT_WITH_WILL : 0,
						     .props = (m & 2) ? (struct mqtt_bin){props, sizeof(props)} : (struct mqtt_bin){0}};
			cr_assert_eq(mqtt_encode_disconnect(&b, v, &in), FM_OK);
			struct mqtt_frame f = frame_buf(&b);
			cr_assert_eq(f.type, MQTT_DISCONNECT);
			struct mqtt_disconnect out;
			cr_assert_eq(mqtt_decode_disconnect(&f, v, &out, &reason), FM_OK);
			if (v == MQTT_V5) {
				cr_assert_eq(out.reason, in.reason);
				cr_assert(bin_eq(out.props, in.props));
			} else {
				cr_assert_eq(f.remaining_len, 0);
			}
			buf_consume(&b, buf_used(&b));
		}
		buf_fini(&b);
	}
}
