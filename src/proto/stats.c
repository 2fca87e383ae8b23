/* Summing the workers' counters and reading the shared tables' sizes
 * (stats.h). Runs on whichever thread reports: the $SYS publisher on
 * worker 0, the control thread at shutdown. */
#include "proto/broker.h"
#include "proto/stats.h"

#define BROKER_STATS_ADD(name) sum.name += counter_get(&s->name);

struct broker_totals broker_stats_sum(const struct broker *b)
{
	struct broker_totals sum = {0};
	for (unsigned i = 0; i < b->n_workers; i++) {
		const struct broker_stats *s = &b->workers[i].stats;
		BROKER_STATS(BROKER_STATS_ADD)
	}
	return sum;
}

struct broker_gauges broker_gauges_read(struct broker *b)
{
	struct broker_gauges g = {0};
	pthread_mutex_lock(&b->sessions_lock);
	g.sessions = session_table_count(b->sessions);
	pthread_mutex_unlock(&b->sessions_lock);
	/* a shared group is one entry in the tree; count its members instead */
	pthread_rwlock_rdlock(&b->subs_lock);
	g.subscriptions = topic_tree_count(b->subs) - share_table_count(b->shares) + share_table_members(b->shares);
	pthread_rwlock_unlock(&b->subs_lock);
	pthread_rwlock_rdlock(&b->retained_lock);
	g.retained = retain_tree_count(b->retained);
	g.retained_bytes = retain_tree_bytes(b->retained);
	pthread_rwlock_unlock(&b->retained_lock);
	g.connections = atomic_load_explicit(&b->n_clients, memory_order_relaxed);
	g.peak_connections = atomic_load_explicit(&b->peak_clients, memory_order_relaxed);
	return g;
}
