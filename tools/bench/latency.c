/* The latency scenario, QoS 1, in two modes:
 *
 *   --rate N > 0  open loop: one publisher sends N msg/s to one subscriber;
 *                 one-way latency (publish to delivery, from the send time
 *                 in the payload) and the PUBACK round trip.
 *   --rate 0      closed loop: one connection subscribed to its own topic
 *                 publishes, waits until both its own delivery and the
 *                 PUBACK are back, then sends the next; the round trip is
 *                 the later of the two.
 *
 * Both stop after --msgs samples or at --duration-limit, whichever is first
 * (the limit fails the run). Percentiles are nearest-rank on sorted samples. */
#include "bench.h"

#include "fleetmq/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lat {
	uint64_t next_send_ns;  /* open loop: when the next PUBLISH is due */
	uint64_t interval_ns;   /* open loop: 1 s / --rate */
	uint64_t *rtt_ns;       /* round-trip samples, --msgs of them */
	uint64_t n_rtt;         /* samples taken */
	uint64_t sent_ns;       /* closed loop: send time of the outstanding message */
	bool got_ack, got_msg;  /* closed loop: its PUBACK / its delivery is back */
	char topic[48];         /* closed loop: this process's own topic */
};

static struct lat *lat_of(struct bench_run *r) { return (struct lat *)(r + 1); }

/* --- open loop ------------------------------------------------------------ */

static void rate_pump(struct bench_run *r)
{
	struct lat *l = lat_of(r);
	struct bconn *pub = &r->conns[0];
	if (pub->sent < r->o->msgs && bench_now_ns() >= l->next_send_ns) {
		bench_publish(r, pub, "bench/lat", 1, pub->sent);
		l->next_send_ns += l->interval_ns;
	}
}

static void rate_on_ack(struct bench_run *r, struct bconn *c, uint8_t type, uint16_t pid)
{
	(void)type;
	struct lat *l = lat_of(r);
	if (c->ack_wait_ns && l->n_rtt < r->o->msgs)
		l->rtt_ns[l->n_rtt++] = bench_now_ns() - c->ack_wait_ns[pid];
}

static bool rate_done(struct bench_run *r)
{
	return r->conns[1].received >= r->o->msgs && lat_of(r)->n_rtt >= r->o->msgs;
}

static bool rate_subscribed(struct bench_run *r)
{
	return r->conns[1].subscribed;
}

/* --- closed loop ---------------------------------------------------------- */

static void loop_sample(struct bench_run *r)
{
	struct lat *l = lat_of(r);
	if (!l->got_ack || !l->got_msg || l->n_rtt >= r->o->msgs)
		return;
	l->rtt_ns[l->n_rtt++] = bench_now_ns() - l->sent_ns;
}

static void loop_pump(struct bench_run *r)
{
	struct lat *l = lat_of(r);
	struct bconn *c = &r->conns[0];
	bool idle = c->sent == 0 || (l->got_ack && l->got_msg);
	if (!idle || c->sent >= r->o->msgs)
		return;
	l->got_ack = l->got_msg = false;
	l->sent_ns = bench_now_ns();
	bench_publish(r, c, l->topic, 1, c->sent);
}

static void loop_on_ack(struct bench_run *r, struct bconn *c, uint8_t type, uint16_t pid)
{
	(void)c;
	(void)type;
	(void)pid;
	lat_of(r)->got_ack = true;
	loop_sample(r);
}

static void loop_on_publish(struct bench_run *r, struct bconn *c, const struct mqtt_publish *p)
{
	(void)c;
	(void)p;
	lat_of(r)->got_msg = true;
	loop_sample(r);
}

static bool loop_done(struct bench_run *r)
{
	return lat_of(r)->n_rtt >= r->o->msgs;
}

static bool loop_subscribed(struct bench_run *r)
{
	return r->conns[0].subscribed;
}

/* --- common --------------------------------------------------------------- */

