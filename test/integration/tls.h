/* Shared by the TLS tests (tls_test.c, tls_more_test.c): the certificate
 * fixture, the broker of the running test, external clients (mosquitto_pub,
 * mosquitto_sub, openssl s_client) run by PID with deadlines, libmosquitto
 * TLS clients, and the canary that proves a refused handshake harmed no one
 * else.
 *
 * The fixture (test/support/tls_fixture.sh) is made once per test binary,
 * before any test runs, by a criterion PRE_ALL hook in tls_common.c; tests
 * run in processes of their own and find it through $FM_TLS_FIXTURE.
 *
 * Each test starts its own broker (tls_start) from a config template where
 * @F@ stands for the fixture directory. %PORT% is a plain MQTT listener
 * (the harness probes it to know the broker is up; the canary lives there)
 * and %PORT2% the TLS one. */
#ifndef FM_TEST_TLS_H
#define FM_TEST_TLS_H

#include "harness.h"
#include "raw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The broker of the running test (stopped by the suite's fini). */
extern struct hb broker;

#define BASE_CONF "log_type all\nallow_anonymous true\nlistener %PORT% 127.0.0.1\n"
#define TLS_LISTENER "listener %PORT2% 127.0.0.1\ncertfile @F@/server.crt\nkeyfile @F@/server.key\n"
#define MTLS_LISTENER TLS_LISTENER "cafile @F@/ca.crt\nrequire_certificate true\n"

/* Start the broker on tmpl with @F@ expanded (and the harness's %PORT% and
 * %PORT2%). */
void tls_start(const char *tmpl);

/* --- fixture and files ------------------------------------------------------ */

/* The fixture directory; fails the test if the fixture could not be made. */
const char *fixture_dir(void);
/* The path of a fixture file, in one of a few rotating static buffers (so
 * several can be used in one call; do not keep it). */
const char *fx(const char *name);
/* The CA that issued the server and client certificates, in a buffer of
 * its own (clients keep the pointer). */
const char *ca_file(void);
/* tmpl with every @F@ replaced by the fixture directory. */
void expand(char *out, size_t len, const char *tmpl);
void read_text(const char *path, char *buf, size_t len);
void write_text(const char *path, const char *text);
/* Copy src to dst through dst.tmp and rename(2): a reader never sees half a
 * file (that is how certificates are rotated in practice). */
void install_file(const char *src, const char *dst);
/* A directory of the test's own (at most 4), for files it rewrites: the
 * fixture is shared by every test. The suite's fini removes it, also after
 * a failure. */
void own_dir(char *dir, size_t len);
/* The PEM block of the first certificate in a file (what s_client prints
 * for the server's certificate), into out. */
void first_cert_pem(const char *path, char *out, size_t len);
/* The hex key of identity in psk.txt. */
void psk_key(const char *identity, char *key, size_t len);

void sleep_ms(int ms);
long now_ms(void); /* CLOCK_MONOTONIC */

/* --- external processes ------------------------------------------------------ */

/* Start argv (argv[0] looked up in PATH) with stdin from in_fd (-1:
 * /dev/null) and stdout and stderr into out_path. The child dies with the
 * test process. */
pid_t spawn_cmd(const char *const *argv, const char *out_path, int in_fd);
/* Wait up to timeout_ms for pid: its exit code, 128+signal, or -1 when it
 * was still running (it is then killed, by its PID). */
int wait_cmd(pid_t pid, int timeout_ms);
/* A fresh output file name in the broker's directory. */
void out_path_new(char *path, size_t len);
/* Run argv to completion (at most timeout_ms); its output into out. */
int run_cmd(const char *const *argv, char *out, size_t len, int timeout_ms);
/* port as text, in one of a few rotating static buffers. */
const char *port_str(uint16_t port);
/* `openssl s_client` to 127.0.0.1:port, trusting ca.crt and failing on an
 * unverified server certificate, with up to 8 extra arguments (NULL: none).
 * stdin is at EOF, so it ends right after the handshake. Returns its exit
 * code (0: the handshake succeeded), its output in out. */
int s_client(uint16_t port, const char *const *extra, char *out, size_t len);
/* mosquitto_pub at QoS 1 with extra arguments tls_args (NULL-terminated);
 * its exit code (its output is logged when not 0). */
