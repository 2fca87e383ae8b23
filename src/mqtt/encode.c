/* Encoders: each appends one whole packet to a buffer. The size of the
 * packet is computed first, so the buffer grows once per packet. */
#include "mqtt/codec.h"

#include "fleetmq/errors.h"

#include <assert.h>
#include <string.h>

static bool is_v5(uint8_t version) { return version == MQTT_V5; }

static void put_varint(struct buf *b, uint32_t v)
{
	do {
		uint8_t byte = v & 0x7F;
		v >>= 7;
		buf_append_u8(b, (uint8_t)(byte | (v ? 0x80 : 0)));
	} while (v);
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
	if (n)
		buf_append(b, p, n);
}

static void put_str(struct buf *b, const char *p, uint16_t len)
{
	buf_append_u16(b, len);
	put_bytes(b, p, len);
}

static void put_bin16(struct buf *b, struct mqtt_bin v)
{
	assert(v.len <= 0xFFFF);
	buf_append_u16(b, (uint16_t)v.len);
	put_bytes(b, v.p, v.len);
}

/* Bytes of a 5.0 property section (length prefix included). */
static size_t props_size(struct mqtt_bin props)
{
	return mqtt_varint_size(props.len) + props.len;
}

static void put_props(struct buf *b, struct mqtt_bin props)
{
	put_varint(b, props.len);
	put_bytes(b, props.p, props.len);
}

/* Reserve the whole packet, then write its fixed header. Every later
 * append fits, so only this step can fail. */
static int begin(struct buf *b, uint8_t type, uint8_t flags, size_t remaining)
{
	assert(remaining <= MQTT_MAX_REMAINING_LENGTH);
	if (buf_reserve(b, 1 + mqtt_varint_size((uint32_t)remaining) + remaining) != FM_OK)
		return FM_ENOMEM;
	buf_append_u8(b, (uint8_t)(type << 4 | flags));
	put_varint(b, (uint32_t)remaining);
	return FM_OK;
}

/* --- CONNECT / CONNACK ----------------------------------------------------- */

static size_t connect_remaining(const struct mqtt_connect *c, size_t name_len)
{
	size_t n = 2 + name_len + 1 + 1 + 2 + 2 + c->client_id.len;
	if (is_v5(c->version))
		n += props_size(c->props);
	if (c->will_flag) {
		n += 2 + c->will_topic.len + 2 + c->will_payload.len;
		if (is_v5(c->version))
			n += props_size(c->will_props);
	}
	if (c->has_username)
		n += 2 + c->username.len;
	if (c->has_password)
		n += 2 + c->password.len;
	return n;
}

static uint8_t connect_flags(const struct mqtt_connect *c)
{
	return (uint8_t)((c->clean_start ? 0x02 : 0) | (c->will_flag ? 0x04 : 0) |
			 (c->will_flag ? (c->will_qos & 3) << 3 : 0) |
			 (c->will_flag && c->will_retain ? 0x20 : 0) |
			 (c->has_password ? 0x40 : 0) | (c->has_username ? 0x80 : 0));
}

int mqtt_encode_connect(struct buf *b, const struct mqtt_connect *c)
{
	assert(c->version >= MQTT_V31 && c->version <= MQTT_V5);
	assert(c->will_qos <= 2 && (c->will_flag || (!c->will_qos && !c->will_retain)));
	const char *name = c->version == MQTT_V31 ? "MQIsdp" : "MQTT";
	uint16_t name_len = (uint16_t)strlen(name);
	if (begin(b, MQTT_CONNECT, 0, connect_remaining(c, name_len)) != FM_OK)
		return FM_ENOMEM;
	put_str(b, name, name_len);
	buf_append_u8(b, (uint8_t)(c->version | (c->bridge && !is_v5(c->version) ? 0x80 : 0)));
	buf_append_u8(b, connect_flags(c));
	buf_append_u16(b, c->keepalive_s);
	if (is_v5(c->version))
		put_props(b, c->props);
	put_str(b, c->client_id.p, c->client_id.len);
	if (c->will_flag) {
		if (is_v5(c->version))
			put_props(b, c->will_props);
		put_str(b, c->will_topic.p, c->will_topic.len);
		put_bin16(b, c->will_payload);
	}
	if (c->has_username)
		put_str(b, c->username.p, c->username.len);
	if (c->has_password)
		put_bin16(b, c->password);
	return FM_OK;
}

int mqtt_encode_connack(struct buf *b, uint8_t version, const struct mqtt_connack *c)
{
	size_t remaining = 2 + (is_v5(version) ? props_size(c->props) : 0);
	if (begin(b, MQTT_CONNACK, 0, remaining) != FM_OK)
		return FM_ENOMEM;
	buf_append_u8(b, c->session_present ? 1 : 0);
	buf_append_u8(b, c->reason);
	if (is_v5(version))
		put_props(b, c->props);
	return FM_OK;
}

/* --- PUBLISH ------------------------------------------------------------------ */

static size_t publish_remaining(uint8_t version, const struct mqtt_publish *p)
{
	size_t n = 2 + p->topic.len + (p->qos ? 2 : 0) + p->payload.len;
	if (is_v5(version))
		n += props_size(p->props);
	return n;
}

size_t mqtt_publish_size(uint8_t version, const struct mqtt_publish *p)
{
	size_t rem = publish_remaining(version, p);
	return 1 + mqtt_varint_size((uint32_t)rem) + rem;
}

