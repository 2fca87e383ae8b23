/* A worker's outbox: deliveries to sessions homed on other workers,
 * collected while the loop dispatches and posted when its iteration ends,
 * as one DELIVER batch per destination (more when one fills).
 *
 * Batches are recycled: the consumer pushes an emptied batch onto its
 * origin's `returned` stack (a lock-free push); the origin takes the whole
 * stack at once with an exchange when its own spare list runs dry, so no
 * pop ever races with another pop. In the steady state nothing is
 * allocated per delivery. */
#include "proto/client.h"
#include "proto/persist.h"
#include "proto/worker.h"
#include "proto/worker_msg.h"

#include <stdlib.h>

static struct deliver_batch *batch_get(struct worker *w)
{
	if (!w->spare)
		w->spare = atomic_exchange_explicit(&w->returned, NULL, memory_order_acquire);
	struct deliver_batch *d = w->spare;
	if (d)
		w->spare = d->next_spare;
	else if ((d = malloc(sizeof(*d))) != NULL)
		counter_inc(&w->stats.batches_allocated);
	else
		return NULL;
	d->origin = w;
	d->n = 0;
	return d;
}

void deliver_batch_return(struct deliver_batch *d)
{
	struct worker *w = d->origin;
	struct deliver_batch *top = atomic_load_explicit(&w->returned, memory_order_relaxed);
	do
		d->next_spare = top;
	while (!atomic_compare_exchange_weak_explicit(&w->returned, &top, d, memory_order_release,
						      memory_order_relaxed));
}

void deliver_batch_release(struct deliver_batch *d)
{
	for (uint32_t i = 0; i < d->n; i++) {
		session_unref(d->item[i].s);
		if (deliver_run_ends(d, i))
			msg_unref(d->item[i].m);
	}
	d->n = 0;
}

static void post_batch(struct worker *w, unsigned to)
{
	/* store first, also for a batch posted early because it filled: its
	 * deliveries' queue entries must reach the store before any
	 * acknowledgement of them from the destination can */
	persist_flush(w);
	struct deliver_batch *d = w->outbox[to];
	w->outbox[to] = NULL;
	wmsg_post(&w->b->workers[to], &d->h, WMSG_DELIVER);
	counter_inc(&w->stats.remote_batches);
}

/* The store batch, then one DELIVER batch per destination. */
static void post_all(struct worker *w)
{
	persist_flush(w); /* even with no deliveries to post */
	for (unsigned i = 0; i < w->b->n_workers; i++)
		if (w->outbox[i])
			post_batch(w, i);
}

static void flush(struct loop *lp, void *arg)
{
	(void)lp;
	struct worker *w = arg;
	w->outbox_pending = false;
	/* This iteration's replies to its own clients (a PUBACK) go out
	 * before another worker is woken: waking one can cost this thread its
	 * CPU for a while (with 2 workers on 2 vCPUs, the PUBACK round trip
	 * fell from 129-175 to 40-42 us at p50 when the publisher and the
	 * subscriber were on different workers; docs/BENCHMARKS.md). */
	client_flush_dirty(w);
	post_all(w);
}

/* The first delivery (or store operation) of an iteration arranges the
 * flush at its end. */
void worker_schedule_flush(struct worker *w)
{
	if (w->outbox_pending)
		return;
	if (loop_defer(w->loop, flush, w) == FM_OK)
		w->outbox_pending = true;
	else
		post_all(w); /* out of memory: post now rather than later; no client
			      * flush here, whose closes (wills) would route again
			      * inside the routing that called us */
}

static void append(struct deliver_batch *d, struct msg *m, const struct route_target *t)
{
	if (d->n == 0 || d->item[d->n - 1].m != m)
		msg_ref(m); /* a new run */
	d->item[d->n++] = (struct delivery){ .m = m, .s = t->s, .qos = t->qos, .sub_id = t->sub_id };
}

void worker_queue_deliver(struct worker *w, struct worker *to, struct msg *m,
			  const struct route_target *targets, uint32_t n)
{
	unsigned dest = to->id;
	for (uint32_t i = 0; i < n; i++) {
		struct deliver_batch *d = w->outbox[dest];
		if (d && d->n == DELIVER_BATCH) {
			post_batch(w, dest);
			d = NULL;
		}
		if (!d && (d = w->outbox[dest] = batch_get(w)) == NULL) {
			counter_add(&w->stats.dropped_queue, n - i); /* out of memory: lost, counted */
			for (; i < n; i++)
				session_unref(targets[i].s);
			break;
		}
		append(d, m, &targets[i]);
	}
	worker_schedule_flush(w);
}

static void free_list(struct deliver_batch *d)
{
	while (d) {
		struct deliver_batch *next = d->next_spare;
		free(d);
		d = next;
	}
}

void outbox_fini(struct worker *w)
{
	for (unsigned i = 0; i < WORKER_MAX; i++) {
		if (w->outbox[i]) {
			deliver_batch_release(w->outbox[i]);
			free(w->outbox[i]);
			w->outbox[i] = NULL;
		}
	}
	free_list(w->spare);
	free_list(atomic_exchange(&w->returned, NULL));
	w->spare = NULL;
}
