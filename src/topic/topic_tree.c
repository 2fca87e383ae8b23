/* Subscription tree: one node per filter level, subscriptions stored on the
 * node where their filter ends.
 *
 * Layout: ordinary levels are children in a seeded hash map (level_map.c);
 * the '+' and '#' children are kept in their own pointers because every
 * match has to look at them anyway, and a map probe for them would be waste.
 * A '#' node never has children: '#' is always the last level.
 *
 * Subscriptions on one node are a dense array (match just walks it), plus a
 * subscriber -> position index once a filter has many subscribers, so that
 * "a million devices on cmd/all" does not make each SUBSCRIBE O(n).
 *
 * Matching and freeing walk the tree iteratively using parent pointers, not
 * recursion: a legal topic can have 32k levels, and the walk must neither
 * allocate nor risk a worker thread's stack.
 *
 * Invariant: every node except the root has subscriptions or children; the
 * last subscription leaving a node frees it and any emptied ancestors.
 *
 * Sections: subscription sets / nodes / add, del / match / free. */
#include "topic/topic.h"
#include "topic/level_map.h"
#include "topic/topic_debug.h"
#include "fleetmq/errors.h"

#include <stdlib.h>
#include <string.h>

/* --- subscription sets -------------------------------------------------- */

/* Below this many subscribers a linear scan beats maintaining an index. */
#define INDEX_MIN 8u

struct sub_set {
	struct topic_sub *v;   /* n subscriptions, densely packed, any order */
	uint32_t n;            /* used entries of v */
	uint32_t cap;          /* allocated entries of v */
	uint32_t *index;       /* icap slots holding position + 1 (0 = free), or NULL */
	uint32_t icap;         /* 0 or a power of two, at least 2 * n */
};

static uint32_t ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x >> 32);
}

/* Index slot holding the entry for subscriber, or the free slot ending its
 * probe run. */
static uint32_t index_probe(const struct sub_set *s, const void *subscriber)
{
	uint32_t mask = s->icap - 1, i = ptr_hash(subscriber) & mask;
	while (s->index[i] && s->v[s->index[i] - 1].subscriber != subscriber)
		i = (i + 1) & mask;
	return i;
}

static void index_put(struct sub_set *s, uint32_t pos)
{
	s->index[index_probe(s, s->v[pos].subscriber)] = pos + 1;
}

/* Backward-shift removal, as in level_map.c: no tombstones. */
static void index_remove(struct sub_set *s, uint32_t hole)
{
	uint32_t mask = s->icap - 1;
	s->index[hole] = 0;
	for (uint32_t i = (hole + 1) & mask; s->index[i]; i = (i + 1) & mask) {
		uint32_t home = ptr_hash(s->v[s->index[i] - 1].subscriber) & mask;
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			s->index[hole] = s->index[i];
			s->index[i] = 0;
			hole = i;
		}
	}
}

/* Rebuild the index with icap slots (0 drops it). */
static int index_rebuild(struct sub_set *s, uint32_t icap)
{
	free(s->index);
	s->index = NULL;
	s->icap = 0;
	if (!icap)
		return FM_OK;
	s->index = calloc(icap, sizeof(*s->index));
	if (!s->index)
		return FM_ENOMEM;
	s->icap = icap;
	for (uint32_t i = 0; i < s->n; i++)
		index_put(s, i);
	return FM_OK;
}

/* Position of subscriber's entry, or UINT32_MAX. */
static uint32_t subs_find(const struct sub_set *s, const void *subscriber)
{
	if (s->index) {
		uint32_t slot = s->index[index_probe(s, subscriber)];
		return slot ? slot - 1 : UINT32_MAX;
	}
	for (uint32_t i = 0; i < s->n; i++)
		if (s->v[i].subscriber == subscriber)
			return i;
	return UINT32_MAX;
}