static void fill_result(struct bench_run *r, struct bconn *rx, uint64_t start_ns, struct bench_result *res)
{
	struct lat *l = lat_of(r);
	bench_sort_ns(r->latencies_ns, r->n_latencies);
	bench_sort_ns(l->rtt_ns, l->n_rtt);
	res->count = r->n_latencies;
	res->elapsed_s = (double)(bench_now_ns() - start_ns) / 1e9;
	res->p50_us = bench_pct_us(r->latencies_ns, r->n_latencies, 50);
	res->p99_us = bench_pct_us(r->latencies_ns, r->n_latencies, 99);
	res->max_us = bench_pct_us(r->latencies_ns, r->n_latencies, 100);
	res->rtt_p50_us = bench_pct_us(l->rtt_ns, l->n_rtt, 50);
	res->rtt_p99_us = bench_pct_us(l->rtt_ns, l->n_rtt, 99);
	res->rtt_max_us = bench_pct_us(l->rtt_ns, l->n_rtt, 100);
	res->rate = res->elapsed_s > 0 ? (double)l->n_rtt / res->elapsed_s : 0;
	res->lost = rx->lost;
	res->dups = rx->dups;
	res->reordered = rx->reordered;
}

/* Frees r (and its samples); returns the scenario's exit status. */
static int finish(struct bench_run *r, int status)
{
	if (status)
		fprintf(stderr, "fleetmq-bench latency: %s\n", r->error[0] ? r->error : "failed");
	free(lat_of(r)->rtt_ns);
	bench_close(r);
	free(r);
	return status;
}

int scenario_latency(const struct bench_opts *o, struct bench_result *res)
{
	struct bench_run *r = calloc(1, sizeof(*r) + sizeof(struct lat));
	if (!r)
		return 1;
	r->o = o;
	r->epfd = -1;
	r->deadline_ns = bench_now_ns() + (uint64_t)(o->time_limit_s * 1e9);
	res->unit = "round trips/s";
	bool closed = o->rate == 0;
	struct lat *l = lat_of(r);
	if (bench_open(r, closed ? 1 : 2, "lat") != FM_OK)
		return finish(r, 1);
	struct bconn *rx = &r->conns[closed ? 0 : 1];
	l->rtt_ns = calloc(o->msgs, sizeof(uint64_t));
	r->n_publishers = 1;
	rx->next_seq = calloc(1, sizeof(uint32_t));
	if (!closed)
		r->conns[0].ack_wait_ns = calloc(65536, sizeof(uint64_t));
	if (!l->rtt_ns || !rx->next_seq || (!closed && !r->conns[0].ack_wait_ns))
		return finish(r, 1);
	if (closed)
		snprintf(l->topic, sizeof(l->topic), "bench/rtt/%d", (int)getpid());
	bench_subscribe(r, rx, closed ? l->topic : "bench/lat", 1);
	if (!bench_poll(r, 10000, closed ? loop_subscribed : rate_subscribed))
		return finish(r, 1);
	if (closed) {
		r->pump = loop_pump;
		r->on_ack = loop_on_ack;
		r->on_publish = loop_on_publish;
	} else {
		l->interval_ns = 1000000000ull / o->rate;
		l->next_send_ns = bench_now_ns();
		r->pump = rate_pump;
		r->on_ack = rate_on_ack;
	}
	uint64_t start = bench_now_ns();
	if (!bench_poll(r, (int)(o->time_limit_s * 1000), closed ? loop_done : rate_done)) {
		if (r->timed_out) {
			size_t len = strlen(r->error);
			snprintf(r->error + len, sizeof(r->error) - len, ": %llu of %u samples",
				 (unsigned long long)l->n_rtt, o->msgs);
		}
		return finish(r, 1);
	}
	fill_result(r, rx, start, res);
	res->tls = r->tls_stats;
	return finish(r, 0);
}
