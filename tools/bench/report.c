/* fleetmq-bench: printing a run's result, as text or as one JSON object
 * per run (--json, for scripts such as bench/compare.sh). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --tls: the handshakes behind the numbers. Resumption the client offered
 * and the broker never granted is said in words: the "resumed" numbers
 * would otherwise be full handshakes under a resumed name. */
static void report_tls(const struct bench_opts *o, const struct tls_stats *t)
{
	if (!o->tls_cafile)
		return;
	printf("  TLS (%s): %llu handshakes, %llu full, %llu resumed of %llu offered a session, %llu failed%s\n",
	       t->suite[0] ? t->suite : "none completed", (unsigned long long)t->handshakes,
	       (unsigned long long)(t->handshakes - t->resumed), (unsigned long long)t->resumed,
	       (unsigned long long)t->offered, (unsigned long long)t->failed,
	       t->offered && !t->resumed ? "; the broker resumed NONE of the offered sessions" : "");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void bench_sort_ns(uint64_t *v, uint64_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
}

double bench_pct_us(const uint64_t *sorted_ns, uint64_t n, double pct)
{
	if (n == 0)
		return 0;
	uint64_t i = (uint64_t)(pct / 100.0 * (double)(n - 1) + 0.5);
	return (double)sorted_ns[i < n ? i : n - 1] / 1000.0;
}

static void report_json(const struct bench_opts *o, const struct bench_result *r)
{
	printf("{\"scenario\":\"%s\",\"qos\":%u,\"rate\":%.1f,\"unit\":\"%s\",\"count\":%llu,"
	       "\"elapsed_s\":%.3f,\"lost\":%llu,\"dups\":%llu,\"reordered\":%llu,"
	       "\"broker_cpu_us_per_msg\":%.3f,\"broker_rss_kb\":%.0f,\"bytes_per_conn\":%.1f,"
	       "\"self_cpu_pct\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	       "\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f,\"rtt_max_us\":%.1f,"
	       "\"set_rate\":%.1f,\"set_self_cpu_pct\":%.1f,\"failures\":%llu,\"resumed\":%llu,"
	       "\"share_min_pct\":%.2f,\"share_max_pct\":%.2f,"
	       "\"tls\":%s,\"tls_handshakes\":%llu,\"tls_offered\":%llu,\"tls_resumed\":%llu,"
	       "\"tls_failed\":%llu,\"tls_suite\":\"%s\",\"wake_same_p50_us\":%.1f,\"wake_same_p99_us\":%.1f}\n",
	       o->scenario, !strcmp(o->scenario, "latency") ? 1u : o->qos, r->rate, r->unit, (unsigned long long)r->count, r->elapsed_s,
	       (unsigned long long)r->lost, (unsigned long long)r->dups, (unsigned long long)r->reordered,
	       r->broker_cpu_us_per_msg, r->broker_rss_kb, r->bytes_per_conn, r->self_cpu_pct,
	       r->p50_us, r->p99_us, r->max_us, r->rtt_p50_us, r->rtt_p99_us, r->rtt_max_us,
	       r->set_rate, r->set_self_cpu_pct, (unsigned long long)r->failures, (unsigned long long)r->resumed,
	       r->share_min_pct, r->share_max_pct, o->tls_cafile ? "true" : "false", (unsigned long long)r->tls.handshakes,
	       (unsigned long long)r->tls.offered, (unsigned long long)r->tls.resumed,
	       (unsigned long long)r->tls.failed, r->tls.suite, r->wake_same_p50_us, r->wake_same_p99_us);
}

void bench_report(const struct bench_opts *o, const struct bench_result *r)
{
	if (o->json) {
		report_json(o, r);
		return;
	}
	if (!strcmp(o->scenario, "latency")) {
		printf("latency (%s): %llu samples, one-way p50 %.1f us p99 %.1f us max %.1f us; "
		       "%s p50 %.1f us p99 %.1f us max %.1f us\n",
		       o->rate ? "open loop" : "closed loop", (unsigned long long)r->count, r->p50_us, r->p99_us,
		       r->max_us, o->rate ? "PUBACK round trip" : "round trip (delivery + PUBACK)", r->rtt_p50_us,
		       r->rtt_p99_us, r->rtt_max_us);
	} else if (!strcmp(o->scenario, "wake")) {
		char pace[32] = "back to back";
		if (o->rate)
			snprintf(pace, sizeof(pace), "at %u/s", o->rate);
		printf("wake: %llu round trips each, %s; one CPU (%d): p50 %.1f us p99 %.1f us; "
		       "two CPUs (%d, %d): p50 %.1f us p99 %.1f us max %.1f us\n",
		       (unsigned long long)r->count, pace, r->wake_cpus[0], r->wake_same_p50_us, r->wake_same_p99_us,
		       r->wake_cpus[0], r->wake_cpus[1], r->p50_us, r->p99_us, r->max_us);
	} else if (!strcmp(o->scenario, "idle")) {
		printf("idle: %llu connections at %.0f connections/s; broker %.0f bytes per connection (RSS %.0f kB), "
		       "%.1f us CPU per connection; generator CPU %.0f%%\n",
		       (unsigned long long)r->count, r->rate, r->bytes_per_conn, r->broker_rss_kb,
		       r->broker_cpu_us_per_msg, r->self_cpu_pct);
	} else if (!strcmp(o->scenario, "retained")) {
		printf("retained: %u stored at %.0f sets/s (generator CPU %.0f%%); %llu delivered to %u subscribers "
		       "(qos %u) in %.2f s = %.0f deliveries/s; missing %llu, duplicates %llu, protocol failures %llu; "
		       "broker %.2f us CPU per delivery; generator CPU %.0f%%\n",
		       o->msgs, r->set_rate, r->set_self_cpu_pct, (unsigned long long)r->count, o->subs, o->qos,
		       r->elapsed_s, r->rate, (unsigned long long)r->lost, (unsigned long long)r->dups,
		       (unsigned long long)r->failures, r->broker_cpu_us_per_msg, r->self_cpu_pct);
	} else if (!strcmp(o->scenario, "shared")) {
		printf("shared qos %u: %llu delivered to %u consumers in %.2f s = %.0f deliveries/s; consumer share "
		       "min %.2f%% max %.2f%% (even: %.2f%%); lost %llu, duplicates %llu, reordered %llu, foreign %llu; "
		       "broker %.2f us CPU per delivery; generator CPU %.0f%%\n",
		       o->qos, (unsigned long long)r->count, o->subs, r->elapsed_s, r->rate, r->share_min_pct,
		       r->share_max_pct, 100.0 / o->subs, (unsigned long long)r->lost, (unsigned long long)r->dups,
		       (unsigned long long)r->reordered, (unsigned long long)r->failures, r->broker_cpu_us_per_msg,
		       r->self_cpu_pct);
	} else if (!strcmp(o->scenario, "churn")) {
		printf("churn (%s sessions): %llu cycles at %.0f cycles/s, %llu failures, %llu sessions resumed; "
		       "broker %.1f us CPU per cycle; generator CPU %.0f%%\n",
		       o->clean ? "clean" : "persistent", (unsigned long long)r->count, r->rate,
		       (unsigned long long)r->failures, (unsigned long long)r->resumed, r->broker_cpu_us_per_msg,
		       r->self_cpu_pct);
	} else {
		printf("%s qos %u: %llu delivered in %.2f s = %.0f %s; lost %llu, duplicates %llu, reordered %llu; "
		       "broker %.2f us CPU per message; generator CPU %.0f%%\n",
		       o->scenario, o->qos, (unsigned long long)r->count, r->elapsed_s, r->rate, r->unit,
		       (unsigned long long)r->lost, (unsigned long long)r->dups, (unsigned long long)r->reordered,
		       r->broker_cpu_us_per_msg, r->self_cpu_pct);
	}
	report_tls(o, &r->tls);
}
