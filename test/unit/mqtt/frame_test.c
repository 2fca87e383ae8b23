/* Framing: fixed header rules, remaining length, size limits, and
 * resumable parsing at every split point. */
#include "codec_util.h"

#include "core/buf.h"

#include <stdlib.h>
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

/* --- remaining length: the spec's table (section 2.2.3) -------------------- */

struct rl_case {
	uint32_t value;
	uint8_t bytes[4];
	unsigned size;
};

static const struct rl_case rl_cases[] = {
	{0, {0x00}, 1},
	{127, {0x7F}, 1},
	{128, {0x80, 0x01}, 2},
	{16383, {0xFF, 0x7F}, 2},
	{16384, {0x80, 0x80, 0x01}, 3},
	{2097151, {0xFF, 0xFF, 0x7F}, 3},
	{2097152, {0x80, 0x80, 0x80, 0x01}, 4},
	{268435455, {0xFF, 0xFF, 0xFF, 0x7F}, 4},
};
#define N_RL (sizeof(rl_cases) / sizeof(rl_cases[0]))

Test(frame, varint_size_at_every_boundary)
{
	for (size_t i = 0; i < N_RL; i++)
		cr_assert_eq(mqtt_varint_size(rl_cases[i].value), rl_cases[i].size, "%u", rl_cases[i].value);
	cr_assert_eq(mqtt_varint_size(1), 1);
	cr_assert_eq(mqtt_varint_size(200), 2);
	cr_assert_eq(mqtt_varint_size(1000000), 3);
	cr_assert_eq(mqtt_varint_size(100000000), 4);
}

/* The encoder writes exactly the spec's bytes for every boundary value.
 * PUBLISH QoS 0 with a 1-byte topic has 3 bytes before the payload; 0 and
 * 127 are checked with PINGREQ and an UNSUBACK-sized SUBACK instead. */
Test(frame, encoder_writes_the_spec_varint_bytes_MQTT_2_2_3)
{
	for (size_t i = 0; i < N_RL; i++) {
		const struct rl_case *c = &rl_cases[i];
		if (c->value > 2097152)
			continue; /* 256 MiB: checked from the header alone below */
		struct buf b;
		buf_init(&b);
		uint8_t *data = NULL;
		if (c->value == 0) {
			cr_assert_eq(mqtt_encode_empty(&b, MQTT_PINGREQ), FM_OK);
		} else {
			uint32_t payload = c->value - 3;
			data = calloc(1, payload ? payload : 1);
			cr_assert_not_null(data);
			struct mqtt_publish p = {.topic = {"t", 1}, .payload = {data, payload}};
			cr_assert_eq(mqtt_encode_publish(&b, MQTT_V311, &p), FM_OK);
			cr_assert_eq(mqtt_publish_size(MQTT_V311, &p), buf_used(&b));
		}
		cr_assert_eq(buf_used(&b), 1 + c->size + c->value, "%u", c->value);
		cr_assert_arr_eq(buf_head(&b) + 1, c->bytes, c->size, "varint of %u", c->value);
		struct mqtt_frame f;
		size_t used = 0;
		uint8_t reason;
		cr_assert_eq(mqtt_frame_parse(buf_head(&b), buf_used(&b), 0, &f, &used, &reason), FM_OK);
		cr_assert_eq(f.remaining_len, c->value);
		cr_assert_eq(f.header_len, 1 + c->size);
		cr_assert_eq(used, buf_used(&b));
		cr_assert_eq(f.body, buf_head(&b) + 1 + c->size);
		/* one byte short of the whole packet: wait */
		cr_assert_eq(mqtt_frame_parse(buf_head(&b), buf_used(&b) - 1, 0, &f, &used, &reason), FM_EAGAIN);
		free(data);
		buf_fini(&b);
	}
}

/* Every boundary parsed from the header alone: the decoded value is pinned
 * down exactly by the limit at which the packet becomes too large. */
