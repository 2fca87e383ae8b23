/* A catalogue of hostile MQTT 3.1.1 input over raw sockets, one test per
 * input, named after the normative statement it checks where the spec has
 * one. Every test keeps a canary (hostile.h) connected and subscribed at
 * QoS 1 from before the attack and gets a message through it afterwards;
 * the offending connection must be closed by the broker (except where a
 * statement says otherwise: invalid filters get SUBACK 0x80 and stay
 * open); where memory could be at stake, broker RSS must come back near
 * its baseline. Attackers that got as far as a CONNECT carry a will, which
 * a close for a protocol error publishes [MQTT-3.1.2-8]. */
#include "hostile.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static struct hb broker;

static void start(void) { hb_start(&broker, "message_size_limit 1000000"); }
/* connect_timeout 1 for the sockets that never send a CONNECT */
static void start_short_timeout(void) { hb_start(&broker, "message_size_limit 1000000\nconnect_timeout 1"); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(hostile_flags, .init = start, .fini = stop, .timeout = 60);
TestSuite(hostile_connect, .init = start, .fini = stop, .timeout = 60);
TestSuite(hostile_utf8, .init = start, .fini = stop, .timeout = 60);
TestSuite(hostile_packets, .init = start, .fini = stop, .timeout = 60);
TestSuite(hostile_filters, .init = start, .fini = stop, .timeout = 60);
TestSuite(hostile_size, .init = start, .fini = stop, .timeout = 120);
TestSuite(hostile_load, .init = start, .fini = stop, .timeout = 180);
TestSuite(hostile_timeout, .init = start_short_timeout, .fini = stop, .timeout = 120);

#define WILL_TOPIC "canary/will"
#define WILL_PAYLOAD "attacker gone"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- the shapes of an attack --------------------------------------------- */

/* bytes are the first thing a fresh connection sends: closed, with nothing
 * sent back but the CONNACK connack asks for (NO_REPLY: nothing at all). */
static void first_bytes_close(const void *bytes, size_t n, int connack, const char *what)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_open(&r, broker.port);
	raw_send(&r, bytes, n);
	expect_closed_after(&r, connack, what);
	canary_down(&c, what);
}

/* A hand-built CONNECT (fields length-prefixed, in order) as first packet. */
static void connect_closes(uint8_t first_byte, const char *proto, uint8_t level, uint8_t flags,
			   const struct field *fields, size_t n, int connack, const char *what)
{
	struct buf b;
	buf_init(&b);
	put_connect(&b, first_byte, proto, level, flags, fields, n);
	first_bytes_close(buf_head(&b), buf_used(&b), connack, what);
	buf_fini(&b);
}

#define FIELDS(...) (const struct field[]){__VA_ARGS__}, \
	sizeof((const struct field[]){__VA_ARGS__}) / sizeof(struct field)
/* A 3.1.1 CONNECT with these flags and payload fields. */
#define CONNECT_CLOSES(flags, connack, what, ...) \
	connect_closes(0x10, "MQTT", 4, (flags), FIELDS(__VA_ARGS__), (connack), (what))

/* An accepted client with a will on WILL_TOPIC. */
static void attacker_up(struct raw *r, const char *id)
{
	struct raw_connect_opts o = {.client_id = id, .clean = true, .keepalive = 60,
				     .will_topic = WILL_TOPIC, .will_payload = WILL_PAYLOAD};
	cr_assert_eq(raw_connect(r, broker.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
}

/* bytes after an accepted CONNECT: closed with no reply, and the close
 * being for a protocol error, the will is published [MQTT-3.1.2-8]. */
static void after_connect_closes(const void *bytes, size_t n, const char *what)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	attacker_up(&r, "attacker");
	raw_send(&r, bytes, n);
	expect_closed_after(&r, NO_REPLY, what);
	canary_check_will(&c, WILL_TOPIC, WILL_PAYLOAD, what);
	canary_down(&c, what);
}

/* ========================================================================
 * Fixed header flags: reserved bits must be as in table 2.2 [MQTT-2.2.2-1],
 * and a receiver closes on any other value [MQTT-2.2.2-2]; packet types a
 * client never sends (table 2.1) and type 15 (reserved in 3.1.1).
 * ======================================================================== */

Test(hostile_flags, connect_with_fixed_header_flags_closes_MQTT_2_2_2_2)
{
	connect_closes(0x12, "MQTT", 4, CF_CLEAN, FIELDS(FIELD("flags")), NO_REPLY, "CONNECT flags 0010");
}

Test(hostile_flags, connack_with_flags_from_client_closes_MQTT_2_2_2_2)
{
	after_connect_closes(BYTES(0x21, 2, 0, 0), "CONNACK flags 0001 from a client");
}

Test(hostile_flags, puback_with_flags_closes_MQTT_2_2_2_2)
{
	after_connect_closes(BYTES(0x41, 2, 0, 1), "PUBACK flags 0001");
}

Test(hostile_flags, pubrec_with_flags_closes_MQTT_2_2_2_2)
{
	after_connect_closes(BYTES(0x52, 2, 0, 1), "PUBREC flags 0010");
}

Test(hostile_flags, pubcomp_with_flags_closes_MQTT_2_2_2_2)
{
	after_connect_closes(BYTES(0x78, 2, 0, 1), "PUBCOMP flags 1000");
}

Test(hostile_flags, pubrel_with_flags_0011_closes_MQTT_3_6_1_1)
{
	after_connect_closes(BYTES(0x63, 2, 0, 1), "PUBREL flags 0011");
}

Test(hostile_flags, subscribe_with_flags_0000_closes_MQTT_3_8_1_1)
{
	after_connect_closes(BYTES(0x80, 6, 0, 1, 0, 1, 'a', 0), "SUBSCRIBE flags 0000");
}

Test(hostile_flags, unsubscribe_with_flags_0000_closes_MQTT_3_10_1_1)
{
	after_connect_closes(BYTES(0xA0, 5, 0, 1, 0, 1, 'a'), "UNSUBSCRIBE flags 0000");
}

Test(hostile_flags, pingreq_with_flags_closes_MQTT_2_2_2_2)
{
	after_connect_closes(BYTES(0xC4, 0), "PINGREQ flags 0100");
}

/* A DISCONNECT with reserved bits set is no DISCONNECT: the will goes out. */
Test(hostile_flags, disconnect_with_flags_closes_and_publishes_the_will_MQTT_3_14_1_1)
{
	after_connect_closes(BYTES(0xE2, 0), "DISCONNECT flags 0010");
}

Test(hostile_flags, suback_from_client_closes_MQTT_2_2_1)
{
	after_connect_closes(BYTES(0x90, 3, 0, 1, 0), "SUBACK from a client");
}

Test(hostile_flags, unsuback_from_client_closes_MQTT_2_2_1)
{
	after_connect_closes(BYTES(0xB0, 2, 0, 1), "UNSUBACK from a client");
}

Test(hostile_flags, pingresp_from_client_closes_MQTT_2_2_1)
{
	after_connect_closes(BYTES(0xD0, 0), "PINGRESP from a client");
}

Test(hostile_flags, packet_type_15_closes_in_3_1_1_MQTT_2_2_1)
{
	after_connect_closes(BYTES(0xF0, 0), "packet type 15 (AUTH in 5.0)");
}

/* ========================================================================
 * CONNECT: strings, protocol name and level, flags, fields; anything
 * before CONNECT; a second CONNECT.
 * ======================================================================== */

Test(hostile_connect, client_id_with_invalid_utf8_closes_MQTT_1_5_3_1)
{
	CONNECT_CLOSES(CF_CLEAN, NO_REPLY, "overlong NUL in client id", FIELD("id\xC0\x80"));
}

Test(hostile_connect, client_id_with_nul_closes_MQTT_1_5_3_2)
{
	CONNECT_CLOSES(CF_CLEAN, NO_REPLY, "U+0000 in client id", FIELD("id\0x"));
}

Test(hostile_connect, will_topic_with_invalid_utf8_closes_MQTT_1_5_3_1)
{
	CONNECT_CLOSES(CF_CLEAN | CF_WILL, NO_REPLY, "surrogate in will topic", FIELD("w"),
		       FIELD("canary/\xED\xA0\x80"), FIELD("bye"));
}

Test(hostile_connect, will_topic_with_nul_closes_MQTT_1_5_3_2)
{
	CONNECT_CLOSES(CF_CLEAN | CF_WILL, NO_REPLY, "U+0000 in will topic", FIELD("w"),
		       FIELD("canary/\0x"), FIELD("bye"));
}

Test(hostile_connect, will_topic_with_wildcard_closes_MQTT_4_7_1_1)
{
	CONNECT_CLOSES(CF_CLEAN | CF_WILL, NO_REPLY, "wildcard in will topic", FIELD("w"),
		       FIELD("canary/#"), FIELD("bye"));
}

Test(hostile_connect, username_with_invalid_utf8_closes_MQTT_1_5_3_1)
{
	CONNECT_CLOSES(CF_CLEAN | CF_USERNAME, NO_REPLY, "0xFF in user name", FIELD("u"),
		       FIELD("user\xFF"));
}

Test(hostile_connect, username_with_nul_closes_MQTT_1_5_3_2)
{
	CONNECT_CLOSES(CF_CLEAN | CF_USERNAME, NO_REPLY, "U+0000 in user name", FIELD("u"),
		       FIELD("us\0er"));
}

/* The server MAY disconnect, or MAY answer under another specification,
 * but MUST NOT go on as if it were 3.1.1: closed, with at most a refusal. */
Test(hostile_connect, wrong_protocol_name_closes_MQTT_3_1_2_1)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_open(&r, broker.port);
	struct buf b;
	buf_init(&b);
	put_connect(&b, 0x10, "MQTX", 4, CF_CLEAN, FIELDS(FIELD("name")));
	raw_send_buf(&r, &b);
	buf_fini(&b);
	struct mqtt_frame f;
	int rc;
	while ((rc = raw_recv(&r, &f, HOSTILE_CLOSE_MS)) == FM_OK)
		cr_assert(f.type == MQTT_CONNACK && f.remaining_len == 2 && f.body[1] != 0,
			  "protocol name MQTX was answered by something other than a refusal");
	cr_assert_eq(rc, FM_ECLOSED, "protocol name MQTX: connection not closed");
	raw_close(&r);
	canary_down(&c, "protocol name MQTX");
}

