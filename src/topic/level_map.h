/* Internal to src/topic: a hash map from one topic level (a byte string) to
 * the tree node for that level. Used by both the subscription tree and the
 * retained tree, whose nodes embed a struct level_head as their key.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), so lookups stay short after heavy subscribe/unsubscribe churn.
 * The map does not own the nodes; it only stores pointers to their heads. */
#ifndef FM_TOPIC_LEVEL_MAP_H
#define FM_TOPIC_LEVEL_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Key part of a tree node; embedded in the node, pointed to by the map. */
struct level_head {
	const char *str;     /* level bytes, not NUL-terminated; owned by the node */
	uint32_t len;        /* bytes in str; a level is at most 65535 bytes */
	uint32_t hash;       /* level_hash(seed, str, len) with the owning map's seed */
};

struct level_map {
	struct level_head **slots; /* cap entries, NULL = free; NULL while empty */
	uint32_t cap;              /* 0 or a power of two */
	uint32_t count;            /* occupied slots */
};

/* Seeded hash of one level. Level bytes come from clients, so the seed (one
 * per tree, see level_seed) keeps them from choosing colliding levels. */
uint32_t level_hash(uint64_t seed, const char *s, size_t len);
/* A per-tree seed from address-space randomisation; no global state. */
uint64_t level_seed(const void *owner);

/* The entry for the level s/len with the given hash, or NULL. */
struct level_head *level_map_get(const struct level_map *m, const char *s, size_t len,
				 uint32_t hash);
/* Insert h (whose level must not be present). FM_OK or FM_ENOMEM. */
int level_map_add(struct level_map *m, struct level_head *h);
/* Remove h, which must be present. May shrink the table; never fails. */
void level_map_del(struct level_map *m, struct level_head *h);
/* Iteration in slot order: first entry when after is NULL, else the entry
 * following after (which must be present). NULL at the end. Lets tree walks
 * resume a sibling scan from a child pointer alone, without a stack. */
struct level_head *level_map_next(const struct level_map *m, const struct level_head *after);
/* Release the slot array; the entries are the caller's. */
void level_map_fini(struct level_map *m);

/* Level walking shared by the trees. A walk keeps "off", the offset just
 * past the levels consumed so far: 0 at the root, end + 1 after the level
 * ending at end. off == len + 1 therefore means every level is consumed,
 * which keeps empty levels ("a//b", trailing "/") ordinary. */

/* End (exclusive) of the level starting at off: the next '/' or len. */
static inline size_t level_end(const char *t, size_t len, size_t off)
{
	const char *slash = memchr(t + off, '/', len - off);
	return slash ? (size_t)(slash - t) : len;
}

/* Undo one level: the offset before the level that ends at off - 1. Lets
 * an iterative walk climb back up without remembering offsets. */
static inline size_t level_start_before(const char *t, size_t off)
{
	size_t s = off - 1;
	while (s > 0 && t[s - 1] != '/')
		s--;
	return s;
}

#endif
