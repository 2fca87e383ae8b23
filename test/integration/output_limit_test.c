/* The per-client output limit (max_output_buffer) and the slow-consumer
 * timeout (slow_consumer_timeout), both set low here, and max_topic_length:
 * a subscriber that stops reading while several publishers flood it has its
 * QoS 0 dropped past the limit (counted), is closed once it has written
 * nothing for the timeout, and a canary connected throughout misses
 * nothing; a topic or filter longer than max_topic_length is refused as a
 * deeper one is (limits_test.c). */
#include "harness.h"
#include "hostile.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FLOOD_PUBLISHERS 6
#define FLOOD_MESSAGES 3
#define FLOOD_SIZE (600u * 1024u)

static struct hb broker;

static void start(void)
{
	hb_start(&broker, "max_output_buffer 2097152\nslow_consumer_timeout 1\nmax_topic_length 32\nsys_interval 1\n"
			  "log_type all");
}
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "the broker did not exit cleanly"); }

TestSuite(output_limit, .init = start, .fini = stop, .timeout = 60);

static void connect_v(struct raw *r, const char *id, uint8_t version)
{
	struct raw_connect_opts o = { .version = version, .client_id = id, .clean = true, .keepalive = 60 };
	cr_assert_eq(raw_connect(r, broker.port, &o, NULL), 0);
}

/* The dropped count in $SYS (published every second here) until it is
 * above zero; the count of this broker's drops of every kind, of which
 * this test causes only the one. */
static long wait_sys_dropped(struct raw *watcher, int timeout_ms)
{
	struct mqtt_frame f;
	while (raw_recv(watcher, &f, timeout_ms) == FM_OK) {
		struct mqtt_publish p;
		uint8_t reason;
		static const char name[] = "$SYS/broker/publish/messages/dropped";
		if (f.type != MQTT_PUBLISH || mqtt_decode_publish(&f, MQTT_V311, &p, &reason) != FM_OK ||
		    p.topic.len != sizeof(name) - 1 || memcmp(p.topic.p, name, p.topic.len) != 0)
			continue;
		char text[32] = { 0 };
		memcpy(text, p.payload.p, p.payload.len < sizeof(text) - 1 ? p.payload.len : sizeof(text) - 1);
		long n = strtol(text, NULL, 10);
		if (n > 0)
			return n;
	}
	return 0;
}

/* Read and discard what fd has until the peer's close (true) or until
 * timeout_ms pass. Its packets are too large for the raw client's buffer. */
static bool drained_to_eof(int fd, int timeout_ms)
{
	static char scratch[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, timeout_ms) == 1) {
		ssize_t n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0)
			return true;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return errno == ECONNRESET;
	}
	return false;
}

/* Each publisher may add a message to a saturated subscriber's output
 * before it is paused, so six of them with 600 KB messages carry that
 * output past the 2 MiB limit: those deliveries are dropped. The
 * subscriber, reading nothing, is closed after slow_consumer_timeout, and
 * the paused publishers go on. */
