/* The event loop: file descriptors, timers and deferred work. Nothing else.
 *
 * The loop knows only fds, masks, timers and opaque pointers (it never sees a
 * client). One loop per worker thread; all calls on a loop are made from the
 * thread running it, except loop_stop() and loop_wake(), which any thread
 * (or a signal handler) may call.
 *
 * Timers live in a hashed timing wheel (tick LOOP_TICK_MS): start, stop and
 * expiry are O(1) per timer; no scan over all connections ever happens.
 * Timer precision is one tick, which is plenty for keepalive and timeouts. */
#ifndef FM_LOOP_LOOP_H
#define FM_LOOP_LOOP_H

#include "core/list.h"

#include <stdbool.h>
#include <stdint.h>

#define LOOP_TICK_MS 50u

enum loop_events {
	LOOP_READ = 1u << 0,
	LOOP_WRITE = 1u << 1,
	LOOP_HUP = 1u << 2, /* error or hang-up; reported, never requested */
};

struct loop;
struct loop_io;
/* Called with the events that fired; the owner finds itself from io with
 * list_entry() (the registration is embedded in it). */
typedef void loop_io_fn(struct loop *lp, struct loop_io *io, unsigned events);
typedef void loop_task_fn(struct loop *lp, void *arg);

struct loop_timer;
/* The owner finds itself from t with list_entry() (t is embedded in it). */
typedef void loop_timer_fn(struct loop *lp, struct loop_timer *t);

/* A timer is embedded in its owner; the owner's memory must outlive it or
 * loop_timer_stop() must be called first. */
struct loop_timer {
	struct list link;     /* in a wheel slot while armed */
	uint64_t deadline_ms; /* absolute, loop clock */
	loop_timer_fn *fn;
};

struct loop *loop_new(void);
/* Free the loop. Registered fds are not closed. Accepts NULL. */
void loop_free(struct loop *lp);

/* A file descriptor registration, embedded in its owner (no per-fd table
 * in the loop: an idle connection pays 16 bytes, not a slot in an array as
 * large as the highest fd of the process). After loop_io_del() the owner's
 * memory must stay valid until the current iteration's callbacks are done,
 * which freeing through loop_defer() guarantees: an event already fetched
 * for it is then recognised as stale and dropped. */
struct loop_io {
	loop_io_fn *fn;      /* NULL while not registered */
	int fd;
	unsigned events;     /* currently watched */
};

/* Watch fd for events (LOOP_READ|LOOP_WRITE) through io. FM_OK or an fm_err. */
int loop_io_add(struct loop *lp, struct loop_io *io, int fd, unsigned events, loop_io_fn *fn);
/* Change the watched events (no system call if they are unchanged). */
int loop_io_mod(struct loop *lp, struct loop_io *io, unsigned events);
/* Stop watching; safe inside callbacks, including io's own. No-op if io is
 * not registered. */
void loop_io_del(struct loop *lp, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_fn *fn);
/* (Re)arm t to fire once, delay_ms from now. */
void loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t delay_ms);
/* Disarm t; no-op if not armed. */
void loop_timer_stop(struct loop *lp, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t) { return list_linked(&t->link); }

/* Run fn(arg) after the current iteration's I/O callbacks (e.g. to free a
 * connection no callback may still be using). FM_OK or FM_ENOMEM. */
int loop_defer(struct loop *lp, loop_task_fn *fn, void *arg);

/* The loop's cached monotonic time, updated once per iteration. */
uint64_t loop_now_ms(const struct loop *lp);

/* Run until loop_stop(). Returns FM_OK, or an fm_err if epoll failed. */
int loop_run(struct loop *lp);
/* One iteration without waiting: the events ready now, due timers and
 * deferred tasks, on the caller's thread (for a caller that drives the
 * loop itself, such as fuzz/fuzz_session.c). Returns how many fd events
 * were dispatched (0: nothing was ready), or an fm_err. */
int loop_run_once(struct loop *lp);
/* Move the loop's clock ms ahead of the monotonic one, for good: timers
 * due by then fire at the next iteration. For a caller that drives the
 * loop itself and must not wait for its timers (fuzz/fuzz_session.c). */
void loop_advance(struct loop *lp, uint64_t ms);
/* Ask the loop to return from loop_run() (thread- and signal-safe). */
void loop_stop(struct loop *lp);
/* Wake the loop from another thread so it runs its wake callback. */
void loop_wake(struct loop *lp);
/* Called on the loop's thread after loop_wake() (inbox draining). */
void loop_set_wake_fn(struct loop *lp, loop_task_fn *fn, void *arg);
/* Run fn(lp, arg) once per iteration just before the loop waits for
 * events (libuv's "prepare"): for a library nested in this loop that must
 * be given a turn after the iteration's work (libwebsockets' libuv loop).
 * Tasks it defers run before the loop sleeps. */
void loop_set_prepare_fn(struct loop *lp, loop_task_fn *fn, void *arg);

#endif
