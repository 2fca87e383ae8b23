/* MQTT 5.0 properties (props.c, props_use.c, props.h) and the 5.0 decoders
 * that carry them. Sections:
 *   1. builders: the exact bytes each mqtt_prop_put_* writes
 *   2. round trips: builders -> encoder -> mqtt_frame_parse -> decoder ->
 *      mqtt_props_next / mqtt_props_read
 *   3. mqtt_props_copy
 *   4. the validator, packet by packet: the table of section 2.2.2.2,
 *      repeats, forbidden values, overruns, UTF-8
 *   5. the 5.0 decoders: CONNECT, acks, DISCONNECT, SUBSCRIBE options,
 *      PUBLISH with an empty topic
 * The validator tests carry their own copy of the spec's table rather than
 * reading props.c's, so a wrong entry there shows up as a failure here. */
#include "codec_util.h"

#include "core/buf.h"
#include "mqtt/props.h"

#include <string.h>

/* PKT(byte1, body...): a frame with a 1-byte remaining length (as in
 * codec_decode_test.c). */
#define PKT(b0, ...)                                                                      \
	frame_of((const uint8_t[]){(b0), sizeof((const uint8_t[]){__VA_ARGS__}), __VA_ARGS__}, \
		 2 + sizeof((const uint8_t[]){__VA_ARGS__}))
#define HDR_V5(flags) 0, 4, 'M', 'Q', 'T', 'T', 5, (flags), 0, 60 /* keepalive 60 */

#define MALFORMED MQTT_RC_MALFORMED_PACKET
#define PROTO_ERR MQTT_RC_PROTOCOL_ERROR
#define BIT(id) MQTT_PROP_BIT(id)
#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool bin_is(struct mqtt_bin b, const void *p, size_t n)
{
	return b.len == n && (n == 0 || memcmp(b.p, p, n) == 0);
}
#define BIN_IS(b, lit) bin_is((b), (lit), sizeof(lit) - 1)

static bool str_is(struct mqtt_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* DECODES_V5(decoder, frame, out, want): decode frame as 5.0 into out and
 * assert FM_OK (want 0) or FM_EPROTO with reason want. An expression, not a
 * block, so the frame's bytes live on in the caller's block: *out borrows
 * them. */
static uint8_t dv_reason;
static void decoded_as(int rc, uint8_t want, int line)
{
	cr_assert_eq(rc, want ? FM_EPROTO : FM_OK, "line %d: rc %d reason 0x%02x", line, rc, dv_reason);
	cr_assert_eq(dv_reason, want, "line %d: reason 0x%02x", line, dv_reason);
}
#define DECODES_V5(fn, f, out, want) \
	(dv_reason = 0xEE,                                                                 \
	 decoded_as(fn((const struct mqtt_frame[]){f}, MQTT_V5, (out), &dv_reason), (want), __LINE__))

/* Sections 1-3 build into pb (properties) and b (a packet); each test runs
 * in its own process, so these start empty every time. */
static struct buf pb, b;
static void bufs_init(void) { buf_init(&pb); buf_init(&b); }
static void bufs_fini(void) { buf_fini(&pb); buf_fini(&b); }
TestSuite(props_build, .init = bufs_init, .fini = bufs_fini);
TestSuite(props_round_trip, .init = bufs_init, .fini = bufs_fini);
TestSuite(props_copy, .init = bufs_init, .fini = bufs_fini);

/* The one packet an encoder returning rc appended to b, framed. */
static struct mqtt_frame sent(int rc)
{
	cr_assert_eq(rc, FM_OK);
	return frame_of(buf_head(&b), buf_used(&b));
}

/* Walk a validated section into out[0, max); checks each property's raw
 * bytes start where the previous one's ended and the walk covers the
 * section exactly. Returns the count. */
static size_t walk(struct mqtt_bin raw, struct mqtt_prop *out, size_t max)
{
	struct mqtt_bin rest = raw;
	const uint8_t *at = raw.p;
	size_t n = 0;
	while (n < max && mqtt_props_next(&rest, &out[n])) {
		cr_assert_eq(out[n].raw.p, at, "property %zu is not contiguous", n);
		cr_assert_eq(out[n].raw.p[0], out[n].id);
		at += out[n++].raw.len;
	}
	cr_assert_eq(rest.len, 0, "walk stopped %u bytes early", rest.len);
	cr_assert_eq(at, raw.p + raw.len);
	return n;
}

/* --- 1. builders ------------------------------------------------------------------------ */

Test(props_build, id_then_value_big_endian_or_length_prefixed_2_2_2_2_1_5_2_1_5_4_1_5_7)
{
	cr_assert_eq(mqtt_prop_put_byte(&pb, MQTT_PROP_PAYLOAD_FORMAT, 1), FM_OK);
	cr_assert_eq(mqtt_prop_put_u16(&pb, MQTT_PROP_TOPIC_ALIAS, 0x1234), FM_OK);
	cr_assert_eq(mqtt_prop_put_u32(&pb, MQTT_PROP_MESSAGE_EXPIRY, 0x01020304), FM_OK);
	cr_assert_eq(mqtt_prop_put_data(&pb, MQTT_PROP_CONTENT_TYPE, "ab", 2), FM_OK);
	cr_assert_eq(mqtt_prop_put_data(&pb, MQTT_PROP_CORRELATION_DATA, NULL, 0), FM_OK);
	cr_assert_eq(mqtt_prop_put_pair(&pb, "k", 1, "vv", 2), FM_OK);
	cr_assert_eq(mqtt_prop_put_pair(&pb, "", 0, "", 0), FM_OK);
	ASSERT_BYTES(&pb, 0x01, 1, 0x23, 0x12, 0x34, 0x02, 1, 2, 3, 4, 0x03, 0, 2, 'a', 'b', 0x09, 0, 0,
		     0x26, 0, 1, 'k', 0, 2, 'v', 'v', 0x26, 0, 0, 0, 0);
}

Test(props_build, varint_uses_fewest_bytes_1_to_4_MQTT_1_5_5_1)
{
	static const struct { uint32_t v; uint8_t n, bytes[4]; } cases[] = {
		{0, 1, {0x00}}, {127, 1, {0x7F}}, {128, 2, {0x80, 0x01}}, {16383, 2, {0xFF, 0x7F}},
		{16384, 3, {0x80, 0x80, 0x01}}, {2097151, 3, {0xFF, 0xFF, 0x7F}},
		{2097152, 4, {0x80, 0x80, 0x80, 0x01}}, {268435455, 4, {0xFF, 0xFF, 0xFF, 0x7F}},
	};
	for (size_t i = 0; i < N(cases); i++) {
		pb.off = pb.len = 0;
		cr_assert_eq(mqtt_prop_put_varint(&pb, MQTT_PROP_SUBSCRIPTION_ID, cases[i].v), FM_OK);
		cr_assert_eq(buf_used(&pb), 1u + cases[i].n, "%u: %zu bytes", cases[i].v, buf_used(&pb));
		cr_assert_eq(buf_head(&pb)[0], MQTT_PROP_SUBSCRIPTION_ID);
		cr_assert(memcmp(buf_head(&pb) + 1, cases[i].bytes, cases[i].n) == 0, "%u", cases[i].v);
		struct mqtt_prop p;
		cr_assert(walk(mqtt_props_of(&pb), &p, 1) == 1 && p.num == cases[i].v);
	}
}

/* --- 2. round trips through real packets ---------------------------------------------------- */

/* A property to build with the matching mqtt_prop_put_* and to expect
 * back: num for numeric types, s (and s2, a pair's value) otherwise. */
enum vtype { T_NONE, T_BYTE, T_U16, T_U32, T_VARINT, T_STR, T_BIN, T_PAIR };
struct pv {
	uint8_t id, type;
	uint32_t num;
	const char *s, *s2;
	uint16_t len, len2;
};
#define NUM(id, t, v) {MQTT_PROP_##id, (t), (v), NULL, NULL, 0, 0}
#define DATA(id, t, lit) {MQTT_PROP_##id, (t), 0, (lit), NULL, sizeof(lit) - 1, 0}
#define PAIR(k, v) {MQTT_PROP_USER_PROPERTY, T_PAIR, 0, (k), (v), sizeof(k) - 1, sizeof(v) - 1}

/* Build v[0, n) into a fresh section in out. */
static struct mqtt_bin build(struct buf *out, const struct pv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		enum mqtt_prop_id id = v[i].id;
		int rc;
		switch (v[i].type) {
		case T_BYTE: rc = mqtt_prop_put_byte(out, id, (uint8_t)v[i].num); break;
		case T_U16: rc = mqtt_prop_put_u16(out, id, (uint16_t)v[i].num); break;
		case T_U32: rc = mqtt_prop_put_u32(out, id, v[i].num); break;
		case T_VARINT: rc = mqtt_prop_put_varint(out, id, v[i].num); break;
		case T_PAIR: rc = mqtt_prop_put_pair(out, v[i].s, v[i].len, v[i].s2, v[i].len2); break;
		default: rc = mqtt_prop_put_data(out, id, v[i].s, v[i].len); break;
		}
		cr_assert_eq(rc, FM_OK);
	}
	return mqtt_props_of(out);
}

