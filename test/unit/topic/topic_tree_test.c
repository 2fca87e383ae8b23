/* Subscription tree: add/replace/del/prune/count, wildcard overlap, many
 * subscribers per filter, and a randomized comparison against the
 * reference matcher topic_match. Also the level hash map underneath. */
#include "topic/topic.h"
#include "topic/level_map.h"
#include "topic/topic_debug.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HITS 20000

struct hits {
	size_t n;
	struct topic_sub v[MAX_HITS];
};

static void collect(void *arg, const struct topic_sub *sub)
{
	struct hits *h = arg;
	cr_assert_lt(h->n, MAX_HITS);
	h->v[h->n++] = *sub;
}

static struct hits hits; /* large; shared by the tests of this file */

static size_t match(const struct topic_tree *t, const char *name)
{
	hits.n = 0;
	topic_tree_match(t, name, strlen(name), collect, &hits);
	return hits.n;
}

static size_t hits_for(const void *subscriber)
{
	size_t n = 0;
	for (size_t i = 0; i < hits.n; i++)
		n += hits.v[i].subscriber == subscriber;
	return n;
}

static int add(struct topic_tree *t, const char *filter, void *who, uint8_t qos, bool *replaced)
{
	struct topic_sub sub = { .subscriber = who, .options = qos };
	return topic_tree_add(t, filter, strlen(filter), &sub, replaced);
}

static int del(struct topic_tree *t, const char *filter, void *who)
{
	return topic_tree_del(t, filter, strlen(filter), who);
}

static int s1, s2, s3; /* addresses serve as subscribers */

Test(topic_tree, new_tree_is_empty)
{
	struct topic_tree *t = topic_tree_new();
	cr_assert_not_null(t);
	cr_assert_eq(topic_tree_count(t), 0);
	cr_assert_eq(match(t, "a"), 0);
	topic_tree_free(t);
	topic_tree_free(NULL);
}

Test(topic_tree, add_then_replace_updates_options)
{
	struct topic_tree *t = topic_tree_new();
	bool replaced = true;
	struct topic_sub sub = { .subscriber = &s1, .options = 1, .sub_id = 7 };
	cr_assert_eq(topic_tree_add(t, "a/b", 3, &sub, &replaced), FM_OK);
	cr_assert_not(replaced);
	cr_assert_eq(topic_tree_count(t), 1);
	cr_assert_eq(match(t, "a/b"), 1);
	cr_assert_eq(hits.v[0].options, 1);
	cr_assert_eq(hits.v[0].sub_id, 7);

	sub.options = 2;
	sub.sub_id = 9;
	cr_assert_eq(topic_tree_add(t, "a/b", 3, &sub, &replaced), FM_OK);
	cr_assert(replaced);
	cr_assert_eq(topic_tree_count(t), 1);
	cr_assert_eq(match(t, "a/b"), 1);
	cr_assert_eq(hits.v[0].subscriber, &s1);
	cr_assert_eq(hits.v[0].options, 2);
	cr_assert_eq(hits.v[0].sub_id, 9);
	topic_tree_free(t);
}

Test(topic_tree, same_subscriber_reported_once_per_matching_filter)
{
	struct topic_tree *t = topic_tree_new();
	bool r;
	cr_assert_eq(add(t, "a/b", &s1, 0, &r), FM_OK);
	cr_assert_eq(add(t, "a/+", &s1, 1, &r), FM_OK);
	cr_assert_eq(add(t, "a/b", &s2, 0, &r), FM_OK);
	cr_assert_eq(topic_tree_count(t), 3);
	cr_assert_eq(match(t, "a/b"), 3);
	cr_assert_eq(hits_for(&s1), 2);
	cr_assert_eq(hits_for(&s2), 1);
	topic_tree_free(t);
}

Test(topic_tree, del_removes_only_that_subscription)
{
	struct topic_tree *t = topic_tree_new();
	bool r;
	add(t, "a/b", &s1, 0, &r);
	add(t, "a/b", &s2, 0, &r);
	add(t, "a/#", &s1, 0, &r);
	cr_assert_eq(del(t, "a/b", &s1), FM_OK);
	cr_assert_eq(topic_tree_count(t), 2);
	cr_assert_eq(match(t, "a/b"), 2);
	cr_assert_eq(hits_for(&s2), 1);
	cr_assert_eq(hits_for(&s1), 1); /* still via a/# */
	cr_assert_eq(del(t, "a/b", &s1), FM_ENOTFOUND);
	cr_assert_eq(del(t, "a/b", &s3), FM_ENOTFOUND);
	cr_assert_eq(del(t, "a/c", &s2), FM_ENOTFOUND);
	cr_assert_eq(del(t, "a", &s2), FM_ENOTFOUND);   /* an inner node, no subs */
	cr_assert_eq(del(t, "a/+", &s1), FM_ENOTFOUND); /* '+' is not a literal */
	cr_assert_eq(topic_tree_count(t), 2);
	topic_tree_free(t);
}

