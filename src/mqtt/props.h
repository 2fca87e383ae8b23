/* MQTT 5.0 properties for the protocol layer: reading a section the
 * decoder has already validated (props.c checked every id, type,
 * repetition and fixed value rule), and building sections to send.
 *
 * Reading gives borrowed views into the packet, like the decoders do.
 * Building appends id + value pairs to a struct buf; the caller hands the
 * buf's bytes to an encoder as the packet's raw props. */
#ifndef FM_MQTT_PROPS_H
#define FM_MQTT_PROPS_H

#include "core/buf.h"
#include "mqtt/codec.h"

#include <stdbool.h>
#include <stdint.h>

/* Property identifiers (section 2.2.2.2). */
enum mqtt_prop_id {
	MQTT_PROP_PAYLOAD_FORMAT = 0x01,
	MQTT_PROP_MESSAGE_EXPIRY = 0x02,
	MQTT_PROP_CONTENT_TYPE = 0x03,
	MQTT_PROP_RESPONSE_TOPIC = 0x08,
	MQTT_PROP_CORRELATION_DATA = 0x09,
	MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
	MQTT_PROP_SESSION_EXPIRY = 0x11,
	MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
	MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
	MQTT_PROP_AUTH_METHOD = 0x15,
	MQTT_PROP_AUTH_DATA = 0x16,
	MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
	MQTT_PROP_WILL_DELAY = 0x18,
	MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
	MQTT_PROP_RESPONSE_INFO = 0x1A,
	MQTT_PROP_SERVER_REFERENCE = 0x1C,
	MQTT_PROP_REASON_STRING = 0x1F,
	MQTT_PROP_RECEIVE_MAXIMUM = 0x21,
	MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
	MQTT_PROP_TOPIC_ALIAS = 0x23,
	MQTT_PROP_MAXIMUM_QOS = 0x24,
	MQTT_PROP_RETAIN_AVAILABLE = 0x25,
	MQTT_PROP_USER_PROPERTY = 0x26,
	MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,
	MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
	MQTT_PROP_SUB_ID_AVAILABLE = 0x29,
	MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

#define MQTT_PROP_BIT(id) (1ull << (id))

/* One property as it sits in a section. */
struct mqtt_prop {
	uint8_t id;
	uint32_t num;            /* byte, two byte, four byte and varint values */
	struct mqtt_bin data;    /* string and binary values; a user property's name */
	struct mqtt_bin data2;   /* a user property's value */
	struct mqtt_bin raw;     /* the whole property, id included */
};

/* Walk a validated section: *rest shrinks by one property per call.
 * False at the end. */
bool mqtt_props_next(struct mqtt_bin *rest, struct mqtt_prop *p);

/* The single-valued properties of a validated section, by id. A repeated
 * Subscription Identifier (possible only in a PUBLISH we sent) reads as
 * its last value. */
struct mqtt_props {
	uint64_t has;            /* MQTT_PROP_BIT(id) for every id present */
	uint32_t num[0x2B];      /* numeric values by id */
	struct mqtt_bin data[0x2B]; /* string and binary values by id */
};

void mqtt_props_read(struct mqtt_bin raw, struct mqtt_props *out);
static inline bool mqtt_props_has(const struct mqtt_props *p, enum mqtt_prop_id id)
{
	return (p->has & MQTT_PROP_BIT(id)) != 0;
}
/* The value of id, or dflt when it is absent. */
static inline uint32_t mqtt_props_num(const struct mqtt_props *p, enum mqtt_prop_id id, uint32_t dflt)
{
	return mqtt_props_has(p, id) ? p->num[id] : dflt;
}

/* The string or binary value of id, or an empty one when it is absent. */
static inline struct mqtt_bin mqtt_props_data(const struct mqtt_props *p, enum mqtt_prop_id id)
{
	return mqtt_props_has(p, id) ? p->data[id] : (struct mqtt_bin){ NULL, 0 };
}

/* Append every property of raw whose id is not in drop (MQTT_PROP_BIT
 * mask) to out, in order: how a message keeps the properties it forwards
 * (user properties in the order the publisher sent them [MQTT-3.3.2-18])
 * while dropping what belongs to one hop (topic alias, expiry rewritten
 * per delivery). FM_OK or FM_ENOMEM. */
int mqtt_props_copy(struct buf *out, struct mqtt_bin raw, uint64_t drop);

/* --- building -------------------------------------------------------------
 * Each appends one property. FM_OK or FM_ENOMEM. */
int mqtt_prop_put_byte(struct buf *b, enum mqtt_prop_id id, uint8_t v);
int mqtt_prop_put_u16(struct buf *b, enum mqtt_prop_id id, uint16_t v);
int mqtt_prop_put_u32(struct buf *b, enum mqtt_prop_id id, uint32_t v);
int mqtt_prop_put_varint(struct buf *b, enum mqtt_prop_id id, uint32_t v);
/* String and binary values (both length-prefixed, at most 65535 bytes). */
int mqtt_prop_put_data(struct buf *b, enum mqtt_prop_id id, const void *p, uint16_t len);
int mqtt_prop_put_pair(struct buf *b, const char *name, uint16_t name_len, const char *value,
		       uint16_t value_len);

/* The bytes of b as a property section for an encoder. */
static inline struct mqtt_bin mqtt_props_of(const struct buf *b)
{
	return (struct mqtt_bin){ buf_head(b), (uint32_t)buf_used(b) };
}

#endif
