/* TLS on mbedtls: one listener's server context, and the TLS transport of
 * one connection (conn_tls.c).
 *
 * A tls_server holds what every handshake on a listener needs: the
 * certificate and key, the CAs and CRL for client certificates, the PSK
 * table, the cipher suite list, the random generator, and the session
 * ticket key and session cache (resumption, so a reconnecting fleet does
 * not pay a full handshake per device). It is built once, shared read-only
 * by every worker (mbedtls is built with MBEDTLS_THREADING_C: the random
 * generator, ticket key and cache lock themselves) and reference counted:
 * a SIGHUP builds a new one from the same files, and connections keep the
 * one they started with until they close. */
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
 * taken). The handshake runs from conn_read. FM_OK or FM_ENOMEM (fd left
 * open for the caller). */
int conn_tls_init(struct conn *c, int fd, struct tls_server *s);

/* --- helpers shared by the two files (tls_server.c, conn_tls.c) --------- */

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
