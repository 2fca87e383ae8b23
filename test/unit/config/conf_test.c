/* The config parser: every supported option, defaults, include_dir, the
 * embedded default listener, reload, and error messages that name file,
 * line and option. */
#include "config/conf.h"
#include "core/log.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct conf c;
static struct fm_errbuf eb;

static void setup(void)
{
	conf_init(&c);
	memset(&eb, 0, sizeof(eb));
}

static void teardown(void) { conf_fini(&c); }

TestSuite(conf, .init = setup, .fini = teardown);

static int load(const char *text) { return conf_load_string(&c, "test.conf", text, &eb); }

static void expect_error(const char *text, const char *where, const char *what)
{
	conf_fini(&c);
	conf_init(&c);
	cr_assert_eq(load(text), FM_ECONFIG, "accepted: %s", text);
	cr_assert(strstr(eb.msg, where), "'%s' not in '%s'", where, eb.msg);
	cr_assert(strstr(eb.msg, what), "'%s' not in '%s'", what, eb.msg);
}

Test(conf, defaults)
{
	cr_assert_eq(c.n_listeners, 0);
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
	cr_assert_eq(c.connect_timeout_s, 10);
	cr_assert_eq(c.workers, 0);
}

Test(conf, listeners_with_and_without_address)
{
	cr_assert_eq(load("listener 1883 127.0.0.1\nlistener 8883\nlistener 1884 ::1\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 3);
	cr_assert_eq(c.listeners[0].port, 1883);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert_null(c.listeners[1].bind_address);
	cr_assert_str_eq(c.listeners[2].bind_address, "::1");
	cr_assert_eq(c.listeners[2].line, 3);
	cr_assert_eq(c.listeners[0].protocol, CONF_PROTO_MQTT);
}

Test(conf, legacy_port_and_bind_address)
{
	cr_assert_eq(load("bind_address 127.0.0.2\nport 1999\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 1999);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.2");
}

Test(conf, max_connections_global_and_per_listener)
{
	cr_assert_eq(load("max_connections 100\nlistener 1883\nmax_connections 5\nlistener 1884\n"), FM_OK);
	cr_assert_eq(c.max_connections, 100);
	cr_assert_eq(c.listeners[0].max_connections, 5);
	cr_assert_eq(c.listeners[1].max_connections, -1);
}

Test(conf, allow_anonymous_global_and_per_listener)
{
	cr_assert_eq(load("allow_anonymous true\nlistener 1883\nallow_anonymous false\n"), FM_OK);
	cr_assert_not(c.allow_anonymous, "without per_listener_settings the last line is global");
	cr_assert(c.allow_anonymous_set);
	conf_fini(&c);
	conf_init(&c);
	cr_assert_eq(load("per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 1884\n"), FM_OK);
	cr_assert(c.per_listener_settings);
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[1]));
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

Test(conf, log_dest_first_line_replaces_later_lines_add)
{
	cr_assert_eq(load("log_dest stdout\nlog_dest file /tmp/x.log\nlog_dest syslog\n"), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.log_dests, LOG_D_STDOUT | LOG_D_FILE | LOG_D_SYSLOG);
	cr_assert_str_eq(c.log_file, "/tmp/x.log");
	conf_fini(&c);
	conf_init(&c);
	cr_assert_eq(load("log_dest none\n"), FM_OK);
	cr_assert_eq(c.log_dests, 0);
}

Test(conf, log_type_first_line_replaces_later_lines_add)
{
	cr_assert_eq(load("log_type error\nlog_type subscribe\n"), FM_OK);
	cr_assert_eq(c.log_types, LOG_T_ERROR | LOG_T_SUBSCRIBE);
	conf_fini(&c);
	conf_init(&c);
	cr_assert_eq(load("log_type none\n"), FM_OK);
	cr_assert_eq(c.log_types, 0);
	conf_fini(&c);
	conf_init(&c);
	cr_assert_eq(load("log_type all\n"), FM_OK);
	cr_assert_eq(c.log_types, LOG_T_ALL);
}

Test(conf, comments_blank_lines_tabs_and_crlf)
{
	cr_assert_eq(load("# a comment line with many more words than any option ever takes\n\n   \n\tlistener\t1883  127.0.0.1 \r\n# another\r\nmax_keepalive 30\r\n"),
		     FM_OK, "%s", eb.msg);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert_eq(c.max_keepalive, 30);
}

/* --- errors ---------------------------------------------------------------- */

Test(conf, unknown_option_named_with_file_and_line)
{
	expect_error("listener 1883\n\nlistner 1884\n", "test.conf:3:", "unknown option 'listner'");
}

Test(conf, unsupported_mosquitto_option_is_refused_clearly)
{
	expect_error("password_file /etc/passwd\n", "test.conf:1:", "'password_file' is not supported yet");
	expect_error("listener 1883\ncafile /x\n", "test.conf:2:", "'cafile' is not supported yet");
	expect_error("auth_opt_backend x\n", "test.conf:1:", "not supported yet");
}

Test(conf, bad_values_named_with_file_line_and_option)
{
	expect_error("max_inflight_messages lots\n", "test.conf:1:", "max_inflight_messages");
	expect_error("\nmax_queued_messages -5\n", "test.conf:2:", "max_queued_messages");
	expect_error("max_keepalive 5\n", "test.conf:1:", "out of range");
	expect_error("listener 70000\n", "test.conf:1:", "listener");
	expect_error("allow_anonymous yes\n", "test.conf:1:", "not true or false");
	expect_error("connect_timeout 0\n", "test.conf:1:", "connect_timeout");
	expect_error("message_size_limit 268435456\n", "test.conf:1:", "message_size_limit");
	expect_error("max_connections -2\n", "test.conf:1:", "max_connections");
}

Test(conf, wrong_number_of_values)
{
	expect_error("max_keepalive\n", "test.conf:1:", "needs a value");
	expect_error("max_keepalive 10 20\n", "test.conf:1:", "too many values");
	expect_error("log_dest file\n", "test.conf:1:", "file needs a path");
	expect_error("listener 1 2 3\n", "test.conf:1:", "too many values");
}

Test(conf, protocol_rules)
{
	expect_error("protocol mqtt\n", "test.conf:1:", "must follow a listener");
	expect_error("listener 1883\nprotocol websockets\n", "test.conf:2:", "websockets is not supported yet");
	expect_error("listener 1883\nprotocol carrier-pigeon\n", "test.conf:2:", "carrier-pigeon");
}

Test(conf, unknown_log_words)
{
	expect_error("log_dest printer\n", "test.conf:1:", "printer");
	expect_error("log_type chatty\n", "test.conf:1:", "chatty");
}

/* --- files and include_dir ---------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(conf, include_dir_reads_conf_files_in_alphabetical_order)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	char path[256], main_conf[256], text[512];
	snprintf(path, sizeof(path), "%s/b.conf", dir);
	write_text(path, "max_keepalive 200\n");
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	write_text(path, "max_keepalive 100\nmax_inflight_messages 7\n");
	snprintf(path, sizeof(path), "%s/c.txt", dir);
	write_text(path, "this is not a config file\n");
	snprintf(main_conf, sizeof(main_conf), "%s/main.cfg", dir);
	snprintf(text, sizeof(text), "listener 1883\ninclude_dir %s\n", dir);
	write_text(main_conf, text);
	cr_assert_eq(conf_load_file(&c, main_conf, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(c.max_keepalive, 200, "b.conf is read after a.conf");
	cr_assert_eq(c.max_inflight_messages, 7);
	rm_rf(dir);
}

Test(conf, error_in_an_included_file_names_that_file)
{
	char dir[] = "/tmp/fleetmq-conf-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	char path[256], text[512];
	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	write_text(path, "# fine\nmax_keepalive never\n");
	snprintf(text, sizeof(text), "include_dir %s\n", dir);
	cr_assert_eq(load(text), FM_ECONFIG);
	char want[300];
	snprintf(want, sizeof(want), "%s:2:", path);
	cr_assert(strstr(eb.msg, want), "'%s' not in '%s'", want, eb.msg);
	rm_rf(dir);
}

Test(conf, missing_include_dir_and_missing_file_are_errors)
{
	expect_error("include_dir /nonexistent/dir\n", "test.conf:1:", "/nonexistent/dir");
	conf_fini(&c);
	conf_init(&c);
	cr_assert_eq(conf_load_file(&c, "/nonexistent/fleetmq.conf", &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "/nonexistent/fleetmq.conf"), "%s", eb.msg);
}

/* --- finish, reload ------------------------------------------------------------- */

Test(conf, finish_adds_the_embedded_default_listener)
{
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_eq(c.listeners[0].port, 1883);
	cr_assert_str_eq(c.listeners[0].bind_address, "127.0.0.1");
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
}

Test(conf, configured_listeners_refuse_anonymous_unless_allowed)
{
	cr_assert_eq(load("listener 1883\n"), FM_OK);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert_not(conf_listener_allow_anonymous(&c, &c.listeners[0]));
}

Test(conf, reload_copies_reloadable_options_only)
{
	cr_assert_eq(load("listener 1883 127.0.0.1\nmax_connections 9\nallow_anonymous true\n"
			  "persistence_location /a\n"), FM_OK);
	struct conf fresh;
	conf_init(&fresh);
	cr_assert_eq(conf_load_string(&fresh, "new.conf",
				      "listener 1883 127.0.0.1\nmax_connections 3\nlistener 1999\n"
				      "allow_anonymous false\nmax_inflight_messages 2\nmax_keepalive 45\n"
				      "log_type error\npersistence_location /b\nconnect_timeout 4\n", &eb), FM_OK);
	conf_apply_reloadable(&c, &fresh);
	cr_assert_not(c.allow_anonymous);
	cr_assert_eq(c.max_inflight_messages, 2);
	cr_assert_eq(c.max_keepalive, 45);
	cr_assert_eq(c.connect_timeout_s, 4);
	cr_assert_eq(c.log_types, LOG_T_ERROR);
	cr_assert_eq(c.listeners[0].max_connections, 3, "matched by port and address");
	cr_assert_eq(c.n_listeners, 1, "listeners are not added by a reload");
	cr_assert_str_eq(c.persistence_location, "/a", "needs a restart");
	conf_fini(&fresh);
}

Test(conf, shipped_config_file_loads)
{
	const char *root = getenv("FLEETMQ_SOURCE_ROOT");
	if (!root)
		cr_skip_test("FLEETMQ_SOURCE_ROOT not set (run through meson test)");
	char path[512];
	snprintf(path, sizeof(path), "%s/conf/fleetmq.conf", root);
	cr_assert_eq(conf_load_file(&c, path, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(conf_finish(&c, &eb), FM_OK);
	cr_assert_eq(c.n_listeners, 1);
	cr_assert(conf_listener_allow_anonymous(&c, &c.listeners[0]));
}
