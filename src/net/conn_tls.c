/* The TLS transport: mbedtls over a non-blocking socket, inside the
 * worker's event loop, as either side. The handshake is driven from read
 * and write (every readiness event the loop reports moves it on; it never
 * blocks); on a listener it is bounded by the client's connect timeout.
 *
 * Sections: the socket under mbedtls; the client side's host name check;
 * the handshake; the transport ops; the two ways in (accepted, connected). */
#include "net/tls_int.h"

#include <mbedtls/net_sockets.h>
#include <mbedtls/version.h>

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Plaintext per mbedtls_ssl_write call: one record. */
#define TLS_RECORD_MAX 16384
#define TLS_IDENTITY_MAX 1024

/* TLS 1.3 (mbedtls 3.x): a NewSessionTicket the server sends after the
 * handshake surfaces from read (and write, and a last handshake call) as
 * this "error"; mbedtls has taken the ticket and the call is simply made
 * again. mbedtls 2.28 has no TLS 1.3 and no such code. */
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
#define TLS_TICKET(rc) ((rc) == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
#else
#define TLS_TICKET(rc) false
#endif

struct tls_conn {
	mbedtls_ssl_context ssl;  /* first: the PSK callback is handed &ssl */
	struct tls_server *srv;   /* accepted: the listener's context (a reference); else NULL */
	struct tls_client *cli;   /* connected: the bridge's context (a reference); else NULL */
	char *host;               /* connected: the name the server's certificate must carry; owned */
	char *identity;           /* per the listener's identity setting; owned */
	char *psk_identity;       /* set by the PSK callback; owned */
	size_t pending_write;     /* a record mbedtls holds after WANT_WRITE (its plaintext length) */
	int read_err;             /* a read error to report once the bytes before it are consumed */
	int sys_errno;            /* errno of the last failed send or recv (0: none), for the message */
	bool established;
	bool failed;              /* the handshake failed (err says why): nothing more is tried */
	bool first_checked;       /* the first byte was seen to start a TLS record */
	bool want_write;          /* the handshake waits for the socket to be writable */
	char err[256];
};

static struct tls_conn *tls_of(const struct conn *c)
{
	return c->impl;
}

/* --- the socket under mbedtls --------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct conn *c = ctx;
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_WRITE;
		tls_of(c)->sys_errno = errno;
		return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct conn *c = ctx;
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return (int)n; /* 0: end of stream, which mbedtls reports as such */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_READ;
		tls_of(c)->sys_errno = errno;
		return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

/* --- the client side's host name check -------------------------------------- */

/* host as an IPv4 or IPv6 address into ip: its length, 0 for a name. */
static size_t ip_of(const char *host, unsigned char ip[16])
{
	if (inet_pton(AF_INET, host, ip) == 1)
		return 4;
	return inet_pton(AF_INET6, host, ip) == 1 ? 16 : 0;
}

static bool cert_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
		if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) &&
		    s->buf.len == len && memcmp(s->buf.p, ip, len) == 0)
			return true;
	return false;
}

/* mbedtls' call for each certificate of the server's chain once it has
 * checked it (depth 0: the server's own). A host name mbedtls matched
 * itself (conn_tls_client_init gave it as the hostname); mbedtls 2.28
 * matches DNS names only, so an address is matched here against the
 * certificate's iPAddress entries, as OpenSSL and mosquitto do. insecure
 * drops the name check, never the chain's. */
static int on_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn *t = arg;
	unsigned char ip[16];
	size_t ip_len;
	if (depth != 0)
		return 0;
	if (t->cli->insecure)
		*flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
	else if ((ip_len = ip_of(t->host, ip)) != 0 && !cert_has_ip(crt, ip, ip_len))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

/* --- handshake ------------------------------------------------------------- */

int tls_on_psk(void *server, mbedtls_ssl_context *ssl, const unsigned char *id, size_t len)
{
	struct tls_conn *t = (struct tls_conn *)ssl; /* ssl is its first member */
	const struct tls_psk *k = tls_server_psk(server, id, len);
	if (!k)
		return -1; /* mbedtls answers unknown_psk_identity */
	free(t->psk_identity);
	t->psk_identity = strdup(k->identity);
	if (!t->psk_identity)
		return -1;
	return mbedtls_ssl_set_hs_psk(ssl, k->key, k->key_len);
}