/* raw holds exactly v[0, n) in order (mqtt_props_next), and
 * mqtt_props_read gives every id present with its last value. */
static void check_section(struct mqtt_bin raw, const struct pv *v, size_t n)
{
	struct mqtt_prop p[32];
	cr_assert_eq(walk(raw, p, 32), n);
	struct mqtt_props r;
	mqtt_props_read(raw, &r);
	uint64_t has = 0;
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(p[i].id, v[i].id, "property %zu: id 0x%02x", i, p[i].id);
		if (v[i].s)
			cr_assert(bin_is(p[i].data, v[i].s, v[i].len) && bin_is(p[i].data2, v[i].s2, v[i].len2),
				  "property %zu: data", i);
		else
			cr_assert_eq(p[i].num, v[i].num, "property %zu: %u", i, p[i].num);
		has |= BIT(v[i].id);
		bool last = true;
		for (size_t j = i + 1; j < n; j++)
			last = last && v[j].id != v[i].id;
		if (last && v[i].s)
			cr_assert(bin_is(r.data[v[i].id], v[i].s, v[i].len), "read 0x%02x", v[i].id);
		else if (last)
			cr_assert_eq(mqtt_props_num(&r, v[i].id, ~v[i].num), v[i].num, "read 0x%02x", v[i].id);
	}
	cr_assert_eq(r.has, has);
}

Test(props_round_trip, publish_every_value_type_and_1_to_4_byte_varints_3_3_2_3)
{
	static const struct pv v[] = {
		NUM(PAYLOAD_FORMAT, T_BYTE, 1), NUM(MESSAGE_EXPIRY, T_U32, 0xFFFFFFFE),
		NUM(TOPIC_ALIAS, T_U16, 0xFFFF), DATA(CONTENT_TYPE, T_STR, "text/plain"), PAIR("k1", "v1"),
		DATA(RESPONSE_TOPIC, T_STR, "re/ply"), DATA(CORRELATION_DATA, T_BIN, "\0\xFF\xC0"),
		NUM(SUBSCRIPTION_ID, T_VARINT, 1), NUM(SUBSCRIPTION_ID, T_VARINT, 200),
		NUM(SUBSCRIPTION_ID, T_VARINT, 20000), NUM(SUBSCRIPTION_ID, T_VARINT, 268435455), PAIR("k2", ""),
	};
	struct mqtt_publish in = {.qos = 1, .packet_id = 9, .topic = {"a/b", 3}, .props = build(&pb, v, N(v)),
				  .payload = {(const uint8_t *)"hi", 2}}, out;
	DECODES_V5(mqtt_decode_publish, sent(mqtt_encode_publish(&b, MQTT_V5, &in)), &out, 0);
	cr_assert_eq(buf_used(&b), mqtt_publish_size(MQTT_V5, &in));
	cr_assert(str_is(out.topic, "a/b") && out.packet_id == 9 && BIN_IS(out.payload, "hi"));
	cr_assert(bin_is(out.props, buf_head(&pb), buf_used(&pb)), "section changed on the way");
	check_section(out.props, v, N(v)); /* the repeated sub id reads as its last value */
}

