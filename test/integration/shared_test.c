/* Shared subscriptions "$share/{ShareName}/{filter}" (MQTT 5.0 section
 * 4.8.2), for 3.1.1 and 5.0 clients alike: each message matching the
 * filter goes to one member of the group, members that left or fell
 * behind are passed over, a persistent member's queue keeps its share, and
 * no retained messages are sent on a shared subscribe. */
#include "fleetmq/errors.h"
#include "harness.h"
#include "raw.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static struct hb broker;

static void start(void) { hb_start(&broker, NULL); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(shared, .init = start, .fini = stop, .timeout = 60);

static void connect_v(struct raw *r, const char *id, uint8_t version, bool clean)
{
	struct raw_connect_opts o = { .version = version, .client_id = id, .clean = clean, .keepalive = 60 };
	bool present;
	cr_assert_eq(raw_connect(r, broker.port, &o, &present), 0, "%s: CONNECT refused", id);
}

/* Receive up to max PUBLISH (QoS 1 ones acknowledged) until quiet_ms of
 * silence; their payloads are appended to seen (one char per message:
 * the payload's last character). Returns how many arrived. */
static int drain(struct raw *r, char *seen, int max, int quiet_ms)
{
	int n = 0;
	struct mqtt_frame f;
	while (n < max && raw_recv(r, &f, quiet_ms) == FM_OK) {
		if (f.type != MQTT_PUBLISH)
			continue;
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_publish(&f, r->version, &p, &reason), FM_OK);
		seen[n++] = p.payload.len ? (char)p.payload.p[p.payload.len - 1] : '?';
		if (p.qos == 1)
			raw_ack(r, MQTT_PUBACK, p.packet_id);
	}
	seen[n] = '\0';
	return n;
}

/* Publish payloads "m0".."m9" (QoS 1, each acknowledged) on topic. */
static void publish_ten(struct raw *pub, const char *topic)
{
	for (int i = 0; i < 10; i++) {
		char payload[8];
		snprintf(payload, sizeof(payload), "m%d", i);
		raw_publish(pub, topic, payload, 1, false, (uint16_t)(i + 1));
		cr_assert_eq(raw_expect_ack(pub, MQTT_PUBACK), i + 1);
	}
}

/* Every message of "0".."9" exactly once across a and b. */
static void assert_partition(const char *a, const char *b)
{
	int count[10] = {0};
	for (const char *p = a; *p; p++)
		count[*p - '0']++;
	for (const char *p = b; *p; p++)
		count[*p - '0']++;
	for (int i = 0; i < 10; i++)
		cr_assert_eq(count[i], 1, "message m%d delivered %d times (a \"%s\", b \"%s\")", i, count[i], a, b);
}

/* [MQTT-4.8.2-3]-style delivery: one member of the group per message, the
 * members taking turns; a 3.1.1 and a 5.0 member share one group. */
Test(shared, MQTT_4_8_2_each_message_to_one_member_and_members_take_turns)
{
	struct raw m1, m2, pub;
	connect_v(&m1, "sh-m1", MQTT_V311, true);
	connect_v(&m2, "sh-m2", MQTT_V5, true);
	connect_v(&pub, "sh-pub", MQTT_V311, true);
	cr_assert_eq(raw_subscribe(&m1, 1, "$share/g/sh/+", 1), 1);
	cr_assert_eq(raw_subscribe(&m2, 1, "$share/g/sh/+", 1), 1);
	publish_ten(&pub, "sh/x");
	char a[16], b[16];
	int na = drain(&m1, a, 10, 700), nb = drain(&m2, b, 10, 700);
	assert_partition(a, b);
	cr_assert(na >= 3 && nb >= 3, "both members take turns: %d and %d of 10", na, nb);
	raw_close(&m1);
	raw_close(&m2);
	raw_close(&pub);
}

/* Different Share Names are different shared subscriptions: each group
 * gets every message once, and an ordinary subscriber gets them all. */
