/* Delivery to one session: send now, queue, or drop.
 *
 * Online session: QoS 0 goes straight to the connection's output (dropped
 * and counted when the output is over max_output_buffer, or FM_OUT_RETAINED_BURST
 * for retained messages sent on subscribe); QoS 1/2 takes an
 * inflight slot and a packet id, or waits in the session queue when the
 * window (max_inflight_messages) is full, when older messages are already
 * waiting (order [MQTT-4.6.0-6]), or when the output is over max_output_buffer.
 * Offline persistent session: QoS 1/2 is queued [MQTT-3.1.2-5], QoS 0 is
 * dropped (as mosquitto does without queue_qos0_messages). */
#include "core/clock.h"
#include "mqtt/props.h"
#include "proto/alias.h"
#include "proto/access.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/spill.h"

/* The properties of one delivery to a 5.0 client: the remaining Message
 * Expiry Interval [MQTT-3.3.2-6], the subscription identifier
 * [MQTT-3.3.4-3], then what the message carries from its publisher. Built
 * in the worker's scratch buffer; NULL section on ENOMEM (the message then
 * goes without its properties rather than not at all). */
static struct mqtt_bin delivery_props(struct worker *w, const struct msg *m, uint32_t sub_id, uint16_t alias)
{
	struct buf *b = &w->props_scratch;
	b->off = b->len = 0;
	int rc = FM_OK;
	if (alias)
		rc |= mqtt_prop_put_u16(b, MQTT_PROP_TOPIC_ALIAS, alias);
	if (m->expires_at_ms) {
		uint32_t left = msg_expiry_left_s(m, clock_wall_ms());
		rc |= mqtt_prop_put_u32(b, MQTT_PROP_MESSAGE_EXPIRY, left ? left : 1);
	}
	if (sub_id)
		rc |= mqtt_prop_put_varint(b, MQTT_PROP_SUBSCRIPTION_ID, sub_id);
	if (m->props_len)
		rc |= buf_append(b, msg_props(m), m->props_len);
	return rc == FM_OK ? mqtt_props_of(b) : (struct mqtt_bin){0};
}

static struct mqtt_publish publish_of(const struct msg *m, uint8_t qos, uint16_t packet_id, bool dup)
{
	return (struct mqtt_publish){
		.qos = qos & 0x03,
		.dup = dup,
		/* retain is 0 on deliveries to established subscriptions
		 * [MQTT-3.3.1-9] unless Retain As Published [MQTT-3.3.1-12] */
		.retain = (qos & DELIVER_RETAIN) != 0,
		.topic = { .p = m->topic, .len = m->topic_len },
		.packet_id = packet_id,
		.payload = { .p = msg_payload(m), .len = m->payload_len },
	};
}

/* Would this delivery exceed the client's Maximum Packet Size? Then it is
 * not sent at all [MQTT-3.1.2-24] and counts as delivered (3.1.2.11.4). */
static bool too_big(struct client *c, const struct msg *m, uint8_t qos, uint32_t sub_id)
{
	uint32_t max = client_max_packet(c);
	if (max == 0)
		return false;
	struct mqtt_publish pub = publish_of(m, qos, 1, false);
	if (c->outgoing)
		c->w->b->bridge_hooks->map_out(c, &pub, false); /* measured as it will go */
	/* the expiry property's 5 bytes are counted whether or not it is sent,
	 * and a topic alias's 3 as if the topic went too */
	pub.props.len = m->props_len + (m->expires_at_ms ? 5 : 0) + (sub_id ? 1 + mqtt_varint_size(sub_id) : 0) +
			(c->v5->aliases_out ? 3 : 0);
	return mqtt_publish_size(c->version, &pub) > max;
}

#define DELIVERY_SAMPLE 8u

