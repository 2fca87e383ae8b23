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

#endif
