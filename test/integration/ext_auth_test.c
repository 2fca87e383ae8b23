/* MQTT 5.0 enhanced authentication (section 4.12) through the EXT_AUTH
 * plugin event, in a real broker with test/plugins/challenge_auth loaded:
 * TEST-CHALLENGE is a three-step exchange ("hello" -> "challenge-1" ->
 * "response-1" -> "challenge-2" -> "response-2" -> "welcome"),
 * TEST-ONESHOT allows data "secret" at once with "ok".
 *
 * The broker refuses anonymous clients and has a password_file: a client
 * the plugin lets in needs no password (the exchange replaces it). Raw
 * clients check every byte that matters; mosquitto_pub shows a deployed
 * client using a one-step method. */
#include "auth.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

TestSuite(ext_auth, .init = auth_init, .fini = auth_fini, .timeout = 60);

#define EXT_CONF                                                                                           \
	"listener %%PORT%% 127.0.0.1\nallow_anonymous false\nlog_type all\npassword_file @D@/passwd\n"      \
	"connect_timeout %u\nworkers %u\nplugin %s\n"

static void start(unsigned connect_timeout, unsigned workers)
{
	auth_users();
	char tmpl[2048];
	snprintf(tmpl, sizeof(tmpl), EXT_CONF, connect_timeout, workers, auth_plugin_path("challenge_auth"));
	auth_start(tmpl);
}

/* --- packets ------------------------------------------------------------------- */

static void props_auth(struct buf *b, const char *method, const char *data)
{
	buf_init(b);
	if (method)
		cr_assert_eq(mqtt_prop_put_data(b, MQTT_PROP_AUTH_METHOD, method, (uint16_t)strlen(method)), FM_OK);
	if (data)
		cr_assert_eq(mqtt_prop_put_data(b, MQTT_PROP_AUTH_DATA, data, (uint16_t)strlen(data)), FM_OK);
}

/* CONNECT (5.0, keepalive 60) with an Authentication Method and Data
 * (either NULL: left out), as user (NULL: none) without a password. */
static void send_connect(struct raw *r, const char *id, bool clean, const char *user, const char *method,
			 const char *data)
{
	struct buf props;
	props_auth(&props, method, data);
	if (!clean)
		cr_assert_eq(mqtt_prop_put_u32(&props, MQTT_PROP_SESSION_EXPIRY, 300), FM_OK);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = id, .clean = clean, .keepalive = 60,
				     .username = user, .props = mqtt_props_of(&props)};
	raw_connect_send(r, broker.port, &o);
	buf_fini(&props);
}

static void send_auth(struct raw *r, uint8_t reason, const char *method, const char *data)
{
	struct buf props, pkt;
	props_auth(&props, method, data);
	buf_init(&pkt);
	struct mqtt_auth a = {.reason = reason, .props = mqtt_props_of(&props)};
	cr_assert_eq(mqtt_encode_auth(&pkt, &a), FM_OK);
	raw_send_buf(r, &pkt);
	buf_fini(&pkt);
	buf_fini(&props);
}

/* The Authentication Method and Data of a section are exactly these (data
 * NULL: no Authentication Data). */
static void assert_method_and_data(struct mqtt_bin raw_props, const char *method, const char *data, const char *what)
{
	struct mqtt_props p;
	mqtt_props_read(raw_props, &p);
	struct mqtt_bin m = mqtt_props_data(&p, MQTT_PROP_AUTH_METHOD);
	cr_assert(mqtt_props_has(&p, MQTT_PROP_AUTH_METHOD) && m.len == strlen(method) && memcmp(m.p, method, m.len) == 0,
		  "%s: not the CONNECT's Authentication Method [MQTT-4.12.0-5]", what);
	struct mqtt_bin d = mqtt_props_data(&p, MQTT_PROP_AUTH_DATA);
	if (!data) {
		cr_assert_not(mqtt_props_has(&p, MQTT_PROP_AUTH_DATA), "%s: unexpected Authentication Data", what);
		return;
	}
	cr_assert(mqtt_props_has(&p, MQTT_PROP_AUTH_DATA) && d.len == strlen(data) && memcmp(d.p, data, d.len) == 0,
		  "%s: Authentication Data '%.*s', wanted '%s'", what, (int)d.len, d.p ? (const char *)d.p : "",
		  data);
}

