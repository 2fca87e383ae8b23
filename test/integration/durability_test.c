/* The durability contract against the real binary: what the broker
 * acknowledged survives SIGKILL (and SIGTERM) and a restart on the same
 * store. A persistent subscriber is offline; a publisher streams QoS 1 and
 * QoS 2 messages with sequence numbers, many in flight; the broker is
 * killed at a random point; after the restart every message the publisher
 * saw acknowledged (PUBACK, or PUBREC for QoS 2) reaches the subscriber,
 * QoS 2 ones exactly once. Retained messages and subscriptions likewise. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSGS 2000
#define WINDOW 64

static struct hb broker;

static void start(void) { hb_start(&broker, "workers 2\nmax_queued_messages 0\nmax_inflight_messages 20"); }
static void stop(void) { cr_assert_eq(hb_stop(&broker), 0, "broker exit status"); }

TestSuite(durability, .init = start, .fini = stop, .timeout = 120);

static void send_disconnect(struct raw *r)
{
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(r, disconnect, sizeof(disconnect));
}

/* A persistent session subscribed to filter at QoS 2, then offline. */
static void park_subscriber(const char *id, const char *filter)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = id, .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&r, 1, filter, 2), 2);
	send_disconnect(&r);
	cr_assert(raw_closed_within(&r, 2000, NULL));
	raw_close(&r);
}

struct stream {
	bool acked[MSGS];   /* PUBACK / PUBREC seen: the broker promised */
	int sent, acks;
};

static uint8_t qos_of(int seq) { return seq % 2 ? 2 : 1; }
static uint16_t id_of(int seq) { return (uint16_t)(seq + 1); }

/* One packet from the broker to the publisher; false once it is gone. */
static bool take_ack(struct raw *pub, struct stream *st, int timeout_ms)
{
	struct mqtt_frame f;
	int rc = raw_recv(pub, &f, timeout_ms);
	if (rc != FM_OK)
		return false;
	struct mqtt_ack a;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_ack(&f, MQTT_V311, &a, &reason), FM_OK);
	if (a.type == MQTT_PUBACK || a.type == MQTT_PUBREC) {
		int seq = a.packet_id - 1;
		cr_assert(seq >= 0 && seq < MSGS && !st->acked[seq], "unexpected ack for id %u", a.packet_id);
		st->acked[seq] = true;
		st->acks++;
		if (a.type == MQTT_PUBREC)
			raw_ack(pub, MQTT_PUBREL, a.packet_id);
	}
	return true;
}

/* The next PUBLISH on r within quiet_ms, answering any PUBREL on the way
 * with PUBCOMP; false once nothing more comes. */
static bool next_publish(struct raw *r, struct mqtt_publish *p, int quiet_ms)
{
	struct mqtt_frame f;
	uint8_t reason;
	while (raw_recv(r, &f, quiet_ms) == FM_OK) {
		if (f.type == MQTT_PUBREL) {
			struct mqtt_ack a;
			cr_assert_eq(mqtt_decode_ack(&f, MQTT_V311, &a, &reason), FM_OK);
			raw_ack(r, MQTT_PUBCOMP, a.packet_id);
			continue;
		}
		cr_assert_eq(f.type, MQTT_PUBLISH, "unexpected packet %u", f.type);
		cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, p, &reason), FM_OK);
		return true;
	}
	return false;
}

/* The sequence number a test message carries as its payload. */
static int seq_of(const struct mqtt_publish *p)
{
	char text[16];
	snprintf(text, sizeof(text), "%.*s", (int)p->payload.len, (const char *)p->payload.p);
	return atoi(text);
}

/* Publish until kill_after acknowledgements, then kill the broker with sig
 * while up to WINDOW messages are still in flight, and collect whatever
 * acknowledgements it sent before dying. */