Test(frame, boundaries_parsed_from_header_alone)
{
	for (size_t i = 0; i < N_RL; i++) {
		const struct rl_case *c = &rl_cases[i];
		uint8_t hdr[5] = {0x30};
		memcpy(hdr + 1, c->bytes, c->size);
		size_t hlen = 1 + c->size;
		uint64_t total = hlen + (uint64_t)c->value;
		uint8_t reason = 0;
		if (c->value == 0) {
			cr_assert_eq(parse(hdr, hlen, 0, &reason), FM_OK, "framing does not look at the body");
			cr_assert_eq(parse(hdr, hlen, 1, &reason), FM_EPROTO);
			cr_assert_eq(reason, MQTT_RC_PACKET_TOO_LARGE);
			continue;
		}
		cr_assert_eq(parse(hdr, hlen, 0, &reason), FM_EAGAIN, "%u", c->value);
		if (total <= UINT32_MAX) {
			cr_assert_eq(parse(hdr, hlen, (uint32_t)total, &reason), FM_EAGAIN, "limit == size: allowed");
			reason = 0;
			cr_assert_eq(parse(hdr, hlen, (uint32_t)total - 1, &reason), FM_EPROTO, "%u", c->value);
			cr_assert_eq(reason, MQTT_RC_PACKET_TOO_LARGE);
		}
	}
}

Test(frame, zero_remaining_length_frames_with_empty_body)
{
	static const uint8_t p[] = {0xC0, 0x00, 0xD0, 0x00};
	struct mqtt_frame f;
	size_t used;
	uint8_t reason;
	cr_assert_eq(mqtt_frame_parse(p, sizeof(p), 0, &f, &used, &reason), FM_OK);
	cr_assert_eq(f.type, MQTT_PINGREQ);
	cr_assert_eq(f.remaining_len, 0);
	cr_assert_eq(f.header_len, 2);
	cr_assert_eq(used, 2, "only the first packet is consumed");
	cr_assert_eq(mqtt_frame_parse(p + used, sizeof(p) - used, 0, &f, &used, &reason), FM_OK);
	cr_assert_eq(f.type, MQTT_PINGRESP);
}

Test(frame, fifth_byte_refused_without_waiting_for_it_MQTT_2_2_3)
{
	/* four continuation bytes: malformed whatever comes next */
	static const uint8_t p[] = {0x30, 0x80, 0x80, 0x80, 0x80};
	uint8_t reason = 0;
	cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
	/* three continuation bytes: still a valid prefix */
	cr_assert_eq(parse(p, 4, 0, &reason), FM_EAGAIN);
	/* for every packet type */
	for (uint8_t t = MQTT_CONNECT; t <= MQTT_DISCONNECT; t++) {
		uint8_t q[] = {(uint8_t)(t << 4 | ((t == MQTT_PUBREL || t == MQTT_SUBSCRIBE || t == MQTT_UNSUBSCRIBE) ? 2 : 0)),
			       0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
		reason = 0;
		cr_assert_eq(parse(q, sizeof(q), 0, &reason), FM_EPROTO, "type %u", t);
		cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
	}
}

Test(frame, packet_type_0_is_malformed_with_any_flags_MQTT_2_2_1)
{
	for (uint8_t flags = 0; flags < 16; flags++) {
		uint8_t p[] = {flags, 0};
		uint8_t reason = 0;
		cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EPROTO, "flags %u", flags);
		cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
	}
}

static uint8_t required_flags(uint8_t type)
{
	return (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE) ? 2 : 0;
}

/* [MQTT-2.2.2-1]: the table's flags are accepted. */
Test(frame, reserved_flags_from_the_table_accepted_MQTT_2_2_2_1)
{
	for (uint8_t type = MQTT_CONNECT; type <= MQTT_DISCONNECT; type++) {
		if (type == MQTT_PUBLISH)
			continue;
		uint8_t p[] = {(uint8_t)(type << 4 | required_flags(type)), 0};
		uint8_t reason = 0xFF;
		struct mqtt_frame f;
		size_t used;
		cr_assert_eq(mqtt_frame_parse(p, sizeof(p), 0, &f, &used, &reason), FM_OK, "type %u", type);
		cr_assert_eq(f.type, type);
		cr_assert_eq(f.flags, required_flags(type));
	}
}

