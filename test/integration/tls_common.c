/* Helpers of the TLS tests: see tls.h. The fixture hooks (PRE_ALL,
 * POST_ALL) and the suite's init and fini live here too. */
#include "tls.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- fixture and processes -------------------------------------------------- */

/* Only meaningful in the runner process, where PRE_ALL and POST_ALL run. */
static char fixture_root[64];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	(void)set;
	const char *src = getenv("FLEETMQ_SOURCE_ROOT");
	strcpy(fixture_root, "/tmp/fleetmq-tls-XXXXXX");
	if (!src || !*src) {
		setenv("FM_TLS_FIXTURE_ERROR", "FLEETMQ_SOURCE_ROOT is not set (run through meson test)", 1);
		fixture_root[0] = '\0';
		return;
	}
	if (!mkdtemp(fixture_root)) {
		setenv("FM_TLS_FIXTURE_ERROR", strerror(errno), 1);
		fixture_root[0] = '\0';
		return;
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "timeout 60 bash '%s/test/support/tls_fixture.sh' '%s/certs' 2>'%s/fixture.err'",
		 src, fixture_root, fixture_root);
	if (system(cmd) == 0) {
		char dir[96];
		snprintf(dir, sizeof(dir), "%s/certs", fixture_root);
		setenv("FM_TLS_FIXTURE", dir, 1);
		return;
	}
	char path[96], err[1024] = "tls_fixture.sh failed";
	snprintf(path, sizeof(path), "%s/fixture.err", fixture_root);
	FILE *f = fopen(path, "r");
	if (f) {
		size_t n = fread(err, 1, sizeof(err) - 1, f);
		if (n > 0)
			err[n] = '\0';
		fclose(f);
	}
	setenv("FM_TLS_FIXTURE_ERROR", err, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	if (!fixture_root[0])
		return;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixture_root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fixture_root);
}

const char *fixture_dir(void)
{
	const char *dir = getenv("FM_TLS_FIXTURE");
	if (!dir) {
		const char *err = getenv("FM_TLS_FIXTURE_ERROR");
		cr_assert_fail("no TLS fixture: %s", err ? err : "PRE_ALL hook did not run");
	}
	return dir;
}

const char *fx(const char *name)
{
	static char paths[8][160];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", fixture_dir(), name);
	return p;
}

const char *ca_file(void)
{
	static char path[160];
	snprintf(path, sizeof(path), "%s/ca.crt", fixture_dir());
	return path;
}

