/* Latency histograms: which bucket an observation lands in (bounds are
 * inclusive, as Prometheus' "le"), sums, readings added up, and the
 * quantile bounds the API reports. */
#include "core/histogram.h"

#include <criterion/criterion.h>

Test(histogram, observations_land_in_the_first_bucket_whose_bound_holds_them)
{
	struct histogram h = {0};
	histogram_observe(&h, 0);       /* le 50 us */
	histogram_observe(&h, 50);      /* le 50 us: the bound is inclusive */
	histogram_observe(&h, 51);      /* le 100 us */
	histogram_observe(&h, 999999);  /* le 1 s */
	histogram_observe(&h, 5000000); /* +Inf */
	struct histogram_reading r = {0};
	histogram_read_into(&h, &r);
	cr_assert_eq(r.bucket[0], 2);
	cr_assert_eq(r.bucket[1], 1);
	cr_assert_eq(r.bucket[HISTOGRAM_BOUNDS - 1], 1);
	cr_assert_eq(r.bucket[HISTOGRAM_BOUNDS], 1);
	cr_assert_eq(r.count, 5);
	cr_assert_eq(r.sum_us, 0 + 50 + 51 + 999999 + 5000000);
}

Test(histogram, readings_of_several_writers_add_up)
{
	struct histogram a = {0}, b = {0};
	histogram_observe(&a, 10);
	histogram_observe(&b, 10);
	histogram_observe(&b, 700);
	struct histogram_reading r = {0};
	histogram_read_into(&a, &r);
	histogram_read_into(&b, &r);
	cr_assert_eq(r.count, 3);
	cr_assert_eq(r.bucket[0], 2);
	cr_assert_eq(r.bucket[4], 1); /* le 1000 us */
}

Test(histogram, quantile_bounds)
{
	struct histogram h = {0};
	struct histogram_reading empty = {0};
	cr_assert_eq(histogram_quantile_bound_us(&empty, 0.5), 0);
	for (int i = 0; i < 98; i++)
		histogram_observe(&h, 40);  /* le 50 */
	histogram_observe(&h, 3000);    /* le 5000 */
	histogram_observe(&h, 2000000); /* +Inf */
	struct histogram_reading r = {0};
	histogram_read_into(&h, &r);
	cr_assert_eq(histogram_quantile_bound_us(&r, 0.5), 50);
	cr_assert_eq(histogram_quantile_bound_us(&r, 0.99), 5000);
	cr_assert_eq(histogram_quantile_bound_us(&r, 1.0), UINT64_MAX, "above every bound");
}