/* [MQTT-2.2.2-2]: any other flags are malformed, even with a body present. */
Test(frame, wrong_reserved_flags_malformed_for_each_type_MQTT_2_2_2_2)
{
	for (uint8_t type = MQTT_CONNECT; type <= MQTT_DISCONNECT; type++) {
		if (type == MQTT_PUBLISH)
			continue;
		for (uint8_t flags = 0; flags < 16; flags++) {
			if (flags == required_flags(type))
				continue;
			uint8_t p[] = {(uint8_t)(type << 4 | flags), 2, 0, 1};
			uint8_t reason = 0;
			cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EPROTO, "type %u flags %u", type, flags);
			cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET, "type %u flags %u", type, flags);
			/* refused from the first two bytes, before the body */
			cr_assert_eq(parse(p, 2, 0, &reason), FM_EPROTO, "type %u flags %u", type, flags);
		}
	}
}

Test(frame, publish_any_flags_but_qos_3_accepted_MQTT_3_3_1_4)
{
	for (uint8_t flags = 0; flags < 16; flags++) {
		uint8_t p[] = {(uint8_t)(0x30 | flags), 5, 0, 1, 't', 0, 1};
		uint8_t reason = 0;
		bool qos3 = ((flags >> 1) & 3) == 3;
		cr_assert_eq(parse(p, sizeof(p), 0, &reason), qos3 ? FM_EPROTO : FM_OK, "flags %u", flags);
		if (qos3)
			cr_assert_eq(reason, MQTT_RC_MALFORMED_PACKET);
	}
}

