/* The TLS transport: mbedtls over a non-blocking socket, inside the
 * worker's event loop. The handshake is driven from read (every readiness
 * event the loop reports moves it on; it never blocks) and is bounded by
 * the client's connect timeout. */
#include "net/tls_int.h"

#include <mbedtls/net_sockets.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Plaintext per mbedtls_ssl_write call: one record. */
#define TLS_RECORD_MAX 16384
#define TLS_IDENTITY_MAX 1024

struct tls_conn {
	mbedtls_ssl_context ssl;  /* first: the PSK callback is handed &ssl */
	struct tls_server *srv;
	char *identity;           /* per the listener's identity setting; owned */
	char *psk_identity;       /* set by the PSK callback; owned */
	size_t pending_write;     /* a record mbedtls holds after WANT_WRITE (its plaintext length) */
	int read_err;             /* a read error to report once the bytes before it are consumed */
	bool established;
	bool first_checked;       /* the first byte was seen to start a TLS record */
	bool want_write;          /* the handshake waits for the socket to be writable */
	char err[200];
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
		return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
	}
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
	if (t->srv->identity == TLS_IDENTITY_NONE)
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
	log_info(t->srv->log, "TLS handshake with %s done (%s, %s%s%s)", net_addr_format(&c->peer, peer, sizeof(peer)),
		 mbedtls_ssl_get_version(&t->ssl), mbedtls_ssl_get_ciphersuite(&t->ssl),
		 t->psk_identity ? ", PSK identity " : "", t->psk_identity ? t->psk_identity : "");
}

/* Why the handshake failed, with the certificate check's own words when
 * that is what failed. */
static void describe_failure(struct tls_conn *t, int rc)
{
	char text[100], verify[100] = "";
	tls_strerror(rc, text, sizeof(text));
	uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != (uint32_t)-1) {
		mbedtls_x509_crt_verify_info(verify, sizeof(verify), "", flags);
		verify[strcspn(verify, "\n")] = '\0'; /* the first reason is enough */
	}
	snprintf(t->err, sizeof(t->err), "TLS handshake failed: %s%s%s%s", text, verify[0] ? " (" : "", verify,
		 verify[0] ? ")" : "");
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

static ssize_t handshake(struct conn *c, struct tls_conn *t)
{
	if (plain_client(c, t))
		return FM_EPROTO;
	int rc = mbedtls_ssl_handshake(&t->ssl);
	if (rc == 0) {
		on_established(c, t);
		return FM_OK;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		t->want_write = rc == MBEDTLS_ERR_SSL_WANT_WRITE;
		return FM_EAGAIN;
	}
	describe_failure(t, rc);
	return FM_EPROTO;
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
	int n = mbedtls_ssl_write(&t->ssl, p, chunk);
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
	if (!t->established)
		return FM_EAGAIN; /* nothing is written before the handshake is done */
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

int conn_tls_init(struct conn *c, int fd, struct tls_server *s)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return FM_ENOMEM;
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, &s->conf) != 0) {
		mbedtls_ssl_free(&t->ssl);
		free(t);
		return FM_ENOMEM;
	}
	tls_server_ref(s);
	t->srv = s;
	c->ops = &tls_ops;
	c->impl = t;
	c->fd = fd;
	c->peer = (struct net_addr){0};
	mbedtls_ssl_set_bio(&t->ssl, c, bio_send, bio_recv, NULL);
	return FM_OK;
}
