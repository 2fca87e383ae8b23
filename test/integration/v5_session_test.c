/* MQTT 5.0 sessions: Session Expiry Interval and Clean Start decide what
 * session present says and whether subscriptions are still there; a 5.0
 * DISCONNECT may change the interval, not from 0; sessions and their
 * intervals survive a broker restart (MQTT 5.0 sections 3.1.2.4,
 * 3.1.2.11.2, 3.2.2.1.1, 3.14.2.2.2, 4.1). */
#include "v5.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

TestSuite(v5_session, .init = v5_start_default, .fini = v5_stop, .timeout = 60);

/* The session of id has a QoS 1 subscription to topic iff a QoS 1
 * PUBLISH to topic is acknowledged 0x00 (somebody subscribed) rather than
 * 0x10 (no matching subscribers); nobody else subscribes to it. */
static bool someone_subscribed(const char *topic)
{
	struct raw pub;
	v5_connect_simple(&pub, "probe-publisher");
	raw_publish(&pub, topic, "probe", 1, false, 1);
	uint8_t reason = 0xFF;
	cr_assert_eq(raw_expect_ack5(&pub, MQTT_PUBACK, &reason), 1);
	cr_assert(reason == MQTT_RC_SUCCESS || reason == MQTT_RC_NO_MATCHING_SUBSCRIBERS, "PUBACK reason 0x%02x", reason);
	v5_disconnect(&pub);
	return reason == MQTT_RC_SUCCESS;
}

/* A session with a QoS 1 subscription to topic, then offline. */
static void park(const char *id, uint32_t expiry, const char *topic)
{
	struct raw r;
	v5_connect(&r, id, true, expiry);
	cr_assert_eq(raw_subscribe5(&r, 1, topic, 1, 0), 1);
	v5_disconnect(&r);
}

Test(v5_session, MQTT_3_2_2_2_session_present_with_a_session_expiry_interval)
{
	struct raw r;
	cr_assert_not(v5_connect(&r, "keeper5", false, 60), "no session yet [MQTT-3.2.2-3]");
	cr_assert_eq(raw_subscribe5(&r, 1, "keep/t", 1, 0), 1);
	v5_disconnect(&r);
	cr_assert(v5_connect(&r, "keeper5", false, 60), "stored session not resumed [MQTT-3.2.2-2]");
	v5_disconnect(&r);
	cr_assert(someone_subscribed("keep/t"), "the resumed session lost its subscription");
}

Test(v5_session, MQTT_3_1_2_4_clean_start_1_discards_the_session)
{
	park("cleaner", 60, "clean/t");
	cr_assert(someone_subscribed("clean/t"));
	struct raw r;
	cr_assert_not(v5_connect(&r, "cleaner", true, 60), "Clean Start 1: session present must be 0 [MQTT-3.2.2-2]");
	v5_disconnect(&r);
	cr_assert_not(someone_subscribed("clean/t"), "Clean Start 1 kept the old subscription [MQTT-3.1.2-4]");
}

Test(v5_session, MQTT_3_1_2_23_session_expiry_0_ends_with_the_connection)
{
	park("shortlived", 0, "short/t");
	struct raw r;
	cr_assert_not(v5_connect(&r, "shortlived", false, 0),
		      "Session Expiry Interval 0 (absent): the session ended with the connection [MQTT-3.1.2-23]");
	v5_disconnect(&r);
	cr_assert_not(someone_subscribed("short/t"), "the ended session's subscription is still routed");
}

Test(v5_session, MQTT_3_1_2_23_session_kept_for_its_interval_then_gone)
{
	park("interval2", 2, "iv/t");
	struct raw r;
	/* back at once: well within the 2 s */
	cr_assert(v5_connect(&r, "interval2", false, 2), "reconnect within the interval: session lost");
	v5_disconnect(&r); /* the 2 s start again */
	sleep_ms(4000);
	cr_assert_not(v5_connect(&r, "interval2", false, 2), "session still there 4 s after a 2 s interval");
	v5_disconnect(&r);
	cr_assert_not(someone_subscribed("iv/t"), "the expired session's subscription is still routed");
}

Test(v5_session, MQTT_3_1_2_session_expiry_0xFFFFFFFF_does_not_expire)
{
	park("forever5", 0xFFFFFFFFu, "forever/t");
	sleep_ms(1500);
	struct raw r;
	cr_assert(v5_connect(&r, "forever5", false, 0xFFFFFFFFu), "0xFFFFFFFF: the session is never to expire");
	v5_disconnect(&r);
}