Test(hostile_connect, protocol_level_6_gets_connack_1_then_close_MQTT_3_1_2_2)
{
	connect_closes(0x10, "MQTT", 6, CF_CLEAN, FIELDS(FIELD("level6")), MQTT_CONNACK_BAD_PROTOCOL,
		       "protocol level 6");
}

Test(hostile_connect, protocol_level_3_with_name_mqtt_gets_connack_1_then_close_MQTT_3_1_2_2)
{
	connect_closes(0x10, "MQTT", 3, CF_CLEAN, FIELDS(FIELD("level3")), MQTT_CONNACK_BAD_PROTOCOL,
		       "protocol name MQTT with level 3");
}

Test(hostile_connect, reserved_connect_flag_closes_MQTT_3_1_2_3)
{
	CONNECT_CLOSES(CF_CLEAN | CF_RESERVED, NO_REPLY, "reserved CONNECT flag", FIELD("r"));
}

Test(hostile_connect, will_qos_3_closes_MQTT_3_1_2_14)
{
	CONNECT_CLOSES(CF_CLEAN | CF_WILL | CF_WILL_QOS1 | CF_WILL_QOS2, NO_REPLY, "will QoS 3",
		       FIELD("w"), FIELD("canary/w"), FIELD("bye"));
}

Test(hostile_connect, will_qos_without_will_flag_closes_MQTT_3_1_2_13)
{
	CONNECT_CLOSES(CF_CLEAN | CF_WILL_QOS1, NO_REPLY, "will QoS 1 without will flag", FIELD("w"));
}

Test(hostile_connect, will_retain_without_will_flag_closes_MQTT_3_1_2_15)
{
	CONNECT_CLOSES(CF_CLEAN | CF_WILL_RETAIN, NO_REPLY, "will retain without will flag", FIELD("w"));
}

Test(hostile_connect, password_without_username_closes_MQTT_3_1_2_22)
{
	CONNECT_CLOSES(CF_CLEAN | CF_PASSWORD, NO_REPLY, "password without user name", FIELD("p"),
		       FIELD("secret"));
}

Test(hostile_connect, username_flag_without_username_closes_MQTT_3_1_2_19)
{
	CONNECT_CLOSES(CF_CLEAN | CF_USERNAME, NO_REPLY, "user name flag, no user name", FIELD("u"));
}

Test(hostile_connect, will_flag_without_will_fields_closes_MQTT_3_1_2_9)
{
	CONNECT_CLOSES(CF_CLEAN | CF_WILL, NO_REPLY, "will flag, no will topic", FIELD("w"));
}

Test(hostile_connect, client_id_length_past_the_end_closes_MQTT_4_8_0_1)
{
	first_bytes_close(BYTES(0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, CF_CLEAN, 0, 60, 0, 100, 'a', 'b', 'c'),
			  NO_REPLY, "client id length 100, 3 bytes there");
}

Test(hostile_connect, bytes_after_the_connect_payload_close_MQTT_4_8_0_1)
{
	first_bytes_close(BYTES(0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, CF_CLEAN, 0, 60, 0, 1, 'a', 'x', 'y'),
			  NO_REPLY, "2 bytes after the CONNECT payload");
}

Test(hostile_connect, empty_connect_closes_MQTT_4_8_0_1)
{
	first_bytes_close(BYTES(0x10, 0), NO_REPLY, "CONNECT with remaining length 0");
}

