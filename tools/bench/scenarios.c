/* The throughput scenarios (fan-in, fan-out) and idle connections; the
 * latency scenario is in latency.c. Each sets up its connections, drives
 * the loop until done (bounded by --duration-limit), and measures. */
#include "bench.h"

#include "fleetmq/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define QUIET_NS 2000000000ull       /* no delivery for 2 s: what was lost is lost */

/* State shared by the throughput scenarios. */
struct flow {
	uint32_t first_pub, n_pubs;  /* publisher connections */
	uint32_t first_sub, n_subs;  /* subscriber connections */
	uint64_t expected;           /* deliveries if nothing is lost */
	uint64_t start_ns, last_rx_ns;
	char topic_prefix[32];
};

static struct flow *flow_of(struct bench_run *r) { return (struct flow *)(r + 1); }

static uint64_t delivered(struct bench_run *r)
{
	struct flow *fl = flow_of(r);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < fl->n_subs; i++)
		sum += r->conns[fl->first_sub + i].received;
	return sum;
}

static bool publishers_done(struct bench_run *r)
{
	struct flow *fl = flow_of(r);
	for (uint32_t i = 0; i < fl->n_pubs; i++) {
		struct bconn *c = &r->conns[fl->first_pub + i];
		if (c->sent < r->o->msgs || c->inflight > 0 || buf_used(&c->out) > 0)
			return false;
	}
	return true;
}

static bool flow_done(struct bench_run *r)
{
	struct flow *fl = flow_of(r);
	if (delivered(r) >= fl->expected)
		return true;
	return publishers_done(r) && fl->last_rx_ns && bench_now_ns() - fl->last_rx_ns > QUIET_NS;
}

static void flow_on_publish(struct bench_run *r, struct bconn *c, const struct mqtt_publish *p)
{
	(void)c;
	(void)p;
	flow_of(r)->last_rx_ns = bench_now_ns();
}

static void flow_pump(struct bench_run *r)
{
	struct flow *fl = flow_of(r);
	const struct bench_opts *o = r->o;
	for (uint32_t i = 0; i < fl->n_pubs; i++) {
		struct bconn *c = &r->conns[fl->first_pub + i];
		bench_pump_publisher(r, c, fl->topic_prefix, o->msgs);
	}
}

struct bench_run *bench_run_new(const struct bench_opts *o, size_t extra)
{
	struct bench_run *r = calloc(1, sizeof(*r) + extra);
	if (!r)
		return NULL;
	r->o = o;
	r->epfd = -1;
	r->deadline_ns = bench_now_ns() + (uint64_t)(o->time_limit_s * 1e9);
	return r;
}

static struct bench_run *run_new(const struct bench_opts *o)
{
	return bench_run_new(o, sizeof(struct flow));
}

int bench_run_fail(struct bench_run *r)
{
	fprintf(stderr, "fleetmq-bench %s: %s\n", r->o->scenario, r->error[0] ? r->error : "failed");
	bench_close(r);
	free(r);
	return 1;
}

void bench_sample(pid_t pid, struct proc_sample *s)
{
	memset(s, 0, sizeof(*s));
	if (pid > 0)
		proc_sample(pid, s);
}

static int alloc_seq(struct bench_run *r, uint32_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		r->conns[first + i].next_seq = calloc(r->n_publishers, sizeof(uint32_t));
		if (!r->conns[first + i].next_seq)
			return FM_ENOMEM;
	}
	return FM_OK;
}

static bool all_subscribed(struct bench_run *r)
{
	struct flow *fl = flow_of(r);
	for (uint32_t i = 0; i < fl->n_subs; i++)
		if (!r->conns[fl->first_sub + i].subscribed)
			return false;
	return true;
}