static int subs_reserve(struct sub_set *s)
{
	if (s->n < s->cap)
		return FM_OK;
	if (s->cap > UINT32_MAX / 4)
		return FM_ENOMEM;
	uint32_t cap = s->cap ? s->cap * 2 : 2;
	struct topic_sub *v = realloc(s->v, cap * sizeof(*v));
	if (!v)
		return FM_ENOMEM;
	s->v = v;
	s->cap = cap;
	return FM_OK;
}

/* Append sub (whose subscriber is not present). The index appears at
 * INDEX_MIN entries and doubles to keep its load at most 1/2. */
static int subs_append(struct sub_set *s, const struct topic_sub *sub)
{
	int rc = subs_reserve(s);
	if (rc != FM_OK)
		return rc;
	s->v[s->n++] = *sub;
	if (s->n >= INDEX_MIN && (uint64_t)s->n * 2 > s->icap)
		rc = index_rebuild(s, s->icap ? s->icap * 2 : 2 * INDEX_MIN); /* indexes sub too */
	else if (s->index)
		index_put(s, s->n - 1);
	if (rc != FM_OK)
		s->n--; /* index gone: back to the old entries, found by scanning */
	return rc;
}

static int subs_put(struct sub_set *s, const struct topic_sub *sub, bool *replaced)
{
	uint32_t i = subs_find(s, sub->subscriber);
	*replaced = i != UINT32_MAX;
	if (*replaced) {
		s->v[i] = *sub;
		return FM_OK;
	}
	return subs_append(s, sub);
}

/* Give memory back after removals; failures only cost memory. */
static void subs_shrink(struct sub_set *s)
{
	if (s->n == 0) {
		free(s->v);
		s->v = NULL;
		s->cap = 0;
	} else if (s->cap > 4 && s->n * 4 < s->cap) {
		struct topic_sub *v = realloc(s->v, (s->cap / 2) * sizeof(*v));
		if (v) {
			s->v = v;
			s->cap /= 2;
		}
	}
	if (s->index && s->n < INDEX_MIN / 2)
		(void)index_rebuild(s, 0);
}

static int subs_del(struct sub_set *s, const void *subscriber)
{
	uint32_t i = subs_find(s, subscriber);
	if (i == UINT32_MAX)
		return FM_ENOTFOUND;
	uint32_t last = s->n - 1;
	if (s->index)
		index_remove(s, index_probe(s, subscriber));
	if (i != last) {
		/* move the last entry into the gap and repoint its index slot */
		s->v[i] = s->v[last];
		if (s->index)
			s->index[index_probe(s, s->v[i].subscriber)] = i + 1;
	}
	s->n--;
	subs_shrink(s);
	return FM_OK;
}

