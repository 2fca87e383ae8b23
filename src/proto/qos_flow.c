/* Acknowledgement flows: PUBACK, PUBREC, PUBREL, PUBCOMP.
 *
 * Outgoing (we published to the client): PUBACK or PUBCOMP ends the flow
 * and frees the inflight slot, which lets the next queued message go;
 * PUBREC moves QoS 2 to "PUBREL sent". Incoming QoS 2: PUBREL releases the
 * remembered packet id and is answered with PUBCOMP [MQTT-4.3.3-2].
 * An ack for an id we do not know is ignored in 3.1.1 (it may be a late
 * duplicate after a resend); PUBREL is answered with PUBCOMP regardless,
 * since the client cannot finish its flow otherwise. */
#include "proto/persist.h"
#include "proto/proto.h"

static void send_ack(struct client *c, uint8_t type, uint16_t packet_id)
{
	struct mqtt_ack ack = { .type = type, .packet_id = packet_id };
	if (mqtt_encode_ack(&c->out, c->version, &ack) == FM_OK)
		client_mark_dirty(c);
}

/* The flow of an outgoing message ends: its slot frees, the next goes. */
static void flow_done(struct client *c, struct inflight *in, uint16_t packet_id)
{
	struct session *s = c->session;
	persist_done(c->w, s, in->msg, packet_id);
	session_inflight_del(s, packet_id);
	client_count_ack(c);
	deliver_pump(c->w, s);
}

static void on_puback_or_pubcomp(struct client *c, const struct mqtt_ack *a)
{
	struct session *s = c->session;
	struct inflight *in = session_inflight_find(s, a->packet_id);
	uint8_t want = a->type == MQTT_PUBACK ? INFLIGHT_WAIT_PUBACK : INFLIGHT_WAIT_PUBCOMP;
	if (!in || in->state != want)
		return;
	flow_done(c, in, a->packet_id);
}

static void on_pubrec(struct client *c, const struct mqtt_ack *a)
{
	struct inflight *in = session_inflight_find(c->session, a->packet_id);
	if (!in || in->state == INFLIGHT_WAIT_PUBACK)
		return;
	if (a->reason >= 0x80) {
		flow_done(c, in, a->packet_id); /* a 5.0 PUBREC refusing it ends the flow (4.3.3) */
		return;
	}
	in->state = INFLIGHT_WAIT_PUBCOMP;
	if (persist_released(c->w, c->session, in->msg, a->packet_id))
		persist_hold_output(c);
	send_ack(c, MQTT_PUBREL, a->packet_id); /* [MQTT-4.3.3-2] */
}

static void on_pubrel(struct client *c, const struct mqtt_ack *a)
{
	bool known = session_qos2_in_has(c->session, a->packet_id);
	bool stored = known && c->session->persistent && persist_on(c->w);
	if (stored)
		persist_qos2_in(c->w, c->session, a->packet_id, false);
	session_qos2_in_del(c->session, a->packet_id);
	/* a PUBCOMP out before the id's removal is on disk would let the
	 * publisher reuse the id, and a restart take the new message for a
	 * resend of the old one */
	uint8_t reason = !known && c->version == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : MQTT_RC_SUCCESS;
	persist_ack(c, MQTT_PUBCOMP, a->packet_id, reason, stored); /* [MQTT-4.3.3-2] */
}

int proto_on_ack(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_ack a;
	uint8_t reason = 0;
	int rc = mqtt_decode_ack(f, c->version, &a, &reason);
	if (rc != FM_OK)
		return proto_malformed(c, reason, "malformed acknowledgement", why);
	switch (a.type) {
	case MQTT_PUBACK:
	case MQTT_PUBCOMP: on_puback_or_pubcomp(c, &a); break;
	case MQTT_PUBREC: on_pubrec(c, &a); break;
	case MQTT_PUBREL: on_pubrel(c, &a); break;
	}
	return FM_OK;
}