/* Pruning: once the last subscription under a path leaves, its nodes are
 * freed, so the node count returns to where it was before the adds. */
Test(topic_tree, del_prunes_empty_nodes)
{
	struct topic_tree *t = topic_tree_new();
	bool r;
	cr_assert_eq(topic_tree_nodes(t), 1); /* the root */
	add(t, "keep", &s1, 0, &r);
	size_t before = topic_tree_nodes(t);
	cr_assert_eq(before, 2);
	char f[64];
	for (int i = 0; i < 200; i++) {
		snprintf(f, sizeof(f), "x/%d/+/y/%d/#", i % 7, i);
		cr_assert_eq(add(t, f, &s2, 0, &r), FM_OK);
	}
	cr_assert_eq(topic_tree_count(t), 201);
	/* x, 7 x (digit, +, y), 200 x (number, #) */
	cr_assert_eq(topic_tree_nodes(t), before + 1 + 7 * 3 + 200 * 2);
	for (int i = 0; i < 200; i++) {
		snprintf(f, sizeof(f), "x/%d/+/y/%d/#", i % 7, i);
		cr_assert_eq(del(t, f, &s2), FM_OK);
	}
	cr_assert_eq(topic_tree_count(t), 1);
	cr_assert_eq(topic_tree_nodes(t), before);
	cr_assert_eq(match(t, "x/1/a/y/1"), 0);
	cr_assert_eq(match(t, "keep"), 1);
	/* a filter re-added after pruning works again */
	cr_assert_eq(add(t, "x/1/+/y/1/#", &s2, 0, &r), FM_OK);
	cr_assert_not(r);
	cr_assert_eq(topic_tree_nodes(t), before + 6);
	cr_assert_eq(match(t, "x/1/a/y/1/z"), 1);
	/* a shared prefix stays while another filter still uses it */
	cr_assert_eq(add(t, "x/1", &s3, 0, &r), FM_OK);
	cr_assert_eq(del(t, "x/1/+/y/1/#", &s2), FM_OK);
	cr_assert_eq(topic_tree_nodes(t), before + 2);
	cr_assert_eq(del(t, "x/1", &s3), FM_OK);
	cr_assert_eq(topic_tree_nodes(t), before);
	topic_tree_free(t);
}

/* Overlapping '#' and '+' filters each report; [MQTT-4.7.1-2] "a/#" and
 * "a/+/#" also match their parent level. */
Test(topic_tree, hash_and_plus_overlap_MQTT_4_7_1_2_MQTT_4_7_1_3)
{
	struct topic_tree *t = topic_tree_new();
	bool r;
	const char *filters[] = { "a/#", "a/+", "a/+/#", "#", "+/+", "a/b", "+/#", "+" };
	for (size_t i = 0; i < sizeof(filters) / sizeof(*filters); i++)
		cr_assert_eq(add(t, filters[i], &s1, (uint8_t)i, &r), FM_OK);
	cr_assert_eq(topic_tree_count(t), 8);
	/* a/b: a/#, a/+, a/+/#, #, +/+, a/b, +/# */
	cr_assert_eq(match(t, "a/b"), 7);
	/* a: a/#, #, +/#, + */
	cr_assert_eq(match(t, "a"), 4);
	/* a/b/c: a/#, a/+/#, #, +/# */
	cr_assert_eq(match(t, "a/b/c"), 4);
	/* /x: #, +/+, +/# ("+" matches the empty first level) */
	cr_assert_eq(match(t, "/x"), 3);
	topic_tree_free(t);
}

