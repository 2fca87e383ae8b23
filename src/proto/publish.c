/* Incoming PUBLISH: decode, check, route (and retain), acknowledge.
 *
 * QoS 2 uses the spec's method B [MQTT-4.3.3-2]: the message is routed when
 * first received and its packet id remembered until PUBREL; a re-sent
 * PUBLISH with an id still remembered is acknowledged again but not routed,
 * so subscribers get it exactly once.
 *
 * 5.0: the Topic Alias is resolved (alias.c), the properties that travel
 * with the message are kept with it (in the publisher's order), the
 * Message Expiry Interval becomes an absolute deadline, and acks carry
 * reason codes (0x10 when nobody subscribed, 0x99 for a payload that is not
 * the UTF-8 its format indicator promised). */
#include "core/clock.h"
#include "mqtt/props.h"
#include "proto/alias.h"
#include "proto/access.h"
#include "auth/plugin_host.h"
#include "proto/persist.h"
#include "proto/rate.h"
#include "proto/proto.h"

#include <string.h>

/* Topics beginning with "$SYS" are the broker's own: clients may not
 * publish there (section 4.7.2). The message is acknowledged and dropped,
 * as 3.1.1 has no way to refuse a PUBLISH. One subtree is the exception:
 * bridges report their link state under $SYS/broker/connection/ on the
 * broker they connect to (mosquitto's notifications), so that one is
 * open to clients, under the ACL like any other topic. */
#define BRIDGE_STATE_PREFIX "$SYS/broker/connection/"

static bool reserved_topic(const struct mqtt_str *t)
{
	size_t n = sizeof(BRIDGE_STATE_PREFIX) - 1;
	if (t->len > n && memcmp(t->p, BRIDGE_STATE_PREFIX, n) == 0)
		return false;
	return t->len >= 4 && memcmp(t->p, "$SYS", 4) == 0;
}

static bool has_wildcard(struct mqtt_bin s)
{
	return memchr(s.p, '+', s.len) || memchr(s.p, '#', s.len);
}

bool proto_topic_over_limits(const struct worker_limits *lim, const char *p, size_t len)
{
	return (lim->max_topic_length && len > lim->max_topic_length) ||
	       (lim->max_topic_levels && topic_levels(p, len) > lim->max_topic_levels);
}

static int publish_check(struct client *c, const struct mqtt_publish *pub, const char **why)
{
	const struct worker_limits *lim = &c->w->lim;
	/* an empty (aliased) 5.0 topic was checked when its alias was set */
	if (pub->topic.len && proto_topic_over_limits(lim, pub->topic.p, pub->topic.len))
		return proto_fail(c, MQTT_RC_QUOTA_EXCEEDED, "topic past max_topic_levels or max_topic_length", why);
	if (lim->message_size_limit && pub->payload.len > lim->message_size_limit) {
		*why = "payload above message_size_limit";
		return FM_ETOOBIG;
	}
	if (pub->retain && !lim->retain_available)
		return proto_fail(c, MQTT_RC_RETAIN_NOT_SUPPORTED, "retained PUBLISH while retain_available is false",
				  why); /* [MQTT-3.3.1-?], 3.2.2.3.5 */
	return FM_OK;
}

/* The 5.0 rules a PUBLISH's properties must follow beyond their types. */
static int props_check(struct client *c, const struct mqtt_props *p, const char **why)
{
	if (mqtt_props_has(p, MQTT_PROP_SUBSCRIPTION_ID))
		return proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "PUBLISH from a client with a subscription identifier",
				  why); /* [MQTT-3.3.4-6] */
	if (mqtt_props_has(p, MQTT_PROP_RESPONSE_TOPIC) && has_wildcard(p->data[MQTT_PROP_RESPONSE_TOPIC]))
		return proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "response topic with a wildcard", why); /* [MQTT-3.3.2-14] */
	return FM_OK;
}

/* A client may have at most our Receive Maximum of QoS 1/2 PUBLISH
 * unacknowledged [MQTT-3.3.4-7]; one more is answered DISCONNECT 0x93
 * [MQTT-3.3.4-8]. Unacknowledged: QoS 1 whose PUBACK is not sent yet
 * (waiting for the store), QoS 2 before its PUBCOMP: its id is remembered
 * until PUBREL, its PUBCOMP may then wait for the store. A PUBREC waiting
 * for the store belongs to a remembered id: not counted twice. */
static int receive_max_check(struct client *c, const struct mqtt_publish *pub, const char **why)
{
	uint32_t max = c->receive_max_in; /* as its CONNACK said, whatever a reload did since */
	if (pub->qos == 0 || max == 0)
		return FM_OK;
	uint32_t open = c->session->n_qos2_in + persist_flow_ends_waiting(c);
	if (open < max)
		return FM_OK;
	return proto_fail(c, MQTT_RC_RECEIVE_MAX_EXCEEDED, "more unacknowledged PUBLISH than Receive Maximum", why);
}

/* The payload of a PUBLISH whose Payload Format Indicator is 1 must be
 * UTF-8 (3.3.2.3.2). */
