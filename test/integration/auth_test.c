/* password_file and allow_anonymous: who gets in, with which CONNACK code,
 * and what a refusal must not disturb; the will topic's write access at
 * CONNECT; the files per listener (per_listener_settings) or global; SIGHUP
 * re-reading them; a bad file at startup. Real clients (mosquitto_pub,
 * libmosquitto) where a client's view matters, raw sockets where the exact
 * code does. What authenticated clients may do is in auth_acl_test.c. */
#include "auth.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* admin may do anything, alice a/# (but not a/secret/#), bob dev/<id>/#
 * by pattern; nobody else anything. */
static const char *const ACL =
	"user admin\n"
	"topic readwrite #\n"
	"\n"
	"user alice\n"
	"topic readwrite a/#\n"
	"topic deny a/secret/#\n"
	"\n"
	"pattern write dev/%c/#\n";

static void start_usual(void)
{
	auth_users();
	auth_write("acl", ACL);
	auth_start(AUTH_CONF);
}

TestSuite(passwd, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(passwd_clients, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(will_access, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(listeners, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(passwd_reload, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(auth_startup, .init = auth_init, .fini = auth_fini, .timeout = 60);

/* What a refusal looks like to each protocol version: 3.1.1 return codes
 * (3.2.2.3) 4 "bad user name or password", 5 "not authorized"; 5.0 reason
 * codes (3.2.2.2) 0x86 Bad User Name or Password, 0x87 Not authorized. */
static uint8_t bad_credentials(uint8_t version)
{
	return version == MQTT_V5 ? MQTT_RC_BAD_USERNAME_OR_PASSWORD : MQTT_CONNACK_BAD_CREDENTIALS;
}

static uint8_t not_authorized(uint8_t version)
{
	return version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : MQTT_CONNACK_NOT_AUTHORIZED;
}

static const uint8_t versions[] = {MQTT_V311, MQTT_V5};

/* --- password_file ---------------------------------------------------------- */

Test(passwd, listed_users_get_in_whichever_tool_and_hash_wrote_their_line)
{
	auth_users();                                          /* mosquitto_passwd, $7$ */
	auth_passwd_sha512("passwd", "dave", "davepw");        /* mosquitto 1.x, $6$ */
	auth_passwd_fleetmq("passwd", "carol", "carol pw: x"); /* ours; blanks and ':' in the password */
	auth_write("acl", ACL);
	auth_start(AUTH_CONF);
	const char *users[][2] = {{"alice", "alicepw"}, {"dave", "davepw"}, {"carol", "carol pw: x"}};
	for (size_t v = 0; v < 2; v++) {
		for (size_t i = 0; i < 3; i++) {
			char id[32];
			snprintf(id, sizeof(id), "pw-%s-%u", users[i][0], versions[v]);
			struct raw r;
			/* accepted: CONNACK 0 [MQTT-3.1.4-4] (3.1.1) / 0x00 [MQTT-3.1.4-5] (5.0) */
			auth_login(&r, versions[v], id, users[i][0], users[i][1]);
			auth_expect_alive(&r, id);
			raw_close(&r);
			char line[96];
			snprintf(line, sizeof(line), "client %s connected", id);
			cr_assert(hb_log_contains(&broker, line, AUTH_WAIT_MS), "no connect line for %s", id);
		}
	}
	cr_assert(hb_log_contains(&broker, "keepalive 60, user carol)", AUTH_WAIT_MS),
		  "the connect line does not name the user");
}

/* Every way of getting the credentials wrong, for both versions. */
static const struct {
	const char *user, *pass, *what;
} wrong[] = {
	{"alice", "wrong", "wrong password"},
	{"alice", NULL, "no password"},
	{"alice", "", "empty password"},
	{"alice", "alicepwx", "password with a character more"},
	{"alice", "alicep", "a prefix of the password"},
	{"alice", "bobpw", "another user's password"},
	{"Alice", "alicepw", "user name in another case"},
	{"alice ", "alicepw", "user name with a trailing blank"},
	{"ghost", "alicepw", "unknown user"},
	{"", "alicepw", "empty user name"},
};

Test(passwd, wrong_credentials_are_return_code_4_in_3_1_1_and_0x86_in_5_0)
{
	start_usual();
	for (size_t v = 0; v < 2; v++)
		for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
			char what[96];
			snprintf(what, sizeof(what), "v%u, %s", versions[v], wrong[i].what);
			auth_expect_refused(versions[v], "pw-wrong", wrong[i].user, wrong[i].pass,
					    bad_credentials(versions[v]), what);
		}
	cr_assert(hb_log_contains(&broker, "bad username or password", AUTH_WAIT_MS));
	/* nothing was spoiled for the right credentials */
	struct raw r;
	auth_login(&r, MQTT_V311, "pw-right", "alice", "alicepw");
	raw_close(&r);
}

Test(passwd, nameless_clients_get_5_or_0x87_when_anonymous_access_is_off)
{
	start_usual();
	auth_expect_refused(MQTT_V311, "anon-4", NULL, NULL, MQTT_CONNACK_NOT_AUTHORIZED, "3.1.1, no user name");
	auth_expect_refused(MQTT_V5, "anon-5", NULL, NULL, MQTT_RC_NOT_AUTHORIZED, "5.0, no user name");
	/* 5.0 lets a Password come without a User Name (3.1.2.9): still nobody */
	auth_expect_refused(MQTT_V5, "anon-5p", NULL, "alicepw", MQTT_RC_NOT_AUTHORIZED,
			    "5.0, a password and no user name");
	cr_assert(hb_log_contains(&broker, "anonymous access refused", AUTH_WAIT_MS));
}

Test(passwd, anonymous_access_on_still_checks_the_names_given)
{
	auth_users();
	auth_write("acl", ACL);
	auth_start("listener %PORT% 127.0.0.1\nallow_anonymous true\nlog_type all\n"
		   "password_file @D@/passwd\nacl_file @D@/acl\n");
	for (size_t v = 0; v < 2; v++) {
		struct raw r;
		char id[16];
		snprintf(id, sizeof(id), "nameless-%u", versions[v]);
		auth_login(&r, versions[v], id, NULL, NULL);
		raw_close(&r);
		auth_expect_refused(versions[v], "named-wrong", "alice", "wrong", bad_credentials(versions[v]),
				    "a wrong password with anonymous access on");
		auth_expect_refused(versions[v], "named-ghost", "ghost", "x", bad_credentials(versions[v]),
				    "an unknown user with anonymous access on");
	}
	cr_assert(hb_log_contains(&broker, "client nameless-5 connected", AUTH_WAIT_MS));
	cr_assert_not(hb_log_contains(&broker, "keepalive 60, user", 0), "a nameless client logged with a user");
}

/* Build a CONNECT and more packets into one write. */
static void put_connect(struct buf *b, uint8_t version, const char *id, const char *user, const char *pass)
{
	struct mqtt_connect c = {
		.version = version,
		.clean_start = true,
		.keepalive_s = 60,
		.client_id = {id, (uint16_t)strlen(id)},
		.has_username = user != NULL,
		.username = {user ? user : "", user ? (uint16_t)strlen(user) : 0},
		.has_password = pass != NULL,
		.password = {(const uint8_t *)(pass ? pass : ""), pass ? (uint32_t)strlen(pass) : 0},
	};
	cr_assert(mqtt_encode_connect(b, &c) == FM_OK);
}

static void put_publish(struct buf *b, uint8_t version, const char *topic, const char *payload, uint8_t qos,
			bool retain, uint16_t id)
{
	struct mqtt_publish p = {.qos = qos, .retain = retain, .topic = {topic, (uint16_t)strlen(topic)},
				 .packet_id = id,
				 .payload = {(const uint8_t *)payload, (uint32_t)strlen(payload)}};
	cr_assert(mqtt_encode_publish(b, version, &p) == FM_OK);
}

Test(passwd, nothing_sent_after_a_refused_connect_is_processed)
{
	start_usual();
	struct raw watch;
	auth_login(&watch, MQTT_V311, "pipe-watch", "admin", "adminpw");
	cr_assert_eq(raw_subscribe(&watch, 1, "a/#", 1), 1);
	for (size_t v = 0; v < 2; v++) {
		uint8_t version = versions[v];
		/* CONNECT with a wrong password, then SUBSCRIBE and PUBLISHes in
		 * the same write: clients need not wait for the CONNACK (3.1.4) */
		struct raw r;
		raw_open(&r, broker.port);
		r.version = version;
		put_connect(&r.out, version, "pipe-bad", "alice", "wrong");
		struct mqtt_sub_entry e = {.filter = {"a/#", 3}, .options = 1};
		cr_assert(mqtt_encode_subscribe(&r.out, version, 1, &e, 1) == FM_OK);
		put_publish(&r.out, version, "a/leak", "retained leak", 1, true, 2);
		put_publish(&r.out, version, "a/leak", "qos0 leak", 0, false, 0);
		raw_send_buf(&r, &r.out);
		struct mqtt_frame f;
		raw_expect(&r, MQTT_CONNACK, &f);
		struct mqtt_connack ack;
		uint8_t reason;
		cr_assert(mqtt_decode_connack(&f, version, &ack, &reason) == FM_OK);
		cr_assert_eq(ack.reason, bad_credentials(version), "v%u: CONNACK 0x%02x", version, ack.reason);
		uint8_t last = 0;
		/* [MQTT-3.1.4-5] (3.1.1) / [MQTT-3.1.4-6] (5.0): no SUBACK, no PUBACK */
		cr_assert(raw_closed_within(&r, AUTH_WAIT_MS, &last), "v%u: not closed after the refusal", version);
		cr_assert_eq(last, 0, "v%u: packet type %u answered after a refused CONNECT [%s]", version, last,
			     version == MQTT_V5 ? "MQTT-3.1.4-6" : "MQTT-3.1.4-5");
		raw_close(&r);
	}
	/* the PUBLISHes went nowhere: the next message on a/# is the fence */
	struct raw admin;
	auth_login(&admin, MQTT_V311, "pipe-admin", "admin", "adminpw");
	auth_pub1(&admin, "a/leak", "fence", false, 1);
	bool retain = true;
	auth_expect_msg(&watch, "a/leak", "fence", &retain, "the refused client's PUBLISH was routed [MQTT-3.1.4-5]");
	/* and was not retained: a new subscriber gets no retained a/leak */
	struct raw late;
	auth_login(&late, MQTT_V311, "pipe-late", "admin", "adminpw");
	cr_assert_eq(raw_subscribe(&late, 1, "a/leak", 1), 1);
	auth_pub1(&admin, "a/leak", "fence 2", false, 2);
	auth_expect_msg(&late, "a/leak", "fence 2", &retain, "the refused client's PUBLISH was retained");
	cr_assert_not(retain);
	raw_close(&watch);
	raw_close(&admin);
	raw_close(&late);
}

/* A persistent session of user, subscribed to filter, left offline. */
static void park(const char *id, const char *user, const char *pass, const char *filter)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = id, .clean = false, .keepalive = 60, .username = user,
				     .password = pass};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0, "%s refused", id);
	cr_assert_eq(raw_subscribe(&r, 1, filter, 1), 1);
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&r, disconnect, sizeof(disconnect));
	cr_assert(raw_closed_within(&r, AUTH_WAIT_MS, NULL));
	raw_close(&r);
}

