/* The epoll loop: fd registrations (embedded in their owners), deferred
 * tasks, stop and wake. */
#include "loop/loop.h"

#include "core/clock.h"
#include "core/err.h"
#include "fleetmq/errors.h"
#include "loop/wheel.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

struct task {
	loop_task_fn *fn;
	void *arg;
};

struct task_queue {
	struct task *v;
	size_t n, cap;
};

struct loop {
	int epfd;
	int eventfd; /* stop and wake requests from other threads or signals */
	struct loop_io wake_io;
	struct wheel wheel;
	struct task_queue tasks;
	uint64_t now_ms;
	uint64_t skew_ms;      /* added to the monotonic clock (loop_advance) */
	atomic_bool stop_requested;
	loop_task_fn *wake_fn;
	void *wake_arg;
	loop_task_fn *prepare_fn;
	void *prepare_arg;
};

static void on_eventfd(struct loop *lp, struct loop_io *io, unsigned events);

struct loop *loop_new(void)
{
	struct loop *lp = calloc(1, sizeof(*lp));
	if (!lp)
		return NULL;
	lp->epfd = epoll_create1(EPOLL_CLOEXEC);
	lp->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	lp->now_ms = clock_mono_ms();
	wheel_init(&lp->wheel, lp->now_ms);
	atomic_init(&lp->stop_requested, false);
	if (lp->epfd < 0 || lp->eventfd < 0 ||
	    loop_io_add(lp, &lp->wake_io, lp->eventfd, LOOP_READ, on_eventfd) != FM_OK) {
		loop_free(lp);
		return NULL;
	}
	return lp;
}

void loop_free(struct loop *lp)
{
	if (!lp)
		return;
	if (lp->epfd >= 0)
		close(lp->epfd);
	if (lp->eventfd >= 0)
		close(lp->eventfd);
	free(lp->tasks.v);
	free(lp);
}

static uint32_t epoll_mask(unsigned events)
{
	uint32_t m = 0;
	if (events & LOOP_READ)
		m |= EPOLLIN | EPOLLRDHUP;
	if (events & LOOP_WRITE)
		m |= EPOLLOUT;
	return m;
}

int loop_io_add(struct loop *lp, struct loop_io *io, int fd, unsigned events, loop_io_fn *fn)
{
	if (fd < 0 || !fn)
		return FM_EINVAL;
	struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = io};
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return fm_err_errno(errno);
	io->fn = fn;
	io->fd = fd;
	io->events = events;
	return FM_OK;
}

int loop_io_mod(struct loop *lp, struct loop_io *io, unsigned events)
{
	if (!io->fn)
		return FM_ENOTFOUND;
	if (io->events == events)
		return FM_OK;
	struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = io};
	if (epoll_ctl(lp->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return fm_err_errno(errno);
	io->events = events;
	return FM_OK;
}

void loop_io_del(struct loop *lp, struct loop_io *io)
{
	if (!io->fn)
		return;
	epoll_ctl(lp->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fn = NULL; /* an event already fetched for it is now stale */
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn *fn)
{
	list_init(&t->link);
	t->deadline_ms = 0;
	t->fn = fn;
}

void loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t delay_ms)
{
	wheel_del(&lp->wheel, t);
	wheel_add(&lp->wheel, t, lp->now_ms + delay_ms);
}

void loop_timer_stop(struct loop *lp, struct loop_timer *t)
{
	wheel_del(&lp->wheel, t);
}

int loop_defer(struct loop *lp, loop_task_fn *fn, void *arg)
{
	struct task_queue *q = &lp->tasks;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct task *v = realloc(q->v, cap * sizeof(*v));
		if (!v)
			return FM_ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = (struct task){fn, arg};
	return FM_OK;
}

uint64_t loop_now_ms(const struct loop *lp) { return lp->now_ms; }

void loop_stop(struct loop *lp)
{
	atomic_store(&lp->stop_requested, true);
	loop_wake(lp);
}

void loop_wake(struct loop *lp)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already nonzero: a wake is pending. */
	ssize_t n = write(lp->eventfd, &one, sizeof(one));
	(void)n;
}

