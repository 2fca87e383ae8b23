/* Bridge options: mosquitto's `connection NAME` blocks, every option and
 * its default, the defaults conf_finish derives, the errors (each names
 * file, line and option, or the connection line), several blocks, global
 * options among them, and the examples of mosquitto.conf(5). */
#include "conf_fixture.h"
#include "config/conf.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(conf_bridge, .init = conf_fixture_setup, .fini = conf_fixture_teardown);

static void reset(void)
{
	conf_fini(&c);
	conf_init(&c);
	memset(&eb, 0, sizeof(eb));
}

static int load(const char *text) { return conf_load_string(&c, "b.conf", text, &eb); }

/* Load into a fresh c; only the parse. */
static void expect_parsed(const char *text)
{
	reset();
	cr_assert_eq(load(text), FM_OK, "refused '%s': %s", text, eb.msg);
}

/* Load and finish into a fresh c. */
static void expect_ok(const char *text)
{
	expect_parsed(text);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK, "finish refused '%s': %s", text, eb.msg);
}

/* The parse fails with a message starting with where and containing what. */
static void expect_error(const char *text, const char *where, const char *what)
{
	reset();
	cr_assert_eq(load(text), FM_ECONFIG, "accepted: %s", text);
	cr_assert(strncmp(eb.msg, where, strlen(where)) == 0, "'%s' does not start '%s'", eb.msg, where);
	cr_assert(strstr(eb.msg, what), "'%s' not in '%s'", what, eb.msg);
}

/* The parse succeeds and conf_finish fails the same way. */
static void expect_finish_error(const char *text, const char *where, const char *what)
{
	expect_parsed(text);
	cr_assert_eq(conf_finish(&c, &eb), FM_ECONFIG, "finish accepted: %s", text);
	cr_assert(strncmp(eb.msg, where, strlen(where)) == 0, "'%s' does not start '%s'", eb.msg, where);
	cr_assert(strstr(eb.msg, what), "'%s' not in '%s'", what, eb.msg);
}

static void expect_notice(size_t i, const char *what)
{
	cr_assert_gt(c.n_notices, i, "no notice %zu (want '%s')", i, what);
	cr_assert(strstr(c.notices[i], what), "'%s' not in notice '%s'", what, c.notices[i]);
}

static const char *hostname(void)
{
	static char host[256];
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	return host;
}

#define MINIMAL "connection b1\naddress remote.example\ntopic a/#\n"

/* --- defaults ------------------------------------------------------------------- */

Test(conf_bridge, none_by_default)
{
	cr_assert_eq(c.n_bridges, 0);
	cr_assert_null(c.bridges);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_bridges, 0);
}

Test(conf_bridge, defaults_at_the_connection_line)
{
	expect_parsed("\nconnection b1\n");
	cr_assert_eq(c.n_bridges, 1);
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_str_eq(b->name, "b1");
	cr_assert_str_eq(b->file, "b.conf");
	cr_assert_eq(b->line, 2);
	cr_assert_eq(b->n_addresses, 0);
	cr_assert_eq(b->n_topics, 0);
	cr_assert_eq(b->protocol_version, 4);
	cr_assert_null(b->remote_clientid);
	cr_assert_null(b->local_clientid);
	cr_assert_null(b->remote_username);
	cr_assert_null(b->remote_password);
	cr_assert_null(b->local_username);
	cr_assert_not(b->cleansession);
	cr_assert_not(b->local_cleansession_set);
	cr_assert(b->try_private);
	cr_assert(b->notifications);
	cr_assert_not(b->notifications_local_only);
	cr_assert_null(b->notification_topic);
	cr_assert_not(b->round_robin);
	cr_assert(b->outgoing_retain);
	cr_assert(b->attempt_unsubscribe);
	cr_assert_eq(b->keepalive_s, 60);
	cr_assert_eq(b->restart_base_s, 5);
	cr_assert_eq(b->restart_cap_s, 30);
	cr_assert_eq(b->start_type, CONF_BRIDGE_AUTOMATIC);
	cr_assert_eq(b->idle_timeout_s, 60);
	cr_assert_eq(b->threshold, 10);
	cr_assert_eq(b->max_packet_size, 0);
	cr_assert_null(b->cafile);
	cr_assert_null(b->capath);
	cr_assert_null(b->certfile);
	cr_assert_null(b->keyfile);
	cr_assert_null(b->tls_version);
	cr_assert_not(b->insecure);
}

Test(conf_bridge, finish_derives_client_ids_cleansession_and_notification_topic)
{
	expect_ok(MINIMAL "cleansession true\n");
	const struct conf_bridge *b = &c.bridges[0];
	char want[600];
	snprintf(want, sizeof(want), "%s.b1", hostname());
	cr_assert_str_eq(b->remote_clientid, want);
	snprintf(want, sizeof(want), "local.%s.b1", hostname());
	cr_assert_str_eq(b->local_clientid, want);
	cr_assert(b->local_cleansession, "follows cleansession");
	snprintf(want, sizeof(want), "$SYS/broker/connection/%s.b1/state", hostname());
	cr_assert_str_eq(b->notification_topic, want);
	cr_assert_eq(c.n_listeners, 1, "the embedded default listener is still added");
}

