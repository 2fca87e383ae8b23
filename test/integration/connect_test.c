/* CONNECT / CONNACK / DISCONNECT, keepalive and connect timeout, client id
 * rules, takeover, wills: MQTT 3.1.1 sections 3.1, 3.2, 3.12, 3.14. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>

static struct hb broker;

static void start(void) { hb_start(&broker, NULL); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(connect, .init = start, .fini = stop, .timeout = 60);

Test(connect, accepted_connect_answered_with_connack_first_MQTT_3_2_0_1)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = "c1", .clean = true, .keepalive = 30};
	bool present = true;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), MQTT_CONNACK_ACCEPTED);
	cr_assert_not(present, "clean session: session present 0 [MQTT-3.2.2-1]");
	raw_close(&r);
}

Test(connect, mqtt_3_1_protocol_name_MQIsdp_accepted)
{
	struct raw r;
	struct raw_connect_opts o = {.version = MQTT_V31, .client_id = "old", .clean = true};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
	raw_close(&r);
}

Test(connect, first_packet_not_connect_closes_MQTT_3_1_0_1)
{
	struct raw r;
	raw_open(&r, broker.port);
	static const uint8_t pingreq[] = {0xC0, 0x00};
	raw_send(&r, pingreq, sizeof(pingreq));
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, 3000, &last));
	cr_assert_eq(last, 0, "nothing may be sent before the close");
	raw_close(&r);
}

Test(connect, second_connect_is_a_protocol_violation_MQTT_3_1_0_2)
{
	struct raw r;
	raw_connect_simple(&r, broker.port, "twice");
	struct buf b;
	buf_init(&b);
	struct mqtt_connect c = {.version = MQTT_V311, .clean_start = true,
				 .client_id = {"twice", 5}};
	mqtt_encode_connect(&b, &c);
	raw_send_buf(&r, &b);
	buf_fini(&b);
	cr_assert(raw_closed_within(&r, 3000, NULL));
	raw_close(&r);
}

Test(connect, unsupported_protocol_level_gets_connack_1_then_close_MQTT_3_1_2_2)
{
	struct raw r;
	raw_open(&r, broker.port);
	/* CONNECT "MQTT" level 9, clean session, keepalive 10, id "x" */
	static const uint8_t pkt[] = {0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 9, 0x02, 0, 10, 0, 1, 'x'};
	raw_send(&r, pkt, sizeof(pkt));
	struct mqtt_frame f;
	raw_expect(&r, MQTT_CONNACK, &f);
	cr_assert_eq(f.remaining_len, 2);
	cr_assert_eq(f.body[1], MQTT_CONNACK_BAD_PROTOCOL);
	cr_assert(raw_closed_within(&r, 3000, NULL), "[MQTT-3.2.2-5] close after refusal");
	raw_close(&r);
}

Test(connect, reserved_connect_flag_closes_without_connack_MQTT_3_1_2_3)
{
	struct raw r;
	raw_open(&r, broker.port);
	static const uint8_t pkt[] = {0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x03, 0, 10, 0, 1, 'x'};
	raw_send(&r, pkt, sizeof(pkt));
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, 3000, &last));
	cr_assert_eq(last, 0);
	raw_close(&r);
}

Test(connect, empty_client_id_with_clean_session_0_refused_MQTT_3_1_3_8)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = "", .clean = false};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), MQTT_CONNACK_ID_REJECTED);
	cr_assert(raw_closed_within(&r, 3000, NULL), "[MQTT-3.2.2-5]");
	raw_close(&r);
}

