/* The bench's TLS client transport (--tls CAFILE): mbedtls over the same
 * non-blocking sockets, stepped from the epoll loop in conn.c.
 *
 * One mbedtls_ssl_config, random generator and CA chain per run (a run is
 * one process; --procs children build their own after fork, so no two
 * processes share a generator state). Each connection slot keeps its own
 * mbedtls_ssl_context for its whole life: churn's next cycle on a slot
 * resets it (mbedtls_ssl_session_reset keeps the 16 KiB record buffers)
 * rather than allocating a new one.
 *
 * Resumption (--tls-resume 1, the default): after each handshake the slot
 * keeps its session (mbedtls_ssl_get_session: the session id and, when the
 * server issued one, the ticket) and offers it on its next handshake
 * (mbedtls_ssl_set_session). mbedtls 2.28 has no public "was this
 * resumed" call, so a handshake counts as resumed when the server sent no
 * Certificate message: the verify callback (mbedtls_ssl_set_verify) runs
 * for every certificate the client parses, and a TLS 1.2 client parses
 * one in every full handshake with a certificate suite and in no
 * abbreviated one (after a resuming ServerHello it goes straight to the
 * server's ChangeCipherSpec). So the count is what the server did, not
 * what the client asked for. */
#include "bench.h"

#include "fleetmq/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

/* The name the server certificate must carry (compare.sh makes it so);
 * --host stays an address to connect to. */
#define TLS_SERVER_NAME "localhost"
/* Plaintext per mbedtls_ssl_write call: one record at most. */
#define TLS_RECORD_MAX 16384
/* Curves --tls-curves may name, in mbedtls' names (x25519, secp256r1...). */
#define TLS_CURVES_MAX 16

/* The run's client context: shared by all its connections. */
struct bench_tls {
	mbedtls_ssl_config conf;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_entropy_context entropy;
	mbedtls_x509_crt ca;     /* --tls CAFILE: the server certificate must chain to it */
	mbedtls_ecp_group_id curves[TLS_CURVES_MAX + 1]; /* --tls-curves, NONE-terminated */
	bool resume;             /* --tls-resume */
};

/* One connection slot's TLS state; lives as long as the slot. */
struct tls_conn {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_session saved;  /* the slot's last session, offered next time */
	bool have_saved;
	bool offered;               /* this handshake offered `saved` */
	bool saw_certificate;       /* the server sent a Certificate: a full handshake */
	bool established;
	size_t pending_write;       /* plaintext length of a record mbedtls holds after WANT_WRITE */
	int sock_err;               /* errno of the socket call that failed, for the message */
	char err[240];              /* why the handshake or the connection failed */
};

static void describe(char *out, size_t len, const char *what, int rc)
{
	char text[128];
	mbedtls_strerror(rc, text, sizeof(text));
	snprintf(out, len, "%s: %s", what, text);
}

/* --- the run's context ------------------------------------------------------- */

/* The curves offered for ECDHE (--tls-curves, comma-separated). The
 * default, secp256r1 alone, makes every broker do the same key exchange
 * as its P-256 certificate: servers pick from the offered curves by their
 * own preference (mbedtls' default list starts at secp521r1, OpenSSL's at
 * x25519), so a longer offer compares curves rather than brokers. */
static int parse_curves(struct bench_tls *t, const char *list, char *err, size_t len)
{
	size_t n = 0;
	for (const char *p = list;; p++) { /* p moves past each name and its comma */
		size_t word = strcspn(p, ",");
		char name[32];
		if (word == 0 || word >= sizeof(name) || n == TLS_CURVES_MAX) {
			snprintf(err, len, "--tls-curves: give 1 to %d curve names, comma-separated", TLS_CURVES_MAX);
			return FM_EINVAL;
		}
		snprintf(name, sizeof(name), "%.*s", (int)word, p);
		const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_name(name);
		if (!ci) {
			snprintf(err, len, "--tls-curves: '%s' is not a curve this mbedtls knows (x25519, secp256r1, ...)", name);
			return FM_EINVAL;
		}
		t->curves[n++] = ci->grp_id;
		p += word;
		if (*p == '\0')
			break;
	}
	t->curves[n] = MBEDTLS_ECP_DP_NONE;
	return FM_OK;
}

