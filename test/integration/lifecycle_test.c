/* The broker process: command line, config errors, signals (SIGTERM and
 * SIGINT shut down cleanly, SIGHUP reloads), pid file, the -p option. */
#include "harness.h"
#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(lifecycle, .timeout = 60);

static int run(const char *const *args, char *out, size_t len)
{
	return hb_run_capture(args, out, len, 10);
}

/* The project version from meson.build (version: 'X.Y.Z'), so --version is
 * checked against the build's own number; "0." when the source is unknown. */
static void project_version(char *v, size_t len)
{
	snprintf(v, len, "0.");
	const char *root = getenv("FLEETMQ_SOURCE_ROOT");
	char path[512], line[256];
	if (!root)
		return;
	snprintf(path, sizeof(path), "%s/meson.build", root);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "version: '");
		if (p && !strstr(line, "meson_version")) {
			p += strlen("version: '");
			size_t n = strcspn(p, "'");
			snprintf(v, len, "%.*s", (int)n, p);
			break;
		}
	}
	if (f)
		fclose(f);
}

Test(lifecycle, version_prints_the_version)
{
	char out[512], version[64], want[80];
	const char *args[] = {hb_binary(), "--version", NULL};
	cr_assert_eq(run(args, out, sizeof(out)), 0);
	project_version(version, sizeof(version));
	snprintf(want, sizeof(want), "fleetmq %s", version);
	cr_assert(strstr(out, want), "'%s' not in: %s", want, out);
}

Test(lifecycle, help_prints_usage)
{
	char out[2048];
	const char *args[] = {hb_binary(), "--help", NULL};
	cr_assert_eq(run(args, out, sizeof(out)), 0);
	cr_assert(strstr(out, "usage: fleetmq"));
	cr_assert(strstr(out, "-c FILE"));
}

Test(lifecycle, unknown_command_line_option_is_a_usage_error)
{
	char out[2048];
	const char *args[] = {hb_binary(), "--frobnicate", NULL};
	cr_assert_eq(run(args, out, sizeof(out)), 2);
	cr_assert(strstr(out, "--frobnicate"));
	cr_assert(strstr(out, "usage:"));
}

