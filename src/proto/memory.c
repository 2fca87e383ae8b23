/* memory_limit: a watermark on the broker's resident memory. Above it the
 * broker refuses new connections and drops QoS 0 deliveries (counted)
 * rather than growing until the kernel kills it; QoS 1/2 traffic and the
 * clients already connected carry on, bounded by their own limits. Below
 * 95 % of it everything is accepted again (the gap keeps it from flapping).
 * RSS is read from /proc once a second by the control thread; workers see
 * only the flag.
 *
 * Without the option, the limit is 90 % of the memory the process may use
 * (its cgroup's memory.max, else the machine's), so that by default the
 * broker sheds QoS 0 and new connections before the OOM killer ends every
 * connection at once. "memory_limit 0" turns it off, as in mosquitto. */
#include "proto/broker.h"
#include "core/procinfo.h"

#include <unistd.h>

#define MEMORY_SAMPLE_MS 1000u

static void sample(struct loop *lp, struct loop_timer *t)
{
	struct broker *b = list_entry(t, struct broker, memory_timer);
	uint64_t limit = atomic_load(&b->memory_limit); /* changed only on this thread (reload) */
	long rss_kb = limit ? proc_rss_kb(getpid()) : 0;
	uint64_t rss = rss_kb > 0 ? (uint64_t)rss_kb * 1024u : 0;
	bool over = atomic_load(&b->over_memory);
	if (!over && limit && rss > limit) {
		atomic_store(&b->over_memory, true);
		log_warn(&b->log, "memory_limit: resident memory %llu MiB is above %llu MiB: refusing new connections "
			 "and dropping QoS 0 deliveries", (unsigned long long)(rss >> 20), (unsigned long long)(limit >> 20));
	} else if (over && (!limit || rss < limit / 100 * 95)) {
		atomic_store(&b->over_memory, false);
		log_notice(&b->log, "memory_limit: resident memory %llu MiB, below the limit again",
			   (unsigned long long)(rss >> 20));
	}
	if (limit || atomic_load(&b->over_memory))
		loop_timer_start(lp, t, MEMORY_SAMPLE_MS);
}

#define AUTO_LIMIT_PERCENT 90u

static uint64_t limit_in_force(struct broker *b)
{
	if (b->conf.memory_limit_set)
		return b->conf.memory_limit;
	uint64_t avail = proc_memory_available();
	return avail / 100 * AUTO_LIMIT_PERCENT;
}

/* Sampled only while there is a limit: without one the control thread
 * stays asleep. */
void broker_memory_watch(struct broker *b)
{
	if (!b->memory_timer.fn) {
		atomic_init(&b->over_memory, false);
		loop_timer_init(&b->memory_timer, sample);
	}
	uint64_t limit = limit_in_force(b);
	if (limit != atomic_load(&b->memory_limit) && limit)
		log_notice(&b->log, "memory_limit: %llu MiB%s", (unsigned long long)(limit >> 20),
			   b->conf.memory_limit_set ? "" : " (90 % of the memory this process may use)");
	atomic_store(&b->memory_limit, limit);
	if (limit && !loop_timer_armed(&b->memory_timer))
		loop_timer_start(b->control, &b->memory_timer, 0);
}