static void expect_auth(struct raw *r, uint8_t reason, const char *method, const char *data, const char *what)
{
	struct mqtt_frame f;
	raw_expect(r, MQTT_AUTH, &f);
	struct mqtt_auth a;
	uint8_t why = 0;
	cr_assert_eq(mqtt_decode_auth(&f, MQTT_V5, &a, &why), FM_OK, "%s: undecodable AUTH", what);
	cr_assert_eq(a.reason, reason, "%s: AUTH reason 0x%02x, wanted 0x%02x", what, a.reason, reason);
	assert_method_and_data(a.props, method, data, what);
}

/* The next packet is a CONNACK with code; a success carries the method
 * and data; returns Session Present. */
static bool expect_connack(struct raw *r, uint8_t code, const char *method, const char *data, const char *what)
{
	struct mqtt_frame f;
	raw_expect(r, MQTT_CONNACK, &f);
	struct mqtt_connack ack;
	uint8_t why = 0;
	cr_assert_eq(mqtt_decode_connack(&f, MQTT_V5, &ack, &why), FM_OK, "%s: undecodable CONNACK", what);
	cr_assert_eq(ack.reason, code, "%s: CONNACK 0x%02x, wanted 0x%02x", what, ack.reason, code);
	if (code == MQTT_RC_SUCCESS)
		assert_method_and_data(ack.props, method, data, what);
	return ack.session_present;
}

/* A refused CONNECT: the CONNACK (code), then the close [MQTT-3.2.2-7]. */
static void expect_refused(struct raw *r, uint8_t code, const char *what)
{
	expect_connack(r, code, NULL, NULL, what);
	cr_assert(raw_closed_within(r, AUTH_WAIT_MS, NULL), "%s: not closed after the refusal", what);
	raw_close(r);
}

/* CONNECT with TEST-CHALLENGE up to the first challenge. */
static void begin_challenge(struct raw *r, const char *id)
{
	send_connect(r, id, true, NULL, "TEST-CHALLENGE", "hello");
	expect_auth(r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "challenge");
}

/* The whole TEST-CHALLENGE exchange up to the CONNACK; returns Session
 * Present. */
