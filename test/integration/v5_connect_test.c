/* MQTT 5.0 CONNECT / CONNACK and the broker's DISCONNECT: CONNACK
 * properties, refusals with their reason codes, assigned client
 * identifiers, Server Keep Alive, takeover, keepalive timeout, shutdown,
 * AUTH, and the Reason String's presence (MQTT 5.0 sections 3.1, 3.2,
 * 3.14, 3.15). Exact bytes where the packet is fully determined. */
#include "v5.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

TestSuite(v5_connect, .init = v5_start_default, .fini = v5_stop, .timeout = 60);
/* Tests that start their own broker with the config lines they need. */
TestSuite(v5_connect_conf, .fini = v5_stop, .timeout = 60);

static const uint8_t pingreq[] = {0xC0, 0x00};

/* A 5.0 CONNECT with the given options, refused with rc: CONNACK with
 * session present 0 [MQTT-3.2.2-6], then the close [MQTT-3.2.2-7]. */
static void expect_refused(struct raw_connect_opts *o, uint8_t rc, const char *what)
{
	struct raw r;
	bool present = true;
	int got = raw_connect(&r, v5_broker.port, o, &present);
	cr_assert_eq(got, rc, "%s: CONNACK reason 0x%02x, expected 0x%02x", what, got, rc);
	cr_assert_not(present, "%s: session present must be 0 on a refusal [MQTT-3.2.2-6]", what);
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, V5_WAIT_MS, &last), "%s: not closed after the refusal [MQTT-3.2.2-7]", what);
	cr_assert_eq(last, 0, "%s: packet type %u after a refusing CONNACK", what, last);
	raw_close(&r);
}

/* Connect a 5.0 client with a keepalive and optional CONNECT properties. */
static void connect_with(struct raw *r, const char *id, uint16_t keepalive, struct mqtt_bin props,
			 struct mqtt_props *connack)
{
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = id, .clean = true, .keepalive = keepalive,
				     .props = props, .connack_props = connack};
	int rc = raw_connect(r, v5_broker.port, &o, NULL);
	cr_assert_eq(rc, MQTT_RC_SUCCESS, "CONNECT of %s refused with 0x%02x", id, rc);
}

/* --- CONNACK properties ------------------------------------------------------ */

Test(v5_connect, MQTT_3_2_2_connack_properties_with_the_default_config)
{
	struct raw r;
	struct mqtt_props p;
	connect_with(&r, "props-default", 60, (struct mqtt_bin){0}, &p);
	/* everything else is the spec's default: retain, wildcard, subscription
	 * identifiers and shared subscriptions available, QoS 2 */
	uint64_t want = MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAXIMUM) | MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
	cr_assert_eq(p.has, want,
		     "CONNACK properties: mask 0x%llx, expected exactly Receive Maximum, Topic Alias Maximum "
		     "(0x%llx): no Retain Available, Maximum Packet Size, Assigned Client Identifier, Server Keep "
		     "Alive, Shared Subscription Available",
		     (unsigned long long)p.has, (unsigned long long)want);
	cr_assert_eq(p.num[MQTT_PROP_RECEIVE_MAXIMUM], 20, "Receive Maximum = max_inflight_messages (20)");
	cr_assert_eq(p.num[MQTT_PROP_TOPIC_ALIAS_MAXIMUM], 10, "Topic Alias Maximum = max_topic_alias (10)");
	raw_close(&r);
}

