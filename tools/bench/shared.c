/* The shared scenario: --subs consumers share one subscription,
 * $share/bench/bench/in/# (at --qos), and --pubs publishers each publish
 * --msgs messages to bench/in/<p> (at --qos, at most --window
 * unacknowledged). The CONNECTs are MQTT 3.1.1: fleetmq and mosquitto
 * both take the $share/ prefix from 3.1.1 clients.
 *
 * A shared subscription hands each message to one member of the group
 * (MQTT 5.0, 4.8.2). Nothing reconnects here, so every message must reach
 * exactly one consumer: tracked by (publisher, sequence) across all of
 * them, a message never delivered is lost, one delivered twice is a
 * duplicate. Within each consumer a publisher's messages must keep their
 * order [MQTT-4.6.0-5]. Deliveries that are not ours (topic and payload
 * not matching) are failures. Any of these make the exit status 1.
 *
 * Measured: deliveries per second (first PUBLISH to last delivery),
 * broker CPU per delivery, generator CPU, and the spread over consumers:
 * the smallest and largest share of all deliveries one consumer got
 * (100/--subs % each when the broker balances evenly). */
#include "bench.h"

#include "fleetmq/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARE_FILTER "$share/bench/bench/in/#"
#define SHARE_PREFIX_DIR "bench/in"
#define SHARE_PREFIX SHARE_PREFIX_DIR "/"
#define QUIET_NS 2000000000ull       /* no delivery for 2 s: what is missing is missing */

/* Connections [0, pubs) publish; [pubs, pubs + subs) consume. A
 * publisher's number in topic and payload is its connection index. */
struct share {
	uint64_t expected;        /* pubs * msgs: each delivered exactly once */
	uint8_t *times;           /* per (publisher, sequence): deliveries, saturating */
	uint32_t *last_seq;       /* per (consumer, publisher): sequence + 1 of the
				   * latest delivery, 0: none yet */
	uint64_t *per_consumer;   /* deliveries per consumer */
	uint64_t distinct;        /* messages delivered at least once */
	uint64_t deliveries;      /* all deliveries of ours, duplicates included */
	uint64_t dups;            /* deliveries past a message's first */
	uint64_t reordered;       /* behind an earlier delivery of the same publisher
				   * to the same consumer */
	uint64_t foreign;         /* topic or payload not one of our messages */
	uint64_t start_ns, last_rx_ns;
};

static struct share *share_of(struct bench_run *r) { return (struct share *)(r + 1); }

/* The publisher and sequence of p when it is one of ours: payload header
 * in range and the topic bench/in/<publisher>. */
static bool message_id(const struct bench_run *r, const struct mqtt_publish *p, uint32_t *pub, uint32_t *seq)
{
	if (p->payload.len < BENCH_HEADER)
		return false;
	memcpy(pub, p->payload.p, 4);
	memcpy(seq, p->payload.p + 4, 4);
	if (*pub >= r->o->pubs || *seq >= r->o->msgs)
		return false;
	char topic[32];
	int len = snprintf(topic, sizeof(topic), SHARE_PREFIX "%u", *pub);
	return p->topic.len == (size_t)len && memcmp(p->topic.p, topic, (size_t)len) == 0;
}

static void share_on_publish(struct bench_run *r, struct bconn *c, const struct mqtt_publish *p)
{
	struct share *sh = share_of(r);
	uint32_t pub, seq;
	if (c->index < r->o->pubs || !message_id(r, p, &pub, &seq)) {
		sh->foreign++; /* publishers subscribe to nothing */
		return;
	}
	uint32_t consumer = c->index - r->o->pubs;
	uint8_t *times = &sh->times[(uint64_t)pub * r->o->msgs + seq];
	if (*times == 0)
		sh->distinct++;
	else
		sh->dups++;
	if (*times < UINT8_MAX)
		(*times)++;
	uint32_t *last = &sh->last_seq[(uint64_t)consumer * r->o->pubs + pub];
	if (seq + 1 <= *last)
		sh->reordered++;
	else
		*last = seq + 1;
	sh->per_consumer[consumer]++;
	sh->deliveries++;
	sh->last_rx_ns = bench_now_ns();
}

static bool publishers_done(struct bench_run *r)
{
	for (uint32_t i = 0; i < r->o->pubs; i++) {
		struct bconn *c = &r->conns[i];
		if (c->sent < r->o->msgs || c->inflight > 0 || buf_used(&c->out) > 0)
			return false;
	}
	return true;
}

static bool share_done(struct bench_run *r)
{
	struct share *sh = share_of(r);
	if (sh->distinct >= sh->expected)
		return true;
	return publishers_done(r) && bench_now_ns() - sh->last_rx_ns > QUIET_NS;
}