Test(passwd, refusals_disturb_no_one_else)
{
	start_usual();
	struct canary c;
	canary_up(&c);
	park("parked", "alice", "alicepw", "a/#");
	for (int round = 0; round < 5; round++) {
		auth_expect_refused(MQTT_V311, "x", "alice", "wrong", 4, "3.1.1, wrong password");
		auth_expect_refused(MQTT_V5, "x", "ghost", "x", 0x86, "5.0, unknown user");
		auth_expect_refused(MQTT_V311, "x", NULL, NULL, 5, "3.1.1, anonymous");
		auth_expect_refused(MQTT_V5, "x", NULL, NULL, 0x87, "5.0, anonymous");
		/* the client ids of connected clients and of a parked session:
		 * only an accepted CONNECT takes a client id over
		 * ([MQTT-3.1.4-2] 3.1.1, [MQTT-3.1.4-3] 5.0) */
		auth_expect_refused(MQTT_V311, "canary-sub", "admin", "wrong", 4, "the canary's client id");
		auth_expect_refused(MQTT_V5, "canary-pub", NULL, NULL, 0x87, "the canary publisher's client id");
		auth_expect_refused(MQTT_V311, "parked", "alice", "wrong", 4, "a parked session's client id");
		canary_check(&c, "after a round of refusals");
	}
	/* the parked session is still there, untouched [MQTT-3.2.2-2] (3.1.1:
	 * Session Present 1 for a stored session) */
	struct raw r;
	struct raw_connect_opts o = {.client_id = "parked", .clean = false, .keepalive = 60, .username = "alice",
				     .password = "alicepw"};
	bool present = false;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert(present, "a refused CONNECT with the client id of a parked session ended it");
	raw_close(&r);
	canary_check(&c, "at the end");
	canary_down(&c);
}

