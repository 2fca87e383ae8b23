/* A full store (the disk, or store_max_size, which fails writes the same
 * way and makes the case testable): the broker stops acknowledging
 * persistent QoS 1 (the publisher is disconnected without its PUBACK, so
 * it resends), keeps serving QoS 0, logs it, and writes again once there
 * is room; nothing it acknowledged is lost, across a SIGKILL too. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MSGS 400
#define PAYLOAD 2000

/* 128 KiB: the schema and a few dozen 2 KB messages */
static const char *const conf_small =
	"listener %PORT% 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nstore_max_size 131072\n";
static const char *const conf_unlimited =
	"listener %PORT% 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nstore_max_size 0\n";

static struct hb broker;

static void start(void) { hb_start_raw(&broker, conf_small); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(store_full, .init = start, .fini = stop, .timeout = 120);

/* Publish QoS 1 messages seq first.. one at a time until MSGS or until the
 * broker closes the connection; acked[seq] marks each PUBACK. Returns the
 * sequence number after the last one acknowledged. */
static int publish_until_closed(const char *id, int first, bool *acked)
{
	static char payload[PAYLOAD + 1];
	struct raw pub;
	raw_connect_simple(&pub, broker.port, id);
	int seq = first;
	for (; seq < MSGS; seq++) {
		snprintf(payload, sizeof(payload), "%06d", seq);
		memset(payload + 6, 'x', PAYLOAD - 6);
		raw_publish(&pub, "full/t", payload, 1, false, (uint16_t)(seq + 1));
		struct mqtt_frame f;
		if (raw_recv(&pub, &f, 10000) != FM_OK)
			break; /* closed without the PUBACK: not acknowledged */
		cr_assert_eq(f.type, MQTT_PUBACK);
		acked[seq] = true;
	}
	raw_close(&pub);
	return seq;
}

/* The subscriber comes back: every acknowledged message is there. */
static void expect_all_acked(const char *id, const bool *acked)
{
	struct raw r;
	bool present = false;
	struct raw_connect_opts o = { .client_id = id, .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert(present, "the persistent session survived");
	bool got[MSGS] = { false };
	struct mqtt_frame f;
	while (raw_recv(&r, &f, 1500) == FM_OK) {
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_OK);
		int seq = atoi((const char[7]){ (char)p.payload.p[0], (char)p.payload.p[1], (char)p.payload.p[2],
						 (char)p.payload.p[3], (char)p.payload.p[4], (char)p.payload.p[5], 0 });
		cr_assert(seq >= 0 && seq < MSGS);
		got[seq] = true;
		raw_ack(&r, MQTT_PUBACK, p.packet_id);
	}
	for (int i = 0; i < MSGS; i++)
		cr_assert(!acked[i] || got[i], "message %d was acknowledged but never arrived", i);
	raw_close(&r);
}

/* QoS 0 between two clean sessions needs no disk: it goes on. */
static void qos0_still_flows(void)
{
	struct raw sub, pub;
	raw_connect_simple(&sub, broker.port, "full-q0-sub");
	cr_assert_eq(raw_subscribe(&sub, 1, "q0/#", 0), 0);
	raw_connect_simple(&pub, broker.port, "full-q0-pub");
	raw_publish(&pub, "q0/x", "still here", 0, false, 0);
	struct mqtt_publish p;
	raw_expect_publish(&sub, &p);
	raw_assert_publish(&p, "q0/x", "still here");
	raw_close(&sub);
	raw_close(&pub);
}

Test(store_full, full_store_withholds_acks_serves_qos0_and_recovers_when_there_is_room)
{
	static bool acked[MSGS];
	raw_park(broker.port, "full-sub", "full/#", 1);
	int stopped = publish_until_closed("full-pub", 0, acked);
	cr_assert(stopped < MSGS, "the store never filled (%d messages acknowledged)", stopped);
	cr_assert(stopped > 0, "not one message fitted");
	cr_assert(hb_log_contains(&broker, "store full", 5000), "the full store is logged");
	qos0_still_flows();
	/* room again: a reload lifts the limit */
	hb_write_conf(&broker, conf_unlimited);
	hb_signal(&broker, SIGHUP);
	cr_assert(hb_log_contains(&broker, "SIGHUP: reloaded", 5000));
	int resumed = publish_until_closed("full-pub", stopped, acked);
	cr_assert_eq(resumed, MSGS, "writes go through again (stopped at %d)", resumed);
	cr_assert(hb_log_contains(&broker, "store: writing again", 5000));
	/* and what was acknowledged is on disk */
	hb_terminate(&broker, SIGKILL);
	hb_restart(&broker);
	expect_all_acked("full-sub", acked);
}

Test(store_full, store_max_size_below_64_KiB_is_a_startup_error)
{
	char out[1024];
	hb_write_conf(&broker, "listener 0 127.0.0.1\nstore_max_size 1000\n");
	const char *args[] = { hb_binary(), "-c", broker.conf_path, NULL };
	int rc = hb_run_capture(args, out, sizeof(out), 10);
	cr_assert_neq(rc, 0);
	cr_assert(strstr(out, "store_max_size") && strstr(out, "fleetmq.conf:2"), "names file, line and option: %s", out);
}
