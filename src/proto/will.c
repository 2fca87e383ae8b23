/* Will messages (will.h). The session holds the will as the CONNECT gave
 * it, its 5.0 will properties raw: the Will Delay Interval and Message
 * Expiry Interval among them are read here, when it goes, which is rare,
 * so no session pays for fields to hold them. */
#include "proto/will.h"

#include "core/clock.h"
#include "mqtt/props.h"
#include "proto/expiry.h"
#include "proto/persist.h"
#include "proto/proto.h"

static struct mqtt_props will_props(const struct msg *will)
{
	struct mqtt_props p;
	mqtt_props_read((struct mqtt_bin){ msg_props(will), will->props_len }, &p);
	return p;
}

/* The will as published: its Message Expiry Interval becomes a deadline
 * from now, and neither it nor the Will Delay Interval is forwarded.
 * Takes over the caller's reference; NULL on ENOMEM. */
static struct msg *as_published(struct msg *will)
{
	if (will->props_len == 0)
		return will;
	struct mqtt_props p = will_props(will);
	struct buf props;
	buf_init(&props);
	struct msg *m = NULL;
	struct mqtt_bin raw = { msg_props(will), will->props_len };
	if (mqtt_props_copy(&props, raw, MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY) |
					 MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY)) == FM_OK) {
		uint64_t expiry_s = mqtt_props_num(&p, MQTT_PROP_MESSAGE_EXPIRY, 0);
		struct msg_spec sp = { .topic = will->topic, .topic_len = will->topic_len,
				       .payload = msg_payload(will), .payload_len = will->payload_len,
				       .props = buf_head(&props), .props_len = buf_used(&props),
				       .qos = will->qos, .retain = will->retain,
				       .expires_at_ms = expiry_s ? clock_wall_ms() + expiry_s * 1000 : 0 };
		m = msg_make(&sp);
	}
	buf_fini(&props);
	msg_unref(will);
	return m;
}

static void publish(struct worker *w, struct session *s)
{
	struct msg *will = s->will;
	s->will = NULL;
	if ((will = as_published(will)) == NULL)
		return; /* out of memory */
	/* routed first, as publish.c does: routing sets the store id, which
	 * must not change once the retained tree shares the message */
	route_publish(w, NULL, will);
	if (will->retain)
		route_retain(w, will);
	msg_unref(will);
}

void will_on_close(struct worker *w, struct session *s, bool session_ends)
{
	if (!s->will)
		return;
	struct mqtt_props p = will_props(s->will);
	uint32_t delay_s = mqtt_props_num(&p, MQTT_PROP_WILL_DELAY, 0);
	uint64_t at_ms = delay_s && !session_ends ? session_will_arm(w, s, delay_s) : 0;
	if (at_ms == 0) {
		publish(w, s);
		return;
	}
	persist_will_put(w, s, at_ms);
}

void will_publish_pending(struct worker *w, struct session *s)
{
	if (!s->will)
		return;
	session_will_disarm(w, s);
	persist_will_del(w, s);
	publish(w, s);
}

void will_cancel(struct worker *w, struct session *s)
{
	if (!session_will_disarm(w, s))
		return;
	persist_will_del(w, s);
	session_will_set(s, NULL);
}