static bool challenge_login(struct raw *r, const char *id, bool clean, const char *user)
{
	send_connect(r, id, clean, user, "TEST-CHALLENGE", "hello");
	expect_auth(r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "first challenge [MQTT-4.12.0-2]");
	send_auth(r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-1");
	expect_auth(r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-2", "second challenge");
	send_auth(r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-2");
	return expect_connack(r, MQTT_RC_SUCCESS, "TEST-CHALLENGE", "welcome", "CONNACK after the exchange");
}

static void oneshot_login(struct raw *r, const char *id)
{
	send_connect(r, id, true, NULL, "TEST-ONESHOT", "secret");
	expect_connack(r, MQTT_RC_SUCCESS, "TEST-ONESHOT", "ok", "one-step method");
}

/* The connection works: a QoS 1 message to itself comes back. */
static void assert_works(struct raw *r, const char *topic)
{
	cr_assert_eq(raw_subscribe5(r, 7, topic, 1, 0), 1, "SUBACK");
	raw_publish(r, topic, "ping", 1, false, 8);
	bool got_ack = false, got_msg = false;
	for (int i = 0; i < 2; i++) {
		struct mqtt_frame f;
		cr_assert_eq(raw_recv(r, &f, AUTH_WAIT_MS), FM_OK, "the connection does not work");
		got_ack |= f.type == MQTT_PUBACK;
		got_msg |= f.type == MQTT_PUBLISH;
	}
	cr_assert(got_ack && got_msg, "PUBACK and the message itself expected");
}

/* The client's own DISCONNECT, and the close that follows it. */
static void client_disconnect(struct raw *r)
{
	raw_disconnect5(r, MQTT_RC_SUCCESS, (struct mqtt_bin){0});
	cr_assert(raw_closed_within(r, AUTH_WAIT_MS, NULL), "not closed after the client's DISCONNECT");
	raw_close(r);
}

/* --- the exchange before CONNACK ------------------------------------------------- */

Test(ext_auth, MQTT_4_12_0_2_a_challenge_exchange_ends_in_a_connack_with_the_method_and_data)
{
	start(10, 1);
	long log_at = auth_log_size();
	struct raw r;
	cr_assert_not(challenge_login(&r, "dev-1", true, "alice"), "Session Present on a clean start");
	assert_works(&r, "ext/dev-1");
	raw_close(&r);
	/* the plugin saw who the CONNECT named at every step */
	cr_assert(auth_log_since(log_at, "TEST-CHALLENGE step 2 for client 'dev-1' user 'alice'", AUTH_WAIT_MS),
		  "the plugin was not asked step 2 with the CONNECT's client id and username");
	auth_await_log("client dev-1 connected", "the connect log line");
}

Test(ext_auth, MQTT_4_12_0_5_a_one_step_method_answers_in_the_connack_and_replaces_the_password)
{
	start(10, 1);
	struct raw r;
	oneshot_login(&r, "dev-2"); /* no username, no password, allow_anonymous false */
	assert_works(&r, "ext/dev-2");
	raw_close(&r);
	/* without a method the password still rules */
	auth_expect_refused(MQTT_V5, "dev-3", NULL, NULL, MQTT_RC_NOT_AUTHORIZED, "anonymous without a method");
}

Test(ext_auth, MQTT_4_12_0_1_a_method_no_plugin_takes_is_refused_0x8C)
{
	start(10, 1);
	struct raw r;
	send_connect(&r, "dev-4", true, NULL, "SCRAM-SHA-256", "n,,n=user,r=abc");
	expect_refused(&r, MQTT_RC_BAD_AUTH_METHOD, "unknown method");
}

Test(ext_auth, MQTT_4_12_0_4_wrong_data_is_refused_0x87_at_the_connect_and_mid_exchange)
{
	start(10, 1);
	struct raw r;
	send_connect(&r, "dev-5", true, NULL, "TEST-ONESHOT", "guess");
	expect_refused(&r, MQTT_RC_NOT_AUTHORIZED, "wrong data in the CONNECT");
	begin_challenge(&r, "dev-5");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "wrong-response");
	expect_refused(&r, MQTT_RC_NOT_AUTHORIZED, "wrong response mid-exchange");
}

Test(ext_auth, MQTT_4_12_0_5_an_auth_with_another_method_is_a_protocol_error_0x82)
{
	start(10, 1);
	struct raw r;
	begin_challenge(&r, "dev-6");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-ONESHOT", "response-1");
	expect_refused(&r, MQTT_RC_PROTOCOL_ERROR, "another method");
	begin_challenge(&r, "dev-6");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, NULL, "response-1");
	expect_refused(&r, MQTT_RC_PROTOCOL_ERROR, "no method");
}

Test(ext_auth, MQTT_4_12_0_3_the_clients_auth_before_connack_must_be_0x18)
{
	start(10, 1);
	struct raw r;
	begin_challenge(&r, "dev-7");
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-CHALLENGE", "response-1");
	expect_refused(&r, MQTT_RC_PROTOCOL_ERROR, "AUTH 0x19 before CONNACK");
}

Test(ext_auth, MQTT_3_1_2_30_before_connack_only_auth_or_disconnect)
{
	start(10, 1);
	struct raw r;
	begin_challenge(&r, "dev-8");
	raw_publish(&r, "early/bird", "x", 0, false, 0);
	expect_refused(&r, MQTT_RC_PROTOCOL_ERROR, "PUBLISH during the exchange");
	/* DISCONNECT ends it quietly: no CONNACK */
	begin_challenge(&r, "dev-8");
	raw_disconnect5(&r, 0, (struct mqtt_bin){0});
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, AUTH_WAIT_MS, &last), "DISCONNECT during the exchange: not closed");
	cr_assert_eq(last, 0, "a packet (type %u) after the client's DISCONNECT", last);
	raw_close(&r);
}

Test(ext_auth, MQTT_3_1_0_2_a_second_connect_during_the_exchange_is_refused_0x82)
{
	start(10, 1);
	struct raw r;
	begin_challenge(&r, "dev-9");
	struct buf props, pkt;
	props_auth(&props, "TEST-CHALLENGE", "hello");
	buf_init(&pkt);
	struct mqtt_connect ct = {.version = MQTT_V5, .clean_start = true, .keepalive_s = 60,
				  .client_id = {.p = "dev-9", .len = 5}, .props = mqtt_props_of(&props)};
	cr_assert_eq(mqtt_encode_connect(&pkt, &ct), FM_OK);
	raw_send_buf(&r, &pkt);
	expect_refused(&r, MQTT_RC_PROTOCOL_ERROR, "second CONNECT");
	buf_fini(&pkt);
	buf_fini(&props);
}