/* Set up subscribers on filter, run the flow, fill res. */
static int run_flow(struct bench_run *r, const char *filter, struct bench_result *res)
{
	struct flow *fl = flow_of(r);
	const struct bench_opts *o = r->o;
	r->n_publishers = r->n;
	if (alloc_seq(r, fl->first_sub, fl->n_subs) != FM_OK)
		return bench_run_fail(r);
	for (uint32_t i = 0; i < fl->n_subs; i++)
		bench_subscribe(r, &r->conns[fl->first_sub + i], filter, o->qos);
	if (!bench_poll(r, 30000, all_subscribed))
		return bench_run_fail(r);
	struct proc_sample before, after;
	bench_sample(o->broker_pid, &before);
	double self_before = self_cpu_s();
	r->on_publish = flow_on_publish;
	r->pump = flow_pump;
	fl->start_ns = bench_now_ns();
	if (!bench_poll(r, (int)(o->time_limit_s * 1000), flow_done)) {
		if (r->timed_out) {
			size_t len = strlen(r->error);
			snprintf(r->error + len, sizeof(r->error) - len, ": %llu of %llu deliveries",
				 (unsigned long long)delivered(r), (unsigned long long)fl->expected);
		}
		return bench_run_fail(r);
	}
	bench_sample(o->broker_pid, &after);
	uint64_t got = delivered(r);
	double elapsed = (double)(fl->last_rx_ns - fl->start_ns) / 1e9;
	res->count = got;
	res->elapsed_s = elapsed;
	res->rate = elapsed > 0 ? (double)got / elapsed : 0;
	for (uint32_t i = 0; i < fl->n_subs; i++) {
		struct bconn *c = &r->conns[fl->first_sub + i];
		res->lost += c->lost;
		res->dups += c->dups;
		res->reordered += c->reordered;
	}
	/* messages never seen at all (the tail) are lost too */
	if (got + res->lost < fl->expected)
		res->lost = fl->expected - got;
	if (o->broker_pid > 0 && got > 0) {
		res->broker_cpu_us_per_msg = (after.cpu_s - before.cpu_s) * 1e6 / (double)got;
		res->broker_rss_kb = (double)after.rss_kb;
	}
	double wall = (double)(bench_now_ns() - fl->start_ns) / 1e9;
	res->self_cpu_pct = wall > 0 ? (self_cpu_s() - self_before) * 100.0 / wall : 0;
	res->tls = r->tls_stats;
	bench_close(r);
	free(r);
	return 0;
}

int scenario_fanin(const struct bench_opts *o, struct bench_result *res)
{
	struct bench_run *r = run_new(o);
	if (!r)
		return 1;
	struct flow *fl = flow_of(r);
	*fl = (struct flow){.first_sub = 0, .n_subs = 1, .first_pub = 1, .n_pubs = o->pubs,
			    .expected = (uint64_t)o->pubs * o->msgs};
	snprintf(fl->topic_prefix, sizeof(fl->topic_prefix), "bench/in");
	res->unit = "msg/s";
	if (!o->clean) {
		r->persistent_first = fl->first_sub;
		r->persistent_n = fl->n_subs;
	}
	if (bench_open(r, o->pubs + 1, "fanin") != FM_OK)
		return bench_run_fail(r);
	return run_flow(r, "bench/in/#", res);
}

int scenario_fanout(const struct bench_opts *o, struct bench_result *res)
{
	struct bench_run *r = run_new(o);
	if (!r)
		return 1;
	struct flow *fl = flow_of(r);
	*fl = (struct flow){.first_pub = 0, .n_pubs = 1, .first_sub = 1, .n_subs = o->subs,
			    .expected = (uint64_t)o->subs * o->msgs};
	snprintf(fl->topic_prefix, sizeof(fl->topic_prefix), "bench/out");
	res->unit = "deliveries/s";
	if (!o->clean) {
		r->persistent_first = fl->first_sub;
		r->persistent_n = fl->n_subs;
	}
	if (bench_open(r, o->subs + 1, "fanout") != FM_OK)
		return bench_run_fail(r);
	return run_flow(r, "bench/out/0", res);
}

/* --- idle connections ----------------------------------------------------- */

/* Open n connections in this process; elapsed seconds, or < 0 on failure. */
static double open_idle(const struct bench_opts *o, uint32_t n, const char *prefix, struct bench_run **out)
{
	struct bench_run *r = run_new(o);
	if (!r)
		return -1;
	uint64_t start = bench_now_ns();
	if (bench_open(r, n, prefix) != FM_OK) {
		bench_run_fail(r);
		return -1;
	}
	*out = r;
	return (double)(bench_now_ns() - start) / 1e9;
}

static struct held {
	int fd;       /* write end of the hold pipe: closing it releases the children */
	pid_t *kids;
	unsigned n;
} held;

struct idle_report {
	double elapsed_s;
	double cpu_s;
	struct tls_stats tls; /* --tls: this process's handshakes */
};

/* One generator process of several: open its share, report, then hold the
 * connections until the parent closes the hold pipe. */
