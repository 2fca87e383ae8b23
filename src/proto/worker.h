/* Worker threads and the messages between them.
 *
 * A worker owns its connections and the sessions homed on it; no other
 * thread touches them. Other threads ask through the worker's inbox:
 *
 *   DELIVER   a routed message for sessions homed here (one batch per
 *             message per worker, each target holding a session reference)
 *   TAKEOVER  a CONNECT on another worker wants a session homed here: close
 *             its connection, re-home the session there, answer HANDOFF
 *   HANDOFF   the session asked for is ours now (or gone): resume CONNECT
 *   WAKE      a saturated session homed elsewhere drained: publishers
 *             paused on it may read again
 *   LIMITS    new reloadable limits after SIGHUP
 *   STORE_DONE  the store applied a batch of this worker's (persist.h):
 *             acknowledgements waiting for it may go
 *   POLL      another thread (the HTTP stats server) asks what this worker
 *             owns (worker_poll.h)
 *
 * A message for a session that moved meanwhile is forwarded to its new
 * home; one for a session that ended is dropped. */
#ifndef FM_PROTO_WORKER_H
#define FM_PROTO_WORKER_H

#include "proto/broker.h"
#include "session/msg.h"

struct client;

int worker_init(struct worker *w, struct broker *b, unsigned id);
/* Start the worker's thread: its start hooks (bridges, $SYS), then its
 * loop once every worker's hooks have run. */
int worker_start(struct worker *w);
/* Let the workers that started run, though not all did (start failed). */
void worker_open_start_gate(struct broker *b);
/* Stop the loop (any thread) and wait for the thread to finish closing its
 * connections. */
void worker_stop_and_join(struct worker *w);
/* After every worker has stopped: release whatever is still in the inbox. */
void worker_drain_final(struct worker *w);
void worker_fini(struct worker *w);

/* Deliver m to target sessions homed on worker `to` (not w): the targets'
 * session references are taken over; qos per target is the delivery QoS.
 * Queued in w's outbox and posted at the end of w's loop iteration, so one
 * iteration's deliveries to one worker cost one inbox message; batches are
 * handed back to w for reuse, so the steady state allocates nothing. */
/* Run the end-of-iteration flush (store batch, then delivery batches). */
void worker_schedule_flush(struct worker *w);
void worker_queue_deliver(struct worker *w, struct worker *to, struct msg *m,
			  const struct route_target *targets, uint32_t n);
/* Ask w (the session's home) to hand s over to client c on c's worker. The
 * caller's reference on s travels with the message. */
void worker_post_takeover(struct worker *w, struct session *s, struct client *c);
/* FM_OK, or FM_ENOMEM (the worker keeps its limits; lim's auth reference
 * stays the caller's). */
int worker_post_limits(struct worker *w, const struct worker_limits *lim);
void worker_post_wake(struct worker *w);

#endif