Test(props_round_trip, connack_all_17_connack_properties_3_2_2_3)
{
#define R10 "reason str"
	static const struct pv v[] = {
		NUM(SESSION_EXPIRY, T_U32, 3600), NUM(RECEIVE_MAXIMUM, T_U16, 20), NUM(MAXIMUM_QOS, T_BYTE, 1),
		NUM(RETAIN_AVAILABLE, T_BYTE, 0), NUM(MAXIMUM_PACKET_SIZE, T_U32, 1u << 20),
		DATA(ASSIGNED_CLIENT_ID, T_STR, "auto-1"), NUM(TOPIC_ALIAS_MAXIMUM, T_U16, 0),
		DATA(REASON_STRING, T_STR, R10 R10 R10 R10 R10 R10), PAIR("n", "v"),
		NUM(WILDCARD_SUB_AVAILABLE, T_BYTE, 1), NUM(SUB_ID_AVAILABLE, T_BYTE, 0),
		NUM(SHARED_SUB_AVAILABLE, T_BYTE, 1), NUM(SERVER_KEEP_ALIVE, T_U16, 30),
		DATA(RESPONSE_INFO, T_STR, "ri"), DATA(SERVER_REFERENCE, T_STR, "other:1883"),
		DATA(AUTH_METHOD, T_STR, "SCRAM"), DATA(AUTH_DATA, T_BIN, "\x01\x00"),
	};
	struct mqtt_connack in = {.session_present = true, .props = build(&pb, v, N(v))}, out;
	cr_assert_gt(in.props.len, 127, "wants a 2-byte property length");
	DECODES_V5(mqtt_decode_connack, sent(mqtt_encode_connack(&b, MQTT_V5, &in)), &out, 0);
	cr_assert(out.session_present && out.reason == 0);
	check_section(out.props, v, N(v));
}

Test(props_round_trip, acks_and_subacks_with_reason_string_3_4_2_2_3_9_2_1)
{
	static const struct pv v[] = {DATA(REASON_STRING, T_STR, "no such id"), PAIR("trace", "42")};
	struct mqtt_bin props = build(&pb, v, N(v));
	for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
		b.off = b.len = 0;
		struct mqtt_ack in = {.type = t, .packet_id = 0x1234, .reason = 0x92, .props = props}, a;
		DECODES_V5(mqtt_decode_ack, sent(mqtt_encode_ack(&b, MQTT_V5, &in)), &a, 0);
		cr_assert(a.type == t && a.packet_id == 0x1234 && a.reason == 0x92);
		check_section(a.props, v, N(v));
	}
	for (uint8_t t = MQTT_SUBACK; t <= MQTT_UNSUBACK; t += 2) {
		b.off = b.len = 0;
		struct mqtt_suback in = {.packet_id = 3, .props = props, .codes = {(const uint8_t *)"\x01", 1}}, s;
		DECODES_V5(mqtt_decode_suback, sent(mqtt_encode_suback(&b, MQTT_V5, t, &in)), &s, 0);
		cr_assert(s.packet_id == 3 && BIN_IS(s.codes, "\x01"));
		check_section(s.props, v, N(v));
	}
}

Test(props_round_trip, disconnect_with_session_expiry_and_server_reference_3_14_2_2)
{
	static const struct pv v[] = {NUM(SESSION_EXPIRY, T_U32, 0), DATA(SERVER_REFERENCE, T_STR, "b:1"),
				      DATA(REASON_STRING, T_STR, "moving"), PAIR("", "")};
	struct mqtt_disconnect in = {.reason = MQTT_RC_SERVER_MOVED, .props = build(&pb, v, N(v))}, d;
	DECODES_V5(mqtt_decode_disconnect, sent(mqtt_encode_disconnect(&b, MQTT_V5, &in)), &d, 0);
	cr_assert_eq(d.reason, MQTT_RC_SERVER_MOVED);
	check_section(d.props, v, N(v)); /* session expiry present though 0 */
}

Test(props_round_trip, empty_and_unvalidated_sections_read_nothing)
{
	struct mqtt_props r;
	memset(&r, 0xAA, sizeof(r));
	mqtt_props_read((struct mqtt_bin){0}, &r);
	cr_assert_eq(r.has, 0);
	cr_assert_eq(mqtt_props_num(&r, MQTT_PROP_RECEIVE_MAXIMUM, 65535), 65535);
	/* a section that was never validated: the walk stops and rest is untouched */
	static const uint8_t cut[] = {0x26, 0, 1, 'k', 0, 1, 'v', 0x11, 0, 0};
	struct mqtt_bin rest = {cut, sizeof(cut)};
	struct mqtt_prop p;
	cr_assert(mqtt_props_next(&rest, &p) && p.id == 0x26);
	cr_assert_not(mqtt_props_next(&rest, &p));
	cr_assert(rest.p == cut + 7 && rest.len == 3);
}

/* --- 3. mqtt_props_copy ------------------------------------------------------------------------- */

/* A PUBLISH section as a forwarding broker sees it: user properties mixed
 * with one-hop properties. */
static const struct pv fwd[] = {
	NUM(TOPIC_ALIAS, T_U16, 4), PAIR("z", "1"), NUM(MESSAGE_EXPIRY, T_U32, 60), PAIR("a", "2"),
	DATA(CONTENT_TYPE, T_STR, "t"), PAIR("z", "3"), NUM(SUBSCRIPTION_ID, T_VARINT, 300),
};

Test(props_copy, drop_mask_removes_exactly_the_named_ids_MQTT_3_3_2_17_MQTT_3_3_4_5)
{
	struct mqtt_bin in = build(&pb, fwd, N(fwd));
	uint64_t drop = BIT(MQTT_PROP_TOPIC_ALIAS) | BIT(MQTT_PROP_MESSAGE_EXPIRY) | BIT(MQTT_PROP_SUBSCRIPTION_ID);
	cr_assert_eq(mqtt_props_copy(&b, in, drop), FM_OK);
	ASSERT_BYTES(&b, 0x26, 0, 1, 'z', 0, 1, '1', 0x26, 0, 1, 'a', 0, 1, '2', 0x03, 0, 1, 't',
		     0x26, 0, 1, 'z', 0, 1, '3');
	b.off = b.len = 0; /* dropping user properties keeps everything else */
	cr_assert_eq(mqtt_props_copy(&b, in, BIT(MQTT_PROP_USER_PROPERTY)), FM_OK);
	ASSERT_BYTES(&b, 0x23, 0, 4, 0x02, 0, 0, 0, 60, 0x03, 0, 1, 't', 0x0B, 0xAC, 0x02);
	b.off = b.len = 0; /* a mask naming only absent ids drops nothing */
	cr_assert_eq(mqtt_props_copy(&b, in, BIT(MQTT_PROP_SESSION_EXPIRY) | BIT(0x3F)), FM_OK);
	cr_assert(bin_is(mqtt_props_of(&b), in.p, in.len));
}