Test(hostile_connect, publish_before_connect_closes_MQTT_3_1_0_1)
{
	first_bytes_close(BYTES(0x30, 14, 0, 11, 'c', 'a', 'n', 'a', 'r', 'y', '/', 'l', 'i', 'v', 'e', 'x'),
			  NO_REPLY, "PUBLISH before CONNECT");
}

Test(hostile_connect, subscribe_before_connect_closes_MQTT_3_1_0_1)
{
	first_bytes_close(BYTES(0x82, 6, 0, 1, 0, 1, '#', 0), NO_REPLY, "SUBSCRIBE before CONNECT");
}

Test(hostile_connect, pingreq_before_connect_closes_MQTT_3_1_0_1)
{
	first_bytes_close(BYTES(0xC0, 0), NO_REPLY, "PINGREQ before CONNECT");
}

/* A 3.1.1 CONNECT is at most 10 + 5 x (2 + 65535) = 327695 bytes, and
 * before CONNECT nothing else may come: an unauthenticated connection that
 * announces a longer one is refused from its header, not buffered until
 * connect_timeout (four such connections once held 478 MB of broker RSS). */
Test(hostile_connect, connect_longer_than_any_valid_one_refused_from_its_header)
{
	struct canary c;
	canary_up(&c, &broker);
	long base = broker_rss_kb(&broker);
	struct raw r;
	raw_open(&r, broker.port);
	static uint8_t body[800000];
	/* 900000 = varint A0 F7 36 */
	static const uint8_t head[] = {0x10, 0xA0, 0xF7, 0x36, 0, 4, 'M', 'Q', 'T', 'T', 4, CF_CLEAN, 0, 60};
	raw_send(&r, head, sizeof(head));
	raw_send(&r, body, sizeof(body));
	cr_log_info("broker RSS %ld kB, %ld kB before the CONNECT", broker_rss_kb(&broker), base);
	expect_closed_after(&r, NO_REPLY, "900 kB CONNECT");
	canary_down(&c, "900 kB CONNECT");
}

/* A second CONNECT is a protocol violation [MQTT-3.1.0-2]: no second
 * CONNACK, the first session's will goes out. */
Test(hostile_connect, second_connect_closes_and_publishes_the_will_MQTT_3_1_0_2)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	attacker_up(&r, "twice");
	struct mqtt_connect again = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 60,
				     .client_id = {"twice-again", 11}};
	cr_assert(mqtt_encode_connect(&r.out, &again) == FM_OK);
	raw_send_buf(&r, &r.out);
	expect_closed_after(&r, NO_REPLY, "second CONNECT");
	canary_check_will(&c, WILL_TOPIC, WILL_PAYLOAD, "second CONNECT");
	canary_down(&c, "second CONNECT");
}

/* ========================================================================
 * UTF-8 after CONNECT: topic names and filters [MQTT-1.5.3-1] (ill-formed,
 * surrogates) and [MQTT-1.5.3-2] (U+0000). hostile_test.c has NUL,
 * surrogate and overlong in a PUBLISH topic.
 * ======================================================================== */

Test(hostile_utf8, topic_with_byte_ff_closes_MQTT_1_5_3_1)
{
	after_connect_closes(BYTES(0x30, 4, 0, 2, 'a', 0xFF), "0xFF in topic");
}

Test(hostile_utf8, topic_ending_in_a_truncated_sequence_closes_MQTT_1_5_3_1)
{
	after_connect_closes(BYTES(0x30, 5, 0, 2, 'a', 0xE2, 'x'), "truncated 3-byte sequence in topic");
}

Test(hostile_utf8, topic_above_u10ffff_closes_MQTT_1_5_3_1)
{
	after_connect_closes(BYTES(0x30, 6, 0, 4, 0xF4, 0x90, 0x80, 0x80), "U+110000 in topic");
}

Test(hostile_utf8, subscribe_filter_with_invalid_utf8_closes_MQTT_1_5_3_1)
{
	after_connect_closes(BYTES(0x82, 7, 0, 1, 0, 2, 0xC0, 0x80, 0), "overlong NUL in SUBSCRIBE filter");
}

Test(hostile_utf8, subscribe_filter_with_nul_closes_MQTT_1_5_3_2)
{
	after_connect_closes(BYTES(0x82, 8, 0, 1, 0, 3, 'a', 0, 'b', 0), "U+0000 in SUBSCRIBE filter");
}

Test(hostile_utf8, unsubscribe_filter_with_invalid_utf8_closes_MQTT_1_5_3_1)
{
	after_connect_closes(BYTES(0xA2, 6, 0, 1, 0, 2, 0xC0, 0x80), "overlong NUL in UNSUBSCRIBE filter");
}

Test(hostile_utf8, unsubscribe_filter_with_nul_closes_MQTT_1_5_3_2)
{
	after_connect_closes(BYTES(0xA2, 7, 0, 1, 0, 3, 'a', 0, 'b'), "U+0000 in UNSUBSCRIBE filter");
}

/* ========================================================================
 * Packet contents: packet ids, SUBSCRIBE/UNSUBSCRIBE payloads, PUBLISH
 * topics, lengths that point past the packet.
 * ======================================================================== */

Test(hostile_packets, subscribe_with_packet_id_0_closes_MQTT_2_3_1_1)
{
	after_connect_closes(BYTES(0x82, 6, 0, 0, 0, 1, 'a', 0), "SUBSCRIBE packet id 0");
}

Test(hostile_packets, unsubscribe_with_packet_id_0_closes_MQTT_2_3_1_1)
{
	after_connect_closes(BYTES(0xA2, 5, 0, 0, 0, 1, 'a'), "UNSUBSCRIBE packet id 0");
}

Test(hostile_packets, puback_with_packet_id_0_closes_MQTT_2_3_1_1)
{
	after_connect_closes(BYTES(0x40, 2, 0, 0), "PUBACK packet id 0");
}

Test(hostile_packets, pubrel_with_packet_id_0_closes_MQTT_2_3_1_1)
{
	after_connect_closes(BYTES(0x62, 2, 0, 0), "PUBREL packet id 0");
}

Test(hostile_packets, subscribe_without_filters_closes_MQTT_3_8_3_3)
{
	after_connect_closes(BYTES(0x82, 2, 0, 1), "SUBSCRIBE without filters");
}

Test(hostile_packets, unsubscribe_without_filters_closes_MQTT_3_10_3_2)
{
	after_connect_closes(BYTES(0xA2, 2, 0, 1), "UNSUBSCRIBE without filters");
}

Test(hostile_packets, subscribe_requesting_qos_3_closes_MQTT_3_8_3_4)
{
	after_connect_closes(BYTES(0x82, 6, 0, 1, 0, 1, 'a', 3), "SUBSCRIBE requesting QoS 3");
}