Test(v5_connect, MQTT_3_2_2_16_assigned_client_identifier)
{
	struct raw a, b, c;
	struct mqtt_props p;
	/* empty id with Clean Start 1 */
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "", .clean = true, .keepalive = 60,
				     .connack_props = &p};
	cr_assert_eq(raw_connect(&a, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	cr_assert(mqtt_props_has(&p, MQTT_PROP_ASSIGNED_CLIENT_ID), "no Assigned Client Identifier [MQTT-3.2.2-16]");
	char id1[128] = {0};
	struct mqtt_bin v = p.data[MQTT_PROP_ASSIGNED_CLIENT_ID];
	cr_assert(v.len > 0 && v.len < sizeof(id1), "assigned id length %u", v.len);
	memcpy(id1, v.p, v.len);

	/* empty id with Clean Start 0 is allowed in 5.0 (3.1.3.1), and a
	 * session kept under the assigned id can be resumed with it */
	struct props cp;
	props_begin(&cp);
	props_u32(&cp, MQTT_PROP_SESSION_EXPIRY, 60);
	o.clean = false;
	o.props = props_bin(&cp);
	cr_assert_eq(raw_connect(&b, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS, "empty id with Clean Start 0");
	cr_assert(mqtt_props_has(&p, MQTT_PROP_ASSIGNED_CLIENT_ID), "no Assigned Client Identifier [MQTT-3.2.2-16]");
	char id2[128] = {0};
	v = p.data[MQTT_PROP_ASSIGNED_CLIENT_ID];
	cr_assert(v.len > 0 && v.len < sizeof(id2));
	memcpy(id2, v.p, v.len);
	cr_assert_str_neq(id1, id2, "two clients were assigned the same id %s", id1);
	/* both connections stay up: neither took the other over */
	raw_send(&a, pingreq, sizeof(pingreq));
	raw_send(&b, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	raw_expect(&a, MQTT_PINGRESP, &f);
	raw_expect(&b, MQTT_PINGRESP, &f);
	v5_disconnect(&b);

	bool present = false;
	o.client_id = id2;
	cr_assert_eq(raw_connect(&c, v5_broker.port, &o, &present), MQTT_RC_SUCCESS);
	cr_assert(present, "the session of assigned id %s was not resumed", id2);
	cr_assert_not(mqtt_props_has(&p, MQTT_PROP_ASSIGNED_CLIENT_ID),
		      "Assigned Client Identifier sent to a client that chose its id");
	props_end(&cp);
	raw_close(&a);
	raw_close(&c);
}

Test(v5_connect_conf, MQTT_3_2_2_21_server_keep_alive_above_max_keepalive)
{
	v5_start("max_keepalive 10");
	struct raw r;
	struct mqtt_props p;
	connect_with(&r, "ka-60", 60, (struct mqtt_bin){0}, &p);
	cr_assert(mqtt_props_has(&p, MQTT_PROP_SERVER_KEEP_ALIVE), "keepalive 60 > max 10: no Server Keep Alive");
	cr_assert_eq(p.num[MQTT_PROP_SERVER_KEEP_ALIVE], 10);
	raw_close(&r);

	connect_with(&r, "ka-0", 0, (struct mqtt_bin){0}, &p);
	cr_assert(mqtt_props_has(&p, MQTT_PROP_SERVER_KEEP_ALIVE), "keepalive 0 with max_keepalive: no Server Keep Alive");
	cr_assert_eq(p.num[MQTT_PROP_SERVER_KEEP_ALIVE], 10);
	raw_close(&r);

	connect_with(&r, "ka-5", 5, (struct mqtt_bin){0}, &p);
	cr_assert_not(mqtt_props_has(&p, MQTT_PROP_SERVER_KEEP_ALIVE), "keepalive 5 <= 10: Server Keep Alive sent");
	raw_close(&r);

	/* a 3.1.1 client above it is refused instead */
	struct raw_connect_opts o = {.client_id = "ka-311", .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, v5_broker.port, &o, NULL), MQTT_CONNACK_ID_REJECTED);
	raw_close(&r);
}

Test(v5_connect_conf, MQTT_3_2_2_21_server_keep_alive_is_the_keepalive_enforced)
{
	v5_start("max_keepalive 1");
	struct raw r;
	struct mqtt_props p;
	uint64_t t0 = now_ms();
	connect_with(&r, "ka-enforced", 60, (struct mqtt_bin){0}, &p);
	cr_assert_eq(mqtt_props_num(&p, MQTT_PROP_SERVER_KEEP_ALIVE, 0), 1);
	/* keepalive 1 s, not the 60 s asked for: closed after 1.5 s silence */
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&r, 8000, &d), MQTT_RC_KEEP_ALIVE_TIMEOUT);
	cr_assert(now_ms() - t0 >= 500, "closed %llu ms after CONNECT: before the keepalive",
		  (unsigned long long)(now_ms() - t0));
	raw_close(&r);
}