Test(props_copy, user_properties_keep_their_order_MQTT_3_3_2_18)
{
	struct buf copy;
	buf_init(&copy);
	cr_assert_eq(mqtt_props_copy(&copy, build(&pb, fwd, N(fwd)), ~BIT(MQTT_PROP_USER_PROPERTY)), FM_OK);
	/* the copy is a valid PUBLISH section: send it on and decode it */
	struct mqtt_publish pub = {.topic = {"t", 1}, .props = mqtt_props_of(&copy)}, got;
	DECODES_V5(mqtt_decode_publish, sent(mqtt_encode_publish(&b, MQTT_V5, &pub)), &got, 0);
	static const struct pv want[] = {PAIR("z", "1"), PAIR("a", "2"), PAIR("z", "3")};
	check_section(got.props, want, N(want));
	buf_fini(&copy);
}

Test(props_copy, empty_section_copies_nothing_and_copies_append)
{
	cr_assert_eq(mqtt_props_copy(&b, (struct mqtt_bin){0}, 0), FM_OK);
	cr_assert_eq(buf_used(&b), 0);
	struct mqtt_bin in = build(&pb, fwd, N(fwd));
	cr_assert_eq(mqtt_props_copy(&b, in, ~0ull), FM_OK);
	cr_assert_eq(buf_used(&b), 0, "everything dropped");
	mqtt_prop_put_byte(&b, MQTT_PROP_PAYLOAD_FORMAT, 0);
	cr_assert_eq(mqtt_props_copy(&b, in, ~BIT(MQTT_PROP_CONTENT_TYPE)), FM_OK);
	ASSERT_BYTES(&b, 0x01, 0, 0x03, 0, 1, 't');
}

/* --- 4. the validator, packet by packet ----------------------------------------------------------- */

/* The columns of the table in section 2.2.2.2 ("Properties"). */
enum col {
	COL_CONNECT, COL_WILL, COL_CONNACK, COL_PUBLISH, COL_ACK, COL_SUBSCRIBE, COL_UNSUBSCRIBE, COL_DISCONNECT
};
#define IN(c) (1u << (c))
#define PUB_WILL (IN(COL_PUBLISH) | IN(COL_WILL))

/* Section 2.2.2.2, transcribed from the spec (AUTH has no decoder). */
static const struct { uint8_t type; uint16_t in; } spec[0x80] = {
	[0x01] = {T_BYTE, PUB_WILL},  [0x02] = {T_U32, PUB_WILL},  [0x03] = {T_STR, PUB_WILL},
	[0x08] = {T_STR, PUB_WILL},   [0x09] = {T_BIN, PUB_WILL},
	[0x0B] = {T_VARINT, IN(COL_PUBLISH) | IN(COL_SUBSCRIBE)},
	[0x11] = {T_U32, IN(COL_CONNECT) | IN(COL_CONNACK) | IN(COL_DISCONNECT)},
	[0x12] = {T_STR, IN(COL_CONNACK)},  [0x13] = {T_U16, IN(COL_CONNACK)},
	[0x15] = {T_STR, IN(COL_CONNECT) | IN(COL_CONNACK)}, [0x16] = {T_BIN, IN(COL_CONNECT) | IN(COL_CONNACK)},
	[0x17] = {T_BYTE, IN(COL_CONNECT)}, [0x18] = {T_U32, IN(COL_WILL)}, [0x19] = {T_BYTE, IN(COL_CONNECT)},
	[0x1A] = {T_STR, IN(COL_CONNACK)},  [0x1C] = {T_STR, IN(COL_CONNACK) | IN(COL_DISCONNECT)},
	[0x1F] = {T_STR, IN(COL_CONNACK) | IN(COL_ACK) | IN(COL_DISCONNECT)},
	[0x21] = {T_U16, IN(COL_CONNECT) | IN(COL_CONNACK)}, [0x22] = {T_U16, IN(COL_CONNECT) | IN(COL_CONNACK)},
	[0x23] = {T_U16, IN(COL_PUBLISH)},  [0x24] = {T_BYTE, IN(COL_CONNACK)}, [0x25] = {T_BYTE, IN(COL_CONNACK)},
	[0x26] = {T_PAIR, 0xFF},            [0x27] = {T_U32, IN(COL_CONNECT) | IN(COL_CONNACK)},
	[0x28] = {T_BYTE, IN(COL_CONNACK)}, [0x29] = {T_BYTE, IN(COL_CONNACK)}, [0x2A] = {T_BYTE, IN(COL_CONNACK)},
};

/* Every decodable packet that has a section (bytes in octal escapes). */
#define S(s) (const uint8_t *)(s), (uint8_t)(sizeof(s) - 1)
static const struct kind {
	const char *name;
	uint8_t b0;                       /* fixed header byte 1 */
	enum col col;                     /* its column in the table */
	const uint8_t *pre; uint8_t pre_len;   /* before the section's length */
	const uint8_t *post; uint8_t post_len; /* after the section */
} kinds[] = {
	{"CONNECT", 0x10, COL_CONNECT, S("\0\4MQTT\5\2\0\74"), S("\0\0")},
	{"will", 0x10, COL_WILL, S("\0\4MQTT\5\6\0\74\0\0\0"), S("\0\1t\0\0")},
	{"CONNACK", 0x20, COL_CONNACK, S("\0\0"), S("")},
	{"PUBLISH", 0x30, COL_PUBLISH, S("\0\1t"), S("payload")},
	{"PUBACK", 0x40, COL_ACK, S("\0\1\0"), S("")},
	{"PUBREC", 0x50, COL_ACK, S("\0\1\0"), S("")},
	{"PUBREL", 0x62, COL_ACK, S("\0\1\0"), S("")},
	{"PUBCOMP", 0x70, COL_ACK, S("\0\1\0"), S("")},
	{"SUBACK", 0x90, COL_ACK, S("\0\1"), S("\0")},
	{"UNSUBACK", 0xB0, COL_ACK, S("\0\1"), S("\0")},
	{"SUBSCRIBE", 0x82, COL_SUBSCRIBE, S("\0\1"), S("\0\1a\0")},
	{"UNSUBSCRIBE", 0xA2, COL_UNSUBSCRIBE, S("\0\1"), S("\0\1a")},
	{"DISCONNECT", 0xE0, COL_DISCONNECT, S("\0"), S("")},
};
enum { K_CONNECT, K_WILL, K_CONNACK, K_PUBLISH, K_PUBACK, K_SUBSCRIBE = 10, K_UNSUBSCRIBE, K_DISCONNECT,
       N_KINDS };
_Static_assert(sizeof(kinds) / sizeof(kinds[0]) == N_KINDS, "kinds[] and K_* disagree");