/* 0x04 is 5.0's No Local: reserved in 3.1.1. */
Test(hostile_packets, subscribe_with_reserved_option_bits_closes_MQTT_3_8_3_4)
{
	after_connect_closes(BYTES(0x82, 6, 0, 1, 0, 1, 'a', 0x05), "SUBSCRIBE options 0x05");
}

Test(hostile_packets, subscribe_with_empty_filter_closes_MQTT_4_7_3_1)
{
	after_connect_closes(BYTES(0x82, 5, 0, 1, 0, 0, 0), "empty SUBSCRIBE filter");
}

Test(hostile_packets, subscribe_entry_without_options_byte_closes_MQTT_4_8_0_1)
{
	after_connect_closes(BYTES(0x82, 5, 0, 1, 0, 1, 'a'), "SUBSCRIBE filter without its QoS byte");
}

Test(hostile_packets, subscribe_filter_length_past_the_end_closes_MQTT_4_8_0_1)
{
	after_connect_closes(BYTES(0x82, 7, 0, 1, 0, 0x40, 'a', 'b', 'c'),
			     "SUBSCRIBE filter length 64, 3 bytes there");
}

Test(hostile_packets, unsubscribe_filter_length_past_the_end_closes_MQTT_4_8_0_1)
{
	after_connect_closes(BYTES(0xA2, 5, 0, 1, 0, 9, 'a'), "UNSUBSCRIBE filter length 9, 1 byte there");
}

Test(hostile_packets, publish_topic_length_past_the_end_closes_MQTT_4_8_0_1)
{
	after_connect_closes(BYTES(0x30, 5, 0, 4, 'c', 'a', 'n'), "topic length 4, 3 bytes there");
}

Test(hostile_packets, publish_topic_length_65535_in_a_short_packet_closes_MQTT_4_8_0_1)
{
	after_connect_closes(BYTES(0x30, 4, 0xFF, 0xFF, 'a', 'b'), "topic length 65535, 2 bytes there");
}

Test(hostile_packets, publish_qos1_without_packet_id_closes_MQTT_4_8_0_1)
{
	after_connect_closes(BYTES(0x32, 3, 0, 1, 't'), "QoS 1 PUBLISH ending before its packet id");
}

/* The topics are under the canary's filter: routed by mistake, they would
 * reach it before its own message and fail the check. */
Test(hostile_packets, publish_topic_with_plus_closes_MQTT_3_3_2_2)
{
	after_connect_closes(BYTES(0x30, 11, 0, 8, 'c', 'a', 'n', 'a', 'r', 'y', '/', '+', 'x'),
			     "PUBLISH to canary/+");
}

Test(hostile_packets, publish_topic_with_hash_closes_MQTT_3_3_2_2)
{
	after_connect_closes(BYTES(0x30, 11, 0, 8, 'c', 'a', 'n', 'a', 'r', 'y', '/', '#', 'x'),
			     "PUBLISH to canary/#");
}

Test(hostile_packets, publish_with_empty_topic_closes_MQTT_4_7_3_1)
{
	after_connect_closes(BYTES(0x30, 3, 0, 0, 'x'), "PUBLISH with an empty topic");
}

Test(hostile_packets, publish_qos0_with_dup_closes_MQTT_3_3_1_2)
{
	after_connect_closes(BYTES(0x38, 14, 0, 11, 'c', 'a', 'n', 'a', 'r', 'y', '/', 'd', 'u', 'p', 's', 'x'),
			     "QoS 0 PUBLISH with DUP");
}

/* A 3.1.1 DISCONNECT has no body: with one it is malformed, and the will
 * is published as for any protocol error. */
Test(hostile_packets, disconnect_with_a_body_closes_and_publishes_the_will_MQTT_3_1_2_8)
{
	after_connect_closes(BYTES(0xE0, 1, 0), "DISCONNECT with a body");
}

/* What follows a DISCONNECT in the same write is not processed, and the
 * will is discarded [MQTT-3.14.4-3]: neither reaches the canary (whose
 * check wants its own message next, then silence). */
Test(hostile_packets, publish_after_disconnect_in_the_same_write_is_dropped_MQTT_3_14_4_3)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	attacker_up(&r, "after-disconnect");
	mqtt_encode_empty(&r.out, MQTT_DISCONNECT);
	struct mqtt_publish pub = {.topic = {"canary/after", 12}, .payload = {(const uint8_t *)"late", 4}};
	cr_assert(mqtt_encode_publish(&r.out, MQTT_V311, &pub) == FM_OK);
	raw_send_buf(&r, &r.out);
	expect_closed_after(&r, NO_REPLY, "PUBLISH after DISCONNECT");
	canary_down(&c, "PUBLISH after DISCONNECT");
}

/* ========================================================================
 * Invalid topic filters [MQTT-4.7.1-2], [MQTT-4.7.1-3]: refused with
 * SUBACK 0x80 for that filter, the connection stays open and usable.
 * ======================================================================== */

static void invalid_filter_fails_alone(const char *filter)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_connect_simple(&r, broker.port, "filters");
	cr_assert_eq(raw_subscribe(&r, 7, filter, 1), MQTT_SUBACK_FAILURE, "filter %s not refused", filter);
	/* still open and usable: a round trip, then a valid subscription
	 * that gets the canary's next message too */
	struct mqtt_frame f;
	mqtt_encode_empty(&r.out, MQTT_PINGREQ);
	raw_send_buf(&r, &r.out);
	raw_expect(&r, MQTT_PINGRESP, &f);
	cr_assert_eq(raw_subscribe(&r, 8, "canary/live", 0), 0);
	canary_check(&c, filter);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	cr_assert(p.payload.len > 0);
	cr_assert(raw_silent(&r, 100), "%s: more than the one message", filter);
	raw_close(&r);
	canary_down(&c, filter);
}

Test(hostile_filters, hash_before_the_last_level_gets_0x80_and_stays_open_MQTT_4_7_1_2)
{
	invalid_filter_fails_alone("canary/#/b");
}

Test(hostile_filters, plus_inside_a_level_gets_0x80_and_stays_open_MQTT_4_7_1_3)
{
	invalid_filter_fails_alone("canary+");
}

Test(hostile_filters, hash_inside_a_level_gets_0x80_and_stays_open_MQTT_4_7_1_2)
{
	invalid_filter_fails_alone("#canary");
}

/* One SUBACK code per filter, in order [MQTT-3.8.4-5]: the invalid ones
 * fail, the valid ones around them are granted and work. */
