/* A raw-socket MQTT client for integration tests: exact bytes out, every
 * packet in, so tests can check the wire and send hostile input. Built on
 * the codec's encoders and framing. Asserts on transport failures. */
#ifndef FM_TEST_RAW_H
#define FM_TEST_RAW_H

#include "core/buf.h"
#include "mqtt/codec.h"
#include "mqtt/props.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct raw {
	int fd;
	uint8_t version;
	struct buf in;       /* bytes received, not yet handed out */
	struct buf out;      /* packets encoded by the helpers, sent at once */
	size_t last_consumed; /* consumed on the next receive */
};

#define RAW_TIMEOUT_MS 10000

void raw_open(struct raw *r, uint16_t port);
void raw_close(struct raw *r);
void raw_send(struct raw *r, const void *p, size_t n);
/* Send b's contents and empty it. */
void raw_send_buf(struct raw *r, struct buf *b);

/* Receive one packet. FM_OK (frame valid until the next call), FM_ECLOSED
 * when the broker closed the connection, FM_EAGAIN on timeout. */
int raw_recv(struct raw *r, struct mqtt_frame *f, int timeout_ms);
/* Receive one packet and assert its type. */
void raw_expect(struct raw *r, uint8_t type, struct mqtt_frame *f);
/* True if the broker closes the connection within timeout_ms (any packets
 * sent before the close are skipped and returned through *last_type). */
bool raw_closed_within(struct raw *r, int timeout_ms, uint8_t *last_type);
/* True if nothing arrives for quiet_ms. */
bool raw_silent(struct raw *r, int quiet_ms);

/* CONNECT with the given options; returns the CONNACK return code and sets
 * *session_present. Asserts that a CONNACK arrives. */
struct raw_connect_opts {
	uint8_t version;     /* default 4 */
	const char *client_id;
	bool clean;
	uint16_t keepalive;
	const char *username, *password;
	const char *will_topic, *will_payload;
	uint8_t will_qos;
	bool will_retain;
	/* 5.0 only (version 5): raw property sections, built with props.h's
	 * mqtt_prop_put_* into a struct buf and passed as mqtt_props_of(&b);
	 * {0} sends an empty section. */
	struct mqtt_bin props;      /* CONNECT properties */
	struct mqtt_bin will_props; /* will properties (with will_topic) */
	/* 5.0: if set, receives the CONNACK's properties (views valid until
	 * the next receive on r) */
	struct mqtt_props *connack_props;
};
int raw_connect(struct raw *r, uint16_t port, const struct raw_connect_opts *o, bool *session_present);
/* Open and send the CONNECT only (a 5.0 enhanced authentication answers
 * it with AUTH first). */
void raw_connect_send(struct raw *r, uint16_t port, const struct raw_connect_opts *o);
/* Open and CONNECT (3.1.1, clean) with client id; asserts accepted. */
void raw_connect_simple(struct raw *r, uint16_t port, const char *client_id);

/* A persistent 3.1.1 session (clean session 0) subscribed to filter at
 * qos, then offline (DISCONNECT, close awaited). */
void raw_park(uint16_t port, const char *client_id, const char *filter, uint8_t qos);

/* SUBSCRIBE one filter; returns the SUBACK code. */
uint8_t raw_subscribe(struct raw *r, uint16_t packet_id, const char *filter, uint8_t qos);
void raw_unsubscribe(struct raw *r, uint16_t packet_id, const char *filter);
void raw_publish(struct raw *r, const char *topic, const char *payload, uint8_t qos,
		 bool retain, uint16_t packet_id);
void raw_ack(struct raw *r, uint8_t type, uint16_t packet_id);

/* Receive a PUBLISH and decode it into *p (views valid until next recv). */
void raw_expect_publish(struct raw *r, struct mqtt_publish *p);
/* Assert *p carries topic and payload (C strings). */
void raw_assert_publish(const struct mqtt_publish *p, const char *topic, const char *payload);
/* Receive an ack of the given type and return its packet id. */
uint16_t raw_expect_ack(struct raw *r, uint8_t type);

/* --- MQTT 5.0 -------------------------------------------------------------
 * The helpers above speak 5.0 too once r->version is 5 (raw_connect sets
 * it), with empty property sections and no reason codes; these add what
 * only 5.0 has. */

/* PUBLISH with a raw property section (payload may hold any bytes but NUL:
 * it is a C string). */
void raw_publish5(struct raw *r, const char *topic, const char *payload, uint8_t qos, bool retain,
		  uint16_t packet_id, struct mqtt_bin props);
/* SUBSCRIBE n entries (options: QoS in bits 0-1, No Local 0x04, Retain As
 * Published 0x08, Retain Handling << 4) with a Subscription Identifier
 * (0: none); the SUBACK's codes go to codes[n]. Asserts one code per entry. */
void raw_subscribe_n(struct raw *r, uint16_t packet_id, const struct mqtt_sub_entry *e, uint32_t n,
		     uint32_t sub_id, uint8_t *codes);
/* One filter: returns its SUBACK code. */
uint8_t raw_subscribe5(struct raw *r, uint16_t packet_id, const char *filter, uint8_t options, uint32_t sub_id);
/* UNSUBSCRIBE n filters (at most 16); a 5.0 UNSUBACK's codes go to
 * codes[n] (asserted one per filter); 3.1.1 leaves codes untouched. */
void raw_unsubscribe_n(struct raw *r, uint16_t packet_id, const char *const *filters, uint32_t n, uint8_t *codes);
/* A PUBACK..PUBCOMP with a 5.0 reason code (no properties). */
void raw_ack5(struct raw *r, uint8_t type, uint16_t packet_id, uint8_t reason);
/* Receive an ack of the given type; returns its packet id, *reason its
 * 5.0 reason code (0x00 when left out). */
uint16_t raw_expect_ack5(struct raw *r, uint8_t type, uint8_t *reason);
/* Receive a PUBLISH and decode it and its properties (views valid until the
 * next receive; props may be NULL). */
void raw_expect_publish5(struct raw *r, struct mqtt_publish *p, struct mqtt_props *props);
/* Number of properties with this id in a validated section (a PUBLISH may
 * carry several Subscription Identifiers and User Properties). */
unsigned raw_prop_count(struct mqtt_bin props, uint8_t id);
/* DISCONNECT with a reason code and properties ({0}: none). */
void raw_disconnect5(struct raw *r, uint8_t reason, struct mqtt_bin props);

/* A DISCONNECT the broker sent, copied out (it outlives the frame). */
struct raw_disconnect {
	uint8_t reason;
	uint64_t props_has;       /* MQTT_PROP_BIT of every property present */
	char reason_string[256];  /* the Reason String, NUL-terminated ("" if none) */
	uint8_t bytes[512];       /* the whole packet as received (truncated) */
	size_t len;
};
/* Receive the broker's 5.0 DISCONNECT as the next packet within
 * timeout_ms, then assert the broker closes the connection within 3 s
 * [MQTT-3.14.4-1]. Returns the reason code. */
uint8_t raw_expect_disconnect(struct raw *r, int timeout_ms, struct raw_disconnect *d);

#endif
