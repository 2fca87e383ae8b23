/* The broker's side of the durable store: what each protocol event writes,
 * and acknowledgements that wait for the disk.
 *
 * Each worker collects the store operations of one loop iteration in one
 * batch and submits it when the iteration ends, before its cross-worker
 * deliveries are posted (so a queue entry reaches the store before any
 * acknowledgement of it from the session's home worker can). The store
 * thread commits and posts the batch back (WMSG_STORE_DONE); only then are
 * the PUBACK / PUBREC it holds sent [durability contract: acknowledged
 * means on disk].
 *
 * A publisher's acknowledgements leave in the order its PUBLISHes came
 * [MQTT-4.6.0-2]: once one of them waits for the store, later ones (even
 * those that needed no disk) queue behind it.
 *
 * What is written: QoS 1/2 messages that reach a persistent session (the
 * message once, a queue entry per session), the entries' progress (sent
 * with a packet id, PUBREC received, acknowledged), persistent sessions and
 * their subscriptions, incoming QoS 2 ids of persistent publishers, and
 * retained messages. Nothing is written for clean sessions. With no store
 * (durability memory) every function here is a no-op. */
#ifndef FM_PROTO_PERSIST_H
#define FM_PROTO_PERSIST_H

#include "proto/broker.h"
#include "session/msg.h"

struct client;
struct persist_batch;
struct store_message;

static inline bool persist_on(const struct worker *w) { return w->b->store != NULL; }

/* Routing: log m for the persistent sessions among targets that get it at
 * QoS 1/2. True if anything was written, i.e. the publisher's
 * acknowledgement must wait for the commit. */
bool persist_route(struct worker *w, struct msg *m, const struct route_target *targets, uint32_t n);
/* A retained message m about to be delivered to s at qos (| DELIVER_RETAIN)
 * for subscription identifier sub_id because s subscribed: for a persistent session at QoS 1/2, a logged copy
 * to deliver instead (the caller's reference), so the delivery survives a
 * crash like any other; else NULL (deliver m). */
struct msg *persist_retained_copy(struct worker *w, const struct session *s, const struct msg *m, uint8_t qos,
				  uint32_t sub_id);
/* A retained message set or (empty payload) cleared. */
void persist_retain(struct worker *w, const struct msg *m);

/* A queue entry of persistent session s progresses (home worker). */
/* True if an entry's progress was written (a logged message to a
 * persistent session): the PUBLISH must then wait (persist_hold_output). */
bool persist_sent(struct worker *w, const struct session *s, const struct msg *m, uint16_t packet_id);
/* The same for PUBREC received: the PUBREL must wait too (a PUBREL that
 * left before a crash would let the receiver forget the id, and the
 * PUBLISH resent after recovery would look new to it). */
bool persist_released(struct worker *w, const struct session *s, const struct msg *m, uint16_t packet_id);
/* Acknowledged (packet_id) or dropped before sending (packet_id 0). */
void persist_done(struct worker *w, const struct session *s, const struct msg *m, uint16_t packet_id);

void persist_session_put(struct worker *w, const struct session *s);
void persist_session_del(struct worker *w, const struct session *s);
void persist_sub_put(struct worker *w, const struct session *s, const char *filter, size_t len, uint8_t options,
		     uint32_t sub_id);
void persist_sub_del(struct worker *w, const struct session *s, const char *filter, size_t len);
void persist_qos2_in(struct worker *w, const struct session *s, uint16_t packet_id, bool add);
/* A message as the store handed it back (recovery, a queue read back),
 * with its store id. NULL on ENOMEM. */
struct msg *persist_msg_of(const struct store_message *sm, bool retain);

/* Queue spilling (proto/spill.c): mark m's entry for s as kept only in
 * the store (true if recorded); ask for up to count spilled entries of s
 * back, answered by spill_read_done() when the batch returns. */
bool persist_mark_spilled(struct worker *w, const struct session *s, const struct msg *m);
int persist_queue_read(struct worker *w, struct session *s, uint32_t count, uint32_t seq);

/* s's will waits to be published at publish_at_ms (5.0 Will Delay
 * Interval); del: published or cancelled. */
void persist_will_put(struct worker *w, const struct session *s, uint64_t publish_at_ms);
void persist_will_del(struct worker *w, const struct session *s);

/* Acknowledge a publisher's PUBLISH: now, or after the current batch
 * commits (after_commit), or behind acknowledgements still waiting.
 * reason is the 5.0 reason code (0 success; ignored for 3.x). */
void persist_ack(struct client *c, uint8_t type, uint16_t packet_id, uint8_t reason, bool after_commit);
/* PUBACKs and PUBCOMPs decided but not sent yet (waiting for a commit):
 * QoS 1/2 flows from c that have not ended. */
uint32_t persist_flow_ends_waiting(const struct client *c);

/* A PUBLISH (or PUBREL) to c whose state the current batch records is about to be
 * encoded: with durability full, no byte from here on leaves before that
 * batch commits, so after a crash the message comes again with the same
 * id and DUP, never as a new one [MQTT-4.3.3 exactly once, MQTT-4.4.0-1].
 * Later output waits behind it, keeping order. */
void persist_hold_output(struct client *c);
/* Of used bytes of c's output, how many may be written now. */
size_t persist_writable(const struct client *c, size_t used);

/* The iteration ends: hand the current batch to the store. */
void persist_flush(struct worker *w);
/* A batch came back from the store (WMSG_STORE_DONE). */
void persist_on_done(struct worker *w, struct persist_batch *pb);
/* Release the worker's batches (after its thread stopped). */
void persist_fini(struct worker *w);

/* c is closing: drop its waiting acknowledgements. True if batches in the
 * store still name it, in which case the last of them frees it
 * (client_free_later is called then). */
bool persist_client_closing(struct client *c);
/* Free what persist_ack allocated for c (when c is freed). */
void persist_client_free(struct client *c);

#endif
