/* A bounds-checked cursor over a packet body, shared by the decoders.
 * Every read on a short or bad input sets r->bad and returns a zero value,
 * so a decoder reads all fields and checks r->bad once. The first failure
 * also records its MQTT 5 reason code in r->rc. Internal to src/mqtt. */
#ifndef FM_MQTT_READER_H
#define FM_MQTT_READER_H

#include "mqtt/codec.h"

struct reader {
	const uint8_t *p, *end; /* unread bytes */
	bool bad;               /* a read failed; later reads return zero */
	uint8_t rc;             /* reason of the first failure; 0 until then */
};

static inline struct reader reader_of(const struct mqtt_frame *f)
{
	return (struct reader){f->body, f->body + f->remaining_len, false, 0};
}

static inline size_t reader_left(const struct reader *r) { return (size_t)(r->end - r->p); }

/* Mark r bad; the first reason given sticks. */
static inline void rd_fail(struct reader *r, uint8_t rc)
{
	if (!r->bad)
		r->rc = rc;
	r->bad = true;
}

/* The reason to report for a bad reader: the recorded one, or malformed. */
static inline uint8_t rd_reason(const struct reader *r)
{
	return r->rc ? r->rc : MQTT_RC_MALFORMED_PACKET;
}

uint8_t rd_u8(struct reader *r);
uint16_t rd_u16(struct reader *r);
uint32_t rd_u32(struct reader *r);
/* Variable byte integer, at most 4 bytes [MQTT-1.5.5]. */
uint32_t rd_varint(struct reader *r);
/* Length-prefixed binary data. */
struct mqtt_bin rd_bin(struct reader *r);
/* Length-prefixed string; bad unless valid UTF-8 [MQTT-1.5.3]. */
struct mqtt_str rd_str(struct reader *r);

/* Which packet a 5.0 property section belongs to: each property id is
 * allowed in some of them only (section 2.2.2.2). */
enum props_ctx {
	PROPS_CONNECT,
	PROPS_WILL,        /* will properties inside CONNECT */
	PROPS_CONNACK,
	PROPS_PUBLISH,
	PROPS_ACK,         /* PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK */
	PROPS_SUBSCRIBE,
	PROPS_UNSUBSCRIBE,
	PROPS_DISCONNECT,
	PROPS_AUTH,
};

/* 5.0 property section (props.c): length varint, then properties whose
 * ids, value types, repetition and fixed value rules are checked for ctx.
 * Returns the raw properties (without the length prefix). */
struct mqtt_bin rd_props(struct reader *r, enum props_ctx ctx);

#endif
