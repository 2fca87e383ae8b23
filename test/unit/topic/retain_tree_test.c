/* Retained tree: set/get/delete/count, unref ownership, filter matching
 * with wildcards and the '$' rule, and a randomized comparison against the
 * reference matcher topic_match. */
#include "topic/topic.h"
#include "topic/topic_debug.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value that counts how often the tree dropped its reference. */
struct val {
	int unrefs;            /* calls to val_unref */
	char topic[32];        /* the name it was stored under */
	uint64_t size;         /* what it counts for in retain_tree_bytes */
};

static void val_unref(void *v)
{
	((struct val *)v)->unrefs++;
}

#define MAX_HITS 8192

struct hits {
	size_t n;
	void *v[MAX_HITS];
};

static void collect(void *arg, void *value)
{
	struct hits *h = arg;
	cr_assert_lt(h->n, MAX_HITS);
	h->v[h->n++] = value;
}

static struct hits hits;

static size_t match(const struct retain_tree *t, const char *filter)
{
	hits.n = 0;
	retain_tree_match(t, filter, strlen(filter), collect, &hits);
	return hits.n;
}

static bool hit(const void *v)
{
	for (size_t i = 0; i < hits.n; i++)
		if (hits.v[i] == v)
			return true;
	return false;
}

static int set(struct retain_tree *t, const char *name, struct val *v)
{
	return retain_tree_set(t, name, strlen(name), v);
}

static void *get(const struct retain_tree *t, const char *name)
{
	return retain_tree_get(t, name, strlen(name));
}

Test(retain_tree, set_get_count)
{
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	struct val a = { 0 }, b = { 0 };
	cr_assert_eq(retain_tree_count(t), 0);
	cr_assert_eq(set(t, "a/b", &a), FM_OK);
	cr_assert_eq(set(t, "a", &b), FM_OK);
	cr_assert_eq(retain_tree_count(t), 2);
	cr_assert_eq(get(t, "a/b"), &a);
	cr_assert_eq(get(t, "a"), &b);
	cr_assert_null(get(t, "a/b/c"));
	cr_assert_null(get(t, "a/"));
	cr_assert_null(get(t, "x"));
	retain_tree_free(t);
	cr_assert_eq(a.unrefs, 1);
	cr_assert_eq(b.unrefs, 1);
	retain_tree_free(NULL);
}

Test(retain_tree, replace_unrefs_old_value)
{
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	struct val a = { 0 }, b = { 0 };
	set(t, "x/y", &a);
	cr_assert_eq(set(t, "x/y", &b), FM_OK);
	cr_assert_eq(a.unrefs, 1);
	cr_assert_eq(b.unrefs, 0);
	cr_assert_eq(retain_tree_count(t), 1);
	cr_assert_eq(get(t, "x/y"), &b);
	retain_tree_free(t);
	cr_assert_eq(a.unrefs, 1);
	cr_assert_eq(b.unrefs, 1);
}

/* [MQTT-3.3.1-10] an empty retained message deletes; here value NULL. */
Test(retain_tree, null_deletes_and_unrefs)
{
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	struct val a = { 0 }, b = { 0 };
	set(t, "x/y/z", &a);
	set(t, "x", &b);
	cr_assert_eq(set(t, "x/y/z", NULL), FM_OK);
	cr_assert_eq(a.unrefs, 1);
	cr_assert_eq(retain_tree_count(t), 1);
	cr_assert_null(get(t, "x/y/z"));
	cr_assert_eq(match(t, "#"), 1);
	/* deleting what is not there is fine and touches nothing */
	cr_assert_eq(set(t, "x/y/z", NULL), FM_OK);
	cr_assert_eq(set(t, "x/y", NULL), FM_OK);
	cr_assert_eq(set(t, "nope", NULL), FM_OK);
	cr_assert_eq(a.unrefs, 1);
	cr_assert_eq(b.unrefs, 0);
	cr_assert_eq(retain_tree_count(t), 1);
	/* the pruned path can be used again */
	cr_assert_eq(set(t, "x/y/z", &a), FM_OK);
	cr_assert_eq(get(t, "x/y/z"), &a);
	retain_tree_free(t);
	cr_assert_eq(a.unrefs, 2);
	cr_assert_eq(b.unrefs, 1);
}

