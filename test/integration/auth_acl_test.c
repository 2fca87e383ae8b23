/* acl_file: what an authenticated (or anonymous) client may publish,
 * subscribe to and receive. PUBLISH needs write access (5.0: 0x87 in the
 * PUBACK/PUBREC; 3.1.1: acknowledged as usual and dropped); SUBSCRIBE needs
 * the whole filter readable (0x80 / 0x87 in that filter's SUBACK slot);
 * every delivery needs read access as it goes out (retained messages, an
 * offline queue, a session another user took over); patterns with %c and
 * %u; deny beats allow; SIGHUP applies new rules to connections that are
 * already up; a TLS certificate's CN as the username.
 *
 * Forbidden deliveries are caught with fences (auth.h): the publisher
 * sends what must not arrive, then something that must, and the
 * subscriber's next packet has to be the latter. */
#include "auth.h"

#include "fleetmq/errors.h"
#include "mqtt/props.h"

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ACL =
	"# anonymous clients: the lobby only\n"
	"topic read lobby/#\n"
	"\n"
	"user admin\n"
	"topic readwrite #\n"
	"\n"
	"user alice\n"
	"topic readwrite a/#\n"
	"topic deny a/secret/#\n"
	"topic read r/#\n"
	"topic write w/#\n"
	"\n"
	"user bob\n"
	"topic read c/+/x\n"
	"topic read d/+\n"
	"topic readwrite b/#\n"
	"\n"
	"pattern readwrite dev/%c/#\n"
	"pattern deny dev/%c/locked/#\n"
	"pattern read home/%u/#\n"
	"pattern deny a/%u/private\n";

/* The usual files, anonymous access on (the lobby rules apply then). */
#define ANON_CONF                                                                                          \
	"listener %PORT% 127.0.0.1\nallow_anonymous true\nlog_type all\n"                                  \
	"password_file @D@/passwd\nacl_file @D@/acl\n"

static void start_with(const char *conf)
{
	auth_users();
	auth_write("acl", ACL);
	auth_start(conf);
}

static void start_usual(void)
{
	start_with(AUTH_CONF);
}