static char *identity_of(struct tls_conn *t)
{
	if (!t->srv || t->srv->identity == TLS_IDENTITY_NONE)
		return NULL;
	if (t->psk_identity)
		return strdup(t->psk_identity);
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&t->ssl);
	char text[TLS_IDENTITY_MAX];
	if (!crt)
		return NULL;
	bool ok = t->srv->identity == TLS_IDENTITY_CN ? tls_cert_cn(crt, text, sizeof(text))
						       : tls_cert_subject(crt, text, sizeof(text));
	return ok ? strdup(text) : NULL;
}

static void on_established(struct conn *c, struct tls_conn *t)
{
	t->established = true;
	t->want_write = false;
	t->identity = identity_of(t);
	char peer[NET_ADDR_STRLEN];
	log_info(t->srv ? t->srv->base.log : t->cli->base.log, "TLS handshake with %s done (%s, %s%s%s)",
		 t->host ? t->host : net_addr_format(&c->peer, peer, sizeof(peer)), mbedtls_ssl_get_version(&t->ssl),
		 mbedtls_ssl_get_ciphersuite(&t->ssl), t->psk_identity ? ", PSK identity " : "",
		 t->psk_identity ? t->psk_identity : "");
}

/* "certificate verify failed: " and each reason mbedtls gives for flags,
 * joined by "; ". */
static void verify_reasons(uint32_t flags, char *out, size_t len)
{
	char lines[512];
	mbedtls_x509_crt_verify_info(lines, sizeof(lines), "", flags);
	size_t used = (size_t)snprintf(out, len, "certificate verify failed");
	const char *sep = ": ";
	for (char *save = NULL, *line = strtok_r(lines, "\n", &save); line && used < len;
	     line = strtok_r(NULL, "\n", &save), sep = "; ")
		used += (size_t)snprintf(out + used, len - used, "%s%s", sep, line);
}

/* Whether the server asked for our certificate (a CertificateRequest),
 * and the description of the fatal alert just received: public fields of
 * the context in mbedtls 2.28, private from 3.0 on. */
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define TLS_ASKED_FOR_CERT(ssl) ((ssl)->client_auth != 0)
#define TLS_ALERT_RECEIVED(ssl) ((int)(ssl)->in_msg[1])
#else
#define TLS_ASKED_FOR_CERT(ssl) false
#define TLS_ALERT_RECEIVED(ssl) -1
#endif

/* The alerts a handshake ends with, by their RFC 8446 names. */
static const char *alert_name(int code)
{
	switch (code) {
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 109: return "missing_extension";
	case 112: return "unrecognized_name";
	case 115: return "unknown_psk_identity";
	case 116: return "certificate_required";
	case 120: return "no_application_protocol";
	default: return NULL;
	}
}

/* On the client side, what a refusal most likely means. */
static const char *cert_hint(const struct tls_conn *t)
{
	return t->cli && !t->cli->has_cert && TLS_ASKED_FOR_CERT(&t->ssl)
		       ? ": it asked for a client certificate and we have none"
		       : "";
}

/* What made the handshake fail, in words: the certificate check's own
 * reasons, the peer's alert, the connection closed or the socket's error,
 * else mbedtls' text. */
static void failure_text(const struct tls_conn *t, int rc, char *out, size_t len)
{
	const char *peer = t->cli ? "server" : "client";
	uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
	bool closed = rc == MBEDTLS_ERR_SSL_CONN_EOF || rc == MBEDTLS_ERR_NET_CONN_RESET;
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != (uint32_t)-1) {
		verify_reasons(flags, out, len);
	} else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		int alert = TLS_ALERT_RECEIVED(&t->ssl);
		const char *name = alert_name(alert);
		if (name)
			snprintf(out, len, "the %s sent alert %s (%d)%s", peer, name, alert, cert_hint(t));
		else
			snprintf(out, len, "the %s sent a fatal alert (%d)%s", peer, alert, cert_hint(t));
	} else if (closed) {
		snprintf(out, len, "the %s closed the connection before the handshake was done%s", peer, cert_hint(t));
	} else if (t->sys_errno && (rc == MBEDTLS_ERR_NET_SEND_FAILED || rc == MBEDTLS_ERR_NET_RECV_FAILED)) {
		snprintf(out, len, "%s", strerror(t->sys_errno));
	} else {
		tls_strerror(rc, out, len);
	}
}