static _Noreturn void idle_child(const struct bench_opts *o, unsigned i, uint32_t share, int report_fd, int hold_fd)
{
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "idle%u", i);
	double cpu0 = self_cpu_s();
	struct bench_run *r = NULL;
	struct idle_report rep = {.elapsed_s = open_idle(o, share, prefix, &r)};
	rep.cpu_s = self_cpu_s() - cpu0;
	if (r)
		rep.tls = r->tls_stats;
	ssize_t w = write(report_fd, &rep, sizeof(rep));
	char c;
	ssize_t n = read(hold_fd, &c, 1); /* returns at EOF: the parent is done measuring */
	(void)w;
	(void)n;
	if (r) {
		bench_close(r);
		free(r);
	}
	_exit(rep.elapsed_s < 0 ? 1 : 0);
}

static void add_tls(struct tls_stats *sum, const struct tls_stats *st)
{
	sum->handshakes += st->handshakes;
	sum->offered += st->offered;
	sum->resumed += st->resumed;
	sum->failed += st->failed;
	if (!sum->suite[0])
		memcpy(sum->suite, st->suite, sizeof(sum->suite));
}

/* Spread the connections over --procs processes (past one process's
 * open-file limit, and past one generator core). Fills elapsed, the
 * generators' summed CPU and their TLS handshakes. */
static int open_idle_procs(const struct bench_opts *o, double *elapsed, double *cpu, struct tls_stats *tls)
{
	int report[2], hold[2];
	if (pipe(report) || pipe(hold))
		return 1;
	pid_t *kids = calloc(o->procs, sizeof(pid_t));
	if (!kids)
		return 1;
	for (unsigned i = 0; i < o->procs; i++) {
		uint32_t share = o->conns / o->procs + (i < o->conns % o->procs);
		kids[i] = fork();
		if (kids[i] == 0) {
			close(report[0]);
			close(hold[1]);
			idle_child(o, i, share, report[1], hold[0]);
		}
	}
	close(report[1]);
	close(hold[0]);
	int failed = 0;
	*elapsed = 0;
	*cpu = 0;
	for (unsigned i = 0; i < o->procs; i++) {
		struct idle_report rep;
		if (read(report[0], &rep, sizeof(rep)) != (ssize_t)sizeof(rep) || rep.elapsed_s < 0) {
			failed = 1;
			continue;
		}
		if (rep.elapsed_s > *elapsed)
			*elapsed = rep.elapsed_s;
		*cpu += rep.cpu_s;
		add_tls(tls, &rep.tls);
	}
	close(report[0]);
	sleep(1); /* let the broker settle; the caller samples it now */
	held = (struct held){.fd = hold[1], .kids = kids, .n = o->procs};
	return failed;
}

/* Let the generator processes go and reap them. */
static void idle_release(void)
{
	close(held.fd);
	for (unsigned i = 0; i < held.n; i++)
		if (held.kids[i] > 0)
			waitpid(held.kids[i], NULL, 0);
	free(held.kids);
}

int scenario_idle(const struct bench_opts *o, struct bench_result *res)
{
	res->unit = "connections/s";
	struct proc_sample before, after;
	bench_sample(o->broker_pid, &before);
	double elapsed, gen_cpu;
	int failed;
	struct bench_run *r = NULL;
	if (o->procs > 1) {
		failed = open_idle_procs(o, &elapsed, &gen_cpu, &res->tls);
	} else {
		double cpu0 = self_cpu_s();
		elapsed = open_idle(o, o->conns, "idle", &r);
		gen_cpu = self_cpu_s() - cpu0;
		failed = elapsed < 0;
		if (r)
			res->tls = r->tls_stats;
		sleep(1); /* let the broker settle before measuring it */
	}
	bench_sample(o->broker_pid, &after);
	if (o->procs > 1)
		idle_release();
	else if (r) {
		bench_close(r);
		free(r);
	}
	if (failed)
		return 1;
	res->count = o->conns;
	res->elapsed_s = elapsed;
	res->rate = elapsed > 0 ? o->conns / elapsed : 0;
	res->self_cpu_pct = elapsed > 0 ? gen_cpu * 100.0 / elapsed : 0;
	if (o->broker_pid > 0) {
		res->broker_rss_kb = (double)after.rss_kb;
		res->bytes_per_conn = (double)(after.rss_kb - before.rss_kb) * 1024.0 / o->conns;
		res->broker_cpu_us_per_msg = (after.cpu_s - before.cpu_s) * 1e6 / o->conns;
	}
	return 0;
}
