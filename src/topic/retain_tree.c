/* Retained messages, keyed by topic name: one node per name level, children
 * in a seeded hash map (level_map.c), the value on the node where its name
 * ends. Values are opaque; the tree owns one reference to each and gives it
 * back through the unref callback.
 *
 * retain_tree_match takes a filter and walks only the branches it can
 * match: a literal level is one map probe, '+' visits every child, '#'
 * visits the whole subtree. Like the subscription tree, every walk is
 * iterative with parent pointers (names may have 32k levels) and allocates
 * nothing.
 *
 * Invariant: every node except the root holds a value or has children.
 *
 * Sections: nodes / set, get / match / free. */
#include "topic/topic.h"
#include "topic/level_map.h"
#include "topic/topic_debug.h"
#include "fleetmq/errors.h"

#include <stdlib.h>
#include <string.h>

/* --- nodes -------------------------------------------------------------- */

struct rnode {
	struct level_head head;    /* key in parent->children; must stay first */
	struct rnode *parent;      /* NULL for the root */
	struct level_map children; /* next levels */
	void *value;               /* retained value (our reference), or NULL */
	char level[];              /* head.str points here */
};

struct retain_tree {
	struct rnode *root;        /* zero levels; never holds a value */
	retain_unref_fn *unref;    /* drops our reference on a value */
	retain_size_fn *size;      /* a value's bytes; NULL: uncounted */
	uint64_t bytes;            /* the values' sizes summed */
	uint64_t seed;             /* level_hash seed for every map in this tree */
	size_t count;              /* values stored */
	size_t nodes;              /* allocated nodes, root included */
};

static struct rnode *node_of(const struct level_head *h)
{
	return (struct rnode *)h; /* head is the first member */
}

static struct rnode *node_new(struct rnode *parent, const char *s, size_t len, uint32_t hash)
{
	struct rnode *n = calloc(1, sizeof(*n) + len);
	if (!n)
		return NULL;
	memcpy(n->level, s, len);
	n->head = (struct level_head){ .str = n->level, .len = (uint32_t)len, .hash = hash };
	n->parent = parent;
	return n;
}

static struct rnode *child_get(const struct retain_tree *t, const struct rnode *n,
			       const char *s, size_t len)
{
	struct level_head *h = level_map_get(&n->children, s, len, level_hash(t->seed, s, len));
	return h ? node_of(h) : NULL;
}

/* Children in slot order, resumable from any child (NULL = first). */
static struct rnode *child_after(const struct rnode *p, const struct rnode *c)
{
	struct level_head *h = level_map_next(&p->children, c ? &c->head : NULL);
	return h ? node_of(h) : NULL;
}

/* Existing or new child of n for level s/len; NULL when out of memory. */
static struct rnode *child_make(struct retain_tree *t, struct rnode *n, const char *s,
				size_t len)
{
	struct rnode *c = child_get(t, n, s, len);
	if (c)
		return c;
	c = node_new(n, s, len, level_hash(t->seed, s, len));
	if (!c)
		return NULL;
	if (level_map_add(&n->children, &c->head) != FM_OK) {
		free(c);
		return NULL;
	}
	t->nodes++;
	return c;
}

/* Free n and each ancestor left without value and children (not the root). */
static void prune(struct retain_tree *t, struct rnode *n)
{
	while (n != t->root && !n->value && !n->children.count) {
		struct rnode *p = n->parent;
		level_map_del(&p->children, &n->head);
		level_map_fini(&n->children);
		free(n);
		t->nodes--;
		n = p;
	}
}

/* --- set, get ----------------------------------------------------------- */

static uint64_t size_of(const struct retain_tree *t, const void *value)
{
	return t->size ? t->size(value) : 0;
}

struct retain_tree *retain_tree_new(retain_unref_fn *unref, retain_size_fn *size)
{
	struct retain_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->unref = unref;
	t->size = size;
	t->seed = level_seed(t);
	t->root = node_new(NULL, "", 0, 0);
	if (!t->root) {
		free(t);
		return NULL;
	}
	t->nodes = 1;
	return t;
}

static struct rnode *find(const struct retain_tree *t, const char *name, size_t len)
{
	struct rnode *n = t->root;
	for (size_t off = 0; n && off <= len;) {
		size_t e = level_end(name, len, off);
		n = child_get(t, n, name + off, e - off);
		off = e + 1;
	}
	return n;
}

/* Deleting a name that holds nothing is not an error: an empty retained
 * PUBLISH to a fresh topic is ordinary [MQTT-3.3.1-10]. */
static void retain_del(struct retain_tree *t, const char *name, size_t len)
{
	struct rnode *n = find(t, name, len);
	if (!n || !n->value)
		return;
	void *old = n->value;
	n->value = NULL;
	t->count--;
	t->bytes -= size_of(t, old);
	prune(t, n);
	t->unref(old); /* last: the callback may not look at a half-updated tree */
}

