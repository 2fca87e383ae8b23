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
static void stop(void) { hb_stop(&broker); }

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