Test(v5_session, MQTT_3_14_2_2_disconnect_cannot_set_an_expiry_after_connect_0)
{
	struct raw r;
	v5_connect(&r, "zero-then-10", false, 0);
	cr_assert_eq(raw_subscribe5(&r, 1, "z10/t", 1, 0), 1);
	struct props p;
	props_begin(&p);
	props_u32(&p, MQTT_PROP_SESSION_EXPIRY, 10);
	raw_disconnect5(&r, MQTT_RC_SUCCESS, props_bin(&p));
	props_end(&p);
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, &d), MQTT_RC_PROTOCOL_ERROR,
		     "DISCONNECT with Session Expiry 10 after CONNECT's 0 [MQTT-3.14.2-2]");
	raw_close(&r);
	/* and the session still ended with the connection */
	cr_assert_not(v5_connect(&r, "zero-then-10", false, 0));
	v5_disconnect(&r);
}

Test(v5_session, MQTT_3_14_2_2_disconnect_sets_the_expiry_to_0_session_ends)
{
	struct raw r;
	v5_connect(&r, "sixty-then-0", false, 60);
	cr_assert_eq(raw_subscribe5(&r, 1, "s0/t", 1, 0), 1);
	struct props p;
	props_begin(&p);
	props_u32(&p, MQTT_PROP_SESSION_EXPIRY, 0);
	raw_disconnect5(&r, MQTT_RC_SUCCESS, props_bin(&p));
	props_end(&p);
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, V5_WAIT_MS, &last));
	cr_assert_eq(last, 0, "the broker answered a valid DISCONNECT with packet type %u", last);
	raw_close(&r);
	cr_assert_not(v5_connect(&r, "sixty-then-0", false, 60), "DISCONNECT set the interval to 0: session kept");
	v5_disconnect(&r);
}

Test(v5_session, MQTT_3_14_2_2_disconnect_changes_the_expiry_interval)
{
	struct props p1, p60;
	props_begin(&p1);
	props_u32(&p1, MQTT_PROP_SESSION_EXPIRY, 1);
	props_begin(&p60);
	props_u32(&p60, MQTT_PROP_SESSION_EXPIRY, 60);
	struct raw a, b;
	/* 60 -> 1: gone after 1 s */
	v5_connect(&a, "sixty-to-one", false, 60);
	raw_disconnect5(&a, MQTT_RC_SUCCESS, props_bin(&p1));
	cr_assert(raw_closed_within(&a, V5_WAIT_MS, NULL));
	raw_close(&a);
	/* 1 -> 60: still there after 1 s */
	v5_connect(&b, "one-to-sixty", false, 1);
	raw_disconnect5(&b, MQTT_RC_SUCCESS, props_bin(&p60));
	cr_assert(raw_closed_within(&b, V5_WAIT_MS, NULL));
	raw_close(&b);
	sleep_ms(3000);
	cr_assert_not(v5_connect(&a, "sixty-to-one", false, 60), "interval shortened to 1 s: still there after 3 s");
	cr_assert(v5_connect(&b, "one-to-sixty", false, 60), "interval lengthened to 60 s: gone after 3 s");
	v5_disconnect(&a);
	v5_disconnect(&b);
	props_end(&p1);
	props_end(&p60);
}

/* A session kept for 60 s is still there after SIGKILL and a restart, with
 * its subscription and the message queued for it (and that message's
 * properties); one whose 2 s passed while the broker was down is gone. */
