/* Internal to src/net: the server context both TLS files see. */
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

struct tls_server {
	atomic_uint refs;
	enum tls_identity identity;
	struct log *log;
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_x509_crt ca;
	mbedtls_x509_crl crl;
	mbedtls_ssl_ticket_context ticket;
	mbedtls_ssl_cache_context cache;
	int *suites;              /* 0-terminated; conf points at it */
	struct tls_psk *psk;      /* sorted by identity (bytes, then length) */
	size_t n_psk;
};

/* The PSK for an identity, or NULL. (tls_server.c) */
const struct tls_psk *tls_server_psk(const struct tls_server *s, const unsigned char *id, size_t len);

/* mbedtls' PSK callback: look the identity up, hand mbedtls its key and
 * remember the identity on the connection. (conn_tls.c) */
int tls_on_psk(void *server, mbedtls_ssl_context *ssl, const unsigned char *id, size_t len);

/* "<mbedtls error text>" for rc into out. */
void tls_strerror(int rc, char *out, size_t len);

#endif
