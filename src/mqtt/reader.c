/* Bounds-checked reads of MQTT data types (section 1.5) for the decoders. */
#include "mqtt/reader.h"

static bool need(struct reader *r, size_t n)
{
	if (r->bad || reader_left(r) < n) {
		rd_fail(r, MQTT_RC_MALFORMED_PACKET);
		return false;
	}
	return true;
}

uint8_t rd_u8(struct reader *r)
{
	return need(r, 1) ? *r->p++ : 0;
}

uint16_t rd_u16(struct reader *r)
{
	if (!need(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return v;
}

uint32_t rd_u32(struct reader *r)
{
	if (!need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return v;
}

uint32_t rd_varint(struct reader *r)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++) {
		uint8_t b = rd_u8(r);
		v |= (uint32_t)(b & 0x7F) << (7 * i);
		if (!(b & 0x80))
			return v;
	}
	rd_fail(r, MQTT_RC_MALFORMED_PACKET); /* a 5th byte [MQTT-1.5.5] */
	return 0;
}

struct mqtt_bin rd_bin(struct reader *r)
{
	uint16_t len = rd_u16(r);
	if (!need(r, len))
		return (struct mqtt_bin){0};
	struct mqtt_bin b = {r->p, len};
	r->p += len;
	return b;
}

struct mqtt_str rd_str(struct reader *r)
{
	struct mqtt_bin b = rd_bin(r);
	if (r->bad || !mqtt_utf8_valid((const char *)b.p, b.len)) {
		rd_fail(r, MQTT_RC_MALFORMED_PACKET); /* [MQTT-1.5.4-1], [MQTT-1.5.4-2] */
		return (struct mqtt_str){0};
	}
	return (struct mqtt_str){(const char *)b.p, (uint16_t)b.len};
}
