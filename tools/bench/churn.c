/* The churn scenario: --conns connect/disconnect cycles (CONNECT, wait for
 * the CONNACK, DISCONNECT, close), at most --window of them at once, each
 * on its own new TCP connection: cycles per second, broker CPU per cycle,
 * generator CPU. A refused CONNACK, a connection lost before its CONNACK or
 * no CONNACK within CYCLE_TIMEOUT_NS fails that cycle; failures are
 * counted (and make the exit status 1) rather than ending the run.
 *
 *   --clean 1 (default)  clean sessions, a fresh client id every cycle.
 *   --clean 0            persistent sessions over --window client ids, one
 *                        per slot: each cycle after a slot's first resumes
 *                        the session its previous cycle left, or takes it
 *                        over when the broker has not yet handled that
 *                        cycle's DISCONNECT, so resume/takeover cost is in
 *                        the numbers. Afterwards every id connects once
 *                        more with a clean session, which discards its
 *                        session, so the broker is left as it was.
 *
 * The CONNACK's session-present flag is checked on the way: 0 for a clean
 * session [MQTT-3.2.2-1], 1 when a persistent session exists [MQTT-3.2.2-2].
 *
 * With --tls each cycle's connection starts with a TLS handshake (the
 * CONNECT waits for it), full or, with --tls-resume 1, offering the
 * session of the slot's previous handshake; a failed handshake fails the
 * cycle. The report counts the handshakes the broker resumed. */
#include "bench.h"

#include "fleetmq/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longer than the kernel's first SYN retransmission (1 s) and the second
 * (3 s later), so a briefly full accept queue delays a cycle rather than
 * failing it; a broker that does not answer in 5 s has failed it. */
#define CYCLE_TIMEOUT_NS 5000000000ull
/* After the last CONNACK the broker still handles up to --window
 * DISCONNECTs and closes; they belong to the cycles measured. */
#define SETTLE_US 200000

enum session_state {
	SESSION_NONE,    /* the slot's client id has no session on the broker */
	SESSION_KEPT,    /* a persistent session was left by the slot's last cycle */
	SESSION_UNKNOWN, /* the last cycle failed: the broker may or may not have one */
};

struct churn {
	uint32_t total;             /* cycles in this phase */
	uint32_t started, completed, failed;
	bool clean;                 /* the CONNECTs' clean session flag in this phase */
	bool id_per_slot;           /* client id from the slot (persistent) or the cycle */
	int pid;                    /* in client ids: runs in parallel do not collide */
	uint64_t resumed;           /* CONNACKs with session present */
	uint64_t wrong_session;     /* session present when it must not be, or absent when it must be */
	uint64_t *connect_ns;       /* per slot: when its CONNECT was queued */
	enum session_state *session; /* per slot */
	uint64_t last_ns;           /* the latest completed cycle */
	char first_failure[144];
};

static struct churn *churn_of(struct bench_run *r) { return (struct churn *)(r + 1); }

static void start_cycle(struct bench_run *r, struct bconn *c)
{
	struct churn *ch = churn_of(r);
	char id[64];
	if (ch->id_per_slot)
		snprintf(id, sizeof(id), "churn-%d-s%u", ch->pid, c->index);
	else
		snprintf(id, sizeof(id), "churn-%d-c%u", ch->pid, ch->started);
	ch->started++;
	ch->connect_ns[c->index] = bench_now_ns();
	bench_connect(r, c, id, ch->clean); /* a socket failure fails the run (bench_fail) */
}

static void cycle_failed(struct bench_run *r, struct bconn *c, const char *why)
{
	struct churn *ch = churn_of(r);
	ch->failed++;
	ch->session[c->index] = SESSION_UNKNOWN;
	if (!ch->first_failure[0])
		snprintf(ch->first_failure, sizeof(ch->first_failure), "%s", why);
	bench_hangup(r, c);
}

/* Session present must match what the slot's history says the broker has. */
static void check_session_present(struct churn *ch, uint32_t slot, bool session_present)
{
	enum session_state *s = &ch->session[slot];
	bool expected = !ch->clean && *s == SESSION_KEPT;
	if (*s != SESSION_UNKNOWN && session_present != expected)
		ch->wrong_session++;
	ch->resumed += session_present;
	*s = ch->clean ? SESSION_NONE : SESSION_KEPT;
}

static void churn_on_connack(struct bench_run *r, struct bconn *c, uint8_t code, bool session_present)
{
	struct churn *ch = churn_of(r);
	if (code != 0) {
		char why[48];
		snprintf(why, sizeof(why), "CONNACK refused with return code %u", code);
		cycle_failed(r, c, why);
		return;
	}
	check_session_present(ch, c->index, session_present);
	c->connected = true;
	bench_disconnect(r, c);
	ch->completed++;
	ch->last_ns = bench_now_ns();
}

static void churn_on_conn_lost(struct bench_run *r, struct bconn *c, int err)
{
	if (c->connected)
		return; /* the cycle is complete: only its DISCONNECT was lost */
	const char *why = bench_conn_error(c, err);
	cycle_failed(r, c, why ? why : "closed by the broker before its CONNACK");
}

/* Each loop iteration: time out overdue cycles, start new ones on free slots. */
static void churn_pump(struct bench_run *r)
{
	struct churn *ch = churn_of(r);
	uint64_t now = bench_now_ns();
	for (uint32_t i = 0; i < r->n; i++) {
		struct bconn *c = &r->conns[i];
		if (c->fd >= 0 && now - ch->connect_ns[i] > CYCLE_TIMEOUT_NS)
			cycle_failed(r, c, "no CONNACK within 5 s");
		if (c->fd < 0 && ch->started < ch->total)
			start_cycle(r, c);
	}
}