void read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	cr_assert(f, "cannot read %s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

void install_file(const char *src, const char *dst)
{
	char text[16384], tmp[256];
	read_text(src, text, sizeof(text));
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	write_text(tmp, text);
	cr_assert_eq(rename(tmp, dst), 0, "rename to %s: %s", dst, strerror(errno));
}

void expand(char *out, size_t len, const char *tmpl)
{
	const char *dir = fixture_dir();
	size_t used = 0;
	for (const char *p = tmpl; *p;) {
		const char *hit = strstr(p, "@F@");
		size_t n = hit ? (size_t)(hit - p) : strlen(p);
		cr_assert(used + n + strlen(dir) < len, "config template too long");
		memcpy(out + used, p, n);
		used += n;
		p += n;
		if (hit) {
			memcpy(out + used, dir, strlen(dir));
			used += strlen(dir);
			p += 3;
		}
	}
	out[used] = '\0';
}

void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The broker of the running test: each test starts its own, with the
 * listener options it is about. */
struct hb broker;

void tls_start(const char *tmpl)
{
	char conf[4096];
	expand(conf, sizeof(conf), tmpl);
	hb_start_raw(&broker, conf);
}

static void rm_dir(const char *dir)
{
	char cmd[320];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

/* Directories of the test's own, for files it rewrites (the fixture is
 * shared by every test); suite_fini removes them, also after a failure. */
static char own_dirs[4][64];

void own_dir(char *dir, size_t len)
{
	for (int i = 0; i < 4; i++)
		if (!own_dirs[i][0]) {
			strcpy(own_dirs[i], "/tmp/fleetmq-tlsown-XXXXXX");
			cr_assert(mkdtemp(own_dirs[i]), "mkdtemp: %s", strerror(errno));
			snprintf(dir, len, "%s", own_dirs[i]);
			return;
		}
	cr_assert_fail("more than 4 own directories");
}

static void tc_free_live(void);

static void suite_init(void)
{
	fixture_dir();
	mosquitto_lib_init();
}

static void suite_fini(void)
{
	if (broker.pid > 0)
		cr_assert_eq(hb_stop(&broker), 0, "broker exit status");
	else if (broker.dir[0])
		hb_stop(&broker); /* it did not start: remove its directory */
	for (int i = 0; i < 4; i++)
		if (own_dirs[i][0])
			rm_dir(own_dirs[i]);
	tc_free_live();
	mosquitto_lib_cleanup();
}

TestSuite(tls, .init = suite_init, .fini = suite_fini, .timeout = 60);

pid_t spawn_cmd(const char *const *argv, const char *out_path, int in_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || out < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int wait_cmd(pid_t pid, int timeout_ms)
{
	int status;
	for (long end = now_ms() + timeout_ms; now_ms() < end;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		cr_assert(r == 0, "waitpid: %s", strerror(errno));
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

void out_path_new(char *path, size_t len)
{
	static int n;
	snprintf(path, len, "%s/cmd%d.out", broker.dir, n++);
}

int run_cmd(const char *const *argv, char *out, size_t len, int timeout_ms)
{
	char path[160];
	out_path_new(path, sizeof(path));
	int rc = wait_cmd(spawn_cmd(argv, path, -1), timeout_ms);
	read_text(path, out, len);
	return rc;
}

const char *port_str(uint16_t port)
{
	static char s[4][8];
	static unsigned next;
	char *p = s[next++ % 4];
	snprintf(p, sizeof(s[0]), "%u", port);
	return p;
}

int s_client(uint16_t port, const char *const *extra, char *out, size_t len)
{
	char target[32];
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	const char *argv[20] = {"openssl", "s_client", "-connect", target, "-CAfile", fx("ca.crt"),
				"-verify_return_error"};
	int n = 7;
	for (int i = 0; extra && extra[i]; i++) {
		cr_assert(n < 19);
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	return run_cmd(argv, out, len, 10000);
}

void first_cert_pem(const char *path, char *out, size_t len)
{
	char text[16384];
	read_text(path, text, sizeof(text));
	const char *end_tag = "-----END CERTIFICATE-----";
	char *b = strstr(text, "-----BEGIN CERTIFICATE-----");
	char *e = b ? strstr(b, end_tag) : NULL;
	cr_assert(e, "%s holds no certificate", path);
	e[strlen(end_tag)] = '\0';
	snprintf(out, len, "%s", b);
}

void psk_key(const char *identity, char *key, size_t len)
{
	char text[1024], prefix[64];
	read_text(fx("psk.txt"), text, sizeof(text));
	snprintf(prefix, sizeof(prefix), "%s:", identity);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			snprintf(key, len, "%s", line + strlen(prefix));
			return;
		}
	cr_assert_fail("no identity %s in psk.txt", identity);
}

/* --- libmosquitto clients ------------------------------------------------- */

uint32_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* Clients not closed yet: a failed assertion skips tc_close, and the
 * suite's fini frees them then (LeakSanitizer would report them). Only
 * heap pointers: the struct tc of a failed test is gone with its stack. */
#define TC_LIVE_MAX 16
static struct {
	struct mosquitto *m;
	void *payload; /* the client's payload copy */
} tc_live[TC_LIVE_MAX];

static void tc_free_live(void)
{
	for (int i = 0; i < TC_LIVE_MAX; i++) {
		if (tc_live[i].m)
			mosquitto_destroy(tc_live[i].m);
		free(tc_live[i].payload);
		tc_live[i].m = NULL;
		tc_live[i].payload = NULL;
	}
}

static void tc_on_connect(struct mosquitto *m, void *arg, int rc)
{
	(void)m;
	struct tc *c = arg;
	c->connack_seen = true;
	c->connack_rc = rc;
}

static void tc_on_disconnect(struct mosquitto *m, void *arg, int rc)
{
	(void)m;
	(void)rc;
	((struct tc *)arg)->disconnects++;
}

static void tc_on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *granted)
{
	(void)m;
	(void)mid;
	(void)n;
	(void)granted;
	((struct tc *)arg)->subscribed++;
}

static void tc_on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)mid;
	((struct tc *)arg)->published++;
}

static void tc_on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	(void)m;
	struct tc *c = arg;
	if (c->received < 32) {
		c->hashes[c->received] = fnv1a(msg->payload, (size_t)msg->payloadlen);
		c->lens[c->received] = msg->payloadlen;
	}
	c->received++;
	snprintf(c->topic, sizeof(c->topic), "%s", msg->topic);
	free(c->payload);
	c->payload = malloc(msg->payloadlen > 0 ? (size_t)msg->payloadlen : 1);
	cr_assert(c->payload);
	memcpy(c->payload, msg->payload, (size_t)msg->payloadlen);
	c->payload_len = msg->payloadlen;
	tc_live[c->live].payload = c->payload;
}

bool pump_until(struct tc **cs, int n, const int *flag, int want, int timeout_ms)
{
	for (long end = now_ms() + timeout_ms; *flag < want && now_ms() < end;)
		for (int k = 0; k < n; k++) {
			int rc = mosquitto_loop(cs[k]->m, 5, 1);
			if (rc != MOSQ_ERR_SUCCESS && !cs[k]->error)
				cs[k]->error = rc;
		}
	return *flag >= want;
}

bool tc_connect(struct tc *c, const struct tc_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->live = -1;
	for (int i = 0; i < TC_LIVE_MAX && c->live < 0; i++)
		if (!tc_live[i].m)
			c->live = i;
	cr_assert_geq(c->live, 0, "more than %d libmosquitto clients open", TC_LIVE_MAX);
	c->m = mosquitto_new(o->id, true, c);
	cr_assert(c->m, "mosquitto_new");
	tc_live[c->live].m = c->m;
	mosquitto_connect_callback_set(c->m, tc_on_connect);
	mosquitto_disconnect_callback_set(c->m, tc_on_disconnect);
	mosquitto_subscribe_callback_set(c->m, tc_on_subscribe);
	mosquitto_publish_callback_set(c->m, tc_on_publish);
	mosquitto_message_callback_set(c->m, tc_on_message);
	if (o->cafile)
		cr_assert_eq(mosquitto_tls_set(c->m, o->cafile, NULL, o->certfile, o->keyfile, NULL),
			     MOSQ_ERR_SUCCESS, "mosquitto_tls_set");
	if (o->psk)
		cr_assert_eq(mosquitto_tls_psk_set(c->m, o->psk, o->psk_identity, NULL), MOSQ_ERR_SUCCESS);
	if (o->username)
		cr_assert_eq(mosquitto_username_pw_set(c->m, o->username, o->password), MOSQ_ERR_SUCCESS);
	int rc = mosquitto_connect(c->m, "127.0.0.1", o->port ? o->port : broker.port2, 60);
	if (rc != MOSQ_ERR_SUCCESS) {
		c->error = rc;
		return false;
	}
	for (long end = now_ms() + 5000; !c->connack_seen && !c->error && now_ms() < end;) {
		rc = mosquitto_loop(c->m, 10, 1);
		if (rc != MOSQ_ERR_SUCCESS)
			c->error = rc;
	}
	return c->connack_seen && c->connack_rc == 0;
}

void tc_open(struct tc *c, const struct tc_opts *o)
{
	cr_assert(tc_connect(c, o), "client %s did not connect: %s, CONNACK %s %d", o->id,
		  c->error ? mosquitto_strerror(c->error) : "no error", c->connack_seen ? "code" : "none",
		  c->connack_rc);
}

void tc_close(struct tc *c)
{
	if (c->connack_seen && !c->error) {
		mosquitto_disconnect(c->m);
		mosquitto_loop(c->m, 10, 1);
	}
	mosquitto_destroy(c->m);
	free(c->payload);
	tc_live[c->live].m = NULL;
	tc_live[c->live].payload = NULL;
	memset(c, 0, sizeof(*c));
}

void tc_subscribe(struct tc *c, const char *filter, int qos)
{
	struct tc *one[] = {c};
	int want = c->subscribed + 1;
	cr_assert_eq(mosquitto_subscribe(c->m, NULL, filter, qos), MOSQ_ERR_SUCCESS);
	cr_assert(pump_until(one, 1, &c->subscribed, want, 5000), "no SUBACK for %s", filter);
}

struct tc_opts cert_client(const char *id, const char *name)
{
	static char crt[4][160], key[4][160];
	static unsigned next;
	unsigned i = next++ % 4;
	snprintf(crt[i], sizeof(crt[i]), "%s/%s.crt", fixture_dir(), name);
	snprintf(key[i], sizeof(key[i]), "%s/%s.key", fixture_dir(), name);
	return (struct tc_opts){.id = id, .cafile = ca_file(), .certfile = crt[i], .keyfile = key[i]};
}

bool log_has(const char *fmt_needle, const char *arg, int wait_ms)
{
	char needle[256];
	snprintf(needle, sizeof(needle), fmt_needle, arg);
	return hb_log_contains(&broker, needle, wait_ms);
}

/* --- mosquitto_pub / mosquitto_sub -------------------------------------- */

int cli_pub(const char *const *tls_args, uint16_t port, const char *id, const char *topic, const char *msg)
{
	const char *argv[24] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port_str(port), "-i", id,
				"-t", topic, "-m", msg, "-q", "1"};
	int n = 13;
	for (int i = 0; tls_args && tls_args[i]; i++)
		argv[n++] = tls_args[i];
	argv[n] = NULL;
	char out[2048];
	int rc = run_cmd(argv, out, sizeof(out), 15000);
	if (rc != 0)
		cr_log_info("mosquitto_pub %s exited %d: %s", id, rc, out);
	return rc;
}