/* [MQTT-4.7.2-1] leading wildcards in the tree skip '$' names. */
Test(topic_tree, dollar_names_skip_root_wildcards_MQTT_4_7_2_1)
{
	struct topic_tree *t = topic_tree_new();
	bool r;
	add(t, "#", &s1, 0, &r);
	add(t, "+/monitor/Clients", &s1, 0, &r);
	add(t, "+/#", &s1, 0, &r);
	add(t, "$SYS/#", &s2, 0, &r);
	add(t, "$SYS/monitor/+", &s3, 0, &r);
	cr_assert_eq(match(t, "$SYS/monitor/Clients"), 2);
	cr_assert_eq(hits_for(&s1), 0);
	cr_assert_eq(hits_for(&s2), 1);
	cr_assert_eq(hits_for(&s3), 1);
	cr_assert_eq(match(t, "x/monitor/Clients"), 3);
	cr_assert_eq(match(t, "a/$SYS"), 2); /* '$' later in the name is ordinary */
	topic_tree_free(t);
}

Test(topic_tree, empty_levels_are_levels)
{
	struct topic_tree *t = topic_tree_new();
	bool r;
	add(t, "+/+", &s1, 0, &r);
	add(t, "/+", &s2, 0, &r);
	add(t, "+", &s3, 0, &r);
	cr_assert_eq(match(t, "/finance"), 2); /* 4.7.1.3 example */
	cr_assert_eq(hits_for(&s3), 0);
	cr_assert_eq(match(t, "/"), 2);
	add(t, "a//b", &s3, 0, &r);
	cr_assert_eq(match(t, "a//b"), 1);
	cr_assert_eq(match(t, "a/b"), 1); /* +/+ only */
	topic_tree_free(t);
}

/* Many subscribers on one filter: add, replace, delete in random order. */
Test(topic_tree, many_subscribers_on_one_filter)
{
	enum { N = 10000 };
	static char who[N];
	struct topic_tree *t = topic_tree_new();
	bool r;
	for (int i = 0; i < N; i++) {
		cr_assert_eq(add(t, "cmd/all", &who[i], 0, &r), FM_OK);
		cr_assert_not(r);
	}
	for (int i = 0; i < N; i += 3) {
		cr_assert_eq(add(t, "cmd/all", &who[i], 2, &r), FM_OK);
		cr_assert(r);
	}
	cr_assert_eq(topic_tree_count(t), N);
	cr_assert_eq(match(t, "cmd/all"), N);
	static unsigned char seen[N];
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < hits.n; i++) {
		size_t k = (size_t)((char *)hits.v[i].subscriber - who);
		cr_assert_lt(k, (size_t)N);
		cr_assert_eq(seen[k]++, 0);
		cr_assert_eq(hits.v[i].options, k % 3 == 0 ? 2 : 0);
	}
	/* delete the odd ones in a scrambled order */
	srand(42);
	static int order[N / 2];
	for (int i = 0; i < N / 2; i++)
		order[i] = 2 * i + 1;
	for (int i = N / 2 - 1; i > 0; i--) {
		int j = rand() % (i + 1), tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	for (int i = 0; i < N / 2; i++)
		cr_assert_eq(del(t, "cmd/all", &who[order[i]]), FM_OK);
	cr_assert_eq(del(t, "cmd/all", &who[1]), FM_ENOTFOUND);
	cr_assert_eq(topic_tree_count(t), N / 2);
	cr_assert_eq(match(t, "cmd/all"), N / 2);
	for (size_t i = 0; i < hits.n; i++)
		cr_assert_eq(((char *)hits.v[i].subscriber - who) % 2, 0);
	for (int i = 0; i < N; i += 2)
		cr_assert_eq(del(t, "cmd/all", &who[i]), FM_OK);
	cr_assert_eq(topic_tree_count(t), 0);
	cr_assert_eq(match(t, "cmd/all"), 0);
	topic_tree_free(t);
}