Test(shared, MQTT_4_8_2_each_group_and_each_plain_subscription_gets_its_copy)
{
	struct raw g1, g2, plain, pub;
	connect_v(&g1, "sh-g1", MQTT_V5, true);
	connect_v(&g2, "sh-g2", MQTT_V5, true);
	connect_v(&plain, "sh-plain", MQTT_V311, true);
	connect_v(&pub, "sh-pub2", MQTT_V5, true);
	cr_assert_eq(raw_subscribe(&g1, 1, "$share/one/gp/#", 1), 1);
	cr_assert_eq(raw_subscribe(&g2, 1, "$share/two/gp/#", 1), 1);
	cr_assert_eq(raw_subscribe(&plain, 1, "gp/#", 1), 1);
	publish_ten(&pub, "gp/t");
	char a[16], b[16], c[16];
	cr_assert_eq(drain(&g1, a, 10, 700), 10, "group one (only member): all 10");
	cr_assert_eq(drain(&g2, b, 10, 700), 10, "group two (only member): all 10");
	cr_assert_eq(drain(&plain, c, 10, 700), 10, "ordinary subscription: all 10");
	raw_close(&g1);
	raw_close(&g2);
	raw_close(&plain);
	raw_close(&pub);
}

/* A member that disconnected (clean session: its subscription ended with
 * it) no longer gets a share; one that unsubscribed neither. */
Test(shared, MQTT_4_8_2_members_that_leave_are_passed_over)
{
	struct raw m1, m2, m3, pub;
	connect_v(&m1, "sh-l1", MQTT_V311, true);
	connect_v(&m2, "sh-l2", MQTT_V311, true);
	connect_v(&m3, "sh-l3", MQTT_V5, true);
	connect_v(&pub, "sh-lpub", MQTT_V311, true);
	cr_assert_eq(raw_subscribe(&m1, 1, "$share/g/lv", 1), 1);
	cr_assert_eq(raw_subscribe(&m2, 1, "$share/g/lv", 1), 1);
	cr_assert_eq(raw_subscribe(&m3, 1, "$share/g/lv", 1), 1);
	raw_close(&m2);
	raw_unsubscribe(&m3, 2, "$share/g/lv");
	publish_ten(&pub, "lv");
	char a[16], c[16];
	cr_assert_eq(drain(&m1, a, 10, 700), 10, "the one member left gets all: \"%s\"", a);
	cr_assert_eq(drain(&m3, c, 10, 300), 0, "unsubscribed [MQTT-3.10.4-1]");
	raw_close(&m1);
	raw_close(&m3);
	raw_close(&pub);
}

/* A persistent member that is offline keeps its queued share; while it is
 * away, new messages go to the member that is online; when every member
 * is away, a persistent one's queue takes them and delivers on return. */
Test(shared, MQTT_4_8_2_offline_persistent_member_queues_only_when_no_one_is_online)
{
	struct raw on, off, pub;
	connect_v(&off, "sh-off", MQTT_V311, false);
	cr_assert_eq(raw_subscribe(&off, 1, "$share/g/pq", 1), 1);
	raw_close(&off);
	connect_v(&on, "sh-on", MQTT_V311, true);
	cr_assert_eq(raw_subscribe(&on, 1, "$share/g/pq", 1), 1);
	connect_v(&pub, "sh-ppub", MQTT_V311, true);
	publish_ten(&pub, "pq");
	char a[16], b[16];
	cr_assert_eq(drain(&on, a, 10, 700), 10, "the online member takes all while the other is away");
	raw_close(&on); /* clean: its membership ends (once the broker has seen the close) */
	cr_assert(hb_log_contains(&broker, "client sh-on (", 5000));
	publish_ten(&pub, "pq");
	bool present;
	struct raw_connect_opts o = { .client_id = "sh-off", .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(&off, broker.port, &o, &present), 0);
	cr_assert(present, "its session was kept");
	cr_assert_eq(drain(&off, b, 10, 1000), 10, "queued for the persistent member: \"%s\"", b);
	raw_close(&off);
	raw_close(&pub);
}

/* No retained messages are sent on a shared subscribe (3.3.1.3: retained
 * messages go to new Non-shared Subscriptions). */
Test(shared, no_retained_messages_on_a_shared_subscribe_3_3_1_3)
{
	struct raw pub, m;
	connect_v(&pub, "sh-rpub", MQTT_V311, true);
	raw_publish(&pub, "rt/a", "kept", 1, true, 1);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 1);
	connect_v(&m, "sh-rm", MQTT_V5, true);
	cr_assert_eq(raw_subscribe(&m, 1, "$share/g/rt/#", 1), 1);
	cr_assert(raw_silent(&m, 500), "a retained message was sent on a shared subscribe");
	raw_close(&m);
	raw_close(&pub);
}

/* No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]:
 * DISCONNECT 0x82, connection closed. */
