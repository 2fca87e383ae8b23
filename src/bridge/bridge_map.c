/* Topic remapping, as mosquitto.conf(5) defines it for
 * `topic PATTERN DIRECTION QOS LOCAL_PREFIX REMOTE_PREFIX`: the local topic
 * is LOCAL_PREFIX + PATTERN, the remote one REMOTE_PREFIX + PATTERN. A
 * message crossing the bridge keeps what PATTERN matched and swaps one
 * prefix for the other. The first topic line that matches decides. */
#include "bridge/bridge_int.h"

#include "topic/topic.h"

#include <stdlib.h>
#include <string.h>

static char *join(const char *prefix, const char *pattern)
{
	size_t a = prefix ? strlen(prefix) : 0, b = strlen(pattern);
	char *s = malloc(a + b + 1);
	if (!s)
		return NULL;
	if (a)
		memcpy(s, prefix, a);
	memcpy(s + a, pattern, b + 1);
	return s;
}

int bridge_topics_build(struct bridge *br)
{
	const struct conf_bridge *cb = br->conf;
	br->topics = calloc(cb->n_topics ? cb->n_topics : 1, sizeof(*br->topics));
	if (!br->topics)
		return FM_ENOMEM;
	for (size_t i = 0; i < cb->n_topics; i++) {
		const struct conf_bridge_topic *t = &cb->topics[i];
		struct bridge_topic *bt = &br->topics[br->n_topics++];
		bt->conf = t;
		bt->local_filter = join(t->local_prefix, t->pattern);
		bt->remote_filter = join(t->remote_prefix, t->pattern);
		bt->local_prefix_len = t->local_prefix ? strlen(t->local_prefix) : 0;
		bt->remote_prefix_len = t->remote_prefix ? strlen(t->remote_prefix) : 0;
		if (!bt->local_filter || !bt->remote_filter)
			return FM_ENOMEM;
	}
	return FM_OK;
}

void bridge_topics_free(struct bridge *br)
{
	for (size_t i = 0; i < br->n_topics; i++) {
		free(br->topics[i].local_filter);
		free(br->topics[i].remote_filter);
	}
	free(br->topics);
	br->topics = NULL;
	br->n_topics = 0;
}

/* Swap from_prefix_len bytes at the front of topic for to_prefix. A
 * topic shorter than its prefix is the prefix's parent level that a
 * trailing "#" also matches [MQTT-4.7.1-2] ("local" for "local/#"): it
 * becomes the other prefix's parent level, and has none when that prefix
 * is empty. The result is never empty (not a topic). */
static bool rewrite(const char *topic, size_t len, size_t from_prefix_len, const char *to_prefix, struct buf *out)
{
	size_t to_len = to_prefix ? strlen(to_prefix) : 0;
	size_t rest = len >= from_prefix_len ? len - from_prefix_len : 0;
	if (len < from_prefix_len && to_len > 0 && to_prefix[to_len - 1] == '/')
		to_len--;
	out->off = out->len = 0;
	if (to_len + rest == 0 || to_len + rest > 65535 || buf_reserve(out, to_len + rest) != FM_OK)
		return false;
	if (to_len)
		buf_append(out, to_prefix, to_len);
	if (rest)
		buf_append(out, topic + from_prefix_len, rest);
	return true;
}

/* The first line of direction dir whose filter on the side the topic
 * comes from matches it decides: its prefix there is swapped for its
 * prefix on the other side. */
static bool map_topic(const struct bridge *br, unsigned dir, const char *topic, size_t len, struct buf *out)
{
	bool outward = dir == CONF_BRIDGE_OUT;
	for (size_t i = 0; i < br->n_topics; i++) {
		const struct bridge_topic *t = &br->topics[i];
		const char *filter = outward ? t->local_filter : t->remote_filter;
		if ((t->conf->direction & dir) && topic_match(filter, strlen(filter), topic, len))
			return rewrite(topic, len, outward ? t->local_prefix_len : t->remote_prefix_len,
				       outward ? t->conf->remote_prefix : t->conf->local_prefix, out);
	}
	return false;
}

bool bridge_map_topic_out(const struct bridge *br, const char *topic, size_t len, struct buf *out)
{
	return map_topic(br, CONF_BRIDGE_OUT, topic, len, out);
}

bool bridge_map_topic_in(const struct bridge *br, const char *topic, size_t len, struct buf *out)
{
	return map_topic(br, CONF_BRIDGE_IN, topic, len, out);
}