Test(ext_auth, authentication_data_without_a_method_is_a_protocol_error_0x82)
{
	start(10, 1);
	struct raw r;
	send_connect(&r, "dev-10", true, NULL, NULL, "orphan"); /* 3.1.2.11.10 */
	expect_refused(&r, MQTT_RC_PROTOCOL_ERROR, "data without a method");
}

Test(ext_auth, connect_timeout_bounds_an_exchange_the_client_abandons)
{
	start(1, 1);
	long log_at = auth_log_size();
	struct raw r;
	begin_challenge(&r, "dev-11");
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, AUTH_WAIT_MS, &last), "an abandoned exchange was not closed");
	cr_assert_eq(last, 0, "no CONNACK is owed to a client that never answered");
	raw_close(&r);
	cr_assert(auth_log_since(log_at, "enhanced authentication not done within connect_timeout", AUTH_WAIT_MS),
		  "the log does not say why");
}

/* A persistent session resumed through the exchange, with two workers so
 * the session is often homed on the other one (the CONNECT then waits for
 * a handoff after the exchange, and runs a third time). */
Test(ext_auth, MQTT_3_2_2_2_a_session_resumes_through_the_exchange_on_any_worker)
{
	start(10, 2);
	struct raw r, pub;
	cr_assert_not(challenge_login(&r, "dev-12", false, NULL));
	cr_assert_eq(raw_subscribe5(&r, 1, "ext/queued", 1, 0), 1);
	client_disconnect(&r);
	oneshot_login(&pub, "dev-12-pub");
	for (int round = 0; round < 6; round++) {
		char payload[16];
		snprintf(payload, sizeof(payload), "m%d", round);
		raw_publish(&pub, "ext/queued", payload, 1, false, (uint16_t)(round + 1));
		cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), round + 1);
		cr_assert(challenge_login(&r, "dev-12", false, NULL), "round %d: session not resumed", round);
		struct mqtt_publish p;
		raw_expect_publish(&r, &p);
		raw_assert_publish(&p, "ext/queued", payload);
		raw_ack(&r, MQTT_PUBACK, p.packet_id);
		client_disconnect(&r);
	}
	raw_close(&pub);
}

/* --- re-authentication after CONNACK ------------------------------------------------ */

Test(ext_auth, MQTT_4_12_1_1_reauthentication_runs_while_the_connection_works)
{
	start(10, 1);
	struct raw r;
	challenge_login(&r, "dev-13", true, NULL);
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-CHALLENGE", "hello");
	expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "re-auth challenge");
	auth_expect_alive(&r, "PINGREQ during a re-authentication");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-1");
	expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-2", "re-auth second challenge");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-2");
	expect_auth(&r, MQTT_RC_SUCCESS, "TEST-CHALLENGE", "welcome", "re-auth success");
	assert_works(&r, "ext/dev-13");
	/* and again, in one step */
	struct raw o;
	oneshot_login(&o, "dev-14");
	send_auth(&o, MQTT_RC_REAUTHENTICATE, "TEST-ONESHOT", "secret");
	expect_auth(&o, MQTT_RC_SUCCESS, "TEST-ONESHOT", "ok", "one-step re-auth");
	auth_expect_alive(&o, "after the re-authentication");
	raw_close(&o);
	raw_close(&r);
}

static void expect_disconnect(struct raw *r, uint8_t code, const char *what)
{
	struct raw_disconnect d;
	uint8_t got = raw_expect_disconnect(r, AUTH_WAIT_MS, &d); /* and the close [MQTT-3.14.4-1] */
	cr_assert_eq(got, code, "%s: DISCONNECT 0x%02x, wanted 0x%02x", what, got, code);
	raw_close(r);
}

Test(ext_auth, MQTT_4_12_1_2_a_failed_reauthentication_disconnects_0x87)
{
	start(10, 1);
	struct raw r;
	oneshot_login(&r, "dev-15");
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-ONESHOT", "stale");
	expect_disconnect(&r, MQTT_RC_NOT_AUTHORIZED, "refused re-authentication");
	challenge_login(&r, "dev-15", true, NULL);
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-CHALLENGE", "hello");
	expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "re-auth challenge");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "nonsense");
	expect_disconnect(&r, MQTT_RC_NOT_AUTHORIZED, "refused mid re-authentication");
}

