/* Framing: fixed header rules, remaining length, size limits, and
 * resumable parsing at every split point. */
#include "codec_util.h"

#include "core/buf.h"

#include <string.h>

static int parse(const uint8_t *p, size_t n, uint32_t max, uint8_t *reason)
{
	struct mqtt_frame f;
	size_t used;
	return mqtt_frame_parse(p, n, max, &f, &used, reason);
}

Test(frame, remaining_length_boundaries_round_trip_MQTT_2_2_3)
{
	static const uint32_t lengths[] = {0, 127, 128, 16383, 16384, 2097151, 2097152};
	static const unsigned sizes[] = {1, 1, 2, 2, 3, 3, 4};
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		cr_assert_eq(mqtt_varint_size(lengths[i]), sizes[i]);
		struct buf b;
		buf_init(&b);
		/* a PUBLISH whose payload makes the remaining length exact */
		uint32_t payload = lengths[i] >= 3 ? lengths[i] - 3 : 0;
		if (lengths[i] < 3)
			continue;
		uint8_t *data = calloc(1, payload ? payload : 1);
		struct mqtt_publish p = {.topic = {"t", 1}, .payload = {data, payload}};
		cr_assert_eq(mqtt_encode_publish(&b, MQTT_V311, &p), FM_OK);
		struct mqtt_frame f;
		size_t used;
		uint8_t reason;
		cr_assert_eq(mqtt_frame_parse(buf_head(&b), buf_used(&b), 0, &f, &used, &reason), FM_OK);
		cr_assert_eq(f.remaining_len, lengths[i]);
		cr_assert_eq(f.header_len, 1 + sizes[i]);
		cr_assert_eq(used, buf_used(&b));
		free(data);
		buf_fini(&b);
	}
	cr_assert_eq(mqtt_varint_size(MQTT_MAX_REMAINING_LENGTH), 4);
}

Test(frame, fifth_remaining_length_byte_is_malformed_MQTT_2_2_3)
{
	static const uint8_t p[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
	uint8_t reason = 0;
	cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
}

Test(frame, packet_type_0_is_malformed_MQTT_2_2_1)
{
	static const uint8_t p[] = {0x00, 0x00};
	uint8_t reason;
	cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EPROTO);
}

/* [MQTT-2.2.2-1], [MQTT-2.2.2-2]: flags are fixed per type; PUBREL,
 * SUBSCRIBE and UNSUBSCRIBE carry 0010, the others 0000. */
Test(frame, reserved_flags_must_match_the_table_MQTT_2_2_2_2)
{
	for (uint8_t type = MQTT_CONNECT; type <= MQTT_AUTH; type++) {
		if (type == MQTT_PUBLISH)
			continue;
		uint8_t want = (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE) ? 2 : 0;
		for (uint8_t flags = 0; flags < 16; flags++) {
			uint8_t p[] = {(uint8_t)(type << 4 | flags), 0};
			uint8_t reason;
			int rc = parse(p, sizeof(p), 0, &reason);
			cr_assert_eq(rc, flags == want ? FM_OK : FM_EPROTO, "type %u flags %u", type, flags);
		}
	}
}

Test(frame, publish_qos_3_is_malformed_MQTT_3_3_1_4)
{
	static const uint8_t p[] = {0x36, 0x03, 0x00, 0x01, 't'};
	uint8_t reason;
	cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EPROTO);
}

Test(frame, oversized_packet_refused_from_the_header_alone)
{
	/* announces 1,000,000 bytes; only the header is present */
	static const uint8_t p[] = {0x30, 0xC0, 0x84, 0x3D};
	uint8_t reason = 0;
	cr_assert_eq(parse(p, sizeof(p), 1000, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_PACKET_TOO_LARGE);
	cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EAGAIN, "no limit: just incomplete");
}

Test(frame, incomplete_header_and_body_ask_for_more)
{
	static const uint8_t p[] = {0x30, 0x85, 0x01};
	uint8_t reason;
	cr_assert_eq(parse(p, 1, 0, &reason), FM_EAGAIN);
	cr_assert_eq(parse(p, 2, 0, &reason), FM_EAGAIN);
	cr_assert_eq(parse(p, 3, 0, &reason), FM_EAGAIN);
}

