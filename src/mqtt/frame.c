/* Framing: the fixed header (type, flags, remaining length) and the
 * resumable split of a byte stream into whole packets.
 *
 * The parser keeps no state between calls: it looks at the unconsumed bytes
 * again each time, which is cheap (at most 5 header bytes) and makes any
 * split of the stream frame the same. It knows nothing of the protocol
 * version: AUTH (15) frames here and the protocol layer refuses it before
 * 5.0, and a non-minimal remaining length (0x80 0x00 for 0) is accepted,
 * as 3.1.1 allows; only a 5th length byte is malformed. */
#include "mqtt/codec.h"

#include "fleetmq/errors.h"

unsigned mqtt_varint_size(uint32_t v)
{
	return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

/* Flags the fixed header must carry for each type [MQTT-2.2.2-1]; anything
 * else is malformed [MQTT-2.2.2-2]. PUBLISH carries DUP, QoS and RETAIN:
 * any value but QoS 3. */
static bool flags_valid(uint8_t type, uint8_t flags)
{
	switch (type) {
	case MQTT_PUBLISH: return ((flags >> 1) & 0x3) != 3; /* [MQTT-3.3.1-4] */
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE: return flags == 0x2;
	default: return flags == 0;
	}
}

/* Decode the remaining-length varint at p[0, len): FM_OK with *value and
 * *size, FM_EAGAIN if more bytes are needed, FM_EPROTO after a 4th
 * continuation byte [MQTT-2.2.3]. */
static int parse_varint(const uint8_t *p, size_t len, uint32_t *value, unsigned *size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++) {
		if (i >= len)
			return FM_EAGAIN;
		v |= (uint32_t)(p[i] & 0x7F) << (7 * i);
		if (!(p[i] & 0x80)) {
			*value = v;
			*size = i + 1;
			return FM_OK;
		}
	}
	return FM_EPROTO;
}

int mqtt_frame_parse(const uint8_t *p, size_t len, uint32_t max_packet,
		     struct mqtt_frame *out, size_t *consumed, uint8_t *reason)
{
	if (len < 2)
		return FM_EAGAIN;
	uint8_t type = p[0] >> 4, flags = p[0] & 0x0F;
	*reason = MQTT_RC_MALFORMED_PACKET;
	if (type == 0 || !flags_valid(type, flags))
		return FM_EPROTO;
	uint32_t remaining;
	unsigned vsize;
	int rc = parse_varint(p + 1, len - 1, &remaining, &vsize);
	if (rc != FM_OK)
		return rc;
	uint64_t total = 1u + vsize + (uint64_t)remaining;
	if (max_packet && total > max_packet) {
		*reason = MQTT_RC_PACKET_TOO_LARGE; /* refused before the body arrives */
		return FM_EPROTO;
	}
	if (len < total)
		return FM_EAGAIN;
	*reason = 0;
	out->type = type;
	out->flags = flags;
	out->remaining_len = remaining;
	out->header_len = 1 + vsize;
	out->body = p + 1 + vsize;
	*consumed = (size_t)total;
	return FM_OK;
}
