/* 5.0 properties for the protocol layer (props.h): typed reading of a
 * validated section, filtered copies, and building sections to send. */
#include "mqtt/props.h"

#include "fleetmq/errors.h"

#include <assert.h>
#include <string.h>

void mqtt_props_read(struct mqtt_bin raw, struct mqtt_props *out)
{
	out->has = 0;
	struct mqtt_prop p;
	while (mqtt_props_next(&raw, &p)) {
		if (p.id >= sizeof(out->num) / sizeof(out->num[0]))
			continue;
		out->has |= MQTT_PROP_BIT(p.id);
		out->num[p.id] = p.num;
		out->data[p.id] = p.data;
	}
}

int mqtt_props_copy(struct buf *out, struct mqtt_bin raw, uint64_t drop)
{
	struct mqtt_prop p;
	while (mqtt_props_next(&raw, &p)) {
		if (p.id < 64 && (drop & MQTT_PROP_BIT(p.id)))
			continue;
		if (buf_append(out, p.raw.p, p.raw.len) != FM_OK)
			return FM_ENOMEM;
	}
	return FM_OK;
}

/* Property ids are all below 128, so an id is one varint byte. */
int mqtt_prop_put_byte(struct buf *b, enum mqtt_prop_id id, uint8_t v)
{
	uint8_t bytes[2] = { (uint8_t)id, v };
	return buf_append(b, bytes, sizeof(bytes));
}

int mqtt_prop_put_u16(struct buf *b, enum mqtt_prop_id id, uint16_t v)
{
	uint8_t bytes[3] = { (uint8_t)id, (uint8_t)(v >> 8), (uint8_t)v };
	return buf_append(b, bytes, sizeof(bytes));
}

int mqtt_prop_put_u32(struct buf *b, enum mqtt_prop_id id, uint32_t v)
{
	uint8_t bytes[5] = { (uint8_t)id, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	return buf_append(b, bytes, sizeof(bytes));
}

int mqtt_prop_put_varint(struct buf *b, enum mqtt_prop_id id, uint32_t v)
{
	assert(v <= MQTT_MAX_REMAINING_LENGTH); /* our own values: asserted, not validated */
	uint8_t bytes[5] = { (uint8_t)id };
	size_t n = 1;
	do {
		uint8_t byte = v & 0x7F;
		v >>= 7;
		bytes[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
	} while (v && n < sizeof(bytes));
	return buf_append(b, bytes, n);
}

static int put_len_prefixed(struct buf *b, const void *p, uint16_t len)
{
	if (buf_append_u16(b, len) != FM_OK)
		return FM_ENOMEM;
	return len ? buf_append(b, p, len) : FM_OK;
}

int mqtt_prop_put_data(struct buf *b, enum mqtt_prop_id id, const void *p, uint16_t len)
{
	if (buf_append_u8(b, (uint8_t)id) != FM_OK)
		return FM_ENOMEM;
	return put_len_prefixed(b, p, len);
}

int mqtt_prop_put_pair(struct buf *b, const char *name, uint16_t name_len, const char *value,
		       uint16_t value_len)
{
	if (mqtt_prop_put_data(b, MQTT_PROP_USER_PROPERTY, name, name_len) != FM_OK)
		return FM_ENOMEM;
	return put_len_prefixed(b, value, value_len);
}
