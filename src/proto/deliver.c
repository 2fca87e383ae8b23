/* Delivery to one session: send now, queue, or drop.
 *
 * Online session: QoS 0 goes straight to the connection's output (dropped
 * and counted when the output is over FM_OUT_HARD, or FM_OUT_RETAINED_BURST
 * for retained messages sent on subscribe); QoS 1/2 takes an
 * inflight slot and a packet id, or waits in the session queue when the
 * window (max_inflight_messages) is full, when older messages are already
 * waiting (order [MQTT-4.6.0-6]), or when the output is over FM_OUT_HARD.
 * Offline persistent session: QoS 1/2 is queued [MQTT-3.1.2-5], QoS 0 is
 * dropped (as mosquitto does without queue_qos0_messages). */
#include "proto/persist.h"
#include "proto/proto.h"

static void encode_publish(struct client *c, struct msg *m, uint8_t qos, uint16_t packet_id, bool dup)
{
	struct mqtt_publish pub = {
		.qos = qos & 0x03,
		.dup = dup,
		/* retain is 0 on deliveries to established subscriptions [MQTT-3.3.1-9] */
		.retain = (qos & DELIVER_RETAIN) != 0,
		.topic = { .p = m->topic, .len = m->topic_len },
		.packet_id = packet_id,
		.payload = { .p = m->payload, .len = m->payload_len },
	};
	if (mqtt_encode_publish(&c->out, c->version, &pub) == FM_OK) {
		c->w->stats.msgs_out++;
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

static bool can_send_now(struct worker *w, struct session *s, const struct client *c)
{
	return s->queued == 0 && !session_inflight_full(s, &w->lim.session) && !client_out_over(c, FM_OUT_HARD);
}

static void send_inflight(struct worker *w, struct session *s, struct client *c, struct msg *m, uint8_t qos)
{
	uint16_t id;
	if (session_inflight_add(s, m, qos, &id) != FM_OK) {
		w->stats.dropped_queue++;
		persist_done(w, s, m, 0);
		return;
	}
	if (persist_sent(w, s, m, id))
		persist_hold_output(c);
	encode_publish(c, m, qos, id, false);
}

static void enqueue(struct worker *w, struct session *s, struct msg *m, uint8_t qos)
{
	if (session_queue_push(s, m, qos, &w->lim.session) != FM_OK) {
		w->stats.dropped_queue++;
		persist_done(w, s, m, 0);
	}
	if (s->owner)
		client_update_pressure(s->owner); /* a filling queue slows its publishers */
}

void deliver_msg(struct worker *w, struct session *s, struct msg *m, uint8_t qos)
{
	struct client *c = s->owner;
	if ((qos & 0x03) == 0) {
		size_t limit = qos & DELIVER_RETAIN ? FM_OUT_RETAINED_BURST : FM_OUT_HARD;
		if (c && !client_out_over(c, limit))
			encode_publish(c, m, qos, 0, false);
		else if (c)
			w->stats.dropped_qos0++;
		else
			w->stats.dropped_offline++;
		return;
	}
	if (c && can_send_now(w, s, c))
		send_inflight(w, s, c, m, qos);
	else if (c || s->persistent)
		enqueue(w, s, m, qos);
	else
		w->stats.dropped_offline++;
}

void deliver_pump(struct worker *w, struct session *s)
{
	struct client *c = s->owner;
	const struct session_limits *lim = &w->lim.session;
	while (c && s->queued > 0 && !session_inflight_full(s, lim) && !client_out_over(c, FM_OUT_HARD)) {
		struct msg *m;
		uint8_t qos;
		session_queue_pop(s, &m, &qos);
		send_inflight(w, s, c, m, qos);
		msg_unref(m); /* the queue's reference; inflight took its own */
	}
	if (c)
		client_update_pressure(c);
}

void deliver_resume(struct worker *w, struct session *s)
{
	struct client *c = s->owner;
	/* what is resent may have been recorded in a batch not committed yet
	 * (here, or on the worker the session came from, which submitted it
	 * before handing the session over): it waits for that commit */
	if (s->persistent && s->n_inflight > 0)
		persist_hold_output(c);
	for (uint32_t i = 0; i < s->n_inflight; i++) {
		struct inflight *in = &s->inflight[i];
		if (in->state == INFLIGHT_WAIT_PUBCOMP)
			send_pubrel(c, in->packet_id);
		else
			encode_publish(c, in->msg, in->qos, in->packet_id, true); /* [MQTT-4.4.0-1] */
	}
	deliver_pump(w, s);
}