/* allow_anonymous false with nothing to check a username against: the
 * username proves nothing, so it is refused like none (mosquitto 2.0 does
 * the same); with allow_anonymous true any name gets in. 3.2.2.3: return
 * code 5 / 0x87 Not authorized. */
Test(passwd, without_a_password_file_a_user_name_counts_as_anonymous)
{
	auth_start("listener %PORT% 127.0.0.1\nallow_anonymous false\nlog_type all\n");
	for (size_t v = 0; v < 2; v++) {
		auth_expect_refused(versions[v], "whoever", "whoever", "any password", not_authorized(versions[v]),
				    "a username and allow_anonymous false, no password_file");
		auth_expect_refused(versions[v], "nobody", NULL, NULL, not_authorized(versions[v]),
				    "anonymous with allow_anonymous false");
	}
	cr_assert(hb_log_contains(&broker, "no password_file to check the username against", AUTH_WAIT_MS));
}

Test(passwd, with_allow_anonymous_true_and_no_password_file_any_name_gets_in)
{
	auth_start("listener %PORT% 127.0.0.1\nallow_anonymous true\nlog_type all\n");
	for (size_t v = 0; v < 2; v++) {
		struct raw r;
		char id[16];
		snprintf(id, sizeof(id), "whoever-%u", versions[v]);
		auth_login(&r, versions[v], id, "whoever", "any password");
		raw_close(&r);
	}
	cr_assert(hb_log_contains(&broker, "keepalive 60, user whoever)", AUTH_WAIT_MS));
}

