/* Helpers of the password_file / acl_file tests: see auth.h. */
#include "auth.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct hb broker;

static char files_dir[64]; /* the test's own file directory ("" before init) */

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

bool auth_against_mosquitto(void)
{
	const char *env = getenv("AUTH_TEST_MOSQUITTO");
	return env && *env && strcmp(env, "0") != 0;
}

void auth_init(void)
{
	memset(&broker, 0, sizeof(broker));
	strcpy(files_dir, "/tmp/fleetmq-auth-XXXXXX");
	cr_assert(mkdtemp(files_dir), "mkdtemp: %s", strerror(errno));
	mosquitto_lib_init();
}

void auth_fini(void)
{
	mosquitto_lib_cleanup();
	bool running = broker.pid > 0;
	int status = broker.dir[0] ? hb_stop(&broker) : 0;
	if (files_dir[0]) {
		char cmd[96];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", files_dir);
		if (system(cmd) != 0)
			cr_log_warn("could not remove %s", files_dir);
	}
	if (running) /* else the test failed before or on the start */
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "broker exit status %d", status);
}

/* --- files and config ------------------------------------------------------- */

const char *auth_dir(void)
{
	cr_assert(files_dir[0], "auth_init did not run");
	return files_dir;
}

const char *auth_path(const char *name)
{
	static char paths[8][128];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", auth_dir(), name);
	return p;
}

void auth_expand(char *out, size_t len, const char *tmpl)
{
	size_t o = 0;
	for (const char *p = tmpl; *p && o + 1 < len;) {
		if (strncmp(p, "@D@", 3) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%s", auth_dir());
			p += 3;
		} else {
			out[o++] = *p++;
		}
	}
	cr_assert(o + 1 < len, "config template too long");
	out[o] = '\0';
}

void auth_write(const char *name, const char *text)
{
	static char expanded[16384];
	auth_expand(expanded, sizeof(expanded), text);
	const char *path = auth_path(name);
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s: %s", path, strerror(errno));
	fputs(expanded, f);
	cr_assert_eq(fclose(f), 0);
}

static void passwd_tool(const char *tool, const char *hash, const char *name, const char *user, const char *pass)
{
	const char *path = auth_path(name);
	bool create = access(path, F_OK) != 0;
	const char *argv[12];
	int n = 0;
	argv[n++] = tool;
	if (hash) {
		argv[n++] = "-H";
		argv[n++] = hash;
	}
	if (create)
		argv[n++] = "-c";
	argv[n++] = "-b";
	argv[n++] = path;
	argv[n++] = user;
	argv[n++] = pass;
	argv[n] = NULL;
	char out[1024];
	int rc = auth_run(argv, out, sizeof(out), AUTH_WAIT_MS);
	cr_assert_eq(rc, 0, "%s -b %s %s failed (%d): %s", tool, path, user, rc, out);
}

void auth_passwd(const char *name, const char *user, const char *pass)
{
	passwd_tool("mosquitto_passwd", NULL, name, user, pass);
}

void auth_passwd_sha512(const char *name, const char *user, const char *pass)
{
	passwd_tool("mosquitto_passwd", "sha512", name, user, pass);
}

void auth_passwd_fleetmq(const char *name, const char *user, const char *pass)
{
	const char *bin = getenv("FLEETMQ_PASSWD_BIN");
	cr_assert(bin && *bin, "FLEETMQ_PASSWD_BIN is not set (run the tests through meson test)");
	passwd_tool(bin, NULL, name, user, pass);
}

void auth_users(void)
{
	auth_passwd("passwd", "admin", "adminpw");
	auth_passwd("passwd", "alice", "alicepw");
	auth_passwd("passwd", "bob", "bobpw");
}

/* mosquitto started as root runs as user mosquitto unless told not to,
 * and then cannot read the test's private files. */
static const char *peer_lines(void)
{
	return auth_against_mosquitto() ? "\nuser root\n" : "";
}

void auth_conf(char *out, size_t len, const char *tmpl)
{
	auth_expand(out, len, tmpl);
	size_t n = strlen(out);
	cr_assert(n + strlen(peer_lines()) < len, "config template too long");
	strcpy(out + n, peer_lines());
}

