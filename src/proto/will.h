/* Will messages: published when a connection ends without DISCONNECT
 * [MQTT-3.1.2-8] (or with 5.0's DISCONNECT 0x04), at once or, with a 5.0
 * Will Delay Interval, when the delay passes or the session ends,
 * whichever comes first; a reconnect within the delay cancels it
 * [MQTT-3.1.3-9]. A waiting will is in the store, so a restart keeps it. */
#ifndef FM_PROTO_WILL_H
#define FM_PROTO_WILL_H

#include "proto/broker.h"

/* s's connection closed and its will is due: publish it now, or (5.0
 * Will Delay Interval, and s outlives the connection) arm its delay. */
void will_on_close(struct worker *w, struct session *s, bool session_ends);
/* Publish s's will now if one is held (its delay passed, or s ends). */
void will_publish_pending(struct worker *w, struct session *s);
/* A client attached to s: a will waiting for its delay is dropped. */
void will_cancel(struct worker *w, struct session *s);

#endif
