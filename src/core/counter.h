/* Single-writer statistics counters that other threads may read while the
 * writer runs.
 *
 * A counter belongs to one thread (a worker's stats): only that thread
 * adds to it. Readers on other threads (the $SYS publisher, later the HTTP
 * endpoint) load it with relaxed order: they need a value that is not torn,
 * not one ordered with anything else. Because there is a single writer the
 * increment is a relaxed load plus a relaxed store, not an atomic
 * read-modify-write: on x86-64 that compiles to a plain add to memory, with
 * no lock prefix on the hot path, and ThreadSanitizer still sees atomics.
 *
 * The counter is wrapped in a struct so that `x++` on it does not compile:
 * on a bare _Atomic it would silently become a locked fetch-add. */
#ifndef FM_CORE_COUNTER_H
#define FM_CORE_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

struct counter {
	_Atomic uint64_t n; /* events counted since start; monotonic */
};

/* Owning thread only. */
static inline void counter_add(struct counter *c, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(&c->n, memory_order_relaxed);
	atomic_store_explicit(&c->n, cur + v, memory_order_relaxed);
}

/* Owning thread only. */
static inline void counter_inc(struct counter *c)
{
	counter_add(c, 1);
}

/* Any thread: the count at some recent moment. */
static inline uint64_t counter_get(const struct counter *c)
{
	return atomic_load_explicit(&c->n, memory_order_relaxed);
}

/* Any thread: raise *peak to at least v. The compare-and-swap runs only
 * when v is a new peak, which after warm-up is rare, so callers on busy
 * paths pay a relaxed load and a compare. */
static inline void counter_peak(_Atomic uint64_t *peak, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(peak, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(peak, &cur, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

#endif