static void share_pump(struct bench_run *r)
{
	const struct bench_opts *o = r->o;
	for (uint32_t i = 0; i < o->pubs; i++) {
		struct bconn *c = &r->conns[i];
		bench_pump_publisher(r, c, SHARE_PREFIX_DIR, o->msgs);
	}
}

static bool consumers_subscribed(struct bench_run *r)
{
	for (uint32_t i = r->o->pubs; i < r->n; i++)
		if (!r->conns[i].subscribed)
			return false;
	return true;
}

/* Subscribe the consumers, publish everything, wait for the deliveries. */
static bool run(struct bench_run *r, struct bench_result *res)
{
	struct share *sh = share_of(r);
	const struct bench_opts *o = r->o;
	for (uint32_t i = o->pubs; i < r->n; i++)
		bench_subscribe(r, &r->conns[i], SHARE_FILTER, o->qos);
	if (!bench_poll(r, 30000, consumers_subscribed))
		return false;
	struct proc_sample before, after;
	bench_sample(o->broker_pid, &before);
	double cpu0 = self_cpu_s();
	r->on_publish = share_on_publish;
	r->pump = share_pump;
	sh->start_ns = sh->last_rx_ns = bench_now_ns(); /* the quiet period also ends a run where nothing arrives */
	if (!bench_poll(r, (int)(o->time_limit_s * 1000), share_done)) {
		if (r->timed_out) {
			size_t len = strlen(r->error);
			snprintf(r->error + len, sizeof(r->error) - len, ": %llu of %llu messages delivered",
				 (unsigned long long)sh->distinct, (unsigned long long)sh->expected);
		}
		return false;
	}
	bench_sample(o->broker_pid, &after);
	double elapsed = (double)(sh->last_rx_ns - sh->start_ns) / 1e9;
	double wall = (double)(bench_now_ns() - sh->start_ns) / 1e9;
	res->count = sh->deliveries;
	res->elapsed_s = elapsed;
	res->rate = elapsed > 0 ? (double)sh->deliveries / elapsed : 0;
	res->self_cpu_pct = wall > 0 ? (self_cpu_s() - cpu0) * 100.0 / wall : 0;
	if (o->broker_pid > 0 && sh->deliveries > 0) {
		res->broker_cpu_us_per_msg = (after.cpu_s - before.cpu_s) * 1e6 / (double)sh->deliveries;
		res->broker_rss_kb = (double)after.rss_kb;
	}
	return true;
}

/* Checks and the spread over consumers. */
static void judge(struct bench_run *r, struct bench_result *res)
{
	struct share *sh = share_of(r);
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint32_t i = 0; i < r->o->subs; i++) {
		lo = sh->per_consumer[i] < lo ? sh->per_consumer[i] : lo;
		hi = sh->per_consumer[i] > hi ? sh->per_consumer[i] : hi;
	}
	if (sh->deliveries > 0) {
		res->share_min_pct = (double)lo * 100.0 / (double)sh->deliveries;
		res->share_max_pct = (double)hi * 100.0 / (double)sh->deliveries;
	}
	res->lost = sh->expected - sh->distinct;
	res->dups = sh->dups;
	res->reordered = sh->reordered;
	res->failures = sh->foreign;
	if (res->lost || res->dups || res->reordered || res->failures)
		snprintf(res->check_failed, sizeof(res->check_failed),
			 "%llu of %llu messages never delivered, %llu deliveries of a message already delivered, "
			 "%llu out of their publisher's order within a consumer, %llu not a message published here",
			 (unsigned long long)res->lost, (unsigned long long)sh->expected,
			 (unsigned long long)res->dups, (unsigned long long)res->reordered,
			 (unsigned long long)res->failures);
}

static int finish(struct bench_run *r, int status)
{
	struct share *sh = share_of(r);
	free(sh->times);
	free(sh->last_seq);
	free(sh->per_consumer);
	if (status)
		return bench_run_fail(r);
	bench_close(r);
	free(r);
	return 0;
}

int scenario_shared(const struct bench_opts *o, struct bench_result *res)
{
	struct bench_run *r = bench_run_new(o, sizeof(struct share));
	if (!r)
		return 1;
	struct share *sh = share_of(r);
	res->unit = "deliveries/s";
	sh->expected = (uint64_t)o->pubs * o->msgs;
	sh->times = calloc(sh->expected, 1);
	sh->last_seq = calloc((size_t)o->subs * o->pubs, sizeof(uint32_t));
	sh->per_consumer = calloc(o->subs, sizeof(uint64_t));
	if (!sh->times || !sh->last_seq || !sh->per_consumer) {
		snprintf(r->error, sizeof(r->error), "out of memory for %llu messages' tracking",
			 (unsigned long long)sh->expected);
		return finish(r, 1);
	}
	if (bench_open(r, o->pubs + o->subs, "share") != FM_OK || !run(r, res))
		return finish(r, 1);
	judge(r, res);
	res->tls = r->tls_stats;
	return finish(r, 0);
}