Test(connect, empty_client_id_with_clean_session_gets_an_id_MQTT_3_1_3_6)
{
	struct raw a, b;
	struct raw_connect_opts o = {.client_id = "", .clean = true};
	cr_assert_eq(raw_connect(&a, broker.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
	cr_assert_eq(raw_connect(&b, broker.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
	/* two anonymous-id clients are distinct sessions: neither takes over */
	cr_assert(raw_silent(&a, 300));
	raw_publish(&a, "still/here", "1", 0, false, 0);
	cr_assert(raw_silent(&a, 100));
	raw_close(&a);
	raw_close(&b);
}

Test(connect, session_present_reflects_stored_state_MQTT_3_2_2_2)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = "keeper", .clean = false, .keepalive = 30};
	bool present = true;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), MQTT_CONNACK_ACCEPTED);
	cr_assert_not(present, "no stored session yet [MQTT-3.2.2-3]");
	raw_close(&r);
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), MQTT_CONNACK_ACCEPTED);
	cr_assert(present, "stored session resumed [MQTT-3.2.2-2]");
	raw_close(&r);
	o.clean = true;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), MQTT_CONNACK_ACCEPTED);
	cr_assert_not(present, "clean session discards state [MQTT-3.2.2-1]");
	raw_close(&r);
}

Test(connect, same_client_id_takes_over_and_closes_the_old_connection_MQTT_3_1_4_2)
{
	struct raw old, fresh;
	raw_connect_simple(&old, broker.port, "dup-id");
	raw_connect_simple(&fresh, broker.port, "dup-id");
	cr_assert(raw_closed_within(&old, 3000, NULL));
	/* the new connection works */
	static const uint8_t pingreq[] = {0xC0, 0x00};
	raw_send(&fresh, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	raw_expect(&fresh, MQTT_PINGRESP, &f);
	raw_close(&old);
	raw_close(&fresh);
}

Test(connect, pingreq_answered_with_pingresp_MQTT_3_12_4_1)
{
	struct raw r;
	raw_connect_simple(&r, broker.port, "pinger");
	static const uint8_t pingreq[] = {0xC0, 0x00};
	raw_send(&r, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	raw_expect(&r, MQTT_PINGRESP, &f);
	cr_assert_eq(f.remaining_len, 0);
	raw_close(&r);
}

Test(connect, silent_client_closed_after_one_and_a_half_keepalives_MQTT_3_1_2_24)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = "sleepy", .clean = true, .keepalive = 1};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	cr_assert(raw_silent(&r, 1000), "not closed before the keepalive");
	cr_assert(raw_closed_within(&r, 3000, NULL), "closed within 1.5 x keepalive");
	raw_close(&r);
}

Test(connect, pinging_client_is_kept_alive)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = "awake", .clean = true, .keepalive = 1};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	static const uint8_t pingreq[] = {0xC0, 0x00};
	struct mqtt_frame f;
	for (int i = 0; i < 5; i++) {
		raw_send(&r, pingreq, sizeof(pingreq));
		raw_expect(&r, MQTT_PINGRESP, &f);
		cr_assert(raw_silent(&r, 700));
	}
	raw_close(&r);
}

Test(connect, keepalive_zero_is_never_timed_out_MQTT_3_1_2_23)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = "forever", .clean = true, .keepalive = 0};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	cr_assert(raw_silent(&r, 2500));
	raw_close(&r);
}

Test(connect, will_published_when_the_connection_drops_MQTT_3_1_2_8)
{
	struct raw watcher, dying;
	raw_connect_simple(&watcher, broker.port, "watcher");
	cr_assert_eq(raw_subscribe(&watcher, 1, "wills/#", 1), 1);
	struct raw_connect_opts o = {.client_id = "dying", .clean = true, .keepalive = 30,
				     .will_topic = "wills/dying", .will_payload = "gone", .will_qos = 1};
	cr_assert_eq(raw_connect(&dying, broker.port, &o, NULL), 0);
	raw_close(&dying); /* no DISCONNECT */
	struct mqtt_publish p;
	raw_expect_publish(&watcher, &p);
	raw_assert_publish(&p, "wills/dying", "gone");
	cr_assert_eq(p.qos, 1);
	raw_close(&watcher);
}

