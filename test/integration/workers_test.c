/* Several worker threads: connections land on different workers
 * (SO_REUSEPORT), so these exercise delivery between workers through their
 * inboxes and session takeover across workers. Run against a
 * ThreadSanitizer build of the broker in CI (FLEETMQ_TEST_BIN). */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct hb broker;

static void start(void) { hb_start(&broker, "workers 4\nmax_inflight_messages 0\nmax_queued_messages 0"); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(workers, .init = start, .fini = stop, .timeout = 120);

#define SUBS 12
#define PUBS 4
#define PER_PUB 150

Test(workers, every_subscriber_gets_every_qos1_message_once_in_order_MQTT_4_6_0_6)
{
	cr_assert(hb_log_contains(&broker, "with 4 workers", 2000));
	struct raw sub[SUBS], pub[PUBS];
	char id[32], payload[32];
	for (int i = 0; i < SUBS; i++) {
		snprintf(id, sizeof(id), "sub-%d", i);
		raw_connect_simple(&sub[i], broker.port, id);
		cr_assert_eq(raw_subscribe(&sub[i], 1, "fan/#", 1), 1);
	}
	for (int p = 0; p < PUBS; p++) {
		snprintf(id, sizeof(id), "pub-%d", p);
		raw_connect_simple(&pub[p], broker.port, id);
	}
	/* publishers interleave; each one's messages must stay in order */
	for (int n = 0; n < PER_PUB; n++)
		for (int p = 0; p < PUBS; p++) {
			snprintf(payload, sizeof(payload), "%d:%d", p, n);
			raw_publish(&pub[p], "fan/x", payload, 1, false, (uint16_t)(n + 1));
		}
	for (int p = 0; p < PUBS; p++)
		for (int n = 0; n < PER_PUB; n++)
			raw_expect_ack(&pub[p], MQTT_PUBACK);
	for (int i = 0; i < SUBS; i++) {
		int next[PUBS] = {0};
		for (int k = 0; k < PUBS * PER_PUB; k++) {
			struct mqtt_publish m;
			raw_expect_publish(&sub[i], &m);
			int p, n;
			char text[32];
			snprintf(text, sizeof(text), "%.*s", (int)m.payload.len, (const char *)m.payload.p);
			cr_assert_eq(sscanf(text, "%d:%d", &p, &n), 2);
			cr_assert(p >= 0 && p < PUBS);
			cr_assert_eq(n, next[p], "subscriber %d: publisher %d message %d arrived, expected %d",
				     i, p, n, next[p]);
			next[p]++;
			raw_ack(&sub[i], MQTT_PUBACK, m.packet_id);
		}
		cr_assert(raw_silent(&sub[i], 50), "duplicate delivery");
	}
	for (int i = 0; i < SUBS; i++)
		raw_close(&sub[i]);
	for (int p = 0; p < PUBS; p++)
		raw_close(&pub[p]);
}

/* The same client id reconnecting over and over: each new connection
 * may land on another worker and must take the session over from whichever
 * worker holds it [MQTT-3.1.4-2], keeping its subscriptions and queue. */
Test(workers, persistent_session_follows_its_client_across_workers_MQTT_3_1_4_2)
{
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "pub");
	struct raw_connect_opts o = {.client_id = "roamer", .clean = false, .keepalive = 30};
	struct raw r;
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&r, 1, "roam", 1), 1);
	char payload[16];
	for (int round = 0; round < 30; round++) {
		struct raw next;
		bool present = false;
		/* connect the new one while the old one is still open: a takeover */
		cr_assert_eq(raw_connect(&next, broker.port, &o, &present), 0);
		cr_assert(present, "round %d: session lost", round);
		cr_assert(raw_closed_within(&r, 5000, NULL), "round %d: old connection not closed", round);
		raw_close(&r);
		r = next;
		snprintf(payload, sizeof(payload), "%d", round);
		raw_publish(&pub, "roam", payload, 1, false, (uint16_t)(round + 1));
		raw_expect_ack(&pub, MQTT_PUBACK);
		/* a PUBACK the old connection sent may not have been read before
		 * the takeover: that message comes again, with DUP [MQTT-4.4.0-1] */
		struct mqtt_publish m;
		for (;;) {
			raw_expect_publish(&r, &m);
			raw_ack(&r, MQTT_PUBACK, m.packet_id);
			if (m.payload.len == strlen(payload) && memcmp(m.payload.p, payload, m.payload.len) == 0)
				break;
			cr_assert(m.dup, "round %d: unexpected message %.*s without DUP", round,
				  (int)m.payload.len, (const char *)m.payload.p);
		}
	}
	raw_close(&r);
	raw_close(&pub);
}