Test(conf_bridge, derived_defaults_follow_what_the_file_set)
{
	expect_ok(MINIMAL "remote_clientid edge-7\ncleansession true\nlocal_cleansession false\n");
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_str_eq(b->remote_clientid, "edge-7");
	cr_assert_str_eq(b->local_clientid, "local.edge-7");
	cr_assert_str_eq(b->notification_topic, "$SYS/broker/connection/edge-7/state");
	cr_assert(b->cleansession);
	cr_assert_not(b->local_cleansession, "set explicitly, not copied");
	expect_ok(MINIMAL "local_clientid here\nnotification_topic bridges/b1/up\n");
	cr_assert_str_eq(c.bridges[0].local_clientid, "here");
	cr_assert_str_eq(c.bridges[0].notification_topic, "bridges/b1/up");
	cr_assert_not(c.bridges[0].local_cleansession);
}

Test(conf_bridge, finish_twice_changes_nothing)
{
	expect_ok(MINIMAL);
	char *remote = strdup(c.bridges[0].remote_clientid);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK, "%s", eb.msg);
	cr_assert_str_eq(c.bridges[0].remote_clientid, remote);
	cr_assert_eq(c.n_bridges, 1);
	free(remote);
}

/* --- every option ------------------------------------------------------------------ */

Test(conf_bridge, every_option)
{
	expect_ok("connection cloud\n"
		  "address broker.example:8883 10.0.0.2\n"
		  "topic sensors/# out 1\n"
		  "bridge_protocol_version mqttv50\n"
		  "remote_clientid edge-1\n"
		  "local_clientid edge-1-local\n"
		  "remote_username edge\n"
		  "remote_password s3cr#t!\"x\n"
		  "local_username bridge-acl\n"
		  "cleansession true\n"
		  "local_cleansession false\n"
		  "keepalive_interval 30\n"
		  "restart_timeout 2 60\n"
		  "try_private false\n"
		  "notifications false\n"
		  "notifications_local_only true\n"
		  "notification_topic edge/state\n"
		  "round_robin true\n"
		  "bridge_outgoing_retain false\n"
		  "bridge_attempt_unsubscribe false\n"
		  "start_type lazy\n"
		  "idle_timeout 120\n"
		  "threshold 50\n"
		  "bridge_max_packet_size 65536\n"
		  "bridge_cafile /etc/ca.pem\n"
		  "bridge_capath /etc/cas\n"
		  "bridge_certfile /etc/edge.crt\n"
		  "bridge_keyfile /etc/edge.key\n"
		  "bridge_insecure true\n"
		  "bridge_tls_version tlsv1.3\n");
	cr_assert_eq(c.n_bridges, 1);
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_str_eq(b->name, "cloud");
	cr_assert_eq(b->n_addresses, 2);
	cr_assert_str_eq(b->addresses[0].host, "broker.example");
	cr_assert_eq(b->addresses[0].port, 8883);
	cr_assert_str_eq(b->addresses[1].host, "10.0.0.2");
	cr_assert_eq(b->addresses[1].port, 1883);
	cr_assert_eq(b->n_topics, 1);
	cr_assert_str_eq(b->topics[0].pattern, "sensors/#");
	cr_assert_eq(b->topics[0].direction, CONF_BRIDGE_OUT);
	cr_assert_eq(b->topics[0].qos, 1);
	cr_assert_eq(b->topics[0].line, 3);
	cr_assert_eq(b->protocol_version, 5);
	cr_assert_str_eq(b->remote_clientid, "edge-1");
	cr_assert_str_eq(b->local_clientid, "edge-1-local");
	cr_assert_str_eq(b->remote_username, "edge");
	cr_assert_str_eq(b->remote_password, "s3cr#t!\"x", "any non-blank characters");
	cr_assert_str_eq(b->local_username, "bridge-acl");
	cr_assert(b->cleansession);
	cr_assert_not(b->local_cleansession);
	cr_assert(b->local_cleansession_set);
	cr_assert_eq(b->keepalive_s, 30);
	cr_assert_eq(b->restart_base_s, 2);
	cr_assert_eq(b->restart_cap_s, 60);
	cr_assert_not(b->try_private);
	cr_assert_not(b->notifications);
	cr_assert(b->notifications_local_only);
	cr_assert_str_eq(b->notification_topic, "edge/state");
	cr_assert(b->round_robin);
	cr_assert_not(b->outgoing_retain);
	cr_assert_not(b->attempt_unsubscribe);
	cr_assert_eq(b->start_type, CONF_BRIDGE_LAZY);
	cr_assert_eq(b->idle_timeout_s, 120);
	cr_assert_eq(b->threshold, 50);
	cr_assert_eq(b->max_packet_size, 65536);
	cr_assert_str_eq(b->cafile, "/etc/ca.pem");
	cr_assert_str_eq(b->capath, "/etc/cas");
	cr_assert_str_eq(b->certfile, "/etc/edge.crt");
	cr_assert_str_eq(b->keyfile, "/etc/edge.key");
	cr_assert(b->insecure);
	cr_assert_str_eq(b->tls_version, "tlsv1.3");
	cr_assert_eq(c.n_notices, 0);
}