void auth_start(const char *tmpl)
{
	static char conf[16384];
	auth_conf(conf, sizeof(conf), tmpl);
	hb_start_raw(&broker, conf);
}

long auth_log_size(void)
{
	struct stat st;
	return stat(broker.log_path, &st) == 0 ? (long)st.st_size : 0;
}

bool auth_log_since(long offset, const char *needle, int wait_ms)
{
	static char buf[1 << 20];
	for (int waited = 0;; waited += 20) {
		FILE *f = fopen(broker.log_path, "r");
		if (f) {
			size_t n = 0;
			if (fseek(f, offset, SEEK_SET) == 0)
				n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
			if (strstr(buf, needle))
				return true;
		}
		if (waited >= wait_ms)
			return false;
		sleep_ms(20);
	}
}

void auth_await_log(const char *needle, const char *what)
{
	if (auth_against_mosquitto()) {
		sleep_ms(1000);
		return;
	}
	cr_assert(hb_log_contains(&broker, needle, AUTH_WAIT_MS), "%s: no '%s' in the broker log", what, needle);
}

void auth_reload(const char *tmpl)
{
	static char conf[16384];
	auth_conf(conf, sizeof(conf), tmpl);
	long off = auth_log_size();
	hb_write_conf(&broker, conf);
	hb_signal(&broker, SIGHUP);
	if (auth_against_mosquitto()) {
		sleep_ms(1000);
		return;
	}
	cr_assert(auth_log_since(off, "SIGHUP: reloaded", AUTH_WAIT_MS), "the broker did not reload on SIGHUP");
	cr_assert(hb_alive(&broker), "the broker died on SIGHUP");
}

/* --- raw clients ------------------------------------------------------------- */

int auth_connect_to(struct raw *r, uint16_t port, uint8_t version, const char *id, const char *user,
		    const char *pass, bool *present)
{
	struct raw_connect_opts o = {.version = version, .client_id = id, .clean = true, .keepalive = 60,
				     .username = user, .password = pass};
	return raw_connect(r, port, &o, present);
}

int auth_connect(struct raw *r, uint8_t version, const char *id, const char *user, const char *pass)
{
	return auth_connect_to(r, broker.port, version, id, user, pass, NULL);
}

void auth_login(struct raw *r, uint8_t version, const char *id, const char *user, const char *pass)
{
	int rc = auth_connect(r, version, id, user, pass);
	cr_assert_eq(rc, 0, "%s (user %s) refused: CONNACK 0x%02x", id, user ? user : "none", rc);
}

void auth_expect_refused_at(uint16_t port, uint8_t version, const char *id, const char *user, const char *pass,
			    uint8_t code, const char *what)
{
	struct raw r;
	bool present = true;
	int rc = auth_connect_to(&r, port, version, id, user, pass, &present);
	cr_assert_eq(rc, code, "%s: CONNACK 0x%02x, expected 0x%02x (%s)", what, rc, code,
		     version == MQTT_V5 ? "3.2.2.2 Connect Reason Code" : "3.2.2.3 Connect Return code");
	cr_assert_not(present, "%s: Session Present set on a refusal [%s]", what,
		      version == MQTT_V5 ? "MQTT-3.2.2-6" : "MQTT-3.2.2-4");
	uint8_t last = 0;
	cr_assert(raw_closed_within(&r, AUTH_WAIT_MS, &last), "%s: connection not closed after the refusal [%s]",
		  what, version == MQTT_V5 ? "MQTT-3.2.2-7" : "MQTT-3.2.2-5");
	cr_assert_eq(last, 0, "%s: packet type %u sent after a refusing CONNACK [%s]", what, last,
		     version == MQTT_V5 ? "MQTT-3.2.2-7" : "MQTT-3.2.2-5");
	raw_close(&r);
}

void auth_expect_refused(uint8_t version, const char *id, const char *user, const char *pass, uint8_t code,
			 const char *what)
{
	auth_expect_refused_at(broker.port, version, id, user, pass, code, what);
}

