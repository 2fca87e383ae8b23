/* Live broker statistics: per-worker counters and the gauges asked of the
 * shared tables, read by $SYS (sys_topics.c) and at shutdown.
 *
 * Each worker owns a struct broker_stats and is its only writer
 * (core/counter.h: a relaxed load and store per increment, no locked
 * instruction). Any thread may sum them while workers run; a sum is a
 * moment's approximation (two counters are not read at one instant), which
 * is all a statistic needs. The field list is written once, below, and
 * expands into the counters, the plain totals and the summing code. */
#ifndef FM_PROTO_STATS_H
#define FM_PROTO_STATS_H

#include "core/counter.h"

#include <stdint.h>

struct broker;

/* X(name): every per-worker counter, with what it counts. */
#define BROKER_STATS(X)                                                                        \
	X(sockets_total)     /* connections accepted */                                          \
	X(connects_total)    /* CONNECT accepted */                                              \
	X(connects_v31)      /* of those, by protocol: 3.1, 3.1.1, 5.0 */                        \
	X(connects_v311)                                                                         \
	X(connects_v5)                                                                           \
	X(disconnects_total) /* connections of accepted clients closed */                        \
	X(sessions_expired)  /* offline sessions ended by their expiry */                        \
	X(pkts_in)           /* MQTT packets received, every type */                             \
	X(pkts_out)          /* MQTT packets queued for sending, every type */                   \
	X(pub_in_qos0)       /* PUBLISH received (not a QoS 2 resend), by QoS */                 \
	X(pub_in_qos1)                                                                           \
	X(pub_in_qos2)                                                                           \
	X(pub_out_qos0)      /* PUBLISH sent, by delivery QoS (resends included) */              \
	X(pub_out_qos1)                                                                          \
	X(pub_out_qos2)                                                                          \
	X(bytes_in)                                                                              \
	X(bytes_out)                                                                             \
	X(dropped_qos0)      /* output over max_output_buffer */                                 \
	X(slow_consumers)    /* closed for not reading their output */                           \
	X(dropped_queue)     /* session queue limits */                                          \
	X(dropped_offline)   /* QoS 0 for offline sessions */                                    \
	X(dropped_expired)   /* 5.0 Message Expiry Interval passed before delivery */            \
	X(dropped_too_large) /* above a 5.0 client's Maximum Packet Size */                      \
	X(dropped_denied)    /* deliveries the ACL does not let the subscriber read */           \
	X(denied_publish)    /* PUBLISHes the ACL does not let the client write */               \
	X(dropped_memory)    /* QoS 0 deliveries dropped above memory_limit */                   \
	X(remote_batches)    /* delivery batches sent to other workers */                        \
	X(batches_allocated) /* of those, newly allocated (not reused) */

#define BROKER_STATS_COUNTER(name) struct counter name;
#define BROKER_STATS_TOTAL(name) uint64_t name;

/* Counters of one worker (written only by it). */
struct broker_stats {
	BROKER_STATS(BROKER_STATS_COUNTER)
};

/* The same counters summed over every worker, as plain numbers. */
struct broker_totals {
	BROKER_STATS(BROKER_STATS_TOTAL)
};

/* The CONNECTs accepted of one protocol level (3, 4, 5). */
static inline struct counter *stats_connects_of(struct broker_stats *s, unsigned level)
{
	return level == 3 ? &s->connects_v31 : level == 4 ? &s->connects_v311 : &s->connects_v5;
}

/* The QoS-indexed counters (qos 0..2). */
static inline struct counter *stats_pub_in(struct broker_stats *s, unsigned qos)
{
	return qos == 0 ? &s->pub_in_qos0 : qos == 1 ? &s->pub_in_qos1 : &s->pub_in_qos2;
}

static inline struct counter *stats_pub_out(struct broker_stats *s, unsigned qos)
{
	return qos == 0 ? &s->pub_out_qos0 : qos == 1 ? &s->pub_out_qos1 : &s->pub_out_qos2;
}

static inline uint64_t totals_pub_in(const struct broker_totals *t)
{
	return t->pub_in_qos0 + t->pub_in_qos1 + t->pub_in_qos2;
}

static inline uint64_t totals_pub_out(const struct broker_totals *t)
{
	return t->pub_out_qos0 + t->pub_out_qos1 + t->pub_out_qos2;
}

/* Deliveries dropped for any reason (mosquitto's publish/messages/dropped). */
static inline uint64_t totals_dropped(const struct broker_totals *t)
{
	return t->dropped_qos0 + t->dropped_queue + t->dropped_offline + t->dropped_expired +
	       t->dropped_too_large + t->dropped_denied + t->dropped_memory;
}

/* Clients whose CONNECT was accepted and whose connection is open. Each
 * connection lives on one worker, which counts its connect and its close,
 * so the difference of the sums is exact up to the reads' skew. */
static inline uint64_t totals_connected(const struct broker_totals *t)
{
	return t->connects_total > t->disconnects_total ? t->connects_total - t->disconnects_total : 0;
}

/* Sum of every worker's counters; any thread, while workers run. */
struct broker_totals broker_stats_sum(const struct broker *b);

/* What the shared tables hold now, each read under its own lock (held for
 * an O(1) read). Any thread. */
struct broker_gauges {
	uint64_t sessions;       /* every session: online, and offline persistent ones */
	uint64_t subscriptions;  /* (session, filter) pairs, shared group members included */
	uint64_t retained;       /* retained messages */
	uint64_t retained_bytes; /* their topics, payloads and properties */
	uint64_t connections;    /* open connections, CONNECT or not (max_connections counts these) */
	uint64_t peak_connections; /* most connections open at once since start */
};
struct broker_gauges broker_gauges_read(struct broker *b);

#endif