/* A legal topic may have ~32k levels; match and free must not recurse. */
Test(topic_tree, very_deep_filters_do_not_recurse)
{
	enum { LEVELS = 30000 };
	size_t len = 2 * LEVELS - 1;
	char *name = malloc(len + 1), *filter = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		name[i] = filter[i] = i % 2 ? '/' : 'a';
	name[len] = filter[len] = '\0';
	filter[len - 1] = '+';
	struct topic_tree *t = topic_tree_new();
	bool r;
	cr_assert_eq(topic_tree_add(t, filter, len, &(struct topic_sub){ .subscriber = &s1 }, &r),
		     FM_OK);
	cr_assert_eq(topic_tree_add(t, name, len, &(struct topic_sub){ .subscriber = &s2 }, &r),
		     FM_OK);
	hits.n = 0;
	topic_tree_match(t, name, len, collect, &hits);
	cr_assert_eq(hits.n, 2);
	topic_tree_free(t);
	free(name);
	free(filter);
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

/* Small alphabets so that random filters and names collide often. */
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

enum { RAND_FILTERS = 3000, RAND_NAMES = 3000 };

static char rfilter[RAND_FILTERS][32];
static bool rlive[RAND_FILTERS];

/* Subscriber i subscribes to rfilter[i]; compare per-subscriber counts. */
static void compare_with_reference(const struct topic_tree *t)
{
	static unsigned counts[RAND_FILTERS];
	char name[32];
	size_t total = 0;
	for (int k = 0; k < RAND_NAMES; k++) {
		size_t nlen = random_topic(name, false);
		cr_assert(topic_name_valid(name, nlen));
		memset(counts, 0, sizeof(counts));
		hits.n = 0;
		topic_tree_match(t, name, nlen, collect, &hits);
		total += hits.n;
		for (size_t i = 0; i < hits.n; i++)
			counts[(bool *)hits.v[i].subscriber - rlive]++;
		for (int i = 0; i < RAND_FILTERS; i++) {
			bool want = rlive[i] && topic_match(rfilter[i], strlen(rfilter[i]), name, nlen);
			cr_assert_eq(counts[i], want, "name '%s' filter '%s': tree %u, reference %d",
				     name, rfilter[i], counts[i], want);
		}
	}
	cr_assert_gt(total, (size_t)RAND_NAMES * 10); /* the comparison is not vacuous */
}

Test(topic_tree, random_filters_match_like_reference)
{
	rng_state = 0x9e3779b97f4a7c15ull;
	struct topic_tree *t = topic_tree_new();
	bool r;
	for (int i = 0; i < RAND_FILTERS; i++) {
		size_t len = random_topic(rfilter[i], true);
		cr_assert(topic_filter_valid(rfilter[i], len), "filter %s len %zu", rfilter[i], len);
		struct topic_sub sub = { .subscriber = &rlive[i], .sub_id = (uint32_t)i };
		cr_assert_eq(topic_tree_add(t, rfilter[i], len, &sub, &r), FM_OK);
		rlive[i] = true;
	}
	cr_assert_eq(topic_tree_count(t), RAND_FILTERS);
	compare_with_reference(t);
	/* drop a random half, compare again */
	size_t live = RAND_FILTERS;
	for (int i = 0; i < RAND_FILTERS; i++) {
		if (rng() % 2)
			continue;
		cr_assert_eq(topic_tree_del(t, rfilter[i], strlen(rfilter[i]), &rlive[i]), FM_OK);
		rlive[i] = false;
		live--;
	}
	cr_assert_eq(topic_tree_count(t), live);
	compare_with_reference(t);
	topic_tree_free(t);
}

/* --- level_map ---------------------------------------------------------- */

Test(level_map, churn_keeps_every_entry_reachable)
{
	enum { N = 5000 };
	static struct level_head heads[N];
	static char keys[N][8];
	struct level_map m = { 0 };
	uint64_t seed = level_seed(&m);
	for (int i = 0; i < N; i++) {
		int len = snprintf(keys[i], sizeof(keys[i]), "%d", i);
		heads[i] = (struct level_head){ .str = keys[i], .len = (uint32_t)len,
						.hash = level_hash(seed, keys[i], (size_t)len) };
		cr_assert_eq(level_map_add(&m, &heads[i]), FM_OK);
	}
	/* delete every third, then check all present/absent as expected */
	for (int i = 0; i < N; i += 3)
		level_map_del(&m, &heads[i]);
	for (int i = 0; i < N; i++) {
		struct level_head *h = level_map_get(&m, keys[i], heads[i].len, heads[i].hash);
		cr_assert_eq(h, i % 3 ? &heads[i] : NULL, "key %d", i);
	}
	size_t seen = 0;
	for (struct level_head *h = level_map_next(&m, NULL); h; h = level_map_next(&m, h))
		seen++;
	cr_assert_eq(seen, m.count);
	for (int i = 0; i < N; i++)
		if (i % 3)
			level_map_del(&m, &heads[i]);
	cr_assert_eq(m.count, 0);
	cr_assert_null(m.slots); /* drained maps give their table back */
	level_map_fini(&m);
}
