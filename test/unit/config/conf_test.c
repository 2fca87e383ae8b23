/* The config parser: every supported option, defaults, include_dir, the
 * embedded default listener, per-listener settings, reload, and error
 * messages that name file, line and option.
 *
 * The shipped conf/fleetmq.conf is found through $FLEETMQ_SOURCE_ROOT (set
 * by `meson test`), else from __FILE__, which meson gives relative to the
 * build directory (or absolute); the build directory is the one above this
 * executable (BUILD/test/unit_config). So running the binary by hand from
 * any directory works too. */
#include "conf_fixture.h"
#include "config/conf.h"
#include "core/log.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(conf, .init = conf_fixture_setup, .fini = conf_fixture_teardown);

static int load(const char *text) { return conf_load_string(&c, "test.conf", text, &eb); }

static void reset(void)
{
	conf_fini(&c);
	conf_init(&c);
	memset(&eb, 0, sizeof(eb));
}

static void expect_ok(const char *text)
{
	reset();
	cr_assert_eq(load(text), FM_OK, "refused '%s': %s", text, eb.msg);
}

/* The message must start with where ("FILE:LINE:") and contain what. */
static void expect_error(const char *text, const char *where, const char *what)
{
	reset();
	cr_assert_eq(load(text), FM_ECONFIG, "accepted: %s", text);
	cr_assert(strncmp(eb.msg, where, strlen(where)) == 0, "'%s' does not start '%s'", eb.msg, where);
	cr_assert(strstr(eb.msg, what), "'%s' not in '%s'", what, eb.msg);
}

/* --- defaults and each option ---------------------------------------------- */

Test(conf, defaults)
{
	cr_assert_eq(c.n_listeners, 0);
	cr_assert_not(c.per_listener_settings);
	cr_assert_not(c.allow_anonymous);
	cr_assert_not(c.allow_anonymous_set);
	cr_assert_eq(c.max_connections, -1);
	cr_assert_eq(c.max_inflight_messages, 20);
	cr_assert_eq(c.max_queued_messages, 1000);
	cr_assert_eq(c.max_queued_bytes, 0);
	cr_assert_eq(c.message_size_limit, 0);
	cr_assert_eq(c.max_keepalive, 65535);
	cr_assert(c.retain_available);
	cr_assert(c.persistence);
	cr_assert_str_eq(c.persistence_location, "./data");
	cr_assert_eq(c.log_types, LOG_T_DEFAULT);
	cr_assert_eq(c.log_dests, LOG_D_STDERR);
	cr_assert_null(c.log_file);
	cr_assert_null(c.pid_file);
	cr_assert_eq(c.connect_timeout_s, 10);
	cr_assert_eq(c.workers, 0);
}

Test(conf, empty_text_and_comments_only_change_nothing)
{
	expect_ok("");
	expect_ok("# nothing here\n\n");
	cr_assert_eq(c.n_listeners, 0);
	cr_assert_eq(c.max_inflight_messages, 20);
}

Test(conf, listeners_with_and_without_address)
{
	cr_assert_eq(load("listener 1883 127.0.0.1\nlistener 8883\nlistener 1884 ::1\nlistener 0\n"), FM_OK,
		     "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 4);
	cr_assert_eq(c.listeners[0].port, 1883);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert_eq(c.listeners[1].port, 8883);
	cr_assert_null(c.listeners[1].bind_address);
	cr_assert_str_eq(c.listeners[2].bind_address, "::1");
	cr_assert_eq(c.listeners[3].port, 0, "port 0: ephemeral");
	for (size_t i = 0; i < c.n_listeners; i++) {
		cr_assert_eq(c.listeners[i].protocol, CONF_PROTO_MQTT);
		cr_assert_eq(c.listeners[i].max_connections, -1);
		cr_assert_eq(c.listeners[i].allow_anonymous, -1);
		cr_assert_str_eq(c.listeners[i].file, "test.conf");
		cr_assert_eq(c.listeners[i].line, (int)i + 1);
	}
}

Test(conf, legacy_port_and_bind_address)
{
	cr_assert_eq(load("bind_address 127.0.0.2\nport 1999\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 1999);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.2");
	expect_ok("port 1885\n");
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_null(c.listeners[0].bind_address);
	expect_ok("bind_address 10.0.0.1\n");
	cr_assert_eq(c.listeners[0].port, 1883, "bind_address alone: the default port");
}

Test(conf, legacy_port_does_not_open_a_listener_section)
{
	cr_assert_eq(load("listener 8883\nport 1885\nmax_connections 7\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 2);
	cr_assert_eq(c.listeners[0].max_connections, 7, "still in the listener 8883 section");
	cr_assert_eq(c.listeners[1].port, 1885);
	cr_assert_eq(c.listeners[1].max_connections, -1);
}

Test(conf, protocol_mqtt)
{
	cr_assert_eq(load("listener 1883\nprotocol mqtt\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.listeners[0].protocol, CONF_PROTO_MQTT);
}

Test(conf, max_connections_global_and_per_listener)
{
	cr_assert_eq(load("max_connections 100\nlistener 1883\nmax_connections 5\nlistener 1884\n"
			  "listener 1885\nmax_connections -1\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_connections, 100);
	cr_assert_eq(c.listeners[0].max_connections, 5);
	cr_assert_eq(c.listeners[1].max_connections, -1);
	cr_assert_eq(c.listeners[2].max_connections, -1);
	expect_ok("max_connections 0\n");
	cr_assert_eq(c.max_connections, 0);
}

Test(conf, allow_anonymous_is_global_without_per_listener_settings)
{
	cr_assert_eq(load("allow_anonymous true\nlistener 1883\nallow_anonymous false\n"), FM_OK);
	cr_assert_not(c.allow_anonymous, "without per_listener_settings the last line wins, globally");
	cr_assert(c.allow_anonymous_set);
	cr_assert_eq(c.listeners[0].allow_anonymous, -1);
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[0]));
}

Test(conf, per_listener_settings_scopes_allow_anonymous)
{
	cr_assert_eq(load("per_listener_settings true\nlistener 1883\nallow_anonymous true\n"
			  "listener 1884\nlistener 1885\nallow_anonymous false\n"), FM_OK, "%s", eb.msg);
	cr_assert(c.per_listener_settings);
	cr_assert_not(c.allow_anonymous_set, "no global line");
	cr_assert_eq(c.listeners[0].allow_anonymous, 1);
	cr_assert_eq(c.listeners[1].allow_anonymous, -1);
	cr_assert_eq(c.listeners[2].allow_anonymous, 0);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[1]), "mosquitto 2.0: off unless allowed");
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[2]));
}

Test(conf, per_listener_settings_falls_back_to_the_global_line)
{
	cr_assert_eq(load("per_listener_settings true\nallow_anonymous true\nlistener 1883\n"
			  "listener 1884\nallow_anonymous false\n"), FM_OK, "%s", eb.msg);
	cr_assert(c.allow_anonymous);
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]), "no listener line: the global one");
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[1]));
	cr_assert(conf_listener_allow_anonymous(&c, NULL));
	expect_ok("per_listener_settings false\n");
	cr_assert_not(c.per_listener_settings);
}

