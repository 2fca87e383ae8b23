/* The timing wheel on a fake clock: exact expiry ticks, timers beyond one
 * rotation, stalls longer than a rotation. */
#include "loop/wheel.h"

#include <criterion/criterion.h>

static void noop(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	(void)t;
}

static int pop_all(struct wheel *w, uint64_t now)
{
	int n = 0;
	while (wheel_pop_due(w, now))
		n++;
	return n;
}

Test(wheel, timer_fires_at_its_deadline_not_before)
{
	struct wheel w;
	struct loop_timer t;
	wheel_init(&w, 1000);
	loop_timer_init(&t, noop);
	wheel_add(&w, &t, 1120);
	cr_assert_eq(pop_all(&w, 1100), 0);
	cr_assert_eq(pop_all(&w, 1119), 0);
	cr_assert_eq(pop_all(&w, 1120), 1);
	cr_assert_eq(w.armed, 0);
	cr_assert_not(loop_timer_armed(&t));
}

Test(wheel, timer_beyond_one_rotation_waits_for_its_rotation)
{
	struct wheel w;
	struct loop_timer t;
	wheel_init(&w, 0);
	loop_timer_init(&t, noop);
	uint64_t rotation = (uint64_t)WHEEL_SLOTS * LOOP_TICK_MS;
	wheel_add(&w, &t, 2 * rotation + 500);
	for (uint64_t now = 0; now < 2 * rotation + 500; now += LOOP_TICK_MS)
		cr_assert_eq(pop_all(&w, now), 0, "fired early at %llu", (unsigned long long)now);
	cr_assert_eq(pop_all(&w, 2 * rotation + 500), 1);
}

Test(wheel, stall_longer_than_a_rotation_fires_everything_due)
{
	struct wheel w;
	struct loop_timer t[100];
	wheel_init(&w, 0);
	for (int i = 0; i < 100; i++) {
		loop_timer_init(&t[i], noop);
		wheel_add(&w, &t[i], (uint64_t)(i + 1) * 997);
	}
	uint64_t rotation = (uint64_t)WHEEL_SLOTS * LOOP_TICK_MS;
	cr_assert_eq(pop_all(&w, 3 * rotation), 100);
	cr_assert_eq(w.armed, 0);
}

Test(wheel, deadline_in_the_past_fires_on_next_pop)
{
	struct wheel w;
	struct loop_timer t;
	wheel_init(&w, 5000);
	loop_timer_init(&t, noop);
	wheel_add(&w, &t, 10);
	cr_assert_eq(pop_all(&w, 5000), 1);
}