int cli_pub(const char *const *tls_args, uint16_t port, const char *id, const char *topic, const char *msg);
/* mosquitto_sub at QoS 1 for `count` messages (-W 10: it gives up after
 * 10 s), printing "topic payload" lines into out_path; returns its pid once
 * the broker logged its subscription. */
pid_t cli_sub(const char *const *tls_args, uint16_t port, const char *id, const char *filter, int count,
	      char *out_path, size_t out_len);

/* --- libmosquitto clients ---------------------------------------------------- */

struct tc_opts {
	const char *id;
	uint16_t port;                  /* 0: the TLS port (broker.port2) */
	const char *cafile;             /* trust anchor for the server; NULL: no TLS */
	const char *certfile, *keyfile; /* client certificate, or NULL */
	const char *psk, *psk_identity; /* TLS-PSK instead of certificates */
	const char *username, *password;
};

struct tc {
	struct mosquitto *m;
	bool connack_seen;
	int connack_rc;
	int error;           /* the first libmosquitto error (MOSQ_ERR_*), 0 if none */
	int disconnects;     /* on_disconnect calls */
	int subscribed;      /* SUBACKs */
	int published;       /* on_publish calls (QoS 1: PUBACK) */
	int received;        /* messages */
	char topic[128];     /* topic of the last message */
	void *payload;       /* copy of the last message's payload (owned) */
	int payload_len;
	uint32_t hashes[32]; /* fnv1a() of the first 32 payloads, in arrival order */
	int lens[32];        /* and their lengths */
	int live;            /* its slot in tls_common.c's list of open clients */
};

/* Connect a client with options o; true once its CONNACK accepted it. A
 * failed TLS handshake shows as an error from mosquitto_connect or from the
 * network loop, and ends the wait at once. The client must be closed with
 * tc_close either way. */
bool tc_connect(struct tc *c, const struct tc_opts *o);
/* tc_connect, asserting that it got in. */
void tc_open(struct tc *c, const struct tc_opts *o);
/* DISCONNECT (if connected) and free the client. */
void tc_close(struct tc *c);
/* SUBSCRIBE and wait for the SUBACK. */
void tc_subscribe(struct tc *c, const char *filter, int qos);
/* Run the clients' network loops until *flag >= want or timeout_ms pass
 * (a client's first error is kept in its error field). */
bool pump_until(struct tc **cs, int n, const int *flag, int want, int timeout_ms);
/* The options of a TLS client presenting fixture certificate name.crt
 * (with name.key) and trusting ca.crt. */
struct tc_opts cert_client(const char *id, const char *name);
/* Wait until a client with options o gets in (a reload is asynchronous). */
bool connects_within(const struct tc_opts *o, int wait_ms);

/* --- refusals ------------------------------------------------------------------ */

/* The canary: a plain client subscribed to canary/# for the whole test. */
void canary_open(struct raw *c);
/* After a bad TLS attempt: the broker is up, and the canary still receives
 * a message published after it. */
void canary_check(struct raw *c, const char *after);
/* A libmosquitto client on the TLS port that must not get in: its handshake
 * fails (so no CONNECT ever reaches the broker) and the broker logs why,
 * with why in the detail (mbedtls 2.28's wording). */
void expect_refused(const struct tc_opts *o, const char *what, const char *why);
/* Read from fd until the peer closes it or timeout_ms pass; the first byte
 * read (or -1 if none) into *first. Returns the ms it took, -1 on timeout. */
long closed_within(int fd, int timeout_ms, int *first);

/* --- the broker's log ------------------------------------------------------------ */

/* hb_log_contains with fmt_needle's %s replaced by arg. */
bool log_has(const char *fmt_needle, const char *arg, int wait_ms);
/* Bytes of the broker log so far: a later search can skip what came before. */
long log_size(void);
/* True if the log after offset contains needle, waiting up to wait_ms. */
bool log_since(long offset, const char *needle, int wait_ms);
/* True once a new connection to the TLS port is shown the certificate in
 * cert_path, trying for up to wait_ms. */
bool serves_cert(const char *cert_path, int wait_ms);

/* --- payloads ------------------------------------------------------------------- */

/* n pseudo-random bytes from seed (the same seed, the same bytes). */
void fill_pattern(uint8_t *p, size_t n, unsigned seed);
/* FNV-1a, to compare large payloads. */
uint32_t fnv1a(const void *p, size_t n);

#endif
