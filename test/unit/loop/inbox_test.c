/* The MPSC inbox: every item pushed by any thread is popped exactly once,
 * in each producer's order, and the consumer loop is woken for them. */
#include "loop/inbox.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#define PRODUCERS 4
#define PER_PRODUCER 50000

struct item {
	struct inbox_node node;
	int producer;
	int seq;
};

struct shared {
	struct inbox q;
	struct loop *lp;
	int next_seq[PRODUCERS];
	int received;
	bool out_of_order;
};

struct producer {
	struct shared *sh;
	struct item *items;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (int i = 0; i < PER_PRODUCER; i++)
		inbox_push(&p->sh->q, &p->items[i].node);
	return NULL;
}

static void drain(struct loop *lp, void *arg)
{
	struct shared *sh = arg;
	inbox_begin_drain(&sh->q);
	struct inbox_node *n;
	while ((n = inbox_pop(&sh->q)) != NULL) {
		struct item *it = (struct item *)((char *)n - offsetof(struct item, node));
		if (it->seq != sh->next_seq[it->producer])
			sh->out_of_order = true;
		sh->next_seq[it->producer] = it->seq + 1;
		sh->received++;
	}
	if (sh->received == PRODUCERS * PER_PRODUCER)
		loop_stop(lp);
}

Test(inbox, every_item_from_every_thread_popped_once_in_order, .timeout = 60)
{
	struct shared sh = {.lp = loop_new()};
	inbox_init(&sh.q, sh.lp);
	loop_set_wake_fn(sh.lp, drain, &sh);
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS];
	for (int p = 0; p < PRODUCERS; p++) {
		prod[p].sh = &sh;
		prod[p].items = calloc(PER_PRODUCER, sizeof(struct item));
		for (int i = 0; i < PER_PRODUCER; i++)
			prod[p].items[i] = (struct item){.producer = p, .seq = i};
		pthread_create(&th[p], NULL, produce, &prod[p]);
	}
	cr_assert_eq(loop_run(sh.lp), 0);
	for (int p = 0; p < PRODUCERS; p++) {
		pthread_join(th[p], NULL);
		free(prod[p].items);
	}
	cr_assert_eq(sh.received, PRODUCERS * PER_PRODUCER);
	cr_assert_not(sh.out_of_order);
	loop_free(sh.lp);
}

Test(inbox, pop_on_empty_inbox_returns_null)
{
	struct loop *lp = loop_new();
	struct inbox q;
	inbox_init(&q, lp);
	cr_assert_null(inbox_pop(&q));
	struct item a = {.seq = 1}, b = {.seq = 2};
	inbox_push(&q, &a.node);
	inbox_push(&q, &b.node);
	cr_assert_eq(inbox_pop(&q), &a.node);
	cr_assert_eq(inbox_pop(&q), &b.node);
	cr_assert_null(inbox_pop(&q));
	inbox_push(&q, &a.node); /* a node may be reused once popped */
	cr_assert_eq(inbox_pop(&q), &a.node);
	cr_assert_null(inbox_pop(&q));
	loop_free(lp);
}