static bool churn_done(struct bench_run *r)
{
	struct churn *ch = churn_of(r);
	return ch->completed + ch->failed >= ch->total;
}

/* Run total cycles; false when the run failed (time limit, socket error). */
static bool run_cycles(struct bench_run *r, uint32_t total, bool clean, bool id_per_slot)
{
	struct churn *ch = churn_of(r);
	ch->total = total;
	ch->started = ch->completed = ch->failed = 0;
	ch->clean = clean;
	ch->id_per_slot = id_per_slot;
	if (bench_poll(r, (int)(r->o->time_limit_s * 1000), churn_done))
		return true;
	if (r->timed_out) {
		size_t len = strlen(r->error);
		snprintf(r->error + len, sizeof(r->error) - len, ": %u of %u cycles done, %u failed",
			 ch->completed, total, ch->failed);
	}
	return false;
}

/* --tls with --tls-resume 1: one unmeasured cycle per slot first, so that
 * every measured handshake has a session to offer and the numbers are
 * those of resumed handshakes alone (as many as the broker grants: the
 * report counts them). Its failed cycles are added to the run's. */
static bool warm_up(struct bench_run *r, uint32_t *failed)
{
	const struct bench_opts *o = r->o;
	*failed = 0;
	if (!r->tls || !o->tls_resume)
		return true;
	if (!run_cycles(r, r->n, o->clean, !o->clean))
		return false;
	*failed = churn_of(r)->failed;
	usleep(SETTLE_US); /* the broker closes those connections outside the measurement */
	struct tls_stats fresh = {0};
	memcpy(fresh.suite, r->tls_stats.suite, sizeof(fresh.suite));
	r->tls_stats = fresh;
	return true;
}

static bool measure(struct bench_run *r, struct bench_result *res)
{
	struct churn *ch = churn_of(r);
	const struct bench_opts *o = r->o;
	uint32_t warm_failed;
	if (!warm_up(r, &warm_failed))
		return false;
	struct proc_sample before, after;
	bench_sample(o->broker_pid, &before);
	double cpu0 = self_cpu_s();
	uint64_t start = bench_now_ns();
	if (!run_cycles(r, o->conns, o->clean, !o->clean))
		return false;
	double self_cpu = self_cpu_s() - cpu0;
	res->tls = r->tls_stats; /* the measured cycles' handshakes only */
	usleep(SETTLE_US);
	bench_sample(o->broker_pid, &after);
	double elapsed = ch->completed ? (double)(ch->last_ns - start) / 1e9 : 0;
	res->count = ch->completed;
	res->failures = ch->failed + warm_failed + ch->wrong_session;
	res->resumed = ch->resumed;
	res->elapsed_s = elapsed;
	res->rate = elapsed > 0 ? ch->completed / elapsed : 0;
	res->self_cpu_pct = elapsed > 0 ? self_cpu * 100.0 / elapsed : 0;
	if (o->broker_pid > 0 && ch->completed > 0) {
		res->broker_cpu_us_per_msg = (after.cpu_s - before.cpu_s) * 1e6 / ch->completed;
		res->broker_rss_kb = (double)after.rss_kb;
	}
	return true;
}

static int finish(struct bench_run *r, int status)
{
	struct churn *ch = churn_of(r);
	free(ch->connect_ns);
	free(ch->session);
	if (status)
		return bench_run_fail(r);
	bench_close(r);
	free(r);
	return 0;
}

/* One clean cycle per client id discards the persistent sessions the run
 * left. All slots are free here, so the first pump gives each exactly one. */
static bool forget_sessions(struct bench_run *r, uint32_t slots)
{
	struct churn *ch = churn_of(r);
	uint64_t wrong_before = ch->wrong_session;
	return run_cycles(r, slots, true, true) && ch->failed == 0 && ch->wrong_session == wrong_before;
}

int scenario_churn(const struct bench_opts *o, struct bench_result *res)
{
	uint32_t slots = o->window < o->conns ? o->window : o->conns;
	struct bench_run *r = bench_run_new(o, sizeof(struct churn));
	if (!r)
		return 1;
	struct churn *ch = churn_of(r);
	res->unit = "cycles/s";
	ch->pid = (int)getpid();
	ch->connect_ns = calloc(slots, sizeof(*ch->connect_ns));
	ch->session = calloc(slots, sizeof(*ch->session)); /* all SESSION_NONE */
	if (!ch->connect_ns || !ch->session || bench_alloc(r, slots) != FM_OK)
		return finish(r, 1);
	r->pump = churn_pump;
	r->on_connack = churn_on_connack;
	r->on_conn_lost = churn_on_conn_lost;
	if (!measure(r, res))
		return finish(r, 1);
	uint64_t wrong_session = ch->wrong_session;
	uint32_t failed_cycles = (uint32_t)(res->failures - wrong_session); /* warm-up's too */
	uint32_t cycles = o->conns + (r->tls && o->tls_resume ? slots : 0);
	bool forgotten = o->clean || forget_sessions(r, slots);
	if (res->failures || !forgotten)
		snprintf(res->check_failed, sizeof(res->check_failed),
			 "%u of %u cycles failed (first: %s), %llu CONNACKs with the wrong session present flag%s%s%.200s",
			 failed_cycles, cycles, ch->first_failure[0] ? ch->first_failure : "none",
			 (unsigned long long)wrong_session,
			 forgotten ? "" : "; discarding the persistent sessions afterwards failed",
			 r->error[0] ? ": " : "", r->error);
	return finish(r, 0);
}