Test(hostile_filters, invalid_filters_fail_alone_among_valid_ones_MQTT_3_8_4_5)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_connect_simple(&r, broker.port, "mixed");
	struct mqtt_sub_entry e[] = {
		{.filter = {"canary/live", 11}, .options = 1},
		{.filter = {"a/#/b", 5}, .options = 0},
		{.filter = {"a+", 2}, .options = 2},
		{.filter = {"#a", 2}, .options = 1},
		{.filter = {"canary/+", 8}, .options = 2},
	};
	cr_assert(mqtt_encode_subscribe(&r.out, MQTT_V311, 5, e, 5) == FM_OK);
	raw_send_buf(&r, &r.out);
	struct mqtt_frame f;
	raw_expect(&r, MQTT_SUBACK, &f);
	struct mqtt_suback s;
	uint8_t reason;
	cr_assert(mqtt_decode_suback(&f, MQTT_V311, &s, &reason) == FM_OK);
	cr_assert_eq(s.packet_id, 5);
	static const uint8_t want[] = {1, 0x80, 0x80, 0x80, 2};
	cr_assert_eq(s.codes.len, sizeof(want));
	cr_assert(memcmp(s.codes.p, want, sizeof(want)) == 0, "codes %02x %02x %02x %02x %02x", s.codes.p[0],
		  s.codes.p[1], s.codes.p[2], s.codes.p[3], s.codes.p[4]);
	canary_check(&c, "mixed filters");
	/* overlapping canary/live and canary/+: one copy at the highest QoS */
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	cr_assert_eq(p.qos, 1);
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	cr_assert(raw_silent(&r, 100));
	raw_close(&r);
	canary_down(&c, "mixed filters");
}

/* ========================================================================
 * Sizes: every string at its 65535-byte maximum, 32768 topic levels, a
 * packet cut short by a close.
 * ======================================================================== */

/* Rounds after the warm-up, and the RSS growth allowed after them: a
 * leak of what one round allocates would exceed it. */
#define SIZE_ROUNDS 10
#define SIZE_SLACK_KB (8 * 1024)
/* A tree of 32768 levels is several MB, and each worker's arena holds one
 * once it has built one: RSS steps up by that until every arena has. */
#define DEEP_SLACK_KB (16 * 1024)

static char *repeat(const char *unit, size_t total)
{
	size_t u = strlen(unit);
	char *s = malloc(total + 1);
	cr_assert(s);
	for (size_t i = 0; i < total; i++)
		s[i] = unit[i % u];
	s[total] = '\0';
	return s;
}

/* A clean DISCONNECT: the broker closes, no will. */
static void disconnect(struct raw *r, const char *what)
{
	mqtt_encode_empty(&r->out, MQTT_DISCONNECT);
	raw_send_buf(r, &r->out);
	expect_closed_after(r, NO_REPLY, what);
}

/* A server MAY allow client ids longer than 23 bytes [MQTT-3.1.3-5] or
 * refuse them with CONNACK 0x02 [MQTT-3.1.3-9]. fleetmq allows them: a
 * persistent session under a 65535-byte id is stored, resumed with what
 * was queued for it, and removed. */
static void long_client_id_round(void *arg)
{
	struct canary *c = arg;
	char *id = repeat("client-id-", 65535);
	struct raw_connect_opts o = {.client_id = id, .clean = false, .keepalive = 60};
	struct raw r;
	bool present = true;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), MQTT_CONNACK_ACCEPTED);
	cr_assert(!present);
	cr_assert_eq(raw_subscribe(&r, 1, "big/id", 1), 1);
	disconnect(&r, "65535-byte client id");
	raw_publish(&c->pub, "big/id", "queued", 1, false, 999);
	cr_assert_eq(raw_expect_ack(&c->pub, MQTT_PUBACK), 999);
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), MQTT_CONNACK_ACCEPTED);
	cr_assert(present, "session under a 65535-byte id not resumed");
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	raw_assert_publish(&p, "big/id", "queued");
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	disconnect(&r, "65535-byte client id, resumed");
	o.clean = true; /* ends the stored session */
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), MQTT_CONNACK_ACCEPTED);
	cr_assert(!present);
	disconnect(&r, "65535-byte client id, clean");
	free(id);
}

Test(hostile_size, client_id_of_65535_bytes_MQTT_3_1_3_5)
{
	struct canary c;
	canary_up(&c, &broker);
	rounds_near_baseline(&broker, long_client_id_round, &c, SIZE_ROUNDS, SIZE_SLACK_KB, "65535-byte client id");
	canary_down(&c, "65535-byte client id");
}

/* Client id, will topic, will message, user name and password each at
 * 65535 bytes (a 262 kB CONNECT); the will goes out on a close without
 * DISCONNECT to a subscriber of that 65535-byte topic. */
static void long_connect_strings_round(void *arg)
{
	(void)arg;
	char *id = repeat("i", 65535), *topic = repeat("will/", 65535), *msg = repeat("m", 65535),
	     *user = repeat("u", 65535), *pass = repeat("p", 65535);
	struct raw watcher;
	raw_connect_simple(&watcher, broker.port, "watcher");
	cr_assert_eq(raw_subscribe(&watcher, 1, topic, 1), 1);
	struct raw_connect_opts o = {.client_id = id, .clean = true, .keepalive = 60,
				     .username = user, .password = pass, .will_topic = topic,
				     .will_payload = msg, .will_qos = 1};
	struct raw r;
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
	raw_close(&r); /* no DISCONNECT: the will goes out */
	struct mqtt_publish p;
	raw_expect_publish(&watcher, &p);
	raw_assert_publish(&p, topic, msg);
	cr_assert_eq(p.qos, 1);
	raw_ack(&watcher, MQTT_PUBACK, p.packet_id);
	raw_close(&watcher);
	free(id);
	free(topic);
	free(msg);
	free(user);
	free(pass);
}

Test(hostile_size, every_connect_string_at_65535_bytes_MQTT_1_5_3)
{
	struct canary c;
	canary_up(&c, &broker);
	rounds_near_baseline(&broker, long_connect_strings_round, NULL, SIZE_ROUNDS, SIZE_SLACK_KB,
			     "65535-byte CONNECT strings");
	canary_down(&c, "65535-byte CONNECT strings");
}

/* Publish retained on topic, expect it at every subscriber in subs[],
 * then at a late subscriber of late_filter (from the retained tree), then
 * clear it (an empty retained message, delivered to subs[] as well). */
