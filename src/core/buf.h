/* Growable byte buffer used for connection input and output.
 *
 * Bytes live in data[off, len); consumed bytes are dropped from the front by
 * advancing off and compacted lazily. Buffers start empty (no allocation),
 * grow on demand and can be shrunk back when idle, so an idle connection
 * costs no buffer memory. */
#ifndef FM_CORE_BUF_H
#define FM_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Largest buffer: beyond the largest MQTT packet with room to spare, and
 * small enough that positions fit in 32 bits (every connection has two
 * buffers, so their size matters). */
#define BUF_MAX (1u << 30)

struct buf {
	uint8_t *data; /* owned; NULL while cap == 0 */
	uint32_t off;  /* first unconsumed byte */
	uint32_t len;  /* end of valid bytes */
	uint32_t cap;  /* allocated bytes */
};

static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
/* An empty buffer may own no memory (data NULL): no pointer arithmetic then. */
static inline uint8_t *buf_head(const struct buf *b) { return b->data ? b->data + b->off : NULL; }

void buf_init(struct buf *b);
/* Free the storage; b is left empty and reusable. */
void buf_fini(struct buf *b);
/* Make room for at least n more bytes at the tail. FM_OK or FM_ENOMEM
 * (also past BUF_MAX). */
int buf_reserve(struct buf *b, size_t n);
/* Append n bytes. FM_OK or FM_ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Put n bytes before the unconsumed ones (a packet to be read again
 * first). FM_OK or FM_ENOMEM. */
int buf_prepend(struct buf *b, const void *p, size_t n);
int buf_append_u8(struct buf *b, uint8_t v);
int buf_append_u16(struct buf *b, uint16_t v); /* big-endian, as MQTT */
int buf_append_u32(struct buf *b, uint32_t v); /* big-endian */
/* Drop n consumed bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Release storage if the buffer is empty (idle connection shrink). */
void buf_shrink_if_empty(struct buf *b);
/* Writable tail: pointer and room after buf_reserve. */
static inline uint8_t *buf_tail(const struct buf *b) { return b->data ? b->data + b->len : NULL; }
static inline size_t buf_room(const struct buf *b) { return b->cap - b->len; }

#endif