static void put_varint(struct buf *b, uint32_t v)
{
	do {
		buf_append_u8(b, (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0)));
		v >>= 7;
	} while (v);
}

static int decode_v5(const struct mqtt_frame *f, uint8_t *reason)
{
	union { struct mqtt_connect c; struct mqtt_connack ca; struct mqtt_publish p; struct mqtt_ack a;
		struct mqtt_subscribe s; struct mqtt_suback sa; struct mqtt_disconnect d; } u;
	switch (f->type) {
	case MQTT_CONNECT: return mqtt_decode_connect(f, &u.c, reason);
	case MQTT_CONNACK: return mqtt_decode_connack(f, MQTT_V5, &u.ca, reason);
	case MQTT_PUBLISH: return mqtt_decode_publish(f, MQTT_V5, &u.p, reason);
	case MQTT_SUBSCRIBE: return mqtt_decode_subscribe(f, MQTT_V5, &u.s, reason);
	case MQTT_UNSUBSCRIBE: return mqtt_decode_unsubscribe(f, MQTT_V5, &u.s, reason);
	case MQTT_SUBACK: case MQTT_UNSUBACK: return mqtt_decode_suback(f, MQTT_V5, &u.sa, reason);
	case MQTT_DISCONNECT: return mqtt_decode_disconnect(f, MQTT_V5, &u.d, reason);
	default: return mqtt_decode_ack(f, MQTT_V5, &u.a, reason);
	}
}

/* Assert that packet kind k around the section props[0, n) decodes
 * (want 0) or fails with reason want. at: the caller's line or case. */
static void expect_in(int k, const uint8_t *props, size_t n, uint8_t want, int at)
{
	const struct kind *kd = &kinds[k];
	struct buf pkt;
	buf_init(&pkt);
	buf_append_u8(&pkt, kd->b0);
	put_varint(&pkt, (uint32_t)(kd->pre_len + mqtt_varint_size((uint32_t)n) + n + kd->post_len));
	buf_append(&pkt, kd->pre, kd->pre_len);
	put_varint(&pkt, (uint32_t)n);
	buf_append(&pkt, props, n);
	buf_append(&pkt, kd->post, kd->post_len);
	struct mqtt_frame f = frame_of(buf_head(&pkt), buf_used(&pkt));
	uint8_t reason = 0xEE;
	int rc = decode_v5(&f, &reason);
	cr_assert_eq(rc, want ? FM_EPROTO : FM_OK, "%s, case %d: rc %d reason 0x%02x", kd->name, at, rc, reason);
	cr_assert_eq(reason, want, "%s, case %d: reason 0x%02x, want 0x%02x", kd->name, at, reason, want);
	buf_fini(&pkt);
}

#define P(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define OK_IN(k, ...) expect_in((k), P(__VA_ARGS__), 0, __LINE__)
#define FAILS_IN(k, want, ...) expect_in((k), P(__VA_ARGS__), (want), __LINE__)

/* One property with id and a valid value of its type (a byte for ids the
 * spec does not define). Returns its length. */
static size_t sample(uint8_t id, uint8_t *out)
{
	out[0] = id;
	switch (spec[id].type) {
	case T_U16: memcpy(out + 1, "\0\1", 2); return 3;
	case T_U32: memcpy(out + 1, "\0\0\0\1", 4); return 5;
	case T_STR: case T_BIN: memcpy(out + 1, "\0\1x", 3); return 4;
	case T_PAIR: memcpy(out + 1, "\0\1k\0\1v", 6); return 7;
	default: out[1] = 1; return 2; /* byte, varint, undefined */
	}
}

Test(props_valid, each_id_only_in_its_packets_else_malformed_2_2_2_2)
{
	for (int k = 0; k < N_KINDS; k++) {
		expect_in(k, NULL, 0, 0, -1); /* an empty section is fine everywhere */
		for (unsigned id = 0; id < 0x80; id++) {
			uint8_t p[8];
			size_t n = sample((uint8_t)id, p);
			bool allowed = spec[id].in & IN(kinds[k].col);
			expect_in(k, p, n, allowed ? 0 : MALFORMED, (int)id);
		}
	}
}

Test(props_valid, named_misplaced_properties_are_malformed_2_2_2_2)
{
	FAILS_IN(K_CONNECT, MALFORMED, 0x23, 0, 1);          /* topic alias in CONNECT */
	FAILS_IN(K_PUBLISH, MALFORMED, 0x18, 0, 0, 0, 1);    /* will delay in PUBLISH */
	FAILS_IN(K_CONNECT, MALFORMED, 0x18, 0, 0, 0, 1);    /* ... and in CONNECT's own section */
	FAILS_IN(K_PUBLISH, MALFORMED, 0x11, 0, 0, 0, 1);    /* session expiry in PUBLISH */
	FAILS_IN(K_WILL, MALFORMED, 0x11, 0, 0, 0, 1);       /* ... and in the will */
	FAILS_IN(K_UNSUBSCRIBE, MALFORMED, 0x0B, 1);         /* subscription id in UNSUBSCRIBE */
	FAILS_IN(K_DISCONNECT, MALFORMED, 0x21, 0, 1);       /* receive maximum in DISCONNECT */
	FAILS_IN(K_WILL, MALFORMED, 0x23, 0, 1);             /* topic alias in the will */
	FAILS_IN(K_PUBACK, MALFORMED, 0x26, 0, 0, 0, 0, 0x11, 0, 0, 0, 1); /* after a good one */
}

Test(props_valid, unknown_ids_are_malformed_2_2_2_2)
{
	/* one-byte ids (0x00, 0x04, 0x2B .. 0x7F) are in the test above */
	for (int k = 0; k < N_KINDS; k++) {
		FAILS_IN(k, MALFORMED, 0x80, 0x01, 0);               /* 2-byte id 128 */
		FAILS_IN(k, MALFORMED, 0xA6, 0x01, 0, 0, 0, 0);      /* 2-byte id 166 (0x26 + 128) */
		FAILS_IN(k, MALFORMED, 0x80, 0x80, 0x80, 0x80, 0x01); /* 5-byte varint [MQTT-1.5.5-1] */
	}
}

/* A defined id in a longer encoding than needed (0x81 0x00 is 1, Payload
 * Format Indicator) is malformed [MQTT-1.5.5-1]: read leniently, it would
 * be forwarded byte for byte to subscribers that may refuse it. */