Test(workers, messages_queued_offline_survive_a_move_to_another_worker_MQTT_3_1_2_5)
{
	struct raw_connect_opts o = {.client_id = "sleeper", .clean = false, .keepalive = 30};
	struct raw r, pub;
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	raw_subscribe(&r, 1, "later", 1);
	raw_close(&r);
	raw_connect_simple(&pub, broker.port, "pub");
	char payload[16];
	for (int i = 0; i < 50; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		raw_publish(&pub, "later", payload, 1, false, (uint16_t)(i + 1));
		raw_expect_ack(&pub, MQTT_PUBACK);
	}
	/* several reconnects without reading: each may move the session */
	for (int k = 0; k < 5; k++) {
		struct raw brief;
		cr_assert_eq(raw_connect(&brief, broker.port, &o, NULL), 0);
		raw_close(&brief);
	}
	bool present = false;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert(present);
	int got = 0;
	struct mqtt_frame f;
	while (raw_recv(&r, &f, 1000) == FM_OK) {
		struct mqtt_publish m;
		uint8_t reason;
		cr_assert(mqtt_decode_publish(&f, MQTT_V311, &m, &reason) == FM_OK);
		raw_ack(&r, MQTT_PUBACK, m.packet_id);
		got++;
	}
	/* brief connections received (and did not acknowledge) some: those are
	 * resent, so every message arrives at least once */
	cr_assert_geq(got, 50, "only %d of 50 queued messages arrived", got);
	raw_close(&r);
	raw_close(&pub);
}

Test(workers, simultaneous_connects_with_one_client_id_leave_exactly_one_MQTT_3_1_4_2)
{
	struct raw a, b;
	raw_open(&a, broker.port);
	raw_open(&b, broker.port);
	struct buf buf;
	buf_init(&buf);
	struct mqtt_connect c = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 30,
				 .client_id = {"twin", 4}};
	mqtt_encode_connect(&buf, &c);
	raw_send(&a, buf_head(&buf), buf_used(&buf));
	raw_send(&b, buf_head(&buf), buf_used(&buf));
	buf_fini(&buf);
	struct mqtt_frame f;
	raw_expect(&a, MQTT_CONNACK, &f);
	raw_expect(&b, MQTT_CONNACK, &f);
	bool a_closed = raw_closed_within(&a, 1500, NULL);
	bool b_closed = raw_closed_within(&b, 1500, NULL);
	cr_assert(a_closed != b_closed, "exactly one of the two must survive (a %d, b %d)", a_closed, b_closed);
	raw_close(&a);
	raw_close(&b);
}

/* The stop line's "N delivery batches to other workers, M allocated". */
static bool read_batch_counts(const struct hb *b, unsigned long long *batches, unsigned long long *allocated)
{
	FILE *f = fopen(b->log_path, "r");
	if (!f)
		return false;
	char line[1024];
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "delivery batches to other workers");
		if (!p)
			continue;
		while (p > line && p[-1] == ' ')
			p--;
		while (p > line && p[-1] >= '0' && p[-1] <= '9')
			p--;
		found = sscanf(p, "%llu delivery batches to other workers, %llu allocated", batches, allocated) == 2;
	}
	fclose(f);
	return found;
}

/* Deliveries to sessions on other workers travel in batches that their
 * consumers hand back for reuse: one message at a time for 2,000 rounds
 * posts about a batch per round, yet only a handful are ever allocated. */
Test(workers, cross_worker_delivery_batches_are_reused_not_allocated_per_message)
{
	struct raw sub, pub[8];
	raw_connect_simple(&sub, broker.port, "batch-sub");
	cr_assert_eq(raw_subscribe(&sub, 1, "batch/#", 0), 0);
	char id[32];
	for (int p = 0; p < 8; p++) { /* at least one lands on another worker */
		snprintf(id, sizeof(id), "batch-pub-%d", p);
		raw_connect_simple(&pub[p], broker.port, id);
	}
	for (int n = 0; n < 250; n++)
		for (int p = 0; p < 8; p++) {
			raw_publish(&pub[p], "batch/x", "x", 1, false, (uint16_t)(n + 1));
			raw_expect_ack(&pub[p], MQTT_PUBACK);
			struct mqtt_publish m;
			raw_expect_publish(&sub, &m); /* one in flight at a time */
		}
	for (int p = 0; p < 8; p++)
		raw_close(&pub[p]);
	raw_close(&sub);
	hb_signal(&broker, SIGTERM);
	cr_assert(hb_log_contains(&broker, "fleetmq stopped", 10000));
	unsigned long long batches = 0, allocated = 0;
	cr_assert(read_batch_counts(&broker, &batches, &allocated), "no batch counts in the stop line");
	cr_log_info("%llu cross-worker batches, %llu allocated", batches, allocated);
	cr_assert_geq(batches, 250, "only %llu cross-worker batches: publishers all on the subscriber's worker?",
		      batches);
	cr_assert_leq(allocated, 16, "%llu batches allocated for %llu posted", allocated, batches);
}
