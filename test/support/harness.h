/* Integration test harness: runs the real fleetmq binary on an ephemeral
 * loopback port with a config written for the test, and stops it by PID.
 *
 * The binary is $FLEETMQ_TEST_BIN if set, else $FLEETMQ_BIN (set by meson). The broker is
 * started with PR_SET_PDEATHSIG so a test that fails half-way never leaves a
 * broker behind. */
#ifndef FM_TEST_HARNESS_H
#define FM_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hb {
	pid_t pid;
	uint16_t port;
	uint16_t port2;      /* a second free port, when the config uses %PORT2% (else 0) */
	char dir[64];        /* private temp directory */
	char conf_path[128];
	char log_path[128];
};

/* Start a broker listening on 127.0.0.1:<free port> with anonymous access
 * and state under dir, plus extra_conf lines (may be NULL). Asserts it is
 * accepting connections before returning. */
void hb_start(struct hb *b, const char *extra_conf);
/* Start with exactly conf_text, which may use the %PORT% placeholder and
 * %PORT2% (a second free port, for a second listener; the broker is known
 * to be up when %PORT% accepts connections, so %PORT% should be a plain
 * MQTT listener). */
void hb_start_raw(struct hb *b, const char *conf_text);
/* Start `args` (args[0] is the binary) in a fresh temp dir and wait until
 * 127.0.0.1:port accepts connections. */
void hb_start_argv(struct hb *b, const char *const *args, uint16_t port);
/* SIGTERM and wait (10 s, then SIGKILL). Returns the exit status as
 * waitpid reports it; removes the temp directory. */
int hb_stop(struct hb *b);
void hb_signal(const struct hb *b, int sig);
/* Send sig and wait for the broker to exit (SIGKILL after 10 s); returns
 * the wait status. The temp directory (and the store in it) stays. */
int hb_terminate(struct hb *b, int sig);
/* Start the broker again with the same config, port and directory (after
 * hb_terminate): the store it finds is the one the last run left. */
void hb_restart(struct hb *b);
/* Rewrite the config file (same %PORT% and %PORT2% rules), e.g. before SIGHUP. */
void hb_write_conf(struct hb *b, const char *conf_text);
/* True if the broker's log output contains needle, waiting up to wait_ms. */
bool hb_log_contains(const struct hb *b, const char *needle, int wait_ms);
/* True if the broker process is still running. */
bool hb_alive(const struct hb *b);

/* Run `fleetmq args...` to completion with stdout+stderr captured into out.
 * Returns the exit code (or 128+signal). args is NULL-terminated. */
int hb_run_capture(const char *const *args, char *out, size_t out_len, int timeout_s);

const char *hb_binary(void);
/* True when the broker under test runs under a sanitizer (this build's own,
 * or a binary scripts/test.sh marks with FLEETMQ_TEST_SANITIZED): its RSS
 * says nothing about memory use then (ASan's quarantine, TSan's shadow). */
bool broker_sanitized(void);
uint16_t hb_free_port(void);

#endif
