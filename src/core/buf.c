/* Growable byte buffer. Growth doubles; consumed space at the front is
 * reclaimed by a memmove only when the tail needs room, so a stream of
 * small appends and consumes stays amortised O(1). */
#include "core/buf.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void buf_fini(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return FM_OK;
	size_t used = b->len - b->off;
	if (b->off && b->cap - used >= n) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = (uint32_t)used;
		return FM_OK;
	}
	if (n > BUF_MAX - used)
		return FM_ENOMEM;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - used < n)
		cap *= 2;
	if (cap > BUF_MAX)
		cap = BUF_MAX;
	uint8_t *p = malloc(cap);
	if (!p)
		return FM_ENOMEM;
	if (used)
		memcpy(p, b->data + b->off, used);
	free(b->data);
	b->data = p;
	b->off = 0;
	b->len = (uint32_t)used;
	b->cap = (uint32_t)cap;
	return FM_OK;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return FM_OK;
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += (uint32_t)n;
	return FM_OK;
}

int buf_prepend(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return FM_OK;
	if (b->off < n) {
		int rc = buf_reserve(b, n); /* leaves the bytes at off, with n free after them */
		if (rc)
			return rc;
		memmove(b->data + b->off + n, b->data + b->off, buf_used(b));
		b->len += (uint32_t)n;
	} else {
		b->off -= (uint32_t)n; /* room in the consumed front */
	}
	memcpy(b->data + b->off, p, n);
	return FM_OK;
}

int buf_append_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

int buf_append_u16(struct buf *b, uint16_t v)
{
	uint8_t be[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	return buf_append(b, be, 2);
}

int buf_append_u32(struct buf *b, uint32_t v)
{
	uint8_t be[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	return buf_append(b, be, 4);
}

void buf_consume(struct buf *b, size_t n)
{
	b->off += (uint32_t)n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void buf_shrink_if_empty(struct buf *b)
{
	if (b->len == b->off && b->cap) {
		free(b->data);
		memset(b, 0, sizeof(*b));
	}
}