/* A stream of one packet of each client-side type. */
static void build_stream(struct buf *b)
{
	struct mqtt_connect c = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 30,
				 .client_id = {"split", 5}, .will_flag = true, .will_topic = {"w", 1},
				 .will_payload = {(const uint8_t *)"bye", 3}};
	mqtt_encode_connect(b, &c);
	for (uint8_t q = 0; q <= 2; q++) {
		struct mqtt_publish p = {.qos = q, .topic = {"a/b", 3}, .packet_id = q ? 7 : 0,
					 .payload = {(const uint8_t *)"xyz", 3}};
		mqtt_encode_publish(b, MQTT_V311, &p);
	}
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++)
		mqtt_encode_ack(b, MQTT_V311, &(struct mqtt_ack){.type = t, .packet_id = 9});
	struct mqtt_sub_entry e[] = {{.filter = {"a/#", 3}, .options = 1}, {.filter = {"+", 1}, .options = 2}};
	mqtt_encode_subscribe(b, MQTT_V311, 3, e, 2);
	mqtt_encode_unsubscribe(b, MQTT_V311, 4, e, 2);
	mqtt_encode_empty(b, MQTT_PINGREQ);
	mqtt_encode_empty(b, MQTT_DISCONNECT);
}

/* Frame everything fed in chunks; record types and lengths. */
static size_t frame_in_chunks(const uint8_t *p, size_t n, size_t chunk, uint8_t *types, uint32_t *lens)
{
	struct buf in;
	buf_init(&in);
	size_t count = 0;
	for (size_t off = 0; off < n; off += chunk) {
		size_t take = n - off < chunk ? n - off : chunk;
		buf_append(&in, p + off, take);
		for (;;) {
			struct mqtt_frame f;
			size_t used;
			uint8_t reason;
			int rc = mqtt_frame_parse(buf_head(&in), buf_used(&in), 0, &f, &used, &reason);
			if (rc == FM_EAGAIN)
				break;
			cr_assert_eq(rc, FM_OK);
			types[count] = f.type;
			lens[count++] = f.remaining_len;
			buf_consume(&in, used);
		}
	}
	cr_assert_eq(buf_used(&in), 0);
	buf_fini(&in);
	return count;
}

Test(frame, every_split_point_and_single_bytes_frame_the_same)
{
	struct buf b;
	buf_init(&b);
	build_stream(&b);
	uint8_t want_t[32], got_t[32];
	uint32_t want_l[32], got_l[32];
	size_t n = buf_used(&b);
	size_t want = frame_in_chunks(buf_head(&b), n, n, want_t, want_l);
	cr_assert_eq(want, 12);
	for (size_t chunk = 1; chunk <= n; chunk++) {
		size_t got = frame_in_chunks(buf_head(&b), n, chunk, got_t, got_l);
		cr_assert_eq(got, want, "chunk %zu", chunk);
		cr_assert_arr_eq(got_t, want_t, want);
		cr_assert_arr_eq(got_l, want_l, want * sizeof(uint32_t));
	}
	/* and split once at every position */
	for (size_t cut = 1; cut < n; cut++) {
		struct buf in;
		buf_init(&in);
		buf_append(&in, buf_head(&b), cut);
		size_t count = 0;
		struct mqtt_frame f;
		size_t used;
		uint8_t reason;
		while (mqtt_frame_parse(buf_head(&in), buf_used(&in), 0, &f, &used, &reason) == FM_OK) {
			buf_consume(&in, used);
			count++;
		}
		buf_append(&in, buf_head(&b) + cut, n - cut);
		while (mqtt_frame_parse(buf_head(&in), buf_used(&in), 0, &f, &used, &reason) == FM_OK) {
			buf_consume(&in, used);
			count++;
		}
		cr_assert_eq(count, want, "cut at %zu", cut);
		buf_fini(&in);
	}
	buf_fini(&b);
}