/* --- real clients ------------------------------------------------------------- */

Test(passwd_clients, mosquitto_pub_and_mosquitto_sub_log_in_with_3_1_1_and_5_0)
{
	start_usual();
	const char *port = auth_port(broker.port);
	char sub_out[128], out[1024];
	const char *sub_argv[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-i", "cli-sub", "-u", "alice",
				  "-P", "alicepw", "-t", "a/#", "-q", "1", "-v", "-C", "2", "-W", "10", NULL};
	pid_t sub = auth_spawn(sub_argv, sub_out, sizeof(sub_out));
	auth_await_log("cli-sub 1 a/#", "mosquitto_sub subscribed");
	const char *pub4[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "alicepw",
			      "-q", "1", "-t", "a/one", "-m", "first", NULL};
	cr_assert_eq(auth_run(pub4, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub (3.1.1): %s", out);
	const char *pub5[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-u", "alice", "-P",
			      "alicepw", "-q", "2", "-t", "a/two", "-m", "second", NULL};
	cr_assert_eq(auth_run(pub5, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub (5.0): %s", out);
	cr_assert_eq(auth_wait(sub, AUTH_WAIT_MS), 0, "mosquitto_sub did not get both messages");
	auth_read(sub_out, out, sizeof(out));
	cr_assert_str_eq(out, "a/one first\na/two second\n");

	/* refusals as the tools report them (CONNACK 4 / 0x86 / 5) */
	const char *bad4[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "nope",
			      "-t", "a/x", "-m", "x", NULL};
	cr_assert_neq(auth_run(bad4, out, sizeof(out), AUTH_WAIT_MS), 0);
	cr_assert(strstr(out, "bad user name or password"), "mosquitto_pub 3.1.1 said: %s", out);
	const char *bad5[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-u", "alice", "-P",
			      "nope", "-t", "a/x", "-m", "x", NULL};
	cr_assert_neq(auth_run(bad5, out, sizeof(out), AUTH_WAIT_MS), 0);
	cr_assert(strstr(out, "Bad User Name or Password"), "mosquitto_pub 5.0 said: %s", out);
	const char *anon[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "a/x", "-m", "x", NULL};
	cr_assert_neq(auth_run(anon, out, sizeof(out), AUTH_WAIT_MS), 0);
	cr_assert(strstr(out, "not authorised"), "mosquitto_pub anonymous said: %s", out);
}

Test(passwd_clients, libmosquitto_sees_the_connack_codes)
{
	start_usual();
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V311, "lib-a4", "alice", "alicepw"), 0);
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V5, "lib-a5", "alice", "alicepw"), 0);
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V311, "lib-w4", "alice", "wrong"), 4, "3.2.2.3: return code 4");
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V5, "lib-w5", "alice", "wrong"), 0x86, "3.2.2.2: 0x86");
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V311, "lib-n4", NULL, NULL), 5, "3.2.2.3: return code 5");
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V5, "lib-n5", NULL, NULL), 0x87, "3.2.2.2: 0x87");
}

/* --- the will needs write access ----------------------------------------------- */

/* CONNECT with a will; returns the CONNACK code (r stays open). */
static int connect_will(struct raw *r, uint8_t version, const char *id, bool clean, const char *user,
			const char *pass, const char *will_topic)
{
	struct raw_connect_opts o = {.version = version, .client_id = id, .clean = clean, .keepalive = 60,
				     .username = user, .password = pass, .will_topic = will_topic,
				     .will_payload = "gone", .will_qos = 1};
	return raw_connect(r, broker.port, &o, NULL);
}

