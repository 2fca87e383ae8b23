/* The event loop: fd dispatch, deletion inside callbacks, timers, deferred
 * tasks, stop and wake from other threads. */
#include "fleetmq/errors.h"
#include "loop/loop.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

struct pipe_ctx {
	struct loop_io io;
	int fds[2];
	int reads;
	struct loop_io *other; /* deleted by the first callback */
};

static void on_read_count(struct loop *lp, struct loop_io *io, unsigned events)
{
	struct pipe_ctx *p = list_entry(io, struct pipe_ctx, io);
	char c;
	cr_assert(events & LOOP_READ);
	cr_assert_eq(read(io->fd, &c, 1), 1);
	p->reads++;
	loop_stop(lp);
}

Test(loop, read_event_dispatched_to_its_callback)
{
	struct loop *lp = loop_new();
	struct pipe_ctx p = {0};
	cr_assert_eq(pipe(p.fds), 0);
	cr_assert_eq(loop_io_add(lp, &p.io, p.fds[0], LOOP_READ, on_read_count), FM_OK);
	cr_assert_eq(write(p.fds[1], "x", 1), 1);
	cr_assert_eq(loop_run(lp), FM_OK);
	cr_assert_eq(p.reads, 1);
	loop_free(lp);
	close(p.fds[0]);
	close(p.fds[1]);
}

static void on_read_delete_other(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)events;
	struct pipe_ctx *p = list_entry(io, struct pipe_ctx, io);
	char c;
	if (read(io->fd, &c, 1) == 1)
		p->reads++;
	loop_io_del(lp, p->other);
	loop_io_del(lp, io);
	loop_stop(lp);
}

Test(loop, fd_deleted_by_an_earlier_callback_gets_no_event)
{
	struct loop *lp = loop_new();
	struct pipe_ctx a = {0}, b = {0};
	cr_assert_eq(pipe(a.fds), 0);
	cr_assert_eq(pipe(b.fds), 0);
	a.other = &b.io;
	b.other = &a.io;
	loop_io_add(lp, &a.io, a.fds[0], LOOP_READ, on_read_delete_other);
	loop_io_add(lp, &b.io, b.fds[0], LOOP_READ, on_read_delete_other);
	cr_assert_eq(write(a.fds[1], "x", 1), 1);
	cr_assert_eq(write(b.fds[1], "x", 1), 1);
	cr_assert_eq(loop_run(lp), FM_OK);
	/* both were ready in the same epoll_wait; only the first one ran */
	cr_assert_eq(a.reads + b.reads, 1);
	loop_free(lp);
	for (int i = 0; i < 2; i++) {
		close(a.fds[i]);
		close(b.fds[i]);
	}
}

Test(loop, mod_and_del_of_an_unregistered_io)
{
	struct loop *lp = loop_new();
	struct loop_io io = {0};
	cr_assert_eq(loop_io_mod(lp, &io, LOOP_READ), FM_ENOTFOUND);
	loop_io_del(lp, &io); /* no-op */
	cr_assert_eq(loop_io_add(lp, &io, -1, LOOP_READ, on_read_count), FM_EINVAL);
	loop_free(lp);
}

struct write_ctx {
	struct loop_io io;
	unsigned seen;
};

static void on_write_ready(struct loop *lp, struct loop_io *io, unsigned events)
{
	list_entry(io, struct write_ctx, io)->seen |= events;
	loop_stop(lp);
}

Test(loop, write_interest_added_with_mod)
{
	struct loop *lp = loop_new();
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	struct write_ctx w = {0};
	cr_assert_eq(loop_io_add(lp, &w.io, fds[1], 0, on_write_ready), FM_OK);
	cr_assert_eq(loop_io_mod(lp, &w.io, LOOP_WRITE), FM_OK);
	loop_run(lp);
	cr_assert(w.seen & LOOP_WRITE);
	loop_free(lp);
	close(fds[0]);
	close(fds[1]);
}

struct timer_log {
	int order[8];
	int n;
	uint64_t fired_at[8];
	struct loop_timer *cancel; /* stopped by the first timer to fire */
	int stop_after;
};