static int setup_conf(struct bench_tls *t, const char *cafile, char *err, size_t len)
{
	static const char pers[] = "fleetmq-bench tls client";
	int rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, (const unsigned char *)pers,
				       sizeof(pers) - 1);
	if (rc != 0) {
		describe(err, len, "TLS random generator", rc);
		return FM_EIO;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&t->ca, cafile)) != 0) {
		char what[300];
		snprintf(what, sizeof(what), "--tls %s", cafile);
		describe(err, len, what, rc);
		return FM_EINVAL;
	}
	rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					 MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		describe(err, len, "TLS configuration", rc);
		return FM_EIO;
	}
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	mbedtls_ssl_conf_curves(&t->conf, t->curves);
	/* tickets are offered either way, as a client that does not cache
	 * sessions still would; only --tls-resume decides whether one is used */
	mbedtls_ssl_conf_session_tickets(&t->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	return FM_OK;
}

int bench_tls_new(const struct bench_opts *o, struct bench_tls **out, char *err, size_t len)
{
	struct bench_tls *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, len, "out of memory");
		return FM_ENOMEM;
	}
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_entropy_init(&t->entropy);
	mbedtls_x509_crt_init(&t->ca);
	t->resume = o->tls_resume;
	int rc = parse_curves(t, o->tls_curves, err, len);
	if (rc == FM_OK)
		rc = setup_conf(t, o->tls_cafile, err, len);
	if (rc != FM_OK) {
		bench_tls_free(t);
		return rc;
	}
	*out = t;
	return FM_OK;
}

void bench_tls_free(struct bench_tls *t)
{
	if (!t)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	free(t);
}

/* --- the socket under mbedtls ------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	const struct bconn *c = ctx;
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_WRITE;
		c->tls->sock_err = errno;
		return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	const struct bconn *c = ctx;
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return (int)n; /* 0: end of stream; mbedtls says MBEDTLS_ERR_SSL_CONN_EOF */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_READ;
		c->tls->sock_err = errno;
		return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

/* Called for each certificate of the server's chain, which only a full
 * handshake sends: see the file comment. Leaves the verdict to mbedtls. */
static int on_certificate(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	(void)crt;
	(void)depth;
	(void)flags;
	((struct tls_conn *)ctx)->saw_certificate = true;
	return 0;
}

/* --- a connection's handshake ---------------------------------------------------- */

static int conn_alloc(struct bench_tls *t, struct bconn *c)
{
	struct tls_conn *tc = calloc(1, sizeof(*tc));
	if (!tc)
		return FM_ENOMEM;
	mbedtls_ssl_init(&tc->ssl);
	mbedtls_ssl_session_init(&tc->saved);
	if (mbedtls_ssl_setup(&tc->ssl, &t->conf) != 0) {
		mbedtls_ssl_free(&tc->ssl);
		free(tc);
		return FM_ENOMEM;
	}
	c->tls = tc;
	return FM_OK;
}

int bench_tls_start(struct bench_tls *t, struct bconn *c, char *err, size_t len)
{
	if (!c->tls && conn_alloc(t, c) != FM_OK) {
		snprintf(err, len, "TLS: out of memory");
		return FM_ENOMEM;
	}
	struct tls_conn *tc = c->tls;
	int rc = mbedtls_ssl_session_reset(&tc->ssl);
	if (rc == 0)
		rc = mbedtls_ssl_set_hostname(&tc->ssl, TLS_SERVER_NAME);
	tc->offered = t->resume && tc->have_saved;
	if (rc == 0 && tc->offered)
		rc = mbedtls_ssl_set_session(&tc->ssl, &tc->saved);
	if (rc != 0) {
		describe(err, len, "TLS connection setup", rc);
		return FM_EIO;
	}
	mbedtls_ssl_set_bio(&tc->ssl, c, bio_send, bio_recv, NULL);
	mbedtls_ssl_set_verify(&tc->ssl, on_certificate, tc);
	tc->saw_certificate = tc->established = false;
	tc->pending_write = 0;
	tc->sock_err = 0;
	tc->err[0] = '\0';
	return FM_OK;
}

/* Keep the session just established for the slot's next handshake. A
 * failed copy only means the next one is full, which the count shows. */
static void save_session(struct tls_conn *tc)
{
	mbedtls_ssl_session_free(&tc->saved);
	mbedtls_ssl_session_init(&tc->saved);
	tc->have_saved = mbedtls_ssl_get_session(&tc->ssl, &tc->saved) == 0;
}

