/* A multi-producer, single-consumer inbox between worker threads.
 *
 * Any thread pushes; only the thread running the owning loop pops. Items
 * are intrusive (struct inbox_node embedded in the message), so pushing
 * never allocates and never takes a lock: a push is one atomic exchange,
 * and the consumer's loop is woken (eventfd) only on the first push after
 * it last drained, so a burst of pushes costs one wake-up. */
#ifndef FM_LOOP_INBOX_H
#define FM_LOOP_INBOX_H

#include "loop/loop.h"

#include <stdatomic.h>
#include <stdbool.h>

struct inbox_node {
	_Atomic(struct inbox_node *) next;
};

struct inbox {
	_Atomic(struct inbox_node *) tail; /* producers swap themselves in here */
	struct inbox_node *head;            /* consumer side: next to pop is head->next */
	struct inbox_node sentinel;        /* permanent node that keeps the list non-empty */
	atomic_bool wake_pending;
	struct loop *loop;                  /* woken on push */
};

void inbox_init(struct inbox *q, struct loop *loop);

/* Append n (any thread). Wakes the consumer's loop when it is idle. */
void inbox_push(struct inbox *q, struct inbox_node *n);

/* Consumer only: call at the start of draining, before the pops, so that a
 * push racing with the drain wakes the loop again rather than being lost. */
void inbox_begin_drain(struct inbox *q);

/* Consumer only: the oldest node, or NULL when empty (or when a producer
 * is half-way through a push; its wake-up brings the consumer back). */
struct inbox_node *inbox_pop(struct inbox *q);

#endif