Test(v5_connect_conf, MQTT_3_2_2_retain_available_0_and_maximum_packet_size_only_when_configured)
{
	v5_start("retain_available false\nmax_packet_size 1000");
	struct raw r;
	struct mqtt_props p;
	connect_with(&r, "limits", 60, (struct mqtt_bin){0}, &p);
	cr_assert(mqtt_props_has(&p, MQTT_PROP_RETAIN_AVAILABLE), "retain_available false: no Retain Available");
	cr_assert_eq(p.num[MQTT_PROP_RETAIN_AVAILABLE], 0);
	cr_assert(mqtt_props_has(&p, MQTT_PROP_MAXIMUM_PACKET_SIZE), "max_packet_size 1000: no Maximum Packet Size");
	cr_assert_eq(p.num[MQTT_PROP_MAXIMUM_PACKET_SIZE], 1000);
	raw_close(&r);
}

/* --- refusals ---------------------------------------------------------------- */

Test(v5_connect_conf, MQTT_3_2_2_anonymous_refused_0x87_and_3_1_1_0x05)
{
	hb_start_raw(&v5_broker, "listener %PORT% 127.0.0.1\nallow_anonymous false\n");
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "anon5", .clean = true, .keepalive = 60};
	expect_refused(&o, MQTT_RC_NOT_AUTHORIZED, "5.0 anonymous");
	struct raw_connect_opts o3 = {.client_id = "anon3", .clean = true, .keepalive = 60};
	expect_refused(&o3, MQTT_CONNACK_NOT_AUTHORIZED, "3.1.1 anonymous");
}

Test(v5_connect, MQTT_3_1_2_11_authentication_method_refused_0x8C)
{
	struct props p;
	props_begin(&p);
	props_str(&p, MQTT_PROP_AUTH_METHOD, "SCRAM-SHA-1");
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "authm", .clean = true, .keepalive = 60,
				     .props = props_bin(&p)};
	expect_refused(&o, MQTT_RC_BAD_AUTH_METHOD, "Authentication Method");
	props_end(&p);
}

Test(v5_connect_conf, MQTT_3_2_2_12_retained_will_refused_0x9A_when_retain_unavailable)
{
	v5_start("retain_available false");
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "rwill", .clean = true, .keepalive = 60,
				     .will_topic = "w/t", .will_payload = "x", .will_retain = true};
	expect_refused(&o, MQTT_RC_RETAIN_NOT_SUPPORTED, "5.0 retained will");
	o.version = MQTT_V311;
	expect_refused(&o, MQTT_CONNACK_UNAVAILABLE, "3.1.1 retained will");
	/* a will that is not retained is fine */
	o.version = MQTT_V5;
	o.will_retain = false;
	struct raw r;
	cr_assert_eq(raw_connect(&r, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	raw_close(&r);
}

Test(v5_connect_conf, MQTT_3_3_1_retained_publish_disconnect_0x9A_when_retain_unavailable)
{
	v5_start("retain_available false");
	struct raw r;
	v5_connect_simple(&r, "rpub");
	raw_publish(&r, "r/t", "x", 0, true, 0);
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, &d), MQTT_RC_RETAIN_NOT_SUPPORTED);
	raw_close(&r);
}

Test(v5_connect, MQTT_3_1_3_2_will_payload_not_utf8_refused_0x99)
{
	struct props wp;
	props_begin(&wp);
	props_byte(&wp, MQTT_PROP_PAYLOAD_FORMAT, 1);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "pfi", .clean = true, .keepalive = 60,
				     .will_topic = "w/t", .will_payload = "\xff\xfe", .will_props = props_bin(&wp)};
	expect_refused(&o, MQTT_RC_PAYLOAD_FORMAT_INVALID, "will Payload Format Indicator 1, payload FF FE");
	/* the same payload without the indicator is just bytes */
	props_end(&wp);
	o.will_props = (struct mqtt_bin){0};
	struct raw r;
	cr_assert_eq(raw_connect(&r, v5_broker.port, &o, NULL), MQTT_RC_SUCCESS);
	raw_close(&r);
}

Test(v5_connect, MQTT_3_1_3_will_topic_with_wildcard_refused_0x90_and_3_1_1_closed)
{
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "wtopic", .clean = true, .keepalive = 60,
				     .will_topic = "w/+", .will_payload = "x"};
	expect_refused(&o, MQTT_RC_TOPIC_NAME_INVALID, "will topic w/+");
	o.will_topic = "w/#";
	expect_refused(&o, MQTT_RC_TOPIC_NAME_INVALID, "will topic w/#");
	/* 3.1.1 has no code for it: closed without CONNACK */
	struct raw r;
	raw_open(&r, v5_broker.port);
	struct buf b;
	buf_init(&b);
	struct mqtt_connect c = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 60,
				 .client_id = {"wtopic3", 7}, .will_flag = true, .will_topic = {"w/+", 3},
				 .will_payload = {(const uint8_t *)"x", 1}};
	cr_assert(mqtt_encode_connect(&b, &c) == FM_OK);
	raw_send_buf(&r, &b);
	buf_fini(&b);
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, V5_WAIT_MS, &last), "3.1.1 will topic w/+: not closed");
	cr_assert_eq(last, 0, "3.1.1 will topic w/+: packet type %u sent before the close", last);
	raw_close(&r);
}