Test(conf_bridge, old_names_clientid_username_password_and_addresses)
{
	expect_ok("connection b1\naddresses h1 h2:1884\ntopic a\nclientid old-id\nusername old-user\n"
		  "password old-pass\n");
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_eq(b->n_addresses, 2);
	cr_assert_str_eq(b->addresses[1].host, "h2");
	cr_assert_eq(b->addresses[1].port, 1884);
	cr_assert_str_eq(b->remote_clientid, "old-id");
	cr_assert_str_eq(b->remote_username, "old-user");
	cr_assert_str_eq(b->remote_password, "old-pass");
}

Test(conf_bridge, words_of_protocol_start_type_and_tls_version)
{
	static const struct { const char *word; uint8_t version; } versions[] = {
		{"mqttv31", 3}, {"mqttv311", 4}, {"mqttv50", 5},
	};
	for (size_t i = 0; i < 3; i++) {
		char text[200];
		snprintf(text, sizeof(text), MINIMAL "bridge_protocol_version %s\n", versions[i].word);
		expect_ok(text);
		cr_assert_eq(c.bridges[0].protocol_version, versions[i].version, "%s", versions[i].word);
	}
	static const struct { const char *word; uint8_t type; } types[] = {
		{"automatic", CONF_BRIDGE_AUTOMATIC}, {"lazy", CONF_BRIDGE_LAZY}, {"once", CONF_BRIDGE_ONCE},
	};
	for (size_t i = 0; i < 3; i++) {
		char text[200];
		snprintf(text, sizeof(text), MINIMAL "start_type %s\n", types[i].word);
		expect_ok(text);
		cr_assert_eq(c.bridges[0].start_type, types[i].type, "%s", types[i].word);
	}
	expect_ok(MINIMAL "bridge_cafile /ca\nbridge_tls_version tlsv1.2\n");
	cr_assert_str_eq(c.bridges[0].tls_version, "tlsv1.2");
	expect_error(MINIMAL "bridge_protocol_version mqttv5\n", "b.conf:4: ",
		     "option 'bridge_protocol_version': 'mqttv5' is not mqttv31, mqttv311 or mqttv50");
	expect_error(MINIMAL "start_type manual\n", "b.conf:4: ", "option 'start_type': manual is not supported");
	expect_error(MINIMAL "start_type sometimes\n", "b.conf:4: ",
		     "option 'start_type': 'sometimes' is not automatic, lazy or once");
	expect_error(MINIMAL "bridge_tls_version tlsv1.1\n", "b.conf:4: ",
		     "option 'bridge_tls_version': 'tlsv1.1' is not tlsv1.2 or tlsv1.3");
}

Test(conf_bridge, flags_are_true_or_false)
{
	static const char *const flags[] = {
		"cleansession", "local_cleansession", "try_private", "notifications",
		"notifications_local_only", "round_robin", "bridge_outgoing_retain",
		"bridge_attempt_unsubscribe", "bridge_insecure",
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char text[200], what[120];
		snprintf(text, sizeof(text), MINIMAL "%s yes\n", flags[i]);
		snprintf(what, sizeof(what), "option '%s': 'yes' is not true or false", flags[i]);
		expect_error(text, "b.conf:4: ", what);
	}
}

Test(conf_bridge, numbers_and_their_ranges)
{
	expect_ok(MINIMAL "keepalive_interval 65535\nidle_timeout 1\nthreshold 1\nbridge_max_packet_size 20\n");
	cr_assert_eq(c.bridges[0].keepalive_s, 65535);
	cr_assert_eq(c.bridges[0].idle_timeout_s, 1);
	cr_assert_eq(c.bridges[0].threshold, 1);
	cr_assert_eq(c.bridges[0].max_packet_size, 20);
	expect_error(MINIMAL "keepalive_interval 65536\n", "b.conf:4: ",
		     "option 'keepalive_interval': 65536 is out of range");
	expect_error(MINIMAL "keepalive_interval -5\n", "b.conf:4: ", "option 'keepalive_interval': '-5' is not a number");
	expect_error(MINIMAL "idle_timeout 1m\n", "b.conf:4: ", "option 'idle_timeout': '1m' is not a number");
	expect_error(MINIMAL "threshold ten\n", "b.conf:4: ", "option 'threshold': 'ten' is not a number");
	expect_error(MINIMAL "bridge_max_packet_size 19\n", "b.conf:4: ",
		     "option 'bridge_max_packet_size': 19 must be 0 or at least 20");
	expect_error(MINIMAL "bridge_max_packet_size 268435461\n", "b.conf:4: ",
		     "option 'bridge_max_packet_size': 268435461 is out of range");
}

/* mosquitto raises these to its minimum with a notice; so do we, and the
 * notice names file and line. */