Test(props_valid, defined_id_in_two_byte_form_is_malformed_MQTT_1_5_5_1)
{
	FAILS_IN(K_PUBLISH, MALFORMED, 0x81, 0x00, 0x01);                /* payload format indicator */
	FAILS_IN(K_PUBLISH, MALFORMED, 0xA6, 0x00, 0, 1, 'k', 0, 1, 'v'); /* user property */
	FAILS_IN(K_PUBLISH, MALFORMED, 0xA3, 0x00, 0x00, 0x01);          /* topic alias */
}

Test(props_valid, second_copy_is_protocol_error_except_user_property_and_publish_sub_id_2_2_2_2)
{
	for (int k = 0; k < N_KINDS; k++) {
		for (uint8_t id = 1; id < 0x2B; id++) {
			if (!(spec[id].in & IN(kinds[k].col)))
				continue;
			uint8_t p[16];
			size_t n = sample(id, p);
			memcpy(p + n, p, n);
			bool may_repeat = id == 0x26 || (id == 0x0B && kinds[k].col == COL_PUBLISH);
			expect_in(k, p, 2 * n, may_repeat ? 0 : PROTO_ERR, id);
		}
	}
}

Test(props_valid, named_duplicates_3_3_2_3_3_3_1_2_11_2_3_8_2_1_2)
{
	FAILS_IN(K_PUBLISH, PROTO_ERR, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2);        /* message expiry */
	FAILS_IN(K_CONNECT, PROTO_ERR, 0x11, 0, 0, 0, 1, 0x26, 0, 0, 0, 0, 0x11, 0, 0, 0, 1); /* not adjacent */
	FAILS_IN(K_SUBSCRIBE, PROTO_ERR, 0x0B, 1, 0x0B, 2);                       /* subscription ids */
	FAILS_IN(K_WILL, PROTO_ERR, 0x18, 0, 0, 0, 1, 0x18, 0, 0, 0, 1);          /* will delay */
	OK_IN(K_CONNECT, 0x26, 0, 1, 'k', 0, 1, 'v', 0x26, 0, 1, 'k', 0, 1, 'v'); /* same pair twice */
	OK_IN(K_PUBLISH, 0x0B, 1, 0x0B, 0x80, 0x01, 0x0B, 1);                      /* one per match */
	/* the first failure is the one reported */
	FAILS_IN(K_PUBLISH, PROTO_ERR, 0x23, 0, 1, 0x23, 0, 1, 0x7F, 0);
	FAILS_IN(K_PUBLISH, MALFORMED, 0x7F, 0, 0x23, 0, 1, 0x23, 0, 1);
}

Test(props_valid, forbidden_values_are_protocol_errors_MQTT_3_3_2_8_3_1_2_11)
{
	FAILS_IN(K_CONNECT, PROTO_ERR, 0x21, 0, 0);                 /* receive maximum 0 (3.1.2.11.3) */
	FAILS_IN(K_CONNACK, PROTO_ERR, 0x21, 0, 0);                 /* ... (3.2.2.3.3) */
	FAILS_IN(K_CONNECT, PROTO_ERR, 0x27, 0, 0, 0, 0);           /* maximum packet size 0 (3.1.2.11.4) */
	FAILS_IN(K_CONNACK, PROTO_ERR, 0x27, 0, 0, 0, 0);           /* ... (3.2.2.3.6) */
	FAILS_IN(K_PUBLISH, MQTT_RC_TOPIC_ALIAS_INVALID, 0x23, 0, 0); /* topic alias 0 [MQTT-3.3.2-8], 0x94 (3.3.4) */
	FAILS_IN(K_PUBLISH, PROTO_ERR, 0x0B, 0);                    /* subscription identifier 0 */
	FAILS_IN(K_SUBSCRIBE, PROTO_ERR, 0x0B, 0);                  /* ... (3.8.2.1.2) */
	FAILS_IN(K_CONNECT, PROTO_ERR, 0x17, 2);                    /* request problem information 2 */
	FAILS_IN(K_CONNECT, PROTO_ERR, 0x19, 2);                    /* request response information 2 */
	FAILS_IN(K_CONNECT, PROTO_ERR, 0x19, 0xFF);
	FAILS_IN(K_PUBLISH, PROTO_ERR, 0x01, 2);                    /* payload format indicator 2 */
	FAILS_IN(K_WILL, PROTO_ERR, 0x01, 0xFF);                    /* ... in the will (3.1.3.2.3) */
	static const uint8_t connack_flags[] = {0x24, 0x25, 0x28, 0x29, 0x2A}; /* 3.2.2.3.4 .. 3.2.2.3.13 */
	for (size_t i = 0; i < sizeof(connack_flags); i++)
		expect_in(K_CONNACK, (const uint8_t[]){connack_flags[i], 2}, 2, PROTO_ERR, connack_flags[i]);
}

Test(props_valid, boundary_values_accepted_1_5_5_3_3_2_3_4)
{
	OK_IN(K_CONNECT, 0x21, 0, 1, 0x27, 0, 0, 0, 1, 0x22, 0, 0, 0x17, 1, 0x19, 0);
	OK_IN(K_CONNACK, 0x21, 0xFF, 0xFF, 0x27, 0xFF, 0xFF, 0xFF, 0xFF, 0x24, 0, 0x13, 0, 0);
	OK_IN(K_PUBLISH, 0x23, 0, 1, 0x01, 0, 0x02, 0, 0, 0, 0);
	OK_IN(K_PUBLISH, 0x23, 0xFF, 0xFF, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F); /* sub id 268,435,455 */
	OK_IN(K_SUBSCRIBE, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F);
	OK_IN(K_WILL, 0x01, 1, 0x18, 0xFF, 0xFF, 0xFF, 0xFF);
}