static void retained_round_trip(const char *topic, const char *const *filters, int n,
				const char *late_filter, const char *what)
{
	struct raw subs[4], pub, late;
	cr_assert(n <= 4);
	for (int i = 0; i < n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "sub%d", i);
		raw_connect_simple(&subs[i], broker.port, id);
		cr_assert_eq(raw_subscribe(&subs[i], 1, filters[i], 1), 1, "%s: filter %d refused", what, i);
	}
	raw_connect_simple(&pub, broker.port, "pub");
	raw_publish(&pub, topic, "held", 1, true, 1);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 1);
	struct mqtt_publish p;
	for (int i = 0; i < n; i++) {
		raw_expect_publish(&subs[i], &p);
		raw_assert_publish(&p, topic, "held");
		raw_ack(&subs[i], MQTT_PUBACK, p.packet_id);
	}
	raw_connect_simple(&late, broker.port, "late");
	cr_assert_eq(raw_subscribe(&late, 1, late_filter, 1), 1);
	raw_expect_publish(&late, &p);
	raw_assert_publish(&p, topic, "held");
	cr_assert(p.retain, "%s: retained message without RETAIN [MQTT-3.3.1-8]", what);
	raw_ack(&late, MQTT_PUBACK, p.packet_id);
	raw_close(&late);
	raw_publish(&pub, topic, "", 1, true, 2); /* clear it [MQTT-3.3.1-10] */
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 2);
	for (int i = 0; i < n; i++) {
		raw_expect_publish(&subs[i], &p);
		raw_assert_publish(&p, topic, "");
		raw_ack(&subs[i], MQTT_PUBACK, p.packet_id);
		raw_close(&subs[i]);
	}
	raw_close(&pub);
}

struct retained_case {
	const char *topic;
	const char *filters[3];
	int n;
	const char *late_filter;
	const char *what;
};

static void retained_round(void *arg)
{
	const struct retained_case *rc = arg;
	retained_round_trip(rc->topic, rc->filters, rc->n, rc->late_filter, rc->what);
}

Test(hostile_size, topic_of_65535_bytes_routes_and_retains_MQTT_1_5_3)
{
	struct canary c;
	canary_up(&c, &broker);
	char *topic = repeat("t", 65535);
	struct retained_case rc = {topic, {topic}, 1, "+", "65535-byte topic"};
	rounds_near_baseline(&broker, retained_round, &rc, SIZE_ROUNDS, SIZE_SLACK_KB, rc.what);
	free(topic);
	canary_down(&c, "65535-byte topic");
}

/* 32768 levels (a/a/.../a): the subscription and retained trees are walked
 * without recursion, matched exactly, by 32768 '+' and by '#'. */
Test(hostile_size, topic_of_32768_levels_routes_and_retains_MQTT_4_7_1)
{
	struct canary c;
	canary_up(&c, &broker);
	char *topic = repeat("a/", 65535), *pluses = repeat("+/", 65535);
	struct retained_case rc = {topic, {topic, pluses, "a/#"}, 3, "#", "32768 levels"};
	rounds_near_baseline(&broker, retained_round, &rc, SIZE_ROUNDS, DEEP_SLACK_KB, rc.what);
	free(topic);
	free(pluses);
	canary_down(&c, "32768 levels");
}

/* 65536 empty levels ("/" x 65535): matched exactly, by '#' and by "/#". */
Test(hostile_size, topic_of_65536_empty_levels_routes_and_retains_MQTT_4_7_1)
{
	struct canary c;
	canary_up(&c, &broker);
	char *topic = repeat("/", 65535);
	struct retained_case rc = {topic, {topic, "/#"}, 2, "#", "65536 empty levels"};
	rounds_near_baseline(&broker, retained_round, &rc, SIZE_ROUNDS, DEEP_SLACK_KB, rc.what);
	free(topic);
	canary_down(&c, "65536 empty levels");
}

#define MANY_FILTERS 5000

/* One SUBSCRIBE with 5000 filters: one code each [MQTT-3.8.4-5], all
 * working; one UNSUBSCRIBE with all of them removes them all
 * [MQTT-3.10.4-6]. (Not more: a session's subscriptions are a list
 * searched per filter, so a SUBSCRIBE costs O(filters x subscriptions)
 * while its worker serves no one else; 20000 take about a second.) */
static void many_filters_round(void *arg)
{
	struct canary *c = arg;
	static char names[MANY_FILTERS][16];
	static struct mqtt_sub_entry e[MANY_FILTERS];
	for (int i = 0; i < MANY_FILTERS; i++) {
		snprintf(names[i], sizeof(names[i]), "canary/m/%05d", i);
		e[i] = (struct mqtt_sub_entry){.filter = {names[i], (uint16_t)strlen(names[i])}, .options = 1};
	}
	struct raw r;
	raw_connect_simple(&r, broker.port, "many-filters");
	cr_assert(mqtt_encode_subscribe(&r.out, MQTT_V311, 3, e, MANY_FILTERS) == FM_OK);
	raw_send_buf(&r, &r.out);
	struct mqtt_frame f;
	raw_expect(&r, MQTT_SUBACK, &f);
	struct mqtt_suback s;
	uint8_t reason;
	cr_assert(mqtt_decode_suback(&f, MQTT_V311, &s, &reason) == FM_OK);
	cr_assert_eq(s.codes.len, MANY_FILTERS);
	for (int i = 0; i < MANY_FILTERS; i++)
		cr_assert_eq(s.codes.p[i], 1, "filter %d: code %u", i, s.codes.p[i]);
	raw_publish(&c->pub, "canary/m/01234", "one of many", 1, false, 1000);
	cr_assert_eq(raw_expect_ack(&c->pub, MQTT_PUBACK), 1000);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	raw_assert_publish(&p, "canary/m/01234", "one of many");
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	canary_expect(c, "canary/m/01234", "one of many", "5000 filters");
	cr_assert(mqtt_encode_unsubscribe(&r.out, MQTT_V311, 4, e, MANY_FILTERS) == FM_OK);
	raw_send_buf(&r, &r.out);
	cr_assert_eq(raw_expect_ack(&r, MQTT_UNSUBACK), 4);
	raw_publish(&c->pub, "canary/m/00000", "after", 1, false, 1001);
	cr_assert_eq(raw_expect_ack(&c->pub, MQTT_PUBACK), 1001);
	canary_expect(c, "canary/m/00000", "after", "5000 filters");
	cr_assert(raw_silent(&r, 100), "5000 filters: delivered after UNSUBSCRIBE");
	disconnect(&r, "5000 filters");
}

Test(hostile_size, subscribe_and_unsubscribe_5000_filters_in_one_packet_MQTT_3_8_4_5)
{
	struct canary c;
	canary_up(&c, &broker);
	rounds_near_baseline(&broker, many_filters_round, &c, SIZE_ROUNDS, SIZE_SLACK_KB, "5000 filters");
	canary_down(&c, "5000 filters");
}

/* A PUBLISH announcing 900 kB, 600 kB of it sent, then the client closes
 * its side: the broker closes too (publishing the will) and frees what it
 * had buffered; a leaked input buffer would be 1 MB a round. */
static void cut_short_round(void *arg)
{
	struct canary *c = arg;
	static uint8_t chunk[600000];
	memset(chunk, 'x', sizeof(chunk));
	/* 900000 = 0x0DBBA0: varint A0 F7 36; then topic "t" */
	static const uint8_t head[] = {0x30, 0xA0, 0xF7, 0x36, 0, 1, 't'};
	struct raw r;
	attacker_up(&r, "truncated");
	raw_send(&r, head, sizeof(head));
	raw_send(&r, chunk, sizeof(chunk));
	shutdown(r.fd, SHUT_WR);
	expect_closed_after(&r, NO_REPLY, "PUBLISH cut short by a close");
	canary_check_will(c, WILL_TOPIC, WILL_PAYLOAD, "PUBLISH cut short by a close");
}

