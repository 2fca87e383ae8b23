/* Limits that protect the fleet: max_subscriptions (per client) and
 * max_topic_levels. A filter past them is refused in its own SUBACK slot
 * (3.1.1 0x80, 5.0 0x97 Quota Exceeded) while the others are granted; a
 * PUBLISH whose topic is too deep closes its connection (5.0: DISCONNECT
 * 0x97); other clients are not affected. max_publish_rate slows a
 * publisher down to its rate without dropping anything or slowing others. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct hb broker;

static void start(void) { hb_start(&broker, "max_subscriptions 3\nmax_topic_levels 4\nmax_publish_rate 20"); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(limits, .init = start, .fini = stop, .timeout = 60);

static void connect_v(struct raw *r, const char *id, uint8_t version)
{
	struct raw_connect_opts o = { .version = version, .client_id = id, .clean = true, .keepalive = 60 };
	cr_assert_eq(raw_connect(r, broker.port, &o, NULL), 0);
}

Test(limits, max_subscriptions_refuses_the_one_too_many_and_takes_replacements)
{
	struct raw r3, r5;
	connect_v(&r3, "lim-subs3", MQTT_V311);
	connect_v(&r5, "lim-subs5", MQTT_V5);
	const char *f[] = { "l/a", "l/b", "l/c", "l/d" };
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(raw_subscribe(&r3, (uint16_t)(i + 1), f[i], 1), 1);
		cr_assert_eq(raw_subscribe(&r5, (uint16_t)(i + 1), f[i], 1), 1);
	}
	cr_assert_eq(raw_subscribe(&r3, 4, f[3], 1), MQTT_SUBACK_FAILURE, "a fourth filter, 3.1.1");
	cr_assert_eq(raw_subscribe(&r5, 4, f[3], 1), MQTT_RC_QUOTA_EXCEEDED, "a fourth filter, 5.0");
	cr_assert_eq(raw_subscribe(&r3, 5, f[1], 2), 2, "an existing filter is replaced [MQTT-3.8.4-3]");
	raw_unsubscribe(&r3, 6, f[0]);
	cr_assert_eq(raw_subscribe(&r3, 7, f[3], 1), 1, "room again after UNSUBSCRIBE");
	raw_close(&r3);
	raw_close(&r5);
}

Test(limits, max_topic_levels_refuses_deep_filters_and_closes_deep_publishers)
{
	struct raw sub, p3, p5;
	connect_v(&sub, "lim-deep-sub", MQTT_V311);
	cr_assert_eq(raw_subscribe(&sub, 1, "a/b/c/d", 1), 1, "four levels");
	cr_assert_eq(raw_subscribe(&sub, 2, "a/b/c/d/e", 1), MQTT_SUBACK_FAILURE, "five levels");
	connect_v(&p3, "lim-deep-p3", MQTT_V311);
	raw_publish(&p3, "a/b/c/d/e", "deep", 0, false, 0);
	cr_assert(raw_closed_within(&p3, 3000, NULL), "3.1.1: closed");
	connect_v(&p5, "lim-deep-p5", MQTT_V5);
	raw_publish(&p5, "x/y/z/w/v", "deep", 1, false, 1);
	struct mqtt_frame f;
	raw_expect(&p5, MQTT_DISCONNECT, &f);
	struct mqtt_disconnect d;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_disconnect(&f, MQTT_V5, &d, &reason), FM_OK);
	cr_assert_eq(d.reason, MQTT_RC_QUOTA_EXCEEDED, "5.0: DISCONNECT 0x%02x, expected 0x97", d.reason);
	cr_assert(raw_closed_within(&p5, 3000, NULL), "5.0: closed");
	/* the subscriber still gets what is within the limit */
	struct raw ok;
	connect_v(&ok, "lim-ok", MQTT_V311);
	raw_publish(&ok, "a/b/c/d", "fine", 1, false, 1);
	cr_assert_eq(raw_expect_ack(&ok, MQTT_PUBACK), 1);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "a/b/c/d", "fine");
	raw_close(&sub);
	raw_close(&p3);
	raw_close(&p5);
	raw_close(&ok);
}

/* max_publish_rate 20: 60 QoS 0 messages sent at once take at least
 * (60 - 20) / 20 = 2 s to get through (a full second's tokens at the
 * start), all of them arrive in order (nothing is dropped: the publisher
 * is simply not read), and another client's message meanwhile is not held
 * up behind them. Only the lower bound is asserted: a slow machine may
 * take longer. */
Test(limits, max_publish_rate_slows_the_publisher_and_nobody_else)
{
	struct raw sub, pub, other;
	connect_v(&sub, "lim-rate-sub", MQTT_V311);
	cr_assert_eq(raw_subscribe(&sub, 1, "rate/#", 0), 0);
	connect_v(&pub, "lim-rate-pub", MQTT_V311);
	connect_v(&other, "lim-rate-other", MQTT_V311);
	double t0 = now_s();
	for (int i = 0; i < 60; i++) {
		char payload[16];
		snprintf(payload, sizeof(payload), "%d", i);
		raw_publish(&pub, "rate/fast", payload, 0, false, 0);
	}
	raw_publish(&other, "rate/other", "meanwhile", 0, false, 0);
	int next = 0;
	bool other_seen = false;
	int fast_before_other = -1;
	while (next < 60 || !other_seen) {
		struct mqtt_publish p;
		raw_expect_publish(&sub, &p);
		if (p.topic.len == 10 && memcmp(p.topic.p, "rate/other", 10) == 0) {
			other_seen = true;
			fast_before_other = next;
			continue;
		}
		char want[16];
		snprintf(want, sizeof(want), "%d", next++);
		raw_assert_publish(&p, "rate/fast", want); /* in order, none lost [MQTT-4.6.0-6] */
	}
	double elapsed = now_s() - t0;
	cr_assert_geq(elapsed, 1.5, "60 messages at 20/s passed in %.2f s", elapsed);
	cr_assert_lt(fast_before_other, 60, "the other client's message waited for the throttled one");
	raw_close(&sub);
	raw_close(&pub);
	raw_close(&other);
}