Test(will_access, the_will_topic_needs_write_access_at_connect)
{
	start_usual();
	struct canary c;
	canary_up(&c);
	struct raw watch;
	auth_login(&watch, MQTT_V311, "will-watch", "admin", "adminpw");
	cr_assert_eq(raw_subscribe(&watch, 1, "#", 1), 1);
	const struct {
		const char *id, *user, *pass, *topic;
		bool ok;
	} cases[] = {
		{"will-a", "alice", "alicepw", "a/will", true},
		{"will-b", "alice", "alicepw", "b/will", false},        /* no rule */
		{"will-s", "alice", "alicepw", "a/secret/will", false}, /* deny beats allow */
		{"d7", "bob", "bobpw", "dev/d7/status", true},          /* pattern write dev/%c/# */
		{"d7", "bob", "bobpw", "dev/d8/status", false},
	};
	for (size_t v = 0; v < 2; v++)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct raw r;
			int rc = connect_will(&r, versions[v], cases[i].id, true, cases[i].user, cases[i].pass,
					      cases[i].topic);
			if (cases[i].ok) {
				cr_assert_eq(rc, 0, "v%u: a will on %s refused (0x%02x)", versions[v], cases[i].topic, rc);
				/* a normal DISCONNECT: the will is not sent [MQTT-3.1.2-10] (3.1.1) */
				static const uint8_t disconnect[] = {0xE0, 0x00};
				raw_send(&r, disconnect, sizeof(disconnect));
			} else {
				/* 3.2.2.3 return code 5 / 3.2.2.2 0x87; then closed
				 * ([MQTT-3.2.2-5] / [MQTT-3.2.2-7], [MQTT-3.1.4-2]) */
				cr_assert_eq(rc, not_authorized(versions[v]), "v%u: a will on %s: CONNACK 0x%02x",
					     versions[v], cases[i].topic, rc);
			}
			cr_assert(raw_closed_within(&r, AUTH_WAIT_MS, NULL));
			raw_close(&r);
		}
	cr_assert(hb_log_contains(&broker, "will topic not authorized", AUTH_WAIT_MS));

	/* a refused persistent CONNECT leaves no session behind (3.1.1
	 * [MQTT-3.2.2-3]: Session Present 0 when there is none) */
	struct raw r;
	cr_assert_eq(connect_will(&r, MQTT_V311, "will-p", false, "alice", "alicepw", "b/will"), 5);
	raw_close(&r);
	struct raw_connect_opts o = {.client_id = "will-p", .clean = false, .keepalive = 60, .username = "alice",
				     .password = "alicepw"};
	bool present = true;
	cr_assert_eq(raw_connect(&r, broker.port, &o, &present), 0);
	cr_assert_not(present, "a CONNECT refused for its will left a session");
	raw_close(&r);

	/* an allowed will is published when its connection just drops
	 * [MQTT-3.1.2-8]; the refused ones never were: it comes first */
	cr_assert_eq(connect_will(&r, MQTT_V311, "will-drop", true, "alice", "alicepw", "a/will"), 0);
	raw_close(&r);
	auth_expect_msg(&watch, "a/will", "gone", NULL, "the will of a dropped connection");

	/* a will is delivered like any message: to readers only (admin may
	 * write a/secret/will, alice may not read it) */
	struct raw reader, admin;
	auth_login(&reader, MQTT_V311, "will-reader", "alice", "alicepw");
	cr_assert_eq(raw_subscribe(&reader, 1, "a/#", 1), 1);
	cr_assert_eq(connect_will(&r, MQTT_V5, "will-admin", true, "admin", "adminpw", "a/secret/will"), 0);
	raw_close(&r);
	auth_expect_msg(&watch, "a/secret/will", "gone", NULL, "admin's will");
	auth_login(&admin, MQTT_V311, "will-fence", "admin", "adminpw");
	auth_pub1(&admin, "a/fence", "fence", false, 1);
	auth_expect_msg(&reader, "a/fence", "fence", NULL, "a will alice may not read reached her");
	raw_close(&reader);
	raw_close(&admin);
	canary_check(&c, "after the will refusals");
	raw_close(&watch);
	canary_down(&c);
}

/* mosquitto checks the will's write access again when it sends the will
 * (context__send_will): rules reloaded in between apply to it as to any
 * publish of that connection. */
Test(will_access, a_will_is_checked_again_when_it_is_published)
{
	start_usual();
	struct raw watch, r;
	auth_login(&watch, MQTT_V311, "will-watch", "admin", "adminpw");
	cr_assert_eq(raw_subscribe(&watch, 1, "#", 1), 1);
	cr_assert_eq(connect_will(&r, MQTT_V311, "will-late", true, "alice", "alicepw", "a/will"), 0);
	auth_write("acl", "user admin\ntopic readwrite #\nuser alice\ntopic read a/#\n");
	auth_reload(AUTH_CONF);
	raw_close(&r); /* dropped: the will is due, but alice may no longer write a/will */
	auth_await_log("client will-late (", "alice's connection closed");
	struct raw admin;
	auth_login(&admin, MQTT_V311, "will-admin", "admin", "adminpw");
	auth_pub1(&admin, "a/fence", "fence", false, 1);
	auth_expect_msg(&watch, "a/fence", "fence", NULL,
			"a will published after its write access was taken away (mosquitto does not)");
	cr_assert(raw_silent(&watch, 500), "a will published after its write access was taken away");
	raw_close(&admin);
	raw_close(&watch);
}

/* --- per listener or global ------------------------------------------------------ */