Test(conf, limits_and_flags)
{
	cr_assert_eq(load("max_inflight_messages 5\nmax_queued_messages 0\nmax_queued_bytes 1048576\n"
			  "message_size_limit 1000\nmax_keepalive 60\nretain_available false\n"
			  "connect_timeout 3\nworkers 4\npersistence false\npersistence_location /var/lib/x\n"
			  "pid_file /run/x.pid\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_inflight_messages, 5);
	cr_assert_eq(c.max_queued_messages, 0);
	cr_assert_eq(c.max_queued_bytes, 1048576);
	cr_assert_eq(c.message_size_limit, 1000);
	cr_assert_eq(c.max_keepalive, 60);
	cr_assert_not(c.retain_available);
	cr_assert_eq(c.connect_timeout_s, 3);
	cr_assert_eq(c.workers, 4);
	cr_assert_not(c.persistence);
	cr_assert_str_eq(c.persistence_location, "/var/lib/x");
	cr_assert_str_eq(c.pid_file, "/run/x.pid");
}

Test(conf, limits_at_their_bounds)
{
	expect_ok("max_inflight_messages 0\nmax_inflight_messages 65535\n");
	cr_assert_eq(c.max_inflight_messages, 65535);
	expect_ok("max_queued_messages 4294967295\n");
	cr_assert_eq(c.max_queued_messages, UINT32_MAX);
	expect_ok("max_queued_bytes 18446744073709551615\n");
	cr_assert_eq(c.max_queued_bytes, UINT64_MAX);
	expect_ok("message_size_limit 268435455\n");
	cr_assert_eq(c.message_size_limit, 268435455u);
	expect_ok("max_keepalive 65535\n");
	cr_assert_eq(c.max_keepalive, 65535);
	expect_ok("max_keepalive 1\n");
	cr_assert_eq(c.max_keepalive, 1);
	/* mosquitto 2.0.0..2.0.x refused values below 10; current mosquitto
	 * takes 0..65535 (0 = no limit), and so does fleetmq */
	expect_ok("max_keepalive 5\n");
	cr_assert_eq(c.max_keepalive, 5);
	expect_ok("max_keepalive 0\n");
	cr_assert_eq(c.max_keepalive, 65535, "0 = no limit");
	expect_ok("connect_timeout 3600\n");
	cr_assert_eq(c.connect_timeout_s, 3600);
	expect_ok("workers 0\n");
	cr_assert_eq(c.workers, 0, "0 = one per core");
	expect_ok("retain_available true\npersistence true\n");
	cr_assert(c.retain_available);
	cr_assert(c.persistence);
}

Test(conf, string_options_later_line_wins)
{
	cr_assert_eq(load("pid_file /a\npid_file /b\npersistence_location /c\npersistence_location /d\n"), FM_OK);
	cr_assert_str_eq(c.pid_file, "/b");
	cr_assert_str_eq(c.persistence_location, "/d");
}

Test(conf, log_dest_first_line_replaces_later_lines_add)
{
	cr_assert_eq(load("log_dest stdout\nlog_dest file /tmp/x.log\nlog_dest syslog\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.log_dests, LOG_D_STDOUT | LOG_D_FILE | LOG_D_SYSLOG);
	cr_assert_str_eq(c.log_file, "/tmp/x.log");
	expect_ok("log_dest none\n");
	cr_assert_eq(c.log_dests, 0);
	expect_ok("log_dest syslog\nlog_dest stderr\n");
	cr_assert_eq(c.log_dests, LOG_D_SYSLOG | LOG_D_STDERR);
	cr_assert_null(c.log_file);
}

Test(conf, log_type_each_word)
{
	static const struct { const char *word; unsigned mask; } words[] = {
		{"debug", LOG_T_DEBUG}, {"error", LOG_T_ERROR}, {"warning", LOG_T_WARNING},
		{"notice", LOG_T_NOTICE}, {"information", LOG_T_INFO},
		{"subscribe", LOG_T_SUBSCRIBE}, {"unsubscribe", LOG_T_UNSUBSCRIBE},
		{"websockets", LOG_T_WEBSOCKETS}, {"none", 0}, {"all", LOG_T_ALL},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "log_type %s\n", words[i].word);
		expect_ok(text);
		cr_assert_eq(c.log_types, words[i].mask, "%s", words[i].word);
	}
}

Test(conf, log_type_first_line_replaces_later_lines_add)
{
	cr_assert_eq(load("log_type error\nlog_type subscribe\n"), FM_OK);
	cr_assert_eq(c.log_types, LOG_T_ERROR | LOG_T_SUBSCRIBE);
	expect_ok("log_type none\nlog_type debug\n");
	cr_assert_eq(c.log_types, LOG_T_DEBUG);
}

Test(conf, comments_blank_lines_tabs_and_crlf)
{
	cr_assert_eq(load("# a comment line with many more words than any option ever takes, a b c d e f\n\n"
			  "   \n\tlistener\t1883  127.0.0.1 \r\n  # indented comment\r\n\r\n"
			  "max_keepalive 30\r\nmax_inflight_messages 9"),
		     FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert_eq(c.max_keepalive, 30);
	cr_assert_eq(c.max_inflight_messages, 9, "last line without a newline");
}

/* --- errors ---------------------------------------------------------------- */

Test(conf, unknown_option_named_with_file_and_line)
{
	expect_error("listener 1883\n\nlistner 1884\n", "test.conf:3: ", "unknown option 'listner'");
	expect_error("# c\r\nMax_keepalive 10\r\n", "test.conf:2: ", "unknown option 'Max_keepalive'");
}

Test(conf, unsupported_mosquitto_options_are_refused_clearly)
{
	static const char *const names[] = {
		"bridge_psk", "auth_plugin", "queue_qos0_messages",
		"max_qos", "bridge_identity", "auth_opt_backend",
		"max_inflight_bytes", "user",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char text[128], what[128];
		snprintf(text, sizeof(text), "listener 1883\n%s x\n", names[i]);
		snprintf(what, sizeof(what), "option '%s' is not supported yet", names[i]);
		expect_error(text, "test.conf:2: ", what);
	}
}

Test(conf, durability_and_its_interval)
{
	cr_assert_eq(c.durability, CONF_DURABILITY_FULL, "full by default");
	cr_assert_eq(c.durability_interval_ms, 100);
	expect_ok("durability batched\ndurability_interval 250\n");
	cr_assert_eq(c.durability, CONF_DURABILITY_BATCHED);
	cr_assert_eq(c.durability_interval_ms, 250);
	expect_ok("durability memory\n");
	cr_assert_eq(c.durability, CONF_DURABILITY_MEMORY);
	expect_error("durability fast\n", "test.conf:1: ", "'fast' is not full, batched or memory");
	expect_error("\ndurability_interval 0\n", "test.conf:2: ", "option 'durability_interval'");
	expect_error("durability_interval 60001\n", "test.conf:1: ", "option 'durability_interval'");
}

/* mosquitto's snapshot options are accepted (an existing mosquitto.conf
 * loads unchanged) and each leaves a notice naming file and line, since
 * fleetmq writes every change as it happens. */
Test(conf, mosquitto_autosave_and_persistence_file_are_accepted_with_a_notice)
{
	expect_ok("persistence true\nautosave_interval 1800\nautosave_on_changes false\n"
		  "persistence_file mosquitto.db\n");
	cr_assert_eq(c.n_notices, 3);
	cr_assert(strstr(c.notices[0], "test.conf:2: autosave_interval has no effect"), "%s", c.notices[0]);
	cr_assert(strstr(c.notices[1], "test.conf:3: autosave_on_changes has no effect"), "%s", c.notices[1]);
	cr_assert(strstr(c.notices[2], "test.conf:4: persistence_file 'mosquitto.db' is not used"), "%s",
		  c.notices[2]);
	expect_error("autosave_interval soon\n", "test.conf:1: ", "option 'autosave_interval'");
	expect_error("autosave_on_changes maybe\n", "test.conf:1: ", "option 'autosave_on_changes'");
	expect_error("persistence_file /var/lib/x.db\n", "test.conf:1: ", "is not a file name");
}

/* mosquitto's duration units, plus seconds (ours) */
Test(conf, persistent_client_expiration_in_mosquitto_units)
{
	cr_assert_eq(c.persistent_client_expiration_s, 0, "never by default");
	static const struct { const char *text; uint64_t seconds; } ok[] = {
		{"30s", 30}, {"2h", 7200}, {"14d", 14 * 86400}, {"1w", 7 * 86400}, {"2m", 60 * 86400}, {"1y", 365 * 86400},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "persistent_client_expiration %s\n", ok[i].text);
		expect_ok(text);
		cr_assert_eq(c.persistent_client_expiration_s, ok[i].seconds, "%s", ok[i].text);
	}
	expect_error("persistent_client_expiration 14\n", "test.conf:1: ", "not a number followed by");
	expect_error("persistent_client_expiration 3x\n", "test.conf:1: ", "not a number followed by");
	expect_error("persistent_client_expiration d\n", "test.conf:1: ", "not a number followed by");
	expect_error("persistent_client_expiration 0d\n", "test.conf:1: ", "option 'persistent_client_expiration'");
	expect_error("persistent_client_expiration -1d\n", "test.conf:1: ", "option 'persistent_client_expiration'");
}

Test(conf, bad_integers_name_file_line_and_option)
{
	expect_error("max_inflight_messages lots\n", "test.conf:1: ", "option 'max_inflight_messages': 'lots' is not a number");
	expect_error("\nmax_queued_messages -5\n", "test.conf:2: ", "option 'max_queued_messages'");
	expect_error("max_queued_bytes 12k\n", "test.conf:1: ", "option 'max_queued_bytes'");
	expect_error("max_queued_bytes 18446744073709551616\n", "test.conf:1: ", "max_queued_bytes");
	expect_error("workers 0x10\n", "test.conf:1: ", "option 'workers'");
	expect_error("listener http\n", "test.conf:1: ", "option 'listener'");
	expect_error("port -1\n", "test.conf:1: ", "option 'port'");
	expect_error("max_connections many\n", "test.conf:1: ", "option 'max_connections'");
}

Test(conf, out_of_range_values_name_file_line_and_option)
{
	expect_error("max_keepalive 65536\n", "test.conf:1: ", "option 'max_keepalive': 65536 is out of range");
	expect_error("listener 70000\n", "test.conf:1: ", "option 'listener'");
	expect_error("port 65536\n", "test.conf:1: ", "option 'port'");
	expect_error("connect_timeout 0\n", "test.conf:1: ", "option 'connect_timeout'");
	expect_error("connect_timeout 3601\n", "test.conf:1: ", "out of range");
	expect_error("message_size_limit 268435456\n", "test.conf:1: ", "option 'message_size_limit'");
	expect_error("max_inflight_messages 65536\n", "test.conf:1: ", "option 'max_inflight_messages'");
	expect_error("max_queued_messages 4294967296\n", "test.conf:1: ", "option 'max_queued_messages'");
	expect_error("workers 257\n", "test.conf:1: ", "option 'workers'");
	expect_error("max_connections -2\n", "test.conf:1: ", "option 'max_connections'");
	expect_error("sys_interval 86401\n", "test.conf:1: ", "option 'sys_interval': 86401 is out of range");
	expect_error("max_topic_length 65536\n", "test.conf:1: ", "option 'max_topic_length': 65536 is out of range");
	expect_error("max_output_buffer 2097151\n", "test.conf:1: ", "option 'max_output_buffer': 2097151 is out of range");
	expect_error("max_output_buffer 1073741825\n", "test.conf:1: ", "option 'max_output_buffer'");
	expect_error("slow_consumer_timeout 0\n", "test.conf:1: ", "option 'slow_consumer_timeout': 0 is out of range");
	expect_error("slow_consumer_timeout 3601\n", "test.conf:1: ", "option 'slow_consumer_timeout'");
}

Test(conf, output_and_topic_length_limits_default_and_parse)
{
	cr_assert_eq(load("listener 1883\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_output_buffer, 8u * 1024u * 1024u);
	cr_assert_eq(c.slow_consumer_timeout_s, 5);
	cr_assert_eq(c.max_topic_length, 0);
	cr_assert_not(c.memory_limit_set, "unset: the broker's automatic default");
	reset();
	cr_assert_eq(load("memory_limit 0\n"), FM_OK, "%s", eb.msg);
	cr_assert(c.memory_limit_set, "0 is mosquitto's 'no limit', and a choice");
	cr_assert_eq(c.memory_limit, 0);
	reset();
	cr_assert_eq(load("max_output_buffer 2097152\nslow_consumer_timeout 1\nmax_topic_length 32\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_output_buffer, 2097152);
	cr_assert_eq(c.slow_consumer_timeout_s, 1);
	cr_assert_eq(c.max_topic_length, 32);
}

Test(conf, sys_interval_defaults_to_mosquittos_and_zero_turns_it_off)
{
	cr_assert_eq(load("listener 1883\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.sys_interval_s, 10);
	reset();
	cr_assert_eq(load("sys_interval 0\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.sys_interval_s, 0);
	reset();
	cr_assert_eq(load("sys_interval 86400\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.sys_interval_s, 86400);
	expect_error("\nsys_interval ten\n", "test.conf:2: ", "option 'sys_interval': 'ten' is not a number");
	expect_error("sys_interval -1\n", "test.conf:1: ", "option 'sys_interval': '-1' is not a number");
	expect_error("sys_interval\n", "test.conf:1: ", "option 'sys_interval' needs a value");
}

Test(conf, bad_booleans_are_true_or_false_only)
{
	static const char *const opts[] = {
		"allow_anonymous", "per_listener_settings", "retain_available", "persistence",
	};
	static const char *const bad[] = {"yes", "1", "on", "TRUE"};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			char text[128], what[128];
			snprintf(text, sizeof(text), "# x\n%s %s\n", opts[i], bad[j]);
			snprintf(what, sizeof(what), "option '%s': '%s' is not true or false", opts[i], bad[j]);
			expect_error(text, "test.conf:2: ", what);
		}
	}
}

Test(conf, missing_values)
{
	static const char *const opts[] = {
		"listener", "port", "bind_address", "protocol", "per_listener_settings",
		"max_connections", "allow_anonymous", "max_inflight_messages", "max_queued_messages",
		"max_queued_bytes", "message_size_limit", "max_keepalive", "retain_available",
		"persistence", "persistence_location", "log_dest", "log_type", "include_dir",
		"pid_file", "connect_timeout", "workers", "durability", "durability_interval",
		"autosave_interval", "autosave_on_changes", "persistence_file", "persistent_client_expiration",
	};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char text[128], what[128];
		snprintf(text, sizeof(text), "listener 1883\n%s\n", opts[i]);
		snprintf(what, sizeof(what), "option '%s' needs a value", opts[i]);
		expect_error(text, "test.conf:2: ", what);
	}
	expect_error("max_keepalive   \t\r\n", "test.conf:1: ", "option 'max_keepalive' needs a value");
}

Test(conf, extra_values)
{
	expect_error("max_keepalive 10 20\n", "test.conf:1: ", "option 'max_keepalive': too many values");
	expect_error("listener 1 2 3\n", "test.conf:1: ", "option 'listener': too many values");
	expect_error("listener 1883 # main\n", "test.conf:1: ", "option 'listener': too many values");
	expect_error("log_dest stderr stdout\n", "test.conf:1: ", "option 'log_dest': too many values");
	expect_error("log_dest file /a /b\n", "test.conf:1: ", "option 'log_dest'");
	expect_error("pid_file /a b c d e f g h i j k\n", "test.conf:1: ", "option 'pid_file': too many values");
}

Test(conf, protocol_rules)
{
	expect_error("protocol mqtt\n", "test.conf:1: ", "option 'protocol' must follow a listener");
	expect_ok("listener 1883\nprotocol websockets\n");
	cr_assert_eq(c.listeners[0].protocol, CONF_PROTO_WEBSOCKETS);
	expect_error("listener 1883\nprotocol carrier-pigeon\n", "test.conf:2: ", "'carrier-pigeon'");
}

Test(conf, unknown_log_words)
{
	expect_error("log_dest printer\n", "test.conf:1: ", "option 'log_dest': unknown destination 'printer'");
	expect_error("log_dest file\n", "test.conf:1: ", "option 'log_dest': file needs a path");
	expect_error("log_type chatty\n", "test.conf:1: ", "option 'log_type': unknown type 'chatty'");
}

Test(conf, the_first_error_stops_parsing)
{
	reset();
	cr_assert_eq(load("max_keepalive 30\nbogus 1\nmax_keepalive 40\n"), FM_ECONFIG);
	cr_assert_eq(c.max_keepalive, 30);
}

/* --- files and include_dir ---------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void write_in(const char *dir, const char *name, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_text(path, text);
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(conf, load_file_names_errors_after_the_file)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	write_in(dir, "main.conf", "listener 1883\r\nmax_keepalive 20\r\nmax_inflight_messages x\r\n");
	char path[512], want[600];
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	cr_assert_eq(conf_load_file(&c, path, &eb), FM_ECONFIG);
	snprintf(want, sizeof(want), "%s:3: option 'max_inflight_messages'", path);
	cr_assert(strncmp(eb.msg, want, strlen(want)) == 0, "'%s' does not start '%s'", eb.msg, want);
	rm_rf(dir);
}

Test(conf, include_dir_reads_conf_files_in_alphabetical_order)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	write_in(dir, "b.conf", "max_keepalive 200\nlog_type debug\n");
	write_in(dir, "a.conf", "max_keepalive 100\nmax_inflight_messages 7\nlog_type error\n");
	write_in(dir, "B.conf", "max_keepalive 50\nmax_queued_messages 3\n");
	write_in(dir, "10-x.conf", "max_keepalive 10\n");
	write_in(dir, "c.txt", "this is not a config file\n");
	write_in(dir, "d.conf.bak", "this is not one either\n");
	write_in(dir, ".conf", "nor this\n");
	char main_conf[512], text[600];
	snprintf(main_conf, sizeof(main_conf), "%s/main.cfg", dir);
	snprintf(text, sizeof(text), "listener 1883\ninclude_dir %s\nlog_type notice\n", dir);
	write_text(main_conf, text);
	cr_assert_eq(conf_load_file(&c, main_conf, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_keepalive, 200, "10-x, B, a, b: b.conf is read last");
	cr_assert_eq(c.max_inflight_messages, 7);
	cr_assert_eq(c.max_queued_messages, 3);
	cr_assert_eq(c.log_types, LOG_T_ERROR | LOG_T_DEBUG | LOG_T_NOTICE, "one file, one union");
	rm_rf(dir);
}

Test(conf, included_listener_sections_continue_as_if_inline)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	write_in(dir, "l.conf", "listener 1999 127.0.0.1\nmax_connections 4\n");
	char text[600];
	snprintf(text, sizeof(text), "include_dir %s\nprotocol mqtt\nmax_connections 6\n", dir);
	cr_assert_eq(load(text), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].max_connections, 6);
	cr_assert(strstr(c.listeners[0].file, "l.conf"), "%s", c.listeners[0].file);
	cr_assert_eq(c.listeners[0].line, 1);
	rm_rf(dir);
}

Test(conf, error_in_an_included_file_names_that_file_and_line)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	write_in(dir, "a.conf", "max_keepalive 10\n");
	write_in(dir, "bad.conf", "# fine\nmax_keepalive never\n");
	char text[600], want[600];
	snprintf(text, sizeof(text), "\ninclude_dir %s\n", dir);
	cr_assert_eq(load(text), FM_ECONFIG);
	snprintf(want, sizeof(want), "%s/bad.conf:2: option 'max_keepalive'", dir);
	cr_assert(strncmp(eb.msg, want, strlen(want)) == 0, "'%s' does not start '%s'", eb.msg, want);
	rm_rf(dir);
}

Test(conf, empty_include_dir_is_fine)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	char text[600];
	snprintf(text, sizeof(text), "include_dir %s\nmax_keepalive 11\n", dir);
	cr_assert_eq(load(text), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_keepalive, 11);
	rm_rf(dir);
}

Test(conf, include_dir_that_includes_itself_stops)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	char text[600];
	snprintf(text, sizeof(text), "include_dir %s\n", dir);
	write_in(dir, "loop.conf", text);
	cr_assert_eq(load(text), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "loop.conf:1: option 'include_dir'"), "%s", eb.msg);
	rm_rf(dir);
}

Test(conf, missing_include_dir_and_missing_file_are_errors)
{
	expect_error("\ninclude_dir /nonexistent/dir\n", "test.conf:2: ", "option 'include_dir'");
	cr_assert(strstr(eb.msg, "/nonexistent/dir"), "%s", eb.msg);
	reset();
	cr_assert_eq(conf_load_file(&c, "/nonexistent/fleetmq.conf", &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "/nonexistent/fleetmq.conf"), "%s", eb.msg);
}

/* --- finish ----------------------------------------------------------------------- */

Test(conf, finish_adds_the_embedded_default_listener)
{
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 1883);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert_eq(c.listeners[0].protocol, CONF_PROTO_MQTT);
	cr_assert_eq(c.listeners[0].max_connections, -1);
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]), "loopback only");
}

Test(conf, finish_embedded_default_follows_an_explicit_allow_anonymous)
{
	cr_assert_eq(load("allow_anonymous false\nmax_keepalive 99\n"), FM_OK);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert_eq(c.max_keepalive, 99);
}

Test(conf, finish_keeps_configured_listeners_and_refuses_anonymous_unless_allowed)
{
	cr_assert_eq(load("listener 1883\nlistener 1884 ::1\n"), FM_OK);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 2);
	cr_assert_null(c.listeners[0].bind_address);
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[1]));
	expect_ok("listener 1883\nallow_anonymous true\n");
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
}

Test(conf, finish_with_only_a_legacy_port_adds_nothing)
{
	cr_assert_eq(load("port 1885\n"), FM_OK);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 1885);
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[0]));
}

