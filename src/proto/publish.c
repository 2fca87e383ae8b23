/* Incoming PUBLISH: decode, check, route (and retain), acknowledge.
 *
 * QoS 2 uses the spec's method B [MQTT-4.3.3-2]: the message is routed when
 * first received and its packet id remembered until PUBREL; a re-sent
 * PUBLISH with an id still remembered is acknowledged again but not routed,
 * so subscribers get it exactly once. */
#include "proto/persist.h"
#include "proto/proto.h"

#include <string.h>

/* Topics beginning with "$SYS" are the broker's own: clients may not
 * publish there (section 4.7.2). The message is acknowledged and dropped,
 * as 3.1.1 has no way to refuse a PUBLISH. */
static bool reserved_topic(const struct mqtt_str *t)
{
	return t->len >= 4 && memcmp(t->p, "$SYS", 4) == 0;
}

static int publish_check(struct client *c, const struct mqtt_publish *pub, const char **why)
{
	const struct worker_limits *lim = &c->w->lim;
	if (lim->message_size_limit && pub->payload.len > lim->message_size_limit) {
		*why = "payload above message_size_limit";
		return FM_ETOOBIG;
	}
	if (pub->retain && !lim->retain_available) {
		*why = "retained PUBLISH while retain_available is false";
		return FM_EPROTO;
	}
	return FM_OK;
}

/* Route (and retain); *durable tells whether the store holds the message
 * now, so that its acknowledgement waits for the commit. */
static int publish_route(struct client *c, const struct mqtt_publish *pub, bool *durable)
{
	*durable = false;
	if (reserved_topic(&pub->topic))
		return FM_OK;
	struct msg *m = msg_new(pub->topic.p, pub->topic.len, pub->payload.p, pub->payload.len,
				pub->qos, pub->retain);
	if (!m)
		return FM_ENOMEM;
	/* routed first: it sets the message's store id, which must not change
	 * once the retained tree shares the message with other workers */
	if (route_publish(c->w, c, m))
		*durable = true;
	if (pub->retain) {
		route_retain(c->w, m); /* [MQTT-3.3.1-5] */
		*durable = *durable || persist_on(c->w);
	}
	msg_unref(m);
	return FM_OK;
}

int proto_on_publish(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_publish pub;
	uint8_t reason = 0;
	int rc = mqtt_decode_publish(f, c->version, &pub, &reason);
	if (rc != FM_OK) {
		*why = "malformed PUBLISH";
		return rc;
	}
	if ((rc = publish_check(c, &pub, why)) != FM_OK)
		return rc;
	c->w->stats.msgs_in++;
	struct session *s = c->session;
	if (pub.qos == 2 && session_qos2_in_has(s, pub.packet_id)) {
		persist_ack(c, MQTT_PUBREC, pub.packet_id, false); /* duplicate: not routed again */
		return FM_OK;
	}
	bool durable;
	if ((rc = publish_route(c, &pub, &durable)) != FM_OK) {
		*why = "out of memory";
		return rc;
	}
	/* acknowledged means stored: with durability full, PUBACK/PUBREC
	 * wait for the commit of what the message wrote */
	if (pub.qos == 1) {
		persist_ack(c, MQTT_PUBACK, pub.packet_id, durable); /* [MQTT-4.3.2-2] */
	} else if (pub.qos == 2) {
		if (session_qos2_in_add(s, pub.packet_id) != FM_OK) {
			*why = "out of memory";
			return FM_ENOMEM;
		}
		persist_qos2_in(c->w, s, pub.packet_id, true);
		persist_ack(c, MQTT_PUBREC, pub.packet_id, durable || (s->persistent && persist_on(c->w))); /* [MQTT-4.3.3-2] */
	}
	return FM_OK;
}
