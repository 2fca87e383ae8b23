/* A bounds-checked cursor over a packet body, shared by the decoders.
 * Every read on a short or bad input sets r->bad and returns a zero value,
 * so a decoder reads all fields and checks r->bad once. Internal to src/mqtt. */
#ifndef FM_MQTT_READER_H
#define FM_MQTT_READER_H

#include "mqtt/codec.h"

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static inline struct reader reader_of(const struct mqtt_frame *f)
{
	return (struct reader){f->body, f->body + f->remaining_len, false};
}

static inline size_t reader_left(const struct reader *r) { return (size_t)(r->end - r->p); }

uint8_t rd_u8(struct reader *r);
uint16_t rd_u16(struct reader *r);
uint32_t rd_u32(struct reader *r);
uint32_t rd_varint(struct reader *r);
/* Length-prefixed binary data. */
struct mqtt_bin rd_bin(struct reader *r);
/* Length-prefixed string; bad unless valid UTF-8 [MQTT-1.5.3]. */
struct mqtt_str rd_str(struct reader *r);
/* 5.0 property section: length varint, then properties whose ids and value
 * types are checked; the raw properties are returned. */
struct mqtt_bin rd_props(struct reader *r);

#endif
