/* Shared by the hostile-input tests (hostile_test.c, hostile_more_test.c,
 * hostile_v5_test.c): the canary that proves an attack harmed no one else,
 * the broker's memory before and after, and hand-built packets with
 * exactly the bytes a test wants (the codec's encoders refuse to write
 * broken packets). */
#ifndef FM_TEST_HOSTILE_H
#define FM_TEST_HOSTILE_H

#include "harness.h"
#include "raw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a broker may take to close an offending connection: generous,
 * but below the default connect_timeout (10 s), so a connection closed by
 * that timer instead of by the check under test is a failure. */
#define HOSTILE_CLOSE_MS 5000

/* A canary: a subscriber at QoS 1 to "canary/#" and a publisher, both
 * connected before the attack. canary_check() publishes at QoS 1 and wants
 * that exact message next at the subscriber: anything the attack made the
 * broker route there first, or a canary that lost its connection, fails. */
struct canary {
	struct raw sub, pub;
	uint16_t next_id;
};

void canary_up(struct canary *c, const struct hb *b);
/* The next packet at the canary subscriber is this PUBLISH (acknowledged
 * when QoS 1). */
void canary_expect(struct canary *c, const char *topic, const char *payload, const char *what);
void canary_check(struct canary *c, const char *what);
/* canary_check(), and the attacker's will (QoS 0) arrives too, before or
 * after that message: the two come from different connections, so no
 * order between them is promised. */
void canary_check_will(struct canary *c, const char *will_topic, const char *will_payload,
		       const char *what);
/* A last check, nothing else arriving after it, then both canary
 * connections closed by us. */
void canary_down(struct canary *c, const char *what);

/* broker_sanitized(): see harness.h. */
long broker_rss_kb(const struct hb *b);
/* Broker RSS comes back to at most base_kb + slack_kb within a few seconds
 * (frees are deferred to the loop). Skipped under sanitizers, where
 * LeakSanitizer at the broker's exit is the precise check. Thresholds are
 * for leaks, not for tuning: keep them generous. */
void rss_settles_near(const struct hb *b, long base_kb, long slack_kb, const char *what);
/* Run round(arg) a few times to warm the broker up, read its RSS, run it
 * `more` times, and check that RSS came back near that reading (under a
 * sanitizer: two rounds, LeakSanitizer judging at the broker's exit). */
void rounds_near_baseline(const struct hb *b, void (*round)(void *), void *arg, int more,
			  long slack_kb, const char *what);

/* The broker closes r within HOSTILE_CLOSE_MS, having sent nothing at all
 * (connack < 0) or exactly one CONNACK with that return code; r is closed. */
#define NO_REPLY (-1)
void expect_closed_after(struct raw *r, int connack, const char *what);
/* The broker closes r within HOSTILE_CLOSE_MS, whatever it sent before. */
void expect_closed(struct raw *r, const char *what);

/* --- hand-built packets -------------------------------------------------- */

/* Inline bytes for (pointer, size) parameters: BYTES(0x40, 2, 0, 1). */
#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* A length-prefixed field of a string literal, embedded NULs included. */
struct field {
	const void *p;
	size_t len;
};
#define FIELD(lit) ((struct field){(lit), sizeof(lit) - 1})

void put_u8(struct buf *b, uint8_t v);
void put_u16(struct buf *b, uint16_t v);
void put_bytes(struct buf *b, const void *p, size_t n);
/* Variable Byte Integer (remaining lengths, 5.0 property lengths). */
void put_varint(struct buf *b, uint32_t v);
/* Two-byte length, then the bytes (any bytes: nothing is validated). */
void put_field(struct buf *b, const void *p, size_t n);
/* Append to out: first byte, the remaining length varint, body. */
void put_packet(struct buf *out, uint8_t first_byte, const struct buf *body);

/* CONNECT fixed header flags, protocol name and level, connect flags,
 * keepalive 60, then each field length-prefixed in the given order. */
void put_connect(struct buf *out, uint8_t first_byte, const char *proto, uint8_t level,
		 uint8_t flags, const struct field *fields, size_t n);

/* CONNECT flag bits (3.1.1 section 3.1.2.3) */
enum {
	CF_RESERVED = 0x01,
	CF_CLEAN = 0x02,
	CF_WILL = 0x04,
	CF_WILL_QOS1 = 0x08,
	CF_WILL_QOS2 = 0x10,
	CF_WILL_RETAIN = 0x20,
	CF_PASSWORD = 0x40,
	CF_USERNAME = 0x80,
};

#endif