Test(ext_auth, MQTT_4_12_1_1_reauthentication_with_another_method_or_out_of_turn_is_0x82)
{
	start(10, 1);
	struct raw r;
	oneshot_login(&r, "dev-16");
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-CHALLENGE", "hello");
	expect_disconnect(&r, MQTT_RC_PROTOCOL_ERROR, "re-authentication with another method");
	oneshot_login(&r, "dev-16");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-ONESHOT", "secret");
	expect_disconnect(&r, MQTT_RC_PROTOCOL_ERROR, "AUTH 0x18 with no re-authentication running");
	challenge_login(&r, "dev-16", true, NULL);
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-CHALLENGE", "hello");
	expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "re-auth challenge");
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-CHALLENGE", "hello");
	expect_disconnect(&r, MQTT_RC_PROTOCOL_ERROR, "AUTH 0x19 while one runs");
}

/* --- a deployed client --------------------------------------------------------------- */

/* mosquitto_pub -V 5 with TEST-ONESHOT and data; its exit code. */
static int mosquitto_pub_with(const char *id, const char *data, char *out, size_t len)
{
	const char *argv[] = {"mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", auth_port(broker.port), "-i", id,
			      "-D", "connect", "authentication-method", "TEST-ONESHOT", "-D", "connect",
			      "authentication-data", data, "-t", "ext/pub", "-m", "x", "-q", "1", NULL};
	return auth_run(argv, out, len, AUTH_WAIT_MS);
}

Test(ext_auth, mosquitto_pub_uses_a_one_step_method)
{
	start(10, 1);
	char out[4096];
	int rc = mosquitto_pub_with("mp-ok", "secret", out, sizeof(out));
	cr_assert_eq(rc, 0, "mosquitto_pub with the right data failed (%d): %s", rc, out);
	rc = mosquitto_pub_with("mp-bad", "guess", out, sizeof(out));
	cr_assert_neq(rc, 0, "mosquitto_pub with the wrong data succeeded: %s", out);
	cr_assert(strstr(out, "authorised") || strstr(out, "authorized") || strstr(out, "Not"),
		  "mosquitto_pub does not say it was refused: %s", out);
}

/* --- edges: pipelining, resets, sizes, timing ------------------------------------------ */

/* The final AUTH, a SUBSCRIBE and a QoS 1 PUBLISH in one write: the
 * CONNECT is put back in front of the two (buf_prepend with bytes left in
 * c->in) and they run after the CONNACK, in order. */
Test(ext_auth, packets_pipelined_after_the_final_auth_run_after_the_connack)
{
	start(10, 1);
	struct raw r;
	send_connect(&r, "rv-1", true, NULL, "TEST-CHALLENGE", "hello");
	expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "first challenge");
	send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-1");
	expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-2", "second challenge");
	struct buf props, pkt;
	props_auth(&props, "TEST-CHALLENGE", "response-2");
	buf_init(&pkt);
	struct mqtt_auth a = {.reason = MQTT_RC_CONTINUE_AUTH, .props = mqtt_props_of(&props)};
	cr_assert_eq(mqtt_encode_auth(&pkt, &a), FM_OK);
	struct mqtt_sub_entry e = {.filter = {.p = "rv/1", .len = 4}, .options = 1};
	cr_assert_eq(mqtt_encode_subscribe(&pkt, MQTT_V5, 3, &e, 1), FM_OK);
	struct mqtt_publish p = {.qos = 1, .topic = {.p = "rv/1", .len = 4}, .packet_id = 4,
				 .payload = {.p = (const uint8_t *)"x", .len = 1}};
	cr_assert_eq(mqtt_encode_publish(&pkt, MQTT_V5, &p), FM_OK);
	raw_send_buf(&r, &pkt);
	buf_fini(&pkt);
	buf_fini(&props);
	expect_connack(&r, MQTT_RC_SUCCESS, "TEST-CHALLENGE", "welcome", "CONNACK first");
	struct mqtt_frame f;
	raw_expect(&r, MQTT_SUBACK, &f);
	bool got_ack = false, got_msg = false;
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(raw_recv(&r, &f, AUTH_WAIT_MS), FM_OK, "the pipelined PUBLISH was lost");
		got_ack |= f.type == MQTT_PUBACK;
		got_msg |= f.type == MQTT_PUBLISH;
	}
	cr_assert(got_ack && got_msg);
	raw_close(&r);
}

