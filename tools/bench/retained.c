/* The retained scenario, three phases on one broker:
 *
 *   store    one connection publishes --msgs retained messages, QoS 1 with at
 *            most --window unacknowledged, one per topic bench/ret/<i>:
 *            retained messages stored per second (set_rate), from the first
 *            PUBLISH to the last PUBACK.
 *   deliver  --subs connections then subscribe to bench/ret/# (at --qos) and
 *            each must receive every one of them exactly once with the
 *            RETAIN flag set [MQTT-3.3.1-8]: deliveries per second (rate),
 *            from the SUBSCRIBEs to the last delivery.
 *   clear    the subscribers leave; the publisher empties every topic (an
 *            empty retained payload removes the message) and then checks
 *            that nothing retained is left under bench/ret/.
 *
 * Missing or duplicate deliveries, deliveries that break the protocol and
 * messages left after the clear are reported, and make the exit status 1. */
#include "bench.h"

#include "fleetmq/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RET_PREFIX "bench/ret/"
#define RET_FILTER "bench/ret/#"
/* Not retained, published right after the clear check's SUBSCRIBE: the
 * broker sends a subscription's retained messages while handling the
 * SUBSCRIBE, so whatever retained arrives before the marker was left. */
#define RET_MARKER "bench/ret/end"
#define RET_QOS 1                   /* of the stored messages */
#define QUIET_NS 2000000000ull      /* no new delivery for 2 s: what is missing is missing */
#define CLEAR_CHECK_MS 10000

struct ret {
	uint32_t next_topic;     /* store and clear: the next bench/ret/<i> to publish */
	bool clearing;           /* clear: publish empty payloads */
	uint64_t *seen;          /* deliver: one bit per (subscriber, message) */
	uint32_t words_per_sub;  /* 64-bit words of seen per subscriber */
	uint64_t distinct, dups;
	uint64_t no_retain;      /* delivered on subscription without RETAIN */
	uint64_t mismatched;     /* topic not ours, or payload not the topic's */
	uint64_t last_rx_ns;     /* deliver: the latest new delivery */
	uint32_t left_after_clear;
	bool marker_back;
};

static struct ret *ret_of(struct bench_run *r) { return (struct ret *)(r + 1); }

static uint64_t expected_deliveries(const struct bench_run *r)
{
	return (uint64_t)r->o->subs * r->o->msgs;
}

/* --- store and clear: one publisher, QoS 1, --window unacknowledged ------ */

static void publish_pump(struct bench_run *r)
{
	struct ret *st = ret_of(r);
	struct bconn *pub = &r->conns[0];
	char topic[32];
	while (st->next_topic < r->o->msgs && pub->inflight < r->o->window) {
		snprintf(topic, sizeof(topic), RET_PREFIX "%u", st->next_topic);
		if (st->clearing)
			bench_clear_retained(r, pub, topic, RET_QOS);
		else
			bench_publish_retained(r, pub, topic, RET_QOS, st->next_topic);
		st->next_topic++;
	}
}

static bool publisher_done(struct bench_run *r)
{
	return ret_of(r)->next_topic >= r->o->msgs && r->conns[0].inflight == 0;
}

/* Append what was done to r->error when a phase ran out of time. */
static void note_progress(struct bench_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_progress(struct bench_run *r, const char *fmt, ...)
{
	if (!r->timed_out)
		return;
	size_t len = strlen(r->error);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error + len, sizeof(r->error) - len, fmt, ap);
	va_end(ap);
}

/* One pass of the publisher over all topics; false on failure. */
static bool publish_all(struct bench_run *r, bool clearing)
{
	struct ret *st = ret_of(r);
	st->next_topic = 0;
	st->clearing = clearing;
	r->pump = publish_pump;
	bool ok = bench_poll(r, (int)(r->o->time_limit_s * 1000), publisher_done);
	r->pump = NULL;
	if (!ok)
		note_progress(r, ": %s, %u of %u published, %u unacknowledged", clearing ? "clearing" : "storing",
			      st->next_topic, r->o->msgs, r->conns[0].inflight);
	return ok;
}

static bool store(struct bench_run *r, struct bench_result *res)
{
	double cpu0 = self_cpu_s();
	uint64_t start = bench_now_ns();
	if (!publish_all(r, false))
		return false;
	double elapsed = (double)(bench_now_ns() - start) / 1e9;
	res->set_rate = elapsed > 0 ? r->o->msgs / elapsed : 0;
	res->set_self_cpu_pct = elapsed > 0 ? (self_cpu_s() - cpu0) * 100.0 / elapsed : 0;
	return true;
}

/* --- deliver: every subscriber gets every message once ------------------- */

/* i of a delivery on bench/ret/<i> (i < --msgs) whose payload carries
 * sequence number i, as the store phase wrote it; false for anything else. */
static bool message_index(const struct bench_run *r, const struct mqtt_publish *p, uint32_t *out)
{
	const size_t prefix = sizeof(RET_PREFIX) - 1;
	if (p->topic.len <= prefix || p->topic.len > prefix + 10 || memcmp(p->topic.p, RET_PREFIX, prefix) != 0)
		return false;
	uint64_t i = 0;
	for (size_t k = prefix; k < p->topic.len; k++) {
		char d = p->topic.p[k];
		if (d < '0' || d > '9')
			return false;
		i = i * 10 + (uint64_t)(d - '0');
	}
	uint32_t seq;
	if (i >= r->o->msgs || p->payload.len < BENCH_HEADER)
		return false;
	memcpy(&seq, p->payload.p + 4, 4);
	if (seq != i)
		return false;
	*out = (uint32_t)i;
	return true;
}