Test(v5_connect, MQTT_3_1_3_will_response_topic_with_wildcard_refused_0x82)
{
	struct props wp;
	props_begin(&wp);
	props_str(&wp, MQTT_PROP_RESPONSE_TOPIC, "reply/#");
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "wresp", .clean = true, .keepalive = 60,
				     .will_topic = "w/t", .will_payload = "x", .will_props = props_bin(&wp)};
	expect_refused(&o, MQTT_RC_PROTOCOL_ERROR, "will Response Topic reply/#");
	props_end(&wp);
}

/* --- the broker's DISCONNECT ------------------------------------------------- */

Test(v5_connect, MQTT_3_1_4_3_takeover_sends_disconnect_0x8E_to_the_old_connection)
{
	struct raw old, fresh;
	v5_connect_simple(&old, "taken");
	v5_connect_simple(&fresh, "taken");
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&old, V5_WAIT_MS, &d), MQTT_RC_SESSION_TAKEN_OVER);
	cr_assert(d.props_has & MQTT_PROP_BIT(MQTT_PROP_REASON_STRING), "no Reason String by default");
	cr_assert(d.reason_string[0] != '\0', "empty Reason String");
	raw_send(&fresh, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	raw_expect(&fresh, MQTT_PINGRESP, &f);
	raw_close(&old);
	raw_close(&fresh);
}

Test(v5_connect, MQTT_3_1_2_24_keepalive_timeout_disconnect_0x8D)
{
	struct raw r;
	uint64_t t0 = now_ms();
	connect_with(&r, "sleepy5", 1, (struct mqtt_bin){0}, NULL);
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&r, 8000, &d), MQTT_RC_KEEP_ALIVE_TIMEOUT);
	uint64_t took = now_ms() - t0;
	cr_assert(took >= 500, "DISCONNECT after %llu ms: before 1.5 x keepalive", (unsigned long long)took);
	cr_assert(d.props_has & MQTT_PROP_BIT(MQTT_PROP_REASON_STRING), "no Reason String by default");
	raw_close(&r);
}

Test(v5_connect, MQTT_3_14_server_shutting_down_disconnect_0x8B_on_SIGTERM)
{
	struct raw a, b, old;
	v5_connect_simple(&a, "shut-a");
	v5_connect_simple(&b, "shut-b");
	raw_connect_simple(&old, v5_broker.port, "shut-311");
	hb_signal(&v5_broker, SIGTERM);
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&a, V5_WAIT_MS, &d), MQTT_RC_SERVER_SHUTTING_DOWN);
	cr_assert(d.props_has & MQTT_PROP_BIT(MQTT_PROP_REASON_STRING), "no Reason String by default");
	cr_assert_eq(raw_expect_disconnect(&b, V5_WAIT_MS, NULL), MQTT_RC_SERVER_SHUTTING_DOWN);
	/* a 3.1.1 client has no DISCONNECT from the server: just the close */
	uint8_t last = 0;
	cr_assert(raw_closed_within(&old, V5_WAIT_MS, &last));
	cr_assert_eq(last, 0, "3.1.1 client got packet type %u at shutdown", last);
	raw_close(&a);
	raw_close(&b);
	raw_close(&old);
}

Test(v5_connect, MQTT_3_15_auth_packet_disconnect_0x82)
{
	struct raw r;
	v5_connect_simple(&r, "auth-pkt");
	static const uint8_t auth[] = {0xF0, 0x00}; /* AUTH, reason 0x00 left out */
	raw_send(&r, auth, sizeof(auth));
	struct raw_disconnect d;
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, &d), MQTT_RC_PROTOCOL_ERROR);
	cr_assert(d.props_has & MQTT_PROP_BIT(MQTT_PROP_REASON_STRING), "no Reason String by default");
	raw_close(&r);
}