static void encode_publish(struct client *c, struct msg *m, uint8_t qos, uint32_t sub_id, uint16_t packet_id,
			   bool dup)
{
	struct mqtt_publish pub = publish_of(m, qos, packet_id, dup);
	if (c->outgoing)
		c->w->b->bridge_hooks->map_out(c, &pub, true); /* the remote's topic, before any alias */
	if (c->version == MQTT_V5) {
		bool known = false;
		uint16_t alias = alias_out_for(c, pub.topic.p, pub.topic.len, &known);
		pub.props = delivery_props(c->w, m, sub_id, alias);
		if (known && pub.props.len > 0)
			pub.topic.len = 0; /* the alias stands for it [MQTT-3.3.2-12] */
	}
	if (mqtt_encode_publish(&c->out, c->version, &pub) == FM_OK) {
		counter_inc(stats_pub_out(&c->w->stats, pub.qos));
		/* one first send in DELIVERY_SAMPLE is timed: a clock read per
		 * delivery would cost a few per cent of a fan-out. Not a resend
		 * (the client's delay, not ours), nor a message sent with RETAIN
		 * set (a retained message's age is not a delivery's latency) */
		if (!dup && !pub.retain && (c->w->latency_tick++ % DELIVERY_SAMPLE) == 0)
			histogram_observe(&c->w->delivery_latency, clock_mono_us() - m->born_us);
		client_mark_dirty(c);
		/* saturate now, not at the end of the iteration: one iteration can
		 * read enough to fill the output far past its hard limit */
		if (client_out_over(c, FM_OUT_HIGH) && c->session &&
		    !atomic_load_explicit(&c->session->saturated, memory_order_relaxed))
			client_update_pressure(c);
	}
}

static void send_pubrel(struct client *c, uint16_t packet_id)
{
	struct mqtt_ack rel = { .type = MQTT_PUBREL, .packet_id = packet_id };
	if (mqtt_encode_ack(&c->out, c->version, &rel) == FM_OK)
		client_mark_dirty(c);
}

/* Nothing waits before it (in memory or spilled to the store: order
 * [MQTT-4.6.0-6]) and there is room. */
static bool can_send_now(struct worker *w, struct session *s, const struct client *c)
{
	return s->queued == 0 && !(s->spill && s->spill->count) && !session_inflight_full(s, &w->lim.session, client_receive_max(c)) &&
	       !client_out_over(c, w->lim.max_output);
}

static void send_inflight(struct worker *w, struct session *s, struct client *c, struct msg *m, uint8_t qos,
			  uint32_t sub_id)
{
	uint16_t id;
	if (session_inflight_add(s, m, qos, sub_id, &id) != FM_OK) {
		counter_inc(&w->stats.dropped_queue);
		persist_done(w, s, m, 0);
		return;
	}
	if (persist_sent(w, s, m, id))
		persist_hold_output(c);
	encode_publish(c, m, qos, sub_id, id, false);
}

static void enqueue(struct worker *w, struct session *s, struct msg *m, uint8_t qos, uint32_t sub_id)
{
	bool dropped = session_queue_over(s, msg_size(m), &w->lim.session);
	/* a spilled entry is kept in the store only, read back in turn */
	if (!dropped && !spill_entry(w, s, m))
		dropped = session_queue_push(s, m, qos, sub_id, &w->lim.session) != FM_OK;
	if (dropped) {
		counter_inc(&w->stats.dropped_queue);
		persist_done(w, s, m, 0);
	}
	if (s->owner)
		client_update_pressure(s->owner); /* a filling queue slows its publishers */
}

/* A bridge's connection takes only what one of its topic lines maps (a
 * line removed since the message was queued maps it no more). */
static bool unmapped(struct client *c, const struct msg *m, uint8_t qos)
{
	if (!c || !c->outgoing)
		return false;
	struct mqtt_publish pub = publish_of(m, qos, 1, false);
	return !c->w->b->bridge_hooks->map_out(c, &pub, false);
}

/* A message that must not go to this session after all: expired while
 * it waited [MQTT-3.3.2-5], larger than the client accepts, on a topic
 * the ACL does not let it read (checked as it goes out, so a queue kept
 * while offline or a reload cannot leak one), or one its bridge no longer
 * maps. A queue entry the store holds for it goes too. */
static bool undeliverable(struct worker *w, struct session *s, struct client *c, struct msg *m, uint8_t qos,
			  uint32_t sub_id)
{
	bool expired = m->expires_at_ms && msg_expired(m, clock_wall_ms());
	bool big = !expired && c && too_big(c, m, qos, sub_id);
	bool denied = !expired && !big && c && (!access_may_read(c, m) || unmapped(c, m, qos));
	if (!expired && !big && !denied)
		return false;
	if (expired)
		counter_inc(&w->stats.dropped_expired);
	else if (big)
		counter_inc(&w->stats.dropped_too_large);
	else
		counter_inc(&w->stats.dropped_denied);
	if (qos & 0x03)
		persist_done(w, s, m, 0);
	return true;
}

/* A bridge's remote may take less than QoS 2 (its CONNACK's Maximum
 * QoS): what goes to it goes at most at that QoS. */
static uint8_t capped(const struct client *c, uint8_t qos)
{
	uint8_t cap = c && c->v5 ? c->v5->qos_cap : 0;
	if (!cap || (qos & 0x03) < cap)
		return qos;
	return (uint8_t)((qos & ~0x03u) | (cap - 1u));
}