TestSuite(acl_publish, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(acl_subscribe, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(acl_deliver, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(acl_pattern, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(acl_reload, .init = auth_init, .fini = auth_fini, .timeout = 60);
TestSuite(acl_tls, .init = auth_init, .fini = auth_fini, .timeout = 60);

static uint8_t refused_code(uint8_t version)
{
	return version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : MQTT_SUBACK_FAILURE;
}

/* admin subscribed to everything (but '$' topics) at QoS 1 (a QoS 2 flow could
 * interleave with the next PUBLISH). */
static void watcher(struct raw *w, const char *id)
{
	auth_login(w, MQTT_V311, id, "admin", "adminpw");
	cr_assert_eq(raw_subscribe(w, 1, "#", 1), 1);
}

/* --- PUBLISH needs write access ------------------------------------------------ */

Test(acl_publish, refused_5_0_publishes_get_0x87_and_go_nowhere)
{
	start_usual();
	struct raw watch, alice, keeper;
	auth_login(&keeper, MQTT_V311, "p5-keeper", "admin", "adminpw");
	auth_pub1(&keeper, "r/kept", "admin's", true, 1);
	raw_close(&keeper);
	watcher(&watch, "p5-watch");
	auth_expect_msg(&watch, "r/kept", "admin's", NULL, "the retained message, on subscribing");
	auth_login(&alice, MQTT_V5, "p5-alice", "alice", "alicepw");
	/* 3.4.2.1 PUBACK / 3.5.2.1 PUBREC Reason Codes: 0x87 Not authorized
	 * [MQTT-3.4.2-1], [MQTT-3.5.2-1] */
	cr_assert_eq(auth_pub1(&alice, "r/x", "read-only", false, 1), MQTT_RC_NOT_AUTHORIZED, "r/# is read-only");
	cr_assert_eq(auth_pub1(&alice, "b/x", "no rule", false, 2), MQTT_RC_NOT_AUTHORIZED, "no rule for b/#");
	cr_assert_eq(auth_pub1(&alice, "a/secret/x", "denied", false, 3), MQTT_RC_NOT_AUTHORIZED,
		     "deny a/secret/# beats readwrite a/#");
	cr_assert_eq(auth_pub1(&alice, "b/keep", "retained", true, 4), MQTT_RC_NOT_AUTHORIZED, "retained, no rule");
	cr_assert_eq(auth_pub1(&alice, "r/kept", "", true, 11), MQTT_RC_NOT_AUTHORIZED,
		     "an empty retained PUBLISH (a deletion [MQTT-3.3.1-6]) on a read-only topic");
	cr_assert_eq(auth_pub2(&alice, "b/x", "qos 2", 5), MQTT_RC_NOT_AUTHORIZED, "QoS 2: PUBREC 0x87");
	/* after a PUBREC of 0x80 or more the same packet id is a new
	 * publication [MQTT-4.3.3-9]: this one is allowed, and completes */
	cr_assert_eq(auth_pub2(&alice, "a/ok", "qos 2 allowed", 5), 0, "QoS 2 after a refused one, same id");
	raw_publish(&alice, "a/secret/q0", "qos 0 denied", 0, false, 0);
	raw_publish(&alice, "w/q0", "qos 0 allowed", 0, false, 0);
	/* a Topic Alias cannot carry a PUBLISH past the ACL: what is checked
	 * is the topic the alias stands for (3.3.2.3.4) */
	struct buf alias;
	buf_init(&alias);
	cr_assert(mqtt_prop_put_u16(&alias, MQTT_PROP_TOPIC_ALIAS, 1) == FM_OK);
	uint8_t reason = 0;
	raw_publish5(&alice, "b/alias", "denied", 1, false, 7, mqtt_props_of(&alias));
	cr_assert_eq(raw_expect_ack5(&alice, MQTT_PUBACK, &reason), 7);
	cr_assert_eq(reason, MQTT_RC_NOT_AUTHORIZED, "b/alias with a Topic Alias: 0x%02x", reason);
	raw_publish5(&alice, "", "denied by alias", 1, false, 8, mqtt_props_of(&alias));
	cr_assert_eq(raw_expect_ack5(&alice, MQTT_PUBACK, &reason), 8);
	cr_assert_eq(reason, MQTT_RC_NOT_AUTHORIZED, "the alias of b/alias alone: 0x%02x", reason);
	raw_publish5(&alice, "a/alias", "allowed", 1, false, 9, mqtt_props_of(&alias));
	cr_assert_eq(raw_expect_ack5(&alice, MQTT_PUBACK, &reason), 9);
	cr_assert_eq(reason, 0, "a/alias with a Topic Alias: 0x%02x", reason);
	raw_publish5(&alice, "", "allowed by alias", 1, false, 10, mqtt_props_of(&alias));
	cr_assert_eq(raw_expect_ack5(&alice, MQTT_PUBACK, &reason), 10);
	cr_assert_eq(reason, 0, "the alias of a/alias alone: 0x%02x", reason);
	buf_fini(&alias);
	cr_assert_eq(auth_pub1(&alice, "a/fence", "fence", false, 6), 0);
	auth_expect_alive(&alice, "after refused publishes: a PUBACK says no, the connection stays");
	/* only the allowed ones were routed, in order */
	auth_expect_msg(&watch, "a/ok", "qos 2 allowed", NULL, "a refused PUBLISH was routed");
	auth_expect_msg(&watch, "w/q0", "qos 0 allowed", NULL, "a refused PUBLISH was routed");
	auth_expect_msg(&watch, "a/alias", "allowed", NULL, "a refused PUBLISH was routed");
	auth_expect_msg(&watch, "a/alias", "allowed by alias", NULL, "a refused PUBLISH was routed");
	auth_expect_msg(&watch, "a/fence", "fence", NULL, "a refused PUBLISH was routed");
	/* and the refused retained one was not kept */
	struct raw late;
	auth_login(&late, MQTT_V311, "p5-late", "admin", "adminpw");
	cr_assert_eq(raw_subscribe(&late, 1, "b/keep", 1), 1);
	struct raw admin;
	auth_login(&admin, MQTT_V311, "p5-admin", "admin", "adminpw");
	auth_pub1(&admin, "b/keep", "fence", false, 1);
	auth_expect_msg(&late, "b/keep", "fence", NULL, "a refused retained PUBLISH was retained");
	bool retain = false;
	cr_assert_eq(raw_subscribe(&late, 2, "r/kept", 1), 1);
	auth_expect_msg(&late, "r/kept", "admin's", &retain, "a refused empty retained PUBLISH deleted it");
	cr_assert(retain);
	if (!auth_against_mosquitto())
		cr_assert(hb_log_contains(&broker, "denied PUBLISH from p5-alice to 'r/x'", AUTH_WAIT_MS),
			  "no debug line for the denied PUBLISH");
	raw_close(&late);
	raw_close(&admin);
	raw_close(&alice);
	raw_close(&watch);
}

Test(acl_publish, refused_3_1_1_publishes_are_acknowledged_as_usual_and_dropped)
{
	start_usual();
	struct raw watch, alice, keeper;
	auth_login(&keeper, MQTT_V311, "p4-keeper", "admin", "adminpw");
	auth_pub1(&keeper, "r/kept", "admin's", true, 1);
	raw_close(&keeper);
	watcher(&watch, "p4-watch");
	auth_expect_msg(&watch, "r/kept", "admin's", NULL, "the retained message, on subscribing");
	auth_login(&alice, MQTT_V311, "p4-alice", "alice", "alicepw");
	/* 3.1.1 cannot say no: a positive acknowledgement by the QoS rules
	 * [MQTT-3.3.5-2], the QoS 2 flow to its PUBCOMP [MQTT-4.3.3-2] */
	auth_pub1(&alice, "r/x", "read-only", false, 1);
	auth_pub1(&alice, "b/keep", "retained", true, 2);
	auth_pub1(&alice, "r/kept", "", true, 12); /* would delete a retained message [MQTT-3.3.1-10] (3.1.1) */
	auth_pub2(&alice, "b/x", "qos 2", 3);
	auth_pub2(&alice, "a/secret/x", "qos 2 denied", 4);
	raw_publish(&alice, "b/q0", "qos 0", 0, false, 0);
	auth_pub1(&alice, "a/fence", "fence", false, 5);
	auth_expect_alive(&alice, "after refused publishes");
	auth_expect_msg(&watch, "a/fence", "fence", NULL, "a refused 3.1.1 PUBLISH was routed");
	struct raw late, admin;
	auth_login(&late, MQTT_V311, "p4-late", "admin", "adminpw");
	cr_assert_eq(raw_subscribe(&late, 1, "b/keep", 1), 1);
	auth_login(&admin, MQTT_V311, "p4-admin", "admin", "adminpw");
	auth_pub1(&admin, "b/keep", "fence", false, 1);
	auth_expect_msg(&late, "b/keep", "fence", NULL, "a refused retained PUBLISH was retained");
	/* nor did a refused empty retained PUBLISH delete one */
	bool retain = false;
	cr_assert_eq(raw_subscribe(&late, 2, "r/kept", 1), 1);
	auth_expect_msg(&late, "r/kept", "admin's", &retain, "a refused empty retained PUBLISH deleted it");
	cr_assert(retain);
	raw_close(&late);
	raw_close(&admin);
	raw_close(&alice);
	raw_close(&watch);
}

struct lib {
	struct mosquitto *m;
	int connacks, connack_rc;
	int published;
	int pub_mid[8], pub_rc[8];
	int subscribed;
	int granted[8], n_granted;
};

static void on_connect5(struct mosquitto *m, void *arg, int rc, int flags, const mosquitto_property *props)
{
	(void)m;
	(void)flags;
	(void)props;
	struct lib *l = arg;
	l->connack_rc = rc;
	l->connacks++;
}

static void on_publish5(struct mosquitto *m, void *arg, int mid, int rc, const mosquitto_property *props)
{
	(void)m;
	(void)props;
	struct lib *l = arg;
	if (l->published < 8) {
		l->pub_mid[l->published] = mid;
		l->pub_rc[l->published] = rc;
	}
	l->published++;
}

static void on_subscribe5(struct mosquitto *m, void *arg, int mid, int n, const int *granted,
			  const mosquitto_property *props)
{
	(void)m;
	(void)mid;
	(void)props;
	struct lib *l = arg;
	for (int i = 0; i < n && l->n_granted < 8; i++)
		l->granted[l->n_granted++] = granted[i];
	l->subscribed++;
}

static bool lib_pump(struct lib *l, const int *flag, int want)
{
	for (int i = 0; i < AUTH_WAIT_MS / 10 && *flag < want; i++)
		mosquitto_loop(l->m, 10, 1);
	return *flag >= want;
}

static void lib_open(struct lib *l, int version, const char *id, const char *user, const char *pass)
{
	memset(l, 0, sizeof(*l));
	l->m = mosquitto_new(id, true, l);
	cr_assert(l->m);
	cr_assert_eq(mosquitto_int_option(l->m, MOSQ_OPT_PROTOCOL_VERSION, version), MOSQ_ERR_SUCCESS);
	mosquitto_connect_v5_callback_set(l->m, on_connect5);
	mosquitto_publish_v5_callback_set(l->m, on_publish5);
	mosquitto_subscribe_v5_callback_set(l->m, on_subscribe5);
	cr_assert_eq(mosquitto_username_pw_set(l->m, user, pass), MOSQ_ERR_SUCCESS);
	cr_assert_eq(mosquitto_connect(l->m, "127.0.0.1", broker.port, 60), MOSQ_ERR_SUCCESS);
	cr_assert(lib_pump(l, &l->connacks, 1), "%s: no CONNACK", id);
	cr_assert_eq(l->connack_rc, 0, "%s refused: %d", id, l->connack_rc);
}

static void lib_close(struct lib *l)
{
	mosquitto_disconnect(l->m);
	mosquitto_loop(l->m, 10, 1);
	mosquitto_destroy(l->m);
}

/* Publish at qos and return the reason code libmosquitto reports. */
static int lib_publish(struct lib *l, const char *topic, int qos)
{
	int mid = 0, want = l->published + 1;
	cr_assert_eq(mosquitto_publish(l->m, &mid, topic, 1, "x", qos, false), MOSQ_ERR_SUCCESS);
	cr_assert(lib_pump(l, &l->published, want), "no end to the QoS %d flow of %s", qos, topic);
	cr_assert_eq(l->pub_mid[want - 1], mid);
	return l->pub_rc[want - 1];
}

Test(acl_publish, libmosquitto_and_mosquitto_pub_see_the_outcome)
{
	start_usual();
	struct raw watch;
	watcher(&watch, "lp-watch");
	struct lib l5, l4;
	lib_open(&l5, MQTT_PROTOCOL_V5, "lp-alice5", "alice", "alicepw");
	lib_open(&l4, MQTT_PROTOCOL_V311, "lp-alice4", "alice", "alicepw");
	cr_assert_eq(lib_publish(&l5, "b/x", 1), MQTT_RC_NOT_AUTHORIZED, "5.0 QoS 1: 0x87");
	cr_assert_eq(lib_publish(&l5, "b/x", 2), MQTT_RC_NOT_AUTHORIZED, "5.0 QoS 2: 0x87");
	cr_assert_eq(lib_publish(&l5, "a/x", 1), 0, "5.0 QoS 1 allowed");
	cr_assert_eq(lib_publish(&l4, "b/x", 1), 0, "3.1.1 QoS 1: a plain PUBACK [MQTT-3.3.5-2]");
	cr_assert_eq(lib_publish(&l4, "b/x", 2), 0, "3.1.1 QoS 2: the flow completes [MQTT-3.3.5-2]");
	cr_assert_eq(lib_publish(&l4, "a/y", 1), 0);
	auth_expect_msg(&watch, "a/x", "x", NULL, "only the allowed publishes are routed");
	auth_expect_msg(&watch, "a/y", "x", NULL, "only the allowed publishes are routed");
	lib_close(&l5);
	lib_close(&l4);

	char out[1024];
	const char *port = auth_port(broker.port);
	const char *pub5[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-u", "alice", "-P",
			      "alicepw", "-q", "1", "-t", "b/cli", "-m", "x", NULL};
	auth_run(pub5, out, sizeof(out), AUTH_WAIT_MS);
	cr_assert(strstr(out, "Not authorized"), "mosquitto_pub -V 5 said: %s", out);
	const char *pub4[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "alicepw",
			      "-q", "2", "-t", "b/cli", "-m", "x", NULL};
	cr_assert_eq(auth_run(pub4, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub 3.1.1: %s", out);
	const char *ok[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-u", "alice", "-P",
			    "alicepw", "-q", "1", "-t", "a/cli", "-m", "fence", NULL};
	cr_assert_eq(auth_run(ok, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub: %s", out);
	cr_assert_null(strstr(out, "failed"), "mosquitto_pub: %s", out);
	auth_expect_msg(&watch, "a/cli", "fence", NULL, "a refused mosquitto_pub message was routed");
	raw_close(&watch);
}

Test(acl_publish, user_names_and_filters_may_hold_blanks)
{
	auth_users();
	auth_passwd("passwd", "john doe", "johnpw");
	/* "user" takes the rest of the line; after an access word, so does
	 * the filter (mosquitto.conf(5), acl_file) */
	auth_write("acl", "user admin\ntopic readwrite #\nuser john doe\ntopic readwrite room 1/#\n");
	auth_start(AUTH_CONF);
	struct raw watch, john;
	watcher(&watch, "blank-watch");
	auth_login(&john, MQTT_V5, "blank-john", "john doe", "johnpw");
	cr_assert_eq(auth_pub1(&john, "room", "x", false, 1), MQTT_RC_NOT_AUTHORIZED, "room is not room 1");
	cr_assert_lt(auth_pub1(&john, "room 1/a b", "spaced", false, 2), 0x80, "room 1/# with a blank");
	auth_expect_msg(&watch, "room 1/a b", "spaced", NULL, "john's publish");
	raw_close(&john);
	raw_close(&watch);
}

/* --- SUBSCRIBE needs the whole filter readable ------------------------------------ */

struct sub_case {
	const char *filter;
	bool granted;
	const char *why;
};

static void check_filters(struct raw *r, const struct sub_case *cases, uint32_t n, const char *who)
{
	const char *filters[16];
	uint8_t codes[16];
	for (uint32_t i = 0; i < n; i++)
		filters[i] = cases[i].filter;
	/* one SUBSCRIBE, one SUBACK with a code per filter, in order
	 * ([MQTT-3.8.4-4]/[MQTT-3.8.4-5] 3.1.1, [MQTT-3.8.4-5]..[MQTT-3.8.4-7]
	 * 5.0, [MQTT-3.9.3-1]); a refusal is 0x80 (3.9.3, 3.1.1) or 0x87 Not
	 * authorized (3.9.3 Subscribe Reason Codes, [MQTT-3.9.3-2]) */
	auth_subscribe(r, 7, filters, n, 1, codes);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t want = cases[i].granted ? 1 : refused_code(r->version);
		cr_assert_eq(codes[i], want, "%s, v%u, %s: SUBACK 0x%02x, expected 0x%02x (%s)", who, r->version,
			     cases[i].filter, codes[i], want, cases[i].why);
	}
}

static const struct sub_case bob_cases[] = {
	{"c/b/x", true, "topic read c/+/x"},
	{"c/+/x", true, "the rule itself"},
	{"c/#", false, "c/+/x does not cover c/#"},
	{"c/+/y", false, "no rule reads c/+/y"},
	{"b/#", true, "readwrite b/#"},
	{"b/+/+", true, "b/# covers b/+/+"},
	{"d/+", true, "topic read d/+"},
	{"d/#", false, "d/+ does not cover d/#"},
	{"d", false, "d/+ does not match d"},
	{"#", false, "bob cannot read everything"},
	{"+/+/x", false, "c/+/x does not cover +/+/x"},
};

static const struct sub_case alice_cases[] = {
	{"a/#", true, "deny a/secret/# does not cover all of a/#"},
	{"a/secret/#", false, "deny a/secret/# covers it"},
	{"a/secret/+", false, "deny a/secret/# covers it"},
	{"a/secret", false, "deny a/secret/# covers a/secret too"},
	{"a/alice/private", false, "pattern deny a/%u/private"},
	{"r/+/z", true, "topic read r/#"},
	{"w/#", false, "w/# is write-only"},
	{"a", true, "a/# covers its parent a"},
};

static const struct sub_case admin_cases[] = {
	{"#", true, "readwrite #"},
	{"x/y/z", true, "readwrite #"},
	{"$SYS/#", false, "# does not reach '$' topics [MQTT-4.7.2-1]"},
};

Test(acl_subscribe, only_filters_that_are_wholly_readable_are_granted)
{
	start_usual();
	for (size_t v = 0; v < 2; v++) {
		uint8_t version = v ? MQTT_V5 : MQTT_V311;
		struct raw bob, alice, admin;
		auth_login(&bob, version, "s-bob", "bob", "bobpw");
		auth_login(&alice, version, "s-alice", "alice", "alicepw");
		auth_login(&admin, version, "s-admin", "admin", "adminpw");
		check_filters(&bob, bob_cases, sizeof(bob_cases) / sizeof(bob_cases[0]), "bob");
		check_filters(&alice, alice_cases, sizeof(alice_cases) / sizeof(alice_cases[0]), "alice");
		check_filters(&admin, admin_cases, sizeof(admin_cases) / sizeof(admin_cases[0]), "admin");
		/* the refused filters were not subscribed: c/q/y matches only
		 * refused ones (c/#, c/+/y), so the next message is c/q/x */
		struct raw pub;
		auth_login(&pub, MQTT_V311, "s-pub", "admin", "adminpw");
		auth_pub1(&pub, "c/q/y", "refused filter", false, 1);
		auth_pub1(&pub, "c/q/x", "granted", false, 2);
		auth_pub1(&pub, "d/e/f", "refused filter", false, 3);
		auth_pub1(&pub, "b/z", "granted", false, 4);
		auth_expect_msg(&bob, "c/q/x", "granted", NULL, "a refused subscription delivered");
		auth_expect_msg(&bob, "b/z", "granted", NULL, "a refused subscription delivered");
		raw_close(&pub);
		raw_close(&bob);
		raw_close(&alice);
		raw_close(&admin);
	}
}

Test(acl_subscribe, shared_subscriptions_are_checked_on_the_filter_after_the_share_name)
{
	start_usual();
	struct raw a5, a4;
	auth_login(&a5, MQTT_V5, "sh-alice5", "alice", "alicepw");
	auth_login(&a4, MQTT_V311, "sh-alice4", "alice", "alicepw");
	static const struct sub_case cases[] = {
		{"$share/g/a/#", true, "a/# is readable"},
		{"$share/g/b/#", false, "b/# is not"},
		{"$share/a/secret/x", false, "share name a, filter secret/x: not readable"},
		{"$share/g/a/secret/x", false, "deny a/secret/#"},
		{"$share/r/r/#", true, "share name r, filter r/#"},
		{"$share/g/#", false, "# is not readable"},
	};
	check_filters(&a5, cases, sizeof(cases) / sizeof(cases[0]), "alice");
	check_filters(&a4, cases, sizeof(cases) / sizeof(cases[0]), "alice");
	/* the granted shared subscription delivers (alice5 the only member
	 * left of group r) */
	raw_unsubscribe(&a4, 8, "$share/r/r/#");
	struct raw pub;
	auth_login(&pub, MQTT_V311, "sh-pub", "admin", "adminpw");
	auth_pub1(&pub, "b/nope", "refused filter", false, 1);
	auth_pub1(&pub, "r/s", "shared", false, 2);
	auth_expect_msg(&a5, "r/s", "shared", NULL, "the shared subscription $share/r/r/#");
	raw_close(&pub);
	raw_close(&a5);
	raw_close(&a4);
}

Test(acl_subscribe, libmosquitto_and_mosquitto_sub_see_the_refusal)
{
	start_usual();
	int versions[] = {MQTT_PROTOCOL_V311, MQTT_PROTOCOL_V5};
	for (int v = 0; v < 2; v++) {
		struct lib l;
		lib_open(&l, versions[v], "ls-alice", "alice", "alicepw");
		char *const subs[] = {"b/#", "a/#"};
		cr_assert_eq(mosquitto_subscribe_multiple(l.m, NULL, 2, subs, 1, 0, NULL), MOSQ_ERR_SUCCESS);
		cr_assert(lib_pump(&l, &l.subscribed, 1), "no SUBACK");
		cr_assert_eq(l.n_granted, 2);
		cr_assert_eq(l.granted[0], versions[v] == MQTT_PROTOCOL_V5 ? 0x87 : 0x80, "b/#: 0x%02x", l.granted[0]);
		cr_assert_eq(l.granted[1], 1, "a/#: 0x%02x", l.granted[1]);
		lib_close(&l);
	}
	char out[1024];
	const char *port = auth_port(broker.port);
	const char *sub5[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-u", "alice", "-P",
			      "alicepw", "-t", "b/#", "-C", "1", "-W", "5", NULL};
	auth_run(sub5, out, sizeof(out), AUTH_WAIT_MS);
	cr_assert(strstr(out, "All subscription requests were denied"), "mosquitto_sub -V 5 said: %s", out);
	const char *sub4[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P", "alicepw",
			      "-t", "b/#", "-C", "1", "-W", "5", NULL};
	auth_run(sub4, out, sizeof(out), AUTH_WAIT_MS);
	cr_assert(strstr(out, "All subscription requests were denied"), "mosquitto_sub said: %s", out);
}

/* --- every delivery needs read access ------------------------------------------------ */

Test(acl_deliver, live_and_retained_messages_reach_only_readers)
{
	start_usual();
	struct raw admin;
	auth_login(&admin, MQTT_V311, "d-admin", "admin", "adminpw");
	uint16_t id = 1;
	/* retained first, then subscribers: the retained messages they may
	 * read come with the retain flag ([MQTT-3.3.1-8] 3.1.1,
	 * [MQTT-3.3.1-9] 5.0), the others not at all */
	auth_pub1(&admin, "a/secret/r", "secret", true, id++);
	auth_pub1(&admin, "a/alice/private", "private", true, id++);
	auth_pub1(&admin, "a/open/r", "open", true, id++);
	struct raw subs[2];
	for (int v = 0; v < 2; v++) {
		struct raw *s = &subs[v];
		auth_login(s, v ? MQTT_V5 : MQTT_V311, v ? "d-alice5" : "d-alice4", "alice", "alicepw");
		cr_assert_eq(raw_subscribe(s, 1, "a/#", 1), 1);
		bool retain = false;
		auth_expect_msg(s, "a/open/r", "open", &retain, "a retained message alice may not read");
		cr_assert(retain, "retained message without the retain flag");
		cr_assert_eq(raw_subscribe(s, 2, "r/#", 1), 1);
	}
	/* live: everything admin publishes matches a/# or r/# */
	auth_pub1(&admin, "a/secret", "denied", false, id++);
	raw_publish(&admin, "a/secret/deep", "denied qos 0", 0, false, 0);
	auth_pub2(&admin, "a/alice/private", "denied qos 2", id++);
	auth_pub1(&admin, "a/open", "live", false, id++);
	raw_publish(&admin, "r/ok", "live qos 0", 0, false, 0);
	auth_pub2(&admin, "a/secret/x", "denied", id++);
	auth_pub1(&admin, "r/fence", "fence", false, id++);
	for (int v = 0; v < 2; v++) {
		auth_expect_msg(&subs[v], "a/open", "live", NULL, "a message alice may not read");
		auth_expect_msg(&subs[v], "r/ok", "live qos 0", NULL, "a message alice may not read");
		auth_expect_msg(&subs[v], "r/fence", "fence", NULL, "a message alice may not read");
		raw_close(&subs[v]);
	}
	raw_close(&admin);
}

/* A persistent session of user with filter at QoS 1, left offline (a 5.0
 * one with a Session Expiry Interval of 300 s). */
static void park(uint8_t version, const char *id, const char *user, const char *pass, const char *filter)
{
	struct raw r;
	struct buf props;
	buf_init(&props);
	if (version == MQTT_V5)
		cr_assert(mqtt_prop_put_u32(&props, MQTT_PROP_SESSION_EXPIRY, 300) == FM_OK);
	struct raw_connect_opts o = {.version = version, .client_id = id, .clean = false, .keepalive = 60,
				     .username = user, .password = pass, .props = mqtt_props_of(&props)};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), 0, "%s refused", id);
	cr_assert_eq(raw_subscribe(&r, 1, filter, 1), 1);
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&r, disconnect, sizeof(disconnect));
	cr_assert(raw_closed_within(&r, AUTH_WAIT_MS, NULL));
	raw_close(&r);
	buf_fini(&props);
}

/* Resume id's session as user; asserts Session Present. */
static void resume(struct raw *r, uint8_t version, const char *id, const char *user, const char *pass)
{
	struct buf props;
	buf_init(&props);
	if (version == MQTT_V5)
		cr_assert(mqtt_prop_put_u32(&props, MQTT_PROP_SESSION_EXPIRY, 300) == FM_OK);
	struct raw_connect_opts o = {.version = version, .client_id = id, .clean = false, .keepalive = 60,
				     .username = user, .password = pass, .props = mqtt_props_of(&props)};
	bool present = false;
	cr_assert_eq(raw_connect(r, broker.port, &o, &present), 0, "%s refused", id);
	/* [MQTT-3.2.2-2] (3.1.1) / [MQTT-3.2.2-3] (5.0): the stored session */
	cr_assert(present, "%s: no session present", id);
	buf_fini(&props);
}

Test(acl_deliver, an_offline_queue_is_checked_when_it_goes_out)
{
	start_usual();
	park(MQTT_V311, "q-alice4", "alice", "alicepw", "a/#");
	park(MQTT_V5, "q-alice5", "alice", "alicepw", "a/#");
	struct raw admin;
	auth_login(&admin, MQTT_V311, "q-admin", "admin", "adminpw");
	/* queued while alice may read a/one; then the rules change */
	auth_pub1(&admin, "a/one", "revoked while queued", false, 1);
	auth_pub1(&admin, "a/secret/two", "never readable", false, 2);
	auth_pub1(&admin, "a/three", "readable", false, 3);
	char acl[2048];
	snprintf(acl, sizeof(acl), "%s\nuser alice\ntopic deny a/one\n", ACL);
	auth_write("acl", acl);
	auth_reload(AUTH_CONF);
	for (int v = 0; v < 2; v++) {
		struct raw r;
		resume(&r, v ? MQTT_V5 : MQTT_V311, v ? "q-alice5" : "q-alice4", "alice", "alicepw");
		auth_expect_msg(&r, "a/three", "readable", NULL, "a queued message alice may no longer read");
		auth_pub1(&admin, "a/fence", "fence", false, (uint16_t)(4 + v));
		auth_expect_msg(&r, "a/fence", "fence", NULL, "a queued message alice may no longer read");
		raw_close(&r);
	}
	raw_close(&admin);
}

Test(acl_deliver, a_session_taken_over_by_another_user_gets_only_what_that_user_may_read)
{
	start_usual();
	park(MQTT_V311, "shared-id", "alice", "alicepw", "a/#");
	struct raw admin;
	auth_login(&admin, MQTT_V311, "t-admin", "admin", "adminpw");
	auth_pub1(&admin, "a/queued", "alice's", false, 1);
	/* bob resumes alice's session (same client id): its subscription and
	 * queue come along, but alice's right to read a/# does not */
	struct raw bob;
	resume(&bob, MQTT_V311, "shared-id", "bob", "bobpw");
	auth_expect_alive(&bob, "bob got the message queued for alice's subscription");
	cr_assert_eq(raw_subscribe(&bob, 1, "b/#", 1), 1, "bob's own filter");
	auth_pub1(&admin, "a/live", "alice's", false, 2);
	auth_pub1(&admin, "b/fence", "bob's", false, 3);
	auth_expect_msg(&bob, "b/fence", "bob's", NULL, "bob got a message for alice's subscription");
	raw_close(&bob);
	raw_close(&admin);
}

Test(acl_deliver, an_unacknowledged_message_is_not_resent_to_a_user_who_may_not_read_it)
{
	start_usual();
	struct raw alice, admin;
	struct raw_connect_opts o = {.client_id = "inflight-id", .clean = false, .keepalive = 60,
				     .username = "alice", .password = "alicepw"};
	cr_assert_eq(raw_connect(&alice, broker.port, &o, NULL), 0);
	cr_assert_eq(raw_subscribe(&alice, 1, "a/#", 1), 1);
	auth_login(&admin, MQTT_V311, "i-admin", "admin", "adminpw");
	auth_pub1(&admin, "a/inflight", "alice's", false, 1);
	struct mqtt_publish p;
	raw_expect_publish(&alice, &p); /* and never acknowledged */
	raw_close(&alice);
	auth_await_log("client inflight-id (", "alice's connection closed");
	/* bob takes the session over: [MQTT-4.4.0-1] wants unacknowledged
	 * PUBLISHes resent, but not to a client that may not read them */
	struct raw bob;
	resume(&bob, MQTT_V311, "inflight-id", "bob", "bobpw");
	auth_expect_alive(&bob, "bob got alice's unacknowledged message resent");
	raw_close(&bob);
	raw_close(&admin);
}

/* --- patterns, deny beats allow ------------------------------------------------------ */

Test(acl_pattern, client_id_and_username_patterns)
{
	start_with(ANON_CONF);
	struct raw d1, anon, pub;
	auth_login(&d1, MQTT_V5, "d1", "bob", "bobpw");
	static const struct sub_case d1_cases[] = {
		{"dev/d1/#", true, "pattern readwrite dev/%c/#"},
		{"dev/d1/+", true, "covered by dev/d1/#"},
		{"dev/d2/#", false, "another client's id"},
		{"dev/+/x", false, "dev/d1/# does not cover dev/+/x"},
		{"dev/#", false, "dev/d1/# does not cover dev/#"},
		{"dev/d1/locked/#", false, "pattern deny dev/%c/locked/#"},
		{"home/bob/#", true, "pattern read home/%u/#"},
		{"home/alice/#", false, "another user's name"},
	};
	/* publishes first: d1 subscribes to its own topics below */
	cr_assert_lt(auth_pub1(&d1, "dev/d1/t", "x", false, 1), 0x80, "dev/d1/t by pattern");
	cr_assert_eq(auth_pub1(&d1, "dev/d2/t", "x", false, 2), MQTT_RC_NOT_AUTHORIZED, "another id's topic");
	cr_assert_eq(auth_pub1(&d1, "dev/d1/locked/x", "x", false, 3), MQTT_RC_NOT_AUTHORIZED, "deny pattern");
	cr_assert_eq(auth_pub1(&d1, "home/bob/x", "x", false, 4), MQTT_RC_NOT_AUTHORIZED, "home/%%u/# is read-only");
	check_filters(&d1, d1_cases, sizeof(d1_cases) / sizeof(d1_cases[0]), "d1 (bob)");

	/* anonymous: the rules before the first user line, and %c patterns
	 * (a %u pattern never applies to a client without a user name) */
	auth_login(&anon, MQTT_V5, "anon1", NULL, NULL);
	static const struct sub_case anon_cases[] = {
		{"lobby/#", true, "topic read lobby/# (anonymous set)"},
		{"dev/anon1/#", true, "pattern readwrite dev/%c/#"},
		{"a/#", false, "alice's rules are not the anonymous set"},
		{"home/+/x", false, "no user name for home/%u/#"},
	};
	cr_assert_eq(auth_pub1(&anon, "lobby/x", "x", false, 1), MQTT_RC_NOT_AUTHORIZED, "the lobby is read-only");
	check_filters(&anon, anon_cases, sizeof(anon_cases) / sizeof(anon_cases[0]), "anonymous");

	/* deliveries follow the same patterns */
	auth_login(&pub, MQTT_V311, "pat-admin", "admin", "adminpw");
	auth_pub1(&pub, "dev/d1/locked/y", "denied", false, 1);
	auth_pub1(&pub, "dev/d1/y", "for d1", false, 2);
	auth_pub1(&pub, "home/bob/z", "for bob", false, 3);
	auth_expect_msg(&d1, "dev/d1/y", "for d1", NULL, "a delivery the deny pattern forbids");
	auth_expect_msg(&d1, "home/bob/z", "for bob", NULL, "home/%u/#");
	auth_pub1(&pub, "lobby/news", "for anonymous", false, 4);
	auth_expect_msg(&anon, "lobby/news", "for anonymous", NULL, "the lobby");
	raw_close(&pub);
	raw_close(&d1);
	raw_close(&anon);
}

Test(acl_pattern, ids_and_user_names_cannot_widen_a_pattern)
{
	auth_users();
	auth_passwd("passwd", "ev+il", "evilpw");
	auth_write("acl", ACL);
	auth_start(AUTH_CONF);
	/* a client id with '/' would stand for more than one level */
	struct raw slash, plus, name;
	auth_login(&slash, MQTT_V5, "d1/x", "bob", "bobpw");
	static const struct sub_case slash_cases[] = {
		{"dev/d1/x/#", false, "client id d1/x: %c stands for one level only"},
		{"dev/d1/#", false, "nor for its first part"},
	};
	check_filters(&slash, slash_cases, 2, "client d1/x");
	cr_assert_eq(auth_pub1(&slash, "dev/d1/x/t", "x", false, 1), MQTT_RC_NOT_AUTHORIZED);
	/* a client id '+' must not turn dev/%c/# into dev/+/# */
	auth_login(&plus, MQTT_V5, "+", "bob", "bobpw");
	static const struct sub_case plus_cases[] = {
		{"dev/+/#", false, "client id +"},
		{"dev/d1/#", false, "client id +"},
	};
	check_filters(&plus, plus_cases, 2, "client +");
	/* nor a user name with '+' home/%u/# into home/+/# */
	auth_login(&name, MQTT_V5, "evil", "ev+il", "evilpw");
	static const struct sub_case name_cases[] = {
		{"home/+/#", false, "user ev+il"},
		{"home/bob/#", false, "user ev+il"},
	};
	check_filters(&name, name_cases, 2, "user ev+il");
	raw_close(&slash);
	raw_close(&plus);
	raw_close(&name);
}

Test(acl_pattern, a_deny_pattern_beats_the_users_own_allow)
{
	start_usual();
	struct raw alice, watch;
	watcher(&watch, "deny-watch");
	auth_login(&alice, MQTT_V5, "deny-alice", "alice", "alicepw");
	/* readwrite a/# (alice's set) and pattern deny a/%u/private */
	cr_assert_eq(auth_pub1(&alice, "a/alice/private", "x", false, 1), MQTT_RC_NOT_AUTHORIZED, "publish");
	cr_assert_eq(raw_subscribe5(&alice, 1, "a/alice/private", 1, 0), MQTT_RC_NOT_AUTHORIZED, "subscribe");
	cr_assert_eq(auth_pub1(&alice, "a/bob/private", "fence", false, 2), 0, "another user's private topic");
	auth_expect_msg(&watch, "a/bob/private", "fence", NULL, "a PUBLISH a deny pattern forbids was routed");
	raw_close(&alice);
	raw_close(&watch);
}

/* --- SIGHUP ---------------------------------------------------------------------------- */

Test(acl_reload, new_rules_apply_to_connections_already_up)
{
	start_usual();
	struct raw alice, admin;
	auth_login(&alice, MQTT_V5, "hup-alice", "alice", "alicepw");
	cr_assert_eq(raw_subscribe5(&alice, 1, "a/#", 1, 0), 1);
	auth_login(&admin, MQTT_V311, "hup-admin", "admin", "adminpw");
	cr_assert_lt(auth_pub1(&alice, "w/x", "x", false, 1), 0x80, "before: write w/#");
	cr_assert_eq(auth_pub1(&alice, "b/x", "x", false, 2), MQTT_RC_NOT_AUTHORIZED, "before: no rule for b/#");
	auth_write("acl", "user admin\ntopic readwrite #\n"
			  "user alice\ntopic readwrite a/#\ntopic deny a/x\ntopic readwrite b/#\n");
	auth_reload(AUTH_CONF);
	/* the same connection, the new rules */
	cr_assert_eq(auth_pub1(&alice, "w/x", "x", false, 3), MQTT_RC_NOT_AUTHORIZED, "after: w/# gone");
	cr_assert_lt(auth_pub1(&alice, "b/x", "x", false, 4), 0x80, "after: readwrite b/#");
	auth_pub1(&admin, "a/x", "now denied", false, 1);
	auth_pub1(&admin, "a/y", "still fine", false, 2);
	auth_expect_msg(&alice, "a/y", "still fine", NULL, "a delivery the reloaded rules deny");
	auth_expect_alive(&alice, "alice after the reload");
	raw_close(&alice);
	raw_close(&admin);
}

Test(acl_reload, a_bad_acl_line_keeps_the_rules_in_force)
{
	start_usual();
	struct raw alice;
	auth_login(&alice, MQTT_V5, "bad-alice", "alice", "alicepw");
	auth_write("acl", "user admin\ntopic readwrite #\nuser alice\ntopic readwrite b/#\ntopic read\n");
	long off = auth_log_size();
	auth_reload(AUTH_CONF);
	char needle[192];
	snprintf(needle, sizeof(needle), "SIGHUP: keeping the password and ACL rules in force: %s:5: ",
		 auth_path("acl"));
	cr_assert(auth_log_since(off, needle, AUTH_WAIT_MS), "no '%s' in the log", needle);
	cr_assert_eq(auth_pub1(&alice, "b/x", "x", false, 1), MQTT_RC_NOT_AUTHORIZED, "the rejected file applied");
	cr_assert_lt(auth_pub1(&alice, "w/x", "x", false, 2), 0x80, "the rules in force were dropped");
	auth_write("acl", "user admin\ntopic readwrite #\nuser alice\ntopic readwrite b/#\n");
	auth_reload(AUTH_CONF);
	cr_assert_lt(auth_pub1(&alice, "b/x", "x", false, 3), 0x80, "the fixed file");
	cr_assert_eq(auth_pub1(&alice, "w/x", "x", false, 4), MQTT_RC_NOT_AUTHORIZED, "the fixed file");
	raw_close(&alice);
}

Test(acl_reload, dropping_acl_file_from_the_config_lifts_every_restriction)
{
	start_usual();
	struct raw alice;
	auth_login(&alice, MQTT_V5, "free-alice", "alice", "alicepw");
	cr_assert_eq(auth_pub1(&alice, "b/x", "x", false, 1), MQTT_RC_NOT_AUTHORIZED);
	auth_reload("listener %PORT% 127.0.0.1\nallow_anonymous false\nlog_type all\npassword_file @D@/passwd\n");
	cr_assert_lt(auth_pub1(&alice, "b/x", "x", false, 2), 0x80, "no acl_file: no restriction");
	cr_assert_eq(raw_subscribe5(&alice, 1, "#", 1, 0), 1, "no acl_file: no restriction");
	auth_expect_refused(MQTT_V311, "free-x", "alice", "wrong", 4, "the password file still applies");
	raw_close(&alice);
}

/* --- TLS identity as the user name ------------------------------------------------------- */

Test(acl_tls, the_certificate_cn_is_the_user_name_for_the_acl)
{
	const char *src = getenv("FLEETMQ_SOURCE_ROOT");
	cr_assert(src && *src, "FLEETMQ_SOURCE_ROOT is not set (run the tests through meson test)");
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "timeout 60 bash '%s/test/support/tls_fixture.sh' '%s/certs' >/dev/null 2>&1", src,
		 auth_dir());
	cr_assert_eq(system(cmd), 0, "tls_fixture.sh failed");
	auth_users();
	char acl[2048];
	snprintf(acl, sizeof(acl), "%suser dev1\ntopic readwrite dev1/#\n", ACL);
	auth_write("acl", acl);
	auth_start(AUTH_CONF "listener %PORT2% 127.0.0.1\ncertfile @D@/certs/server.crt\nkeyfile @D@/certs/server.key\n"
			     "cafile @D@/certs/ca.crt\nrequire_certificate true\nuse_identity_as_username true\n");
	struct raw watch;
	watcher(&watch, "tls-watch");
	char ca[160], cert[160], key[160], out[1024];
	snprintf(ca, sizeof(ca), "%s", auth_path("certs/ca.crt"));
	snprintf(cert, sizeof(cert), "%s", auth_path("certs/client.crt"));
	snprintf(key, sizeof(key), "%s", auth_path("certs/client.key"));
	const char *port = auth_port(broker.port2);
	/* CN=dev1 is the user: its rules, not the CONNECT's user name (and
	 * no password check: the certificate is the credential) */
	const char *ok[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "--cafile", ca, "--cert", cert,
			    "--key", key, "-V", "5", "-i", "tls-dev1", "-u", "admin", "-P", "wrong", "-q", "1",
			    "-t", "dev1/t", "-m", "from dev1", NULL};
	cr_assert_eq(auth_run(ok, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub over TLS: %s", out);
	cr_assert_null(strstr(out, "failed"), "dev1/t refused: %s", out);
	auth_expect_msg(&watch, "dev1/t", "from dev1", NULL, "dev1's publish");
	const char *denied[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "--cafile", ca, "--cert", cert,
				"--key", key, "-V", "5", "-i", "tls-dev1b", "-u", "admin", "-P", "adminpw", "-q", "1",
				"-t", "other/t", "-m", "not dev1's", NULL};
	auth_run(denied, out, sizeof(out), AUTH_WAIT_MS);
	cr_assert(strstr(out, "Not authorized"), "other/t as dev1: %s", out);
	cr_assert_eq(auth_run(ok, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub over TLS: %s", out);
	auth_expect_msg(&watch, "dev1/t", "from dev1", NULL, "other/t (dev1 may not write it) was routed");
	if (!auth_against_mosquitto())
		cr_assert(hb_log_contains(&broker, "client tls-dev1 connected", AUTH_WAIT_MS) &&
				  hb_log_contains(&broker, "keepalive 60, user dev1)", 0),
			  "the connect line does not name dev1");
	raw_close(&watch);
}
