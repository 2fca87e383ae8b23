/* fleetmq-store-fill: write a durable store at fleet size, for measuring
 * how the broker recovers from it (bench/store_scale.sh starts fleetmq on
 * the result and reads the restart time and RSS).
 *
 *   fleetmq-store-fill DIR SESSIONS [QUEUED] [RETAINED]
 *
 * SESSIONS persistent sessions (client ids dev-<i>), each subscribed to its
 * own command topic at QoS 1 with QUEUED messages waiting (default 1: one
 * broadcast command queued for every offline device, logged once and
 * referenced by each queue), plus RETAINED retained messages (default 0).
 * No MQTT 5.0 properties or subscription identifiers; the sessions' expiry
 * interval is left to the broker (STORE_INTERVAL_UNKNOWN: its configured
 * persistent_client_expiration applies at recovery, as for a store written
 * before intervals were kept).
 * Written through the store's own interface, in batches of 10,000
 * operations per transaction; bounded by its arguments. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPS_PER_BATCH 10000u

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void done_nothing(struct store_batch *b) { (void)b; }

/* Apply the batch once it is big enough (or at the end: force). */
static int maybe_apply(struct store *st, struct store_batch *b, bool force)
{
	if (b->n_ops == 0 || (!force && b->n_ops < OPS_PER_BATCH))
		return 0;
	store_apply_now(st, b);
	int rc = b->rc;
	store_batch_reset(b);
	if (rc != FM_OK)
		fprintf(stderr, "fleetmq-store-fill: a batch failed: %s\n", fm_strerror(rc));
	return rc == FM_OK ? 0 : 1;
}

static int fill_sessions(struct store *st, struct store_batch *b, unsigned sessions, unsigned queued)
{
	static const char payload[] = "{\"cmd\":\"firmware-update\",\"version\":\"2.4.1\"}";
	struct store_message m = { .topic = "fleet/broadcast", .topic_len = 15, .payload = payload,
				   .payload_len = sizeof(payload) - 1, .qos = 1 };
	for (unsigned q = 0; q < queued; q++) {
		m.msg_id = q + 1;
		if (store_msg_add(b, &m) != FM_OK)
			return 1;
	}
	char id[32], filter[64];
	for (unsigned i = 0; i < sessions; i++) {
		int il = snprintf(id, sizeof(id), "dev-%u", i);
		int fl = snprintf(filter, sizeof(filter), "fleet/s%u/d%u/cmd", i / 1000, i);
		if (store_session_put(b, id, (size_t)il, 0, STORE_INTERVAL_UNKNOWN) != FM_OK ||
		    store_sub_put(b, id, (size_t)il, filter, (size_t)fl, 1, 0) != FM_OK)
			return 1;
		for (unsigned q = 0; q < queued; q++)
			if (store_ref_add(b, id, (size_t)il, q + 1, 1, STORE_REF_QUEUED, 0, 0) != FM_OK)
				return 1;
		if (maybe_apply(st, b, false))
			return 1;
	}
	return maybe_apply(st, b, true);
}

static int fill_retained(struct store *st, struct store_batch *b, unsigned retained)
{
	char topic[64], payload[32];
	for (unsigned i = 0; i < retained; i++) {
		int tl = snprintf(topic, sizeof(topic), "fleet/s%u/d%u/state", i / 1000, i);
		int pl = snprintf(payload, sizeof(payload), "{\"online\":false,\"n\":%u}", i);
		struct store_message m = { .topic = topic, .topic_len = (size_t)tl, .payload = payload,
					   .payload_len = (size_t)pl, .qos = 1 };
		if (store_retain_put(b, &m) != FM_OK || maybe_apply(st, b, false))
			return 1;
	}
	return maybe_apply(st, b, true);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fleetmq-store-fill DIR SESSIONS [QUEUED] [RETAINED]\n");
		return 2;
	}
	unsigned sessions = (unsigned)strtoul(argv[2], NULL, 10);
	unsigned queued = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1;
	unsigned retained = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
	struct store_opts o = {.dir = argv[1], .durability = STORE_FULL};
	struct fm_errbuf eb = {{0}};
	struct store *st;
	if (store_open(&st, &o, &eb) != FM_OK) {
		fprintf(stderr, "fleetmq-store-fill: %s\n", eb.msg);
		return 1;
	}
	struct store_batch b;
	store_batch_init(&b, done_nothing);
	double t0 = now_s();
	int rc = fill_sessions(st, &b, sessions, queued) || fill_retained(st, &b, retained);
	double took = now_s() - t0;
	store_batch_fini(&b);
	store_close(st);
	if (rc)
		return 1;
	printf("store %s: %u sessions (one subscription, %u queued each), %u retained written in %.1f s\n", argv[1],
	       sessions, queued, retained, took);
	return 0;
}