Test(hostile_size, remaining_length_larger_than_what_follows_then_close_MQTT_2_2_3)
{
	struct canary c;
	canary_up(&c, &broker);
	rounds_near_baseline(&broker, cut_short_round, &c, 20, SIZE_SLACK_KB, "PUBLISH cut short by a close");
	canary_down(&c, "PUBLISH cut short by a close");
}

/* ========================================================================
 * Load: connection churn, packets that never finish.
 * ======================================================================== */

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s", strerror(errno));
	return fd;
}

#define CYCLE_SLOTS 16

/* count connections, CYCLE_SLOTS at a time, each sending CONNECT and
 * DISCONNECT in one write and reading the CONNACK and the broker's close.
 * Bounded: fails if nothing happens for 10 s or all takes over 90 s. */
static void connect_disconnect_cycles(int count)
{
	struct buf pkt[CYCLE_SLOTS];
	struct pollfd pfd[CYCLE_SLOTS];
	uint8_t got[CYCLE_SLOTS][8];
	size_t n_got[CYCLE_SLOTS];
	for (int i = 0; i < CYCLE_SLOTS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "cycle-%02d", i);
		struct mqtt_connect ct = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 60,
					  .client_id = {id, (uint16_t)strlen(id)}};
		buf_init(&pkt[i]);
		cr_assert(mqtt_encode_connect(&pkt[i], &ct) == FM_OK);
		cr_assert(mqtt_encode_empty(&pkt[i], MQTT_DISCONNECT) == FM_OK);
		pfd[i] = (struct pollfd){.fd = -1, .events = POLLIN};
	}
	int started = 0, finished = 0;
	uint64_t deadline = now_ms() + 90000;
	while (finished < count) {
		for (int i = 0; i < CYCLE_SLOTS && started < count; i++) {
			if (pfd[i].fd >= 0)
				continue;
			pfd[i].fd = tcp_connect(broker.port);
			ssize_t w = send(pfd[i].fd, buf_head(&pkt[i]), buf_used(&pkt[i]), MSG_NOSIGNAL);
			cr_assert_eq(w, (ssize_t)buf_used(&pkt[i]), "cycle %d: send", started);
			n_got[i] = 0;
			started++;
		}
		int ready = poll(pfd, CYCLE_SLOTS, 10000);
		cr_assert(ready > 0, "connect/disconnect cycles stalled after %d of %d", finished, count);
		for (int i = 0; i < CYCLE_SLOTS; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			ssize_t r = recv(pfd[i].fd, got[i] + n_got[i], sizeof(got[i]) - n_got[i], 0);
			if (r > 0) {
				n_got[i] += (size_t)r;
				cr_assert(n_got[i] <= 4, "cycle %d: more than a CONNACK", finished);
				continue;
			}
			cr_assert(n_got[i] == 4 && got[i][0] == 0x20 && got[i][1] == 2 && got[i][3] == 0,
				  "cycle %d: closed (%s) without an accepting CONNACK (%zu bytes)", finished,
				  r == 0 ? "EOF" : strerror(errno), n_got[i]);
			close(pfd[i].fd);
			pfd[i].fd = -1;
			finished++;
		}
		cr_assert(now_ms() < deadline, "connect/disconnect cycles: %d of %d after 90 s", finished, count);
	}
	for (int i = 0; i < CYCLE_SLOTS; i++)
		buf_fini(&pkt[i]);
}

Test(hostile_load, connect_disconnect_20000_cycles_memory_back_to_baseline)
{
	struct canary c;
	canary_up(&c, &broker);
	connect_disconnect_cycles(1000); /* warm-up: allocator pools, tables */
	long base = broker_rss_kb(&broker);
	uint64_t t0 = now_ms();
	connect_disconnect_cycles(20000);
	cr_log_info("20000 connect/disconnect cycles in %llu ms", (unsigned long long)(now_ms() - t0));
	canary_check(&c, "20000 cycles");
	/* a leaked client and session would be about 9 MB over 20000 cycles */
	rss_settles_near(&broker, base, 6 * 1024, "20000 connect/disconnect cycles");
	canary_down(&c, "20000 cycles");
}

#define STORM_SLOTS 8
#define STORM_CONNECTIONS 3000

/* STORM_CONNECTIONS connections with one client id, STORM_SLOTS in flight
 * (spread over the workers, so sessions are handed between them): each
 * CONNECT takes the session over from the one before [MQTT-3.1.4-2], with
 * clean session 0 and 1 mixed; every fifth resets right after its CONNECT,
 * maybe while its takeover is in progress. Each connection is closed by
 * the broker (taken over, or after the DISCONNECT it sends on its CONNACK)
 * and gets nothing but an accepting CONNACK before that [MQTT-3.2.0-1].
 * Returns how many were closed before any CONNACK: taken over before
 * theirs left. */