Test(frame, max_packet_exact_limit_and_one_over)
{
	/* PUBLISH of 10 bytes in all: 2 header + 8 body */
	static const uint8_t p[] = {0x30, 0x08, 0, 1, 't', 'a', 'b', 'c', 'd', 'e'};
	struct mqtt_frame f;
	size_t used;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_frame_parse(p, sizeof(p), 10, &f, &used, &reason), FM_OK);
	cr_assert_eq(used, 10);
	cr_assert_eq(mqtt_frame_parse(p, sizeof(p), 9, &f, &used, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_PACKET_TOO_LARGE);
	/* header only, body absent: refused just the same */
	reason = 0;
	cr_assert_eq(mqtt_frame_parse(p, 2, 9, &f, &used, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_PACKET_TOO_LARGE);
	cr_assert_eq(mqtt_frame_parse(p, 2, 10, &f, &used, &reason), FM_EAGAIN);
}

Test(frame, max_remaining_length_too_large_from_header_alone)
{
	/* 268,435,455 announced, a 1 MiB limit, 5 bytes present */
	static const uint8_t p[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
	uint8_t reason = 0;
	cr_assert_eq(parse(p, sizeof(p), 1u << 20, &reason), FM_EPROTO);
	cr_assert_eq(reason, MQTT_RC_PACKET_TOO_LARGE);
	/* a limit of 0 is the spec maximum: only incomplete */
	cr_assert_eq(parse(p, sizeof(p), 0, &reason), FM_EAGAIN);
	/* a limit above what a packet can be: only incomplete */
	cr_assert_eq(parse(p, sizeof(p), UINT32_MAX, &reason), FM_EAGAIN);
}

/* --- incremental framing over a stream with every packet type ---------------- */

struct framed {
	uint8_t type, flags;
	uint32_t remaining_len, header_len;
	uint8_t body[4096];
};

static void build_every_type_stream(struct buf *b, uint8_t v)
{
	static uint8_t big[3000]; /* 2-byte remaining length */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	struct mqtt_connect c = {.version = v, .clean_start = true, .keepalive_s = 60, .client_id = {"c1", 2},
				 .will_flag = true, .will_qos = 1, .will_topic = {"will", 4},
				 .will_payload = {(const uint8_t *)"x", 1}, .has_username = true,
				 .username = {"u", 1}, .has_password = true, .password = {(const uint8_t *)"p", 1}};
	cr_assert_eq(mqtt_encode_connect(b, &c), FM_OK);
	cr_assert_eq(mqtt_encode_connack(b, v, &(struct mqtt_connack){.session_present = true}), FM_OK);
	for (uint8_t q = 0; q <= 2; q++) {
		struct mqtt_publish p = {.qos = q, .dup = q > 0, .retain = q == 1, .topic = {"s/t", 3},
					 .packet_id = (uint16_t)(q * 100), .payload = {big, q == 2 ? sizeof(big) : 5}};
		cr_assert_eq(mqtt_encode_publish(b, v, &p), FM_OK);
	}
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++)
		cr_assert_eq(mqtt_encode_ack(b, v, &(struct mqtt_ack){.type = t, .packet_id = t,
								 .reason = v == MQTT_V5 && t == MQTT_PUBREC ? 0x10 : 0}), FM_OK);
	struct mqtt_sub_entry e[] = {{.filter = {"a/#", 3}, .options = 1}, {.filter = {"+/b", 3}, .options = 2}};
	cr_assert_eq(mqtt_encode_subscribe(b, v, 5, e, 2), FM_OK);
	static const uint8_t codes[] = {1, 2};
	cr_assert_eq(mqtt_encode_suback(b, v, MQTT_SUBACK, &(struct mqtt_suback){.packet_id = 5, .codes = {codes, 2}}), FM_OK);
	cr_assert_eq(mqtt_encode_unsubscribe(b, v, 6, e, 2), FM_OK);
	cr_assert_eq(mqtt_encode_suback(b, v, MQTT_UNSUBACK, &(struct mqtt_suback){.packet_id = 6,
					  .codes = {codes, v == MQTT_V5 ? 2 : 0}}), FM_OK);
	cr_assert_eq(mqtt_encode_empty(b, MQTT_PINGREQ), FM_OK);
	cr_assert_eq(mqtt_encode_empty(b, MQTT_PINGRESP), FM_OK);
	cr_assert_eq(mqtt_encode_disconnect(b, v, &(struct mqtt_disconnect){.reason = v == MQTT_V5 ? 0x04 : 0}), FM_OK);
}

#define STREAM_PACKETS 16

/* Feed p[0, n) cut at the given points (sorted, 0 < cut < n); frame
 * whatever is whole after each append. */
static size_t frame_with_cuts(const uint8_t *p, size_t n, const size_t *cuts, size_t ncuts,
			      struct framed *out, size_t max_out)
{
	struct buf in;
	buf_init(&in);
	size_t count = 0, prev = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		cr_assert_eq(buf_append(&in, p + prev, end - prev), FM_OK);
		prev = end;
		for (;;) {
			struct mqtt_frame f;
			size_t used = 0;
			uint8_t reason = 0;
			int rc = mqtt_frame_parse(buf_head(&in), buf_used(&in), 0, &f, &used, &reason);
			if (rc == FM_EAGAIN)
				break;
			cr_assert_eq(rc, FM_OK, "rc %d reason %#x", rc, reason);
			cr_assert_lt(count, max_out);
			cr_assert_eq(used, f.header_len + f.remaining_len);
			cr_assert_leq(f.remaining_len, sizeof(out[count].body));
			out[count].type = f.type;
			out[count].flags = f.flags;
			out[count].remaining_len = f.remaining_len;
			out[count].header_len = f.header_len;
			if (f.remaining_len)
				memcpy(out[count].body, f.body, f.remaining_len);
			count++;
			buf_consume(&in, used);
		}
	}
	cr_assert_eq(buf_used(&in), 0, "bytes left over");
	buf_fini(&in);
	return count;
}

