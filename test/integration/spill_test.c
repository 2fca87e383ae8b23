/* Long queues live in the store (max_queued_in_memory): a persistent
 * session offline with thousands of queued messages holds only the first
 * max_queued_in_memory in broker memory; the rest stay in the store and
 * come back in order, each exactly once, as the client drains its queue,
 * also across a SIGKILL and restart and when new messages keep arriving
 * while the store's part is read back. */
#include "harness.h"
#include "raw.h"

#include "core/procinfo.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSGS 4000
#define PAYLOAD 4096

static struct hb broker;

static void start(void)
{
	hb_start(&broker, "max_queued_messages 0\nmax_queued_in_memory 100\nmax_inflight_messages 20");
}
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(spill, .init = start, .fini = stop, .timeout = 180);

/* QoS 1 messages first..last-1 on topic, payload "%06d" then filler, a
 * window of 32 in flight; every one acknowledged. */
static void publish_range(struct raw *pub, const char *topic, int first, int last)
{
	static char payload[PAYLOAD + 1];
	int sent = first, acked = first;
	while (acked < last) {
		while (sent < last && sent - acked < 32) {
			snprintf(payload, sizeof(payload), "%06d", sent);
			memset(payload + 6, 'q', PAYLOAD - 6);
			raw_publish(pub, topic, payload, 1, false, (uint16_t)(sent % 60000 + 1));
			sent++;
		}
		raw_expect_ack(pub, MQTT_PUBACK);
		acked++;
	}
}

static int seq_of(const struct mqtt_publish *p)
{
	char text[7];
	cr_assert(p->payload.len >= 6);
	memcpy(text, p->payload.p, 6);
	text[6] = '\0';
	return atoi(text);
}

/* Reconnect and receive until n messages came: in order, each once. */
static void drain_in_order(struct raw *r, const char *id, int n)
{
	bool present = false;
	struct raw_connect_opts o = { .client_id = id, .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(r, broker.port, &o, &present), 0);
	cr_assert(present);
	for (int want = 0; want < n; want++) {
		struct mqtt_publish p;
		raw_expect_publish(r, &p);
		cr_assert_eq(seq_of(&p), want, "message %d came where %d was due", seq_of(&p), want);
		raw_ack(r, MQTT_PUBACK, p.packet_id);
	}
	cr_assert(raw_silent(r, 500), "more than %d messages", n);
}

/* 4,000 messages of 4 KiB (16 MB) for an offline session: broker memory
 * grows by a fraction of it, and all of it arrives in order. */
Test(spill, queue_beyond_the_memory_limit_stays_in_the_store_and_arrives_in_order)
{
	raw_park(broker.port, "sp-sub", "sp/#", 1);
	long before = proc_rss_kb(broker.pid);
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "sp-pub");
	publish_range(&pub, "sp/t", 0, MSGS);
	long after = proc_rss_kb(broker.pid);
	cr_assert(before > 0 && after > 0);
	/* in memory it would be 16 MB more; the store's page cache is ~2 MB
	 * (a sanitizer's quarantine or shadow memory says nothing of it) */
	if (!broker_sanitized())
		cr_assert_lt(after - before, 8 * 1024, "RSS grew %ld KiB for %d x %d bytes queued", after - before, MSGS,
			     PAYLOAD);
	struct raw sub;
	drain_in_order(&sub, "sp-sub", MSGS);
	raw_close(&sub);
	raw_close(&pub);
}

/* Spilled entries survive a crash: after SIGKILL and a restart the
 * recovery keeps the memory limit (logging how many stay in the store)
 * and the client gets everything, in order. */
Test(spill, spilled_queue_survives_a_restart_in_order)
{
	raw_park(broker.port, "sp-dur", "spd/#", 1);
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "sp-dpub");
	publish_range(&pub, "spd/t", 0, MSGS);
	raw_close(&pub);
	hb_terminate(&broker, SIGKILL);
	hb_restart(&broker);
	char line[64];
	snprintf(line, sizeof(line), "%d of the queued only in the store", MSGS - 100);
	cr_assert(hb_log_contains(&broker, line, 5000), "recovery keeps 100 in memory, the rest in the store");
	struct raw sub;
	drain_in_order(&sub, "sp-dur", MSGS);
	raw_close(&sub);
}