Test(v5_session, MQTT_4_1_session_expiry_across_a_restart, .timeout = 90)
{
	struct raw r;
	v5_connect(&r, "survivor", true, 60);
	cr_assert_eq(raw_subscribe5(&r, 1, "restart/keep", 1, 9), 1); /* Subscription Identifier 9 */
	v5_disconnect(&r);
	park("ephemeral", 2, "restart/gone");
	struct raw pub;
	v5_connect_simple(&pub, "restart-pub");
	/* one that expires while the broker is down, one that does not */
	struct props pp;
	props_begin(&pp);
	props_u32(&pp, MQTT_PROP_MESSAGE_EXPIRY, 2);
	raw_publish5(&pub, "restart/keep", "expires", 1, false, 1, props_bin(&pp));
	uint8_t reason = 0xFF;
	raw_expect_ack5(&pub, MQTT_PUBACK, &reason);
	cr_assert_eq(reason, MQTT_RC_SUCCESS, "the offline session's subscription matched: PUBACK 0x%02x", reason);
	props_end(&pp);
	props_begin(&pp);
	props_str(&pp, MQTT_PROP_CONTENT_TYPE, "text/plain");
	props_u32(&pp, MQTT_PROP_MESSAGE_EXPIRY, 100);
	props_pair(&pp, "k", "v");
	raw_publish5(&pub, "restart/keep", "queued", 1, false, 2, props_bin(&pp));
	raw_expect_ack5(&pub, MQTT_PUBACK, &reason);
	cr_assert_eq(reason, MQTT_RC_SUCCESS);
	raw_close(&pub);
	props_end(&pp);

	hb_terminate(&v5_broker, SIGKILL);
	sleep_ms(3500); /* "ephemeral"'s 2 s pass while the broker is down */
	hb_restart(&v5_broker);

	cr_assert_not(v5_connect(&r, "ephemeral", false, 2), "a session whose interval passed while down came back");
	v5_disconnect(&r);
	cr_assert(v5_connect(&r, "survivor", false, 60), "the 60 s session did not survive the restart");
	struct mqtt_publish p;
	struct mqtt_props props;
	/* not "expires": its 2 s passed while the broker was down */
	expect_publish5(&r, "restart/keep", "queued", 1, &p, &props);
	cr_assert(mqtt_props_has(&props, MQTT_PROP_CONTENT_TYPE), "the queued message lost its Content Type");
	uint32_t left = mqtt_props_num(&props, MQTT_PROP_MESSAGE_EXPIRY, 0);
	cr_assert(left >= 1 && left <= 97, "Message Expiry Interval %u after 3.5 s down, expected <= 97", left);
	cr_assert_eq(mqtt_props_num(&props, MQTT_PROP_SUBSCRIPTION_ID, 0), 9,
		     "the restored subscription lost its Subscription Identifier");
	cr_assert_eq(raw_prop_count(p.props, MQTT_PROP_USER_PROPERTY), 1, "the queued message lost its User Property");
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	v5_disconnect(&r);
	cr_assert(someone_subscribed("restart/keep"), "the restored session lost its subscription");
	cr_assert_not(someone_subscribed("restart/gone"), "the expired session's subscription came back");
}

/* A session whose client is connected when the broker dies: the
 * connection's end is the crash, so its Session Expiry Interval runs from
 * the restart at the latest. Interval 2 s, still connected at SIGKILL;
 * 4 s after the restart the session must be gone [MQTT-3.1.2-23]. */
Test(v5_session, MQTT_3_1_2_23_session_online_at_a_crash_expires_after_the_restart, .timeout = 90)
{
	struct raw r;
	v5_connect(&r, "online-crash", true, 2);
	cr_assert_eq(raw_subscribe5(&r, 1, "oc/t", 1, 0), 1);
	sleep_ms(500); /* the session and its subscription stored */
	hb_terminate(&v5_broker, SIGKILL);
	raw_close(&r);
	hb_restart(&v5_broker);
	sleep_ms(4000);
	cr_assert_not(v5_connect(&r, "online-crash", false, 2),
		      "session with a 2 s interval still there 4 s after the restart that ended its connection");
	v5_disconnect(&r);
}

/* A stored session resumed with Session Expiry Interval 0 ends with that
 * connection [MQTT-3.1.2-23]: also when the connection ends by a crash
 * (the 60 s the session was stored with no longer apply). */
Test(v5_session, MQTT_3_1_2_23_session_resumed_with_expiry_0_does_not_outlive_a_crash, .timeout = 90)
{
	park("resumed-0", 60, "r0/t");
	struct raw r;
	cr_assert(v5_connect(&r, "resumed-0", false, 0), "the parked session was not resumed");
	sleep_ms(500);
	hb_terminate(&v5_broker, SIGKILL);
	raw_close(&r);
	hb_restart(&v5_broker);
	cr_assert_not(v5_connect(&r, "resumed-0", false, 0),
		      "a session whose last connection set Session Expiry Interval 0 survived that connection's end");
	v5_disconnect(&r);
}
