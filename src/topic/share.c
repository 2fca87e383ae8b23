/* Shared subscriptions (topic.h, "shared subscriptions"): one group object
 * per (share name, filter). The subscription tree holds the group itself
 * as the subscriber of the filter, flagged TOPIC_SUB_SHARED, so matching
 * finds it like any subscription and the router picks one member; this
 * table finds the group again by name when members come and go.
 *
 * Groups are few next to subscriptions, so the table is a plain chained
 * hash table that doubles; members are a dense array per group. */
#include "topic/topic.h"

#include "core/grow.h"
#include "fleetmq/errors.h"
#include "topic/level_map.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct share_group {
	struct share_group *next;   /* hash chain */
	uint32_t hash;
	uint16_t name_len, filter_len;
	struct share_member *v;     /* members, in joining order */
	uint32_t n, cap;
	atomic_uint cursor;         /* round robin over members (routers on any worker) */
	char key[];                 /* name, then filter (not NUL-terminated) */
};

struct share_table {
	struct share_group **bucket;
	uint32_t n_buckets;         /* power of two */
	uint32_t count;
	size_t members;             /* members of every group */
};

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7u

bool topic_share_parse(const char *f, size_t len, struct topic_share *out)
{
	if (len <= SHARE_PREFIX_LEN || memcmp(f, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return false;
	const char *name = f + SHARE_PREFIX_LEN;
	const char *slash = memchr(name, '/', len - SHARE_PREFIX_LEN);
	out->name = name;
	out->name_len = slash ? (size_t)(slash - name) : len - SHARE_PREFIX_LEN;
	out->filter = slash ? slash + 1 : f + len;
	out->filter_len = slash ? (size_t)(f + len - out->filter) : 0;
	return true;
}

bool topic_share_valid(const struct topic_share *s)
{
	/* [MQTT-4.8.2-1] a Share Name of at least one character, [MQTT-4.8.2-2]
	 * without '/', '+' or '#', then a valid filter */
	if (s->name_len == 0 || memchr(s->name, '+', s->name_len) || memchr(s->name, '#', s->name_len) ||
	    memchr(s->name, '\0', s->name_len))
		return false;
	return s->name_len <= UINT16_MAX && topic_filter_valid(s->filter, s->filter_len);
}

struct share_table *share_table_new(void)
{
	struct share_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->bucket = calloc(16, sizeof(*t->bucket));
	if (!t->bucket) {
		free(t);
		return NULL;
	}
	t->n_buckets = 16;
	return t;
}

static void group_free(struct share_group *g)
{
	free(g->v);
	free(g);
}

void share_table_free(struct share_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n_buckets; i++) {
		struct share_group *g = t->bucket[i], *next;
		for (; g; g = next) {
			next = g->next;
			group_free(g);
		}
	}
	free(t->bucket);
	free(t);
}

static uint32_t key_hash(const struct topic_share *s)
{
	return level_hash(0x5ca1ab1eull, s->name, s->name_len) ^
	       (level_hash(0xfee1deadull, s->filter, s->filter_len) * 31u);
}

static bool group_is(const struct share_group *g, const struct topic_share *s, uint32_t hash)
{
	return g->hash == hash && g->name_len == s->name_len && g->filter_len == s->filter_len &&
	       memcmp(g->key, s->name, s->name_len) == 0 &&
	       memcmp(g->key + s->name_len, s->filter, s->filter_len) == 0;
}

static struct share_group **slot_of(struct share_table *t, const struct topic_share *s, uint32_t hash)
{
	struct share_group **p = &t->bucket[hash & (t->n_buckets - 1)];
	while (*p && !group_is(*p, s, hash))
		p = &(*p)->next;
	return p;
}

/* Double the buckets at load 1; a failure only lengthens chains. */
static void maybe_grow(struct share_table *t)
{
	if (t->count < t->n_buckets || t->n_buckets > UINT32_MAX / 2)
		return;
	uint32_t n = t->n_buckets * 2;
	struct share_group **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (uint32_t i = 0; i < t->n_buckets; i++) {
		struct share_group *g = t->bucket[i], *next;
		for (; g; g = next) {
			next = g->next;
			g->next = b[g->hash & (n - 1)];
			b[g->hash & (n - 1)] = g;
		}
	}
	free(t->bucket);
	t->bucket = b;
	t->n_buckets = n;
}

static struct share_group *group_new(const struct topic_share *s, uint32_t hash)
{
	struct share_group *g = calloc(1, sizeof(*g) + s->name_len + s->filter_len);
	if (!g)
		return NULL;
	g->hash = hash;
	g->name_len = (uint16_t)s->name_len;
	g->filter_len = (uint16_t)s->filter_len;
	memcpy(g->key, s->name, s->name_len);
	memcpy(g->key + s->name_len, s->filter, s->filter_len);
	atomic_init(&g->cursor, 0);
	return g;
}

static uint32_t member_find(const struct share_group *g, const void *subscriber)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->v[i].subscriber == subscriber)
			return i;
	return UINT32_MAX;
}

static int member_append(struct share_group *g, const struct share_member *m)
{
	if (fm_grow((void **)&g->v, &g->cap, g->n + 1, sizeof(*g->v), 4) != FM_OK)
		return FM_ENOMEM;
	g->v[g->n++] = *m;
	return FM_OK;
}

int share_join(struct share_table *t, const struct topic_share *s, const struct share_member *m,
	       struct share_group **out, bool *created, bool *replaced)
{
	uint32_t hash = key_hash(s);
	struct share_group **p = slot_of(t, s, hash);
	*created = *replaced = false;
	if (!*p) {
		if ((*p = group_new(s, hash)) == NULL)
			return FM_ENOMEM;
		*created = true;
		t->count++;
	}
	struct share_group *g = *p;
	uint32_t i = member_find(g, m->subscriber);
	int rc = FM_OK;
	if (i != UINT32_MAX) {
		g->v[i] = *m;
		*replaced = true;
	} else if ((rc = member_append(g, m)) == FM_OK) {
		t->members++;
	}
	if (rc != FM_OK && *created) {
		*p = g->next;
		group_free(g);
		t->count--;
		*created = false;
		return rc;
	}
	*out = g;
	if (*created)
		maybe_grow(t);
	return rc;
}

int share_leave(struct share_table *t, const struct topic_share *s, const void *subscriber,
		struct share_group **emptied)
{
	*emptied = NULL;
	struct share_group **p = slot_of(t, s, key_hash(s));
	struct share_group *g = *p;
	uint32_t i = g ? member_find(g, subscriber) : UINT32_MAX;
	if (i == UINT32_MAX)
		return FM_ENOTFOUND;
	/* keep the order members joined: round robin stays fair */
	memmove(&g->v[i], &g->v[i + 1], (g->n - i - 1) * sizeof(g->v[0]));
	t->members--;
	if (--g->n == 0) {
		*p = g->next;
		t->count--;
		*emptied = g; /* out of the table; the caller takes it out of the tree, then frees it */
	}
	return FM_OK;
}

void share_group_free(struct share_group *g)
{
	if (g)
		group_free(g);
}

uint32_t share_members(const struct share_group *g, const struct share_member **v)
{
	*v = g->v;
	return g->n;
}

uint32_t share_next(struct share_group *g)
{
	return atomic_fetch_add_explicit(&g->cursor, 1, memory_order_relaxed);
}

size_t share_table_count(const struct share_table *t)
{
	return t->count;
}

size_t share_table_members(const struct share_table *t)
{
	return t->members;
}
