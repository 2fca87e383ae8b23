/* Framing (frame.c): the fixed header, the remaining-length varint, the
 * reserved flag table and resumable framing of a byte stream. The streams
 * are built with the encoders so every packet type of 3.1.1 and 5.0 is
 * framed. */
#include "codec_util.h"

#include "core/buf.h"

#include <string.h>

static int parse(const uint8_t *p, size_t n, uint32_t max, struct mqtt_frame *f, uint8_t *reason)
{
	size_t used = 0;
	return mqtt_frame_parse(p, n, max, f, &used, reason);
}

/* --- remaining length [MQTT-2.2.3] / [MQTT-1.5.5] -------------------------- */

Test(codec_frame, varint_size_at_each_boundary)
{
	static const uint32_t v[] = {0, 127, 128, 16383, 16384, 2097151, 2097152, MQTT_MAX_REMAINING_LENGTH};
	static const unsigned size[] = {1, 1, 2, 2, 3, 3, 4, 4};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cr_assert_eq(mqtt_varint_size(v[i]), size[i], "%u", v[i]);
}

Test(codec_frame, five_byte_remaining_length_is_malformed_MQTT_2_2_3)
{
	const uint8_t p[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
	struct mqtt_frame f;
	uint8_t reason = 0;
	cr_assert_eq(parse(p, sizeof(p), 0, &f, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
	/* decided as soon as the 4th byte says "more": no need to wait for a 5th */
	cr_assert_eq(parse(p, 5, 0, &f, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
}

Test(codec_frame, non_minimal_remaining_length_accepted_MQTT_2_2_3)
{
	/* 0x80 0x00 encodes 0 in two bytes: wasteful, not malformed in 3.1.1 */
	const uint8_t p[] = {0xC0, 0x80, 0x00};
	struct mqtt_frame f;
	uint8_t reason;
	cr_assert_eq(parse(p, sizeof(p), 0, &f, &reason), FM_OK);
	cr_assert_eq(f.remaining_len, 0);
	cr_assert_eq(f.header_len, 3);
}

Test(codec_frame, largest_remaining_length_framed_from_header_alone)
{
	const uint8_t p[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
	struct mqtt_frame f;
	uint8_t reason;
	cr_assert_eq(parse(p, sizeof(p), 0, &f, &reason), FM_EAGAIN, "256 MiB body not there yet");
}

Test(codec_frame, incomplete_header_asks_for_more)
{
	const uint8_t p[] = {0x30, 0x80, 0x80};
	struct mqtt_frame f;
	uint8_t reason;
	for (size_t n = 0; n <= sizeof(p); n++)
		cr_assert_eq(parse(p, n, 0, &f, &reason), FM_EAGAIN, "%zu bytes", n);
}

/* --- maximum packet size ---------------------------------------------------- */

Test(codec_frame, max_packet_exceeded_from_header_alone)
{
	/* PUBLISH announcing 1000 bytes; only the fixed header has arrived */
	const uint8_t p[] = {0x30, 0xE8, 0x07};
	struct mqtt_frame f;
	uint8_t reason = 0;
	cr_assert_eq(parse(p, sizeof(p), 1002, &f, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_PACKET_TOO_LARGE);
	/* the limit counts the whole packet: 1 + 2 + 1000 = 1003 fits exactly */
	cr_assert_eq(parse(p, sizeof(p), 1003, &f, &reason), FM_EAGAIN);
	cr_assert_eq(parse(p, sizeof(p), 0, &f, &reason), FM_EAGAIN, "0 means the spec maximum");
}

/* --- packet type and reserved flags ------------------------------------------ */

Test(codec_frame, packet_type_0_is_malformed_MQTT_2_2_1)
{
	struct mqtt_frame f;
	uint8_t reason = 0;
	cr_assert_eq(parse((const uint8_t[]){0x00, 0x00}, 2, 0, &f, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
}

Test(codec_frame, auth_type_15_framed_protocol_layer_decides)
{
	struct mqtt_frame f;
	uint8_t reason;
	cr_assert_eq(parse((const uint8_t[]){0xF0, 0x00}, 2, 0, &f, &reason), FM_OK);
	cr_assert_eq(f.type, MQTT_AUTH);
}

/* The flags each type must carry [MQTT-2.2.2-1]; PUBLISH is any but QoS 3. */
static bool flags_expected(uint8_t type, uint8_t flags)
{
	if (type == MQTT_PUBLISH)
		return ((flags >> 1) & 3) != 3;
	if (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE)
		return flags == 0x2;
	return flags == 0;
}

Test(codec_frame, reserved_flags_for_each_type_MQTT_2_2_2_1_and_MQTT_2_2_2_2)
{
	for (uint8_t type = 1; type <= 15; type++) {
		for (uint8_t flags = 0; flags <= 15; flags++) {
			const uint8_t p[] = {(uint8_t)(type << 4 | flags), 0};
			struct mqtt_frame f;
			uint8_t reason = 0;
			int rc = parse(p, sizeof(p), 0, &f, &reason);
			if (flags_expected(type, flags)) {
				cr_assert_eq(rc, FM_OK, "type %u flags %x", type, flags);
				cr_assert_eq(f.flags, flags);
			} else {
				cr_assert_eq(rc, FM_EPROTO, "type %u flags %x", type, flags);
				cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
			}
		}
	}
}

Test(codec_frame, publish_qos_3_is_malformed_MQTT_3_3_1_4)
{
	struct mqtt_frame f;
	uint8_t reason = 0;
	cr_assert_eq(parse((const uint8_t[]){0x36, 0x00}, 2, 0, &f, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
	cr_assert_eq(parse((const uint8_t[]){0x3F, 0x00}, 2, 0, &f, &reason), FM_EPROTO, "DUP+QoS3+RETAIN");
}

/* --- incremental framing ---------------------------------------------------------- */

/* A stream with every packet type of one version, built with the encoders. */
static void build_stream(struct buf *b, uint8_t v)
{
	static const uint8_t user_prop[] = {0x26, 0, 1, 'k', 0, 1, 'v'};
	struct mqtt_bin props = v == MQTT_V5 ? (struct mqtt_bin){user_prop, sizeof(user_prop)}
					     : (struct mqtt_bin){0};
	struct mqtt_connect c = {.version = v, .clean_start = true, .keepalive_s = 30,
				 .client_id = {"dev-1", 5}, .will_flag = true, .will_qos = 1,
				 .will_topic = {"w", 1}, .will_payload = {(const uint8_t *)"bye", 3},
				 .has_username = true, .username = {"u", 1}};
	cr_assert_eq(mqtt_encode_connect(b, &c), FM_OK);
	cr_assert_eq(mqtt_encode_connack(b, v, &(struct mqtt_connack){.props = props}), FM_OK);
	static uint8_t big[300]; /* 2-byte remaining length */
	for (uint8_t qos = 0; qos <= 2; qos++) {
		struct mqtt_publish p = {.qos = qos, .retain = qos == 1, .topic = {"a/b", 3},
					 .packet_id = qos ? qos : 0, .props = props,
					 .payload = {big, qos == 2 ? sizeof(big) : 4}};
		cr_assert_eq(mqtt_encode_publish(b, v, &p), FM_OK);
	}
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++)
		cr_assert_eq(mqtt_encode_ack(b, v, &(struct mqtt_ack){.type = t, .packet_id = 7}), FM_OK);
	struct mqtt_sub_entry e[] = {{{"a/+", 3}, 1}, {{"#", 1}, 2}};
	cr_assert_eq(mqtt_encode_subscribe(b, v, 8, e, 2), FM_OK);
	cr_assert_eq(mqtt_encode_suback(b, v, MQTT_SUBACK,
					&(struct mqtt_suback){.packet_id = 8, .codes = {(const uint8_t *)"\1\2", 2}}),
		     FM_OK);
	cr_assert_eq(mqtt_encode_unsubscribe(b, v, 9, e, 2), FM_OK);
	struct mqtt_suback ua = {.packet_id = 9};
	if (v == MQTT_V5)
		ua.codes = (struct mqtt_bin){(const uint8_t *)"\0\0", 2};
	cr_assert_eq(mqtt_encode_suback(b, v, MQTT_UNSUBACK, &ua), FM_OK);
	cr_assert_eq(mqtt_encode_empty(b, MQTT_PINGREQ), FM_OK);
	cr_assert_eq(mqtt_encode_empty(b, MQTT_PINGRESP), FM_OK);
	struct mqtt_disconnect d = {.reason = v == MQTT_V5 ? MQTT_RC_DISCONNECT_WITH_WILL : 0};
	cr_assert_eq(mqtt_encode_disconnect(b, v, &d), FM_OK);
}

#define MAX_FRAMES 32

struct framed {
	size_t n;
	struct { uint8_t type, flags; uint32_t remaining_len, header_len; size_t at; } f[MAX_FRAMES];
};

/* What a connection does on each read: append, then frame and consume
 * until FM_EAGAIN. *pos counts the stream bytes consumed so far. */
static void on_read(struct buf *in, const uint8_t *stream, size_t *pos, const uint8_t *p, size_t n,
		    struct framed *out)
{
	cr_assert_eq(buf_append(in, p, n), FM_OK);
	for (;;) {
		struct mqtt_frame f;
		size_t used = 0;
		uint8_t reason;
		int rc = mqtt_frame_parse(buf_head(in), buf_used(in), 0, &f, &used, &reason);
		if (rc == FM_EAGAIN)
			return;
		cr_assert_eq(rc, FM_OK);
		cr_assert_lt(out->n, MAX_FRAMES);
		cr_assert(memcmp(f.body, stream + *pos + f.header_len, f.remaining_len) == 0);
		out->f[out->n].type = f.type;
		out->f[out->n].flags = f.flags;
		out->f[out->n].remaining_len = f.remaining_len;
		out->f[out->n].header_len = f.header_len;
		out->f[out->n].at = *pos;
		out->n++;
		*pos += used;
		buf_consume(in, used);
	}
}

static void assert_same(const struct framed *a, const struct framed *b, const char *what, size_t k)
{
	cr_assert_eq(a->n, b->n, "%s %zu: %zu packets, expected %zu", what, k, a->n, b->n);
	cr_assert(memcmp(a->f, b->f, a->n * sizeof(a->f[0])) == 0, "%s %zu: frames differ", what, k);
}

static void check_incremental(uint8_t v)
{
	struct buf s;
	buf_init(&s);
	build_stream(&s, v);
	const uint8_t *p = buf_head(&s);
	size_t len = buf_used(&s);

	struct framed whole = {0};
	struct buf in;
	buf_init(&in);
	size_t pos = 0;
	on_read(&in, p, &pos, p, len, &whole);
	cr_assert_eq(whole.n, 16, "every packet type, PUBLISH at each QoS");
	cr_assert_eq(pos, len);
	buf_fini(&in);

	/* one byte per read */
	struct framed bytes = {0};
	buf_init(&in);
	pos = 0;
	for (size_t i = 0; i < len; i++)
		on_read(&in, p, &pos, p + i, 1, &bytes);
	assert_same(&bytes, &whole, "bytes", 0);
	buf_fini(&in);

	/* two reads split at every point */
	for (size_t k = 0; k <= len; k++) {
		struct framed two = {0};
		buf_init(&in);
		pos = 0;
		on_read(&in, p, &pos, p, k, &two);
		on_read(&in, p, &pos, p + k, len - k, &two);
		assert_same(&two, &whole, "split", k);
		cr_assert_eq(buf_used(&in), 0);
		buf_fini(&in);
	}
	buf_fini(&s);
}

Test(codec_frame, every_split_and_single_bytes_frame_the_same_v3_1_1)
{
	check_incremental(MQTT_V311);
}

Test(codec_frame, every_split_and_single_bytes_frame_the_same_v5)
{
	check_incremental(MQTT_V5);
}

Test(codec_frame, consumed_is_header_plus_body_and_trailing_bytes_untouched)
{
	const uint8_t p[] = {0x40, 0x02, 0x00, 0x05, 0xC0};
	struct mqtt_frame f;
	size_t used = 0;
	uint8_t reason;
	cr_assert_eq(mqtt_frame_parse(p, sizeof(p), 0, &f, &used, &reason), FM_OK);
	cr_assert_eq(used, 4);
	cr_assert_eq(f.type, MQTT_PUBACK);
	cr_assert_eq(f.header_len, 2);
	cr_assert_eq(f.body, p + 2);
}