pid_t cli_sub(const char *const *tls_args, uint16_t port, const char *id, const char *filter, int count,
	      char *out_path, size_t out_len)
{
	char cnt[8];
	snprintf(cnt, sizeof(cnt), "%d", count);
	const char *argv[28] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port_str(port), "-i", id,
				"-t", filter, "-q", "1", "-v", "-C", cnt, "-W", "10"};
	int n = 16;
	for (int i = 0; tls_args && tls_args[i]; i++)
		argv[n++] = tls_args[i];
	argv[n] = NULL;
	out_path_new(out_path, out_len);
	pid_t pid = spawn_cmd(argv, out_path, -1);
	char sub_line[160];
	snprintf(sub_line, sizeof(sub_line), "%s 1 %s", id, filter);
	if (!hb_log_contains(&broker, sub_line, 8000)) {
		int rc = wait_cmd(pid, 100);
		char out[2048];
		read_text(out_path, out, sizeof(out));
		cr_assert_fail("mosquitto_sub %s never subscribed (exit %d): %s", id, rc, out);
	}
	return pid;
}

/* --- refusals ----------------------------------------------------------- */

void canary_open(struct raw *c)
{
	raw_connect_simple(c, broker.port, "canary");
	cr_assert_eq(raw_subscribe(c, 1, "canary/#", 1), 1);
}