Test(conf, fini_twice_and_init_again)
{
	cr_assert_eq(load("listener 1883 ::1\npid_file /x\nlog_dest file /y\n"), FM_OK);
	conf_fini(&c);
	conf_fini(&c);
	conf_init(&c);
	cr_assert_eq(c.n_listeners, 0);
}

/* --- reload ------------------------------------------------------------------------ */

static void load_fresh(struct conf *fresh, const char *text)
{
	conf_init(fresh);
	cr_assert_eq(conf_load_string(fresh, "new.conf", text, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(conf_finish(fresh, &eb), FM_OK, "%s", eb.msg);
}

Test(conf, reload_copies_every_reloadable_option)
{
	cr_assert_eq(load("listener 1883 127.0.0.1\nallow_anonymous true\n"), FM_OK);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	struct conf fresh;
	load_fresh(&fresh, "max_connections 12\nlistener 1883 127.0.0.1\nallow_anonymous false\n"
		   "max_inflight_messages 2\n"
		   "max_queued_messages 3\nmax_queued_bytes 4\nmessage_size_limit 5\nmax_keepalive 45\n"
		   "retain_available false\nlog_type error\nconnect_timeout 4\nmax_publish_rate 7\nmemory_limit 123456\n"
		   "sys_interval 3\nmax_topic_length 9\nmax_output_buffer 3000000\nslow_consumer_timeout 2\n");
	conf_apply_reloadable(&c, &fresh);
	cr_assert_eq(c.max_topic_length, 9);
	cr_assert_eq(c.max_output_buffer, 3000000);
	cr_assert_eq(c.slow_consumer_timeout_s, 2);
	cr_assert_eq(c.sys_interval_s, 3);
	cr_assert_eq(c.max_publish_rate, 7);
	cr_assert_eq(c.memory_limit, 123456);
	cr_assert_not(c.allow_anonymous);
	cr_assert(c.allow_anonymous_set);
	cr_assert_eq(c.max_connections, 12);
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert_eq(c.max_inflight_messages, 2);
	cr_assert_eq(c.max_queued_messages, 3);
	cr_assert_eq(c.max_queued_bytes, 4);
	cr_assert_eq(c.message_size_limit, 5);
	cr_assert_eq(c.max_keepalive, 45);
	cr_assert_not(c.retain_available);
	cr_assert_eq(c.log_types, LOG_T_ERROR);
	cr_assert_eq(c.connect_timeout_s, 4);
	conf_fini(&fresh);
}

Test(conf, reload_leaves_options_that_need_a_restart)
{
	cr_assert_eq(load("listener 1883 127.0.0.1\npersistence_location /a\npid_file /p1\n"
			  "log_dest stdout\nworkers 2\n"), FM_OK);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	struct conf fresh;
	load_fresh(&fresh, "per_listener_settings true\nlistener 1883 ::1\nlistener 1999\n"
		   "persistence_location /b\npid_file /p2\nlog_dest syslog\nlog_dest file /l\n"
		   "workers 8\npersistence false\n");
	conf_apply_reloadable(&c, &fresh);
	cr_assert_eq(c.n_listeners, 1, "listeners are neither added nor removed by a reload");
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert_str_eq(c.persistence_location, "/a");
	cr_assert_str_eq(c.pid_file, "/p1");
	cr_assert_eq(c.log_dests, LOG_D_STDOUT);
	cr_assert_null(c.log_file);
	cr_assert_eq(c.workers, 2);
	cr_assert(c.persistence);
	cr_assert(c.per_listener_settings, "reloadable: it says whose password and ACL files apply");
	conf_fini(&fresh);
}

Test(conf, reload_matches_listeners_on_port_and_address)
{
	cr_assert_eq(load("per_listener_settings true\nlistener 1883 127.0.0.1\nmax_connections 9\n"
			  "allow_anonymous true\nlistener 1883\nmax_connections 8\nlistener 8883 ::1\n"
			  "max_connections 7\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	struct conf fresh;
	load_fresh(&fresh, "per_listener_settings true\nlistener 1883\nmax_connections 80\n"
		   "allow_anonymous true\nlistener 1883 127.0.0.1\nmax_connections 90\n"
		   "allow_anonymous false\nlistener 8883 127.0.0.1\nmax_connections 70\n");
	conf_apply_reloadable(&c, &fresh);
	cr_assert_eq(c.listeners[0].max_connections, 90, "1883 on 127.0.0.1");
	cr_assert_eq(c.listeners[0].allow_anonymous, 0);
	cr_assert_eq(c.listeners[1].max_connections, 80, "1883 on every address");
	cr_assert_eq(c.listeners[1].allow_anonymous, 1);
	cr_assert_eq(c.listeners[2].max_connections, 7, "8883 on ::1 is gone from the file: untouched");
	cr_assert_eq(c.listeners[2].allow_anonymous, -1);
	conf_fini(&fresh);
}

Test(conf, reload_of_the_embedded_default_keeps_anonymous_access)
{
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	struct conf fresh;
	load_fresh(&fresh, "max_keepalive 30\n");
	conf_apply_reloadable(&c, &fresh);
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert_eq(c.max_keepalive, 30);
	conf_fini(&fresh);
}

/* --- the shipped file ---------------------------------------------------------------- */

/* Path of conf/fleetmq.conf in the source tree (see the file comment).
 * With FLEETMQ_SOURCE_ROOT set (meson test does) the file must be there;
 * without it, a path derived from __FILE__ is tried and the test is
 * skipped when that does not lead to the file either. */
static void shipped_conf_path(char *out, size_t len)
{
	const char *root = getenv("FLEETMQ_SOURCE_ROOT");
	if (root && *root) {
		snprintf(out, len, "%s/conf/fleetmq.conf", root);
		cr_assert_eq(access(out, R_OK), 0, "FLEETMQ_SOURCE_ROOT=%s: cannot read %s", root, out);
		return;
	}
	const char *file = __FILE__, *suffix = "test/unit/config/conf_test.c";
	size_t flen = strlen(file), slen = strlen(suffix);
	if (flen < slen || strcmp(file + flen - slen, suffix) != 0)
		cr_skip("FLEETMQ_SOURCE_ROOT is not set and __FILE__ (%s) gives no source root", file);
	int prefix = (int)(flen - slen);
	if (file[0] == '/') {
		snprintf(out, len, "%.*sconf/fleetmq.conf", prefix, file);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			cr_skip("FLEETMQ_SOURCE_ROOT is not set and /proc/self/exe is unreadable");
		exe[n] = '\0';
		char *build = dirname(dirname(exe)); /* BUILD/test/unit_config -> BUILD */
		snprintf(out, len, "%s/%.*sconf/fleetmq.conf", build, prefix, file);
	}
	if (access(out, R_OK) != 0)
		cr_skip("FLEETMQ_SOURCE_ROOT is not set and %s is not readable", out);
}

Test(conf, shipped_config_file_loads)
{
	char path[PATH_MAX + 64];
	shipped_conf_path(path, sizeof(path));
	cr_assert_eq(conf_load_file(&c, path, &eb), FM_OK, "%s", eb.msg);
	/* the two live lines, from the file itself (not the embedded default) */
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 1883);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert_str_eq(c.listeners[0].file, path);
	cr_assert_gt(c.listeners[0].line, 1);
	cr_assert(c.allow_anonymous_set, "the file says allow_anonymous true");
	cr_assert(c.allow_anonymous);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 1, "conf_finish adds nothing to a configured listener");
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	/* everything else is commented out at its default */
	struct conf d;
	conf_init(&d);
	cr_assert_eq(c.per_listener_settings, d.per_listener_settings);
	cr_assert_eq(c.max_connections, d.max_connections);
	cr_assert_eq(c.listeners[0].max_connections, -1);
	cr_assert_eq(c.listeners[0].allow_anonymous, -1);
	cr_assert_eq(c.listeners[0].protocol, CONF_PROTO_MQTT);
	cr_assert_eq(c.max_inflight_messages, d.max_inflight_messages);
	cr_assert_eq(c.max_queued_messages, d.max_queued_messages);
	cr_assert_eq(c.max_queued_bytes, d.max_queued_bytes);
	cr_assert_eq(c.message_size_limit, d.message_size_limit);
	cr_assert_eq(c.max_keepalive, d.max_keepalive);
	cr_assert_eq(c.retain_available, d.retain_available);
	cr_assert_eq(c.persistence, d.persistence);
	cr_assert_str_eq(c.persistence_location, d.persistence_location);
	cr_assert_eq(c.log_types, d.log_types);
	cr_assert_eq(c.log_dests, d.log_dests);
	cr_assert_null(c.log_file);
	cr_assert_null(c.pid_file);
	cr_assert_eq(c.connect_timeout_s, d.connect_timeout_s);
	cr_assert_eq(c.workers, d.workers);
	conf_fini(&d);
}

/* Every commented-out "#option value" example line in the shipped file
 * must itself be valid config: uncommenting any one of them must work. */
Test(conf, shipped_config_file_examples_are_valid_lines)
{
	char path[PATH_MAX + 64];
	shipped_conf_path(path, sizeof(path));
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s", path);
	char line[512];
	int lineno = 0, examples = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		/* "#word ..." with no space after '#': an example, not prose */
		if (line[0] != '#' || !(line[1] >= 'a' && line[1] <= 'z'))
			continue;
		if (strncmp(line, "#include_dir ", 13) == 0)
			continue; /* names a directory that need not exist here */
		reset();
		char text[600];
		/* a connection line, so that bridge options have their block;
		 * the global options after it stay global */
		snprintf(text, sizeof(text), "listener 1883\nconnection example\n%s", line + 1);
		cr_assert_eq(load(text), FM_OK, "%s:%d: example '%s' does not load: %s", path, lineno,
			     line + 1, eb.msg);
		examples++;
	}
	fclose(f);
	cr_assert_geq(examples, 20, "only %d example lines", examples);
}

/* The "(reload)" / "(restart)" marks on each option's heading line agree
 * with what conf_apply_reloadable really copies. */
Test(conf, shipped_config_file_says_which_options_sighup_reloads)
{
	static const struct { const char *name; bool reload; } opts[] = {
		{"allow_anonymous", true}, {"max_connections", true},
		{"max_inflight_messages", true}, {"max_queued_messages", true},
		{"max_queued_bytes", true}, {"message_size_limit", true},
		{"max_keepalive", true}, {"retain_available", true}, {"log_type", true},
		{"connect_timeout", true},
		{"listener", false}, {"port", false}, {"bind_address", false}, {"protocol", false},
		{"per_listener_settings", true}, {"persistence", false},
		{"persistence_location", false}, {"log_dest", false}, {"pid_file", false},
		{"workers", false}, {"durability", false}, {"durability_interval", false},
		{"autosave_interval", false}, {"autosave_on_changes", false}, {"persistence_file", false},
		{"persistent_client_expiration", false},
		{"certfile", false}, {"keyfile", false}, {"cafile", false}, {"capath", false},
		{"crlfile", false}, {"require_certificate", false}, {"use_identity_as_username", false},
		{"use_subject_as_username", false}, {"tls_version", false}, {"ciphers", false},
		{"psk_hint", false}, {"psk_file", false}, {"socket_domain", false}, {"bind_interface", false},
		{"websockets_path", false}, {"websockets_trust_x_forwarded_for", false},
		{"websockets_headers_size", false}, {"password_file", true}, {"acl_file", true}, {"max_publish_rate", true}, {"memory_limit", true},
		{"sys_interval", true}, {"max_topic_length", true}, {"max_output_buffer", true},
		{"slow_consumer_timeout", true},
		/* bridges: restart only */
		{"connection", false}, {"address", false}, {"addresses", false}, {"topic", false},
		{"bridge_protocol_version", false}, {"remote_clientid", false}, {"local_clientid", false},
		{"remote_username", false}, {"remote_password", false}, {"local_username", false},
		{"local_password", false}, {"cleansession", false}, {"local_cleansession", false},
		{"keepalive_interval", false}, {"restart_timeout", false}, {"start_type", false},
		{"idle_timeout", false}, {"threshold", false}, {"try_private", false},
		{"notifications", false}, {"notifications_local_only", false}, {"notification_topic", false},
		{"round_robin", false}, {"bridge_outgoing_retain", false}, {"bridge_attempt_unsubscribe", false},
		{"bridge_max_packet_size", false}, {"bridge_cafile", false}, {"bridge_capath", false},
		{"bridge_certfile", false}, {"bridge_keyfile", false}, {"bridge_insecure", false},
		{"bridge_tls_version", false},
	};
	char path[PATH_MAX + 64];
	shipped_conf_path(path, sizeof(path));
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s", path);
	static char text[64 * 1024];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	/* heading lines are "# NAME VALUES  (mark...)"; prose lines that happen
	 * to start with an option name carry no mark */
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char heading[64];
		snprintf(heading, sizeof(heading), "\n# %s ", opts[i].name);
		int right = 0;
		for (const char *h = text; (h = strstr(h, heading)) != NULL; h += strlen(heading)) {
			size_t hlen = strcspn(h + 1, "\n");
			char line[256];
			snprintf(line, sizeof(line), "%.*s", (int)hlen, h + 1);
			bool reload = strstr(line, "(reload") != NULL, restart = strstr(line, "(restart") != NULL;
			cr_assert(!(opts[i].reload ? restart : reload), "'%s' should say (%s)", line,
				  opts[i].reload ? "reload" : "restart");
			right += opts[i].reload ? reload : restart;
		}
		cr_assert_eq(right, 1, "option '%s': %d heading lines saying (%s)", opts[i].name, right,
			     opts[i].reload ? "reload" : "restart");
	}
	cr_assert(strstr(text, "mosquitto.conf"), "the header names mosquitto.conf");
	cr_assert(strstr(text, "not supported yet"), "the header explains refused options");
}

