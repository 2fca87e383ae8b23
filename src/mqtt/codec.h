/* The MQTT codec: framing, decoding and encoding of every packet type for
 * 3.1, 3.1.1 and 5.0. Pure functions of bytes: no I/O, no logging, no globals.
 *
 * Framing is resumable: the connection appends whatever the socket gave it to
 * its input buffer and calls mqtt_frame_parse() until it says FM_EAGAIN; a
 * packet split at any byte (one byte at a time included) is framed the same.
 * The fixed header is checked against the maximum packet size before the body
 * has arrived, so an oversized packet is refused before anything is buffered.
 *
 * Decoders hand out borrowed views (struct mqtt_str / mqtt_bin) into the
 * frame's bytes; they stay valid until the caller consumes the frame.
 * On FM_EPROTO, *reason holds the MQTT 5 reason code that describes the
 * failure (MALFORMED_PACKET, PROTOCOL_ERROR, TOPIC_NAME_INVALID, ...); the
 * protocol layer decides what to do with it (for 3.1.1: close).
 *
 * 5.0 properties are carried as raw, borrowed byte ranges (props) so that
 * their decoding and validation (props.c) slots in without changing these
 * structs' users. */
#ifndef FM_MQTT_CODEC_H
#define FM_MQTT_CODEC_H

#include "core/buf.h"
#include "mqtt/mqtt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqtt_str { /* borrowed UTF-8 string, validated, not NUL-terminated */
	const char *p;
	uint16_t len;
};

struct mqtt_bin { /* borrowed binary data */
	const uint8_t *p;
	uint32_t len;
};

/* One framed packet. body points into the caller's buffer. */
struct mqtt_frame {
	uint8_t type;           /* enum mqtt_type (high nibble of byte 1) */
	uint8_t flags;          /* low nibble of byte 1 */
	uint32_t remaining_len; /* bytes in body */
	uint32_t header_len;    /* 2..5: fixed header bytes */
	const uint8_t *body;    /* remaining_len bytes */
};

/* Frame one packet from p[0, len).
 * FM_OK: *out filled, *consumed = header_len + remaining_len.
 * FM_EAGAIN: not a whole packet yet (nothing consumed).
 * FM_EPROTO: invalid fixed header (*reason = MALFORMED_PACKET: bad varint,
 *            packet type 0, reserved flag bits wrong [MQTT-2.2.2-2]) or
 *            larger than max_packet (*reason = PACKET_TOO_LARGE).
 * max_packet is the whole packet size limit in bytes; 0 means the spec maximum. */
int mqtt_frame_parse(const uint8_t *p, size_t len, uint32_t max_packet,
		     struct mqtt_frame *out, size_t *consumed, uint8_t *reason);

/* Number of bytes the varint encoding of v takes (1..4). */
unsigned mqtt_varint_size(uint32_t v);

/* --- packets ------------------------------------------------------------ */

struct mqtt_connect {
	uint8_t version;        /* enum mqtt_version: 3, 4 or 5 */
	bool bridge;            /* 3.x level with 0x80 set: a bridge (mosquitto's try_private) */
	bool clean_start;       /* clean session (3.1.1) / clean start (5.0) */
	bool will_flag;
	uint8_t will_qos;
	bool will_retain;
	bool has_username;
	bool has_password;
	uint16_t keepalive_s;
	struct mqtt_bin props;      /* 5.0 CONNECT properties (raw) */
	struct mqtt_str client_id;  /* may be empty */
	struct mqtt_bin will_props; /* 5.0 will properties (raw) */
	struct mqtt_str will_topic;
	struct mqtt_bin will_payload;
	struct mqtt_str username;
	struct mqtt_bin password;
};

struct mqtt_connack {
	bool session_present;
	uint8_t reason;         /* 3.1.1 return code or 5.0 reason code */
	struct mqtt_bin props;  /* 5.0: raw properties to encode / decoded */
};

