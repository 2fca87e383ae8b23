/* Asking every worker something from another thread (the HTTP stats
 * server): each worker runs a function on its own thread, over what it
 * owns, and hands back a result; the asker waits, bounded. A worker that
 * does not answer in time (a stuck one) is reported as such, and its late
 * answer still has somewhere to go: the poll is freed by whoever lets go
 * of it last. */
#ifndef FM_PROTO_WORKER_POLL_H
#define FM_PROTO_WORKER_POLL_H

#include "proto/broker.h"

#include <stdbool.h>
#include <stddef.h>

/* Runs on w's thread; returns the answer (malloc'd, freed with the poll's
 * free_result) or NULL. arg is the poll's own copy of the asker's. */
typedef void *worker_poll_fn(struct worker *w, const void *arg);

struct worker_poll;

/* Ask each of b's workers fn(w, arg); arg (arg_size bytes) is copied.
 * NULL when out of memory. */
struct worker_poll *worker_poll_start(struct broker *b, worker_poll_fn *fn, const void *arg, size_t arg_size,
				      void (*free_result)(void *));
/* Wait until every worker answered, at most timeout_ms: true if all did. */
bool worker_poll_wait(struct worker_poll *p, int timeout_ms);
/* Whether worker i answered, and its answer (valid until the release). */
bool worker_poll_answered(struct worker_poll *p, unsigned i);
void *worker_poll_result(struct worker_poll *p, unsigned i);
/* The asker lets go (the last one out frees it). */
void worker_poll_release(struct worker_poll *p);

/* worker.c: a POLL message arrived (run it), or is dropped at shutdown. */
struct wmsg;
void worker_poll_on_msg(struct worker *w, struct wmsg *m, bool run);

#endif