static void publish_and_kill(struct stream *st, int kill_after, int sig)
{
	struct raw pub;
	struct raw_connect_opts o = {.client_id = "dur-pub", .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(&pub, broker.port, &o, NULL), 0);
	char payload[16];
	while (st->acks < kill_after) {
		while (st->sent < MSGS && st->sent - st->acks < WINDOW) {
			int seq = st->sent++;
			snprintf(payload, sizeof(payload), "%d", seq);
			raw_publish(&pub, qos_of(seq) == 1 ? "dur/q1" : "dur/q2", payload, qos_of(seq), false, id_of(seq));
		}
		cr_assert(take_ack(&pub, st, 5000), "publisher: broker went silent after %d acks", st->acks);
	}
	cr_assert_eq(hb_terminate(&broker, sig) != -1, 1);
	while (take_ack(&pub, st, 200))
		; /* acknowledgements already on their way count as given */
	raw_close(&pub);
}

/* Reconnect the parked subscriber and count every message it receives
 * until the broker has nothing more for it. */
static void collect(const char *id, int *got_q1, int *got_q2)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = id, .clean = false, .keepalive = 60};
	bool present = false;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert(present, "the persistent session did not survive the restart [MQTT-3.2.2-2]");
	struct mqtt_publish p;
	while (next_publish(&r, &p, 1500)) {
		int seq = seq_of(&p);
		cr_assert(seq >= 0 && seq < MSGS);
		(qos_of(seq) == 1 ? got_q1 : got_q2)[seq]++;
		raw_ack(&r, p.qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, p.packet_id);
	}
	send_disconnect(&r);
	raw_close(&r);
}

static void check_round(const struct stream *st, const int *got_q1, const int *got_q2, const char *how)
{
	int lost = 0, first_lost = -1;
	for (int seq = 0; seq < MSGS; seq++) {
		int got = qos_of(seq) == 1 ? got_q1[seq] : got_q2[seq];
		if (qos_of(seq) == 2)
			cr_assert_leq(got, 1, "%s: QoS 2 message %d delivered %d times", how, seq, got);
		if (st->acked[seq] && got == 0 && lost++ == 0)
			first_lost = seq;
	}
	cr_assert_eq(lost, 0, "%s: %d acknowledged messages lost (first: %d) of %d acknowledged", how, lost,
		     first_lost, st->acks);
}

static void kill_round(int sig, int kill_after, const char *how)
{
	static struct stream st;
	static int got_q1[MSGS], got_q2[MSGS];
	memset(&st, 0, sizeof(st));
	memset(got_q1, 0, sizeof(got_q1));
	memset(got_q2, 0, sizeof(got_q2));
	park_subscriber("dur-sub", "dur/#");
	publish_and_kill(&st, kill_after, sig);
	hb_restart(&broker);
	collect("dur-sub", got_q1, got_q2);
	cr_log_info("%s after %d acks: %d sent, %d acknowledged, all of them delivered", how, kill_after, st.sent,
		    st.acks);
	check_round(&st, got_q1, got_q2, how);
}

Test(durability, acknowledged_qos1_and_qos2_survive_sigkill_at_random_points)
{
	srand((unsigned)time(NULL));
	for (int round = 0; round < 3; round++) {
		char how[64];
		int kill_after = 100 + rand() % (MSGS - 200);
		snprintf(how, sizeof(how), "SIGKILL round %d", round);
		kill_round(SIGKILL, kill_after, how);
	}
}

Test(durability, acknowledged_messages_survive_sigterm_and_restart)
{
	kill_round(SIGTERM, MSGS / 2, "SIGTERM");
}

/* Retained messages [MQTT-3.3.1-5] and their removal [MQTT-3.3.1-10]
 * survive a SIGKILL once acknowledged. */