Test(output_limit, qos0_past_max_output_buffer_dropped_then_the_stuck_reader_closed)
{
	struct canary c;
	canary_up(&c, &broker);
	long rss_base = broker_rss_kb(&broker);
	struct raw watcher, stuck, pub[FLOOD_PUBLISHERS];
	connect_v(&watcher, "out-watch", MQTT_V311);
	/* the whole name is longer than this suite's max_topic_length */
	cr_assert_eq(raw_subscribe(&watcher, 1, "$SYS/broker/publish/messages/+", 0), 0);
	connect_v(&stuck, "out-stuck", MQTT_V5);
	cr_assert_eq(raw_subscribe(&stuck, 1, "flood/#", 0), 0);
	char *payload = malloc(FLOOD_SIZE + 1);
	cr_assert_not_null(payload);
	memset(payload, 'f', FLOOD_SIZE);
	payload[FLOOD_SIZE] = '\0';
	for (int i = 0; i < FLOOD_PUBLISHERS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "out-pub%d", i);
		connect_v(&pub[i], id, MQTT_V311);
	}
	for (int m = 0; m < FLOOD_MESSAGES; m++)
		for (int i = 0; i < FLOOD_PUBLISHERS; i++)
			raw_publish(&pub[i], "flood/x", payload, 0, false, 0);
	free(payload);
	cr_assert(hb_log_contains(&broker, "slow consumer: output not draining", 15000),
		  "a subscriber that reads nothing was not closed after slow_consumer_timeout");
	cr_assert(drained_to_eof(stuck.fd, 10000), "the stuck subscriber's connection stayed open");
	long dropped = wait_sys_dropped(&watcher, 5000);
	cr_assert_gt(dropped, 0, "no QoS 0 delivery was dropped past max_output_buffer");
	cr_log_info("%ld QoS 0 deliveries dropped past max_output_buffer", dropped);
	/* the publishers were paused, not dropped: each is served again */
	for (int i = 0; i < FLOOD_PUBLISHERS; i++) {
		cr_assert_eq(raw_subscribe(&pub[i], 9, "sync", 0), 0, "publisher %d not served after the close", i);
		raw_close(&pub[i]);
	}
	raw_close(&stuck);
	raw_close(&watcher);
	canary_down(&c, "a stuck subscriber flooded past max_output_buffer");
	/* Bounded, not back to the byte: the 10.8 MB of messages went through
	 * the workers' malloc arenas, which keep some of what was freed (about
	 * 12 MB here; a second flood reuses it rather than adding to it). A
	 * broker that kept the stuck client's output, or the messages, would
	 * be past this; leaks are LeakSanitizer's to find at the exit. */
	rss_settles_near(&broker, rss_base, 32 * 1024, "after the stuck subscriber");
}

/* max_topic_length 32: a longer filter is refused in its SUBACK slot
 * (3.1.1 0x80, 5.0 0x97 Quota Exceeded) [MQTT-3.9.3-1]; a longer topic in
 * a PUBLISH closes its connection (5.0: DISCONNECT 0x97); 32 bytes pass. */
Test(output_limit, max_topic_length_refuses_long_filters_and_closes_long_publishers)
{
	const char *at_limit = "0123456789/0123456789/0123456789"; /* 32 bytes */
	const char *too_long = "0123456789/0123456789/0123456789/";
	cr_assert_eq(strlen(at_limit), 32);
	struct raw sub3, sub5, p3, p5, ok;
	connect_v(&sub3, "len-sub3", MQTT_V311);
	connect_v(&sub5, "len-sub5", MQTT_V5);
	cr_assert_eq(raw_subscribe(&sub3, 1, at_limit, 1), 1, "a filter of 32 bytes");
	cr_assert_eq(raw_subscribe(&sub3, 2, too_long, 1), MQTT_SUBACK_FAILURE, "3.1.1: a filter of 33 bytes");
	cr_assert_eq(raw_subscribe(&sub5, 1, too_long, 1), MQTT_RC_QUOTA_EXCEEDED, "5.0: a filter of 33 bytes");
	connect_v(&p3, "len-p3", MQTT_V311);
	raw_publish(&p3, too_long, "long", 0, false, 0);
	cr_assert(raw_closed_within(&p3, 3000, NULL), "3.1.1: a 33-byte topic closes");
	connect_v(&p5, "len-p5", MQTT_V5);
	raw_publish(&p5, too_long, "long", 1, false, 1);
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&p5, 3000, &d), MQTT_RC_QUOTA_EXCEEDED, "5.0: DISCONNECT 0x97");
	connect_v(&ok, "len-ok", MQTT_V311);
	raw_publish(&ok, at_limit, "fits", 1, false, 1);
	cr_assert_eq(raw_expect_ack(&ok, MQTT_PUBACK), 1);
	struct mqtt_publish p;
	raw_expect_publish(&sub3, &p);
	raw_assert_publish(&p, at_limit, "fits");
	raw_close(&sub3);
	raw_close(&sub5);
	raw_close(&p3);
	raw_close(&p5);
	raw_close(&ok);
}