Test(props_valid, values_past_the_section_or_packet_are_malformed_2_2_2_1)
{
	struct mqtt_publish pub; /* section length past the end of the packet, or 5 bytes long */
	DECODES_V5(mqtt_decode_publish, PKT(0x30, 0, 1, 't', 9, 0x01, 1), &pub, MALFORMED);
	DECODES_V5(mqtt_decode_publish, PKT(0x30, 0, 1, 't', 0xFF, 0xFF, 0xFF, 0x7F), &pub, MALFORMED);
	DECODES_V5(mqtt_decode_publish, PKT(0x30, 0, 1, 't', 0x80, 0x80, 0x80, 0x80, 0x01), &pub, MALFORMED);
	/* a value that would fit in the packet but not in the section: the
	 * bytes after it (payload, client id, filters) are not borrowed */
	FAILS_IN(K_PUBLISH, MALFORMED, 0x03, 0, 5);             /* "payload" follows */
	FAILS_IN(K_CONNECT, MALFORMED, 0x11, 0, 0);             /* client id length follows */
	FAILS_IN(K_SUBSCRIBE, MALFORMED, 0x0B, 0x80);           /* varint cut at the end */
	FAILS_IN(K_SUBSCRIBE, MALFORMED, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x01); /* 5-byte value */
	FAILS_IN(K_PUBACK, MALFORMED, 0x26, 0, 1, 'k');         /* pair without its value */
	FAILS_IN(K_PUBACK, MALFORMED, 0x26, 0, 1, 'k', 0, 2, 'v');
	FAILS_IN(K_CONNACK, MALFORMED, 0x24);                   /* id without a value */
	FAILS_IN(K_CONNACK, MALFORMED, 0x13, 0);
	FAILS_IN(K_WILL, MALFORMED, 0x09, 0, 9, 'c');           /* binary past the section */
}

Test(props_valid, string_values_must_be_utf8_MQTT_1_5_4_1_MQTT_1_5_4_2_MQTT_1_5_7_1)
{
	FAILS_IN(K_PUBLISH, MALFORMED, 0x03, 0, 2, 0xC0, 0x80);       /* overlong U+0000 */
	FAILS_IN(K_PUBLISH, MALFORMED, 0x03, 0, 3, 'a', 0x00, 'b');   /* U+0000 */
	FAILS_IN(K_PUBLISH, MALFORMED, 0x08, 0, 3, 0xED, 0xA0, 0x80); /* surrogate D800 */
	FAILS_IN(K_WILL, MALFORMED, 0x03, 0, 1, 0x80);                /* lone continuation byte */
	FAILS_IN(K_PUBACK, MALFORMED, 0x1F, 0, 1, 0x00);              /* reason string */
	FAILS_IN(K_CONNACK, MALFORMED, 0x12, 0, 2, 0xC3, 0x28);       /* assigned client id */
	FAILS_IN(K_CONNECT, MALFORMED, 0x15, 0, 1, 0xFF);             /* auth method */
	FAILS_IN(K_DISCONNECT, MALFORMED, 0x26, 0, 1, 0x00, 0, 1, 'v'); /* user property name */
	FAILS_IN(K_DISCONNECT, MALFORMED, 0x26, 0, 1, 'k', 0, 1, 0xC0); /* user property value */
	OK_IN(K_PUBLISH, 0x03, 0, 6, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80); /* U+00E9, U+1F600 */
	/* binary values carry any bytes */
	OK_IN(K_PUBLISH, 0x09, 0, 3, 0x00, 0xC0, 0x80);
	OK_IN(K_CONNECT, 0x16, 0, 2, 0xFF, 0x00);
}

/* --- 5. the 5.0 decoders ---------------------------------------------------------------------------- */

Test(v5_decode, connect_fields_follow_both_property_sections_3_1_2_11_3_1_3_2)
{
	struct mqtt_frame f = PKT(0x10, HDR_V5(0xC6), 8, 0x11, 0, 0, 0, 30, 0x21, 0, 9, 0, 2, 'c', '1',
				  7, 0x18, 0, 0, 0, 5, 0x01, 1, 0, 1, 'w', 0, 2, 'b', 'y', 0, 1, 'u', 0, 1, 'p');
	struct mqtt_connect c;
	uint8_t reason = 0xFF;
	cr_assert_eq(mqtt_decode_connect(&f, &c, &reason), FM_OK, "reason 0x%02x", reason);
	cr_assert(c.version == MQTT_V5 && c.clean_start && c.will_flag && c.keepalive_s == 60);
	cr_assert(str_is(c.client_id, "c1") && str_is(c.will_topic, "w") && BIN_IS(c.will_payload, "by"));
	cr_assert(str_is(c.username, "u") && BIN_IS(c.password, "p"));
	static const struct pv cv[] = {NUM(SESSION_EXPIRY, T_U32, 30), NUM(RECEIVE_MAXIMUM, T_U16, 9)};
	static const struct pv wv[] = {NUM(WILL_DELAY, T_U32, 5), NUM(PAYLOAD_FORMAT, T_BYTE, 1)};
	check_section(c.props, cv, N(cv));
	check_section(c.will_props, wv, N(wv));
	/* empty sections: client id right after CONNECT's, will topic after the will's */
	f = PKT(0x10, HDR_V5(0x06), 0, 0, 1, 'x', 0, 0, 1, 'w', 0, 0);
	cr_assert_eq(mqtt_decode_connect(&f, &c, &reason), FM_OK);
	cr_assert(str_is(c.client_id, "x") && str_is(c.will_topic, "w") && !c.props.len && !c.will_props.len);
}

Test(v5_decode, acks_reason_and_properties_optional_3_4_2_1_3_4_2_2)
{
	static const uint8_t b0[] = {0x40, 0x50, 0x62, 0x70};
	static const struct pv rs[] = {DATA(REASON_STRING, T_STR, "no")};
	struct mqtt_ack a;
	for (size_t i = 0; i < N(b0); i++) {
		DECODES_V5(mqtt_decode_ack, PKT(b0[i], 0, 7), &a, 0);
		cr_assert(a.packet_id == 7 && a.reason == MQTT_RC_SUCCESS && !a.props.len, "0x00 implied");
		DECODES_V5(mqtt_decode_ack, PKT(b0[i], 0, 7, 0x92), &a, 0);
		cr_assert(a.reason == MQTT_RC_PACKET_ID_NOT_FOUND && !a.props.len);
		DECODES_V5(mqtt_decode_ack, PKT(b0[i], 0, 7, 0x10, 0), &a, 0);
		cr_assert(a.reason == 0x10 && !a.props.len);
		DECODES_V5(mqtt_decode_ack, PKT(b0[i], 0, 7, 0x80, 5, 0x1F, 0, 2, 'n', 'o'), &a, 0);
		cr_assert_eq(a.reason, MQTT_RC_UNSPECIFIED);
		check_section(a.props, rs, N(rs));
		DECODES_V5(mqtt_decode_ack, PKT(b0[i], 0, 7, 0x80, 5, 0x1F, 0, 2), &a, MALFORMED);
	}
}