Test(conf_bridge, values_below_mosquittos_minimum_are_raised_with_a_notice)
{
	expect_ok(MINIMAL "keepalive_interval 0\nrestart_timeout 0\nidle_timeout 0\nthreshold 0\n");
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_eq(b->keepalive_s, 5, "no bridge without PINGREQ");
	cr_assert_eq(b->restart_base_s, 1);
	cr_assert_eq(b->restart_cap_s, 1);
	cr_assert_eq(b->idle_timeout_s, 1);
	cr_assert_eq(b->threshold, 1);
	cr_assert_eq(c.n_notices, 4);
	expect_notice(0, "b.conf:4: keepalive_interval 0 is below the minimum; using 5");
	expect_notice(1, "b.conf:5: restart_timeout 0 is below the minimum; using 1");
	expect_notice(2, "b.conf:6: idle_timeout 0 is below the minimum; using 1");
	expect_notice(3, "b.conf:7: threshold 0 is below the minimum; using 1");
	expect_ok(MINIMAL "keepalive_interval 4\n");
	cr_assert_eq(c.bridges[0].keepalive_s, 5);
	expect_ok(MINIMAL "keepalive_interval 5\n");
	cr_assert_eq(c.bridges[0].keepalive_s, 5);
	cr_assert_eq(c.n_notices, 0);
}

Test(conf_bridge, restart_timeout_constant_or_backoff)
{
	expect_ok(MINIMAL "restart_timeout 20\n");
	cr_assert_eq(c.bridges[0].restart_base_s, 20);
	cr_assert_eq(c.bridges[0].restart_cap_s, 20, "one value: a constant delay");
	expect_ok(MINIMAL "restart_timeout 3 3\n");
	cr_assert_eq(c.bridges[0].restart_base_s, 3);
	cr_assert_eq(c.bridges[0].restart_cap_s, 3);
	expect_ok(MINIMAL "restart_timeout 10 300\n");
	cr_assert_eq(c.bridges[0].restart_base_s, 10);
	cr_assert_eq(c.bridges[0].restart_cap_s, 300);
	expect_error(MINIMAL "restart_timeout 30 10\n", "b.conf:4: ",
		     "option 'restart_timeout': the cap 10 is below the base 30");
	expect_error(MINIMAL "restart_timeout 5 0\n", "b.conf:4: ", "option 'restart_timeout': 0 is out of range");
	expect_error(MINIMAL "restart_timeout 5 10 20\n", "b.conf:4: ", "option 'restart_timeout': too many values");
	expect_error(MINIMAL "restart_timeout\n", "b.conf:4: ", "option 'restart_timeout' needs a value");
}

Test(conf_bridge, local_password_is_accepted_with_a_notice)
{
	expect_ok(MINIMAL "local_username bridge\nlocal_password secret\n");
	cr_assert_str_eq(c.bridges[0].local_username, "bridge");
	cr_assert_eq(c.n_notices, 1);
	expect_notice(0, "b.conf:5: local_password is not needed");
}

Test(conf_bridge, mqtt_strings_must_be_utf8)
{
	expect_error(MINIMAL "remote_clientid \xff\xfe\n", "b.conf:4: ",
		     "option 'remote_clientid': the value is not valid UTF-8");
	expect_error(MINIMAL "remote_username \xc0\xaf\n", "b.conf:4: ", "option 'remote_username'");
	expect_error("connection b1\ntopic a/\xed\xa0\x80\n", "b.conf:2: ", "option 'topic': the pattern is not valid UTF-8");
	/* a password is binary data in MQTT: taken as it is */
	expect_ok(MINIMAL "remote_username u\nremote_password \xff\xfe\n");
	cr_assert_str_eq(c.bridges[0].remote_password, "\xff\xfe");
}

Test(conf_bridge, string_options_take_one_word_and_the_later_line_wins)
{
	expect_ok(MINIMAL "remote_clientid first\nremote_clientid second\n");
	cr_assert_str_eq(c.bridges[0].remote_clientid, "second");
	expect_error(MINIMAL "remote_password two words\n", "b.conf:4: ", "option 'remote_password': too many values");
	expect_error(MINIMAL "bridge_cafile\n", "b.conf:4: ", "option 'bridge_cafile' needs a value");
	expect_error("connection\n", "b.conf:1: ", "option 'connection' needs a value");
	expect_error("connection a b\n", "b.conf:1: ", "option 'connection': too many values");
}

/* --- address ------------------------------------------------------------------------ */

Test(conf_bridge, address_forms)
{
	expect_ok("connection b1\ntopic a\n"
		  "address host.example\n"
		  "address host.example:1884 10.1.2.3:8883\n"
		  "address [::1]:1885 [2001:db8::7]\n"
		  "addresses 10.9.9.9 # the fallback\n");
	const struct conf_bridge *b = &c.bridges[0];
	static const struct { const char *host; uint16_t port; } want[] = {
		{"host.example", 1883}, {"host.example", 1884}, {"10.1.2.3", 8883},
		{"::1", 1885}, {"2001:db8::7", 1883}, {"10.9.9.9", 1883},
	};
	cr_assert_eq(b->n_addresses, 6, "lines add to each other, a trailing comment is dropped");
	for (size_t i = 0; i < 6; i++) {
		cr_assert_str_eq(b->addresses[i].host, want[i].host);
		cr_assert_eq(b->addresses[i].port, want[i].port, "%s", want[i].host);
	}
	cr_assert_eq(c.n_notices, 0);
}

/* mosquitto would read the last group as a port; we read a bare IPv6
 * address whole, and say so when that differs. */
