/* Intrusive MPSC queue (the sentinel-node linked list design): producers link
 * themselves at the tail with one atomic exchange; the consumer walks from
 * the head. A node is visible to the consumer once its predecessor's next
 * pointer is published. */
#include "loop/inbox.h"

#include <stddef.h>

void inbox_init(struct inbox *q, struct loop *loop)
{
	atomic_init(&q->sentinel.next, NULL);
	atomic_init(&q->tail, &q->sentinel);
	q->head = &q->sentinel;
	atomic_init(&q->wake_pending, false);
	q->loop = loop;
}

static void link_at_tail(struct inbox *q, struct inbox_node *n)
{
	atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
	struct inbox_node *prev = atomic_exchange_explicit(&q->tail, n, memory_order_acq_rel);
	atomic_store_explicit(&prev->next, n, memory_order_release);
}

void inbox_push(struct inbox *q, struct inbox_node *n)
{
	link_at_tail(q, n);
	if (!atomic_exchange_explicit(&q->wake_pending, true, memory_order_acq_rel))
		loop_wake(q->loop);
}

void inbox_begin_drain(struct inbox *q)
{
	atomic_store_explicit(&q->wake_pending, false, memory_order_release);
}

struct inbox_node *inbox_pop(struct inbox *q)
{
	struct inbox_node *head = q->head;
	struct inbox_node *next = atomic_load_explicit(&head->next, memory_order_acquire);
	if (head == &q->sentinel) {
		if (!next)
			return NULL;
		/* step over the sentinel */
		q->head = next;
		head = next;
		next = atomic_load_explicit(&head->next, memory_order_acquire);
	}
	if (next) {
		q->head = next;
		return head;
	}
	/* head is the last linked node: re-insert the sentinel behind it so head
	 * can be handed out while the queue stays non-empty for producers */
	if (head != atomic_load_explicit(&q->tail, memory_order_acquire))
		return NULL; /* a producer is mid-push; its wake brings us back */
	link_at_tail(q, &q->sentinel);
	next = atomic_load_explicit(&head->next, memory_order_acquire);
	if (next) {
		q->head = next;
		return head;
	}
	return NULL;
}
