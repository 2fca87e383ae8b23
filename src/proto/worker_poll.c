/* Polls of every worker (worker_poll.h): one inbox message per worker,
 * answers gathered under a mutex, the asker waiting on a condition
 * variable with a deadline. */
#include "proto/worker_poll.h"
#include "proto/worker_msg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct wmsg_poll {
	struct wmsg h;
	struct worker_poll *p;
	unsigned index;
};

struct worker_poll {
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned n, n_answered, refs;
	worker_poll_fn *fn;
	void (*free_result)(void *);
	void **results;
	bool *answered;
	struct wmsg_poll *msgs;
	void *arg;
};

static void poll_free(struct worker_poll *p)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->results[i] && p->free_result)
			p->free_result(p->results[i]);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p->results);
	free(p->answered);
	free(p->msgs);
	free(p->arg);
	free(p);
}

/* Drop one reference; the last frees. */
static void poll_unref_locked(struct worker_poll *p)
{
	bool last = --p->refs == 0;
	pthread_mutex_unlock(&p->lock);
	if (last)
		poll_free(p);
}

static bool poll_alloc(struct worker_poll *p, unsigned n, const void *arg, size_t arg_size)
{
	p->results = calloc(n, sizeof(*p->results));
	p->answered = calloc(n, sizeof(*p->answered));
	p->msgs = calloc(n, sizeof(*p->msgs));
	p->arg = malloc(arg_size ? arg_size : 1);
	if (!p->results || !p->answered || !p->msgs || !p->arg)
		return false;
	if (arg_size)
		memcpy(p->arg, arg, arg_size);
	return true;
}

static bool poll_sync_init(struct worker_poll *p)
{
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0)
		return false;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a wall clock step must not stretch the wait */
	bool ok = pthread_cond_init(&p->done, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (ok && pthread_mutex_init(&p->lock, NULL) != 0) {
		pthread_cond_destroy(&p->done);
		ok = false;
	}
	return ok;
}

struct worker_poll *worker_poll_start(struct broker *b, worker_poll_fn *fn, const void *arg, size_t arg_size,
				      void (*free_result)(void *))
{
	struct worker_poll *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (!poll_alloc(p, b->n_workers, arg, arg_size) || !poll_sync_init(p)) {
		free(p->results);
		free(p->answered);
		free(p->msgs);
		free(p->arg);
		free(p);
		return NULL;
	}
	p->n = b->n_workers;
	p->fn = fn;
	p->free_result = free_result;
	p->refs = p->n + 1; /* each worker's message, and the asker */
	for (unsigned i = 0; i < p->n; i++) {
		p->msgs[i] = (struct wmsg_poll){ .p = p, .index = i };
		wmsg_post(&b->workers[i], &p->msgs[i].h, WMSG_POLL);
	}
	return p;
}

void worker_poll_on_msg(struct worker *w, struct wmsg *m, bool run)
{
	struct wmsg_poll *msg = (struct wmsg_poll *)m;
	struct worker_poll *p = msg->p;
	void *result = run ? p->fn(w, p->arg) : NULL; /* outside the lock: the asker may be reading others */
	pthread_mutex_lock(&p->lock);
	p->results[msg->index] = result;
	p->answered[msg->index] = run;
	if (++p->n_answered == p->n)
		pthread_cond_signal(&p->done);
	poll_unref_locked(p);
}

bool worker_poll_wait(struct worker_poll *p, int timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (p->n_answered < p->n && pthread_cond_timedwait(&p->done, &p->lock, &deadline) == 0)
		;
	bool all = p->n_answered == p->n;
	pthread_mutex_unlock(&p->lock);
	return all;
}

bool worker_poll_answered(struct worker_poll *p, unsigned i)
{
	pthread_mutex_lock(&p->lock);
	bool a = i < p->n && p->answered[i];
	pthread_mutex_unlock(&p->lock);
	return a;
}

void *worker_poll_result(struct worker_poll *p, unsigned i)
{
	pthread_mutex_lock(&p->lock);
	void *r = i < p->n ? p->results[i] : NULL;
	pthread_mutex_unlock(&p->lock);
	return r;
}

void worker_poll_release(struct worker_poll *p)
{
	pthread_mutex_lock(&p->lock);
	poll_unref_locked(p);
}
