/* Client id -> session hash table (chained, power-of-two buckets, grows at
 * load factor 1). FNV-1a over the id bytes. */
#include "session/session.h"
#include "fleetmq/errors.h"

#include <stdlib.h>
#include <string.h>

struct session_table {
	struct session **buckets;
	size_t mask;   /* buckets - 1 */
	size_t count;
};

static uint64_t hash_id(const char *id, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)id[i];
		h *= 1099511628211ull;
	}
	return h;
}

struct session_table *session_table_new(void)
{
	struct session_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->buckets = calloc(64, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->mask = 63;
	return t;
}

void session_table_free(struct session_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->mask; i++) {
		struct session *s = t->buckets[i];
		while (s) {
			struct session *next = s->hash_next;
			s->hash_next = NULL;
			session_unref(s);
			s = next;
		}
	}
	free(t->buckets);
	free(t);
}

struct session *session_table_get(const struct session_table *t, const char *id, size_t len)
{
	struct session *s = t->buckets[hash_id(id, len) & t->mask];
	for (; s; s = s->hash_next)
		if (s->id_len == len && memcmp(s->client_id, id, len) == 0)
			return s;
	return NULL;
}

static int rehash(struct session_table *t)
{
	size_t nmask = t->mask * 2 + 1;
	struct session **nb = calloc(nmask + 1, sizeof(*nb));
	if (!nb)
		return FM_ENOMEM;
	for (size_t i = 0; i <= t->mask; i++) {
		struct session *s = t->buckets[i];
		while (s) {
			struct session *next = s->hash_next;
			size_t b = hash_id(s->client_id, s->id_len) & nmask;
			s->hash_next = nb[b];
			nb[b] = s;
			s = next;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->mask = nmask;
	return FM_OK;
}

int session_table_add(struct session_table *t, struct session *s)
{
	if (t->count > t->mask && rehash(t))
		return FM_ENOMEM;
	size_t b = hash_id(s->client_id, s->id_len) & t->mask;
	s->hash_next = t->buckets[b];
	t->buckets[b] = s;
	t->count++;
	return FM_OK;
}

void session_table_del(struct session_table *t, struct session *s)
{
	struct session **pp = &t->buckets[hash_id(s->client_id, s->id_len) & t->mask];
	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == s) {
			*pp = s->hash_next;
			s->hash_next = NULL;
			t->count--;
			return;
		}
	}
}

size_t session_table_count(const struct session_table *t)
{
	return t->count;
}

void session_walk_begin(const struct session_table *t, struct session_walk *w)
{
	*w = (struct session_walk){ .next = 0, .mask = t->mask };
}

bool session_walk_step(const struct session_table *t, struct session_walk *w, size_t buckets,
		       void (*fn)(struct session *s, void *arg), void *arg, bool *regrown)
{
	*regrown = t->mask != w->mask; /* a rehash moved sessions between buckets */
	if (*regrown)
		return false;
	size_t end = w->next + buckets <= t->mask + 1 ? w->next + buckets : t->mask + 1;
	for (; w->next < end; w->next++)
		for (struct session *s = t->buckets[w->next]; s; s = s->hash_next)
			fn(s, arg);
	return w->next <= t->mask;
}