static void subs_fini(struct sub_set *s)
{
	free(s->v);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

/* --- nodes -------------------------------------------------------------- */

struct tnode {
	struct level_head head;    /* key in parent->children; must stay first */
	struct tnode *parent;      /* NULL for the root */
	struct level_map children; /* ordinary levels */
	struct tnode *plus;        /* '+' child, or NULL */
	struct tnode *hash;        /* '#' child (subscriptions only), or NULL */
	struct sub_set subs;       /* subscriptions whose filter ends here */
	char level[];              /* head.str points here */
};

struct topic_tree {
	struct tnode *root;        /* zero levels consumed; never has subscriptions */
	uint64_t seed;             /* level_hash seed for every map in this tree */
	size_t count;              /* subscriptions stored */
	size_t nodes;              /* allocated nodes, root included */
};

static struct tnode *node_of(const struct level_head *h)
{
	return (struct tnode *)h; /* head is the first member */
}

static struct tnode *node_new(struct tnode *parent, const char *s, size_t len, uint32_t hash)
{
	struct tnode *n = calloc(1, sizeof(*n) + len);
	if (!n)
		return NULL;
	memcpy(n->level, s, len);
	n->head = (struct level_head){ .str = n->level, .len = (uint32_t)len, .hash = hash };
	n->parent = parent;
	return n;
}

static void node_free(struct tnode *n)
{
	level_map_fini(&n->children);
	subs_fini(&n->subs);
	free(n);
}

static bool is_wild(const char *s, size_t len, char w)
{
	return len == 1 && s[0] == w;
}

/* Slot for the child of n named s/len: the plus or hash pointer, or NULL
 * for an ordinary level (which lives in the map). */
static struct tnode **wild_slot(struct tnode *n, const char *s, size_t len)
{
	if (is_wild(s, len, '+'))
		return &n->plus;
	if (is_wild(s, len, '#'))
		return &n->hash;
	return NULL;
}

static struct tnode *child_get(const struct topic_tree *t, struct tnode *n, const char *s,
			       size_t len)
{
	struct tnode **w = wild_slot(n, s, len);
	if (w)
		return *w;
	struct level_head *h = level_map_get(&n->children, s, len, level_hash(t->seed, s, len));
	return h ? node_of(h) : NULL;
}

/* Existing or new child of n for level s/len; NULL when out of memory. */
static struct tnode *child_make(struct topic_tree *t, struct tnode *n, const char *s,
				size_t len)
{
	struct tnode *c = child_get(t, n, s, len);
	if (c)
		return c;
	uint32_t hash = level_hash(t->seed, s, len);
	c = node_new(n, s, len, hash);
	if (!c)
		return NULL;
	struct tnode **w = wild_slot(n, s, len);
	if (w)
		*w = c;
	else if (level_map_add(&n->children, &c->head) != FM_OK) {
		node_free(c);
		return NULL;
	}
	t->nodes++;
	return c;
}

static void child_detach(struct tnode *p, struct tnode *c)
{
	if (p->plus == c)
		p->plus = NULL;
	else if (p->hash == c)
		p->hash = NULL;
	else
		level_map_del(&p->children, &c->head);
}

static bool node_unused(const struct tnode *n)
{
	return !n->subs.n && !n->children.count && !n->plus && !n->hash;
}

/* Free n and each ancestor that is left unused (never the root). */
static void prune(struct topic_tree *t, struct tnode *n)
{
	while (n != t->root && node_unused(n)) {
		struct tnode *p = n->parent;
		child_detach(p, n);
		node_free(n);
		t->nodes--;
		n = p;
	}
}

/* Children in a fixed order (plus, hash, map slots), resumable from any
 * child: the iteration behind the stack-free walks below. */
static struct tnode *child_after(const struct tnode *p, const struct tnode *c)
{
	if (!c && p->plus)
		return p->plus;
	if ((!c || c == p->plus) && p->hash)
		return p->hash;
	bool in_map = c && c != p->plus && c != p->hash;
	struct level_head *h = level_map_next(&p->children, in_map ? &c->head : NULL);
	return h ? node_of(h) : NULL;
}

/* --- add, del ----------------------------------------------------------- */

struct topic_tree *topic_tree_new(void)
{
	struct topic_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->seed = level_seed(t);
	t->root = node_new(NULL, "", 0, 0);
	if (!t->root) {
		free(t);
		return NULL;
	}
	t->nodes = 1;
	return t;
}

/* Node for filter, or NULL if no subscription path exists. */
static struct tnode *find(const struct topic_tree *t, const char *filter, size_t len)
{
	struct tnode *n = t->root;
	for (size_t off = 0; n && off <= len;) {
		size_t e = level_end(filter, len, off);
		n = child_get(t, n, filter + off, e - off);
		off = e + 1;
	}
	return n;
}

int topic_tree_add(struct topic_tree *t, const char *filter, size_t len,
		   const struct topic_sub *sub, bool *replaced)
{
	*replaced = false;
	struct tnode *n = t->root;
	for (size_t off = 0; off <= len;) {
		size_t e = level_end(filter, len, off);
		struct tnode *c = child_make(t, n, filter + off, e - off);
		if (!c) {
			prune(t, n); /* drop the levels created for this call */
			return FM_ENOMEM;
		}
		n = c;
		off = e + 1;
	}
	int rc = subs_put(&n->subs, sub, replaced);
	if (rc != FM_OK) {
		prune(t, n);
		return rc;
	}
	if (!*replaced)
		t->count++;
	return FM_OK;
}

int topic_tree_del(struct topic_tree *t, const char *filter, size_t len, void *subscriber)
{
	struct tnode *n = find(t, filter, len);
	if (!n || subs_del(&n->subs, subscriber) != FM_OK)
		return FM_ENOTFOUND;
	t->count--;
	prune(t, n);
	return FM_OK;
}

size_t topic_tree_count(const struct topic_tree *t)
{
	return t->count;
}

size_t topic_tree_nodes(const struct topic_tree *t)
{
	return t->nodes;
}

/* --- match -------------------------------------------------------------- */

struct match_walk {
	const struct tnode *root;
	const char *name;          /* topic being published */
	size_t len;                /* bytes in name */
	bool dollar;               /* name starts with '$' */
	uint64_t seed;             /* the tree's level_hash seed */
	topic_match_fn *fn;
	void *arg;
};

static void report(const struct match_walk *w, const struct sub_set *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		w->fn(w->arg, &s->v[i]);
}

/* [MQTT-4.7.2-1] wildcards in the first level do not match '$' names. */
static bool wild_allowed(const struct match_walk *w, const struct tnode *n)
{
	return n != w->root || !w->dollar;
}

/* Report what matches at n, with name consumed up to off. A '#' child
 * matches here whether levels remain or not ("sport/#" matches "sport"). */
static void visit(const struct match_walk *w, const struct tnode *n, size_t off)
{
	if (n->hash && wild_allowed(w, n))
		report(w, &n->hash->subs);
	if (off > w->len)
		report(w, &n->subs);
}

/* First branch below n for the level at off: the exact child, else '+'.
 * The exact lookup is map-only, so a stray '+' in a name cannot take the
 * '+' branch twice. */
static const struct tnode *first_branch(const struct match_walk *w, const struct tnode *n,
					size_t off)
{
	if (off > w->len)
		return NULL;
	size_t e = level_end(w->name, w->len, off);
	const char *s = w->name + off;
	struct level_head *h = level_map_get(&n->children, s, e - off,
					     level_hash(w->seed, s, e - off));
	if (h)
		return node_of(h);
	return wild_allowed(w, n) ? n->plus : NULL;
}

/* Depth-first over at most two branches per level (exact, '+'), climbing
 * back through parent pointers; see the file header for why. fn must not
 * add or delete subscriptions of this tree while the walk runs. */
void topic_tree_match(const struct topic_tree *t, const char *name, size_t len,
		      topic_match_fn *fn, void *arg)
{
	struct match_walk w = { .root = t->root, .name = name, .len = len, .seed = t->seed,
				.dollar = len > 0 && name[0] == '$', .fn = fn, .arg = arg };
	const struct tnode *n = t->root;
	size_t off = 0;
	visit(&w, n, off);
	for (;;) {
		const struct tnode *c = first_branch(&w, n, off);
		if (c) {
			off = level_end(name, len, off) + 1;
			n = c;
			visit(&w, n, off);
			continue;
		}
		/* climb until some ancestor still has its '+' branch to try */
		for (;;) {
			if (n == t->root)
				return;
			const struct tnode *p = n->parent;
			if (n != p->plus && p->plus && wild_allowed(&w, p)) {
				n = p->plus; /* same level consumed, same off */
				visit(&w, n, off);
				break;
			}
			n = p;
			off = level_start_before(name, off);
		}
	}
}

/* --- free --------------------------------------------------------------- */

/* Post-order without recursion: descend to a leaf, free it, continue with
 * its next sibling (found before the free), else free the parent. */
void topic_tree_free(struct topic_tree *t)
{
	if (!t)
		return;
	struct tnode *n = t->root, *c = child_after(n, NULL);
	for (;;) {
		if (c) {
			n = c;
			c = child_after(n, NULL);
			continue;
		}
		struct tnode *p = n->parent;
		if (p)
			c = child_after(p, n);
		node_free(n);
		if (!p)
			break;
		n = p;
	}
	free(t);
}