/* The client resets the connection right after its final AUTH, many
 * times, on two workers: the deferred re-run of the CONNECT meets a
 * closed client (ASan build: no use after free, no leak) and the broker
 * goes on serving. */
Test(ext_auth, a_reset_right_after_the_final_auth_is_harmless)
{
	start(10, 2);
	for (int i = 0; i < 40; i++) {
		struct raw r;
		char id[32];
		snprintf(id, sizeof(id), "rv-2-%d", i);
		send_connect(&r, id, i % 2 == 0, NULL, "TEST-CHALLENGE", "hello");
		expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "first challenge");
		send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-1");
		expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-2", "second challenge");
		send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-2");
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(r.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		raw_close(&r);
	}
	struct raw o;
	oneshot_login(&o, "rv-2-after");
	assert_works(&o, "rv/2");
	raw_close(&o);
}

/* [MQTT-3.1.2-24]: the Server MUST NOT send packets exceeding the
 * client's Maximum Packet Size. A client that takes at most 24 bytes is
 * sent an AUTH (method + "challenge-1") of about 36. */
Test(ext_auth, MQTT_3_1_2_24_auth_respects_the_clients_maximum_packet_size)
{
	start(10, 1);
	struct buf props;
	props_auth(&props, "TEST-CHALLENGE", "hello");
	cr_assert_eq(mqtt_prop_put_u32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE, 24), FM_OK);
	struct raw r;
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "rv-3", .clean = true, .keepalive = 60,
				     .props = mqtt_props_of(&props)};
	raw_connect_send(&r, broker.port, &o);
	buf_fini(&props);
	/* the AUTH would not fit: the exchange is refused, in a CONNACK that does */
	expect_refused(&r, MQTT_RC_PACKET_TOO_LARGE, "AUTH larger than the client takes");
	/* nor would the CONNACK with the method and the plugin's answer */
	props_auth(&props, "TEST-ONESHOT", "secret");
	cr_assert_eq(mqtt_prop_put_u32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE, 24), FM_OK);
	o.props = mqtt_props_of(&props);
	raw_connect_send(&r, broker.port, &o);
	buf_fini(&props);
	expect_refused(&r, MQTT_RC_PACKET_TOO_LARGE, "CONNACK larger than the client takes");
}

/* The client answers the server's AUTH 0x18 with 0x18 [MQTT-4.12.0-3];
 * 0x00 is the server's code (3.15.2.1) [MQTT-3.15.2-1]. Before CONNACK
 * that is enforced (MQTT_4_12_0_3_...); during a re-authentication a
 * client AUTH 0x00 is taken as the next step. */
Test(ext_auth, MQTT_4_12_0_3_a_client_auth_0x00_during_reauthentication_is_a_protocol_error)
{
	start(10, 1);
	struct raw r;
	challenge_login(&r, "rv-4", true, NULL);
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-CHALLENGE", "hello");
	expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "re-auth challenge");
	send_auth(&r, MQTT_RC_SUCCESS, "TEST-CHALLENGE", "response-1");
	expect_disconnect(&r, MQTT_RC_PROTOCOL_ERROR, "client AUTH 0x00 mid re-authentication");
}