/* Write text to a temp config file; path returned in path. */
static void temp_conf(char *path, const char *text)
{
	strcpy(path, "/tmp/fleetmq-conf-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void expect_config_error(const char *text, const char *line_tag, const char *what)
{
	char path[64], out[2048], want[128];
	temp_conf(path, text);
	const char *args[] = {hb_binary(), "-c", path, NULL};
	int status = run(args, out, sizeof(out));
	unlink(path);
	cr_assert_eq(status, 3, "exit status %d, output: %s", status, out);
	snprintf(want, sizeof(want), "%s%s", path, line_tag);
	cr_assert(strstr(out, want), "'%s' not in: %s", want, out);
	cr_assert(strstr(out, what), "'%s' not in: %s", what, out);
}

Test(lifecycle, bad_value_names_file_line_and_option)
{
	expect_config_error("# comment\nlistener 0 127.0.0.1\nmax_inflight_messages lots\n", ":3:",
			    "max_inflight_messages");
}

Test(lifecycle, unknown_option_names_file_line_and_option)
{
	expect_config_error("listener 0 127.0.0.1\n\nlistner 1884\n", ":3:", "listner");
}

Test(lifecycle, unsupported_mosquitto_option_is_refused_clearly)
{
	expect_config_error("max_qos 1\n", ":1:", "not supported yet");
}

/* A bridge block is checked at start: one without an address names its
 * connection line (the runtime is tested in bridge_test.py). */
Test(lifecycle, bad_bridge_block_is_a_startup_error)
{
	expect_config_error("listener 0 127.0.0.1\nconnection cloud\ntopic a/#\n", ":2:", "no address line");
}

Test(lifecycle, missing_config_file_is_a_clear_error)
{
	char out[1024];
	const char *args[] = {hb_binary(), "-c", "/nonexistent/fleetmq.conf", NULL};
	cr_assert_eq(run(args, out, sizeof(out)), 3);
	cr_assert(strstr(out, "/nonexistent/fleetmq.conf"), "%s", out);
}

Test(lifecycle, listener_port_in_use_is_a_clear_error)
{
	struct hb first;
	hb_start(&first, NULL);
	char path[64], out[2048], text[128];
	snprintf(text, sizeof(text), "listener %u 127.0.0.1\n", first.port);
	temp_conf(path, text);
	const char *args[] = {hb_binary(), "-c", path, NULL};
	int status = run(args, out, sizeof(out));
	unlink(path);
	/* refused at startup, not running alongside the first (SO_REUSEPORT
	 * would allow that and split the clients) */
	cr_assert_eq(status, 1, "exit status %d, output: %s", status, out);
	cr_assert(strstr(out, "Address already in use"), "%s", out);
	cr_assert(strstr(out, "127.0.0.1"), "%s", out);
	cr_assert_eq(hb_stop(&first), 0);
}

static void shutdown_with(int sig)
{
	struct hb b;
	hb_start(&b, NULL);
	struct raw r;
	raw_connect_simple(&r, b.port, "online");
	hb_signal(&b, sig);
	cr_assert(raw_closed_within(&r, 5000, NULL), "client not disconnected on shutdown");
	raw_close(&r);
	int status = hb_stop(&b);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
}

Test(lifecycle, sigterm_closes_clients_and_exits_0)
{
	shutdown_with(SIGTERM);
}

Test(lifecycle, sigint_closes_clients_and_exits_0)
{
	shutdown_with(SIGINT);
}

Test(lifecycle, pid_file_written_while_running_and_removed_on_exit)
{
	char pid_path[64];
	snprintf(pid_path, sizeof(pid_path), "/tmp/fleetmq-pid-%d", (int)getpid());
	char extra[128];
	snprintf(extra, sizeof(extra), "pid_file %s", pid_path);
	struct hb b;
	hb_start(&b, extra);
	/* the port accepts as soon as it listens; the pid file follows */
	FILE *f = NULL;
	for (int waited = 0; !f && waited < 2000; waited += 10) {
		if ((f = fopen(pid_path, "r")) == NULL)
			usleep(10000);
	}
	cr_assert(f, "pid file missing");
	long pid = 0;
	cr_assert_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	cr_assert_eq(pid, (long)b.pid);
	cr_assert_eq(hb_stop(&b), 0);
	cr_assert_neq(access(pid_path, F_OK), 0, "pid file left behind");
}

Test(lifecycle, sighup_reloads_access_rules_and_keeps_connections)
{
	struct hb b;
	hb_start_raw(&b, "listener %PORT% 127.0.0.1\nallow_anonymous true\n");
	struct raw old;
	raw_connect_simple(&old, b.port, "old");
	hb_write_conf(&b, "listener %PORT% 127.0.0.1\nallow_anonymous false\n");
	hb_signal(&b, SIGHUP);
	cr_assert(hb_log_contains(&b, "SIGHUP: reloaded", 5000));
	struct raw fresh;
	struct raw_connect_opts o = {.client_id = "new", .clean = true};
	cr_assert_eq(raw_connect(&fresh, b.port, &o, NULL), MQTT_CONNACK_NOT_AUTHORIZED);
	raw_close(&fresh);
	static const uint8_t pingreq[] = {0xC0, 0x00};
	raw_send(&old, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	raw_expect(&old, MQTT_PINGRESP, &f);
	raw_close(&old);
	cr_assert_eq(hb_stop(&b), 0);
}

/* Limits reach connections that were open before the reload: the same
 * 20-byte payload passes before and closes the publisher after. */
Test(lifecycle, sighup_applies_message_size_limit_to_open_connections)
{
	struct hb b;
	hb_start_raw(&b, "listener %PORT% 127.0.0.1\nallow_anonymous true\n");
	struct raw pub;
	raw_connect_simple(&pub, b.port, "before-reload");
	const char *big = "twenty bytes payload";
	raw_publish(&pub, "size/t", big, 1, false, 1);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 1, "no PUBACK before the reload");
	hb_write_conf(&b, "listener %PORT% 127.0.0.1\nallow_anonymous true\nmessage_size_limit 10\n");
	hb_signal(&b, SIGHUP);
	cr_assert(hb_log_contains(&b, "SIGHUP: reloaded", 5000));
	static const uint8_t pingreq[] = {0xC0, 0x00};
	raw_send(&pub, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	raw_expect(&pub, MQTT_PINGRESP, &f);
	raw_publish(&pub, "size/t", big, 1, false, 2);
	uint8_t last = 0;
	cr_assert(raw_closed_within(&pub, 5000, &last),
		  "payload above the reloaded message_size_limit accepted (last packet type %u)", last);
	cr_assert_neq(last, MQTT_PUBACK, "oversized PUBLISH acknowledged");
	raw_close(&pub);
	cr_assert_eq(hb_stop(&b), 0);
}

Test(lifecycle, sighup_with_a_broken_config_keeps_the_old_one)
{
	struct hb b;
	hb_start_raw(&b, "listener %PORT% 127.0.0.1\nallow_anonymous true\n");
	hb_write_conf(&b, "listener %PORT% 127.0.0.1\nallow_anonymous perhaps\n");
	hb_signal(&b, SIGHUP);
	cr_assert(hb_log_contains(&b, "keeping the previous configuration", 5000));
	cr_assert(hb_log_contains(&b, ":2:", 0), "reload error names the line");
	cr_assert(hb_alive(&b));
	struct raw r;
	raw_connect_simple(&r, b.port, "still-anonymous");
	raw_close(&r);
	cr_assert_eq(hb_stop(&b), 0);
}

Test(lifecycle, dash_p_listens_on_the_given_loopback_port)
{
	uint16_t port = hb_free_port();
	char port_s[16];
	snprintf(port_s, sizeof(port_s), "%u", port);
	const char *args[] = {hb_binary(), "-p", port_s, NULL};
	struct hb b;
	hb_start_argv(&b, args, port);
	struct raw r;
	raw_connect_simple(&r, port, "dash-p");
	raw_close(&r);
	cr_assert_eq(hb_stop(&b), 0);
}

Test(lifecycle, dash_p_listener_stays_anonymous_across_a_reload)
{
	char dir[] = "/tmp/fleetmq-p-XXXXXX";
	cr_assert(mkdtemp(dir));
	char conf_path[128], port_s[16];
	snprintf(conf_path, sizeof(conf_path), "%s/only-limits.conf", dir);
	FILE *f = fopen(conf_path, "w");
	cr_assert(f);
	fputs("max_inflight_messages 10\n", f);
	fclose(f);
	uint16_t port = hb_free_port();
	snprintf(port_s, sizeof(port_s), "%u", port);
	const char *args[] = {hb_binary(), "-c", conf_path, "-p", port_s, NULL};
	struct hb b;
	hb_start_argv(&b, args, port);
	struct raw r;
	raw_connect_simple(&r, port, "before");
	raw_close(&r);
	hb_signal(&b, SIGHUP);
	cr_assert(hb_log_contains(&b, "SIGHUP: reloaded", 5000));
	raw_connect_simple(&r, port, "after"); /* still accepted */
	raw_close(&r);
	cr_assert_eq(hb_stop(&b), 0);
	unlink(conf_path);
	rmdir(dir);
}