Test(durability, retained_messages_and_their_removal_survive_sigkill_MQTT_3_3_1_5)
{
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "ret-pub");
	char topic[32], payload[32];
	for (int i = 0; i < 200; i++) {
		snprintf(topic, sizeof(topic), "ret/%d", i);
		snprintf(payload, sizeof(payload), "value-%d", i);
		raw_publish(&pub, topic, payload, 1, true, (uint16_t)(i + 1));
	}
	raw_publish(&pub, "ret/7", "", 1, true, 201); /* removes ret/7 */
	for (int i = 0; i < 201; i++)
		raw_expect_ack(&pub, MQTT_PUBACK);
	hb_terminate(&broker, SIGKILL);
	raw_close(&pub);
	hb_restart(&broker);
	struct raw sub;
	raw_connect_simple(&sub, broker.port, "ret-sub");
	cr_assert_eq(raw_subscribe(&sub, 1, "ret/#", 1), 1);
	bool seen[200] = {false};
	struct mqtt_frame f;
	int got = 0;
	while (raw_recv(&sub, &f, 1000) == FM_OK) {
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &p, &reason), FM_OK);
		cr_assert(p.retain, "retained message without RETAIN [MQTT-3.3.1-8]");
		int i = atoi((const char *)p.topic.p + 4);
		snprintf(payload, sizeof(payload), "value-%d", i);
		cr_assert(p.payload.len == strlen(payload) && memcmp(p.payload.p, payload, p.payload.len) == 0);
		cr_assert(!seen[i]);
		seen[i] = true;
		got++;
		raw_ack(&sub, MQTT_PUBACK, p.packet_id);
	}
	cr_assert(!seen[7], "a removed retained message came back");
	cr_assert_eq(got, 199, "%d of 199 retained messages after the restart", got);
	raw_close(&sub);
}

/* A persistent session's subscriptions survive: after the restart, new
 * messages reach it while it is still offline [MQTT-3.1.2-4]. */
Test(durability, subscriptions_of_persistent_sessions_survive_sigkill_MQTT_3_1_2_4)
{
	park_subscriber("keeper", "keep/+/x");
	/* a commit has happened once the publisher's QoS 1 is acknowledged,
	 * and the subscription was written before it */
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "keep-pub");
	raw_publish(&pub, "keep/a/x", "before", 1, false, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	raw_close(&pub);
	hb_terminate(&broker, SIGKILL);
	hb_restart(&broker);
	raw_connect_simple(&pub, broker.port, "keep-pub");
	raw_publish(&pub, "keep/b/x", "after", 1, false, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	raw_close(&pub);
	struct raw r;
	struct raw_connect_opts o = {.client_id = "keeper", .clean = false, .keepalive = 60};
	bool present = false;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert(present);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p);
	raw_assert_publish(&p, "keep/a/x", "before");
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	raw_expect_publish(&r, &p);
	raw_assert_publish(&p, "keep/b/x", "after");
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	cr_assert(raw_silent(&r, 300));
	raw_close(&r);
}

/* A clean session start discards the stored session [MQTT-3.1.2-6]: after
 * a restart it is not there any more. */
Test(durability, a_clean_start_removes_the_stored_session_MQTT_3_1_2_6)
{
	park_subscriber("gone", "gone/#");
	struct raw r;
	struct raw_connect_opts clean = {.client_id = "gone", .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &clean, NULL), 0);
	send_disconnect(&r);
	raw_close(&r);
	struct raw pub; /* a commit after the session's removal */
	raw_connect_simple(&pub, broker.port, "gone-pub");
	raw_publish(&pub, "x/retained", "r", 1, true, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	raw_close(&pub);
	hb_terminate(&broker, SIGKILL);
	hb_restart(&broker);
	struct raw_connect_opts resume = {.client_id = "gone", .clean = false, .keepalive = 60};
	bool present = true;
	cr_assert_eq(raw_connect(&r, broker.port, &resume, &present), 0);
	cr_assert(!present, "a session ended by a clean start came back after the restart");
	raw_close(&r);
}

/* What an online persistent subscriber acknowledged is gone from the
 * store: after a restart nothing comes again (PUBACK ends the flow
 * [MQTT-4.3.2-1], PUBCOMP [MQTT-4.3.3-1]). */