Test(conf_bridge, bare_ipv6_addresses_use_the_default_port_with_a_notice)
{
	expect_ok("connection b1\ntopic a\naddress ::1 fe80::1:8883 fe80::\n");
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_eq(b->n_addresses, 3);
	cr_assert_str_eq(b->addresses[0].host, "::1");
	cr_assert_eq(b->addresses[0].port, 1883);
	cr_assert_str_eq(b->addresses[1].host, "fe80::1:8883");
	cr_assert_eq(b->addresses[1].port, 1883);
	cr_assert_str_eq(b->addresses[2].host, "fe80::");
	cr_assert_eq(c.n_notices, 2, "fe80:: ends in no number mosquitto could take for a port");
	expect_notice(0, "b.conf:3: address '::1' is read as the IPv6 address ::1, port 1883");
	expect_notice(1, "(mosquitto would take '8883' for the port); write [ADDRESS]:PORT");
}

Test(conf_bridge, bad_addresses)
{
	static const struct { const char *word; const char *what; } bad[] = {
		{"host:0", "'host:0': the port is not 1..65535"},
		{"host:65536", "'host:65536': the port is not 1..65535"},
		{"host:", "'host:': the port is not 1..65535"},
		{"host:x1", "the port is not 1..65535"},
		{"host:+1", "the port is not 1..65535"},
		{":1883", "':1883' has no host"},
		{"[]:1883", "'[]:1883' has no host"},
		{"[::1", "'[::1' is not [IPv6] or [IPv6]:PORT"},
		{"[::1]1883", "is not [IPv6] or [IPv6]:PORT"},
		{"[::1]:", "the port is not 1..65535"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "connection b1\naddress ok.example %s\n", bad[i].word);
		expect_error(text, "b.conf:2: option 'address': ", bad[i].what);
	}
	expect_error("connection b1\naddress\n", "b.conf:2: ", "option 'address' needs a value");
	expect_error("connection b1\naddress # none\n", "b.conf:2: ", "option 'address' needs a value");
}

/* --- topic ------------------------------------------------------------------------------ */

Test(conf_bridge, topic_forms)
{
	expect_ok("connection b1\naddress h\n"
		  "topic a/#\n"
		  "topic b/+/c IN\n"
		  "topic c both 2\n"
		  "topic d out 1 local/ remote/\n"
		  "topic e in 0 \"\" remote/\n"
		  "topic f in 0 local/ \"\"\n"
		  "topic g in 0 local/\n"
		  "topic \"\" out 1 local/one remote/one\n"
		  "topic # both 2 \"\" \"\" # unmapped\n");
	const struct conf_bridge *b = &c.bridges[0];
	static const struct {
		const char *pattern, *local, *remote;
		uint8_t dir, qos;
	} want[] = {
		{"a/#", NULL, NULL, CONF_BRIDGE_OUT, 0},
		{"b/+/c", NULL, NULL, CONF_BRIDGE_IN, 0},
		{"c", NULL, NULL, CONF_BRIDGE_BOTH, 2},
		{"d", "local/", "remote/", CONF_BRIDGE_OUT, 1},
		{"e", NULL, "remote/", CONF_BRIDGE_IN, 0},
		{"f", "local/", NULL, CONF_BRIDGE_IN, 0},
		{"g", "local/", NULL, CONF_BRIDGE_IN, 0},
		{"", "local/one", "remote/one", CONF_BRIDGE_OUT, 1},
		{"#", NULL, NULL, CONF_BRIDGE_BOTH, 2},
	};
	cr_assert_eq(b->n_topics, 9);
	for (size_t i = 0; i < 9; i++) {
		const struct conf_bridge_topic *t = &b->topics[i];
		cr_assert_str_eq(t->pattern, want[i].pattern, "topic %zu", i);
		if (want[i].local)
			cr_assert_str_eq(t->local_prefix, want[i].local, "topic %zu", i);
		else
			cr_assert_null(t->local_prefix, "topic %zu", i);
		if (want[i].remote)
			cr_assert_str_eq(t->remote_prefix, want[i].remote, "topic %zu", i);
		else
			cr_assert_null(t->remote_prefix, "topic %zu", i);
		cr_assert_eq(t->direction, want[i].dir, "topic %zu", i);
		cr_assert_eq(t->qos, want[i].qos, "topic %zu", i);
		cr_assert_eq(t->line, (int)i + 3);
	}
}

Test(conf_bridge, a_repeated_topic_line_is_skipped_with_a_notice)
{
	expect_ok("connection b1\naddress h\ntopic a/# in 1\ntopic a/# in 2\ntopic a/# in 1\n");
	cr_assert_eq(c.bridges[0].n_topics, 2);
	cr_assert_eq(c.n_notices, 1);
	expect_notice(0, "b.conf:5: topic line ignored: the same as line 3");
	/* "" and a missing prefix are the same thing */
	expect_ok("connection b1\naddress h\ntopic a out 0 l/ \"\"\ntopic a out 0 l/\n");
	cr_assert_eq(c.bridges[0].n_topics, 1);
}

