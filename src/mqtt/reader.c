#include "mqtt/reader.h"

static bool need(struct reader *r, size_t n)
{
	if (r->bad || reader_left(r) < n) {
		r->bad = true;
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
	r->bad = true;
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
		r->bad = true;
		return (struct mqtt_str){0};
	}
	return (struct mqtt_str){(const char *)b.p, (uint16_t)b.len};
}

enum prop_kind { PK_NONE, PK_BYTE, PK_U16, PK_U32, PK_VARINT, PK_STR, PK_BIN, PK_PAIR };

/* Value type of each 5.0 property id (section 2.2.2.2). */
static enum prop_kind prop_kind(uint32_t id)
{
	switch (id) {
	case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
		return PK_BYTE;
	case 0x13: case 0x21: case 0x22: case 0x23:
		return PK_U16;
	case 0x02: case 0x11: case 0x18: case 0x27:
		return PK_U32;
	case 0x0B:
		return PK_VARINT;
	case 0x03: case 0x08: case 0x12: case 0x15: case 0x1A: case 0x1C: case 0x1F:
		return PK_STR;
	case 0x09: case 0x16:
		return PK_BIN;
	case 0x26:
		return PK_PAIR;
	default:
		return PK_NONE;
	}
}

static void rd_prop_value(struct reader *r, enum prop_kind k)
{
	switch (k) {
	case PK_BYTE: rd_u8(r); break;
	case PK_U16: rd_u16(r); break;
	case PK_U32: rd_u32(r); break;
	case PK_VARINT: rd_varint(r); break;
	case PK_STR: rd_str(r); break;
	case PK_BIN: rd_bin(r); break;
	case PK_PAIR: rd_str(r); rd_str(r); break;
	case PK_NONE: r->bad = true; break;
	}
}

struct mqtt_bin rd_props(struct reader *r)
{
	uint32_t len = rd_varint(r);
	if (!need(r, len))
		return (struct mqtt_bin){0};
	struct mqtt_bin props = {r->p, len};
	struct reader pr = {r->p, r->p + len, false};
	while (!pr.bad && reader_left(&pr) > 0)
		rd_prop_value(&pr, prop_kind(rd_varint(&pr)));
	r->bad = pr.bad;
	r->p += len;
	return props;
}