Test(durability, acknowledged_deliveries_are_not_redelivered_after_restart_MQTT_4_3_2_1)
{
	struct raw sub, pub;
	struct raw_connect_opts o = {.client_id = "acker", .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&sub, broker.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&sub, 1, "ack/#", 2), 2);
	raw_connect_simple(&pub, broker.port, "ack-pub");
	char payload[16];
	for (int i = 0; i < 100; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		uint8_t qos = i % 2 ? 2 : 1;
		raw_publish(&pub, "ack/x", payload, qos, false, (uint16_t)(i + 1));
		if (qos == 1) {
			raw_expect_ack(&pub, MQTT_PUBACK);
		} else {
			raw_ack(&pub, MQTT_PUBREL, raw_expect_ack(&pub, MQTT_PUBREC));
			raw_expect_ack(&pub, MQTT_PUBCOMP);
		}
		struct mqtt_publish p;
		raw_expect_publish(&sub, &p);
		if (p.qos == 1) {
			raw_ack(&sub, MQTT_PUBACK, p.packet_id);
		} else {
			raw_ack(&sub, MQTT_PUBREC, p.packet_id);
			raw_ack(&sub, MQTT_PUBCOMP, raw_expect_ack(&sub, MQTT_PUBREL));
		}
	}
	raw_close(&pub);
	/* the broker answers in order: its PINGRESP means every ack before it
	 * was processed (an ack still unread at shutdown is rightly resent) */
	static const uint8_t pingreq[] = {0xC0, 0x00};
	raw_send(&sub, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	raw_expect(&sub, MQTT_PINGRESP, &f);
	send_disconnect(&sub);
	raw_close(&sub);
	cr_assert_eq(hb_terminate(&broker, SIGTERM), 0);
	hb_restart(&broker);
	bool present = false;
	cr_assert_eq(raw_connect(&sub, broker.port, &o, &present), 0);
	cr_assert(present);
	cr_assert(raw_silent(&sub, 500), "an acknowledged delivery came again after the restart");
	raw_close(&sub);
}

/* A QoS 2 receiver as the spec describes it (method B): a PUBLISH whose
 * packet id it has acknowledged with PUBREC and not yet seen released is a
 * duplicate, not a new message [MQTT-4.3.3-2]. */
struct receiver {
	bool awaiting_rel[65536];  /* PUBREC sent, no PUBREL yet */
	int delivered[MSGS];       /* to the application */
	bool dup_missing;          /* a QoS 1 message came again without DUP */
};

static void receive_one(struct raw *r, struct receiver *rx, const struct mqtt_frame *f, bool reply)
{
	uint8_t reason;
	if (f->type == MQTT_PUBREL) {
		struct mqtt_ack a;
		cr_assert_eq(mqtt_decode_ack(f, MQTT_V311, &a, &reason), FM_OK);
		rx->awaiting_rel[a.packet_id] = false;
		if (reply)
			raw_ack(r, MQTT_PUBCOMP, a.packet_id);
		return;
	}
	cr_assert_eq(f->type, MQTT_PUBLISH, "unexpected packet %u", f->type);
	struct mqtt_publish p;
	cr_assert_eq(mqtt_decode_publish(f, MQTT_V311, &p, &reason), FM_OK);
	char text[16];
	snprintf(text, sizeof(text), "%.*s", (int)p.payload.len, (const char *)p.payload.p);
	int seq = atoi(text);
	cr_assert(seq >= 0 && seq < MSGS);
	if (p.qos == 2 && rx->awaiting_rel[p.packet_id]) {
		/* a resend of one we hold: not delivered again */
	} else {
		if (p.qos == 1 && rx->delivered[seq] > 0 && !p.dup)
			rx->dup_missing = true;
		rx->delivered[seq]++;
		if (p.qos == 2)
			rx->awaiting_rel[p.packet_id] = true;
	}
	if (reply)
		raw_ack(r, p.qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, p.packet_id);
}

/* Read what has arrived on both connections without waiting long. */
static void pump_live(struct raw *pub, struct raw *sub, struct stream *st, struct receiver *rx)
{
	struct mqtt_frame f;
	while (raw_recv(sub, &f, 0) == FM_OK)
		receive_one(sub, rx, &f, true);
	take_ack(pub, st, 1);
}

/* The subscriber is online while the broker dies: a QoS 2 message it
 * already received must come again (if at all) under the same packet id,
 * so it is delivered once; QoS 1 resends carry DUP [MQTT-4.4.0-1]; every
 * acknowledged message arrives. */