/* Request Problem Information 0: no Reason String on anything but PUBLISH,
 * CONNACK and DISCONNECT (3.1.2.11.7); the broker leaves it out of its
 * DISCONNECT too, so the packet is exactly E0 01 <reason>. */
Test(v5_connect, MQTT_3_1_2_29_request_problem_information_0_no_reason_string)
{
	struct props cp;
	props_begin(&cp);
	props_byte(&cp, MQTT_PROP_REQUEST_PROBLEM_INFO, 0);
	struct raw r;
	connect_with(&r, "quiet-auth", 60, props_bin(&cp), NULL);
	static const uint8_t auth[] = {0xF0, 0x00};
	raw_send(&r, auth, sizeof(auth));
	struct raw_disconnect d;
	char g[1600];
	cr_assert_eq(raw_expect_disconnect(&r, V5_WAIT_MS, &d), MQTT_RC_PROTOCOL_ERROR);
	cr_assert(d.len == 3 && memcmp(d.bytes, "\xE0\x01\x82", 3) == 0,
		  "AUTH with Request Problem Information 0: expected E0 01 82, got %s", hex(d.bytes, d.len, g, sizeof(g)));
	raw_close(&r);

	/* takeover of such a client: E0 01 8E */
	struct raw old, fresh;
	connect_with(&old, "quiet-taken", 60, props_bin(&cp), NULL);
	v5_connect_simple(&fresh, "quiet-taken");
	cr_assert_eq(raw_expect_disconnect(&old, V5_WAIT_MS, &d), MQTT_RC_SESSION_TAKEN_OVER);
	cr_assert(d.len == 3 && memcmp(d.bytes, "\xE0\x01\x8E", 3) == 0,
		  "takeover with Request Problem Information 0: expected E0 01 8E, got %s",
		  hex(d.bytes, d.len, g, sizeof(g)));
	raw_close(&old);
	raw_close(&fresh);

	/* keepalive timeout of such a client: E0 01 8D */
	connect_with(&r, "quiet-sleepy", 1, props_bin(&cp), NULL);
	cr_assert_eq(raw_expect_disconnect(&r, 8000, &d), MQTT_RC_KEEP_ALIVE_TIMEOUT);
	cr_assert(d.len == 3 && memcmp(d.bytes, "\xE0\x01\x8D", 3) == 0,
		  "keepalive timeout with Request Problem Information 0: expected E0 01 8D, got %s",
		  hex(d.bytes, d.len, g, sizeof(g)));
	raw_close(&r);
	props_end(&cp);
}

Test(v5_connect, MQTT_3_14_protocol_error_of_a_3_1_1_client_closes_without_disconnect)
{
	struct raw r;
	raw_connect_simple(&r, v5_broker.port, "old-auth");
	static const uint8_t auth[] = {0xF0, 0x00};
	raw_send(&r, auth, sizeof(auth));
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, V5_WAIT_MS, &last));
	cr_assert_eq(last, 0, "3.1.1 client got packet type %u before the close", last);
	raw_close(&r);
}

/* The Reason String is left out where it would make the DISCONNECT larger
 * than the client's Maximum Packet Size [MQTT-3.14.2-3]; the DISCONNECT
 * itself still goes [MQTT-3.1.4-3]: exactly E0 01 8E. */
Test(v5_connect, MQTT_3_14_2_3_reason_string_left_out_beyond_the_clients_maximum_packet_size)
{
	struct props cp;
	props_begin(&cp);
	props_u32(&cp, MQTT_PROP_MAXIMUM_PACKET_SIZE, 20);
	struct raw old, fresh;
	connect_with(&old, "small-taken", 60, props_bin(&cp), NULL);
	props_end(&cp);
	v5_connect_simple(&fresh, "small-taken");
	struct raw_disconnect d;
	char g[1600];
	cr_assert_eq(raw_expect_disconnect(&old, V5_WAIT_MS, &d), MQTT_RC_SESSION_TAKEN_OVER);
	cr_assert(d.len <= 20, "DISCONNECT of %zu bytes to a client with Maximum Packet Size 20 [MQTT-3.1.2-24]", d.len);
	cr_assert(d.len == 3 && memcmp(d.bytes, "\xE0\x01\x8E", 3) == 0, "expected E0 01 8E, got %s",
		  hex(d.bytes, d.len, g, sizeof(g)));
	raw_close(&old);
	raw_close(&fresh);
}