/* Why the handshake failed into t->err; on the client side with the host
 * it was for. */
static void describe_failure(struct tls_conn *t, int rc)
{
	char why[200];
	failure_text(t, rc, why, sizeof(why));
	if (t->host)
		snprintf(t->err, sizeof(t->err), "TLS handshake with %s failed: %s", t->host, why);
	else
		snprintf(t->err, sizeof(t->err), "TLS handshake failed: %s", why);
}

/* Before the first handshake step: a client speaking plain MQTT (or
 * anything else) to a TLS port gets a log line that says so, not
 * mbedtls' "ClientHello failed". A TLS connection starts with a
 * handshake record (0x16). */
static bool plain_client(struct conn *c, struct tls_conn *t)
{
	unsigned char first;
	if (t->first_checked || recv(c->fd, &first, 1, MSG_PEEK) != 1)
		return false;
	t->first_checked = true;
	if (first == 0x16)
		return false;
	snprintf(t->err, sizeof(t->err), "TLS handshake failed: the client did not start TLS (first byte 0x%02x%s)",
		 first, first == 0x10 ? ", an MQTT CONNECT: plain MQTT on a TLS listener" : "");
	return true;
}

/* Step the handshake as far as the socket allows. FM_OK once it is done,
 * FM_EAGAIN, or FM_EIO (now and on every later call) when it failed. */
static ssize_t handshake(struct conn *c, struct tls_conn *t)
{
	if (t->failed)
		return FM_EIO;
	if (t->srv && plain_client(c, t)) {
		t->failed = true;
		return FM_EIO;
	}
	int rc;
	do
		rc = mbedtls_ssl_handshake(&t->ssl);
	while (TLS_TICKET(rc));
	if (rc == 0) {
		on_established(c, t);
		return FM_OK;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		t->want_write = rc == MBEDTLS_ERR_SSL_WANT_WRITE;
		return FM_EAGAIN;
	}
	describe_failure(t, rc);
	t->failed = true;
	t->want_write = false;
	return FM_EIO;
}

/* --- the transport ops -------------------------------------------------------- */

static ssize_t read_error(struct tls_conn *t, int rc)
{
	if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF ||
	    rc == MBEDTLS_ERR_NET_CONN_RESET)
		return FM_ECLOSED;
	char text[100];
	tls_strerror(rc, text, sizeof(text));
	snprintf(t->err, sizeof(t->err), "TLS read failed: %s", text);
	return FM_EIO;
}

/* Fill buf from as many records as are there: the caller takes a short
 * read to mean the socket is drained, and mbedtls reads records whole, so
 * stopping early could leave a record's rest where no event reports it. */
static ssize_t tls_read(struct conn *c, void *buf, size_t len)
{
	struct tls_conn *t = tls_of(c);
	if (!t->established) {
		ssize_t rc = handshake(c, t);
		if (rc != FM_OK)
			return rc;
	}
	if (t->read_err)
		return read_error(t, t->read_err);
	size_t got = 0;
	while (got < len) {
		int n = mbedtls_ssl_read(&t->ssl, (unsigned char *)buf + got, len - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (TLS_TICKET(n))
			continue;
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (got == 0)
			return read_error(t, n);
		t->read_err = n; /* hand over what came before it first */
		break;
	}
	return got ? (ssize_t)got : FM_EAGAIN;
}

/* mbedtls_ssl_write after WANT_WRITE must be called again with the same
 * length: the record is already encrypted and only flushed then, so
 * pending_write remembers it. The caller's bytes stay at the head of its
 * buffer until written, so the same bytes are passed again. */
static ssize_t write_chunk(struct tls_conn *t, const unsigned char *p, size_t len)
{
	size_t chunk = t->pending_write ? t->pending_write : (len < TLS_RECORD_MAX ? len : TLS_RECORD_MAX);
	int n;
	do
		n = mbedtls_ssl_write(&t->ssl, p, chunk);
	while (TLS_TICKET(n));
	if (n >= 0) {
		t->pending_write = 0;
		return n;
	}
	if (n == MBEDTLS_ERR_SSL_WANT_WRITE || n == MBEDTLS_ERR_SSL_WANT_READ) {
		t->pending_write = chunk;
		return FM_EAGAIN;
	}
	char text[100];
	tls_strerror(n, text, sizeof(text));
	snprintf(t->err, sizeof(t->err), "TLS write failed: %s", text);
	return n == MBEDTLS_ERR_NET_CONN_RESET ? FM_ECLOSED : FM_EIO;
}

static ssize_t tls_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
	struct tls_conn *t = tls_of(c);
	if (!t->established) {
		/* none of the caller's bytes go out before the handshake is done,
		 * but the handshake itself moves on (a client's starts here) */
		ssize_t rc = handshake(c, t);
		if (rc != FM_OK)
			return rc;
	}
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++) {
		const unsigned char *base = iov[i].iov_base;
		size_t off = 0;
		while (off < iov[i].iov_len) {
			ssize_t n = write_chunk(t, base + off, iov[i].iov_len - off);
			if (n < 0)
				return total ? (ssize_t)total : n;
			off += (size_t)n;
			total += (size_t)n;
		}
	}
	return (ssize_t)total;
}

