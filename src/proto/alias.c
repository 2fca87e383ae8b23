/* Client-to-server Topic Aliases (alias.h). The table is allocated on the
 * first alias a connection sets, with room for the maximum we announced,
 * so connections that never use one pay a pointer. */
#include "proto/alias.h"

#include <stdlib.h>
#include <string.h>

struct alias_slot {
	char *topic;            /* owned; NULL while unset */
	uint16_t len;
};

struct topic_aliases {
	uint16_t max;
	struct alias_slot slot[]; /* slot[alias - 1] */
};

static int fail(struct client *c, uint8_t rc, const char *text, const char **why)
{
	c->close_rc = rc;
	*why = text;
	return FM_EPROTO;
}

static struct topic_aliases *table_for(struct client *c, uint16_t max)
{
	struct client_v5 *v5 = client_v5_get(c);
	if (!v5)
		return NULL;
	if (v5->aliases && v5->aliases->max >= max)
		return v5->aliases;
	/* the announced maximum can only grow by a reload; keep what was set */
	struct topic_aliases *t = calloc(1, sizeof(*t) + (size_t)max * sizeof(t->slot[0]));
	if (!t)
		return NULL;
	t->max = max;
	if (v5->aliases) {
		memcpy(t->slot, v5->aliases->slot, v5->aliases->max * sizeof(t->slot[0]));
		free(v5->aliases);
	}
	v5->aliases = t;
	return t;
}

static int set_alias(struct client *c, uint16_t max, uint16_t alias, struct mqtt_str topic)
{
	struct topic_aliases *t = table_for(c, max);
	char *copy = t ? malloc(topic.len + 1u) : NULL;
	if (!copy)
		return FM_ENOMEM;
	memcpy(copy, topic.p, topic.len);
	copy[topic.len] = '\0';
	struct alias_slot *s = &t->slot[alias - 1];
	free(s->topic);
	*s = (struct alias_slot){ .topic = copy, .len = topic.len };
	return FM_OK;
}

int alias_resolve(struct client *c, uint16_t max, uint16_t alias, struct mqtt_publish *pub,
		  const char **why)
{
	if (alias == 0) {
		if (pub->topic.len == 0)
			return fail(c, MQTT_RC_PROTOCOL_ERROR, "empty topic without a topic alias", why);
		return FM_OK;
	}
	if (alias > max) /* 0 is refused by the decoder [MQTT-3.3.2-8] */
		return fail(c, MQTT_RC_TOPIC_ALIAS_INVALID, "topic alias above the maximum", why); /* [MQTT-3.3.2-9] */
	if (pub->topic.len > 0) {
		if (set_alias(c, max, alias, pub->topic) != FM_OK) {
			*why = "out of memory";
			return FM_ENOMEM;
		}
		return FM_OK;
	}
	const struct topic_aliases *t = c->v5 ? c->v5->aliases : NULL;
	const struct alias_slot *s = t && alias <= t->max ? &t->slot[alias - 1] : NULL;
	if (!s || !s->topic)
		return fail(c, MQTT_RC_PROTOCOL_ERROR, "topic alias used before it was set", why);
	pub->topic = (struct mqtt_str){ .p = s->topic, .len = s->len };
	return FM_OK;
}

void alias_free(struct client *c)
{
	struct topic_aliases *t = c->v5 ? c->v5->aliases : NULL;
	if (!t)
		return;
	for (uint16_t i = 0; i < t->max; i++)
		free(t->slot[i].topic);
	free(t);
	c->v5->aliases = NULL;
}
