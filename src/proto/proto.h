/* Protocol handlers, one file per packet family. Each reads top to bottom:
 * decode, check, act, reply. A handler returns FM_OK if the connection stays
 * open; any other code means "close it" and *why is set to a reason for the
 * log (the caller closes). Replies are appended to c->out. */
#ifndef FM_PROTO_PROTO_H
#define FM_PROTO_PROTO_H

#include "mqtt/codec.h"
#include "proto/client.h"
#include "session/msg.h"

int proto_on_connect(struct client *c, const struct mqtt_frame *f, const char **why);
int proto_on_publish(struct client *c, const struct mqtt_frame *f, const char **why);
int proto_on_ack(struct client *c, const struct mqtt_frame *f, const char **why);
int proto_on_subscribe(struct client *c, const struct mqtt_frame *f, const char **why);
int proto_on_unsubscribe(struct client *c, const struct mqtt_frame *f, const char **why);
int proto_on_pingreq(struct client *c, const struct mqtt_frame *f, const char **why);
int proto_on_disconnect(struct client *c, const struct mqtt_frame *f, const char **why);
int proto_on_auth(struct client *c, const struct mqtt_frame *f, const char **why); /* ext_auth.c */

/* Refuse a CONNECT not yet accepted with a CONNACK reason code (its 3.1.1
 * return code for 3.x clients), then close [MQTT-3.2.2-5], [MQTT-3.2.2-7].
 * Returns FM_EPROTO, *why set. */
int proto_refuse_connect(struct client *c, uint8_t rc5, const char *why_text, const char **why);

/* A handler's failure with the 5.0 reason code its DISCONNECT carries. */
static inline int proto_fail(struct client *c, uint8_t rc, const char *text, const char **why)
{
	c->close_rc = rc;
	*why = text;
	return FM_EPROTO;
}
/* A decoder's failure: reason is what the decoder reported. */
static inline int proto_malformed(struct client *c, uint8_t reason, const char *text, const char **why)
{
	return proto_fail(c, reason ? reason : MQTT_RC_MALFORMED_PACKET, text, why);
}
/* A topic or filter past max_topic_levels or max_topic_length (the fleet's
 * own limits, both off by default). */
bool proto_topic_over_limits(const struct worker_limits *lim, const char *p, size_t len);

/* Send a 5.0 DISCONNECT with rc (and text as Reason String when the client
 * wants problem information), never larger than its Maximum Packet Size. */
void proto_send_disconnect(struct client *c, uint8_t rc, const char *text);

/* --- routing and delivery (route.c, deliver.c) --------------------------- */

/* Flag or'ed into a delivery QoS: send with RETAIN set (retained message
 * sent because of a new subscription [MQTT-3.3.1-8]). */
#define DELIVER_RETAIN 0x04u

/* Route m to every matching subscription, one delivery per session at the
 * highest granted QoS [MQTT-3.3.5-1]. from is the publishing client or NULL
 * (will messages); it may be paused if a target's output is saturated.
 * True if m was written to the store for persistent sessions: the
 * publisher's acknowledgement then waits for the commit. */
bool route_publish(struct worker *w, struct client *from, struct msg *m);
/* Store, replace or delete (empty payload) the retained message for m's
 * topic, in memory and in the durable store. */
void route_retain(struct worker *w, struct msg *m);
/* The same in memory only: for the broker's own $SYS values, which describe
 * this run and must not come back from the store after a restart (nor cost
 * a write every sys_interval). */
void route_retain_volatile(struct worker *w, struct msg *m);
/* The retained tree's callbacks: values are struct msg; a message counts
 * for its topic, payload and properties. */
void route_retained_unref(void *value);
uint64_t route_retained_size(const void *value);

/* Deliver m to session s, homed on w, at delivery QoS qos (| DELIVER_RETAIN),
 * for the subscription with 5.0 identifier sub_id (0: none). Sends now
 * if the session is online and its window allows, else queues (persistent
 * sessions, QoS > 0) or drops. An expired message is dropped
 * [MQTT-3.3.2-5]. */
void deliver_msg(struct worker *w, struct session *s, struct msg *m, uint8_t qos, uint32_t sub_id);
/* Fill the inflight window from the session queue (after an ack or on resume). */
void deliver_pump(struct worker *w, struct session *s);
/* On session resume: resend inflight PUBLISH with DUP and pending PUBREL
 * [MQTT-4.4.0-1], then pump the queue. */
void deliver_resume(struct worker *w, struct session *s);

/* --- sessions (connect.c) ------------------------------------------------ */

/* End a session (home worker only): out of the router and the table,
 * marked dead, deleted from the store. */
void proto_session_end(struct worker *w, struct session *s);
/* Detach c from its session at close: publish the will when due, discard a
 * clean session, keep a persistent one offline. */
void proto_session_detach(struct client *c);
/* A bridge's connection got its CONNACK: attach the bridge's own local
 * session s (homed on c's worker, which s must still be; a connection
 * holding it is closed) and make c ACTIVE with keepalive supervision.
 * The caller then calls deliver_resume. FM_OK, or FM_EAGAIN when s ended
 * or moved to another worker (a client took the bridge's client id). */
int proto_attach_outgoing(struct client *c, struct session *s);

#endif