Test(listeners, per_listener_settings_gives_each_listener_its_own_files)
{
	auth_passwd("pw1", "alice", "alicepw");
	auth_passwd("pw1", "admin", "adminpw");
	auth_passwd("pw2", "bob", "bobpw");
	auth_write("acl1", "user admin\ntopic readwrite #\nuser alice\ntopic readwrite a/#\n");
	auth_write("acl2", "topic read lobby/#\nuser bob\ntopic read a/#\ntopic readwrite b/#\n");
	auth_start("per_listener_settings true\nlog_type all\n"
		   "listener %PORT% 127.0.0.1\nallow_anonymous false\n"
		   "password_file @D@/pw1\nacl_file @D@/acl1\n"
		   "listener %PORT2% 127.0.0.1\nallow_anonymous true\n"
		   "password_file @D@/pw2\nacl_file @D@/acl2\n");
	uint16_t p1 = broker.port, p2 = broker.port2;
	struct raw alice, bob, anon, admin;
	cr_assert_eq(auth_connect_to(&alice, p1, MQTT_V5, "l-alice", "alice", "alicepw", NULL), 0);
	cr_assert_eq(auth_connect_to(&bob, p2, MQTT_V5, "l-bob", "bob", "bobpw", NULL), 0);
	cr_assert_eq(auth_connect_to(&anon, p2, MQTT_V5, "l-anon", NULL, NULL, NULL), 0);
	cr_assert_eq(auth_connect_to(&admin, p1, MQTT_V311, "l-admin", "admin", "adminpw", NULL), 0);
	auth_expect_refused_at(p2, MQTT_V5, "x", "alice", "alicepw", 0x86, "alice on the second listener");
	auth_expect_refused_at(p1, MQTT_V311, "x", "bob", "bobpw", 4, "bob on the first listener");
	auth_expect_refused_at(p1, MQTT_V5, "x", NULL, NULL, 0x87, "anonymous on the first listener");

	/* each listener's ACL: 3.9.3 Subscribe Reason Codes 0x87 */
	cr_assert_eq(raw_subscribe5(&bob, 1, "a/#", 1, 0), 1, "acl2 lets bob read a/#");
	cr_assert_eq(raw_subscribe5(&bob, 2, "b/+/q", 1, 0), 1, "acl2's b/# covers b/+/q");
	cr_assert_eq(raw_subscribe5(&alice, 1, "b/#", 1, 0), MQTT_RC_NOT_AUTHORIZED, "acl1 has nothing on b/#");
	cr_assert_eq(raw_subscribe5(&anon, 1, "lobby/#", 1, 0), 1, "acl2's anonymous rules");
	cr_assert_eq(raw_subscribe5(&anon, 2, "a/#", 1, 0), MQTT_RC_NOT_AUTHORIZED);
	cr_assert_eq(raw_subscribe(&admin, 1, "b/#", 1), 1);

	/* across listeners: each side is judged by its own listener's rules */
	cr_assert_lt(auth_pub1(&alice, "a/x", "from listener 1", false, 1), 0x80);
	auth_expect_msg(&bob, "a/x", "from listener 1", NULL, "bob reads a/x by acl2");
	cr_assert_eq(auth_pub1(&bob, "a/y", "x", false, 2), MQTT_RC_NOT_AUTHORIZED, "acl2: bob only reads a/#");
	cr_assert_lt(auth_pub1(&bob, "b/z", "from listener 2", false, 3), 0x80);
	auth_expect_msg(&admin, "b/z", "from listener 2", NULL, "admin reads b/z by acl1");

	/* SIGHUP: each listener's files as the new config names them */
	auth_reload("per_listener_settings true\nlog_type all\n"
		    "listener %PORT% 127.0.0.1\nallow_anonymous false\n"
		    "password_file @D@/pw1\nacl_file @D@/acl1\n"
		    "listener %PORT2% 127.0.0.1\nallow_anonymous true\n"
		    "password_file @D@/pw1\nacl_file @D@/acl1\n");
	auth_expect_refused_at(p2, MQTT_V5, "x", "bob", "bobpw", 0x86, "bob on listener 2 after it took pw1");
	struct raw again;
	cr_assert_eq(auth_connect_to(&again, p2, MQTT_V5, "l-alice2", "alice", "alicepw", NULL), 0,
		     "alice on listener 2 after it took pw1");
	cr_assert_lt(auth_pub1(&again, "a/q", "x", false, 1), 0x80, "acl1 on listener 2 now");
	auth_expect_alive(&bob, "bob's connection made before the reload");
	raw_close(&again);
	raw_close(&alice);
	raw_close(&bob);
	raw_close(&anon);
	raw_close(&admin);
}

Test(listeners, without_per_listener_settings_the_files_are_global_wherever_they_appear)
{
	auth_users();
	auth_write("acl", ACL);
	/* the files named after the second listener line still hold for both */
	auth_start("log_type all\nallow_anonymous false\n"
		   "listener %PORT% 127.0.0.1\n"
		   "listener %PORT2% 127.0.0.1\n"
		   "password_file @D@/passwd\nacl_file @D@/acl\n");
	uint16_t ports[] = {broker.port, broker.port2};
	for (int i = 0; i < 2; i++) {
		struct raw r;
		cr_assert_eq(auth_connect_to(&r, ports[i], MQTT_V5, "g-alice", "alice", "alicepw", NULL), 0,
			     "alice on listener %d", i + 1);
		cr_assert_eq(auth_pub1(&r, "b/x", "x", false, 1), MQTT_RC_NOT_AUTHORIZED, "listener %d: the ACL", i + 1);
		raw_close(&r);
		auth_expect_refused_at(ports[i], MQTT_V311, "g-bad", "alice", "wrong", 4, "a wrong password");
		auth_expect_refused_at(ports[i], MQTT_V5, "g-anon", NULL, NULL, 0x87, "anonymous");
	}
}

