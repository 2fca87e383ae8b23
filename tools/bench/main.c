/* fleetmq-bench: command line and reporting. See bench.h. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fleetmq-bench SCENARIO [options]\n"
		"\n"
		"scenarios:\n"
		"  fanin    --pubs P publishers -> 1 wildcard subscriber (msg/s at the subscriber)\n"
		"  fanout   1 publisher -> --subs S subscribers (deliveries/s)\n"
		"  latency  QoS 1 at --rate msg/s: one-way and PUBACK round trip percentiles;\n"
		"           --rate 0: closed loop, publish and wait for the own delivery + PUBACK\n"
		"  idle     open --conns C idle connections: connect rate, broker bytes per connection\n"
		"  retained store --msgs N retained messages (bench/ret/<i>, QoS 1, --window unacknowledged),\n"
		"           then --subs S subscribers to bench/ret/# (at --qos) must each get all N with\n"
		"           RETAIN set: store rate and deliveries/s; finally clears them\n"
		"  churn    --conns C connect/disconnect cycles, --window at once: cycles/s, broker CPU\n"
		"           per cycle; --clean 0: persistent sessions over --window client ids\n"
		"  shared   --pubs P publishers (--msgs each to bench/in/<p>) -> --subs S consumers of\n"
		"           $share/bench/bench/in/#: each message to exactly one consumer, in order per\n"
		"           publisher (deliveries/s), and the smallest/largest consumer's share\n"
		"  wake     no broker: --msgs thread-to-thread wake-up round trips (eventfd) at --rate,\n"
		"           both threads on one CPU, then on two: the machine's floor under latency\n"
		"\n"
		"options:\n"
		"  --host ADDR (127.0.0.1)  --port N (1883)  --qos 0|1|2 (0)\n"
		"  --msgs N per publisher (10000)  --size BYTES (64)  --pubs N (10)  --subs N (10)\n"
		"  --conns N (1000)  --rate N (1000, 0 = closed loop)  --window N (100 unacknowledged per publisher)\n"
		"  --procs N (1): idle only, spread the connections over N generator processes\n"
		"  --clean 0|1 (1): the clean session flag of churn's CONNECTs, and of the fanin/fanout\n"
		"      subscribers (0: persistent, so QoS 1/2 goes through the broker's store)\n"
		"  --duration-limit SECONDS (60): hard stop; the run fails (exit 1) if it has\n"
		"      not finished by then (--time-limit is the same option)\n"
		"  --broker-pid PID: sample the broker's CPU and RSS from /proc\n"
		"  --tls CAFILE: every connection over TLS (1.2, mbedtls), the broker's certificate\n"
		"      checked against CAFILE and the name 'localhost'; reports the handshakes\n"
		"  --tls-resume 0|1 (1): each connection slot offers the session (ticket or id) of\n"
		"      its previous handshake, so churn measures resumed handshakes; 0: all full.\n"
		"      A handshake counts as resumed when the broker sent no certificate\n"
		"  --tls-curves LIST (secp256r1): ECDHE curves offered, in mbedtls' names, e.g.\n"
		"      x25519,secp256r1,x448,secp521r1,secp384r1 (what OpenSSL 3 clients offer)\n"
		"  --json: one JSON object on stdout\n");
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	*o = (struct bench_opts){.host = "127.0.0.1", .port = 1883, .msgs = 10000, .size = 64,
				 .pubs = 10, .subs = 10, .conns = 1000, .rate = 1000, .window = 100, .procs = 1,
				 .time_limit_s = 60, .clean = true, .tls_resume = true, .tls_curves = "secp256r1"};
	if (argc < 2)
		return -1;
	o->scenario = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint32_t n = 0;
		bool ok = true;
		if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "--host"))
			o->host = v;
		else if (!strcmp(a, "--port") && (ok = parse_u32(v, &n) && n > 0 && n < 65536))
			o->port = (uint16_t)n;
		else if (!strcmp(a, "--qos") && (ok = parse_u32(v, &n) && n <= 2))
			o->qos = (uint8_t)n;
		else if (!strcmp(a, "--msgs"))
			ok = parse_u32(v, &o->msgs) && o->msgs > 0;
		else if (!strcmp(a, "--size"))
			ok = parse_u32(v, &o->size) && o->size <= 65536;
		else if (!strcmp(a, "--pubs"))
			ok = parse_u32(v, &o->pubs) && o->pubs > 0;
		else if (!strcmp(a, "--subs"))
			ok = parse_u32(v, &o->subs) && o->subs > 0;
		else if (!strcmp(a, "--procs"))
			ok = parse_u32(v, &o->procs) && o->procs > 0 && o->procs <= 64;
		else if (!strcmp(a, "--conns"))
			ok = parse_u32(v, &o->conns) && o->conns > 0;
		else if (!strcmp(a, "--rate"))
			ok = parse_u32(v, &o->rate);
		else if (!strcmp(a, "--window"))
			ok = parse_u32(v, &o->window) && o->window > 0 && o->window < 65535;
		else if (!strcmp(a, "--duration-limit") || !strcmp(a, "--time-limit"))
			ok = (o->time_limit_s = atof(v)) > 0 && o->time_limit_s <= 86400;
		else if (!strcmp(a, "--clean") && (ok = parse_u32(v, &n) && n <= 1))
			o->clean = n == 1;
		else if (!strcmp(a, "--broker-pid") && (ok = parse_u32(v, &n)))
			o->broker_pid = (pid_t)n;
		else if (!strcmp(a, "--tls"))
			ok = (o->tls_cafile = v)[0] != '\0';
		else if (!strcmp(a, "--tls-resume") && (ok = parse_u32(v, &n) && n <= 1))
			o->tls_resume = n == 1;
		else if (!strcmp(a, "--tls-curves"))
			o->tls_curves = v; /* checked when the TLS context is built */
		else if (ok)
			return -1;
		if (!ok) {
			fprintf(stderr, "fleetmq-bench: bad value for %s: '%s'\n", a, v);
			return -2;
		}
	}
	return 0;
}

