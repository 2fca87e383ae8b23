/* persistent_client_expiration: a persistent session whose client stays
 * away longer ends (subscriptions and queue dropped); the clock restarts
 * with each disconnect and keeps running across broker restarts (the
 * deadline is in the store). Durations use fleetmq's seconds unit. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static struct hb broker;

static void start(void) { hb_start(&broker, "persistent_client_expiration 2s"); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(expiry, .init = start, .fini = stop, .timeout = 60);

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static void park(const char *id)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = id, .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&r, 1, "exp/#", 1), 1);
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&r, disconnect, sizeof(disconnect));
	cr_assert(raw_closed_within(&r, 2000, NULL));
	raw_close(&r);
}

/* Everything submitted to the store so far is committed once a retained
 * QoS 1 message (which waits for its commit) is acknowledged. */
static void store_sync(void)
{
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "syncer");
	raw_publish(&pub, "sync/x", "1", 1, true, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	raw_close(&pub);
}

/* Reconnect with clean session 0 and report whether the session was
 * there [MQTT-3.2.2-2]; the connection is closed again. */
static bool session_present(const char *id)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = id, .clean = false, .keepalive = 60};
	bool present = false;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&r, disconnect, sizeof(disconnect));
	raw_close(&r);
	return present;
}

Test(expiry, an_offline_session_ends_after_the_expiration_with_its_queue)
{
	park("gone");
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "exp-pub");
	raw_publish(&pub, "exp/x", "queued", 1, false, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	raw_close(&pub);
	cr_assert(hb_log_contains(&broker, "session gone expired", 4000), "no expiry within 4 s");
	struct raw r;
	struct raw_connect_opts o = {.client_id = "gone", .clean = false, .keepalive = 60};
	bool present = true;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert(!present, "an expired session was resumed");
	cr_assert(raw_silent(&r, 300), "a message queued for an expired session was delivered");
	raw_close(&r);
}

Test(expiry, every_disconnect_restarts_the_clock_and_online_sessions_never_expire)
{
	park("back");
	for (int i = 0; i < 3; i++) {
		sleep_ms(1200); /* under 2 s offline each time */
		cr_assert(session_present("back"), "round %d: expired although it came back in time", i);
	}
	struct raw r; /* online for longer than the expiration */
	struct raw_connect_opts o = {.client_id = "back", .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	sleep_ms(2500);
	raw_close(&r);
	sleep_ms(500);
	cr_assert(session_present("back"), "expired while online");
}

/* The deadline is stored: a restart neither forgets nor resets it. (A
 * session stored without one, online when last written, starts its clock
 * at the restart.) */
Test(expiry, the_clock_keeps_running_across_a_restart)
{
	park("early");
	park("late");
	store_sync();
	hb_terminate(&broker, SIGKILL);
	hb_restart(&broker);
	cr_assert(session_present("early"), "lost by the restart before its deadline");
	/* "late" went offline before the restart; its 2 s end soon after */
	cr_assert(hb_log_contains(&broker, "session late expired", 4000), "the restored deadline did not fire");
	cr_assert(!session_present("late"));
}

Test(expiry, sessions_whose_deadline_passed_while_the_broker_was_down_are_gone)
{
	park("sleeper");
	store_sync();
	hb_terminate(&broker, SIGKILL);
	sleep_ms(3500); /* 2 s, on a deadline kept in whole seconds rounded up */
	hb_restart(&broker);
	cr_assert(hb_log_contains(&broker, "1 sessions expired while the broker was down", 2000));
	cr_assert(!session_present("sleeper"));
}
