/* MQTT 5.0 wills: will properties forwarded, the Will Delay Interval (after
 * the delay and not before, cancelled by a reconnect, cut short by the
 * session's end), DISCONNECT 0x04, and a waiting will surviving a broker
 * restart (MQTT 5.0 sections 3.1.2.5, 3.1.3.2, 3.14.2.1). */
#include "v5.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

TestSuite(v5_will, .init = v5_start_default, .fini = v5_stop, .timeout = 90);

/* A 5.0 watcher subscribed to "will/#" at QoS 1. */
static void watch(struct raw *w, const char *id)
{
	v5_connect_simple(w, id);
	cr_assert_eq(raw_subscribe5(w, 1, "will/#", 1, 0), 1);
}

/* Connect a 5.0 client with a QoS 1 will on topic, a Will Delay Interval
 * (0: none) and a Session Expiry Interval (0: none). */
static void dying(struct raw *r, const char *id, const char *topic, uint32_t will_delay, uint32_t session_expiry)
{
	struct props cp, wp;
	props_begin(&cp);
	props_begin(&wp);
	if (session_expiry)
		props_u32(&cp, MQTT_PROP_SESSION_EXPIRY, session_expiry);
	if (will_delay)
		props_u32(&wp, MQTT_PROP_WILL_DELAY, will_delay);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = id, .clean = false, .keepalive = 60,
				     .will_topic = topic, .will_payload = "gone", .will_qos = 1,
				     .props = props_bin(&cp), .will_props = props_bin(&wp)};
	cr_assert_eq(raw_connect(r, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	props_end(&cp);
	props_end(&wp);
}

/* The next packet at the watcher is the will (acknowledged), within ms. */
static void expect_will(struct raw *w, const char *topic, int ms, const char *what)
{
	struct mqtt_frame f;
	int rc = raw_recv(w, &f, ms);
	cr_assert_eq(rc, FM_OK, "%s: no will within %d ms", what, ms);
	cr_assert_eq(f.type, MQTT_PUBLISH, "%s: packet type %u instead of the will", what, f.type);
	struct mqtt_publish m;
	uint8_t reason;
	cr_assert(mqtt_decode_publish(&f, MQTT_V5, &m, &reason) == FM_OK, "%s: undecodable will", what);
	raw_assert_publish(&m, topic, "gone");
	if (m.qos)
		raw_ack(w, MQTT_PUBACK, m.packet_id);
}

Test(v5_will, MQTT_3_1_3_2_will_properties_forwarded)
{
	struct raw w, d;
	watch(&w, "wp-watch");
	struct props wp;
	props_begin(&wp);
	props_byte(&wp, MQTT_PROP_PAYLOAD_FORMAT, 1);
	props_u32(&wp, MQTT_PROP_MESSAGE_EXPIRY, 30);
	props_str(&wp, MQTT_PROP_CONTENT_TYPE, "text/plain");
	props_pair(&wp, "b", "2");
	props_str(&wp, MQTT_PROP_RESPONSE_TOPIC, "will/reply");
	props_str(&wp, MQTT_PROP_CORRELATION_DATA, "cd");
	props_pair(&wp, "a", "1");
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "wp-dying", .clean = true, .keepalive = 60,
				     .will_topic = "will/props", .will_payload = "gone", .will_qos = 1,
				     .will_props = props_bin(&wp)};
	cr_assert_eq(raw_connect(&d, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	props_end(&wp);
	raw_close(&d); /* no DISCONNECT */
	struct mqtt_publish m;
	struct mqtt_props got;
	expect_publish5(&w, "will/props", "gone", 1, &m, &got);
	cr_assert_eq(mqtt_props_num(&got, MQTT_PROP_PAYLOAD_FORMAT, 0xFF), 1, "Payload Format Indicator");
	uint32_t left = mqtt_props_num(&got, MQTT_PROP_MESSAGE_EXPIRY, 0);
	cr_assert(left >= 1 && left <= 30, "Message Expiry Interval %u, expected 1..30", left);
	struct mqtt_bin v = got.data[MQTT_PROP_CONTENT_TYPE];
	cr_assert(v.len == 10 && memcmp(v.p, "text/plain", 10) == 0, "Content Type");
	v = got.data[MQTT_PROP_RESPONSE_TOPIC];
	cr_assert(v.len == 10 && memcmp(v.p, "will/reply", 10) == 0, "Response Topic");
	v = got.data[MQTT_PROP_CORRELATION_DATA];
	cr_assert(v.len == 2 && memcmp(v.p, "cd", 2) == 0, "Correlation Data");
	/* user properties in order: b=2 then a=1 */
	struct mqtt_bin rest = m.props;
	struct mqtt_prop pr;
	const char *order = "ba";
	unsigned n = 0;
	while (mqtt_props_next(&rest, &pr))
		if (pr.id == MQTT_PROP_USER_PROPERTY) {
			cr_assert(n < 2 && pr.data.len == 1 && pr.data.p[0] == (uint8_t)order[n],
				  "User Property %u out of order", n);
			n++;
		}
	cr_assert_eq(n, 2);
	raw_ack(&w, MQTT_PUBACK, m.packet_id);
	raw_close(&w);
}

Test(v5_will, MQTT_3_1_3_9_will_published_after_the_delay_not_before)
{
	struct raw w, d;
	watch(&w, "wd-watch");
	dying(&d, "wd-dying", "will/delayed", 3, 60);
	uint64_t t0 = now_ms();
	raw_close(&d);
	cr_assert(raw_silent(&w, 1500), "the will came before its 3 s delay");
	expect_will(&w, "will/delayed", V5_WAIT_MS, "Will Delay 3 s");
	uint64_t took = now_ms() - t0;
	cr_assert(took >= 2000, "the will came %llu ms after the drop, before its 3 s delay", (unsigned long long)took);
	cr_assert(raw_silent(&w, 1000), "more than one will");
	raw_close(&w);
}

Test(v5_will, MQTT_3_1_3_9_reconnect_within_the_delay_cancels_the_will)
{
	struct raw w, d;
	watch(&w, "wc-watch");
	dying(&d, "wc-dying", "will/cancelled", 3, 60);
	raw_close(&d);
	sleep_ms(300);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "wc-dying", .clean = false, .keepalive = 60};
	bool present = false;
	cr_assert_eq(raw_connect(&d, v5_broker.port, &o, &present), MQTT_RC_SUCCESS);
	cr_assert(present, "the session (expiry 60) was not resumed");
	cr_assert(raw_silent(&w, 5000), "the will came although the client was back within the delay [MQTT-3.1.3-9]");
	v5_disconnect(&d);
	cr_assert(raw_silent(&w, 1000));
	raw_close(&w);
}

Test(v5_will, MQTT_3_1_2_will_delay_with_session_expiry_0_published_at_once)
{
	struct raw w, d;
	watch(&w, "w0-watch");
	dying(&d, "w0-dying", "will/now", 30, 0);
	raw_close(&d);
	expect_will(&w, "will/now", 5000, "Will Delay 30 s, Session Expiry 0: the session ends at once");
	raw_close(&w);
}

Test(v5_will, MQTT_3_1_2_will_published_when_the_session_ends_before_the_delay)
{
	struct raw w, d;
	watch(&w, "ws-watch");
	dying(&d, "ws-dying", "will/session-end", 30, 2);
	uint64_t t0 = now_ms();
	raw_close(&d);
	expect_will(&w, "will/session-end", V5_WAIT_MS, "Will Delay 30 s, Session Expiry 2 s");
	uint64_t took = now_ms() - t0;
	cr_assert(took >= 1000, "the will came %llu ms after the drop, before the session's 2 s ended",
		  (unsigned long long)took);
	raw_close(&w);
}

/* The will's Message Expiry Interval counts from its publication, not
 * from the CONNECT or the drop (3.1.3.2.4): delay 3 s, expiry 3 s; a
 * watcher back 4.5 s after the drop still gets it. */
Test(v5_will, MQTT_3_1_3_2_will_message_expiry_counted_from_publication)
{
	struct raw w, d;
	v5_connect(&w, "we-watch", true, 120);
	cr_assert_eq(raw_subscribe5(&w, 1, "will/#", 1, 0), 1);
	v5_disconnect(&w);
	struct props cp, wp;
	props_begin(&cp);
	props_u32(&cp, MQTT_PROP_SESSION_EXPIRY, 60);
	props_begin(&wp);
	props_u32(&wp, MQTT_PROP_WILL_DELAY, 3);
	props_u32(&wp, MQTT_PROP_MESSAGE_EXPIRY, 3);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "we-dying", .clean = true, .keepalive = 60,
				     .will_topic = "will/expiring", .will_payload = "gone", .will_qos = 1,
				     .props = props_bin(&cp), .will_props = props_bin(&wp)};
	cr_assert_eq(raw_connect(&d, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	props_end(&cp);
	props_end(&wp);
	raw_close(&d);
	sleep_ms(4500);
	cr_assert(v5_connect(&w, "we-watch", false, 120));
	struct mqtt_publish m;
	struct mqtt_props got;
	expect_publish5(&w, "will/expiring", "gone", 1, &m, &got);
	uint32_t left = mqtt_props_num(&got, MQTT_PROP_MESSAGE_EXPIRY, 0);
	cr_assert(left >= 1 && left <= 2, "will Message Expiry Interval %u 1.5 s after publication, expected 1..2", left);
	raw_ack(&w, MQTT_PUBACK, m.packet_id);
	raw_close(&w);
}

Test(v5_will, MQTT_3_14_4_3_disconnect_0x04_publishes_the_will_0x00_discards_it)
{
	struct raw w, a, b;
	watch(&w, "wx-watch");
	dying(&a, "wx-with", "will/with", 0, 0);
	dying(&b, "wx-without", "will/without", 0, 0);
	raw_disconnect5(&b, MQTT_RC_SUCCESS, (struct mqtt_bin){0});
	cr_assert(raw_closed_within(&b, V5_WAIT_MS, NULL));
	raw_disconnect5(&a, MQTT_RC_DISCONNECT_WITH_WILL, (struct mqtt_bin){0});
	cr_assert(raw_closed_within(&a, V5_WAIT_MS, NULL));
	/* only the one that asked for it; it comes after b's close was handled */
	expect_will(&w, "will/with", V5_WAIT_MS, "DISCONNECT 0x04");
	cr_assert(raw_silent(&w, 1000), "DISCONNECT 0x00 published the will [MQTT-3.1.2-10]");
	raw_close(&a);
	raw_close(&b);
	raw_close(&w);
}

Test(v5_will, MQTT_3_1_4_3_takeover_publishes_the_old_connections_will)
{
	struct raw w, old, fresh;
	watch(&w, "wt-watch");
	dying(&old, "wt-dying", "will/taken", 0, 0);
	v5_connect_simple(&fresh, "wt-dying");
	cr_assert_eq(raw_expect_disconnect(&old, V5_WAIT_MS, NULL), MQTT_RC_SESSION_TAKEN_OVER);
	expect_will(&w, "will/taken", V5_WAIT_MS, "takeover, Will Delay 0");
	raw_close(&old);
	raw_close(&fresh);
	raw_close(&w);
}

/* A will waiting for its delay is stored: SIGKILL and a restart within the
 * delay, and it still goes (once) to a persistent watcher. */
Test(v5_will, MQTT_3_1_3_9_waiting_will_survives_a_restart)
{
	struct raw w, d;
	v5_connect(&w, "wr-watch", true, 120);
	cr_assert_eq(raw_subscribe5(&w, 1, "will/#", 1, 0), 1);
	v5_disconnect(&w);
	dying(&d, "wr-dying", "will/restart", 4, 120);
	raw_close(&d);
	sleep_ms(500); /* the drop handled, the will stored */
	hb_terminate(&v5_broker, SIGKILL);
	hb_restart(&v5_broker);
	cr_assert(v5_connect(&w, "wr-watch", false, 120), "the watcher's session did not survive");
	expect_will(&w, "will/restart", 15000, "Will Delay 4 s across SIGKILL and a restart");
	cr_assert(raw_silent(&w, 1000), "the will came twice");
	raw_close(&w);
}

/* The delayed will of a session whose interval passed while the broker
 * was down goes when the restarted broker ends that session (the session
 * ended before the delay) [MQTT-3.1.3-9]: delay 30 s, session 2 s, broker
 * down 4 s. */
Test(v5_will, MQTT_3_1_3_9_waiting_will_goes_when_its_session_expired_while_down)
{
	struct raw w, d;
	v5_connect(&w, "wx2-watch", true, 120);
	cr_assert_eq(raw_subscribe5(&w, 1, "will/#", 1, 0), 1);
	v5_disconnect(&w);
	dying(&d, "wx2-dying", "will/expired-session", 30, 2);
	raw_close(&d);
	sleep_ms(500); /* the drop handled, the will stored */
	hb_terminate(&v5_broker, SIGKILL);
	sleep_ms(4000);
	hb_restart(&v5_broker);
	cr_assert(v5_connect(&w, "wx2-watch", false, 120), "the watcher's session did not survive");
	expect_will(&w, "will/expired-session", V5_WAIT_MS, "session (2 s) expired while the broker was down");
	raw_close(&w);
}

/* A will whose delay passed while the broker was down goes at the
 * restart: delay 2 s, session 60 s, broker down 3.5 s. */
Test(v5_will, MQTT_3_1_3_9_will_whose_delay_passed_while_down_goes_at_the_restart)
{
	struct raw w, d;
	v5_connect(&w, "wy-watch", true, 120);
	cr_assert_eq(raw_subscribe5(&w, 1, "will/#", 1, 0), 1);
	v5_disconnect(&w);
	dying(&d, "wy-dying", "will/late", 2, 60);
	raw_close(&d);
	sleep_ms(300);
	hb_terminate(&v5_broker, SIGKILL);
	sleep_ms(3500);
	hb_restart(&v5_broker);
	cr_assert(v5_connect(&w, "wy-watch", false, 120), "the watcher's session did not survive");
	expect_will(&w, "will/late", V5_WAIT_MS, "Will Delay 2 s passed while the broker was down");
	cr_assert(raw_silent(&w, 1000), "the will came twice");
	raw_close(&w);
}
