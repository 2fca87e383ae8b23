/* Load averages ($SYS/broker/load/...): the decay arithmetic, and the
 * single-writer counters they are fed from. */
#include "core/counter.h"
#include "core/loadavg.h"

#include <criterion/criterion.h>
#include <math.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

Test(loadavg, decay_keeps_exp_of_minus_dt_over_window_of_the_old_value)
{
	/* from 0 towards 60/min for one window: 1 - 1/e of the way */
	cr_assert(NEAR(loadavg_decay(0.0, 60.0, 60.0, 60.0), 60.0 * (1.0 - exp(-1.0))));
	/* no time passed: unchanged */
	cr_assert(NEAR(loadavg_decay(42.0, 600.0, 0.0, 60.0), 42.0));
	/* the rate already reached: stays */
	cr_assert(NEAR(loadavg_decay(10.0, 10.0, 7.0, 300.0), 10.0));
	/* nothing happens any more: decays towards 0 */
	cr_assert(NEAR(loadavg_decay(100.0, 0.0, 900.0, 900.0), 100.0 * exp(-1.0)));
}

Test(loadavg, update_turns_events_into_a_rate_per_minute)
{
	struct loadavg l = {0};
	/* 120 events in 10 s is 720 per minute; each average moves towards it */
	loadavg_update(&l, 120, 10.0);
	cr_assert(NEAR(l.per_min[LOADAVG_1MIN], 720.0 * (1.0 - exp(-10.0 / 60.0))));
	cr_assert(NEAR(l.per_min[LOADAVG_5MIN], 720.0 * (1.0 - exp(-10.0 / 300.0))));
	cr_assert(NEAR(l.per_min[LOADAVG_15MIN], 720.0 * (1.0 - exp(-10.0 / 900.0))));
	cr_assert(l.per_min[LOADAVG_1MIN] > l.per_min[LOADAVG_5MIN]);
	cr_assert(l.per_min[LOADAVG_5MIN] > l.per_min[LOADAVG_15MIN]);
}

Test(loadavg, a_steady_rate_is_reached_whatever_the_sampling_interval)
{
	struct loadavg fine = {0}, coarse = {0};
	for (int i = 0; i < 4 * 3600; i++)
		loadavg_update(&fine, 5, 1.0); /* 300/min sampled every second, 4 h */
	for (int i = 0; i < 4 * 60; i++)
		loadavg_update(&coarse, 300, 60.0); /* the same, every minute */
	for (int k = 0; k < LOADAVG_N; k++) {
		cr_assert(fabs(fine.per_min[k] - 300.0) < 0.1, "%d: %f", k, fine.per_min[k]);
		cr_assert(fabs(coarse.per_min[k] - fine.per_min[k]) < 1e-6, "%d: %f vs %f", k, coarse.per_min[k],
			  fine.per_min[k]);
	}
}

Test(loadavg, no_elapsed_time_changes_nothing)
{
	struct loadavg l = { .per_min = { 1.0, 2.0, 3.0 } };
	loadavg_update(&l, 1000, 0.0);
	cr_assert(NEAR(l.per_min[0], 1.0) && NEAR(l.per_min[1], 2.0) && NEAR(l.per_min[2], 3.0));
}

Test(counter, adds_and_keeps_the_highest_peak)
{
	struct counter c = {0};
	counter_inc(&c);
	counter_add(&c, 41);
	cr_assert_eq(counter_get(&c), 42);
	_Atomic uint64_t peak = 0;
	counter_peak(&peak, 5);
	counter_peak(&peak, 3);
	cr_assert_eq(peak, 5);
	counter_peak(&peak, 9);
	cr_assert_eq(peak, 9);
}
