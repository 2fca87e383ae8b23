/* SUBSCRIBE -> SUBACK (+ retained messages), UNSUBSCRIBE -> UNSUBACK.
 *
 * Each filter is checked on its own: an invalid one gets the failure code
 * 0x80 in its SUBACK slot while the others are granted [MQTT-3.8.4-5 allows
 * per-filter failure]. Granted QoS is the requested one (we support 0..2)
 * [MQTT-3.8.4-6]. Retained messages matching a filter are sent after the
 * SUBACK with RETAIN set [MQTT-3.3.1-8], on every (re)subscribe
 * [MQTT-3.8.4-3]. */
#include "core/clock.h"
#include "mqtt/props.h"
#include "proto/access.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/subs.h"

#include <stdlib.h>
#include <string.h>

/* 5.0 Retain Handling (subscription options bits 4-5). */
#define RETAIN_SEND 0u            /* send retained messages on subscribe */
#define RETAIN_SEND_IF_NEW 1u     /* ... only if the subscription did not exist */
#define RETAIN_DONT_SEND 2u

struct retained_ctx {
	struct worker *w;
	struct session *s;
	uint8_t granted;
	uint32_t sub_id;
	uint64_t now_ms;
};

static void send_retained(void *arg, void *value)
{
	struct retained_ctx *rc = arg;
	struct msg *m = value;
	if (msg_expired(m, rc->now_ms))
		return; /* [MQTT-3.3.2-5]: retained messages expire too */
	uint8_t qos = (m->qos < rc->granted ? m->qos : rc->granted) | DELIVER_RETAIN;
	struct msg *logged = persist_retained_copy(rc->w, rc->s, m, qos, rc->sub_id);
	deliver_msg(rc->w, rc->s, logged ? logged : m, qos, rc->sub_id);
	msg_unref(logged);
}

/* A filter we can subscribe to: a valid filter, or "$share/{name}/{filter}"
 * with a valid name and filter (for 3.1.1 clients too). */
static bool filter_valid(const struct mqtt_str *f)
{
	struct topic_share sh;
	if (topic_share_parse(f->p, f->len, &sh))
		return topic_share_valid(&sh);
	return topic_filter_valid(f->p, f->len);
}

static bool is_shared(const struct mqtt_str *f)
{
	struct topic_share sh;
	return topic_share_parse(f->p, f->len, &sh);
}

/* The failure code of a filter we cannot take. */
static uint8_t refusal(const struct client *c, uint8_t rc5)
{
	return c->version == MQTT_V5 ? rc5 : MQTT_SUBACK_FAILURE;
}

/* Limits that protect the fleet (max_topic_levels, max_topic_length,
 * max_subscriptions): a filter past them is refused on its own, 5.0 saying
 * Quota Exceeded. */
static bool over_limits(struct client *c, const struct mqtt_str *f)
{
	const struct worker_limits *lim = &c->w->lim;
	if (proto_topic_over_limits(lim, f->p, f->len))
		return true;
	/* at the limit, only a filter it has already (a replacement) is taken */
	return lim->max_subscriptions && c->session->n_subs >= lim->max_subscriptions &&
	       !session_sub_has(c->session, f->p, f->len);
}

/* The ACL must let the client read everything the filter can match (for
 * a shared subscription, the filter after "$share/NAME/"). */
static bool subscribe_allowed(struct client *c, const struct mqtt_str *f, uint8_t qos)
{
	const char *p = f->p;
	size_t len = f->len;
	if (is_shared(f)) {
		const char *group_end = memchr(p + 7, '/', len - 7); /* after "$share/" */
		if (!group_end)
			return false;
		len -= (size_t)(group_end + 1 - p);
		p = group_end + 1;
	}
	return access_may_subscribe(c, p, len, qos);
}

