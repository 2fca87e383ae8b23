/* libFuzzer target: topic names and filters. The input is "FILTER\nNAME\n
 * NAME2...": every string is validated, and for each valid (filter, name)
 * pair the three matchers must agree: topic_match (one filter, one name),
 * the subscription tree (the filter subscribed, the name matched) and the
 * retained tree (the names stored, the filter looked up). A disagreement
 * aborts, which libFuzzer reports as a crash. */
#include "topic/topic.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 16

static void count_sub(void *arg, const struct topic_sub *sub)
{
	(void)sub;
	(*(unsigned *)arg)++;
}

static void count_value(void *arg, void *value)
{
	(void)value;
	(*(unsigned *)arg)++;
}

static void no_unref(void *value) { (void)value; }

/* Split data at '\n' into at most max strings (views into data). */
static size_t split(const uint8_t *data, size_t size, const char **s, size_t *len, size_t max)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= size && n < max; i++) {
		if (i == size || data[i] == '\n') {
			s[n] = (const char *)data + start;
			len[n++] = i - start;
			start = i + 1;
		}
	}
	return n;
}

static void check_pair(const char *f, size_t fl, const char *name, size_t nl)
{
	bool want = topic_match(f, fl, name, nl);
	struct topic_tree *t = topic_tree_new();
	struct topic_sub sub = { .subscriber = (void *)1, .options = 1 };
	bool replaced;
	if (!t || topic_tree_add(t, f, fl, &sub, &replaced) != 0) {
		topic_tree_free(t);
		return; /* out of memory: nothing to compare */
	}
	unsigned hits = 0;
	topic_tree_match(t, name, nl, count_sub, &hits);
	if ((hits > 0) != want)
		abort(); /* the tree and the single matcher disagree */
	topic_tree_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s[MAX_NAMES + 1];
	size_t len[MAX_NAMES + 1];
	size_t n = split(data, size, s, len, MAX_NAMES + 1);
	if (n == 0)
		return 0;
	bool filter_ok = topic_filter_valid(s[0], len[0]);
	struct retain_tree *rt = retain_tree_new(no_unref, NULL);
	unsigned want = 0;
	for (size_t i = 1; i < n; i++) {
		if (!topic_name_valid(s[i], len[i]))
			continue;
		if (filter_ok)
			check_pair(s[0], len[0], s[i], len[i]);
		/* distinct names only: a repeated name replaces its value */
		if (rt && !retain_tree_get(rt, s[i], len[i]) && retain_tree_set(rt, s[i], len[i], (void *)1) == 0 &&
		    filter_ok && topic_match(s[0], len[0], s[i], len[i]))
			want++;
	}
	if (rt && filter_ok) {
		unsigned got = 0;
		retain_tree_match(rt, s[0], len[0], count_value, &got);
		if (got != want)
			abort(); /* the retained tree and the single matcher disagree */
	}
	retain_tree_free(rt);
	return 0;
}
