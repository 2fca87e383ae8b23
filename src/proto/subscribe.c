/* SUBSCRIBE -> SUBACK (+ retained messages), UNSUBSCRIBE -> UNSUBACK.
 *
 * Each filter is checked on its own: an invalid one gets the failure code
 * 0x80 in its SUBACK slot while the others are granted [MQTT-3.8.4-5 allows
 * per-filter failure]. Granted QoS is the requested one (we support 0..2)
 * [MQTT-3.8.4-6]. Retained messages matching a filter are sent after the
 * SUBACK with RETAIN set [MQTT-3.3.1-8], on every (re)subscribe
 * [MQTT-3.8.4-3]. */
#include "proto/persist.h"
#include "proto/proto.h"

#include <stdlib.h>

struct retained_ctx {
	struct worker *w;
	struct session *s;
	uint8_t granted;
};

static void send_retained(void *arg, void *value)
{
	struct retained_ctx *rc = arg;
	struct msg *m = value;
	uint8_t qos = (m->qos < rc->granted ? m->qos : rc->granted) | DELIVER_RETAIN;
	struct msg *logged = persist_retained_copy(rc->w, rc->s, m, qos);
	deliver_msg(rc->w, rc->s, logged ? logged : m, qos);
	msg_unref(logged);
}

/* Subscribe one filter; returns the SUBACK code for it. */
static uint8_t subscribe_one(struct client *c, const struct mqtt_sub_entry *e)
{
	struct broker *b = c->w->b;
	if (!topic_filter_valid(e->filter.p, e->filter.len))
		return MQTT_SUBACK_FAILURE;
	uint8_t qos = e->options & 0x03;
	struct topic_sub sub = { .subscriber = c->session, .options = qos };
	bool replaced = false;
	/* submitted before routers can see the subscription: any queue entry
	 * another worker writes for it then reaches the store after it */
	persist_sub_put(c->w, c->session, e->filter.p, e->filter.len, qos);
	persist_flush(c->w);
	pthread_rwlock_wrlock(&b->subs_lock);
	int rc = topic_tree_add(b->subs, e->filter.p, e->filter.len, &sub, &replaced);
	pthread_rwlock_unlock(&b->subs_lock);
	if (rc == FM_OK && (replaced ? session_sub_set(c->session, e->filter.p, e->filter.len, qos)
				     : session_sub_append(c->session, e->filter.p, e->filter.len, qos)) != FM_OK) {
		pthread_rwlock_wrlock(&b->subs_lock);
		topic_tree_del(b->subs, e->filter.p, e->filter.len, c->session);
		pthread_rwlock_unlock(&b->subs_lock);
		rc = FM_ENOMEM;
	}
	if (rc != FM_OK) {
		if (!replaced)
			persist_sub_del(c->w, c->session, e->filter.p, e->filter.len);
		return MQTT_SUBACK_FAILURE;
	}
	if (log_enabled(&b->log, LOG_T_SUBSCRIBE))
		log_msg(&b->log, LOG_T_SUBSCRIBE, "%s %u %.*s", client_log_id(c), qos,
			(int)e->filter.len, e->filter.p);
	return qos;
}

static void deliver_retained_for(struct client *c, const struct mqtt_sub_entry *e, uint8_t granted)
{
	/* delivery only encodes into this client's output, so it is done
	 * under the read lock rather than copying the matches out */
	struct retained_ctx rc = { .w = c->w, .s = c->session, .granted = granted };
	pthread_rwlock_rdlock(&c->w->b->retained_lock);
	retain_tree_match(c->w->b->retained, e->filter.p, e->filter.len, send_retained, &rc);
	pthread_rwlock_unlock(&c->w->b->retained_lock);
}

int proto_on_subscribe(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_subscribe sub;
	uint8_t reason = 0;
	int rc = mqtt_decode_subscribe(f, c->version, &sub, &reason);
	if (rc != FM_OK) {
		*why = "malformed SUBSCRIBE";
		return rc;
	}
	/* one code per filter; the decoder guarantees count >= 1 */
	uint8_t *codes = malloc(sub.count);
	if (!codes)
		return FM_ENOMEM;
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	uint32_t i = 0;
	mqtt_entries_begin(&sub, true, &it);
	while (mqtt_entries_next(&it, &e))
		codes[i++] = subscribe_one(c, &e);
	struct mqtt_suback ack = { .packet_id = sub.packet_id, .codes = { .p = codes, .len = i } };
	rc = mqtt_encode_suback(&c->out, c->version, MQTT_SUBACK, &ack); /* [MQTT-3.8.4-1] */
	if (rc == FM_OK) {
		client_mark_dirty(c);
		mqtt_entries_begin(&sub, true, &it);
		for (i = 0; mqtt_entries_next(&it, &e); i++)
			if (codes[i] != MQTT_SUBACK_FAILURE)
				deliver_retained_for(c, &e, codes[i]);
	}
	free(codes);
	return rc;
}

int proto_on_unsubscribe(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_subscribe uns;
	uint8_t reason = 0;
	int rc = mqtt_decode_unsubscribe(f, c->version, &uns, &reason);
	if (rc != FM_OK) {
		*why = "malformed UNSUBSCRIBE";
		return rc;
	}
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	mqtt_entries_begin(&uns, false, &it);
	while (mqtt_entries_next(&it, &e)) {
		/* [MQTT-3.10.4-1] stop matching; a filter we do not have is not an error */
		if (session_sub_del(c->session, e.filter.p, e.filter.len) == FM_OK) {
			pthread_rwlock_wrlock(&c->w->b->subs_lock);
			topic_tree_del(c->w->b->subs, e.filter.p, e.filter.len, c->session);
			pthread_rwlock_unlock(&c->w->b->subs_lock);
			persist_sub_del(c->w, c->session, e.filter.p, e.filter.len);
		}
		if (log_enabled(&c->w->b->log, LOG_T_UNSUBSCRIBE))
			log_msg(&c->w->b->log, LOG_T_UNSUBSCRIBE, "%s %.*s", client_log_id(c),
				(int)e.filter.len, e.filter.p);
	}
	struct mqtt_suback ack = { .packet_id = uns.packet_id };
	if (mqtt_encode_suback(&c->out, c->version, MQTT_UNSUBACK, &ack) != FM_OK) /* [MQTT-3.10.4-4] */
		return FM_ENOMEM;
	client_mark_dirty(c);
	return FM_OK;
}
