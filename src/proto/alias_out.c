/* Server-to-client Topic Aliases (alias.h): a 5.0 client that declared a
 * Topic Alias Maximum gets its frequent topics as a two-byte alias after
 * the first PUBLISH of each. Aliases are handed out in turn up to the
 * smaller of its maximum and ALIAS_OUT_MAX, then reassigned in turn (the
 * PUBLISH that reassigns one carries the topic again, which the client
 * takes as the new meaning [MQTT-3.3.2-11 ... 3.3.2.3.4]). A connection is
 * one ordered stream, so the client learns each alias before it is used. */
#include "proto/alias.h"

#include "topic/level_map.h"

#include <stdlib.h>
#include <string.h>

/* Aliases we use at most per connection: enough for a device's working
 * set of topics, small enough that a lookup is a short scan of hashes. */
#define ALIAS_OUT_MAX 64u

struct alias_out_slot {
	char *topic;            /* owned; NULL while unused */
	uint16_t len;
	uint32_t hash;
};

struct alias_out {
	uint16_t n;             /* aliases we may use */
	uint16_t next;          /* next alias to hand out or reassign, 1..n */
	struct alias_out_slot slot[]; /* slot[alias - 1] */
};

int alias_out_init(struct client *c, uint16_t client_max)
{
	if (client_max == 0)
		return FM_OK;
	uint16_t n = client_max < ALIAS_OUT_MAX ? client_max : ALIAS_OUT_MAX;
	struct client_v5 *v5 = client_v5_get(c);
	struct alias_out *a = v5 ? calloc(1, sizeof(*a) + n * sizeof(a->slot[0])) : NULL;
	if (!a)
		return FM_ENOMEM;
	a->n = n;
	a->next = 1;
	v5->aliases_out = a;
	return FM_OK;
}

static uint32_t topic_hash(const char *t, size_t len)
{
	return level_hash(0xa11a5ull, t, len);
}

static uint16_t find(const struct alias_out *a, const char *topic, uint16_t len, uint32_t hash)
{
	for (uint16_t i = 0; i < a->n; i++) {
		const struct alias_out_slot *s = &a->slot[i];
		if (s->topic && s->hash == hash && s->len == len && memcmp(s->topic, topic, len) == 0)
			return (uint16_t)(i + 1);
	}
	return 0;
}

/* Give the next alias in turn to topic; 0 on ENOMEM (no alias then). */
static uint16_t assign(struct alias_out *a, const char *topic, uint16_t len, uint32_t hash)
{
	char *copy = malloc(len + 1u);
	if (!copy)
		return 0;
	memcpy(copy, topic, len);
	copy[len] = '\0';
	uint16_t alias = a->next;
	struct alias_out_slot *s = &a->slot[alias - 1];
	free(s->topic);
	*s = (struct alias_out_slot){ .topic = copy, .len = len, .hash = hash };
	a->next = (uint16_t)(alias == a->n ? 1 : alias + 1);
	return alias;
}

uint16_t alias_out_for(struct client *c, const char *topic, uint16_t len, bool *known)
{
	struct alias_out *a = c->v5 ? c->v5->aliases_out : NULL;
	*known = false;
	if (!a)
		return 0;
	uint32_t hash = topic_hash(topic, len);
	uint16_t alias = find(a, topic, len, hash);
	if (alias) {
		*known = true;
		return alias;
	}
	return assign(a, topic, len, hash);
}

void alias_out_free(struct client *c)
{
	struct alias_out *a = c->v5 ? c->v5->aliases_out : NULL;
	if (!a)
		return;
	for (uint16_t i = 0; i < a->n; i++)
		free(a->slot[i].topic);
	free(a);
	c->v5->aliases_out = NULL;
}