int retain_tree_set(struct retain_tree *t, const char *name, size_t len, void *value)
{
	if (!value) {
		retain_del(t, name, len);
		return FM_OK;
	}
	struct rnode *n = t->root;
	for (size_t off = 0; off <= len;) {
		size_t e = level_end(name, len, off);
		struct rnode *c = child_make(t, n, name + off, e - off);
		if (!c) {
			prune(t, n); /* the caller keeps its reference on failure */
			return FM_ENOMEM;
		}
		n = c;
		off = e + 1;
	}
	void *old = n->value;
	n->value = value;
	t->bytes += size_of(t, value);
	if (old) {
		t->bytes -= size_of(t, old);
		t->unref(old);
	} else {
		t->count++;
	}
	return FM_OK;
}

void *retain_tree_get(const struct retain_tree *t, const char *name, size_t len)
{
	const struct rnode *n = find(t, name, len);
	return n ? n->value : NULL;
}

size_t retain_tree_count(const struct retain_tree *t)
{
	return t->count;
}

uint64_t retain_tree_bytes(const struct retain_tree *t)
{
	return t->bytes;
}

size_t retain_tree_nodes(const struct retain_tree *t)
{
	return t->nodes;
}

/* --- match -------------------------------------------------------------- */

struct rwalk {
	const struct retain_tree *t;
	const struct rnode *root;
	const char *filter;        /* the subscription's filter */
	size_t len;                /* bytes in filter */
	retain_match_fn *fn;
	void *arg;
};

static void report(const struct rwalk *w, const struct rnode *n)
{
	if (n->value)
		w->fn(w->arg, n->value);
}

static bool is_wild(const char *s, size_t len, char c)
{
	return len == 1 && s[0] == c;
}

/* Next child of p after c (NULL = first) that a wildcard may reach:
 * [MQTT-4.7.2-1] a wildcard first level skips names starting with '$'. */
static const struct rnode *wild_child(const struct rwalk *w, const struct rnode *p,
				      const struct rnode *c)
{
	for (c = child_after(p, c); c && p == w->root; c = child_after(p, c))
		if (!(c->head.len && c->head.str[0] == '$'))
			break;
	return c;
}

/* Everything below a (not a itself), pre-order, for a trailing '#'. */
static void report_subtree(const struct rwalk *w, const struct rnode *a)
{
	const struct rnode *c = wild_child(w, a, NULL);
	while (c) {
		report(w, c);
		const struct rnode *d = child_after(c, NULL);
		if (d) {
			c = d;
			continue;
		}
		/* no children: next sibling of c or of the nearest ancestor below a */
		while (c != a) {
			const struct rnode *s = wild_child(w, c->parent, c);
			if (s) {
				c = s;
				break;
			}
			c = c->parent;
		}
		if (c == a)
			return;
	}
}

/* Handle node n with filter consumed up to off: report what matches here
 * and return the first child to descend into, or NULL. */
static const struct rnode *step(const struct rwalk *w, const struct rnode *n, size_t off)
{
	if (off > w->len) {
		report(w, n);
		return NULL;
	}
	size_t e = level_end(w->filter, w->len, off);
	const char *s = w->filter + off;
	if (is_wild(s, e - off, '#')) {
		report(w, n); /* '#' includes the parent level: "sport/#" -> "sport" */
		report_subtree(w, n);
		return NULL;
	}
	if (is_wild(s, e - off, '+'))
		return wild_child(w, n, NULL);
	return child_get(w->t, n, s, e - off);
}

/* Depth-first over the branches the filter allows, climbing back through
 * parent pointers; only '+' levels have siblings left to try. fn must not
 * set or delete values of this tree while the walk runs. */
void retain_tree_match(const struct retain_tree *t, const char *filter, size_t len,
		       retain_match_fn *fn, void *arg)
{
	struct rwalk w = { .t = t, .root = t->root, .filter = filter, .len = len,
			   .fn = fn, .arg = arg };
	const struct rnode *n = t->root;
	size_t off = 0;
	for (;;) {
		const struct rnode *c = step(&w, n, off);
		if (c) {
			n = c;
			off = level_end(filter, len, off) + 1;
			continue;
		}
		for (;;) {
			if (n == t->root)
				return;
			const struct rnode *p = n->parent;
			size_t poff = level_start_before(filter, off);
			const struct rnode *s = NULL;
			if (is_wild(filter + poff, off - 1 - poff, '+'))
				s = wild_child(&w, p, n);
			if (s) {
				n = s; /* sibling under the same '+': off unchanged */
				break;
			}
			n = p;
			off = poff;
		}
	}
}

/* --- free --------------------------------------------------------------- */

/* Post-order without recursion, as in topic_tree_free; values are unref'ed
 * as their nodes go. */
void retain_tree_free(struct retain_tree *t)
{
	if (!t)
		return;
	struct rnode *n = t->root, *c = child_after(n, NULL);
	for (;;) {
		if (c) {
			n = c;
			c = child_after(n, NULL);
			continue;
		}
		struct rnode *p = n->parent;
		if (p)
			c = child_after(p, n);
		if (n->value)
			t->unref(n->value);
		level_map_fini(&n->children);
		free(n);
		if (!p)
			break;
		n = p;
	}
	free(t);
}
