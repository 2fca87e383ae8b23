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
		"  latency  QoS 1 at --rate msg/s: one-way and PUBACK round trip percentiles\n"
		"  idle     open --conns C idle connections: connect rate, broker bytes per connection\n"
		"\n"
		"options:\n"
		"  --host ADDR (127.0.0.1)  --port N (1883)  --qos 0|1|2 (0)\n"
		"  --msgs N per publisher (10000)  --size BYTES (64)  --pubs N (10)  --subs N (10)\n"
		"  --conns N (1000)  --rate N (1000)  --window N (100 unacknowledged per publisher)\n"
		"  --procs N (1): idle only, spread the connections over N generator processes\n"
		"  --time-limit SECONDS (60): the run fails if it has not finished by then\n"
		"  --broker-pid PID: sample the broker's CPU and RSS from /proc\n"
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
				 .time_limit_s = 60};
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
			ok = parse_u32(v, &o->rate) && o->rate > 0;
		else if (!strcmp(a, "--window"))
			ok = parse_u32(v, &o->window) && o->window > 0 && o->window < 65535;
		else if (!strcmp(a, "--time-limit"))
			ok = (o->time_limit_s = atof(v)) > 0;
		else if (!strcmp(a, "--broker-pid") && (ok = parse_u32(v, &n)))
			o->broker_pid = (pid_t)n;
		else if (ok)
			return -1;
		if (!ok) {
			fprintf(stderr, "fleetmq-bench: bad value for %s: '%s'\n", a, v);
			return -2;
		}
	}
	return 0;
}

/* Enough descriptors for --conns; the hard limit is the ceiling. */
static void raise_nofile(uint32_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t need = (rlim_t)want + 64;
	rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void report(const struct bench_opts *o, const struct bench_result *r)
{
	if (o->json) {
		printf("{\"scenario\":\"%s\",\"qos\":%u,\"rate\":%.1f,\"unit\":\"%s\",\"count\":%llu,"
		       "\"elapsed_s\":%.3f,\"lost\":%llu,\"dups\":%llu,\"reordered\":%llu,"
		       "\"broker_cpu_us_per_msg\":%.3f,\"broker_rss_kb\":%.0f,\"bytes_per_conn\":%.1f,"
		       "\"self_cpu_pct\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
		       "\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f}\n",
		       o->scenario, o->qos, r->rate, r->unit, (unsigned long long)r->count, r->elapsed_s,
		       (unsigned long long)r->lost, (unsigned long long)r->dups, (unsigned long long)r->reordered,
		       r->broker_cpu_us_per_msg, r->broker_rss_kb, r->bytes_per_conn, r->self_cpu_pct,
		       r->p50_us, r->p99_us, r->max_us, r->rtt_p50_us, r->rtt_p99_us);
		return;
	}
	if (!strcmp(o->scenario, "latency")) {
		printf("latency: %llu samples, one-way p50 %.1f us p99 %.1f us max %.1f us; "
		       "PUBACK round trip p50 %.1f us p99 %.1f us\n",
		       (unsigned long long)r->count, r->p50_us, r->p99_us, r->max_us, r->rtt_p50_us, r->rtt_p99_us);
	} else if (!strcmp(o->scenario, "idle")) {
		printf("idle: %llu connections at %.0f connections/s; broker %.0f bytes per connection (RSS %.0f kB), "
		       "%.1f us CPU per connection; generator CPU %.0f%%\n",
		       (unsigned long long)r->count, r->rate, r->bytes_per_conn, r->broker_rss_kb,
		       r->broker_cpu_us_per_msg, r->self_cpu_pct);
	} else {
		printf("%s qos %u: %llu delivered in %.2f s = %.0f %s; lost %llu, duplicates %llu, reordered %llu; "
		       "broker %.2f us CPU per message; generator CPU %.0f%%\n",
		       o->scenario, o->qos, (unsigned long long)r->count, r->elapsed_s, r->rate, r->unit,
		       (unsigned long long)r->lost, (unsigned long long)r->dups, (unsigned long long)r->reordered,
		       r->broker_cpu_us_per_msg, r->self_cpu_pct);
	}
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
	raise_nofile(o.conns > o.pubs + o.subs ? o.conns : o.pubs + o.subs);
	struct bench_result res = {0};
	if (!strcmp(o.scenario, "fanin"))
		rc = scenario_fanin(&o, &res);
	else if (!strcmp(o.scenario, "fanout"))
		rc = scenario_fanout(&o, &res);
	else if (!strcmp(o.scenario, "latency"))
		rc = scenario_latency(&o, &res);
	else if (!strcmp(o.scenario, "idle"))
		rc = scenario_idle(&o, &res);
	else {
		fprintf(stderr, "fleetmq-bench: unknown scenario '%s'\n", o.scenario);
		usage(stderr);
		return 2;
	}
	if (rc == 0)
		report(&o, &res);
	return rc;
}
