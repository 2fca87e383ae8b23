/* Routing: match a message against the subscription tree, collapse the
 * matches to one target per session at the highest granted QoS
 * [MQTT-3.3.5-1], and hand each target to delivery. The retained tree is
 * updated here too.
 *
 * De-duplication uses an epoch stamped on each session instead of a set:
 * no allocation per message and O(1) per match. The targets array grows
 * geometrically and is reused across messages. */
#include "proto/proto.h"

#include <stdlib.h>

static bool targets_reserve(struct broker *b)
{
	if (b->n_targets < b->cap_targets)
		return true;
	uint32_t cap = b->cap_targets ? b->cap_targets * 2 : 64;
	struct route_target *t = realloc(b->targets, cap * sizeof(*t));
	if (!t)
		return false;
	b->targets = t;
	b->cap_targets = cap;
	return true;
}

static void collect(void *arg, const struct topic_sub *sub)
{
	struct broker *b = arg;
	struct session *s = sub->subscriber;
	uint8_t qos = sub->options & 0x03;
	if (s->match_epoch == b->match_epoch) {
		struct route_target *t = &b->targets[s->match_slot];
		if (qos > t->qos)
			t->qos = qos;
		return;
	}
	if (!targets_reserve(b)) {
		b->stats.dropped_queue++; /* out of memory: this delivery is lost, counted */
		return;
	}
	s->match_epoch = b->match_epoch;
	s->match_slot = b->n_targets;
	b->targets[b->n_targets++] = (struct route_target){ .s = s, .qos = qos };
}

/* Publishers feeding a saturated subscriber are paused (backpressure). */
static void apply_backpressure(struct client *from, struct session *target)
{
	struct client *tc = target->owner;
	if (from && tc && client_out_over(tc, FM_OUT_HIGH))
		client_pause_for(from, tc);
}

void route_publish(struct broker *b, struct client *from, struct msg *m)
{
	b->match_epoch++;
	b->n_targets = 0;
	topic_tree_match(b->subs, m->topic, m->topic_len, collect, b);
	for (uint32_t i = 0; i < b->n_targets; i++) {
		struct route_target *t = &b->targets[i];
		uint8_t qos = t->qos < m->qos ? t->qos : m->qos; /* [MQTT-3.8.4-6] */
		deliver_msg(b, t->s, m, qos);
		apply_backpressure(from, t->s);
	}
}

void route_retained_unref(void *value)
{
	msg_unref(value);
}

void route_retain(struct broker *b, struct msg *m)
{
	/* a retained message with an empty payload removes the stored one
	 * and is not itself stored [MQTT-3.3.1-10], [MQTT-3.3.1-11] */
	void *value = m->payload_len ? msg_ref(m) : NULL;
	if (retain_tree_set(b->retained, m->topic, m->topic_len, value) != FM_OK && value)
		msg_unref(m);
}