/* Sent as QoS 0 though routed (and stored) at QoS 1/2: its store entry is
 * done with. */
static void send_qos0_instead(struct worker *w, struct session *s, struct client *c, struct msg *m, uint8_t qos,
			      uint32_t sub_id)
{
	encode_publish(c, m, qos, sub_id, 0, false);
	persist_done(w, s, m, 0);
}

void deliver_msg(struct worker *w, struct session *s, struct msg *m, uint8_t qos, uint32_t sub_id)
{
	struct client *c = s->owner;
	if (undeliverable(w, s, c, m, qos, sub_id))
		return;
	uint8_t sent_qos = capped(c, qos);
	if ((qos & 0x03) && (sent_qos & 0x03) == 0) {
		send_qos0_instead(w, s, c, m, sent_qos, sub_id);
		return;
	}
	qos = sent_qos;
	if ((qos & 0x03) == 0) {
		if (atomic_load_explicit(&w->b->over_memory, memory_order_relaxed)) {
			counter_inc(&w->stats.dropped_memory); /* memory_limit: QoS 0 goes first */
			return;
		}
		size_t limit = w->lim.max_output;
		if ((qos & DELIVER_RETAIN) && limit < FM_OUT_RETAINED_BURST)
			limit = FM_OUT_RETAINED_BURST; /* never less than a live message's */
		if (c && !client_out_over(c, limit))
			encode_publish(c, m, qos, sub_id, 0, false);
		else if (c)
			counter_inc(&w->stats.dropped_qos0);
		else
			counter_inc(&w->stats.dropped_offline);
		return;
	}
	if (c && can_send_now(w, s, c))
		send_inflight(w, s, c, m, qos, sub_id);
	else if (c || s->persistent)
		enqueue(w, s, m, qos, sub_id);
	else
		counter_inc(&w->stats.dropped_offline);
}

void deliver_pump(struct worker *w, struct session *s)
{
	struct client *c = s->owner;
	const struct session_limits *lim = &w->lim.session;
	while (c && s->queued > 0 && !session_inflight_full(s, lim, client_receive_max(c)) && !client_out_over(c, w->lim.max_output)) {
		struct msg *m;
		uint8_t qos;
		uint32_t sub_id;
		session_queue_pop(s, &m, &qos, &sub_id);
		if (!undeliverable(w, s, c, m, qos, sub_id)) {
			uint8_t sent_qos = capped(c, qos);
			if ((sent_qos & 0x03) == 0)
				send_qos0_instead(w, s, c, m, sent_qos, sub_id);
			else
				send_inflight(w, s, c, m, sent_qos, sub_id);
		}
		msg_unref(m); /* the queue's reference; inflight took its own */
	}
	spill_refill(w, s);
	if (c)
		client_update_pressure(c);
}

/* A resumed session may now belong to a client (another user taking the
 * client id, or the same one after a reload) that may not read what was in
 * flight: such messages are not sent again but finished, like an expired
 * one (PUBLISHes only: a PUBREL is about a message the client already
 * has). */
static void drop_unreadable_inflight(struct worker *w, struct session *s, struct client *c)
{
	for (uint32_t i = 0; i < s->n_inflight;) {
		struct inflight *in = &s->inflight[i];
		if (in->state == INFLIGHT_WAIT_PUBCOMP || (access_may_read(c, in->msg) && !unmapped(c, in->msg, in->qos))) {
			i++;
			continue;
		}
		counter_inc(&w->stats.dropped_denied);
		persist_done(w, s, in->msg, in->packet_id);
		session_inflight_del(s, in->packet_id); /* the next entry moves into slot i */
	}
}

void deliver_resume(struct worker *w, struct session *s)
{
	struct client *c = s->owner;
	/* what is resent may have been recorded in a batch not committed yet
	 * (here, or on the worker the session came from, which submitted it
	 * before handing the session over): it waits for that commit */
	if (s->persistent && s->n_inflight > 0)
		persist_hold_output(c);
	drop_unreadable_inflight(w, s, c);
	for (uint32_t i = 0; i < s->n_inflight; i++) {
		struct inflight *in = &s->inflight[i];
		if (in->state == INFLIGHT_WAIT_PUBCOMP)
			send_pubrel(c, in->packet_id);
		else
			encode_publish(c, in->msg, in->qos, in->sub_id, in->packet_id, true); /* [MQTT-4.4.0-1] */
	}
	deliver_pump(w, s);
}