/* memory_limit: above it new connections are refused and QoS 0 deliveries
 * dropped, while QoS 1 goes on and connected clients stay; a reload that
 * lifts it lets everything in again. A limit of one byte is always
 * exceeded, which makes the state easy to reach. */
#define MEMORY_CONF(limit) "listener %PORT% 127.0.0.1\nallow_anonymous true\nlog_type all\nmemory_limit " limit "\n"

Test(memory, memory_limit_refuses_connections_and_drops_qos0_only)
{
	struct hb b;
	hb_start_raw(&b, MEMORY_CONF("0"));
	struct raw sub, pub, late;
	struct raw_connect_opts o = { .version = MQTT_V311, .client_id = "mem-sub", .clean = true, .keepalive = 60 };
	cr_assert_eq(raw_connect(&sub, b.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&sub, 1, "mem/#", 1), 1);
	raw_connect_simple(&pub, b.port, "mem-pub");
	hb_write_conf(&b, MEMORY_CONF("1"));
	hb_signal(&b, SIGHUP);
	cr_assert(hb_log_contains(&b, "memory_limit: resident memory", 5000), "the watermark is reported");
	raw_publish(&pub, "mem/q0", "dropped", 0, false, 0);
	raw_publish(&pub, "mem/q1", "kept", 1, false, 2);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 2);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "mem/q1", "kept"); /* the QoS 0 one was dropped, QoS 1 delivered */
	raw_ack(&sub, MQTT_PUBACK, p.packet_id);
	raw_open(&late, b.port);
	cr_assert(raw_closed_within(&late, 3000, NULL), "a new connection is refused above memory_limit");
	raw_close(&late);
	hb_write_conf(&b, MEMORY_CONF("0"));
	hb_signal(&b, SIGHUP);
	cr_assert(hb_log_contains(&b, "below the limit again", 5000));
	raw_publish(&pub, "mem/q0", "delivered", 0, false, 0);
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "mem/q0", "delivered");
	raw_connect_simple(&late, b.port, "mem-late"); /* accepted again */
	raw_close(&late);
	raw_close(&sub);
	raw_close(&pub);
	cr_assert_eq(hb_stop(&b), 0, "broker exit status");
}

static unsigned long long mem_total(void)
{
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* Without the option the limit is 90 % of what the process may use, so a
 * broker sheds QoS 0 and new connections before the OOM killer ends every
 * connection at once; "memory_limit 0" (above) turns it off. */
Test(memory, memory_limit_defaults_to_90_percent_of_the_memory_available)
{
	struct hb b;
	hb_start_raw(&b, "listener %PORT% 127.0.0.1\nallow_anonymous true\n");
	const char *mark = "(90 % of the memory this process may use)";
	cr_assert(hb_log_contains(&b, mark, 5000), "the start log does not give the automatic memory_limit");
	/* the number: at most 90 % of the machine (a cgroup may allow less) */
	FILE *f = fopen(b.log_path, "r");
	cr_assert_not_null(f);
	char line[512];
	unsigned long long mib = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, "memory_limit: ");
		if (at && strstr(line, mark) && sscanf(at, "memory_limit: %llu MiB", &mib) == 1)
			break;
	}
	fclose(f);
	cr_assert_gt(mib, 0);
	cr_assert_leq(mib, (mem_total() / 100 * 90) >> 20, "%llu MiB is above 90 %% of MemTotal", mib);
	cr_assert_eq(hb_stop(&b), 0, "broker exit status");
}

/* max_connections before any listener line caps all listeners together,
 * after a listener line that listener alone; a connection past either is
 * closed at accept (no CONNACK), and room comes back as clients leave. */
Test(memory, max_connections_global_and_per_listener)
{
	struct hb b;
	hb_start_raw(&b, "max_connections 3\nallow_anonymous true\nlog_type all\n"
			 "listener %PORT% 127.0.0.1\nlistener %PORT2% 127.0.0.1\nmax_connections 1\n");
	struct raw a, c1, c2, extra;
	raw_connect_simple(&a, b.port2, "maxc-a");
	raw_open(&extra, b.port2);
	cr_assert(raw_closed_within(&extra, 3000, NULL), "the listener's own limit of 1");
	raw_close(&extra);
	raw_connect_simple(&c1, b.port, "maxc-c1");
	raw_connect_simple(&c2, b.port, "maxc-c2");
	raw_open(&extra, b.port);
	cr_assert(raw_closed_within(&extra, 3000, NULL), "the global limit of 3");
	raw_close(&extra);
	cr_assert(hb_log_contains(&b, "refused: max_connections reached", 3000));
	raw_close(&c2);
	cr_assert(hb_log_contains(&b, "client maxc-c2 (", 3000), "the broker saw the client leave");
	cr_assert(hb_log_contains(&b, "disconnected: connection closed by peer", 3000));
	struct raw again;
	raw_connect_simple(&again, b.port, "maxc-again"); /* room again once a client left */
	raw_close(&again);
	raw_close(&a);
	raw_close(&c1);
	cr_assert_eq(hb_stop(&b), 0, "broker exit status");
}