static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until(long long t)
{
	long long d = t - now_ms();
	if (d > 0) {
		struct timespec ts = {.tv_sec = d / 1000, .tv_nsec = (d % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

/* The final AUTH lands in the loop iteration where connect_timeout fires:
 * the client is closed (run_timers) after the exchange was granted and
 * before the deferred re-run of its CONNECT (run_tasks). Final AUTHs are
 * swept across the deadline; the broker must survive (ASan: no use after
 * free, no leak) and keep serving (the log line of the timeout says
 * whether any client was closed before its CONNACK, in either window). */
#define SWEEP 48
Test(ext_auth, connect_timeout_between_the_final_auth_and_the_rerun)
{
	start(1, 1);
	long log_at = auth_log_size();
	static struct raw r[SWEEP];
	long long at[SWEEP];
	for (int i = 0; i < SWEEP; i++) {
		char id[32];
		snprintf(id, sizeof(id), "rv-6-%d", i);
		at[i] = now_ms();
		send_connect(&r[i], id, true, NULL, "TEST-CHALLENGE", "hello");
		expect_auth(&r[i], MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-1", "first challenge");
		send_auth(&r[i], MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-1");
		expect_auth(&r[i], MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "challenge-2", "second challenge");
		/* the next connection's accept is ~2 ms later: the sends below sweep
		 * 1000 - 40 ... 1000 + 60 ms after each accept */
		at[i] += 960 + 2 * i;
		if (at[i] < now_ms())
			cr_skip_test("machine too slow for the sweep");
	}
	for (int i = 0; i < SWEEP; i++) {
		sleep_until(at[i]);
		send_auth(&r[i], MQTT_RC_CONTINUE_AUTH, "TEST-CHALLENGE", "response-2");
	}
	int granted = 0;
	for (int i = 0; i < SWEEP; i++) {
		struct mqtt_frame f;
		if (raw_recv(&r[i], &f, AUTH_WAIT_MS) == FM_OK && f.type == MQTT_CONNACK)
			granted++;
		raw_close(&r[i]);
	}
	bool hit = auth_log_since(log_at, "enhanced authentication not done within connect_timeout", 500);
	cr_log_info("%d of %d granted; window %s", granted, SWEEP, hit ? "hit" : "not hit");
	struct raw o;
	oneshot_login(&o, "rv-6-after");
	assert_works(&o, "rv/6");
	raw_close(&o);
}

/* --- the username, and the bounds on the plugin's work ------------------------------ */

/* A plugin that proves an identity names the client
 * (fm_ext_auth_set_username): the ACL sees that name, not the CONNECT's. */
Test(ext_auth, the_username_a_plugin_sets_is_the_one_the_acl_sees)
{
	auth_users();
	auth_write("acl", "user named-user\ntopic readwrite named/#\nuser mallory\ntopic readwrite mallory/#\n");
	char tmpl[2048];
	snprintf(tmpl, sizeof(tmpl), EXT_CONF "acl_file @D@/acl\n", 10u, 1u, auth_plugin_path("challenge_auth"));
	auth_start(tmpl);
	struct raw r;
	send_connect(&r, "dev-20", true, "mallory", "TEST-NAMED", "secret");
	expect_connack(&r, MQTT_RC_SUCCESS, "TEST-NAMED", NULL, "named by the plugin");
	cr_assert_eq(raw_subscribe5(&r, 1, "named/x", 1, 0), 1, "named-user's topic refused");
	cr_assert_eq(raw_subscribe5(&r, 2, "mallory/x", 1, 0), MQTT_RC_NOT_AUTHORIZED,
		     "the CONNECT's unproven username was used for the ACL");
	raw_close(&r);
	auth_await_log("user named-user", "the connect log line with the plugin's name");
}

/* Each step runs the plugin on the worker: an exchange that never ends is
 * cut off (connect_timeout bounds its time, this its steps). */
Test(ext_auth, an_exchange_of_more_than_32_steps_is_refused)
{
	start(30, 1);
	struct raw r;
	send_connect(&r, "dev-21", true, NULL, "TEST-ENDLESS", "x");
	for (int step = 0; step < 32; step++) {
		expect_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-ENDLESS", "more", "an endless exchange");
		send_auth(&r, MQTT_RC_CONTINUE_AUTH, "TEST-ENDLESS", "x");
	}
	expect_refused(&r, MQTT_RC_NOT_AUTHORIZED, "step 33");
}

Test(ext_auth, more_than_10_reauthentications_a_minute_disconnect_0x96)
{
	start(10, 1);
	struct raw r;
	oneshot_login(&r, "dev-22");
	for (int i = 0; i < 10; i++) {
		send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-ONESHOT", "secret");
		expect_auth(&r, MQTT_RC_SUCCESS, "TEST-ONESHOT", "ok", "re-authentication within the budget");
	}
	send_auth(&r, MQTT_RC_REAUTHENTICATE, "TEST-ONESHOT", "secret");
	expect_disconnect(&r, MQTT_RC_MESSAGE_RATE_TOO_HIGH, "the 11th re-authentication in a minute");
}
