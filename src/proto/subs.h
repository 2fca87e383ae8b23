/* A session's subscriptions in the router: ordinary filters go into the
 * subscription tree with the session as subscriber; "$share/{name}/{filter}"
 * joins the session to that shared group, which the tree holds as the
 * subscriber of filter (topic.h). The caller holds b->subs_lock for
 * writing. The session's own list (session.h) is the caller's. */
#ifndef FM_PROTO_SUBS_H
#define FM_PROTO_SUBS_H

#include "proto/broker.h"

/* Add or replace s's subscription to filter (validated: a plain filter or
 * a valid shared one). *replaced: it existed. FM_OK or FM_ENOMEM. */
int subs_add(struct broker *b, struct session *s, const char *filter, size_t len, uint8_t options,
	     uint32_t sub_id, bool *replaced);
/* Remove it. FM_OK or FM_ENOTFOUND. */
int subs_del(struct broker *b, struct session *s, const char *filter, size_t len);

/* 5.0 subscription options (3.8.3.1): No Local keeps a client's own
 * messages from it [MQTT-3.8.3-3]; Retain As Published keeps the RETAIN
 * flag on delivery [MQTT-3.3.1-12]. */
#define SUB_NO_LOCAL 0x04u
#define SUB_RETAIN_AS_PUBLISHED 0x08u

/* The whole subscription of session s (homed on w, or before the workers
 * run): the store record, the router (taking subs_lock) and the session's
 * list. FM_OK or FM_ENOMEM (nothing changed). *replaced: it existed. */
int proto_session_subscribe(struct worker *w, struct session *s, const char *filter, size_t len, uint8_t options,
			    uint32_t sub_id, bool *replaced);
/* Undo it; false if s had no such subscription. */
bool proto_session_unsubscribe(struct worker *w, struct session *s, const char *filter, size_t len);
/* Deliver to s (homed on w) the retained messages filter matches, with
 * RETAIN set, at most at max_qos, as for a new subscription. */
void proto_session_send_retained(struct worker *w, struct session *s, const char *filter, size_t len,
				 uint8_t max_qos, uint32_t sub_id);

#endif