Test(shared, MQTT_3_8_3_4_no_local_on_a_shared_subscription_is_a_protocol_error)
{
	struct raw m;
	connect_v(&m, "sh-nl", MQTT_V5, true);
	struct mqtt_sub_entry e = { .filter = { "$share/g/nl", 11 }, .options = 0x04 | 1 };
	cr_assert_eq(mqtt_encode_subscribe(&m.out, MQTT_V5, 1, &e, 1), FM_OK);
	raw_send_buf(&m, &m.out);
	struct mqtt_frame f;
	raw_expect(&m, MQTT_DISCONNECT, &f);
	struct mqtt_disconnect d;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_disconnect(&f, MQTT_V5, &d, &reason), FM_OK);
	cr_assert_eq(d.reason, MQTT_RC_PROTOCOL_ERROR);
	cr_assert(raw_closed_within(&m, 3000, NULL));
	raw_close(&m);
}

/* A Share Name must be non-empty and without wildcards, and a filter must
 * follow [MQTT-4.8.2-1], [MQTT-4.8.2-2]: 0x8F in 5.0, 0x80 in 3.1.1. */
Test(shared, MQTT_4_8_2_1_MQTT_4_8_2_2_invalid_share_names_refused_per_filter)
{
	static const char *const bad[] = { "$share//a", "$share/g+/a", "$share/g#/a", "$share/g", "$share/g/" };
	struct raw v5, v3;
	connect_v(&v5, "sh-bad5", MQTT_V5, true);
	connect_v(&v3, "sh-bad3", MQTT_V311, true);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(raw_subscribe(&v5, (uint16_t)(i + 1), bad[i], 1), MQTT_RC_TOPIC_FILTER_INVALID, "%s", bad[i]);
		cr_assert_eq(raw_subscribe(&v3, (uint16_t)(i + 1), bad[i], 1), MQTT_SUBACK_FAILURE, "%s", bad[i]);
	}
	cr_assert_eq(raw_subscribe(&v5, 9, "$share/g/a/+/#", 2), 2, "a valid one is granted");
	raw_close(&v5);
	raw_close(&v3);
}

/* The member's subscription identifier travels with its share
 * [MQTT-3.3.4-3]. */
Test(shared, MQTT_3_3_4_3_subscription_identifier_of_the_member_is_delivered)
{
	struct raw m, pub;
	connect_v(&m, "sh-sid", MQTT_V5, true);
	/* SUBSCRIBE with a Subscription Identifier: built by hand (the raw
	 * helper sends none) */
	uint8_t pkt[] = { 0x82, 0, 0, 1, 2, 0x0B, 42, 0, 12, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 's', 'i', 'd', 1 };
	pkt[1] = (uint8_t)(sizeof(pkt) - 2);
	raw_send(&m, pkt, sizeof(pkt));
	struct mqtt_frame f;
	raw_expect(&m, MQTT_SUBACK, &f);
	struct mqtt_suback ack;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_suback(&f, MQTT_V5, &ack, &reason), FM_OK);
	cr_assert(ack.codes.len == 1 && ack.codes.p[0] == 1, "granted QoS 1");
	connect_v(&pub, "sh-sidpub", MQTT_V311, true);
	raw_publish(&pub, "sid", "x", 0, false, 0);
	struct mqtt_publish p;
	raw_expect_publish(&m, &p);
	cr_assert(p.props.len >= 2 && p.props.p[0] == 0x0B && p.props.p[1] == 42,
		  "Subscription Identifier 42 expected in the delivery's properties");
	raw_close(&m);
	raw_close(&pub);
}

/* A persistent member's shared subscription is stored like any other: it
 * is still a member after a crash and restart. */
Test(shared, persistent_members_shared_subscription_survives_a_restart)
{
	struct raw m, pub;
	connect_v(&m, "sh-dur", MQTT_V311, false);
	cr_assert_eq(raw_subscribe(&m, 1, "$share/g/dur", 1), 1);
	raw_close(&m);
	hb_terminate(&broker, SIGKILL);
	hb_restart(&broker);
	connect_v(&pub, "sh-durpub", MQTT_V311, true);
	publish_ten(&pub, "dur");
	bool present;
	struct raw_connect_opts o = { .client_id = "sh-dur", .clean = false, .keepalive = 60 };
	cr_assert_eq(raw_connect(&m, broker.port, &o, &present), 0);
	cr_assert(present);
	char a[16];
	cr_assert_eq(drain(&m, a, 10, 1000), 10, "queued to the restored member: \"%s\"", a);
	raw_close(&m);
	raw_close(&pub);
}