struct tagged_timer {
	struct loop_timer t;
	int tag;
	struct timer_log *log;
};

static void on_tagged(struct loop *lp, struct loop_timer *t)
{
	struct tagged_timer *tt = list_entry(t, struct tagged_timer, t);
	struct timer_log *l = tt->log;
	l->fired_at[l->n] = loop_now_ms(lp);
	l->order[l->n++] = tt->tag;
	if (l->cancel) {
		loop_timer_stop(lp, l->cancel);
		l->cancel = NULL;
	}
	if (l->n == l->stop_after)
		loop_stop(lp);
}

Test(loop, timers_fire_in_deadline_order_and_stopped_ones_never)
{
	struct loop *lp = loop_new();
	struct timer_log log = {.stop_after = 2};
	struct tagged_timer t[3];
	uint64_t delays[3] = {300, 100, 200};
	for (int i = 0; i < 3; i++) {
		t[i] = (struct tagged_timer){.tag = i, .log = &log};
		loop_timer_init(&t[i].t, on_tagged);
		loop_timer_start(lp, &t[i].t, delays[i]);
	}
	log.cancel = &t[2].t; /* the 100 ms timer cancels the 200 ms one */
	uint64_t start = loop_now_ms(lp);
	loop_run(lp);
	cr_assert_eq(log.n, 2);
	cr_assert_eq(log.order[0], 1);
	cr_assert_eq(log.order[1], 0);
	cr_assert_geq(log.fired_at[0] - start, 100);
	cr_assert_geq(log.fired_at[1] - start, 300);
	cr_assert_not(loop_timer_armed(&t[2].t));
	loop_free(lp);
}

Test(loop, timer_restart_moves_its_deadline)
{
	struct loop *lp = loop_new();
	struct timer_log log = {.stop_after = 1};
	struct tagged_timer t = {.tag = 7, .log = &log};
	loop_timer_init(&t.t, on_tagged);
	loop_timer_start(lp, &t.t, 10);
	loop_timer_start(lp, &t.t, 150);
	uint64_t start = loop_now_ms(lp);
	loop_run(lp);
	cr_assert_eq(log.n, 1);
	cr_assert_geq(log.fired_at[0] - start, 150);
	loop_free(lp);
}

static void count_task(struct loop *lp, void *arg)
{
	int *n = arg;
	if (++*n < 3)
		loop_defer(lp, count_task, arg); /* a task deferring another */
}

Test(loop, deferred_tasks_run_in_the_same_iteration_even_after_stop)
{
	struct loop *lp = loop_new();
	int n = 0;
	loop_defer(lp, count_task, &n);
	loop_stop(lp); /* a stop before run still runs one iteration */
	cr_assert_eq(loop_run(lp), FM_OK);
	cr_assert_eq(n, 3);
	loop_free(lp);
}

struct wake_ctx {
	struct loop *lp;
	int wakes;
};

static void on_wake(struct loop *lp, void *arg)
{
	struct wake_ctx *w = arg;
	w->wakes++;
	loop_stop(lp);
}

static void *wake_from_thread(void *arg)
{
	struct wake_ctx *w = arg;
	usleep(20000);
	loop_wake(w->lp);
	return NULL;
}

Test(loop, wake_from_another_thread_runs_the_wake_callback)
{
	struct wake_ctx w = {.lp = loop_new()};
	loop_set_wake_fn(w.lp, on_wake, &w);
	pthread_t th;
	pthread_create(&th, NULL, wake_from_thread, &w);
	cr_assert_eq(loop_run(w.lp), FM_OK);
	pthread_join(th, NULL);
	cr_assert_geq(w.wakes, 1);
	loop_free(w.lp);
}

static void *stop_from_thread(void *arg)
{
	usleep(20000);
	loop_stop(arg);
	return NULL;
}

Test(loop, stop_from_another_thread_returns_run)
{
	struct loop *lp = loop_new();
	pthread_t th;
	pthread_create(&th, NULL, stop_from_thread, lp);
	cr_assert_eq(loop_run(lp), FM_OK);
	pthread_join(th, NULL);
	loop_free(lp);
}