void canary_check(struct raw *c, const char *after)
{
	cr_assert(hb_alive(&broker), "the broker died after %s", after);
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "canary-pub");
	raw_publish(&pub, "canary/ping", after, 1, false, 1);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 1);
	struct mqtt_publish p;
	raw_expect_publish(c, &p);
	raw_assert_publish(&p, "canary/ping", after);
	if (p.qos == 1)
		raw_ack(c, MQTT_PUBACK, p.packet_id);
	raw_close(&pub);
}

void expect_refused(const struct tc_opts *o, const char *what, const char *why)
{
	struct tc c;
	bool in = tc_connect(&c, o);
	tc_close(&c);
	cr_assert_not(in, "%s: the client connected", what);
	cr_assert(hb_log_contains(&broker, "closed: TLS handshake failed: ", 5000),
		  "%s: no 'TLS handshake failed' in the log", what);
	cr_assert(hb_log_contains(&broker, why, 0), "%s: the logged reason does not mention '%s'", what, why);
	cr_assert_not(log_has("client %s connected", o->id, 0), "%s: the client's CONNECT was accepted", what);
}

long closed_within(int fd, int timeout_ms, int *first)
{
	long start_ms = now_ms();
	*first = -1;
	for (;;) {
		long left = start_ms + timeout_ms - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		uint8_t buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return now_ms() - start_ms;
		if (*first < 0)
			*first = buf[0];
	}
}

/* --- the broker's log --------------------------------------------------- */

long log_size(void)
{
	struct stat st;
	return stat(broker.log_path, &st) == 0 ? (long)st.st_size : 0;
}

bool log_since(long offset, const char *needle, int wait_ms)
{
	static char text[1 << 20];
	for (long end = now_ms() + wait_ms;;) {
		FILE *f = fopen(broker.log_path, "r");
		if (f) {
			size_t n = 0;
			if (fseek(f, offset, SEEK_SET) == 0)
				n = fread(text, 1, sizeof(text) - 1, f);
			text[n] = '\0';
			fclose(f);
			if (strstr(text, needle))
				return true;
		}
		if (now_ms() >= end)
			return false;
		sleep_ms(20);
	}
}

bool serves_cert(const char *cert_path, int wait_ms)
{
	char pem[4096], out[16384];
	first_cert_pem(cert_path, pem, sizeof(pem));
	for (long end = now_ms() + wait_ms;;) {
		if (s_client(broker.port2, NULL, out, sizeof(out)) == 0 && strstr(out, pem))
			return true;
		if (now_ms() >= end)
			return false;
		sleep_ms(50);
	}
}

bool connects_within(const struct tc_opts *o, int wait_ms)
{
	for (long end = now_ms() + wait_ms;; sleep_ms(50)) {
		struct tc c;
		bool in = tc_connect(&c, o);
		tc_close(&c);
		if (in)
			return true;
		if (now_ms() >= end)
			return false;
	}
}

/* --- payloads ----------------------------------------------------------- */

void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

/* 1 MiB takes at least 64 TLS records (at most 16 KiB of plaintext each)
 * in each direction. */