/* Deleting the last value under a path frees the nodes that held it. */
Test(retain_tree, delete_prunes_empty_nodes)
{
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	struct val a = { 0 }, b = { 0 }, c = { 0 };
	cr_assert_eq(retain_tree_nodes(t), 1); /* the root */
	set(t, "k", &a);
	cr_assert_eq(retain_tree_nodes(t), 2);
	set(t, "x/y/z", &b);
	set(t, "x/y", &c);
	cr_assert_eq(retain_tree_nodes(t), 5);
	set(t, "x/y/z", NULL);
	cr_assert_eq(retain_tree_nodes(t), 4); /* "x/y" still holds c */
	set(t, "x/y", NULL);
	cr_assert_eq(retain_tree_nodes(t), 2);
	set(t, "never/stored", NULL);
	cr_assert_eq(retain_tree_nodes(t), 2);
	cr_assert_eq(retain_tree_count(t), 1);
	retain_tree_free(t);
}

/* 4.7.1.2 / 4.7.1.3 examples, seen from the retained side. */
Test(retain_tree, match_spec_examples_4_7_1_2_4_7_1_3_MQTT_4_7_1_2)
{
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	struct val p1 = { 0 }, rank = { 0 }, wimb = { 0 }, p2 = { 0 }, sport = { 0 },
		   sport_empty = { 0 }, fin = { 0 };
	set(t, "sport/tennis/player1", &p1);
	set(t, "sport/tennis/player1/ranking", &rank);
	set(t, "sport/tennis/player1/score/wimbledon", &wimb);
	set(t, "sport/tennis/player2", &p2);
	set(t, "sport", &sport);
	set(t, "sport/", &sport_empty);
	set(t, "/finance", &fin);

	cr_assert_eq(match(t, "sport/tennis/player1/#"), 3);
	cr_assert(hit(&p1) && hit(&rank) && hit(&wimb));

	cr_assert_eq(match(t, "sport/#"), 6); /* includes "sport" itself */
	cr_assert(hit(&sport));
	cr_assert_not(hit(&fin));

	cr_assert_eq(match(t, "sport/tennis/+"), 2);
	cr_assert(hit(&p1) && hit(&p2));

	cr_assert_eq(match(t, "sport/+"), 1); /* "sport/" only, not "sport" */
	cr_assert(hit(&sport_empty));

	cr_assert_eq(match(t, "+/+"), 2); /* "/finance" and "sport/" */
	cr_assert(hit(&fin) && hit(&sport_empty));
	cr_assert_eq(match(t, "/+"), 1);
	cr_assert_eq(match(t, "+"), 1); /* "sport" */
	cr_assert(hit(&sport));
	cr_assert_eq(match(t, "#"), 7);
	cr_assert_eq(match(t, "sport/tennis/player1"), 1);
	cr_assert_eq(match(t, "sport/tennis"), 0);
	cr_assert_eq(match(t, "+/tennis/#"), 4);
	retain_tree_free(t);
}

/* [MQTT-4.7.2-1] leading wildcards skip retained '$' topics. */
Test(retain_tree, dollar_topics_hidden_from_leading_wildcards_MQTT_4_7_2_1)
{
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	struct val sys = { 0 }, plain = { 0 }, inner = { 0 };
	set(t, "$SYS/monitor/Clients", &sys);
	set(t, "x/monitor/Clients", &plain);
	set(t, "x/$y", &inner);
	cr_assert_eq(match(t, "#"), 2);
	cr_assert_not(hit(&sys));
	cr_assert_eq(match(t, "+/monitor/Clients"), 1);
	cr_assert(hit(&plain));
	cr_assert_eq(match(t, "+/#"), 2);
	cr_assert_not(hit(&sys));
	cr_assert_eq(match(t, "$SYS/#"), 1);
	cr_assert(hit(&sys));
	cr_assert_eq(match(t, "$SYS/monitor/+"), 1);
	cr_assert_eq(match(t, "x/+"), 1); /* '$' beyond the first level is ordinary */
	cr_assert(hit(&inner));
	retain_tree_free(t);
}

/* A legal topic may have ~32k levels; every walk must be iterative. */
Test(retain_tree, very_deep_names_do_not_recurse)
{
	enum { LEVELS = 30000 };
	size_t len = 2 * LEVELS - 1;
	char *name = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		name[i] = i % 2 ? '/' : 'a';
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	struct val v = { 0 }, w = { 0 };
	cr_assert_eq(retain_tree_set(t, name, len, &v), FM_OK);
	cr_assert_eq(retain_tree_set(t, name, 1, &w), FM_OK); /* "a" */
	cr_assert_eq(retain_tree_get(t, name, len), &v);
	cr_assert_eq(match(t, "#"), 2);
	cr_assert_eq(match(t, "a/#"), 2);
	name[len - 1] = '+';
	hits.n = 0;
	retain_tree_match(t, name, len, collect, &hits);
	cr_assert_eq(hits.n, 1);
	retain_tree_free(t);
	cr_assert_eq(v.unrefs, 1);
	cr_assert_eq(w.unrefs, 1);
	free(name);
}