static void assert_same_frames(const struct framed *a, const struct framed *b, size_t n, const char *what, size_t at)
{
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(a[i].type, b[i].type, "%s %zu: packet %zu", what, at, i);
		cr_assert_eq(a[i].flags, b[i].flags, "%s %zu: packet %zu", what, at, i);
		cr_assert_eq(a[i].remaining_len, b[i].remaining_len, "%s %zu: packet %zu", what, at, i);
		cr_assert_eq(a[i].header_len, b[i].header_len, "%s %zu: packet %zu", what, at, i);
		cr_assert_arr_eq(a[i].body, b[i].body, a[i].remaining_len, "%s %zu: packet %zu", what, at, i);
	}
}

static void split_everywhere(uint8_t v)
{
	struct buf b;
	buf_init(&b);
	build_every_type_stream(&b, v);
	const uint8_t *p = buf_head(&b);
	size_t n = buf_used(&b);
	static struct framed want[STREAM_PACKETS], got[STREAM_PACKETS];
	size_t nwant = frame_with_cuts(p, n, NULL, 0, want, STREAM_PACKETS);
	cr_assert_eq(nwant, STREAM_PACKETS);
	static const uint8_t types[STREAM_PACKETS] = {
		MQTT_CONNECT, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBLISH, MQTT_PUBLISH, MQTT_PUBACK,
		MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE,
		MQTT_UNSUBACK, MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT};
	for (size_t i = 0; i < STREAM_PACKETS; i++)
		cr_assert_eq(want[i].type, types[i], "packet %zu", i);
	cr_assert_eq(want[4].header_len, 3, "the large PUBLISH has a 2-byte varint");

	/* one split at every point */
	for (size_t cut = 1; cut < n; cut++) {
		memset(got, 0, sizeof(got));
		size_t ngot = frame_with_cuts(p, n, &cut, 1, got, STREAM_PACKETS);
		cr_assert_eq(ngot, nwant, "cut at %zu", cut);
		assert_same_frames(want, got, nwant, "cut at", cut);
	}
	/* one byte at a time */
	size_t *cuts = malloc(n * sizeof(*cuts));
	cr_assert_not_null(cuts);
	for (size_t i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	memset(got, 0, sizeof(got));
	cr_assert_eq(frame_with_cuts(p, n, cuts, n - 1, got, STREAM_PACKETS), nwant);
	assert_same_frames(want, got, nwant, "bytewise", 0);
	/* two splits, at a spread of point pairs */
	for (size_t a = 1; a < n; a += 7)
		for (size_t c = a + 1; c < n; c += 13) {
			size_t two[2] = {a, c};
			memset(got, 0, sizeof(got));
			cr_assert_eq(frame_with_cuts(p, n, two, 2, got, STREAM_PACKETS), nwant);
			assert_same_frames(want, got, nwant, "two cuts from", a);
		}
	free(cuts);
	buf_fini(&b);
}

Test(frame, every_type_split_at_every_point_v3_1_1)
{
	split_everywhere(MQTT_V311);
}

Test(frame, every_type_split_at_every_point_v5)
{
	split_everywhere(MQTT_V5);
}

/* Parsing never reads past len: each prefix of a packet is parsed from a
 * heap copy of exactly that many bytes (ASan catches any over-read). */
Test(frame, prefixes_never_read_past_the_end)
{
	struct buf b;
	buf_init(&b);
	build_every_type_stream(&b, MQTT_V5);
	size_t n = buf_used(&b);
	for (size_t len = 0; len <= n && len < 64; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, buf_head(&b), len);
		struct mqtt_frame f;
		size_t used;
		uint8_t reason;
		int rc = mqtt_frame_parse(copy, len, 0, &f, &used, &reason);
		cr_assert(rc == FM_EAGAIN || rc == FM_OK, "len %zu rc %d", len, rc);
		free(copy);
	}
	buf_fini(&b);
}