Test(v5_decode, disconnect_reason_and_session_expiry_3_14_2_1_3_14_2_2_2)
{
	struct mqtt_disconnect d;
	DECODES_V5(mqtt_decode_disconnect, PKT(0xE0), &d, 0);
	cr_assert(d.reason == MQTT_RC_SUCCESS && !d.props.len, "zero length: normal disconnection");
	DECODES_V5(mqtt_decode_disconnect, PKT(0xE0, 0x04), &d, 0);
	cr_assert(d.reason == MQTT_RC_DISCONNECT_WITH_WILL && !d.props.len);
	DECODES_V5(mqtt_decode_disconnect, PKT(0xE0, 0x00, 9, 0x11, 0, 0, 0x0E, 0x10, 0x1F, 0, 1, 'z'), &d, 0);
	static const struct pv v[] = {NUM(SESSION_EXPIRY, T_U32, 3600), DATA(REASON_STRING, T_STR, "z")};
	check_section(d.props, v, N(v));
	DECODES_V5(mqtt_decode_disconnect, PKT(0xE0, 0x00, 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2), &d, PROTO_ERR);
}

Test(v5_decode, subscribe_options_no_local_rap_retain_handling_0_1_2_3_8_3_1)
{
	/* QoS | No Local (bit 2) | Retain As Published (bit 3) | Retain Handling (bits 4-5) */
	static const uint8_t ok[] = {0x00, 0x04, 0x08, 0x10, 0x20, 0x2E, 0x1D, 0x0C};
	for (size_t i = 0; i < sizeof(ok); i++) {
		struct mqtt_subscribe s;
		DECODES_V5(mqtt_decode_subscribe, PKT(0x82, 0, 9, 2, 0x0B, 7, 0, 1, 'a', ok[i], 0, 1, 'b', 1), &s, 0);
		cr_assert_eq(s.count, 2);
		struct mqtt_entry_iter it;
		struct mqtt_sub_entry e;
		mqtt_entries_begin(&s, true, &it);
		cr_assert(mqtt_entries_next(&it, &e) && str_is(e.filter, "a") && e.options == ok[i], "0x%02x", ok[i]);
		cr_assert(mqtt_entries_next(&it, &e) && str_is(e.filter, "b") && e.options == 0x01);
	}
}

Test(v5_decode, subscribe_retain_handling_3_and_reserved_bits_rejected_MQTT_3_8_3_5)
{
	/* Bits 6-7 are reserved [MQTT-3.8.3-5]: Malformed. Retain Handling 3 and
	 * QoS 3 are Protocol Errors (3.8.3.1). */
	static const uint8_t malformed[] = {0x40, 0x80, 0xC0, 0x41};
	static const uint8_t proto[] = {0x30, 0x3E, 0x03, 0x33};
	for (size_t i = 0; i < sizeof(malformed); i++) {
		struct mqtt_subscribe s;
		DECODES_V5(mqtt_decode_subscribe, PKT(0x82, 0, 9, 0, 0, 1, 'a', 0, 0, 1, 'b', malformed[i]), &s, MALFORMED);
		DECODES_V5(mqtt_decode_subscribe, PKT(0x82, 0, 9, 0, 0, 1, 'a', 0, 0, 1, 'b', proto[i]), &s, PROTO_ERR);
	}
}

Test(v5_decode, publish_empty_topic_left_to_the_protocol_layer_3_3_2_3_4)
{
	struct mqtt_publish p;
	DECODES_V5(mqtt_decode_publish, PKT(0x32, 0, 0, 0, 5, 3, 0x23, 0, 5, 'x'), &p, 0);
	static const struct pv alias[] = {NUM(TOPIC_ALIAS, T_U16, 5)};
	cr_assert(p.topic.len == 0 && p.packet_id == 5 && BIN_IS(p.payload, "x"));
	check_section(p.props, alias, N(alias));
	/* No topic and no alias is a Protocol Error (3.3.2.3.4), but only the
	 * protocol layer knows the alias map: the decoder accepts it. */
	DECODES_V5(mqtt_decode_publish, PKT(0x30, 0, 0, 0, 'x'), &p, 0);
	cr_assert(p.topic.len == 0 && p.props.len == 0 && BIN_IS(p.payload, "x"));
	/* 3.1.1 has no section: the same bytes after the topic are payload */
	struct mqtt_frame v311 = PKT(0x30, 0, 1, 't', 3, 0x23, 0, 5);
	uint8_t reason;
	cr_assert_eq(mqtt_decode_publish(&v311, MQTT_V311, &p, &reason), FM_OK);
	cr_assert(p.props.len == 0 && BIN_IS(p.payload, "\x03\x23\x00\x05"));
}

/* AUTH (3.15): reason code and properties both optional (no reason means
 * 0x00), only 0x00, 0x18 and 0x19 allowed, and only in 5.0. */
Test(v5_decode, auth_reason_codes_and_properties_3_15_2_1_3_15_2_2)
{
	struct mqtt_auth a;
	DECODES_V5(mqtt_decode_auth, PKT(0xF0, 0x00), &a, 0);
	cr_assert_eq(a.reason, 0);
	DECODES_V5(mqtt_decode_auth, PKT(0xF0, 0x18, 0), &a, 0);
	cr_assert_eq(a.reason, MQTT_RC_CONTINUE_AUTH);
	DECODES_V5(mqtt_decode_auth, PKT(0xF0, 0x19, 7, 0x15, 0, 1, 'm', 0x16, 0, 0), &a, 0);
	cr_assert(a.reason == MQTT_RC_REAUTHENTICATE && a.props.len == 7);
	DECODES_V5(mqtt_decode_auth, PKT(0xF0, 0x87, 0), &a, MALFORMED);       /* not an AUTH code */
	DECODES_V5(mqtt_decode_auth, PKT(0xF0, 0x18, 3, 0x23, 0, 1), &a, MALFORMED); /* topic alias: not in AUTH */
	struct mqtt_frame f = PKT(0xF0, 0x00);
	uint8_t reason;
	cr_assert_eq(mqtt_decode_auth(&f, MQTT_V311, &a, &reason), FM_EPROTO, "AUTH is 5.0 only");
	/* an empty AUTH (success, no properties) encodes as 2 bytes */
	struct mqtt_auth out = { .reason = 0 };
	cr_assert_eq(mqtt_encode_auth(&b, &out), FM_OK);
	ASSERT_BYTES(&b, 0xF0, 0x00);
	struct mqtt_auth cont = { .reason = MQTT_RC_CONTINUE_AUTH };
	buf_consume(&b, buf_used(&b));
	cr_assert_eq(mqtt_encode_auth(&b, &cont), FM_OK);
	ASSERT_BYTES(&b, 0xF0, 0x01, 0x18);
	buf_fini(&b);
}