int mqtt_encode_publish(struct buf *b, uint8_t version, const struct mqtt_publish *p)
{
	assert(p->qos <= 2 && (p->qos == 0 || p->packet_id)); /* [MQTT-2.3.1-1] */
	uint8_t flags = (uint8_t)((p->dup ? 0x08 : 0) | (p->qos & 3) << 1 | (p->retain ? 1 : 0));
	if (begin(b, MQTT_PUBLISH, flags, publish_remaining(version, p)) != FM_OK)
		return FM_ENOMEM;
	put_str(b, p->topic.p, p->topic.len);
	if (p->qos)
		buf_append_u16(b, p->packet_id);
	if (is_v5(version))
		put_props(b, p->props);
	put_bytes(b, p->payload.p, p->payload.len);
	return FM_OK;
}

/* --- acks ------------------------------------------------------------------- */

/* 5.0 lets a success without properties end after the packet id, and a
 * reason without properties end after the reason [MQTT-3.4.2.1]. */
/* Also DISCONNECT: reason 0x00 without properties may be left out
 * entirely [MQTT-3.14.2.1]. */
static size_t v5_tail_size(uint8_t code, struct mqtt_bin props)
{
	if (props.len)
		return 1 + props_size(props);
	return code ? 1 : 0;
}

static void put_v5_tail(struct buf *b, uint8_t code, struct mqtt_bin props)
{
	if (code || props.len)
		buf_append_u8(b, code);
	if (props.len)
		put_props(b, props);
}

int mqtt_encode_ack(struct buf *b, uint8_t version, const struct mqtt_ack *a)
{
	assert(a->type >= MQTT_PUBACK && a->type <= MQTT_PUBCOMP && a->packet_id);
	size_t remaining = 2 + (is_v5(version) ? v5_tail_size(a->reason, a->props) : 0);
	if (begin(b, a->type, a->type == MQTT_PUBREL ? 0x2 : 0, remaining) != FM_OK)
		return FM_ENOMEM;
	buf_append_u16(b, a->packet_id);
	if (is_v5(version))
		put_v5_tail(b, a->reason, a->props);
	return FM_OK;
}

/* --- SUBSCRIBE / UNSUBSCRIBE / SUBACK / UNSUBACK ------------------------------- */

static int encode_entries(struct buf *b, uint8_t type, uint8_t version, uint16_t packet_id,
			  const struct mqtt_sub_entry *e, uint32_t n, bool with_options)
{
	assert(n >= 1 && packet_id); /* [MQTT-3.8.3-3], [MQTT-3.10.3-2], [MQTT-2.3.1-1] */
	size_t remaining = 2 + (is_v5(version) ? 1 : 0);
	for (uint32_t i = 0; i < n; i++)
		remaining += 2 + e[i].filter.len + (with_options ? 1 : 0);
	if (begin(b, type, 0x2, remaining) != FM_OK)
		return FM_ENOMEM;
	buf_append_u16(b, packet_id);
	if (is_v5(version))
		buf_append_u8(b, 0); /* no properties */
	for (uint32_t i = 0; i < n; i++) {
		put_str(b, e[i].filter.p, e[i].filter.len);
		if (with_options)
			buf_append_u8(b, e[i].options);
	}
	return FM_OK;
}

int mqtt_encode_subscribe(struct buf *b, uint8_t version, uint16_t packet_id,
			  const struct mqtt_sub_entry *entries, uint32_t n)
{
	return encode_entries(b, MQTT_SUBSCRIBE, version, packet_id, entries, n, true);
}

int mqtt_encode_unsubscribe(struct buf *b, uint8_t version, uint16_t packet_id,
			    const struct mqtt_sub_entry *entries, uint32_t n)
{
	return encode_entries(b, MQTT_UNSUBSCRIBE, version, packet_id, entries, n, false);
}

int mqtt_encode_suback(struct buf *b, uint8_t version, uint8_t type, const struct mqtt_suback *s)
{
	assert(type == MQTT_SUBACK || type == MQTT_UNSUBACK);
	assert(type == MQTT_SUBACK || is_v5(version) || s->codes.len == 0); /* 3.1.1 UNSUBACK: no payload */
	size_t remaining = 2 + s->codes.len + (is_v5(version) ? props_size(s->props) : 0);
	if (begin(b, type, 0, remaining) != FM_OK)
		return FM_ENOMEM;
	buf_append_u16(b, s->packet_id);
	if (is_v5(version))
		put_props(b, s->props);
	put_bytes(b, s->codes.p, s->codes.len);
	return FM_OK;
}

/* --- PINGREQ, PINGRESP, DISCONNECT ---------------------------------------------- */

int mqtt_encode_empty(struct buf *b, uint8_t type)
{
	assert(type == MQTT_PINGREQ || type == MQTT_PINGRESP || type == MQTT_DISCONNECT);
	return begin(b, type, 0, 0);
}

int mqtt_encode_auth(struct buf *b, const struct mqtt_auth *a)
{
	if (begin(b, MQTT_AUTH, 0, v5_tail_size(a->reason, a->props)) != FM_OK)
		return FM_ENOMEM;
	put_v5_tail(b, a->reason, a->props);
	return FM_OK;
}

int mqtt_encode_disconnect(struct buf *b, uint8_t version, const struct mqtt_disconnect *d)
{
	if (!is_v5(version))
		return mqtt_encode_empty(b, MQTT_DISCONNECT);
	if (begin(b, MQTT_DISCONNECT, 0, v5_tail_size(d->reason, d->props)) != FM_OK)
		return FM_ENOMEM;
	put_v5_tail(b, d->reason, d->props);
	return FM_OK;
}
