#include "harness.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED_BUILD 1
#endif
#endif
#ifndef SANITIZED_BUILD
#define SANITIZED_BUILD 0
#endif

bool broker_sanitized(void)
{
	const char *env = getenv("FLEETMQ_TEST_SANITIZED");
	return SANITIZED_BUILD || (env && *env && strcmp(env, "0") != 0);
}

/* FLEETMQ_TEST_BIN, when set, replaces the build's own binary: that is how
 * the same tests drive a ThreadSanitizer build of the broker (criterion
 * itself cannot run under TSan). */
const char *hb_binary(void)
{
	const char *bin = getenv("FLEETMQ_TEST_BIN");
	if (!bin || !*bin)
		bin = getenv("FLEETMQ_BIN");
	cr_assert(bin && *bin, "FLEETMQ_BIN is not set (run the tests through meson test)");
	return bin;
}

/* Two tests starting brokers at the same moment can be handed the same
 * free port: the kernel only knows a port is taken once the broker binds
 * it, and since our listeners use SO_REUSEPORT the second broker would then
 * share the first one's port instead of failing. So a port is first claimed
 * with an exclusive file that every harness (C and Python, see fmtest.py)
 * checks; a claim older than PORT_CLAIM_STALE_S belongs to a finished run. */
#define PORT_CLAIM_DIR "/tmp/fleetmq-test-ports"
#define PORT_CLAIM_STALE_S (20 * 60)

static bool claim_port(uint16_t port)
{
	char path[64];
	(void)mkdir(PORT_CLAIM_DIR, 0777);
	snprintf(path, sizeof(path), PORT_CLAIM_DIR "/%u", (unsigned)port);
	for (int tries = 0; tries < 2; tries++) {
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0666);
		if (fd >= 0) {
			close(fd);
			return true;
		}
		struct stat st;
		if (errno != EEXIST || stat(path, &st) != 0 ||
		    time(NULL) - st.st_mtime < PORT_CLAIM_STALE_S)
			return false;
		(void)unlink(path);
	}
	return false;
}

static uint16_t kernel_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

uint16_t hb_free_port(void)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint16_t port = kernel_free_port();
		if (claim_port(port))
			return port;
	}
	cr_assert_fail("no claimable free port in " PORT_CLAIM_DIR);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Write text to path, replacing each %PORT% with port and each %PORT2%
 * with port2. */
static void write_with_ports(const char *path, const char *text, uint16_t port, uint16_t port2)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	for (const char *p = text; *p;) {
		const char *hit = strstr(p, "%PORT");
		size_t n = hit ? (size_t)(hit - p) : strlen(p);
		fwrite(p, 1, n, f);
		p += n;
		if (!hit)
			break;
		if (strncmp(hit, "%PORT%", 6) == 0) {
			fprintf(f, "%u", port);
			p += 6;
		} else if (strncmp(hit, "%PORT2%", 7) == 0) {
			fprintf(f, "%u", port2);
			p += 7;
		} else {
			fputc(*p++, f);
		}
	}
	fclose(f);
}

void hb_write_conf(struct hb *b, const char *conf_text)
{
	write_with_ports(b->conf_path, conf_text, b->port, b->port2);
}

/* The broker runs in dir, so its default store (./data) is the test's own. */
static pid_t spawn(const char *const *argv, const char *out_path, const char *dir)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (chdir(dir) != 0)
			_exit(126);
		int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static bool port_accepts(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

bool hb_alive(const struct hb *b)
{
	int status;
	return b->pid > 0 && waitpid(b->pid, &status, WNOHANG) == 0;
}

/* The broker log's head (how it started) and tail (how it ended: a
 * sanitizer report or a crash is at the end). */
static void dump_log(const struct hb *b)
{
	char head[2048] = {0}, tail[6144] = {0};
	FILE *f = fopen(b->log_path, "r");
	if (f) {
		size_t n = fread(head, 1, sizeof(head) - 1, f);
		head[n] = '\0';
		if (fseek(f, -(long)(sizeof(tail) - 1), SEEK_END) == 0 && ftell(f) > (long)n) {
			n = fread(tail, 1, sizeof(tail) - 1, f);
			tail[n] = '\0';
		}
		fclose(f);
	}
	cr_log_error("broker log:\n%s%s%s", head, tail[0] ? "\n[...]\n" : "", tail);
}

/* Spawn args and wait until port accepts connections; false if the
 * process exited first (e.g. the port was taken meanwhile). */
/* The broker opens its listeners in config order and logs "running
 * with" once all are open. A test with a second listener (%PORT2%) waits
 * for that line too (a slow sanitizer build may still be opening it when
 * the first accepts); it is not probed by connecting, which would leave a
 * line of its own in the log. */
static void wait_all_listeners(const struct hb *b)
{
	if (b->port2 == 0)
		return;
	for (int waited = 0; waited < 5000 && !hb_log_contains(b, " running with ", 0); waited += 10)
		sleep_ms(10);
}

static bool spawn_and_wait(struct hb *b, const char *const *args)
{
	b->pid = spawn(args, b->log_path, b->dir);
	for (int waited = 0; waited < 10000; waited += 10) {
		if (port_accepts(b->port)) {
			wait_all_listeners(b);
			return true;
		}
		if (!hb_alive(b)) {
			b->pid = -1;
			return false;
		}
		sleep_ms(10);
	}
	return false;
}

static void make_dir(struct hb *b)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->dir, "/tmp/fleetmq-test-XXXXXX");
	cr_assert(mkdtemp(b->dir), "mkdtemp: %s", strerror(errno));
	snprintf(b->conf_path, sizeof(b->conf_path), "%s/fleetmq.conf", b->dir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/broker.log", b->dir);
}

