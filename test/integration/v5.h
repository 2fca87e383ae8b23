/* Shared by the MQTT 5.0 integration tests (v5_*_test.c): 5.0 connects,
 * property sections built in one call, exact-bytes checks, and a broker
 * per test started with the config lines the test needs.
 *
 * Timing: every wait is bounded, and the tests also run against a
 * ThreadSanitizer broker (FLEETMQ_TEST_BIN), which is several times
 * slower: delays are >= 1 s, "not before" windows end >= 1 s before the
 * deadline, "within" windows are generous. */
#ifndef FM_TEST_V5_H
#define FM_TEST_V5_H

#include "harness.h"
#include "raw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bounded wait for a packet that must come (or the close that must). */
#define V5_WAIT_MS 10000

/* The broker of the running test (each test file's suites start it in
 * .init or in the test, and stop it in .fini). */
extern struct hb v5_broker;
void v5_start(const char *extra_conf);
void v5_start_default(void);
/* .fini: stop the broker if one was started; assert it exited cleanly. */
void v5_stop(void);

/* A property section under construction: props_begin, props_* to append
 * (asserting success), props_bin to hand to an encoder, props_end. */
struct props {
	struct buf b;
};
void props_begin(struct props *p);
void props_end(struct props *p);
struct props *props_byte(struct props *p, uint8_t id, uint8_t v);
struct props *props_u16(struct props *p, uint8_t id, uint16_t v);
struct props *props_u32(struct props *p, uint8_t id, uint32_t v);
struct props *props_varint(struct props *p, uint8_t id, uint32_t v);
struct props *props_str(struct props *p, uint8_t id, const char *s);
struct props *props_pair(struct props *p, const char *name, const char *value);
static inline struct mqtt_bin props_bin(const struct props *p) { return mqtt_props_of(&p->b); }

/* 5.0 CONNECT with client id, Clean Start, keepalive 60 and a Session
 * Expiry Interval (0: property left out); asserts accepted, returns
 * session present. */
bool v5_connect(struct raw *r, const char *id, bool clean, uint32_t session_expiry);
/* 5.0, clean start, no session expiry. */
void v5_connect_simple(struct raw *r, const char *id);
/* Client DISCONNECT 0x00 (no properties), then wait for the close. */
void v5_disconnect(struct raw *r);

/* Receive the next packet within V5_WAIT_MS and assert its exact bytes
 * (fixed header included). */
void expect_bytes(struct raw *r, const uint8_t *want, size_t n, const char *what);
#define EXPECT_BYTES(r, what, ...)                                                   \
	do {                                                                          \
		static const uint8_t want_[] = {__VA_ARGS__};                         \
		expect_bytes((r), want_, sizeof(want_), (what));                      \
	} while (0)
/* Hex dump of n bytes into out (for failure messages). */
const char *hex(const uint8_t *p, size_t n, char *out, size_t out_len);

/* Receive a PUBLISH, check its topic, payload and QoS. */
void expect_publish5(struct raw *r, const char *topic, const char *payload, uint8_t qos,
		     struct mqtt_publish *p, struct mqtt_props *props);

/* Milliseconds on the monotonic clock; sleep. */
uint64_t now_ms(void);
void sleep_ms(int ms);

#endif