/* --- randomized comparison with the reference matcher -------------------- */

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static const char *const name_levels[] = { "a", "b", "c", "", "$x", "ab" };
static const char *const filter_levels[] = { "a", "b", "c", "", "$x", "ab", "+", "+" };

static size_t random_topic_maybe_empty(char *out, bool filter)
{
	size_t levels = 1 + rng() % 5, len = 0;
	for (size_t i = 0; i < levels; i++) {
		if (i)
			out[len++] = '/';
		const char *l;
		if (filter && i + 1 == levels && rng() % 4 == 0)
			l = "#";
		else if (filter)
			l = filter_levels[rng() % 8];
		else
			l = name_levels[rng() % 6];
		memcpy(out + len, l, strlen(l));
		len += strlen(l);
	}
	out[len] = '\0';
	return len;
}

/* A random valid topic (a lone empty level is not: [MQTT-4.7.3-1]). */
static size_t random_topic(char *out, bool filter)
{
	size_t len;
	while ((len = random_topic_maybe_empty(out, filter)) == 0)
		;
	return len;
}

enum { RAND_NAMES = 3000, RAND_FILTERS = 3000 };

static struct val rvals[RAND_NAMES];

/* Every stored value must be reported exactly when its topic matches. */
static void compare_with_reference(const struct retain_tree *t)
{
	static unsigned counts[RAND_NAMES];
	char filter[32];
	size_t total = 0;
	for (int k = 0; k < RAND_FILTERS; k++) {
		size_t flen = random_topic(filter, true);
		memset(counts, 0, sizeof(counts));
		hits.n = 0;
		retain_tree_match(t, filter, flen, collect, &hits);
		total += hits.n;
		for (size_t i = 0; i < hits.n; i++)
			counts[(struct val *)hits.v[i] - rvals]++;
		for (int i = 0; i < RAND_NAMES; i++) {
			const char *n = rvals[i].topic;
			bool want = get(t, n) == &rvals[i] &&
				    topic_match(filter, flen, n, strlen(n));
			cr_assert_eq(counts[i], want, "filter '%s' name '%s': tree %u, reference %d",
				     filter, n, counts[i], want);
		}
	}
	cr_assert_gt(total, (size_t)RAND_FILTERS * 5); /* the comparison is not vacuous */
}

Test(retain_tree, random_names_match_like_reference)
{
	rng_state = 0x2545f4914f6cdd1dull;
	struct retain_tree *t = retain_tree_new(val_unref, NULL);
	size_t stored = 0;
	for (int i = 0; i < RAND_NAMES; i++) {
		random_topic(rvals[i].topic, false);
		/* a repeated name replaces the earlier value */
		if (!get(t, rvals[i].topic))
			stored++;
		cr_assert_eq(set(t, rvals[i].topic, &rvals[i]), FM_OK);
	}
	cr_assert_eq(retain_tree_count(t), stored);
	compare_with_reference(t);
	for (int i = 0; i < RAND_NAMES; i += 2)
		set(t, rvals[i].topic, NULL);
	compare_with_reference(t);
	retain_tree_free(t);
	/* every value was unref'ed exactly once: replaced, deleted or freed */
	for (int i = 0; i < RAND_NAMES; i++)
		cr_assert_eq(rvals[i].unrefs, 1, "value %d (%s)", i, rvals[i].topic);
}

/* The bytes the values count for follow every set, replace and delete. */
static uint64_t val_size(const void *v)
{
	return ((const struct val *)v)->size;
}

Test(retain_tree, bytes_follow_set_replace_and_delete)
{
	struct retain_tree *t = retain_tree_new(val_unref, val_size);
	struct val a = { .size = 10 }, b = { .size = 25 }, c = { .size = 7 };
	cr_assert_eq(retain_tree_bytes(t), 0);
	cr_assert_eq(set(t, "a/b", &a), FM_OK);
	cr_assert_eq(set(t, "c", &b), FM_OK);
	cr_assert_eq(retain_tree_bytes(t), 35);
	cr_assert_eq(set(t, "a/b", &c), FM_OK); /* replaces a */
	cr_assert_eq(retain_tree_bytes(t), 32);
	cr_assert_eq(retain_tree_set(t, "c", 1, NULL), FM_OK);
	cr_assert_eq(retain_tree_bytes(t), 7);
	cr_assert_eq(retain_tree_set(t, "nothing/here", 12, NULL), FM_OK); /* deleting nothing changes nothing */
	cr_assert_eq(retain_tree_bytes(t), 7);
	retain_tree_free(t);
}