Test(conf, shipped_config_file_documents_every_supported_option)
{
	static const char *const opts[] = {
		"listener", "port", "bind_address", "protocol", "per_listener_settings",
		"max_connections", "allow_anonymous", "max_inflight_messages", "max_queued_messages",
		"max_queued_bytes", "message_size_limit", "max_keepalive", "retain_available",
		"persistence", "persistence_location", "log_dest", "log_type", "include_dir",
		"pid_file", "connect_timeout", "workers", "certfile", "keyfile", "cafile", "crlfile",
		"require_certificate", "use_identity_as_username", "use_subject_as_username",
		"tls_version", "ciphers", "psk_hint", "psk_file", "socket_domain", "bind_interface",
		"websockets_path", "websockets_trust_x_forwarded_for", "websockets_headers_size",
		"password_file", "acl_file", "max_publish_rate", "memory_limit", "sys_interval",
		"max_topic_length", "max_output_buffer", "slow_consumer_timeout", "connection", "address", "topic", "bridge_protocol_version", "remote_clientid",
		"local_clientid", "remote_username", "remote_password", "local_username", "local_password",
		"cleansession", "local_cleansession", "keepalive_interval", "restart_timeout", "start_type",
		"idle_timeout", "threshold", "try_private", "notifications", "notifications_local_only",
		"notification_topic", "round_robin", "bridge_outgoing_retain", "bridge_attempt_unsubscribe",
		"bridge_max_packet_size", "bridge_cafile", "bridge_certfile", "bridge_keyfile",
		"bridge_insecure", "bridge_tls_version",
	};
	char path[PATH_MAX + 64];
	shipped_conf_path(path, sizeof(path));
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s", path);
	static char text[64 * 1024];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char commented[64];
		snprintf(commented, sizeof(commented), "\n#%s ", opts[i]);
		char set[64];
		snprintf(set, sizeof(set), "\n%s ", opts[i]);
		cr_assert(strstr(text, commented) || strstr(text, set), "option '%s' not documented", opts[i]);
	}
}