Test(connect, will_discarded_after_disconnect_MQTT_3_1_2_10)
{
	struct raw watcher, leaving;
	raw_connect_simple(&watcher, broker.port, "watcher");
	cr_assert_eq(raw_subscribe(&watcher, 1, "wills/#", 0), 0);
	struct raw_connect_opts o = {.client_id = "polite", .clean = true,
				     .will_topic = "wills/polite", .will_payload = "gone"};
	cr_assert_eq(raw_connect(&leaving, broker.port, &o, NULL), 0);
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&leaving, disconnect, sizeof(disconnect));
	cr_assert(raw_closed_within(&leaving, 3000, NULL), "server closes after DISCONNECT");
	cr_assert(raw_silent(&watcher, 500), "no will after DISCONNECT [MQTT-3.14.4-3]");
	raw_close(&leaving);
	raw_close(&watcher);
}

Test(connect, retained_will_is_stored_MQTT_3_1_2_17)
{
	struct raw dying, late;
	struct raw_connect_opts o = {.client_id = "dying", .clean = true, .will_topic = "wills/kept",
				     .will_payload = "bye", .will_retain = true};
	cr_assert_eq(raw_connect(&dying, broker.port, &o, NULL), 0);
	raw_close(&dying);
	/* the will is published asynchronously: poll for the retained copy. If
	 * it is published just after a poll's SUBSCRIBE, that subscriber gets
	 * it live, without RETAIN [MQTT-3.3.1-9]; that happens once at most. */
	struct mqtt_publish p;
	bool got = false;
	int live = 0;
	for (int i = 0; i < 50 && !got; i++) {
		raw_connect_simple(&late, broker.port, "late");
		raw_subscribe(&late, 1, "wills/kept", 0);
		struct mqtt_frame f;
		if (raw_recv(&late, &f, 100) == FM_OK) {
			uint8_t reason;
			cr_assert(mqtt_decode_publish(&f, MQTT_V311, &p, &reason) == FM_OK);
			raw_assert_publish(&p, "wills/kept", "bye");
			if (!p.retain)
				live++;
			cr_assert_leq(live, 1, "[MQTT-3.3.1-8] retained copy has RETAIN set");
			got = p.retain;
		}
		raw_close(&late);
	}
	cr_assert(got, "retained will never arrived");
}

/* --- broker options ------------------------------------------------------ */

Test(connect_opts, socket_without_connect_closed_after_connect_timeout, .timeout = 30)
{
	struct hb b;
	hb_start(&b, "connect_timeout 1");
	struct raw r;
	raw_open(&r, b.port);
	cr_assert(raw_closed_within(&r, 4000, NULL));
	raw_close(&r);
	cr_assert_eq(hb_stop(&b), 0);
}

Test(connect_opts, anonymous_refused_with_connack_5_when_not_allowed_MQTT_3_2_2_5, .timeout = 30)
{
	struct hb b;
	hb_start_raw(&b, "listener %PORT% 127.0.0.1\nallow_anonymous false\n");
	struct raw r;
	struct raw_connect_opts o = {.client_id = "anon", .clean = true};
	cr_assert_eq(raw_connect(&r, b.port, &o, NULL), MQTT_CONNACK_NOT_AUTHORIZED);
	cr_assert(raw_closed_within(&r, 3000, NULL));
	raw_close(&r);
	cr_assert_eq(hb_stop(&b), 0);
}

Test(connect_opts, keepalive_above_max_keepalive_refused, .timeout = 30)
{
	struct hb b;
	hb_start(&b, "max_keepalive 60");
	struct raw r;
	struct raw_connect_opts o = {.client_id = "slowpoke", .clean = true, .keepalive = 61};
	cr_assert_eq(raw_connect(&r, b.port, &o, NULL), MQTT_CONNACK_ID_REJECTED);
	raw_close(&r);
	o.keepalive = 60;
	cr_assert_eq(raw_connect(&r, b.port, &o, NULL), MQTT_CONNACK_ACCEPTED);
	raw_close(&r);
	cr_assert_eq(hb_stop(&b), 0);
}