Test(conf_bridge, bad_topics)
{
	static const struct { const char *args; const char *what; } bad[] = {
		{"a sideways", "direction 'sideways' is not in, out or both"},
		{"a in 3", "QoS '3' is not 0, 1 or 2"},
		{"a in x", "QoS 'x' is not 0, 1 or 2"},
		{"a in 01", "QoS '01' is not 0, 1 or 2"},
		{"a/#/b", "'a/#/b' is not a valid topic filter"},
		{"a+", "'a+' is not a valid topic filter"},
		{"\"\"", "an empty pattern (\"\") needs both a local and a remote prefix"},
		{"\"\" out 0 local/", "an empty pattern (\"\") needs both a local and a remote prefix"},
		{"\"\" out 0 \"\" remote/", "an empty pattern (\"\") needs both a local and a remote prefix"},
		{"a out 0 lo+cal/ r/", "the local prefix 'lo+cal/' contains a wildcard"},
		{"a out 0 l/ r/#", "the remote prefix 'r/#' contains a wildcard"},
		{"# out 0 local r/", "the local prefix 'local' and pattern '#' do not make a valid topic filter"},
		{"+/x out 0 l/ remote", "the remote prefix 'remote' and pattern '+/x'"},
		{"a out 0 l/ r/ extra", "too many values"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "connection b1\naddress h\ntopic %s\n", bad[i].args);
		expect_error(text, "b.conf:3: option 'topic': ", bad[i].what);
	}
	expect_error("connection b1\ntopic\n", "b.conf:2: ", "option 'topic' needs a value");
}

/* --- blocks, scope and errors ---------------------------------------------------------- */

Test(conf_bridge, bridge_options_must_follow_a_connection_line)
{
	static const char *const opts[] = {
		"address h", "addresses h", "topic a", "bridge_protocol_version mqttv311",
		"remote_clientid x", "clientid x", "local_clientid x", "remote_username x",
		"username x", "remote_password x", "password x", "local_username x",
		"local_password x", "cleansession true", "local_cleansession true",
		"keepalive_interval 60", "restart_timeout 5", "try_private true",
		"notifications true", "notifications_local_only true", "notification_topic x",
		"round_robin true", "bridge_outgoing_retain true", "bridge_attempt_unsubscribe true",
		"start_type once", "idle_timeout 5", "threshold 5", "bridge_max_packet_size 0",
		"bridge_cafile x", "bridge_capath x", "bridge_certfile x", "bridge_keyfile x",
		"bridge_insecure true", "bridge_tls_version tlsv1.2",
	};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char text[200], what[120];
		snprintf(text, sizeof(text), "listener 1883\n\n%s\nconnection late\n", opts[i]);
		snprintf(what, sizeof(what), "option '%.*s' must follow a connection line",
			 (int)strcspn(opts[i], " "), opts[i]);
		expect_error(text, "b.conf:3: ", what);
	}
}

Test(conf_bridge, unsupported_mosquitto_bridge_options_are_refused_by_name)
{
	static const char *const names[] = {
		"bridge_alpn", "bridge_bind_address", "bridge_ciphers", "bridge_ciphers_tls1.3",
		"bridge_identity", "bridge_max_topic_alias", "bridge_psk", "bridge_receive_maximum",
		"bridge_reload_type", "bridge_require_ocsp", "bridge_session_expiry_interval",
		"bridge_tcp_keepalive", "bridge_tcp_user_timeout",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char text[200], what[120];
		snprintf(what, sizeof(what), "option '%s' is not supported yet", names[i]);
		snprintf(text, sizeof(text), MINIMAL "%s x\n", names[i]);
		expect_error(text, "b.conf:4: ", what);
		snprintf(text, sizeof(text), "%s x\n", names[i]);
		expect_error(text, "b.conf:1: ", what);
	}
	expect_error(MINIMAL "bridge_colour blue\n", "b.conf:4: ", "unknown option 'bridge_colour'");
}

Test(conf_bridge, duplicate_connection_names)
{
	expect_error(MINIMAL "connection b2\nconnection b1\n", "b.conf:5: ",
		     "option 'connection': 'b1' is already the name of the connection at b.conf:1");
}

Test(conf_bridge, several_blocks_each_take_their_own_options)
{
	expect_ok("connection one\naddress h1\ntopic a/# out\nremote_clientid id-1\n"
		  "connection two\naddress h2:1884\ntopic b/# in 2\ntopic c both\nremote_clientid id-2\n"
		  "keepalive_interval 10\n");
	cr_assert_eq(c.n_bridges, 2);
	const struct conf_bridge *one = &c.bridges[0], *two = &c.bridges[1];
	cr_assert_str_eq(one->name, "one");
	cr_assert_eq(one->n_addresses, 1);
	cr_assert_eq(one->n_topics, 1);
	cr_assert_str_eq(one->remote_clientid, "id-1");
	cr_assert_eq(one->keepalive_s, 60);
	cr_assert_str_eq(two->name, "two");
	cr_assert_eq(two->line, 5);
	cr_assert_str_eq(two->addresses[0].host, "h2");
	cr_assert_eq(two->n_topics, 2);
	cr_assert_str_eq(two->local_clientid, "local.id-2");
	cr_assert_eq(two->keepalive_s, 10);
}

/* As in mosquitto: a connection line closes no listener section, and
 * global options after a block stay global. */
