/* The messages workers post to each other's inboxes (worker.h lists them).
 * Private to worker.c and outbox.c. */
#ifndef FM_PROTO_WORKER_MSG_H
#define FM_PROTO_WORKER_MSG_H

#include "proto/broker.h"
#include "session/msg.h"

enum wmsg_type { WMSG_DELIVER, WMSG_TAKEOVER, WMSG_HANDOFF, WMSG_LIMITS, WMSG_WAKE, WMSG_STORE_DONE, WMSG_POLL };

struct wmsg {
	struct inbox_node node;
	enum wmsg_type type;
};

static inline void wmsg_post(struct worker *to, struct wmsg *m, enum wmsg_type type)
{
	m->type = type;
	inbox_push(&to->inbox, &m->node);
}

/* One delivery: a session (a reference the batch holds) and its QoS. */
struct delivery {
	struct msg *m;
	struct session *s;
	uint8_t qos;
	uint32_t sub_id;
};

/* Deliveries per batch: enough that one iteration's fan-in to a worker is
 * one or a few inbox messages, small enough (3 KiB) to recycle cheaply. */
#define DELIVER_BATCH 128u

/* A DELIVER message. A run of consecutive items with the same message
 * holds one reference to it, released after the run's last item. The
 * batch goes back to its origin worker once consumed. */
struct deliver_batch {
	struct wmsg h;
	struct worker *origin;
	struct deliver_batch *next_spare; /* on origin's spare or returned list */
	uint32_t n;
	struct delivery item[DELIVER_BATCH];
};

/* Whether item i is the last of its message's run in d. */
static inline bool deliver_run_ends(const struct deliver_batch *d, uint32_t i)
{
	return i + 1 == d->n || d->item[i + 1].m != d->item[i].m;
}

/* Consumer side: give an emptied batch back to its origin (any thread). */
void deliver_batch_return(struct deliver_batch *d);
/* Release the references a batch holds without delivering (shutdown). */
void deliver_batch_release(struct deliver_batch *d);
/* Owner at teardown: free the outbox, spare and returned batches. */
void outbox_fini(struct worker *w);

#endif