/* The same files, moved under the listener line with per_listener_settings
 * turned on by a reload: whatever the broker makes of the switch, the
 * files must stay in force (never "no password file, no ACL"). */
Test(listeners, turning_per_listener_settings_on_by_sighup_keeps_the_files_in_force)
{
	start_usual();
	auth_reload("per_listener_settings true\nlog_type all\n"
		    "listener %PORT% 127.0.0.1\nallow_anonymous false\n"
		    "password_file @D@/passwd\nacl_file @D@/acl\n");
	auth_expect_refused(MQTT_V311, "pls-wrong", "alice", "wrong", 4, "a wrong password after the switch");
	auth_expect_refused(MQTT_V5, "pls-ghost", "ghost", "x", 0x86, "an unknown user after the switch");
	struct raw r;
	auth_login(&r, MQTT_V5, "pls-alice", "alice", "alicepw");
	cr_assert_eq(auth_pub1(&r, "b/x", "x", false, 1), MQTT_RC_NOT_AUTHORIZED, "the ACL after the switch");
	raw_close(&r);
}

/* --- SIGHUP ----------------------------------------------------------------------- */

Test(passwd_reload, sighup_rereads_the_password_file_and_drops_no_one)
{
	start_usual();
	struct raw alice, bob, admin;
	auth_login(&alice, MQTT_V311, "hup-alice", "alice", "alicepw");
	cr_assert_eq(raw_subscribe(&alice, 1, "a/#", 1), 1);
	auth_login(&bob, MQTT_V5, "hup-bob", "bob", "bobpw");
	auth_login(&admin, MQTT_V311, "hup-admin", "admin", "adminpw");
	/* alice removed, bob's password changed, erin added */
	unlink(auth_path("passwd"));
	auth_passwd("passwd", "admin", "adminpw");
	auth_passwd("passwd", "bob", "bobpw2");
	auth_passwd("passwd", "erin", "erinpw");
	auth_reload(AUTH_CONF);
	struct raw erin;
	auth_login(&erin, MQTT_V5, "hup-erin", "erin", "erinpw");
	auth_expect_refused(MQTT_V311, "hup-alice2", "alice", "alicepw", 4, "a removed user");
	auth_expect_refused(MQTT_V5, "hup-bob2", "bob", "bobpw", 0x86, "an old password");
	struct raw bob2;
	auth_login(&bob2, MQTT_V5, "hup-bob2", "bob", "bobpw2");
	/* the connections made before stay, and keep working */
	auth_expect_alive(&alice, "alice's connection after her removal");
	auth_expect_alive(&bob, "bob's connection after his password changed");
	auth_pub1(&admin, "a/after", "still here", false, 1);
	auth_expect_msg(&alice, "a/after", "still here", NULL, "delivery to a connection made before the reload");
	raw_close(&alice);
	raw_close(&bob);
	raw_close(&bob2);
	raw_close(&erin);
	raw_close(&admin);
}

Test(passwd_reload, a_bad_line_on_sighup_keeps_the_rules_in_force)
{
	start_usual();
	/* line 3 is broken: nothing of the new file applies (erin stays out,
	 * alice stays in) */
	auth_passwd("passwd.new", "admin", "adminpw");
	auth_passwd("passwd.new", "erin", "erinpw");
	FILE *f = fopen(auth_path("passwd.new"), "a");
	cr_assert(f);
	fputs("mallory-without-a-hash\n", f);
	fclose(f);
	cr_assert_eq(rename(auth_path("passwd.new"), auth_path("passwd")), 0);
	long off = auth_log_size();
	auth_reload(AUTH_CONF);
	char needle[192];
	snprintf(needle, sizeof(needle), "SIGHUP: keeping the password and ACL rules in force: %s:3: ",
		 auth_path("passwd"));
	cr_assert(auth_log_since(off, needle, AUTH_WAIT_MS), "no '%s' in the log", needle);
	struct raw r;
	auth_login(&r, MQTT_V311, "bad-alice", "alice", "alicepw");
	raw_close(&r);
	auth_expect_refused(MQTT_V311, "bad-erin", "erin", "erinpw", 4, "a user of the rejected file");

	/* a good password file with a bad ACL: both stay as they were */
	auth_passwd("passwd.fixed", "admin", "adminpw");
	auth_passwd("passwd.fixed", "erin", "erinpw");
	cr_assert_eq(rename(auth_path("passwd.fixed"), auth_path("passwd")), 0);
	auth_write("acl", "user admin\ntopic readwrite #\ntopik read a/#\n");
	off = auth_log_size();
	auth_reload(AUTH_CONF);
	snprintf(needle, sizeof(needle), "SIGHUP: keeping the password and ACL rules in force: %s:3: ",
		 auth_path("acl"));
	cr_assert(auth_log_since(off, needle, AUTH_WAIT_MS), "no '%s' in the log", needle);
	auth_expect_refused(MQTT_V5, "bad-erin", "erin", "erinpw", 0x86, "the password file that came with a bad ACL");
	auth_login(&r, MQTT_V311, "bad-alice", "alice", "alicepw");
	raw_close(&r);

	/* fixed: the new files apply */
	auth_write("acl", ACL);
	auth_reload(AUTH_CONF);
	auth_login(&r, MQTT_V5, "good-erin", "erin", "erinpw");
	raw_close(&r);
	auth_expect_refused(MQTT_V311, "good-alice", "alice", "alicepw", 4, "alice after the fixed reload");
	cr_assert(hb_alive(&broker));
}