static bool payload_valid(const struct mqtt_publish *pub, const struct mqtt_props *p)
{
	return mqtt_props_num(p, MQTT_PROP_PAYLOAD_FORMAT, 0) == 0 ||
	       mqtt_utf8_valid((const char *)pub->payload.p, pub->payload.len);
}

/* Build the routed message: the properties that travel with it (not the
 * alias, which is this connection's, nor the expiry, which is rewritten
 * per delivery) and the expiry as an absolute deadline. */
static struct msg *make_msg(struct client *c, const struct mqtt_publish *pub, const struct mqtt_props *p)
{
	struct msg_spec sp = { .topic = pub->topic.p, .topic_len = pub->topic.len,
			       .payload = pub->payload.p, .payload_len = pub->payload.len,
			       .qos = pub->qos, .retain = pub->retain };
	if (c->version != MQTT_V5 || pub->props.len == 0)
		return msg_make(&sp);
	struct buf *props = &c->w->props_scratch;
	props->off = props->len = 0;
	if (mqtt_props_copy(props, pub->props, MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) |
						 MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY)) != FM_OK)
		return NULL;
	sp.props = buf_head(props);
	sp.props_len = buf_used(props);
	if (mqtt_props_has(p, MQTT_PROP_MESSAGE_EXPIRY))
		sp.expires_at_ms = clock_wall_ms() + (uint64_t)p->num[MQTT_PROP_MESSAGE_EXPIRY] * 1000;
	return msg_make(&sp);
}

/* Route (and retain); *durable tells whether the store holds the message
 * now, so that its acknowledgement waits for the commit; *matched whether
 * any subscription took it. */
static int publish_route(struct client *c, const struct mqtt_publish *pub, const struct mqtt_props *p,
			 bool *durable, bool *matched)
{
	*durable = false;
	*matched = false;
	if (reserved_topic(&pub->topic))
		return FM_OK;
	struct msg *m = make_msg(c, pub, p);
	if (!m)
		return FM_ENOMEM;
	/* routed first: it sets the message's store id, which must not change
	 * once the retained tree shares the message with other workers */
	if (route_publish(c->w, c, m))
		*durable = true;
	*matched = c->w->n_targets > 0;
	if (pub->retain) {
		route_retain(c->w, m); /* [MQTT-3.3.1-5] */
		*durable = *durable || persist_on(c->w);
	}
	msg_unref(m);
	return FM_OK;
}

/* What a bridge's remote sends is never refused: it would only send it
 * again on the next connection, for ever. Past our limits it is
 * acknowledged and dropped (counted), RETAIN is cleared where we keep
 * none, and what no bridge topic maps is dropped the same way. */
static bool admit_from_remote(struct client *c, struct mqtt_publish *pub)
{
	const struct worker_limits *lim = &c->w->lim;
	if (!c->w->b->bridge_hooks->map_in(c, pub))
		return false;
	if (!lim->retain_available)
		pub->retain = false;
	if (proto_topic_over_limits(lim, pub->topic.p, pub->topic.len) ||
	    (lim->message_size_limit && pub->payload.len > lim->message_size_limit)) {
		counter_inc(&c->w->stats.dropped_too_large);
		return false;
	}
	return true;
}

/* The MESSAGE plugins see the PUBLISH first: they may drop it (it is
 * acknowledged all the same, and goes nowhere) or change its topic and
 * payload, which is what is then routed and retained. */
static int publish_through_plugins(struct client *c, const struct mqtt_publish *pub, const struct mqtt_props *p,
				   bool *durable, bool *matched)
{
	struct plugin_message pm = {0};
	int verdict = access_message(c, &pm, pub);
	if (verdict == FM_PLUGIN_DROP) {
		plugin_message_fini(&pm);
		return FM_OK;
	}
	struct mqtt_publish changed = *pub;
	if (pm.topic_owned) {
		changed.topic = (struct mqtt_str){ .p = pm.m.topic, .len = (uint16_t)pm.m.topic_len };
		changed.payload = (struct mqtt_bin){ .p = pm.m.payload, .len = (uint32_t)pm.m.payload_len };
	}
	int rc = publish_route(c, &changed, p, durable, matched);
	plugin_message_fini(&pm);
	return rc;
}

/* PUBACK/PUBREC's reason: 0x10 tells a 5.0 publisher nobody subscribed
 * (a server's code: not from a bridge's client end). */
static uint8_t ack_reason(const struct client *c, bool matched)
{
	return c->version == MQTT_V5 && !matched && !c->outgoing ? MQTT_RC_NO_MATCHING_SUBSCRIBERS : MQTT_RC_SUCCESS;
}

/* A 5.0 payload that is not the UTF-8 its format indicator says: QoS 1/2
 * is refused in its ack (0x99) and not routed; QoS 0 has no ack, so the
 * connection closes with DISCONNECT 0x99 (3.3.2.3.2). */
static int refuse_payload(struct client *c, const struct mqtt_publish *pub, const char **why)
{
	if (pub->qos == 0)
		return proto_fail(c, MQTT_RC_PAYLOAD_FORMAT_INVALID, "payload is not UTF-8 as its format says", why);
	persist_ack(c, pub->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, pub->packet_id, MQTT_RC_PAYLOAD_FORMAT_INVALID, false);
	return FM_OK;
}