/* New messages keep arriving while the client drains: they queue behind
 * the store's part, never ahead of it [MQTT-4.6.0-6]. */
Test(spill, MQTT_4_6_0_6_new_messages_wait_behind_the_stored_part)
{
	raw_park(broker.port, "sp-live", "spl/#", 1);
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "sp-lpub");
	publish_range(&pub, "spl/t", 0, 1000);
	bool present = false;
	struct raw sub;
	struct raw_connect_opts o = { .client_id = "sp-live", .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(&sub, broker.port, &o, &present), 0);
	cr_assert(present);
	int want = 0;
	for (int batch = 1; batch <= 4; batch++) {
		/* publish 250 more, then read 250: the stored ones come first */
		publish_range(&pub, "spl/t", 1000 + (batch - 1) * 250, 1000 + batch * 250);
		for (int i = 0; i < 250; i++, want++) {
			struct mqtt_publish p;
			raw_expect_publish(&sub, &p);
			cr_assert_eq(seq_of(&p), want, "message %d came where %d was due", seq_of(&p), want);
			raw_ack(&sub, MQTT_PUBACK, p.packet_id);
		}
	}
	for (; want < 2000; want++) {
		struct mqtt_publish p;
		raw_expect_publish(&sub, &p);
		cr_assert_eq(seq_of(&p), want);
		raw_ack(&sub, MQTT_PUBACK, p.packet_id);
	}
	cr_assert(raw_silent(&sub, 500));
	raw_close(&sub);
	raw_close(&pub);
}

/* --- cases a review found (each failed before its fix) ---------------------- */

static struct hb small;

static void start_small(const char *extra)
{
	char conf[256];
	snprintf(conf, sizeof(conf), "max_queued_messages 0\nmax_queued_in_memory 10\nmax_inflight_messages 5\n%s",
		 extra ? extra : "");
	hb_start(&small, conf);
}

static void stop_small(void) { cr_assert_eq(hb_stop(&small), 0, "broker exit status"); }

TestSuite(spill_cases, .fini = stop_small, .timeout = 120);

/* n QoS 1 messages "%06d" numbered from first on topic, each acknowledged. */
static void publish_numbered(uint16_t port, const char *id, const char *topic, int first, int n)
{
	struct raw pub;
	raw_connect_simple(&pub, port, id);
	for (int i = first; i < first + n; i++) {
		char payload[8];
		snprintf(payload, sizeof(payload), "%06d", i);
		raw_publish(&pub, topic, payload, 1, false, (uint16_t)(i + 1));
		cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), i + 1);
	}
	raw_close(&pub);
}

/* Receive want messages on r, acknowledging each: in order, duplicates
 * (DUP resends) allowed, nothing missing. */
static void expect_numbered(struct raw *r, int first, int want)
{
	int next = first;
	while (next < first + want) {
		struct mqtt_publish p;
		raw_expect_publish(r, &p);
		int seq = seq_of(&p);
		cr_assert(seq <= next, "message %d came where %d was due", seq, next);
		if (seq == next)
			next++;
		raw_ack(r, MQTT_PUBACK, p.packet_id);
	}
}

/* Entries spilled while a read back was on its way stay counted: 17 queued
 * (10 in memory), the client takes 5 and, in one write, acknowledges them
 * and publishes 3 more to itself; all 20 arrive, in order. */