static void count_handshake(struct bench_tls *t, struct tls_conn *tc, struct tls_stats *st)
{
	st->handshakes++;
	st->offered += tc->offered;
	st->resumed += !tc->saw_certificate;
	if (!st->suite[0])
		snprintf(st->suite, sizeof(st->suite), "%s %s", mbedtls_ssl_get_version(&tc->ssl),
			 mbedtls_ssl_get_ciphersuite(&tc->ssl));
	if (t->resume)
		save_session(tc);
}

/* Why the handshake failed: the socket's error when a socket call failed
 * (a refused connection shows here), else mbedtls' words, with the
 * certificate check's first reason when that is what failed. */
static void describe_failure(struct tls_conn *tc, int rc)
{
	if (tc->sock_err) {
		snprintf(tc->err, sizeof(tc->err), "TLS handshake failed: %s", strerror(tc->sock_err));
		return;
	}
	char verify[100] = "";
	uint32_t flags = mbedtls_ssl_get_verify_result(&tc->ssl);
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != (uint32_t)-1) {
		mbedtls_x509_crt_verify_info(verify, sizeof(verify), "", flags);
		verify[strcspn(verify, "\n")] = '\0';
	}
	describe(tc->err, sizeof(tc->err), "TLS handshake failed", rc);
	if (verify[0]) {
		size_t used = strlen(tc->err);
		snprintf(tc->err + used, sizeof(tc->err) - used, " (%s)", verify);
	}
}

int bench_tls_handshake(struct bench_tls *t, struct bconn *c, struct tls_stats *st)
{
	struct tls_conn *tc = c->tls;
	if (tc->established)
		return FM_OK;
	int rc = mbedtls_ssl_handshake(&tc->ssl);
	if (rc == 0) {
		tc->established = true;
		count_handshake(t, tc, st);
		return FM_OK;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return FM_EAGAIN;
	st->failed++;
	if (rc == MBEDTLS_ERR_SSL_CONN_EOF || rc == MBEDTLS_ERR_NET_CONN_RESET) {
		snprintf(tc->err, sizeof(tc->err), "TLS handshake failed: the broker closed the connection");
		return FM_ECLOSED;
	}
	describe_failure(tc, rc);
	return FM_EPROTO;
}

/* --- application data ---------------------------------------------------------------- */

static ssize_t io_error(struct tls_conn *tc, const char *what, int rc)
{
	if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF)
		return FM_ECLOSED;
	describe(tc->err, sizeof(tc->err), what, rc);
	return rc == MBEDTLS_ERR_NET_CONN_RESET ? FM_ECLOSED : FM_EIO;
}

ssize_t bench_tls_read(struct bconn *c, void *buf, size_t len)
{
	struct tls_conn *tc = c->tls;
	int n = mbedtls_ssl_read(&tc->ssl, buf, len);
	if (n > 0)
		return n;
	if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
		return FM_EAGAIN;
	return io_error(tc, "TLS read failed", n);
}

size_t bench_tls_buffered(const struct bconn *c)
{
	return c->tls ? mbedtls_ssl_get_bytes_avail(&c->tls->ssl) : 0;
}

/* After WANT_WRITE mbedtls holds an encrypted record and must be called
 * again with the same length; the caller's bytes stay at the head of its
 * buffer until written, so pending_write only remembers that length. */
ssize_t bench_tls_write(struct bconn *c, const void *buf, size_t len)
{
	struct tls_conn *tc = c->tls;
	size_t chunk = tc->pending_write ? tc->pending_write : (len < TLS_RECORD_MAX ? len : TLS_RECORD_MAX);
	int n = mbedtls_ssl_write(&tc->ssl, buf, chunk);
	if (n >= 0) {
		tc->pending_write = 0;
		return n;
	}
	if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ) {
		tc->pending_write = chunk;
		return FM_EAGAIN;
	}
	return io_error(tc, "TLS write failed", n);
}

bool bench_tls_established(const struct bconn *c)
{
	return c->tls && c->tls->established;
}

void bench_tls_close_notify(struct bconn *c)
{
	if (bench_tls_established(c))
		mbedtls_ssl_close_notify(&c->tls->ssl); /* best effort: the socket closes next */
}

const char *bench_tls_error(const struct bconn *c)
{
	return c->tls && c->tls->err[0] ? c->tls->err : NULL;
}

void bench_tls_conn_free(struct bconn *c)
{
	struct tls_conn *tc = c->tls;
	if (!tc)
		return;
	mbedtls_ssl_free(&tc->ssl);
	mbedtls_ssl_session_free(&tc->saved);
	free(tc);
	c->tls = NULL;
}