/* The 5.0 steps every PUBLISH takes, a resent one too: its properties'
 * rules and its Topic Alias (which a resend may set). */
static int v5_resolve(struct client *c, struct mqtt_publish *pub, struct mqtt_props *p, const char **why)
{
	mqtt_props_read(pub->props, p);
	if (props_check(c, p, why) != FM_OK)
		return FM_EPROTO;
	uint16_t alias = (uint16_t)mqtt_props_num(p, MQTT_PROP_TOPIC_ALIAS, 0);
	return alias_resolve(c, c->w->lim.max_topic_alias, alias, pub, why);
}

/* The 5.0 steps of a new message: flow control, payload format. *refused:
 * it was answered with an error ack and goes no further. */
static int v5_admit(struct client *c, const struct mqtt_publish *pub, const struct mqtt_props *p,
		    bool *refused, const char **why)
{
	*refused = false;
	if (receive_max_check(c, pub, why) != FM_OK)
		return FM_EPROTO;
	if (!payload_valid(pub, p)) {
		*refused = true;
		return refuse_payload(c, pub, why);
	}
	return FM_OK;
}

/* A PUBLISH the ACL does not let the client write: never routed or
 * retained. A 5.0 publisher is told (0x87 in its PUBACK/PUBREC); a 3.1.1
 * one cannot be, so its QoS 1/2 exchange completes as for a message nobody
 * subscribed to (the caller carries on with *route false), as mosquitto
 * does. QoS 0 just goes. */
static bool publish_allowed(struct client *c, const struct mqtt_publish *pub, bool *answered)
{
	*answered = false;
	if (access_may_publish(c, NULL, pub->topic.p, pub->topic.len, pub->qos, pub->retain))
		return true;
	counter_inc(&c->w->stats.denied_publish);
	if (log_enabled(&c->w->b->log, LOG_T_DEBUG))
		log_debug(&c->w->b->log, "denied PUBLISH from %s to '%.*s'", client_log_id(c), (int)pub->topic.len,
			  pub->topic.p);
	if (pub->qos == 0) {
		*answered = true;
	} else if (c->version == MQTT_V5) {
		persist_ack(c, pub->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, pub->packet_id, MQTT_RC_NOT_AUTHORIZED, false);
		*answered = true;
	}
	return false;
}

int proto_on_publish(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_publish pub;
	struct mqtt_props p = { .has = 0 };
	uint8_t reason = 0;
	/* a bridge's remote is no device: max_publish_rate is not for it */
	if (!c->outgoing && !rate_admit(c))
		return FM_EAGAIN; /* over max_publish_rate: read again when a token is due */
	int rc = mqtt_decode_publish(f, c->version, &pub, &reason);
	if (rc != FM_OK)
		return proto_malformed(c, reason, "malformed PUBLISH", why);
	if (!c->outgoing && (rc = publish_check(c, &pub, why)) != FM_OK)
		return rc;
	if (c->version == MQTT_V5 && (rc = v5_resolve(c, &pub, &p, why)) != FM_OK)
		return rc;
	/* from a bridge's remote: its local topic, or none (not routed) */
	bool ours = !c->outgoing || admit_from_remote(c, &pub);
	struct session *s = c->session;
	if (pub.qos == 2 && session_qos2_in_has(s, pub.packet_id)) {
		persist_ack(c, MQTT_PUBREC, pub.packet_id, 0, false); /* duplicate: not routed again */
		return FM_OK;
	}
	bool refused = false;
	if (c->version == MQTT_V5 && ((rc = v5_admit(c, &pub, &p, &refused, why)) != FM_OK || refused))
		return rc;
	counter_inc(stats_pub_in(&c->w->stats, pub.qos));
	bool answered = false, durable = false, matched = false;
	if (!ours) {
		/* acknowledged as a message nobody subscribed to */
	} else if (!publish_allowed(c, &pub, &answered)) {
		if (answered)
			return FM_OK;
	} else if ((rc = publish_through_plugins(c, &pub, &p, &durable, &matched)) != FM_OK) {
		*why = "out of memory";
		return rc;
	}
	uint8_t ack_rc = ack_reason(c, matched);
	/* acknowledged means stored: with durability full, PUBACK/PUBREC
	 * wait for the commit of what the message wrote */
	if (pub.qos == 1) {
		persist_ack(c, MQTT_PUBACK, pub.packet_id, ack_rc, durable); /* [MQTT-4.3.2-2] */
	} else if (pub.qos == 2) {
		if (session_qos2_in_add(s, pub.packet_id) != FM_OK) {
			*why = "out of memory";
			return FM_ENOMEM;
		}
		persist_qos2_in(c->w, s, pub.packet_id, true);
		persist_ack(c, MQTT_PUBREC, pub.packet_id, ack_rc,
			    durable || (s->persistent && persist_on(c->w))); /* [MQTT-4.3.3-2] */
	}
	return FM_OK;
}