static void online_kill_round(const char *sub_id, int kill_after)
{
	static struct stream st;
	static struct receiver rx;
	memset(&st, 0, sizeof(st));
	memset(&rx, 0, sizeof(rx));
	struct raw sub, pub;
	struct raw_connect_opts so = {.client_id = sub_id, .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&sub, broker.port, &so, NULL), 0);
	cr_assert_eq(raw_subscribe(&sub, 1, "dur/#", 2), 2);
	struct raw_connect_opts po = {.client_id = "live-pub", .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(&pub, broker.port, &po, NULL), 0);
	char payload[16];
	for (int spins = 0; st.acks < kill_after; spins++) {
		cr_assert_lt(spins, 200000, "publisher stalled at %d acks", st.acks);
		while (st.sent < MSGS && st.sent - st.acks < WINDOW) {
			int seq = st.sent++;
			snprintf(payload, sizeof(payload), "%d", seq);
			raw_publish(&pub, qos_of(seq) == 1 ? "dur/q1" : "dur/q2", payload, qos_of(seq), false, id_of(seq));
		}
		pump_live(&pub, &sub, &st, &rx);
	}
	cr_assert_neq(hb_terminate(&broker, SIGKILL), -1);
	struct mqtt_frame f;
	while (take_ack(&pub, &st, 100))
		;
	while (raw_recv(&sub, &f, 100) == FM_OK)
		receive_one(&sub, &rx, &f, false); /* received, but our acks cannot reach it any more */
	raw_close(&pub);
	raw_close(&sub);

	hb_restart(&broker);
	bool present = false;
	cr_assert_eq(raw_connect(&sub, broker.port, &so, &present), 0);
	cr_assert(present);
	while (raw_recv(&sub, &f, 1500) == FM_OK)
		receive_one(&sub, &rx, &f, true);
	raw_close(&sub);
	int lost = 0;
	for (int seq = 0; seq < MSGS; seq++) {
		if (qos_of(seq) == 2)
			cr_assert_leq(rx.delivered[seq], 1, "QoS 2 message %d delivered %d times", seq, rx.delivered[seq]);
		lost += st.acked[seq] && rx.delivered[seq] == 0;
	}
	cr_assert_eq(lost, 0, "%d acknowledged messages never arrived", lost);
	cr_assert(!rx.dup_missing, "a QoS 1 message came again without DUP");
	cr_log_info("online SIGKILL after %d acks: %d sent, %d acknowledged", kill_after, st.sent, st.acks);
}

Test(durability, online_persistent_subscriber_gets_qos2_exactly_once_across_sigkill_MQTT_4_3_3_2)
{
	srand((unsigned)time(NULL) ^ 0x5eed);
	/* offline sessions on the same filter: a burst then fans out to more
	 * deliveries per worker than one cross-worker batch holds, so batches
	 * are also posted before the iteration ends */
	for (int i = 0; i < 12; i++) {
		char id[32];
		snprintf(id, sizeof(id), "parked-%d", i);
		park_subscriber(id, "dur/#");
	}
	for (int round = 0; round < 4; round++) {
		char id[32];
		snprintf(id, sizeof(id), "live-sub-%d", round);
		online_kill_round(id, 200 + rand() % (MSGS - 400));
	}
}

/* A retained message sent to a persistent session because it subscribed
 * [MQTT-3.3.1-8] is an ordinary delivery of that session: not
 * acknowledged before a crash, it comes again afterwards, with DUP and
 * still flagged retained. */
