/* Level hash map for the topic trees; see level_map.h.
 *
 * Invariants: cap is 0 or a power of two; count <= 3/4 cap; every entry sits
 * in the run of occupied slots that starts at its home slot (hash & mask),
 * which backward-shift deletion preserves. */
#include "topic/level_map.h"
#include "fleetmq/errors.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 4u

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

/* Not cryptographic: eight bytes per multiply, with the unknown seed folded
 * in at every step so a client cannot precompute collisions offline. */
uint32_t level_hash(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = mix64(h ^ w ^ seed);
		s += 8;
		len -= 8;
	}
	uint64_t tail = 0;
	memcpy(&tail, s, len);
	return (uint32_t)mix64(h ^ tail ^ (seed >> 7));
}

uint64_t level_seed(const void *owner)
{
	int local;
	/* heap and stack addresses both carry ASLR entropy */
	return mix64((uint64_t)(uintptr_t)owner ^ mix64((uint64_t)(uintptr_t)&local));
}

static bool same_level(const struct level_head *h, const char *s, size_t len, uint32_t hash)
{
	return h->hash == hash && h->len == len && memcmp(h->str, s, len) == 0;
}

struct level_head *level_map_get(const struct level_map *m, const char *s, size_t len,
				 uint32_t hash)
{
	if (!m->count)
		return NULL;
	uint32_t mask = m->cap - 1;
	for (uint32_t i = hash & mask; m->slots[i]; i = (i + 1) & mask)
		if (same_level(m->slots[i], s, len, hash))
			return m->slots[i];
	return NULL;
}

static void place(struct level_head **slots, uint32_t cap, struct level_head *h)
{
	uint32_t mask = cap - 1, i = h->hash & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = h;
}

/* Move every entry to a table of new_cap slots (0 frees the table). */
static int resize(struct level_map *m, uint32_t new_cap)
{
	struct level_head **slots = NULL;
	if (new_cap) {
		slots = calloc(new_cap, sizeof(*slots));
		if (!slots)
			return FM_ENOMEM;
	}
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i])
			place(slots, new_cap, m->slots[i]);
	free(m->slots);
	m->slots = slots;
	m->cap = new_cap;
	return FM_OK;
}

int level_map_add(struct level_map *m, struct level_head *h)
{
	if ((uint64_t)(m->count + 1) * 4 > (uint64_t)m->cap * 3) {
		if (m->cap > UINT32_MAX / 2)
			return FM_ENOMEM;
		int rc = resize(m, m->cap ? m->cap * 2 : MIN_CAP);
		if (rc != FM_OK)
			return rc;
	}
	place(m->slots, m->cap, h);
	m->count++;
	return FM_OK;
}

static uint32_t slot_of(const struct level_map *m, const struct level_head *h)
{
	uint32_t mask = m->cap - 1, i = h->hash & mask;
	while (m->slots[i] != h)
		i = (i + 1) & mask;
	return i;
}

/* Backward-shift deletion: pull later members of the probe run into the
 * hole when their home slot allows it, so no tombstones are needed. */
static void close_hole(struct level_map *m, uint32_t hole)
{
	uint32_t mask = m->cap - 1;
	for (uint32_t i = (hole + 1) & mask; m->slots[i]; i = (i + 1) & mask) {
		uint32_t home = m->slots[i]->hash & mask;
		/* the entry may move to hole if hole lies on its path home..i */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			m->slots[hole] = m->slots[i];
			m->slots[i] = NULL;
			hole = i;
		}
	}
}

void level_map_del(struct level_map *m, struct level_head *h)
{
	uint32_t i = slot_of(m, h);
	m->slots[i] = NULL;
	close_hole(m, i);
	m->count--;
	/* shrink when mostly empty so a drained level does not keep a big
	 * table; a failed shrink only costs memory */
	if (m->count == 0)
		(void)resize(m, 0);
	else if (m->cap > MIN_CAP && m->count * 8 < m->cap)
		(void)resize(m, m->cap / 2);
}

struct level_head *level_map_next(const struct level_map *m, const struct level_head *after)
{
	uint32_t i = after ? slot_of(m, after) + 1 : 0;
	for (; i < m->cap; i++)
		if (m->slots[i])
			return m->slots[i];
	return NULL;
}

void level_map_fini(struct level_map *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