uint8_t auth_expect_msg(struct raw *r, const char *topic, const char *payload, bool *retain, const char *what)
{
	struct mqtt_frame f;
	int rc = raw_recv(r, &f, AUTH_WAIT_MS);
	cr_assert_eq(rc, FM_OK, "%s: %s instead of %s", what,
		     rc == FM_ECLOSED ? "the connection closed" : "nothing arrived", topic);
	cr_assert_eq(f.type, MQTT_PUBLISH, "%s: packet type %u instead of the PUBLISH of %s", what, f.type, topic);
	struct mqtt_publish p;
	uint8_t reason;
	cr_assert(mqtt_decode_publish(&f, r->version, &p, &reason) == FM_OK, "%s: undecodable PUBLISH", what);
	cr_assert(p.topic.len == strlen(topic) && memcmp(p.topic.p, topic, p.topic.len) == 0,
		  "%s: got '%.*s' where '%s' was due", what, (int)p.topic.len, p.topic.p, topic);
	cr_assert(p.payload.len == strlen(payload) && memcmp(p.payload.p, payload, p.payload.len) == 0,
		  "%s: wrong payload on %s: '%.*s'", what, topic, (int)p.payload.len, (const char *)p.payload.p);
	uint8_t qos = p.qos;
	uint16_t id = p.packet_id;
	if (retain)
		*retain = p.retain;
	if (qos == 1) {
		raw_ack(r, MQTT_PUBACK, id);
	} else if (qos == 2) {
		raw_ack(r, MQTT_PUBREC, id);
		cr_assert_eq(raw_expect_ack(r, MQTT_PUBREL), id, "%s: PUBREL for another packet id", what);
		raw_ack(r, MQTT_PUBCOMP, id);
	}
	return qos;
}

uint8_t auth_pub1(struct raw *r, const char *topic, const char *payload, bool retain, uint16_t id)
{
	raw_publish(r, topic, payload, 1, retain, id);
	uint8_t reason = 0;
	cr_assert_eq(raw_expect_ack5(r, MQTT_PUBACK, &reason), id, "PUBACK for another packet id [MQTT-4.3.2-4]");
	return r->version == MQTT_V5 ? reason : 0;
}

uint8_t auth_pub2(struct raw *r, const char *topic, const char *payload, uint16_t id)
{
	raw_publish(r, topic, payload, 2, false, id);
	uint8_t reason = 0;
	cr_assert_eq(raw_expect_ack5(r, MQTT_PUBREC, &reason), id, "PUBREC for another packet id [MQTT-4.3.3-8]");
	if (r->version != MQTT_V5)
		reason = 0;
	if (reason >= 0x80)
		return reason; /* the flow ends here [MQTT-4.3.3-4] */
	raw_ack(r, MQTT_PUBREL, id);
	uint8_t comp = 0;
	cr_assert_eq(raw_expect_ack5(r, MQTT_PUBCOMP, &comp), id, "PUBCOMP for another packet id [MQTT-4.3.3-11]");
	cr_assert_eq(comp, 0, "PUBCOMP reason 0x%02x after PUBREC 0x%02x", comp, reason);
	return reason;
}

void auth_expect_alive(struct raw *r, const char *what)
{
	static const uint8_t pingreq[] = {0xC0, 0x00};
	raw_send(r, pingreq, sizeof(pingreq));
	struct mqtt_frame f;
	int rc = raw_recv(r, &f, AUTH_WAIT_MS);
	cr_assert_eq(rc, FM_OK, "%s: %s", what, rc == FM_ECLOSED ? "the connection was closed" : "no PINGRESP");
	cr_assert_eq(f.type, MQTT_PINGRESP, "%s: packet type %u instead of PINGRESP", what, f.type);
}

void auth_subscribe(struct raw *r, uint16_t id, const char *const *filters, uint32_t n, uint8_t qos,
		    uint8_t *codes)
{
	struct mqtt_sub_entry e[16];
	cr_assert(n <= 16);
	for (uint32_t i = 0; i < n; i++)
		e[i] = (struct mqtt_sub_entry){.filter = {filters[i], (uint16_t)strlen(filters[i])}, .options = qos};
	raw_subscribe_n(r, id, e, n, 0, codes);
}

/* --- a canary ------------------------------------------------------------------ */

void canary_up(struct canary *c)
{
	auth_login(&c->sub, MQTT_V311, "canary-sub", "admin", "adminpw");
	cr_assert_eq(raw_subscribe(&c->sub, 1, "canary/#", 1), 1, "canary SUBACK");
	auth_login(&c->pub, MQTT_V311, "canary-pub", "admin", "adminpw");
	c->next_id = 1;
}