static void tls_close(struct conn *c)
{
	struct tls_conn *t = tls_of(c);
	if (t) {
		if (t->established)
			mbedtls_ssl_close_notify(&t->ssl); /* best effort: the socket closes next */
		mbedtls_ssl_free(&t->ssl);
		tls_server_unref(t->srv);
		tls_client_unref(t->cli);
		free(t->host);
		free(t->identity);
		free(t->psk_identity);
		free(t);
		c->impl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static bool tls_handshaking(const struct conn *c)
{
	const struct tls_conn *t = tls_of(c);
	return t && !t->established;
}

static bool tls_wants_write(const struct conn *c)
{
	const struct tls_conn *t = tls_of(c);
	return t && !t->established && t->want_write;
}

static bool tls_pending(const struct conn *c)
{
	const struct tls_conn *t = tls_of(c);
	return t && t->established && (mbedtls_ssl_get_bytes_avail(&t->ssl) > 0 || t->read_err);
}

static const char *tls_error(const struct conn *c)
{
	const struct tls_conn *t = tls_of(c);
	return t && t->err[0] ? t->err : NULL;
}

static const char *tls_identity(const struct conn *c)
{
	const struct tls_conn *t = tls_of(c);
	return t ? t->identity : NULL;
}

static const struct conn_ops tls_ops = {
	.kind = "tls",
	.read = tls_read,
	.writev = tls_writev,
	.close = tls_close,
	.handshaking = tls_handshaking,
	.wants_write = tls_wants_write,
	.pending = tls_pending,
	.error = tls_error,
	.identity = tls_identity,
};

/* --- the two ways in --------------------------------------------------------- */

/* A connection state for conf, not yet attached to a conn; NULL on ENOMEM. */
static struct tls_conn *tls_conn_new(const mbedtls_ssl_config *conf)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, conf) != 0) {
		mbedtls_ssl_free(&t->ssl);
		free(t);
		return NULL;
	}
	return t;
}

static void attach(struct conn *c, int fd, struct tls_conn *t)
{
	c->ops = &tls_ops;
	c->impl = t;
	c->fd = fd;
	c->peer = (struct net_addr){0};
	mbedtls_ssl_set_bio(&t->ssl, c, bio_send, bio_recv, NULL);
}

int conn_tls_init(struct conn *c, int fd, struct tls_server *s)
{
	struct tls_conn *t = tls_conn_new(&s->base.conf);
	if (!t)
		return FM_ENOMEM;
	tls_server_ref(s);
	t->srv = s;
	attach(c, fd, t);
	return FM_OK;
}

int conn_tls_client_init(struct conn *c, int fd, struct tls_client *cli, const char *host)
{
	assert(host);
	struct tls_conn *t = tls_conn_new(&cli->base.conf);
	if (!t)
		return FM_ENOMEM;
	/* SNI carries names only (RFC 6066, section 3): an address is
	 * checked by on_verify instead */
	unsigned char ip[16];
	int rc = mbedtls_ssl_set_hostname(&t->ssl, ip_of(host, ip) ? NULL : host);
	t->host = strdup(host);
	if (rc != 0 || !t->host) {
		free(t->host);
		mbedtls_ssl_free(&t->ssl);
		free(t);
		return rc == MBEDTLS_ERR_SSL_BAD_INPUT_DATA ? FM_EINVAL : FM_ENOMEM;
	}
	mbedtls_ssl_set_verify(&t->ssl, on_verify, t);
	tls_client_ref(cli);
	t->cli = cli;
	attach(c, fd, t);
	return FM_OK;
}
