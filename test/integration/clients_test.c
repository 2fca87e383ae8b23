/* Real clients against fleetmq: libmosquitto (C library) and Debian's
 * mosquitto_pub / mosquitto_sub command line tools. */
#include "harness.h"

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct hb broker;

static void start(void)
{
	hb_start(&broker, NULL);
	mosquitto_lib_init();
}

static void stop(void)
{
	mosquitto_lib_cleanup();
	cr_assert_eq(hb_stop(&broker), 0, "broker exit status");
}

TestSuite(libmosquitto, .init = start, .fini = stop, .timeout = 60);
TestSuite(cli, .init = start, .fini = stop, .timeout = 60);

/* --- libmosquitto ------------------------------------------------------- */

struct lib_client {
	struct mosquitto *m;
	bool connected;
	int connack_rc;
	int subscribed;
	int published; /* on_publish: QoS 0 sent / QoS 1 PUBACK / QoS 2 PUBCOMP */
	int received;
	char topics[8][64], payloads[8][64];
	int qos[8];
	bool retain[8];
};

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	(void)m;
	struct lib_client *c = arg;
	c->connected = rc == 0;
	c->connack_rc = rc;
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted)
{
	(void)m;
	(void)mid;
	(void)n;
	(void)granted;
	((struct lib_client *)arg)->subscribed++;
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)mid;
	((struct lib_client *)arg)->published++;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	(void)m;
	struct lib_client *c = arg;
	if (c->received >= 8)
		return;
	int i = c->received++;
	snprintf(c->topics[i], sizeof(c->topics[i]), "%s", msg->topic);
	snprintf(c->payloads[i], sizeof(c->payloads[i]), "%.*s", msg->payloadlen, (const char *)msg->payload);
	c->qos[i] = msg->qos;
	c->retain[i] = msg->retain;
}

/* Run the clients' network loops until *flag >= want or 5 s pass. */
static bool pump_until(struct lib_client **cs, int n, const int *flag, int want)
{
	for (int i = 0; i < 500 && *flag < want; i++)
		for (int k = 0; k < n; k++)
			mosquitto_loop(cs[k]->m, 10, 1);
	return *flag >= want;
}

/* Index of the first message received on topic, or -1. */
static int find_topic(const struct lib_client *c, const char *topic)
{
	for (int i = 0; i < c->received && i < 8; i++)
		if (strcmp(c->topics[i], topic) == 0)
			return i;
	return -1;
}

static void lib_connect(struct lib_client *c, const char *id)
{
	memset(c, 0, sizeof(*c));
	c->m = mosquitto_new(id, true, c);
	cr_assert(c->m);
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_publish_callback_set(c->m, on_publish);
	mosquitto_message_callback_set(c->m, on_message);
	cr_assert_eq(mosquitto_connect(c->m, "127.0.0.1", broker.port, 30), MOSQ_ERR_SUCCESS);
	for (int i = 0; i < 500 && !c->connected; i++)
		mosquitto_loop(c->m, 10, 1);
	cr_assert(c->connected, "libmosquitto client %s did not connect (rc %d)", id, c->connack_rc);
}

static void lib_close(struct lib_client *c)
{
	mosquitto_disconnect(c->m);
	mosquitto_loop(c->m, 10, 1);
	mosquitto_destroy(c->m);
}

Test(libmosquitto, publish_and_receive_at_qos_0_1_2)
{
	struct lib_client sub, pub;
	lib_connect(&sub, "lib-sub");
	lib_connect(&pub, "lib-pub");
	struct lib_client *both[] = {&sub, &pub};
	cr_assert_eq(mosquitto_subscribe(sub.m, NULL, "lib/#", 2), MOSQ_ERR_SUCCESS);
	cr_assert(pump_until(both, 2, &sub.subscribed, 1));
	for (int q = 0; q <= 2; q++) {
		char topic[16], payload[16];
		snprintf(topic, sizeof(topic), "lib/q%d", q);
		snprintf(payload, sizeof(payload), "payload %d", q);
		cr_assert_eq(mosquitto_publish(pub.m, NULL, topic, (int)strlen(payload), payload, q, false),
			     MOSQ_ERR_SUCCESS);
	}
	cr_assert(pump_until(both, 2, &sub.received, 3), "received %d of 3", sub.received);
	cr_assert(pump_until(both, 2, &pub.published, 3), "QoS flows completed: %d of 3", pub.published);
	/* looked up by topic: ordering is only promised per topic [MQTT-4.6.0-6] */
	for (int q = 0; q <= 2; q++) {
		char topic[16], payload[16];
		snprintf(topic, sizeof(topic), "lib/q%d", q);
		snprintf(payload, sizeof(payload), "payload %d", q);
		int i = find_topic(&sub, topic);
		cr_assert(i >= 0, "nothing received on %s", topic);
		cr_assert_str_eq(sub.payloads[i], payload);
		cr_assert_eq(sub.qos[i], q, "%s delivered at QoS %d", topic, sub.qos[i]);
		cr_assert_not(sub.retain[i], "live delivery with retain set [MQTT-3.3.1-9]");
	}
	cr_assert_eq(sub.received, 3, "duplicates delivered: %d messages", sub.received);
	lib_close(&sub);
	lib_close(&pub);
}