Test(conf, log_types_fixed_on_the_command_line_survive_a_reload)
{
	c.log_types = LOG_T_ALL;
	c.log_types_fixed = true; /* what -v does */
	struct conf fresh;
	conf_init(&fresh);
	cr_assert_eq(conf_load_string(&fresh, "new.conf", "log_type error\n", &eb), FM_OK);
	conf_apply_reloadable(&c, &fresh);
	cr_assert_eq(c.log_types, LOG_T_ALL);
	conf_fini(&fresh);
}

/* --- more edges ------------------------------------------------------------------------ */

Test(conf, reload_back_to_defaults_resets_reloadable_options)
{
	cr_assert_eq(load("max_connections 3\nlistener 1883\nmax_connections 2\nallow_anonymous true\n"
			  "max_inflight_messages 2\nmax_queued_messages 3\nmax_queued_bytes 4\n"
			  "message_size_limit 5\nmax_keepalive 45\nretain_available false\n"
			  "log_type debug\nconnect_timeout 4\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	struct conf fresh;
	load_fresh(&fresh, "listener 1883\n");
	conf_apply_reloadable(&c, &fresh);
	struct conf d;
	conf_init(&d);
	cr_assert_eq(c.max_connections, -1);
	cr_assert_eq(c.listeners[0].max_connections, -1);
	cr_assert_not(c.allow_anonymous_set);
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert_eq(c.max_inflight_messages, d.max_inflight_messages);
	cr_assert_eq(c.max_queued_messages, d.max_queued_messages);
	cr_assert_eq(c.max_queued_bytes, d.max_queued_bytes);
	cr_assert_eq(c.message_size_limit, d.message_size_limit);
	cr_assert_eq(c.max_keepalive, d.max_keepalive);
	cr_assert(c.retain_available);
	cr_assert_eq(c.log_types, LOG_T_DEFAULT);
	cr_assert_eq(c.connect_timeout_s, d.connect_timeout_s);
	conf_fini(&d);
	conf_fini(&fresh);
}

Test(conf, log_dest_none_then_others_and_the_last_file_wins)
{
	cr_assert_eq(load("log_dest none\nlog_dest stdout\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.log_dests, LOG_D_STDOUT, "none clears only what came before");
	expect_ok("log_dest file /tmp/a.log\nlog_dest file /tmp/b.log\n");
	cr_assert_eq(c.log_dests, LOG_D_FILE, "the first line replaces stderr");
	cr_assert_str_eq(c.log_file, "/tmp/b.log");
	expect_ok("log_dest stderr\nlog_dest stdout\nlog_dest syslog\nlog_dest file /x\n");
	cr_assert_eq(c.log_dests, LOG_D_STDERR | LOG_D_STDOUT | LOG_D_SYSLOG | LOG_D_FILE);
}

Test(conf, log_type_all_none_and_duplicates)
{
	cr_assert_eq(load("log_type all\nlog_type none\n"), FM_OK);
	cr_assert_eq(c.log_types, LOG_T_ALL, "none after another line adds nothing");
	expect_ok("log_type error\nlog_type error\nlog_type warning\n");
	cr_assert_eq(c.log_types, LOG_T_ERROR | LOG_T_WARNING);
	expect_error("log_type error warning\n", "test.conf:1: ", "option 'log_type': too many values");
}

Test(conf, not_yet_options_are_refused_with_or_without_values)
{
	expect_error("global_plugin\n", "test.conf:1: ", "option 'global_plugin' is not supported yet");
	expect_error("\n\nbridge_alpn x\n", "test.conf:3: ", "option 'bridge_alpn' is not supported yet");
	expect_error("connection bridge-01\nbridge_require_ocsp\n", "test.conf:2: ",
		     "option 'bridge_require_ocsp' is not supported yet");
	expect_error("listener 1883\nmount_point a/\n", "test.conf:2: ", "option 'mount_point' is not supported yet");
	/* a name that only starts like an unsupported one is just unknown */
	expect_error("password_files x\n", "test.conf:1: ", "unknown option 'password_files'");
	expect_error("bridge x\n", "test.conf:1: ", "unknown option 'bridge'");
}

Test(conf, numbers_are_plain_decimal)
{
	expect_error("max_keepalive 1e3\n", "test.conf:1: ", "option 'max_keepalive': '1e3' is not a number");
	expect_error("max_keepalive 60s\n", "test.conf:1: ", "option 'max_keepalive'");
	expect_error("max_keepalive -0\n", "test.conf:1: ", "option 'max_keepalive'");
	expect_error("listener -1883\n", "test.conf:1: ", "option 'listener'");
	expect_error("max_connections -1x\n", "test.conf:1: ", "option 'max_connections'");
	expect_error("connect_timeout 99999999999999999999999\n", "test.conf:1: ", "option 'connect_timeout'");
	expect_ok("max_keepalive 010\n");
	cr_assert_eq(c.max_keepalive, 10, "leading zeros are decimal, not octal");
}

Test(conf, errors_without_an_errbuf_still_fail)
{
	cr_assert_eq(conf_load_string(&c, "x.conf", "bogus 1\n", NULL), FM_ECONFIG);
	cr_assert_eq(conf_load_string(&c, "x.conf", "max_keepalive 99999\n", NULL), FM_ECONFIG);
	cr_assert_eq(conf_load_file(&c, "/nonexistent/x.conf", NULL), FM_ECONFIG);
	cr_assert_eq(conf_load_string(&c, "x.conf", "max_keepalive 9\n", NULL), FM_OK);
	cr_assert_eq(c.max_keepalive, 9);
}

Test(conf, load_file_crlf_no_final_newline_and_nul_bytes)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	char path[512];
	snprintf(path, sizeof(path), "%s/crlf.conf", dir);
	write_text(path, "# header\r\n\r\n\tlistener 1884\t::1\r\nmax_connections 3\r\nallow_anonymous true");
	cr_assert_eq(conf_load_file(&c, path, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 1884);
	cr_assert_str_eq(c.listeners[0].bind_address, "::1");
	cr_assert_str_eq(c.listeners[0].file, path);
	cr_assert_eq(c.listeners[0].line, 3);
	cr_assert_eq(c.listeners[0].max_connections, 3);
	cr_assert(c.allow_anonymous);

	reset();
	snprintf(path, sizeof(path), "%s/empty.conf", dir);
	write_text(path, "");
	cr_assert_eq(conf_load_file(&c, path, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 0);

	reset();
	snprintf(path, sizeof(path), "%s/binary.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fwrite("max_keepalive 5\n\0\0", 1, 18, f);
	fclose(f);
	cr_assert_eq(conf_load_file(&c, path, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, path), "%s", eb.msg);
	rm_rf(dir);
}

Test(conf, include_dir_later_file_overrides_and_listeners_keep_file_order)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	write_in(dir, "20-limits.conf", "max_queued_messages 20\nlistener 2020\n");
	write_in(dir, "10-limits.conf", "max_queued_messages 10\npid_file /ten\nlistener 1010\n");
	write_in(dir, "30-other.conf.disabled", "max_queued_messages 30\n");
	char sub[600];
	snprintf(sub, sizeof(sub), "%s/sub.conf", dir); /* a directory named *.conf */
	cr_assert_eq(mkdir(sub, 0700), 0);
	char text[600];
	snprintf(text, sizeof(text), "max_queued_messages 1\ninclude_dir %s\n", dir);
	cr_assert_eq(load(text), FM_ECONFIG, "a directory called sub.conf cannot be read as a file");
	cr_assert(strstr(eb.msg, "sub.conf"), "%s", eb.msg);
	cr_assert(rmdir(sub) == 0);

	reset();
	snprintf(text, sizeof(text), "max_queued_messages 1\ninclude_dir %s\nmax_inflight_messages 3\n", dir);
	cr_assert_eq(load(text), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_queued_messages, 20, "20-limits.conf is read after 10-limits.conf");
	cr_assert_str_eq(c.pid_file, "/ten");
	cr_assert_eq(c.max_inflight_messages, 3, "lines after include_dir are read after it");
	cr_assert_eq(c.n_listeners, 2);
	cr_assert_eq(c.listeners[0].port, 1010);
	cr_assert_eq(c.listeners[1].port, 2020);

	/* with the main file after the include: the main file wins */
	reset();
	snprintf(text, sizeof(text), "include_dir %s\nmax_queued_messages 1\n", dir);
	cr_assert_eq(load(text), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_queued_messages, 1);
	rm_rf(dir);
}

Test(conf, error_in_an_included_file_is_reported_through_load_file_too)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	char inc[600];
	snprintf(inc, sizeof(inc), "%s/conf.d", dir);
	cr_assert_eq(mkdir(inc, 0700), 0);
	write_in(inc, "a.conf", "listener 1883\n\n\nmax_qos 1\n");
	char main_conf[600], text[800], want[800];
	snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
	snprintf(text, sizeof(text), "# main\ninclude_dir %s\n", inc);
	write_text(main_conf, text);
	cr_assert_eq(conf_load_file(&c, main_conf, &eb), FM_ECONFIG);
	snprintf(want, sizeof(want), "%s/a.conf:4: option 'max_qos' is not supported yet", inc);
	cr_assert_str_eq(eb.msg, want);

	/* and the missing directory is named with the including file's line */
	rm_rf(inc);
	reset();
	cr_assert_eq(conf_load_file(&c, main_conf, &eb), FM_ECONFIG);
	snprintf(want, sizeof(want), "%s:2: option 'include_dir'", main_conf);
	cr_assert(strncmp(eb.msg, want, strlen(want)) == 0, "'%s' does not start '%s'", eb.msg, want);
	cr_assert(strstr(eb.msg, inc), "%s", eb.msg);
	rm_rf(dir);
}

Test(conf, listener_sections_scope_only_listener_options)
{
	/* global options inside a listener section stay global */
	cr_assert_eq(load("listener 1883\nmax_keepalive 30\nlistener 1884\nmax_inflight_messages 4\n"
			  "allow_anonymous true\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_keepalive, 30);
	cr_assert_eq(c.max_inflight_messages, 4);
	cr_assert(c.allow_anonymous, "per_listener_settings false: global");
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[1]));
}

Test(conf, listener_allow_anonymous_resolution)
{
	struct conf_listener l = {.allow_anonymous = -1};
	c.allow_anonymous = false;
	cr_assert_not(conf_listener_allow_anonymous(&c, &l));
	cr_assert_not(conf_listener_allow_anonymous(&c, NULL));
	c.allow_anonymous = true;
	cr_assert(conf_listener_allow_anonymous(&c, &l), "unset: the global");
	cr_assert(conf_listener_allow_anonymous(&c, NULL));
	l.allow_anonymous = 0;
	cr_assert_not(conf_listener_allow_anonymous(&c, &l), "the listener's own setting wins");
	c.allow_anonymous = false;
	l.allow_anonymous = 1;
	cr_assert(conf_listener_allow_anonymous(&c, &l));
}