Test(spill_cases, MQTT_4_6_0_6_entries_spilled_during_a_read_back_are_not_forgotten)
{
	start_small("workers 1");
	raw_park(small.port, "sc-self", "sc/#", 1);
	publish_numbered(small.port, "sc-pub", "sc/t", 0, 17);
	struct raw r;
	bool present = false;
	struct raw_connect_opts o = { .client_id = "sc-self", .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(&r, small.port, &o, &present), 0);
	uint16_t ids[5];
	for (int i = 0; i < 5; i++) {
		struct mqtt_publish p;
		raw_expect_publish(&r, &p);
		cr_assert_eq(seq_of(&p), i);
		ids[i] = p.packet_id;
	}
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 5; i++) {
		struct mqtt_ack a = { .type = MQTT_PUBACK, .packet_id = ids[i] };
		cr_assert_eq(mqtt_encode_ack(&b, MQTT_V311, &a), FM_OK);
	}
	for (int i = 17; i < 20; i++) {
		char payload[8];
		snprintf(payload, sizeof(payload), "%06d", i);
		struct mqtt_publish p = { .qos = 1, .topic = { "sc/t", 4 }, .packet_id = (uint16_t)(1000 + i),
					  .payload = { (const uint8_t *)payload, 6 } };
		cr_assert_eq(mqtt_encode_publish(&b, MQTT_V311, &p), FM_OK);
	}
	raw_send_buf(&r, &b);
	buf_fini(&b);
	int next = 5, acks = 0;
	while (next < 20 || acks < 3) {
		struct mqtt_frame f;
		cr_assert_eq(raw_recv(&r, &f, 10000), FM_OK, "stopped at %d (%d acks)", next, acks);
		if (f.type == MQTT_PUBACK) {
			acks++;
			continue;
		}
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_OK);
		cr_assert_eq(seq_of(&p), next, "message %d came where %d was due", seq_of(&p), next);
		next++;
		raw_ack(&r, MQTT_PUBACK, p.packet_id);
	}
	raw_close(&r);
}

/* A reload that turns spilling off keeps the order: what waits in the
 * store comes before what arrives after the reload. */
Test(spill_cases, MQTT_4_6_0_6_reload_to_no_spilling_keeps_the_order)
{
	start_small(NULL);
	raw_park(small.port, "sc-reload", "sr/#", 1);
	publish_numbered(small.port, "sc-rpub", "sr/t", 0, 17);
	char conf[256];
	snprintf(conf, sizeof(conf), "listener %%PORT%% 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
				     "max_queued_in_memory 0\nmax_inflight_messages 5\n");
	hb_write_conf(&small, conf);
	hb_signal(&small, SIGHUP);
	cr_assert(hb_log_contains(&small, "SIGHUP: reloaded", 5000));
	publish_numbered(small.port, "sc-rpub", "sr/t", 17, 3);
	struct raw r;
	struct raw_connect_opts o = { .client_id = "sc-reload", .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(&r, small.port, &o, NULL), 0);
	expect_numbered(&r, 0, 20);
	raw_close(&r);
}

/* A subscriber that does not keep up still holds its publishers back when
 * its queue lives mostly in the store: nothing is dropped at the queue
 * limit while it is merely slow. */
Test(spill_cases, spilled_queue_still_holds_publishers_back)
{
	start_small("max_queued_messages 100\nworkers 1\n"); /* across workers the inbox backlog
								   * (FM_INBOUND_HIGH) is the bound */
	struct raw sub;
	struct raw_connect_opts o = { .client_id = "sc-slow", .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(&sub, small.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&sub, 1, "bp/#", 1), 1);
	/* the publisher sends 200 while the subscriber reads nothing */
	struct raw pub;
	raw_connect_simple(&pub, small.port, "sc-fast");
	for (int i = 0; i < 200; i++) {
		char payload[8];
		snprintf(payload, sizeof(payload), "%06d", i);
		raw_publish(&pub, "bp/t", payload, 1, false, (uint16_t)(i + 1));
	}
	expect_numbered(&sub, 0, 200); /* the publisher resumes as it drains */
	raw_close(&sub);
	raw_close(&pub);
}

/* A takeover while spilled entries are being read back: the new
 * connection gets every entry (the old one acknowledged none), in order. */
Test(spill_cases, takeover_during_a_read_back_loses_nothing)
{
	start_small("workers 4");
	for (int trial = 0; trial < 10; trial++) {
		char id[32], topic[32], filter[32];
		snprintf(id, sizeof(id), "sc-take-%d", trial);
		snprintf(topic, sizeof(topic), "tk%d/t", trial);
		snprintf(filter, sizeof(filter), "tk%d/#", trial);
		raw_park(small.port, id, filter, 1);
		publish_numbered(small.port, "sc-tpub", topic, 0, 17);
		struct raw first, second;
		struct raw_connect_opts o = { .client_id = id, .clean = false, .keepalive = 60 };
		cr_assert_eq(raw_connect(&first, small.port, &o, NULL), 0);
		cr_assert_eq(raw_connect(&second, small.port, &o, NULL), 0);
		expect_numbered(&second, 0, 17);
		raw_close(&first);
		raw_close(&second);
	}
}