Test(libmosquitto, retained_message_reaches_a_late_subscriber_MQTT_3_3_1_6)
{
	struct lib_client pub, late;
	lib_connect(&pub, "lib-pub");
	struct lib_client *p1[] = {&pub};
	cr_assert_eq(mosquitto_publish(pub.m, NULL, "lib/state", 2, "on", 1, true), MOSQ_ERR_SUCCESS);
	cr_assert(pump_until(p1, 1, &pub.published, 1));
	lib_connect(&late, "lib-late");
	struct lib_client *p2[] = {&late};
	cr_assert_eq(mosquitto_subscribe(late.m, NULL, "lib/+", 1), MOSQ_ERR_SUCCESS);
	cr_assert(pump_until(p2, 1, &late.received, 1), "late subscriber got no retained message");
	cr_assert_str_eq(late.topics[0], "lib/state");
	cr_assert_str_eq(late.payloads[0], "on");
	cr_assert_eq(late.qos[0], 1);
	cr_assert(late.retain[0], "retained message sent without the retain flag [MQTT-3.3.1-8]");
	lib_close(&pub);
	lib_close(&late);
}

/* --- mosquitto_pub / mosquitto_sub ---------------------------------------- */

static pid_t spawn_capture(const char *const *args, const char *out_path)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		FILE *f = freopen(out_path, "w", stdout);
		if (!f)
			_exit(126);
		execvp(args[0], (char *const *)args);
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int status;
	for (int i = 0; i < 1500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int run_pub(const char *topic, const char *msg, const char *qos, bool retain)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", broker.port);
	const char *args[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", topic, "-m", msg,
			      "-q", qos, retain ? "-r" : NULL, NULL};
	char out[128];
	snprintf(out, sizeof(out), "%s/pub.out", broker.dir);
	return wait_status(spawn_capture(args, out));
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

Test(cli, mosquitto_sub_receives_what_mosquitto_pub_sends_at_qos_1_and_2)
{
	char port[8], out_path[128], out[1024];
	snprintf(port, sizeof(port), "%u", broker.port);
	snprintf(out_path, sizeof(out_path), "%s/sub.out", broker.dir);
	const char *sub_args[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-i", "cli-sub",
				  "-t", "cli/#", "-q", "2", "-v", "-C", "3", "-W", "10", NULL};
	pid_t sub = spawn_capture(sub_args, out_path);
	cr_assert(hb_log_contains(&broker, "cli-sub 2 cli/#", 5000), "mosquitto_sub never subscribed");
	cr_assert_eq(run_pub("cli/a", "first", "1", false), 0);
	cr_assert_eq(run_pub("cli/b", "second", "2", false), 0);
	cr_assert_eq(run_pub("cli/c/d", "third", "1", false), 0);
	cr_assert_eq(wait_status(sub), 0, "mosquitto_sub did not get 3 messages");
	read_file(out_path, out, sizeof(out));
	cr_assert_str_eq(out, "cli/a first\ncli/b second\ncli/c/d third\n");
}

Test(cli, retained_message_from_mosquitto_pub_is_delivered_to_mosquitto_sub)
{
	cr_assert_eq(run_pub("cli/retained", "kept", "1", true), 0);
	char port[8], out_path[128], out[256];
	snprintf(port, sizeof(port), "%u", broker.port);
	snprintf(out_path, sizeof(out_path), "%s/sub.out", broker.dir);
	/* -F: retain flag, QoS, topic, payload [MQTT-3.3.1-8] */
	const char *sub_args[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "cli/+",
				  "-q", "1", "-C", "1", "-W", "10", "-F", "%r %q %t %p", NULL};
	cr_assert_eq(wait_status(spawn_capture(sub_args, out_path)), 0, "no retained message");
	read_file(out_path, out, sizeof(out));
	cr_assert_str_eq(out, "1 1 cli/retained kept\n");
}

Test(cli_auth, mosquitto_pub_refused_when_anonymous_is_not_allowed, .timeout = 60)
{
	struct hb b;
	hb_start_raw(&b, "listener %PORT% 127.0.0.1\nallow_anonymous false\n");
	char port[8];
	snprintf(port, sizeof(port), "%u", b.port);
	const char *args[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "x", "-m", "y", NULL};
	char out[128];
	snprintf(out, sizeof(out), "%s/pub.out", b.dir);
	cr_assert_neq(wait_status(spawn_capture(args, out)), 0);
	cr_assert(hb_log_contains(&b, "anonymous access refused", 2000));
	cr_assert_eq(hb_stop(&b), 0);
}
