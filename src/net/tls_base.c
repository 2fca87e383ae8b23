/* What a listener's server context (tls_server.c) and a bridge's client
 * context (tls_client.c) are both built on: the random generator, the
 * config defaults, our certificate and key, the CAs for the peer, the
 * reference count and the error text. Each side adds its own rules
 * (client certificates and resumption on the server, the host name check
 * on the client). */
#include "net/tls_int.h"
#include "net/tls_setup.h"

#include <mbedtls/error.h>
#include <string.h>

void tls_strerror(int rc, char *out, size_t len)
{
	mbedtls_strerror(rc, out, len);
}

int tls_file_error(struct fm_errbuf *eb, const char *what, const char *path, int rc)
{
	char text[160];
	tls_strerror(rc, text, sizeof(text));
	return fm_errbuf_set(eb, "cannot use %s '%s': %s", what, path, text);
}

void tls_base_init(struct tls_base *b, struct log *log)
{
	atomic_init(&b->refs, 1);
	b->log = log;
	mbedtls_ssl_config_init(&b->conf);
	mbedtls_entropy_init(&b->entropy);
	mbedtls_ctr_drbg_init(&b->drbg);
	mbedtls_x509_crt_init(&b->cert);
	mbedtls_pk_init(&b->key);
	mbedtls_x509_crt_init(&b->ca);
}

void tls_base_fini(struct tls_base *b)
{
	mbedtls_ssl_config_free(&b->conf);
	mbedtls_x509_crt_free(&b->cert);
	mbedtls_pk_free(&b->key);
	mbedtls_x509_crt_free(&b->ca);
	mbedtls_ctr_drbg_free(&b->drbg);
	mbedtls_entropy_free(&b->entropy);
}

void tls_base_ref(struct tls_base *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

bool tls_base_unref(struct tls_base *b)
{
	return atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1;
}

/* ECDHE curves, in our order of preference (a server picks from the
 * client's list in this order; a client offers them in it): mbedtls'
 * default list starts with secp521r1, which costs a full handshake half as
 * much again as P-256; X25519 is the cheapest it has and what OpenSSL
 * clients prefer. */
static const mbedtls_ecp_group_id key_exchange_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_SECP521R1, /* last: only for a peer with nothing else */
	MBEDTLS_ECP_DP_NONE,
};

int tls_base_setup(struct tls_base *b, int endpoint, const char *pers, const char *tls_version,
		   struct fm_errbuf *eb)
{
	int rc = mbedtls_ctr_drbg_seed(&b->drbg, mbedtls_entropy_func, &b->entropy, (const unsigned char *)pers,
				       strlen(pers));
	if (rc == 0)
		rc = mbedtls_ssl_config_defaults(&b->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
						 MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0)
		return tls_file_error(eb, "TLS", "setup", rc);
	mbedtls_ssl_conf_rng(&b->conf, mbedtls_ctr_drbg_random, &b->drbg);
	mbedtls_ssl_conf_curves(&b->conf, key_exchange_curves);
	return tls_apply_version(&b->conf, tls_version, eb);
}

int tls_base_load_own_cert(struct tls_base *b, const char *certfile, const char *keyfile, struct fm_errbuf *eb)
{
	int rc = mbedtls_x509_crt_parse_file(&b->cert, certfile);
	if (rc != 0)
		return tls_file_error(eb, "certfile", certfile, rc);
	rc = mbedtls_pk_parse_keyfile(&b->key, keyfile, NULL);
	if (rc != 0)
		return tls_file_error(eb, "keyfile", keyfile, rc);
	if (mbedtls_pk_check_pair(&b->cert.pk, &b->key) != 0)
		return fm_errbuf_set(eb, "keyfile '%s' is not the key of certfile '%s'", keyfile, certfile);
	rc = mbedtls_ssl_conf_own_cert(&b->conf, &b->cert, &b->key);
	return rc == 0 ? FM_OK : tls_file_error(eb, "certfile", certfile, rc);
}

int tls_base_load_ca(struct tls_base *b, const char *cafile, const char *capath, struct fm_errbuf *eb)
{
	int rc;
	if (cafile && (rc = mbedtls_x509_crt_parse_file(&b->ca, cafile)) != 0)
		return tls_file_error(eb, "cafile", cafile, rc);
	if (capath && (rc = mbedtls_x509_crt_parse_path(&b->ca, capath)) != 0)
		return rc > 0 ? fm_errbuf_set(eb, "capath '%s': %d certificates could not be read", capath, rc)
			      : tls_file_error(eb, "capath", capath, rc);
	return FM_OK;
}