void canary_check(struct canary *c, const char *what)
{
	char payload[32];
	uint16_t id = c->next_id++;
	snprintf(payload, sizeof(payload), "alive %u", id);
	cr_assert(hb_alive(&broker), "%s: the broker died", what);
	auth_pub1(&c->pub, "canary/live", payload, false, id);
	auth_expect_msg(&c->sub, "canary/live", payload, NULL, what);
}

void canary_down(struct canary *c)
{
	raw_close(&c->sub);
	raw_close(&c->pub);
}

/* --- external clients ---------------------------------------------------- */

pid_t auth_spawn(const char *const *argv, char *out_path, size_t len)
{
	static unsigned seq;
	snprintf(out_path, len, "%s/out-%u.txt", auth_dir(), seq++);
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (fd < 0 || in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int auth_wait(pid_t pid, int timeout_ms)
{
	int status;
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

void auth_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

int auth_run(const char *const *argv, char *out, size_t len, int timeout_ms)
{
	char path[128];
	pid_t pid = auth_spawn(argv, path, sizeof(path));
	int rc = auth_wait(pid, timeout_ms);
	auth_read(path, out, len);
	unlink(path);
	return rc;
}

const char *auth_port(uint16_t port)
{
	static char bufs[4][8];
	static unsigned next;
	char *p = bufs[next++ % 4];
	snprintf(p, sizeof(bufs[0]), "%u", port);
	return p;
}

/* --- libmosquitto ------------------------------------------------------------- */

struct lib_connack {
	int connacks;
	int rc;
};

static void on_connect5(struct mosquitto *m, void *arg, int rc, int flags, const mosquitto_property *props)
{
	(void)m;
	(void)flags;
	(void)props;
	struct lib_connack *l = arg;
	l->rc = rc;
	l->connacks++;
}

int auth_lib_connack(int version, const char *id, const char *user, const char *pass)
{
	struct lib_connack l = {0};
	struct mosquitto *m = mosquitto_new(id, true, &l);
	cr_assert(m);
	cr_assert_eq(mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, version), MOSQ_ERR_SUCCESS);
	mosquitto_connect_v5_callback_set(m, on_connect5);
	if (user)
		cr_assert_eq(mosquitto_username_pw_set(m, user, pass), MOSQ_ERR_SUCCESS);
	cr_assert_eq(mosquitto_connect(m, "127.0.0.1", broker.port, 60), MOSQ_ERR_SUCCESS);
	for (int i = 0; i < AUTH_WAIT_MS / 10 && l.connacks == 0; i++)
		mosquitto_loop(m, 10, 1);
	cr_assert_eq(l.connacks, 1, "%s: no CONNACK", id);
	if (l.rc == 0)
		mosquitto_disconnect(m);
	mosquitto_loop(m, 10, 1);
	mosquitto_destroy(m);
	return l.rc;
}

const char *auth_plugin_path(const char *name)
{
	static char paths[4][512];
	static unsigned next;
	char *out = paths[next++ % 4];
	const char *bin = getenv("FLEETMQ_TEST_BIN");
	if (bin && *bin) {
		const char *slash = strrchr(bin, '/');
		int dir_len = slash ? (int)(slash - bin) : 1;
		const char *dir = slash ? bin : ".";
		static const char *const subdirs[] = {"plugins", "test/plugins"};
		for (size_t i = 0; i < 2; i++) {
			snprintf(out, sizeof(paths[0]), "%.*s/%s/%s.so", dir_len, dir, subdirs[i], name);
			if (access(out, R_OK) == 0)
				return out;
		}
	}
	char var[64] = "FLEETMQ_PLUGIN_";
	for (size_t i = strlen(var), k = 0; name[k] && i + 1 < sizeof(var); i++, k++)
		var[i] = (char)(name[k] >= 'a' && name[k] <= 'z' ? name[k] - 'a' + 'A' : name[k]), var[i + 1] = '\0';
	const char *env = getenv(var);
	cr_assert(env && *env, "%s is not set (run the tests through meson test)", var);
	snprintf(out, sizeof(paths[0]), "%s", env);
	return out;
}