Test(durability, retained_delivery_to_a_persistent_session_survives_sigkill_MQTT_3_3_1_8)
{
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "rd-pub");
	raw_publish(&pub, "rd/state", "on", 1, true, 1);
	raw_expect_ack(&pub, MQTT_PUBACK);
	raw_close(&pub);
	struct raw r;
	struct raw_connect_opts o = {.client_id = "rd-sub", .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&r, 1, "rd/#", 1), 1);
	struct mqtt_publish p;
	raw_expect_publish(&r, &p); /* received, never acknowledged */
	raw_assert_publish(&p, "rd/state", "on");
	cr_assert(p.retain);
	uint16_t first_id = p.packet_id;
	hb_terminate(&broker, SIGKILL);
	raw_close(&r);
	hb_restart(&broker);
	bool present = false;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert(present);
	raw_expect_publish(&r, &p);
	raw_assert_publish(&p, "rd/state", "on");
	cr_assert(p.dup, "a resent delivery without DUP [MQTT-4.4.0-1]");
	cr_assert(p.retain, "the resent retained delivery lost its RETAIN flag");
	cr_assert_eq(p.packet_id, first_id, "resent under another packet id");
	raw_ack(&r, MQTT_PUBACK, p.packet_id);
	cr_assert(raw_silent(&r, 300));
	raw_close(&r);
}

/* A persistent publisher's QoS 2 flows survive the crash too: after the
 * restart it completes each one as the spec says (PUBREL for those it got
 * PUBREC for, the PUBLISH again with DUP for the others [MQTT-4.4.0-1]);
 * the broker, remembering the packet ids it stored [MQTT-4.3.3-2], routes
 * none twice, so the subscriber gets every message exactly once. */
Test(durability, a_persistent_publishers_qos2_is_routed_exactly_once_across_sigkill_MQTT_4_3_3_2)
{
	enum { N = 600 };
	static bool got_pubrec[N];
	static int delivered[N];
	memset(got_pubrec, 0, sizeof(got_pubrec));
	memset(delivered, 0, sizeof(delivered));
	park_subscriber("q2-sub", "q2/#");
	struct raw pub;
	struct raw_connect_opts po = {.client_id = "q2-pub", .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&pub, broker.port, &po, NULL), 0);
	char payload[16];
	srand((unsigned)time(NULL) ^ 0x2b2b);
	int sent = 0, recs = 0, kill_after = 50 + rand() % (N - 100);
	struct mqtt_frame f;
	while (recs < kill_after) {
		while (sent < N && sent - recs < WINDOW) {
			snprintf(payload, sizeof(payload), "%d", sent);
			raw_publish(&pub, "q2/x", payload, 2, false, (uint16_t)(sent + 1));
			sent++;
		}
		cr_assert_eq(raw_recv(&pub, &f, 5000), FM_OK);
		struct mqtt_ack a;
		uint8_t reason;
		cr_assert_eq(mqtt_decode_ack(&f, MQTT_V311, &a, &reason), FM_OK);
		cr_assert_eq(a.type, MQTT_PUBREC);
		got_pubrec[a.packet_id - 1] = true;
		recs++; /* PUBREL is kept back: the flows are open at the crash */
	}
	hb_terminate(&broker, SIGKILL);
	while (raw_recv(&pub, &f, 100) == FM_OK) {
		struct mqtt_ack a;
		uint8_t reason;
		if (mqtt_decode_ack(&f, MQTT_V311, &a, &reason) == FM_OK && a.type == MQTT_PUBREC)
			got_pubrec[a.packet_id - 1] = true;
	}
	raw_close(&pub);
	hb_restart(&broker);
	bool present = false;
	cr_assert_eq(raw_connect(&pub, broker.port, &po, &present), 0);
	cr_assert(present, "the publisher's session did not survive");
	for (int i = 0; i < sent; i++) {
		if (got_pubrec[i]) {
			raw_ack(&pub, MQTT_PUBREL, (uint16_t)(i + 1));
			raw_expect_ack(&pub, MQTT_PUBCOMP);
			continue;
		}
		snprintf(payload, sizeof(payload), "%d", i);
		struct buf b;
		buf_init(&b);
		struct mqtt_publish p = {.qos = 2, .dup = true, .topic = {"q2/x", 4},
					 .packet_id = (uint16_t)(i + 1), .payload = {(const uint8_t *)payload, strlen(payload)}};
		cr_assert_eq(mqtt_encode_publish(&b, MQTT_V311, &p), FM_OK);
		raw_send_buf(&pub, &b);
		buf_fini(&b);
		raw_expect_ack(&pub, MQTT_PUBREC);
		raw_ack(&pub, MQTT_PUBREL, (uint16_t)(i + 1));
		raw_expect_ack(&pub, MQTT_PUBCOMP);
	}
	raw_close(&pub);
	struct raw sub;
	struct raw_connect_opts so = {.client_id = "q2-sub", .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&sub, broker.port, &so, &present), 0);
	struct mqtt_publish p;
	while (next_publish(&sub, &p, 1500)) {
		int seq = seq_of(&p);
		cr_assert(seq >= 0 && seq < sent);
		delivered[seq]++;
		raw_ack(&sub, MQTT_PUBREC, p.packet_id);
	}
	raw_close(&sub);
	for (int i = 0; i < sent; i++)
		cr_assert_eq(delivered[i], 1, "message %d (PUBREC before the crash: %d) delivered %d times", i,
			     got_pubrec[i], delivered[i]);
	cr_log_info("persistent QoS 2 publisher: %d sent, %d PUBREC before SIGKILL, all delivered once", sent, recs);
}