int proto_session_subscribe(struct worker *w, struct session *s, const char *filter, size_t len, uint8_t options,
			    uint32_t sub_id, bool *replaced)
{
	struct broker *b = w->b;
	uint8_t qos = options & 0x03;
	*replaced = false;
	/* submitted before routers can see the subscription: any queue entry
	 * another worker writes for it then reaches the store after it */
	persist_sub_put(w, s, filter, len, options, sub_id);
	persist_flush(w);
	pthread_rwlock_wrlock(&b->subs_lock);
	int rc = subs_add(b, s, filter, len, options, sub_id, replaced);
	pthread_rwlock_unlock(&b->subs_lock);
	if (rc == FM_OK && (*replaced ? session_sub_set(s, filter, len, qos)
				      : session_sub_append(s, filter, len, qos)) != FM_OK) {
		pthread_rwlock_wrlock(&b->subs_lock);
		subs_del(b, s, filter, len);
		pthread_rwlock_unlock(&b->subs_lock);
		rc = FM_ENOMEM;
	}
	if (rc != FM_OK && !*replaced)
		persist_sub_del(w, s, filter, len);
	return rc;
}

bool proto_session_unsubscribe(struct worker *w, struct session *s, const char *filter, size_t len)
{
	if (session_sub_del(s, filter, len) != FM_OK)
		return false;
	pthread_rwlock_wrlock(&w->b->subs_lock);
	subs_del(w->b, s, filter, len);
	pthread_rwlock_unlock(&w->b->subs_lock);
	persist_sub_del(w, s, filter, len);
	return true;
}

/* Subscribe one filter; returns the SUBACK code for it and whether it
 * existed already (*replaced). */
static uint8_t subscribe_one(struct client *c, const struct mqtt_sub_entry *e, uint32_t sub_id, bool *replaced_out)
{
	struct broker *b = c->w->b;
	if (!filter_valid(&e->filter))
		return refusal(c, MQTT_RC_TOPIC_FILTER_INVALID); /* [MQTT-4.8.2-1], [MQTT-4.8.2-2] */
	if (over_limits(c, &e->filter))
		return refusal(c, MQTT_RC_QUOTA_EXCEEDED);
	if (!subscribe_allowed(c, &e->filter, e->options & 0x03))
		return refusal(c, MQTT_RC_NOT_AUTHORIZED);
	uint8_t qos = e->options & 0x03;
	uint8_t options = e->options;
	/* a bridge (try_private) gets what a 5.0 bridge asks for itself: its
	 * own messages not echoed back (loops), RETAIN as published */
	if (c->peer_bridge && !is_shared(&e->filter))
		options |= SUB_NO_LOCAL | SUB_RETAIN_AS_PUBLISHED;
	/* all the options are kept (No Local, Retain As Published apply at
	 * routing); a 3.1.1 options byte has only the QoS */
	bool replaced = false;
	if (proto_session_subscribe(c->w, c->session, e->filter.p, e->filter.len, options, sub_id, &replaced) != FM_OK)
		return refusal(c, MQTT_RC_UNSPECIFIED);
	*replaced_out = replaced;
	if (log_enabled(&b->log, LOG_T_SUBSCRIBE))
		log_msg(&b->log, LOG_T_SUBSCRIBE, "%s %u %.*s", client_log_id(c), qos,
			(int)e->filter.len, e->filter.p);
	return qos;
}

/* Retained messages for a new subscription, as its Retain Handling says
 * [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11]; none for a shared
 * one (3.3.1.3: they go to new Non-shared Subscriptions only). */
static bool wants_retained(const struct mqtt_sub_entry *e, bool replaced)
{
	if (is_shared(&e->filter))
		return false;
	unsigned handling = (e->options >> 4) & 0x03;
	return handling == RETAIN_SEND || (handling == RETAIN_SEND_IF_NEW && !replaced);
}

void proto_session_send_retained(struct worker *w, struct session *s, const char *filter, size_t len,
				 uint8_t max_qos, uint32_t sub_id)
{
	/* delivery only encodes into the session's output or queue, so it is
	 * done under the read lock rather than copying the matches out */
	struct retained_ctx rc = { .w = w, .s = s, .granted = max_qos, .sub_id = sub_id, .now_ms = clock_wall_ms() };
	pthread_rwlock_rdlock(&w->b->retained_lock);
	retain_tree_match(w->b->retained, filter, len, send_retained, &rc);
	pthread_rwlock_unlock(&w->b->retained_lock);
}

static void deliver_retained_for(struct client *c, const struct mqtt_sub_entry *e, uint8_t granted, uint32_t sub_id)
{
	proto_session_send_retained(c->w, c->session, e->filter.p, e->filter.len, granted, sub_id);
}