struct mqtt_publish {
	uint8_t qos;
	bool dup;
	bool retain;
	struct mqtt_str topic;  /* may be empty only in 5.0 with a topic alias */
	uint16_t packet_id;     /* 0 for QoS 0 */
	struct mqtt_bin props;
	struct mqtt_bin payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP */
struct mqtt_ack {
	uint8_t type;           /* MQTT_PUBACK .. MQTT_PUBCOMP */
	uint16_t packet_id;
	uint8_t reason;         /* 5.0 only; 0 when absent */
	struct mqtt_bin props;
};

/* SUBSCRIBE / UNSUBSCRIBE: entries are validated by the decoder and then
 * walked with mqtt_entries_next(). */
struct mqtt_subscribe {
	uint16_t packet_id;
	struct mqtt_bin props;
	struct mqtt_bin entries; /* raw payload */
	uint32_t count;          /* number of entries, >= 1 */
};

struct mqtt_sub_entry {
	struct mqtt_str filter;
	uint8_t options;         /* SUBSCRIBE: QoS in bits 0-1, 5.0 options above; UNSUBSCRIBE: 0 */
};

struct mqtt_entry_iter {
	const uint8_t *p, *end;
	bool with_options;       /* SUBSCRIBE yes, UNSUBSCRIBE no */
};

/* SUBACK / UNSUBACK */
struct mqtt_suback {
	uint16_t packet_id;
	struct mqtt_bin props;
	struct mqtt_bin codes;   /* one byte per filter (UNSUBACK 3.1.1: empty) */
};

struct mqtt_disconnect {
	uint8_t reason;          /* 5.0 only */
	struct mqtt_bin props;
};

/* AUTH (5.0 only): 0x00 success, 0x18 continue, 0x19 re-authenticate. */
struct mqtt_auth {
	uint8_t reason;
	struct mqtt_bin props;   /* Authentication Method / Data, Reason String, User Property */
};

/* --- decoding (server side: packets a client sends) -------------------- */

/* CONNECT. Checks protocol name/level ("MQIsdp"/3, "MQTT"/4, "MQTT"/5),
 * reserved flag [MQTT-3.1.2-3], will flag rules [MQTT-3.1.2-11..15],
 * username/password flags [MQTT-3.1.2-22], UTF-8 strings.
 * An unknown protocol name or level gives FM_EPROTO with
 * *reason = UNSUPPORTED_PROTOCOL_VERSION and out->version set to the level
 * seen, so the caller can answer with CONNACK 0x01 [MQTT-3.1.2-2]. */
int mqtt_decode_connect(const struct mqtt_frame *f, struct mqtt_connect *out, uint8_t *reason);

/* PUBLISH. QoS 3 is malformed [MQTT-3.3.1-4]; DUP set with QoS 0 too
 * [MQTT-3.3.1-2]; topic must be valid UTF-8 without wildcards [MQTT-3.3.2-2];
 * packet id non-zero for QoS > 0 [MQTT-2.3.1-1]. */
int mqtt_decode_publish(const struct mqtt_frame *f, uint8_t version,
			struct mqtt_publish *out, uint8_t *reason);

/* PUBACK/PUBREC/PUBREL/PUBCOMP; PUBREL flags must be 0010 (checked by framing). */
int mqtt_decode_ack(const struct mqtt_frame *f, uint8_t version, struct mqtt_ack *out, uint8_t *reason);

/* SUBSCRIBE: at least one entry [MQTT-3.8.3-3], requested QoS <= 2 and
 * reserved bits 0 [MQTT-3-8.3-4], filters valid UTF-8 and non-empty.
 * Filter wildcard syntax is checked by the topic module. */
int mqtt_decode_subscribe(const struct mqtt_frame *f, uint8_t version,
			  struct mqtt_subscribe *out, uint8_t *reason);
int mqtt_decode_unsubscribe(const struct mqtt_frame *f, uint8_t version,
			    struct mqtt_subscribe *out, uint8_t *reason);
void mqtt_entries_begin(const struct mqtt_subscribe *s, bool with_options, struct mqtt_entry_iter *it);
/* Next entry; false at the end. Only valid on a packet the decoder accepted. */
bool mqtt_entries_next(struct mqtt_entry_iter *it, struct mqtt_sub_entry *out);

/* PINGREQ (and PINGRESP): remaining length must be 0. */
int mqtt_decode_empty(const struct mqtt_frame *f, uint8_t *reason);
int mqtt_decode_disconnect(const struct mqtt_frame *f, uint8_t version,
			   struct mqtt_disconnect *out, uint8_t *reason);
/* AUTH: a 5.0 packet only (a 3.x one is malformed); the reason code may be
 * left out with no properties (meaning 0x00), and must be one AUTH allows
 * (section 3.15.2.1). */
int mqtt_decode_auth(const struct mqtt_frame *f, uint8_t version, struct mqtt_auth *out, uint8_t *reason);

/* --- decoding (client side: for tools, bridges and tests) -------------- */
int mqtt_decode_connack(const struct mqtt_frame *f, uint8_t version, struct mqtt_connack *out, uint8_t *reason);
int mqtt_decode_suback(const struct mqtt_frame *f, uint8_t version, struct mqtt_suback *out, uint8_t *reason);

/* --- encoding ------------------------------------------------------------
 * Each appends one whole packet to b. FM_OK or FM_ENOMEM. The inputs are our
 * own and are asserted, not validated. props are appended raw for 5.0 (with
 * their length prefix written by the encoder) and ignored for 3.x. */
int mqtt_encode_connect(struct buf *b, const struct mqtt_connect *c);
int mqtt_encode_connack(struct buf *b, uint8_t version, const struct mqtt_connack *c);
int mqtt_encode_publish(struct buf *b, uint8_t version, const struct mqtt_publish *p);
/* Size of the whole PUBLISH packet mqtt_encode_publish would write. */
size_t mqtt_publish_size(uint8_t version, const struct mqtt_publish *p);
int mqtt_encode_ack(struct buf *b, uint8_t version, const struct mqtt_ack *a);
/* SUBSCRIBE/UNSUBSCRIBE from an array of entries (client side). */
int mqtt_encode_subscribe(struct buf *b, uint8_t version, uint16_t packet_id,
			  const struct mqtt_sub_entry *entries, uint32_t n);
int mqtt_encode_unsubscribe(struct buf *b, uint8_t version, uint16_t packet_id,
			    const struct mqtt_sub_entry *entries, uint32_t n);
int mqtt_encode_suback(struct buf *b, uint8_t version, uint8_t type /* SUBACK|UNSUBACK */,
		       const struct mqtt_suback *s);
int mqtt_encode_empty(struct buf *b, uint8_t type /* PINGREQ|PINGRESP|DISCONNECT(3.x) */);
int mqtt_encode_disconnect(struct buf *b, uint8_t version, const struct mqtt_disconnect *d);
int mqtt_encode_auth(struct buf *b, const struct mqtt_auth *a);

/* --- UTF-8 --------------------------------------------------------------
 * Well-formed UTF-8 per RFC 3629 without U+0000 [MQTT-1.5.3-2] and without
 * surrogates U+D800..U+DFFF [MQTT-1.5.3-1]. */
bool mqtt_utf8_valid(const char *p, size_t len);

#endif
