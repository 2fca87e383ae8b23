/* Internal to src/net: the server and client contexts the TLS files see,
 * and what the two are built on (tls_base.c). */
#ifndef FM_NET_TLS_INT_H
#define FM_NET_TLS_INT_H

#include "net/tls.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <stdatomic.h>

/* What a server and a client context share: the reference count, the
 * config every connection is set up from, the random generator, our own
 * certificate and key, and the CAs the peer's certificate must chain to. */
struct tls_base {
	atomic_uint refs;
	struct log *log;          /* handshake lines; may be NULL */
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt cert;    /* ours (empty: none) */
	mbedtls_pk_context key;
	mbedtls_x509_crt ca;      /* trust anchors for the peer (empty: none) */
};

struct tls_server {
	struct tls_base base;
	enum tls_identity identity;
	mbedtls_x509_crl crl;
	mbedtls_ssl_ticket_context ticket;
	mbedtls_ssl_cache_context cache;
	int *suites;              /* 0-terminated; base.conf points at it */
	struct tls_psk *psk;      /* sorted by identity (bytes, then length) */
	size_t n_psk;
};

struct tls_client {
	struct tls_base base;
	bool insecure;            /* no host name check (the chain is still checked) */
	bool has_cert;            /* we have a client certificate to present */
};

/* --- tls_base.c ----------------------------------------------------------- */

/* Init every member (one reference); fini frees them (b may then be
 * freed). */
void tls_base_init(struct tls_base *b, struct log *log);
void tls_base_fini(struct tls_base *b);
/* Another reference; unref drops one and is true for the last. */
void tls_base_ref(struct tls_base *b);
bool tls_base_unref(struct tls_base *b);
/* Seed the generator (pers names the context in its seed) and set the
 * config's defaults for endpoint (MBEDTLS_SSL_IS_SERVER or _CLIENT), the
 * generator, our key exchange curves and the lowest protocol version.
 * FM_OK or FM_ECONFIG with eb set. */
int tls_base_setup(struct tls_base *b, int endpoint, const char *pers, const char *tls_version,
		   struct fm_errbuf *eb);
/* Our certificate (PEM, may hold the chain after it) and its key, checked
 * to be a pair, into the config. FM_OK or FM_ECONFIG naming the file. */
int tls_base_load_own_cert(struct tls_base *b, const char *certfile, const char *keyfile, struct fm_errbuf *eb);
/* The CAs from cafile and/or capath (either may be NULL) into b->ca; the
 * caller hands them to the config. FM_OK or FM_ECONFIG naming the file. */
int tls_base_load_ca(struct tls_base *b, const char *cafile, const char *capath, struct fm_errbuf *eb);
/* "cannot use <what> '<path>': <mbedtls text>" into eb; FM_ECONFIG. */
int tls_file_error(struct fm_errbuf *eb, const char *what, const char *path, int rc);
/* "<mbedtls error text>" for rc into out. */
void tls_strerror(int rc, char *out, size_t len);

/* --- tls_server.c, conn_tls.c --------------------------------------------- */

/* The PSK for an identity, or NULL. (tls_server.c) */
const struct tls_psk *tls_server_psk(const struct tls_server *s, const unsigned char *id, size_t len);

/* mbedtls' PSK callback: look the identity up, hand mbedtls its key and
 * remember the identity on the connection. (conn_tls.c) */
int tls_on_psk(void *server, mbedtls_ssl_context *ssl, const unsigned char *id, size_t len);

#endif