#define FD_RESERVE 64 /* descriptors kept free for epoll, pipes, /proc files */

/* Raise the soft open-files limit to the hard one and check that the
 * connections one process opens fit under it. Counts beyond one process's
 * limit are for several processes (--procs), never silently cut short. */
static bool check_nofile(const struct bench_opts *o)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return true;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	uint64_t per_proc;
	if (!strcmp(o->scenario, "idle"))
		per_proc = o->conns / o->procs + (o->conns % o->procs != 0);
	else if (!strcmp(o->scenario, "fanin"))
		per_proc = (uint64_t)o->pubs + 1;
	else if (!strcmp(o->scenario, "fanout") || !strcmp(o->scenario, "retained"))
		per_proc = (uint64_t)o->subs + 1;
	else if (!strcmp(o->scenario, "shared"))
		per_proc = (uint64_t)o->pubs + o->subs;
	else if (!strcmp(o->scenario, "churn"))
		per_proc = o->window < o->conns ? o->window : o->conns;
	else
		per_proc = 2;
	if (rl.rlim_cur == RLIM_INFINITY || per_proc + FD_RESERVE <= rl.rlim_cur)
		return true;
	uint64_t fit = rl.rlim_cur > FD_RESERVE ? rl.rlim_cur - FD_RESERVE : 0;
	fprintf(stderr,
		"fleetmq-bench %s: %llu connections in one process exceed the open-files limit (%llu, "
		"%u kept in reserve): at most %llu per process%s\n",
		o->scenario, (unsigned long long)per_proc, (unsigned long long)rl.rlim_cur, FD_RESERVE,
		(unsigned long long)fit,
		!strcmp(o->scenario, "idle") ? "; spread them with --procs N" : "");
	return false;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc == -1 || (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		usage(rc == -1 && argc >= 2 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help") ? stderr : stdout);
		return rc == -1 && argc >= 2 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help") ? 2 : 0;
	}
	if (rc)
		return 2;
	if (!check_nofile(&o))
		return 2;
	struct proc_sample probe;
	if (o.broker_pid > 0 && !proc_sample(o.broker_pid, &probe)) {
		fprintf(stderr, "fleetmq-bench: --broker-pid %d: no such process readable in /proc\n", (int)o.broker_pid);
		return 2;
	}
	struct bench_result res = {0};
	if (!strcmp(o.scenario, "fanin"))
		rc = scenario_fanin(&o, &res);
	else if (!strcmp(o.scenario, "fanout"))
		rc = scenario_fanout(&o, &res);
	else if (!strcmp(o.scenario, "latency"))
		rc = scenario_latency(&o, &res);
	else if (!strcmp(o.scenario, "idle"))
		rc = scenario_idle(&o, &res);
	else if (!strcmp(o.scenario, "retained"))
		rc = scenario_retained(&o, &res);
	else if (!strcmp(o.scenario, "churn"))
		rc = scenario_churn(&o, &res);
	else if (!strcmp(o.scenario, "shared"))
		rc = scenario_shared(&o, &res);
	else if (!strcmp(o.scenario, "wake"))
		rc = scenario_wake(&o, &res);
	else {
		fprintf(stderr, "fleetmq-bench: unknown scenario '%s'\n", o.scenario);
		usage(stderr);
		return 2;
	}
	if (rc != 0)
		return rc;
	bench_report(&o, &res);
	if (res.check_failed[0]) {
		fprintf(stderr, "fleetmq-bench %s: FAILED: %s\n", o.scenario, res.check_failed);
		return 1;
	}
	return 0;
}
