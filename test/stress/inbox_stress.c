/* Threaded stress of the worker inbox, without criterion (which cannot run
 * under ThreadSanitizer): four producer threads push 200,000 items into one
 * loop's inbox while it drains; every item must arrive once, in each
 * producer's order. Exit status 0 on success. */
#include "loop/inbox.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCERS 4
#define PER_PRODUCER 50000

struct item {
	struct inbox_node node;
	int producer, seq;
};

struct shared {
	struct inbox q;
	int next_seq[PRODUCERS];
	int received;
	int errors;
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
	for (struct inbox_node *n; (n = inbox_pop(&sh->q)) != NULL;) {
		struct item *it = (struct item *)((char *)n - offsetof(struct item, node));
		if (it->seq != sh->next_seq[it->producer])
			sh->errors++;
		sh->next_seq[it->producer] = it->seq + 1;
		sh->received++;
	}
	if (sh->received == PRODUCERS * PER_PRODUCER)
		loop_stop(lp);
}

int main(void)
{
	struct shared sh;
	memset(&sh, 0, sizeof(sh));
	struct loop *lp = loop_new();
	if (!lp)
		return 2;
	inbox_init(&sh.q, lp);
	loop_set_wake_fn(lp, drain, &sh);
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS];
	for (int p = 0; p < PRODUCERS; p++) {
		prod[p] = (struct producer){&sh, calloc(PER_PRODUCER, sizeof(struct item))};
		if (!prod[p].items)
			return 2;
		for (int i = 0; i < PER_PRODUCER; i++)
			prod[p].items[i] = (struct item){.producer = p, .seq = i};
		pthread_create(&th[p], NULL, produce, &prod[p]);
	}
	int rc = loop_run(lp);
	for (int p = 0; p < PRODUCERS; p++) {
		pthread_join(th[p], NULL);
		free(prod[p].items);
	}
	loop_free(lp);
	printf("inbox stress: %d items received, %d out of order, loop rc %d\n", sh.received, sh.errors, rc);
	return rc == 0 && sh.errors == 0 && sh.received == PRODUCERS * PER_PRODUCER ? 0 : 1;
}