void hb_start_raw(struct hb *b, const char *conf_text)
{
	make_dir(b);
	const char *argv[] = {hb_binary(), "-c", b->conf_path, NULL};
	for (int attempt = 0; attempt < 3; attempt++) {
		b->port = hb_free_port();
		b->port2 = 0;
		while (strstr(conf_text, "%PORT2%") && (b->port2 == 0 || b->port2 == b->port))
			b->port2 = hb_free_port();
		write_with_ports(b->conf_path, conf_text, b->port, b->port2);
		if (spawn_and_wait(b, argv))
			return;
	}
	dump_log(b);
	cr_assert_fail("fleetmq did not start");
}

void hb_start_argv(struct hb *b, const char *const *args, uint16_t port)
{
	make_dir(b);
	b->port = port;
	if (!spawn_and_wait(b, args)) {
		dump_log(b);
		cr_assert_fail("fleetmq did not start listening on port %u", port);
	}
}

void hb_start(struct hb *b, const char *extra_conf)
{
	char conf[8192];
	snprintf(conf, sizeof(conf),
		 "listener %%PORT%% 127.0.0.1\nallow_anonymous true\nlog_type all\n%s\n",
		 extra_conf ? extra_conf : "");
	hb_start_raw(b, conf);
}

void hb_signal(const struct hb *b, int sig)
{
	if (b->pid > 0)
		kill(b->pid, sig);
}

static void remove_dir(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

/* Wait for pid up to timeout_ms; -1 if it is still running. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int status;
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		sleep_ms(10);
	}
	return -1;
}

int hb_terminate(struct hb *b, int sig)
{
	int status = -1;
	if (b->pid > 0) {
		kill(b->pid, sig);
		status = wait_exit(b->pid, 10000);
		if (status == -1) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
		}
		b->pid = -1;
	}
	return status;
}

void hb_restart(struct hb *b)
{
	const char *argv[] = {hb_binary(), "-c", b->conf_path, NULL};
	if (!spawn_and_wait(b, argv)) {
		dump_log(b);
		cr_assert_fail("fleetmq did not restart on port %u", b->port);
	}
}

int hb_stop(struct hb *b)
{
	int status = -1;
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		status = wait_exit(b->pid, 10000);
		if (status == -1) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			dump_log(b);
			cr_log_error("fleetmq did not stop on SIGTERM");
			status = -1;
		}
		b->pid = -1;
	}
	if (status != 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		dump_log(b);
	remove_dir(b->dir);
	return status;
}

bool hb_log_contains(const struct hb *b, const char *needle, int wait_ms)
{
	static char buf[1 << 20];
	for (int waited = 0;; waited += 20) {
		FILE *f = fopen(b->log_path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
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

int hb_run_capture(const char *const *args, char *out, size_t out_len, int timeout_s)
{
	char dir[] = "/tmp/fleetmq-run-XXXXXX";
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	char path[64];
	snprintf(path, sizeof(path), "%s/out", dir);
	pid_t pid = spawn(args, path, dir);
	int status = wait_exit(pid, timeout_s * 1000);
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(out, 1, out_len - 1, f) : 0;
	out[n] = '\0';
	if (f)
		fclose(f);
	remove_dir(dir);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
