/* TLS on mbedtls: a listener's server context, a bridge's client context,
 * and the TLS transport of one connection on either side (conn_tls.c).
 *
 * A tls_server holds what every handshake on a listener needs: the
 * certificate and key, the CAs and CRL for client certificates, the PSK
 * table, the cipher suite list, the random generator, and the session
 * ticket key and session cache (resumption, so a reconnecting fleet does
 * not pay a full handshake per device). It is built once, shared read-only
 * by every worker (mbedtls is built with MBEDTLS_THREADING_C: the random
 * generator, ticket key and cache lock themselves) and reference counted:
 * a SIGHUP builds a new one from the same files, and connections keep the
 * one they started with until they close.
 *
 * A tls_client is the same for outgoing connections (bridges): the CAs
 * the remote's certificate must chain to, our client certificate, the
 * lowest version, and whether the remote's host name is checked. */
#ifndef FM_NET_TLS_H
#define FM_NET_TLS_H

#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"

#include <stdbool.h>

struct tls_server;

/* What the transport reports as the peer's identity (conn_identity). */
enum tls_identity {
	TLS_IDENTITY_NONE,    /* nothing */
	TLS_IDENTITY_CN,      /* certificate common name, or the PSK identity */
	TLS_IDENTITY_SUBJECT, /* certificate subject in RFC 2253 form, or the PSK identity */
};

struct tls_server_opts {
	const char *certfile, *keyfile;  /* PEM; NULL for a PSK-only listener */
	const char *cafile, *capath;     /* CAs for client certificates */
	const char *crlfile;
	const char *ciphers;             /* ':'-separated; NULL: default list */
	const char *tls_version;         /* lowest accepted; NULL: "tlsv1.2" */
	const char *psk_file;            /* identity:hexkey lines; NULL: no PSK */
	bool require_certificate;
	enum tls_identity identity;
	struct log *log;                 /* handshake lines */
};

/* Read the files and build a server context with one reference. FM_OK,
 * or FM_ECONFIG/FM_ENOMEM with eb naming the file and what is wrong. */
int tls_server_new(const struct tls_server_opts *o, struct tls_server **out, struct fm_errbuf *eb);
void tls_server_ref(struct tls_server *s);
void tls_server_unref(struct tls_server *s);

/* Wrap an accepted, non-blocking socket in TLS with s (a reference is
 * taken). The handshake runs from conn_read (and conn_writev, which
 * returns FM_EAGAIN until it is done); a failed one makes conn_read return
 * FM_EIO with conn_error() saying why. FM_OK or FM_ENOMEM (fd left open
 * for the caller). */
int conn_tls_init(struct conn *c, int fd, struct tls_server *s);

/* --- the client side (bridges) ------------------------------------------ */

struct tls_client;

struct tls_client_opts {
	const char *cafile, *capath;     /* CAs the remote's certificate must chain to (one needed) */
	const char *certfile, *keyfile;  /* our client certificate (PEM, chain after it), or both NULL */
	const char *tls_version;         /* lowest accepted: "tlsv1.2" (default when NULL) or "tlsv1.3" */
	bool insecure;                   /* bridge_insecure: do not check the remote's host name (chain still checked) */
	struct log *log;                 /* handshake lines; may be NULL */
};

/* Read the files and build a client context with one reference. FM_OK,
 * or FM_ECONFIG/FM_ENOMEM with eb naming the file and what is wrong (also
 * when neither cafile nor capath is given, only one of certfile and
 * keyfile, or tlsv1.3 from an mbedtls without it, as Debian 12's 2.28).
 * Safe to share between threads, as a tls_server is. */
int tls_client_new(const struct tls_client_opts *o, struct tls_client **out, struct fm_errbuf *eb);
void tls_client_ref(struct tls_client *t);
void tls_client_unref(struct tls_client *t); /* NULL: nothing */

/* Wrap a connected (or still connecting) non-blocking socket in TLS as the
 * client side, with t (a reference is taken). The server's certificate
 * must chain to t's CAs and, unless t is insecure, name host: a DNS name
 * is sent as SNI and matched against the certificate's DNS names (its CN
 * when it has no subjectAltName); an IPv4 or IPv6 literal (no brackets)
 * is matched against its IP addresses and sends no SNI. host is copied;
 * c->peer is left empty for the caller to fill.
 *
 * The handshake runs from conn_read and conn_writev, whichever is called:
 * the first conn_writev after connect() sends the ClientHello. Until the
 * handshake is done both return FM_EAGAIN and conn_writev takes none of
 * the caller's bytes (the caller keeps them, as for a full socket); while
 * conn_handshaking(), wait for writability only when conn_wants_write()
 * says so, else for readability. The call that finishes it leaves
 * conn_handshaking() false: held bytes can then be written. A failed
 * handshake (chain, name, dates, an alert, the connection closed) makes
 * both return FM_EIO from then on, with conn_error() saying why ("TLS
 * handshake with HOST failed: certificate verify failed: ..."). Once
 * established it reads and writes as a listener's TLS connection does
 * (conn_pending included). conn_close() frees it all and closes fd.
 * FM_OK, FM_EINVAL (host longer than 255 bytes) or FM_ENOMEM; on failure
 * the fd is left open and c untouched. */
int conn_tls_client_init(struct conn *c, int fd, struct tls_client *t, const char *host);

/* --- helpers shared by the TLS files --------------------------------------- */

/* One PSK: identity and key, looked up at handshake time. */
struct tls_psk {
	char *identity;
	unsigned char *key;
	size_t key_len;
};

/* The common name of the certificate's subject into out; false if none. */
struct mbedtls_x509_crt;
bool tls_cert_cn(const struct mbedtls_x509_crt *crt, char *out, size_t len);
/* The subject as RFC 2253 text (last RDN first, "CN=dev1,O=Fleet,C=DE"),
 * as mosquitto's use_subject_as_username produces it; false if it does
 * not fit. */
bool tls_cert_subject(const struct mbedtls_x509_crt *crt, char *out, size_t len);

#endif
