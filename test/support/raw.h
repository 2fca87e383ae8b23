/* A raw-socket MQTT client for integration tests: exact bytes out, every
 * packet in, so tests can check the wire and send hostile input. Built on
 * the codec's encoders and framing. Asserts on transport failures. */
#ifndef FM_TEST_RAW_H
#define FM_TEST_RAW_H

#include "core/buf.h"
#include "mqtt/codec.h"

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
};
int raw_connect(struct raw *r, uint16_t port, const struct raw_connect_opts *o, bool *session_present);
/* Open and CONNECT (3.1.1, clean) with client id; asserts accepted. */
void raw_connect_simple(struct raw *r, uint16_t port, const char *client_id);

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

#endif