Test(conf_bridge, global_and_listener_options_after_a_block_keep_their_scope)
{
	expect_ok("listener 1883\n"
		  "connection b1\naddress h\ntopic a\n"
		  "max_queued_messages 5\n"
		  "max_connections 7\n"
		  "persistence false\n"
		  "keepalive_interval 9\n"
		  "listener 1884\n"
		  "threshold 3\n");
	cr_assert_eq(c.max_queued_messages, 5);
	cr_assert_eq(c.listeners[0].max_connections, 7, "still the listener's section");
	cr_assert_eq(c.max_connections, -1);
	cr_assert_not(c.persistence);
	cr_assert_eq(c.bridges[0].keepalive_s, 9, "still the bridge's block");
	cr_assert_eq(c.bridges[0].threshold, 3, "a listener line closes no block");
	cr_assert_eq(c.n_listeners, 2);
}

Test(conf_bridge, a_block_goes_on_into_an_included_file)
{
	char dir[] = "/tmp/conf_bridge_test_XXXXXX";
	cr_assert(mkdtemp(dir));
	char path[200];
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("topic from/include\nconnection inner\naddress h2\ntopic x\n", f);
	fclose(f);
	char text[300];
	snprintf(text, sizeof(text), "connection outer\naddress h1\ninclude_dir %s\nthreshold 4\n", dir);
	expect_ok(text);
	cr_assert_eq(c.n_bridges, 2);
	cr_assert_str_eq(c.bridges[0].topics[0].pattern, "from/include");
	cr_assert_str_eq(c.bridges[1].file, path);
	cr_assert_eq(c.bridges[1].line, 2);
	cr_assert_eq(c.bridges[1].threshold, 4, "the last block read is the open one");
	unlink(path);
	rmdir(dir);
}

/* --- what conf_finish refuses ------------------------------------------------------------ */

Test(conf_bridge, finish_needs_an_address_and_a_topic)
{
	expect_finish_error("log_type error\n\nconnection b1\ntopic a\n", "b.conf:3: connection 'b1': ", "no address line");
	expect_finish_error("connection b1\naddress h\n", "b.conf:1: connection 'b1': ", "no topic line");
	expect_finish_error(MINIMAL "connection b2\naddress h\n", "b.conf:4: connection 'b2': ", "no topic line");
}

Test(conf_bridge, finish_checks_tls_files_go_together)
{
	expect_ok(MINIMAL "bridge_cafile /ca\n");
	expect_ok(MINIMAL "bridge_capath /cas\nbridge_certfile /c\nbridge_keyfile /k\n");
	expect_finish_error(MINIMAL "bridge_cafile /ca\nbridge_certfile /c\n", "b.conf:1: connection 'b1': ",
			    "bridge_certfile is set but bridge_keyfile is not");
	expect_finish_error(MINIMAL "bridge_cafile /ca\nbridge_keyfile /k\n", "b.conf:1: connection 'b1': ",
			    "bridge_keyfile is set but bridge_certfile is not");
	expect_finish_error(MINIMAL "bridge_certfile /c\nbridge_keyfile /k\n", "b.conf:1: connection 'b1': ",
			    "bridge_certfile is set but TLS is off (it needs bridge_cafile or bridge_capath)");
	expect_finish_error(MINIMAL "bridge_tls_version tlsv1.3\n", "b.conf:1: connection 'b1': ",
			    "bridge_tls_version is set but TLS is off");
	expect_finish_error(MINIMAL "bridge_insecure true\n", "b.conf:1: connection 'b1': ",
			    "bridge_insecure is set but TLS is off");
	expect_ok(MINIMAL "bridge_insecure false\n");
}

Test(conf_bridge, finish_wants_a_username_with_a_password_before_mqttv50)
{
	expect_finish_error(MINIMAL "remote_password p\n", "b.conf:1: connection 'b1': ",
			    "remote_password needs remote_username before mqttv50");
	expect_finish_error(MINIMAL "remote_password p\nbridge_protocol_version mqttv31\n", "b.conf:1: ",
			    "remote_password needs remote_username");
	expect_ok(MINIMAL "remote_password p\nbridge_protocol_version mqttv50\n");
	expect_ok(MINIMAL "remote_password p\nremote_username u\n");
}

Test(conf_bridge, finish_wants_unique_local_client_ids)
{
	expect_finish_error("connection a\naddress h\ntopic t\nremote_clientid same\n"
			    "connection b\naddress h\ntopic t\nremote_clientid same\n",
			    "b.conf:5: connection 'b': ",
			    "local_clientid 'local.same' is also that of connection 'a' (b.conf:1)");
	expect_finish_error("connection a\naddress h\ntopic t\nlocal_clientid mine\n"
			    "connection b\naddress h\ntopic t\n"
			    "connection c\naddress h\ntopic t\nlocal_clientid mine\n",
			    "b.conf:8: connection 'c': ", "local_clientid 'mine' is also that of connection 'a'");
	/* the same remote id on two bridges is the remote brokers' business */
	expect_ok("connection a\naddress h\ntopic t\nremote_clientid same\nlocal_clientid la\n"
		  "connection b\naddress h\ntopic t\nremote_clientid same\nlocal_clientid lb\n");
}