/* The CONNACK that says "no session" after a clean start ended a stored
 * one [MQTT-3.2.2-1] is true after a crash right behind it: the removal
 * commits first. */
Test(durability, no_session_announced_by_connack_stays_gone_after_sigkill_MQTT_3_2_2_1)
{
	for (int round = 0; round < 5; round++) {
		char id[32];
		snprintf(id, sizeof(id), "fresh-%d", round);
		park_subscriber(id, "fresh/#");
		struct raw r;
		struct raw_connect_opts clean = {.client_id = id, .clean = true, .keepalive = 60};
		bool present = true;
		cr_assert_eq(raw_connect(&r, broker.port, &clean, &present), 0);
		cr_assert(!present);
		hb_terminate(&broker, SIGKILL); /* right after the CONNACK */
		raw_close(&r);
		hb_restart(&broker);
		struct raw_connect_opts resume = {.client_id = id, .clean = false, .keepalive = 60};
		present = true;
		cr_assert_eq(raw_connect(&r, broker.port, &resume, &present), 0);
		cr_assert(!present, "round %d: the session the CONNACK said was gone came back", round);
		raw_close(&r);
	}
}

/* After PUBCOMP the publisher may reuse the packet id at once
 * [MQTT-2.3.1-3]; a crash right behind the PUBCOMP must not make the
 * broker take the next message under that id for a resend of the last. */
Test(durability, a_packet_id_released_by_pubcomp_is_free_after_sigkill_MQTT_2_3_1_3)
{
	park_subscriber("reuse-sub", "reuse/#");
	struct raw_connect_opts po = {.client_id = "reuse-pub", .clean = false, .keepalive = 60};
	for (int round = 0; round < 5; round++) {
		struct raw pub;
		cr_assert_eq(raw_connect(&pub, broker.port, &po, NULL), 0);
		char payload[16];
		snprintf(payload, sizeof(payload), "m%d", round);
		raw_publish(&pub, "reuse/x", payload, 2, false, 7);
		raw_ack(&pub, MQTT_PUBREL, raw_expect_ack(&pub, MQTT_PUBREC));
		raw_expect_ack(&pub, MQTT_PUBCOMP);
		hb_terminate(&broker, SIGKILL); /* right after the PUBCOMP */
		raw_close(&pub);
		hb_restart(&broker);
	}
	struct raw sub;
	struct raw_connect_opts so = {.client_id = "reuse-sub", .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&sub, broker.port, &so, NULL), 0);
	bool seen[5] = {false};
	struct mqtt_publish p;
	while (next_publish(&sub, &p, 1000)) {
		int round = p.payload.len == 2 ? p.payload.p[1] - '0' : -1;
		cr_assert(round >= 0 && round < 5 && !seen[round]);
		seen[round] = true;
		raw_ack(&sub, MQTT_PUBREC, p.packet_id);
	}
	raw_close(&sub);
	for (int round = 0; round < 5; round++)
		cr_assert(seen[round], "the message of round %d, sent under a reused id after a crash, was lost", round);
}