static void on_subscriber_publish(struct bench_run *r, struct bconn *c, const struct mqtt_publish *p)
{
	struct ret *st = ret_of(r);
	uint32_t i;
	if (!p->retain)
		st->no_retain++;
	if (!message_index(r, p, &i)) {
		st->mismatched++;
		return;
	}
	uint64_t *word = &st->seen[(uint64_t)(c->index - 1) * st->words_per_sub + i / 64];
	uint64_t bit = 1ull << (i % 64);
	if (*word & bit) {
		st->dups++;
		return;
	}
	*word |= bit;
	st->distinct++;
	st->last_rx_ns = bench_now_ns();
}

/* The publisher (connection 0) subscribes only for the clear check. */
static void on_clear_check_publish(struct bench_run *r, const struct mqtt_publish *p)
{
	struct ret *st = ret_of(r);
	if (p->topic.len == sizeof(RET_MARKER) - 1 && memcmp(p->topic.p, RET_MARKER, p->topic.len) == 0)
		st->marker_back = true;
	else if (p->retain && !st->marker_back)
		st->left_after_clear++;
}

static void ret_on_publish(struct bench_run *r, struct bconn *c, const struct mqtt_publish *p)
{
	if (c->index == 0)
		on_clear_check_publish(r, p);
	else
		on_subscriber_publish(r, c, p);
}

static bool subscribers_subscribed(struct bench_run *r)
{
	for (uint32_t i = 1; i < r->n; i++)
		if (!r->conns[i].subscribed)
			return false;
	return true;
}

static bool delivery_done(struct bench_run *r)
{
	struct ret *st = ret_of(r);
	if (st->distinct >= expected_deliveries(r))
		return true;
	return subscribers_subscribed(r) && bench_now_ns() - st->last_rx_ns > QUIET_NS;
}

static bool deliver(struct bench_run *r, struct bench_result *res)
{
	struct ret *st = ret_of(r);
	struct proc_sample before, after;
	bench_sample(r->o->broker_pid, &before);
	double cpu0 = self_cpu_s();
	uint64_t start = bench_now_ns();
	st->last_rx_ns = start; /* the quiet period also ends a run where nothing arrives */
	for (uint32_t i = 1; i < r->n; i++)
		bench_subscribe(r, &r->conns[i], RET_FILTER, r->o->qos);
	if (!bench_poll(r, (int)(r->o->time_limit_s * 1000), delivery_done)) {
		note_progress(r, ": %llu of %llu deliveries", (unsigned long long)st->distinct,
			      (unsigned long long)expected_deliveries(r));
		return false;
	}
	bench_sample(r->o->broker_pid, &after);
	double elapsed = (double)(st->last_rx_ns - start) / 1e9;
	double wall = (double)(bench_now_ns() - start) / 1e9;
	res->count = st->distinct;
	res->elapsed_s = elapsed;
	res->rate = elapsed > 0 ? (double)st->distinct / elapsed : 0;
	res->self_cpu_pct = wall > 0 ? (self_cpu_s() - cpu0) * 100.0 / wall : 0;
	if (r->o->broker_pid > 0 && st->distinct > 0) {
		res->broker_cpu_us_per_msg = (after.cpu_s - before.cpu_s) * 1e6 / (double)st->distinct;
		res->broker_rss_kb = (double)after.rss_kb;
	}
	return true;
}

/* --- clear: remove every message, then check none is left ----------------- */

static bool marker_back(struct bench_run *r)
{
	return ret_of(r)->marker_back;
}

static bool clear(struct bench_run *r)
{
	/* subscribers still subscribed would receive every removal live */
	for (uint32_t i = 1; i < r->n; i++)
		bench_disconnect(r, &r->conns[i]);
	if (!publish_all(r, true))
		return false;
	struct bconn *pub = &r->conns[0];
	bench_subscribe(r, pub, RET_FILTER, 0);
	bench_publish(r, pub, RET_MARKER, 0, 0);
	return bench_poll(r, CLEAR_CHECK_MS, marker_back);
}

/* --- the scenario ----------------------------------------------------------- */

static void judge(struct bench_run *r, struct bench_result *res)
{
	struct ret *st = ret_of(r);
	res->lost = expected_deliveries(r) - st->distinct;
	res->dups = st->dups;
	res->failures = st->no_retain + st->mismatched;
	if (res->lost || res->dups || res->failures || st->left_after_clear)
		snprintf(res->check_failed, sizeof(res->check_failed),
			 "%llu of %llu deliveries missing, %llu duplicates, %llu without RETAIN, "
			 "%llu not a message stored here, %u retained left after clearing",
			 (unsigned long long)res->lost, (unsigned long long)expected_deliveries(r),
			 (unsigned long long)res->dups, (unsigned long long)st->no_retain,
			 (unsigned long long)st->mismatched, st->left_after_clear);
}

static int finish(struct bench_run *r, int status)
{
	free(ret_of(r)->seen);
	if (status)
		return bench_run_fail(r);
	bench_close(r);
	free(r);
	return 0;
}

int scenario_retained(const struct bench_opts *o, struct bench_result *res)
{
	struct bench_run *r = bench_run_new(o, sizeof(struct ret));
	if (!r)
		return 1;
	struct ret *st = ret_of(r);
	res->unit = "deliveries/s";
	st->words_per_sub = (o->msgs + 63) / 64;
	st->seen = calloc((size_t)o->subs * st->words_per_sub, sizeof(uint64_t));
	if (!st->seen)
		return finish(r, 1);
	r->on_publish = ret_on_publish;
	if (bench_open(r, o->subs + 1, "ret") != FM_OK)
		return finish(r, 1);
	if (!store(r, res) || !deliver(r, res) || !clear(r))
		return finish(r, 1);
	judge(r, res);
	res->tls = r->tls_stats;
	return finish(r, 0);
}