Test(conf_bridge, finish_wants_a_valid_notification_topic)
{
	expect_finish_error(MINIMAL "notification_topic bridges/+/state\n", "b.conf:1: connection 'b1': ",
			    "the notification topic 'bridges/+/state' is not a valid topic name");
	expect_finish_error(MINIMAL "remote_clientid a#b\n", "b.conf:1: ",
			    "'$SYS/broker/connection/a#b/state' is not a valid topic name");
	expect_ok(MINIMAL "remote_clientid a#b\nnotifications false\n");
}

/* Bridges need a restart: SIGHUP leaves the running ones as they are. */
Test(conf_bridge, reload_leaves_bridges_alone)
{
	expect_ok(MINIMAL "keepalive_interval 30\n");
	struct conf fresh;
	conf_init(&fresh);
	cr_assert_eq(conf_load_string(&fresh, "new.conf", "connection other\naddress h\ntopic z\n", &eb), FM_OK);
	cr_assert_eq(conf_finish(&fresh, &eb), FM_OK, "%s", eb.msg);
	conf_apply_reloadable(&c, &fresh);
	cr_assert_eq(c.n_bridges, 1);
	cr_assert_str_eq(c.bridges[0].name, "b1");
	cr_assert_eq(c.bridges[0].keepalive_s, 30);
	cr_assert_str_eq(fresh.bridges[0].name, "other");
	conf_fini(&fresh);
}

/* --- mosquitto.conf(5) ---------------------------------------------------------------------- */

/* "Bridge Topic Remapping": $SYS/broker/clients/total on the remote
 * broker becomes test/mosquitto/org/clients/total here. */
Test(conf_bridge, mosquitto_conf_5_remapping_example)
{
	expect_ok("connection test-mosquitto-org\n"
		  "address test.mosquitto.org\n"
		  "cleansession true\n"
		  "topic clients/total in 0 test/mosquitto/org/ $SYS/broker/\n");
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_str_eq(b->name, "test-mosquitto-org");
	cr_assert_str_eq(b->addresses[0].host, "test.mosquitto.org");
	cr_assert_eq(b->addresses[0].port, 1883);
	cr_assert(b->cleansession);
	cr_assert(b->local_cleansession);
	const struct conf_bridge_topic *t = &b->topics[0];
	cr_assert_str_eq(t->pattern, "clients/total");
	cr_assert_eq(t->direction, CONF_BRIDGE_IN);
	cr_assert_eq(t->qos, 0);
	cr_assert_str_eq(t->local_prefix, "test/mosquitto/org/");
	cr_assert_str_eq(t->remote_prefix, "$SYS/broker/");
}

/* "To remap an entire topic tree", and the table of valid combinations of
 * empty ("") and given pattern and prefixes (rows 1 to 8). */
Test(conf_bridge, mosquitto_conf_5_whole_tree_and_empty_marker_table)
{
	expect_ok("connection b1\naddress h\ntopic # both 2 local/topic/ remote/topic/\n");
	cr_assert_str_eq(c.bridges[0].topics[0].pattern, "#");
	cr_assert_eq(c.bridges[0].topics[0].direction, CONF_BRIDGE_BOTH);
	cr_assert_eq(c.bridges[0].topics[0].qos, 2);
	static const struct { const char *args; bool valid; } rows[] = {
		{"t out 0 l/ r/", true},
		{"t out 0 l/ \"\"", true},
		{"t out 0 \"\" r/", true},
		{"t out 0 \"\" \"\"", true},
		{"\"\" out 0 l/one r/one", true},
		{"\"\" out 0 l/one \"\"", false},
		{"\"\" out 0 \"\" r/one", false},
		{"\"\" out 0 \"\" \"\"", false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "connection b1\naddress h\ntopic %s\n", rows[i].args);
		reset();
		int rc = load(text);
		cr_assert_eq(rc, rows[i].valid ? FM_OK : FM_ECONFIG, "row %zu '%s': %s", i + 1, rows[i].args, eb.msg);
	}
}

/* The shape of bridge most configs in the wild have (a cloud broker over
 * TLS with a username), written as mosquitto's documentation writes it. */
Test(conf_bridge, a_typical_mosquitto_bridge_block)
{
	expect_ok("# Bridge to the cloud\n"
		  "connection cloud-bridge\n"
		  "address mqtt.example.com:8883\n"
		  "bridge_cafile /etc/mosquitto/certs/ca.crt\n"
		  "remote_username edge01\n"
		  "remote_password hunter2\n"
		  "bridge_protocol_version mqttv311\n"
		  "try_private false\n"
		  "notifications false\n"
		  "start_type automatic\n"
		  "cleansession false\n"
		  "topic telemetry/# out 1 \"\" devices/edge01/\n"
		  "topic commands/# in 1 \"\" devices/edge01/\n");
	const struct conf_bridge *b = &c.bridges[0];
	cr_assert_eq(b->n_topics, 2);
	cr_assert_null(b->topics[0].local_prefix);
	cr_assert_str_eq(b->topics[1].remote_prefix, "devices/edge01/");
	cr_assert_eq(c.n_notices, 0);
}