void loop_set_wake_fn(struct loop *lp, loop_task_fn *fn, void *arg)
{
	lp->wake_fn = fn;
	lp->wake_arg = arg;
}

static void on_eventfd(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)events;
	uint64_t count;
	ssize_t n = read(io->fd, &count, sizeof(count));
	(void)n;
	if (lp->wake_fn)
		lp->wake_fn(lp, lp->wake_arg);
}

static void dispatch(struct loop *lp, const struct epoll_event *ev)
{
	struct loop_io *io = ev->data.ptr;
	if (!io->fn)
		return; /* deleted earlier in this iteration */
	unsigned events = 0;
	if (ev->events & (EPOLLIN | EPOLLRDHUP))
		events |= LOOP_READ;
	if (ev->events & EPOLLOUT)
		events |= LOOP_WRITE;
	if (ev->events & (EPOLLERR | EPOLLHUP))
		events |= LOOP_HUP | LOOP_READ; /* reading reveals the error */
	io->fn(lp, io, events);
}

static void run_timers(struct loop *lp)
{
	struct loop_timer *t;
	while ((t = wheel_pop_due(&lp->wheel, lp->now_ms)) != NULL)
		t->fn(lp, t);
}

/* Tasks deferred by tasks run in the same pass (a flush may defer a free),
 * so the queue is swapped out and drained until nothing new arrives. */
static void run_tasks(struct loop *lp)
{
	while (lp->tasks.n > 0) {
		struct task_queue batch = lp->tasks;
		lp->tasks = (struct task_queue){0};
		for (size_t i = 0; i < batch.n; i++)
			batch.v[i].fn(lp, batch.v[i].arg);
		if (lp->tasks.v == NULL) {
			batch.n = 0;
			lp->tasks = batch; /* keep the allocation */
		} else {
			free(batch.v);
		}
	}
}

static int wait_timeout(const struct loop *lp)
{
	if (lp->tasks.n > 0 || atomic_load(&lp->stop_requested))
		return 0;
	return lp->wheel.armed > 0 ? (int)LOOP_TICK_MS : -1;
}

void loop_set_prepare_fn(struct loop *lp, loop_task_fn *fn, void *arg)
{
	lp->prepare_fn = fn;
	lp->prepare_arg = arg;
}

/* One iteration: wait up to timeout_ms (-1: wait_timeout's choice), then
 * events, due timers, deferred tasks. Events dispatched, or an fm_err. */
static int iterate(struct loop *lp, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	if (lp->prepare_fn)
		lp->prepare_fn(lp, lp->prepare_arg); /* may defer tasks: then no sleep */
	int n = epoll_wait(lp->epfd, evs, LOOP_MAX_EVENTS, timeout_ms < 0 ? wait_timeout(lp) : timeout_ms);
	if (n < 0 && errno != EINTR)
		return fm_err_errno(errno);
	lp->now_ms = clock_mono_ms() + lp->skew_ms;
	for (int i = 0; i < n; i++)
		dispatch(lp, &evs[i]);
	run_timers(lp);
	run_tasks(lp);
	return n > 0 ? n : 0;
}

int loop_run(struct loop *lp)
{
	int rc;
	/* A stop requested before the call still lets one iteration run, which
	 * is how shutdown flushes deferred work. */
	do {
		rc = iterate(lp, -1);
	} while (rc >= 0 && !atomic_load(&lp->stop_requested));
	atomic_store(&lp->stop_requested, false);
	return rc < 0 ? rc : FM_OK;
}

int loop_run_once(struct loop *lp)
{
	return iterate(lp, 0);
}

void loop_advance(struct loop *lp, uint64_t ms)
{
	lp->skew_ms += ms;
	lp->now_ms += ms;
}