Test(passwd_reload, sighup_follows_the_paths_of_the_new_config)
{
	start_usual();
	auth_passwd("passwd2", "erin", "erinpw");
	auth_write("acl2", "user erin\ntopic readwrite e/#\n");
	auth_reload("listener %PORT% 127.0.0.1\nallow_anonymous false\nlog_type all\n"
		    "password_file @D@/passwd2\nacl_file @D@/acl2\n");
	auth_expect_refused(MQTT_V311, "path-alice", "alice", "alicepw", 4, "alice is not in the new file");
	struct raw r;
	auth_login(&r, MQTT_V5, "path-erin", "erin", "erinpw");
	cr_assert_lt(auth_pub1(&r, "e/x", "x", false, 1), 0x80, "acl2 lets erin write e/#");
	cr_assert_eq(auth_pub1(&r, "a/x", "x", false, 2), MQTT_RC_NOT_AUTHORIZED);
	raw_close(&r);
	/* no password_file and no acl_file any more: with allow_anonymous true
	 * any name and any topic; a name alone cannot pass allow_anonymous false */
	auth_reload("listener %PORT% 127.0.0.1\nallow_anonymous true\nlog_type all\n");
	auth_login(&r, MQTT_V5, "path-any", "anyone", "anything");
	cr_assert_lt(auth_pub1(&r, "z/x", "x", false, 1), 0x80, "no ACL left");
	raw_close(&r);
	auth_reload("listener %PORT% 127.0.0.1\nallow_anonymous false\nlog_type all\n");
	auth_expect_refused(MQTT_V311, "path-anon", NULL, NULL, 5, "allow_anonymous false holds");
	auth_expect_refused(MQTT_V311, "path-name", "anyone", "anything", 5, "a name with nothing to check it against");
}

/* --- startup ------------------------------------------------------------------------ */

static void expect_startup_error(const char *conf_tmpl, const char *needle, const char *what)
{
	char conf[4096], tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "listener %u 127.0.0.1\nallow_anonymous false\n%s", hb_free_port(), conf_tmpl);
	auth_conf(conf, sizeof(conf), tmpl);
	auth_write("startup.conf", conf);
	const char *argv[] = {hb_binary(), "-c", auth_path("startup.conf"), NULL};
	char out[8192];
	int rc = hb_run_capture(argv, out, sizeof(out), 10);
	cr_assert_neq(rc, 0, "%s: the broker started (exit %d): %s", what, rc, out);
	cr_assert_neq(rc, 128 + 9, "%s: the broker kept running", what);
	char full[256];
	auth_expand(full, sizeof(full), needle);
	cr_assert(strstr(out, full), "%s: no '%s' in: %s", what, full, out);
}

Test(auth_startup, a_bad_or_missing_file_is_a_startup_error_naming_file_and_line)
{
	auth_users();
	FILE *f = fopen(auth_path("passwd"), "a");
	cr_assert(f);
	fputs("# a comment\nbob-has-no-hash\n", f);
	fclose(f);
	auth_write("acl", ACL);
	expect_startup_error("password_file @D@/passwd\n", "@D@/passwd:5:", "a password line without a hash");
	unlink(auth_path("passwd"));
	auth_users();
	auth_write("bad.acl", "user alice\ntopic readwrite a/#\ntopic read a/#/b\n");
	expect_startup_error("password_file @D@/passwd\nacl_file @D@/bad.acl\n", "@D@/bad.acl:3:",
			     "an invalid topic filter");
	auth_write("bad.acl", "# fine\ntopik read a/#\n");
	expect_startup_error("acl_file @D@/bad.acl\n", "@D@/bad.acl:2:", "an unknown keyword");
	expect_startup_error("acl_file @D@/missing.acl\n", "@D@/missing.acl", "a missing acl_file");
	expect_startup_error("password_file @D@/missing.pw\n", "@D@/missing.pw", "a missing password_file");
	/* with per_listener_settings, a listener's own file */
	char conf[256];
	snprintf(conf, sizeof(conf), "per_listener_settings true\nlistener %u 127.0.0.1\nacl_file @D@/bad.acl\n",
		 hb_free_port());
	expect_startup_error(conf, "@D@/bad.acl:2:", "a listener's acl_file");
}
