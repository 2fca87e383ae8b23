/* Latency histograms for /metrics: fixed buckets (their upper bounds are
 * Prometheus' "le" labels), one writing thread, readers on any thread, as
 * with core/counter.h. Buckets are kept per bucket, not cumulative: an
 * observation touches one bucket counter, and readers add them up. */
#ifndef FM_CORE_HISTOGRAM_H
#define FM_CORE_HISTOGRAM_H

#include "core/counter.h"

#include <stdint.h>

/* Upper bounds, in microseconds: 50 us to 1 s, then +Inf. */
#define HISTOGRAM_BOUNDS 14

static inline uint64_t histogram_bound_us(unsigned i)
{
	static const uint32_t bounds[HISTOGRAM_BOUNDS] = {
		50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	};
	return bounds[i];
}

struct histogram {
	struct counter bucket[HISTOGRAM_BOUNDS + 1]; /* the last: above every bound (+Inf) */
	struct counter sum_us;
	struct counter count;
};

/* Owning thread only. */
static inline void histogram_observe(struct histogram *h, uint64_t us)
{
	unsigned i = 0;
	while (i < HISTOGRAM_BOUNDS && us > histogram_bound_us(i))
		i++;
	counter_inc(&h->bucket[i]);
	counter_add(&h->sum_us, us);
	counter_inc(&h->count);
}

/* A reading, as plain numbers (several may be added up). */
struct histogram_reading {
	uint64_t bucket[HISTOGRAM_BOUNDS + 1];
	uint64_t sum_us;
	uint64_t count;
};

/* Any thread: add h's current counts to *r. */
static inline void histogram_read_into(const struct histogram *h, struct histogram_reading *r)
{
	for (unsigned i = 0; i <= HISTOGRAM_BOUNDS; i++)
		r->bucket[i] += counter_get(&h->bucket[i]);
	r->sum_us += counter_get(&h->sum_us);
	r->count += counter_get(&h->count);
}

/* The upper bound (us) of the bucket that holds quantile q (0..1) of r's
 * observations; UINT64_MAX when it lies above every bound, 0 when r is
 * empty. A bound, not an exact value: the buckets are all it knows. */
static inline uint64_t histogram_quantile_bound_us(const struct histogram_reading *r, double q)
{
	if (r->count == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)r->count + 0.5), seen = 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HISTOGRAM_BOUNDS; i++)
		if ((seen += r->bucket[i]) >= want)
			return histogram_bound_us(i);
	return UINT64_MAX;
}

#endif