/* A persistent session's SUBACK/UNSUBACK leaves once the change it
 * confirms is on disk (durability full): a crash right after it must not
 * bring back an old subscription state the client was told is gone. */
static void hold_until_stored(struct client *c)
{
	if (c->session->persistent && persist_on(c->w))
		persist_hold_output(c);
}

static bool no_local_on_shared(const struct mqtt_subscribe *sub)
{
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	mqtt_entries_begin(sub, true, &it);
	while (mqtt_entries_next(&it, &e))
		if ((e.options & 0x04) && is_shared(&e.filter))
			return true;
	return false;
}

int proto_on_subscribe(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_subscribe sub;
	uint8_t reason = 0;
	int rc = mqtt_decode_subscribe(f, c->version, &sub, &reason);
	if (rc != FM_OK)
		return proto_malformed(c, reason, "malformed SUBSCRIBE", why);
	struct mqtt_props p = { .has = 0 };
	if (c->version == MQTT_V5)
		mqtt_props_read(sub.props, &p);
	if (no_local_on_shared(&sub))
		return proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "No Local on a shared subscription", why); /* [MQTT-3.8.3-4] */
	uint32_t sub_id = mqtt_props_num(&p, MQTT_PROP_SUBSCRIPTION_ID, 0); /* 3.8.2.1.2 */
	/* one code per filter, and whether it existed; count >= 1 by the decoder */
	uint8_t *codes = malloc(sub.count * 2u);
	if (!codes)
		return FM_ENOMEM;
	uint8_t *existed = codes + sub.count;
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	uint32_t i = 0;
	mqtt_entries_begin(&sub, true, &it);
	for (bool replaced = false; mqtt_entries_next(&it, &e); i++, replaced = false) {
		codes[i] = subscribe_one(c, &e, sub_id, &replaced);
		existed[i] = replaced;
	}
	struct mqtt_suback ack = { .packet_id = sub.packet_id, .codes = { .p = codes, .len = i } };
	hold_until_stored(c);
	rc = mqtt_encode_suback(&c->out, c->version, MQTT_SUBACK, &ack); /* [MQTT-3.8.4-1] */
	if (rc == FM_OK) {
		client_mark_dirty(c);
		mqtt_entries_begin(&sub, true, &it);
		for (i = 0; mqtt_entries_next(&it, &e); i++)
			if (codes[i] < 0x80 && wants_retained(&e, existed[i]))
				deliver_retained_for(c, &e, codes[i], sub_id);
	}
	free(codes);
	return rc;
}

int proto_on_unsubscribe(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_subscribe uns;
	uint8_t reason = 0;
	int rc = mqtt_decode_unsubscribe(f, c->version, &uns, &reason);
	if (rc != FM_OK)
		return proto_malformed(c, reason, "malformed UNSUBSCRIBE", why);
	/* 5.0: a reason code per filter [MQTT-3.11.3-1]; 3.1.1: none */
	uint8_t *codes = c->version == MQTT_V5 ? malloc(uns.count) : NULL;
	if (c->version == MQTT_V5 && !codes)
		return FM_ENOMEM;
	struct mqtt_entry_iter it;
	struct mqtt_sub_entry e;
	uint32_t n = 0;
	mqtt_entries_begin(&uns, false, &it);
	while (mqtt_entries_next(&it, &e)) {
		/* [MQTT-3.10.4-1] stop matching; a filter we do not have is not an
		 * error (5.0 says 0x11) */
		bool had = proto_session_unsubscribe(c->w, c->session, e.filter.p, e.filter.len);
		if (codes)
			codes[n++] = had ? MQTT_RC_SUCCESS : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
		if (log_enabled(&c->w->b->log, LOG_T_UNSUBSCRIBE))
			log_msg(&c->w->b->log, LOG_T_UNSUBSCRIBE, "%s %.*s", client_log_id(c),
				(int)e.filter.len, e.filter.p);
	}
	struct mqtt_suback ack = { .packet_id = uns.packet_id, .codes = { .p = codes, .len = n } };
	hold_until_stored(c);
	rc = mqtt_encode_suback(&c->out, c->version, MQTT_UNSUBACK, &ack); /* [MQTT-3.10.4-4] */
	free(codes);
	if (rc != FM_OK)
		return FM_ENOMEM;
	client_mark_dirty(c);
	return FM_OK;
}
