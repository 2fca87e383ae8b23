/* fleetmq-scale: scale checks that need no sockets. Builds the router's
 * trees at fleet size and measures memory and rates:
 *   subscriptions: N subscriptions (a device filter each, plus wildcard
 *                  filters), subscribe rate, match rate, RSS per subscription
 *   retained:      N retained messages, set rate, wildcard lookup cost
 * Bounded by N; prints one line per check. */
#include "session/msg.h"
#include "topic/topic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Heap bytes in use (malloc's own count: RSS would hide memory that an
 * earlier check freed and this one reuses). */
static double heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return (double)mi.uordblks + (double)mi.hblkhd;
}

/* Device i's topic: fleet/<site>/<device>/telemetry, 1000 devices a site. */
static int device_topic(char *out, size_t len, unsigned i, const char *leaf)
{
	return snprintf(out, len, "fleet/s%u/d%u/%s", i / 1000, i, leaf);
}

static uint64_t matches;
static void count_match(void *arg, const struct topic_sub *sub)
{
	(void)arg;
	(void)sub;
	matches++;
}

static int check_subscriptions(unsigned n)
{
	struct topic_tree *t = topic_tree_new();
	if (!t)
		return 1;
	double heap0 = heap_bytes();
	double t0 = now_s();
	char filter[96];
	for (unsigned i = 0; i < n; i++) {
		/* every device listens to its own command topic; one in 100 is a
		 * gateway with a site-wide wildcard */
		int len = i % 100 == 0 ? snprintf(filter, sizeof(filter), "fleet/s%u/+/telemetry", i / 1000)
				       : device_topic(filter, sizeof(filter), i, "cmd");
		struct topic_sub sub = {.subscriber = (void *)(uintptr_t)(i + 1), .options = 1};
		bool replaced;
		if (topic_tree_add(t, filter, (size_t)len, &sub, &replaced) != 0) {
			fprintf(stderr, "fleetmq-scale: out of memory at %u subscriptions\n", i);
			return 1;
		}
	}
	double t1 = now_s();
	double heap1 = heap_bytes();
	unsigned lookups = n < 1000000 ? n : 1000000;
	char topic[96];
	matches = 0;
	double t2 = now_s();
	for (unsigned k = 0; k < lookups; k++) {
		unsigned i = (unsigned)(((uint64_t)k * 2654435761u) % n);
		int len = device_topic(topic, sizeof(topic), i, k % 2 ? "cmd" : "telemetry");
		topic_tree_match(t, topic, (size_t)len, count_match, NULL);
	}
	double t3 = now_s();
	printf("subscriptions: %zu in the tree, %.0f subscribes/s, %.0f heap bytes each; "
	       "%.0f matches/s over %u random topics (%llu subscriptions matched)\n",
	       topic_tree_count(t), n / (t1 - t0), (heap1 - heap0) / n, lookups / (t3 - t2),
	       lookups, (unsigned long long)matches);
	topic_tree_free(t);
	return 0;
}

static void unref_msg(void *v) { msg_unref(v); }

static uint64_t found;
static void count_retained(void *arg, void *value)
{
	(void)arg;
	(void)value;
	found++;
}

static int check_retained(unsigned n)
{
	struct retain_tree *t = retain_tree_new(unref_msg, NULL);
	if (!t)
		return 1;
	double heap0 = heap_bytes();
	double t0 = now_s();
	char topic[96];
	static const char payload[] = "{\"state\":\"ok\",\"fw\":\"1.2.3\"}";
	for (unsigned i = 0; i < n; i++) {
		int len = device_topic(topic, sizeof(topic), i, "status");
		struct msg *m = msg_new(topic, (size_t)len, payload, sizeof(payload) - 1, 1, true);
		if (!m || retain_tree_set(t, topic, (size_t)len, m) != 0) {
			fprintf(stderr, "fleetmq-scale: out of memory at %u retained\n", i);
			return 1;
		}
	}
	double t1 = now_s();
	double heap1 = heap_bytes();
	/* a site's worth by wildcard, then one device exactly */
	found = 0;
	double t2 = now_s();
	unsigned sites = n / 1000 ? n / 1000 : 1;
	for (unsigned s = 0; s < 100; s++) {
		int len = snprintf(topic, sizeof(topic), "fleet/s%u/+/status", (s * 7919) % sites);
		retain_tree_match(t, topic, (size_t)len, count_retained, NULL);
	}
	double t3 = now_s();
	uint64_t per_site = found / 100;
	found = 0;
	double t4 = now_s();
	retain_tree_match(t, "fleet/#", 7, count_retained, NULL);
	double t5 = now_s();
	printf("retained: %zu messages, %.0f sets/s, %.0f heap bytes each (message included, %zu-byte payloads); "
	       "site wildcard (%llu matches) %.1f us; 'fleet/#' over all %llu in %.0f ms\n",
	       retain_tree_count(t), n / (t1 - t0), (heap1 - heap0) / n, sizeof(payload) - 1,
	       (unsigned long long)per_site, (t3 - t2) * 1e6 / 100, (unsigned long long)found, (t5 - t4) * 1e3);
	retain_tree_free(t);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000000;
	if (n == 0 || n > 50000000) {
		fprintf(stderr, "usage: fleetmq-scale [N]   (1 <= N <= 50000000, default 1000000)\n");
		return 2;
	}
	return check_subscriptions(n) || check_retained(n);
}