static int takeover_storm(void)
{
	int no_connack = 0;
	struct buf pkt[2];
	for (int clean = 0; clean < 2; clean++) {
		struct mqtt_connect ct = {.version = MQTT_V311, .clean_start = clean, .keepalive_s = 60,
					  .client_id = {"storm", 5}};
		buf_init(&pkt[clean]);
		cr_assert(mqtt_encode_connect(&pkt[clean], &ct) == FM_OK);
	}
	static const uint8_t disconnect_bytes[] = {0xE0, 0};
	struct pollfd pfd[STORM_SLOTS];
	uint8_t got[STORM_SLOTS][8];
	size_t n_got[STORM_SLOTS];
	for (int i = 0; i < STORM_SLOTS; i++)
		pfd[i] = (struct pollfd){.fd = -1, .events = POLLIN};
	int started = 0, finished = 0;
	uint64_t deadline = now_ms() + 60000;
	while (finished < STORM_CONNECTIONS) {
		for (int i = 0; i < STORM_SLOTS && started < STORM_CONNECTIONS; i++) {
			if (pfd[i].fd >= 0)
				continue;
			int fd = tcp_connect(broker.port);
			const struct buf *b = &pkt[started % 4 != 0];
			cr_assert_eq(send(fd, buf_head(b), buf_used(b), MSG_NOSIGNAL), (ssize_t)buf_used(b));
			if (started++ % 5 == 4) {
				struct linger reset = {.l_onoff = 1, .l_linger = 0};
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
				close(fd);
				finished++;
				continue;
			}
			pfd[i].fd = fd;
			n_got[i] = 0;
		}
		if (finished == STORM_CONNECTIONS)
			break;
		int ready = poll(pfd, STORM_SLOTS, 10000);
		cr_assert(ready > 0, "takeover storm stalled after %d of %d connections", finished,
			  STORM_CONNECTIONS);
		for (int i = 0; i < STORM_SLOTS; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			ssize_t r = recv(pfd[i].fd, got[i] + n_got[i], sizeof(got[i]) - n_got[i], 0);
			if (r > 0) {
				bool had_connack = n_got[i] >= 4;
				n_got[i] += (size_t)r;
				cr_assert(n_got[i] <= 4, "takeover storm: more than a CONNACK");
				if (!had_connack && n_got[i] == 4) {
					cr_assert(got[i][0] == 0x20 && got[i][1] == 2 && got[i][3] == 0,
						  "takeover storm: CONNECT not accepted");
					send(pfd[i].fd, disconnect_bytes, sizeof(disconnect_bytes), MSG_NOSIGNAL);
				}
				continue;
			}
			cr_assert(n_got[i] == 0 || n_got[i] == 4, "takeover storm: closed (%s) after %zu bytes",
				  r == 0 ? "EOF" : strerror(errno), n_got[i]);
			if (n_got[i] == 0)
				no_connack++;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			finished++;
		}
		cr_assert(now_ms() < deadline, "takeover storm: %d of %d after 60 s", finished, STORM_CONNECTIONS);
	}
	for (int i = 0; i < STORM_SLOTS; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	buf_fini(&pkt[0]);
	buf_fini(&pkt[1]);
	return no_connack;
}

/* A connection taken over before its CONNACK left may be closed without
 * one: with a stored session ended by a clean start, the CONNACK waits for
 * the store's commit (docs/ARCHITECTURE.md), and the takeover closes it
 * first. Counted and logged, not failed. */
Test(hostile_load, client_id_takeover_storm_MQTT_3_1_4_2)
{
	struct canary c;
	canary_up(&c, &broker);
	long base = broker_rss_kb(&broker);
	uint64_t t0 = now_ms();
	int no_connack = takeover_storm();
	cr_log_info("takeover storm of %d connections in %llu ms, %d closed before their CONNACK",
		    STORM_CONNECTIONS, (unsigned long long)(now_ms() - t0), no_connack);
	/* the session is still usable afterwards, and ends on a clean start */
	struct raw r;
	struct raw_connect_opts o = {.client_id = "storm", .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
	cr_assert_eq(raw_subscribe(&r, 1, "canary/live", 1), 1);
	canary_check(&c, "takeover storm");
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	disconnect(&r, "after the takeover storm");
	rss_settles_near(&broker, base, 8 * 1024, "takeover storm");
	canary_down(&c, "takeover storm");
}

/* Send p[0, n) one byte every 200 ms (never the last one, at most 50)
 * until the broker closes: true if it did. */
static bool trickle_until_closed(struct raw *r, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n && i < 50; i++) {
		raw_send(r, p + i, 1);
		if (raw_closed_within(r, 200, NULL))
			return true;
	}
	return false;
}

/* A packet that never finishes is no Control Packet: keepalive 1 closes
 * its connection after 1.5 s [MQTT-3.1.2-24]. */
Test(hostile_load, publish_trickled_forever_closed_by_keepalive_MQTT_3_1_2_24)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	struct raw_connect_opts o = {.client_id = "trickler", .clean = true, .keepalive = 1,
				     .will_topic = WILL_TOPIC, .will_payload = WILL_PAYLOAD};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
	struct buf b;
	buf_init(&b);
	char payload[200];
	memset(payload, 'p', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = '\0';
	struct mqtt_publish pub = {.topic = {"canary/slow", 11},
				   .payload = {(const uint8_t *)payload, sizeof(payload) - 1}};
	cr_assert(mqtt_encode_publish(&b, MQTT_V311, &pub) == FM_OK);
	cr_assert(trickle_until_closed(&r, buf_head(&b), buf_used(&b)),
		  "a PUBLISH trickled for 10 s kept a keepalive-1 connection open");
	buf_fini(&b);
	raw_close(&r);
	cr_assert(hb_log_contains(&broker, "keepalive timeout", 5000));
	canary_check_will(&c, WILL_TOPIC, WILL_PAYLOAD, "trickled PUBLISH");
	canary_down(&c, "trickled PUBLISH");
}

/* Slowloris: a CONNECT one byte every 200 ms never completes; the connect
 * timeout (1 s here) closes it, the canary does not notice. */
Test(hostile_timeout, connect_trickled_forever_closed_by_connect_timeout)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	raw_open(&r, broker.port);
	char id[200];
	memset(id, 's', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	struct mqtt_connect ct = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 60,
				  .client_id = {id, (uint16_t)strlen(id)}};
	struct buf b;
	buf_init(&b);
	cr_assert(mqtt_encode_connect(&b, &ct) == FM_OK);
	cr_assert(trickle_until_closed(&r, buf_head(&b), buf_used(&b)),
		  "a CONNECT trickled for 10 s was not closed by connect_timeout 1");
	buf_fini(&b);
	raw_close(&r);
	cr_assert(hb_log_contains(&broker, "no CONNECT within connect_timeout", 5000));
	canary_down(&c, "trickled CONNECT");
}

static void ensure_nofile(rlim_t want)
{
	struct rlimit rl;
	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	}
	cr_assert_geq(rl.rlim_cur, want, "need %lu open files, the limit is %lu", (unsigned long)want,
		      (unsigned long)rl.rlim_cur);
}

#define HALF_OPEN 2000

/* 2000 connections that never send a byte: each is closed by the connect
 * timeout, the canary is unaffected, the broker's memory comes back. */
Test(hostile_timeout, two_thousand_silent_sockets_closed_by_connect_timeout)
{
	ensure_nofile(HALF_OPEN + 256);
	struct canary c;
	canary_up(&c, &broker);
	long base = broker_rss_kb(&broker);
	static struct pollfd pfd[HALF_OPEN];
	for (int i = 0; i < HALF_OPEN; i++)
		pfd[i] = (struct pollfd){.fd = tcp_connect(broker.port), .events = POLLIN};
	int open = HALF_OPEN;
	uint64_t deadline = now_ms() + 30000;
	while (open > 0) {
		int ready = poll(pfd, HALF_OPEN, 1000);
		cr_assert(ready >= 0);
		for (int i = 0; i < HALF_OPEN && ready > 0; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			ready--;
			char byte;
			ssize_t r = recv(pfd[i].fd, &byte, 1, 0);
			cr_assert(r <= 0, "a silent socket got data from the broker");
			close(pfd[i].fd);
			pfd[i].fd = -1;
			open--;
		}
		cr_assert(now_ms() < deadline, "%d of %d silent sockets still open after 30 s", open, HALF_OPEN);
	}
	canary_check(&c, "2000 silent sockets");
	rss_settles_near(&broker, base, 16 * 1024, "2000 silent sockets");
	canary_down(&c, "2000 silent sockets");
}
