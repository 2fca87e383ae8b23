/* A listener's TLS server context: certificates, CAs, CRL, protocol
 * version, cipher suites, PSKs, the random generator and resumption
 * (session tickets and a session cache). */
#include "net/tls_int.h"
#include "net/tls_setup.h"

#include <mbedtls/error.h>
#include <stdlib.h>
#include <string.h>

/* Sessions the cache keeps for clients that resume by session id rather
 * than by ticket; mbedtls scans it linearly, so it stays modest. */
#define TLS_CACHE_ENTRIES 1000
/* How long a ticket or cached session may be resumed. */
#define TLS_RESUME_SECONDS 86400

void tls_strerror(int rc, char *out, size_t len)
{
	mbedtls_strerror(rc, out, len);
}

static int file_error(struct fm_errbuf *eb, const char *what, const char *path, int rc)
{
	char text[160];
	tls_strerror(rc, text, sizeof(text));
	return fm_errbuf_set(eb, "cannot use %s '%s': %s", what, path, text);
}

static void server_free(struct tls_server *s)
{
	mbedtls_ssl_config_free(&s->conf);
	mbedtls_ssl_ticket_free(&s->ticket);
	mbedtls_ssl_cache_free(&s->cache);
	mbedtls_x509_crt_free(&s->cert);
	mbedtls_pk_free(&s->key);
	mbedtls_x509_crt_free(&s->ca);
	mbedtls_x509_crl_free(&s->crl);
	mbedtls_ctr_drbg_free(&s->drbg);
	mbedtls_entropy_free(&s->entropy);
	tls_psk_table_free(s->psk, s->n_psk);
	free(s->suites);
	free(s);
}

static struct tls_server *server_alloc(void)
{
	struct tls_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	mbedtls_ssl_config_init(&s->conf);
	mbedtls_ssl_ticket_init(&s->ticket);
	mbedtls_ssl_cache_init(&s->cache);
	mbedtls_x509_crt_init(&s->cert);
	mbedtls_pk_init(&s->key);
	mbedtls_x509_crt_init(&s->ca);
	mbedtls_x509_crl_init(&s->crl);
	mbedtls_ctr_drbg_init(&s->drbg);
	mbedtls_entropy_init(&s->entropy);
	return s;
}

static int load_own_cert(struct tls_server *s, const struct tls_server_opts *o, struct fm_errbuf *eb)
{
	int rc = mbedtls_x509_crt_parse_file(&s->cert, o->certfile);
	if (rc != 0)
		return file_error(eb, "certfile", o->certfile, rc);
	rc = mbedtls_pk_parse_keyfile(&s->key, o->keyfile, NULL);
	if (rc != 0)
		return file_error(eb, "keyfile", o->keyfile, rc);
	if (mbedtls_pk_check_pair(&s->cert.pk, &s->key) != 0)
		return fm_errbuf_set(eb, "keyfile '%s' is not the key of certfile '%s'", o->keyfile, o->certfile);
	rc = mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key);
	return rc == 0 ? FM_OK : file_error(eb, "certfile", o->certfile, rc);
}

/* CAs and CRL for client certificates. Without require_certificate none is
 * asked for (mosquitto does the same). */
static int load_client_trust(struct tls_server *s, const struct tls_server_opts *o, struct fm_errbuf *eb)
{
	int rc;
	if (o->cafile && (rc = mbedtls_x509_crt_parse_file(&s->ca, o->cafile)) != 0)
		return file_error(eb, "cafile", o->cafile, rc);
	if (o->capath && (rc = mbedtls_x509_crt_parse_path(&s->ca, o->capath)) != 0)
		return rc > 0 ? fm_errbuf_set(eb, "capath '%s': %d certificates could not be read", o->capath, rc)
			      : file_error(eb, "capath", o->capath, rc);
	if (o->crlfile && (rc = mbedtls_x509_crl_parse_file(&s->crl, o->crlfile)) != 0)
		return file_error(eb, "crlfile", o->crlfile, rc);
	if (o->cafile || o->capath)
		mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, o->crlfile ? &s->crl : NULL);
	mbedtls_ssl_conf_authmode(&s->conf, o->require_certificate ? MBEDTLS_SSL_VERIFY_REQUIRED
								    : MBEDTLS_SSL_VERIFY_NONE);
	return FM_OK;
}

/* Tickets (stateless, the server keeps nothing per client) and a cache for
 * clients that only resume by session id. */
static int setup_resumption(struct tls_server *s, struct fm_errbuf *eb)
{
	int rc = mbedtls_ssl_ticket_setup(&s->ticket, mbedtls_ctr_drbg_random, &s->drbg,
					  MBEDTLS_CIPHER_AES_256_GCM, TLS_RESUME_SECONDS);
	if (rc != 0)
		return file_error(eb, "session tickets", "setup", rc);
	mbedtls_ssl_conf_session_tickets_cb(&s->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &s->ticket);
	mbedtls_ssl_cache_set_max_entries(&s->cache, TLS_CACHE_ENTRIES);
	mbedtls_ssl_cache_set_timeout(&s->cache, TLS_RESUME_SECONDS);
	mbedtls_ssl_conf_session_cache(&s->conf, &s->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
	return FM_OK;
}

/* ECDHE curves, in our order of preference (the server picks): mbedtls'
 * default list starts with secp521r1, which costs a full handshake half as
 * much again as P-256; X25519 is the cheapest it has and what OpenSSL
 * clients prefer. */
static const mbedtls_ecp_group_id key_exchange_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_SECP521R1, /* last: only for a client with nothing else */
	MBEDTLS_ECP_DP_NONE,
};

static int setup_config(struct tls_server *s, const struct tls_server_opts *o, struct fm_errbuf *eb)
{
	static const char pers[] = "fleetmq tls server";
	int rc = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
				       (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc == 0)
		rc = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
						 MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0)
		return file_error(eb, "TLS", "setup", rc);
	mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
	mbedtls_ssl_conf_curves(&s->conf, key_exchange_curves);
	if ((rc = tls_apply_version(&s->conf, o->tls_version, eb)) != FM_OK)
		return rc;
	s->suites = tls_suites_parse(o->ciphers, o->psk_file != NULL, o->certfile != NULL, eb);
	if (!s->suites)
		return FM_ECONFIG;
	mbedtls_ssl_conf_ciphersuites(&s->conf, s->suites);
	return setup_resumption(s, eb);
}

int tls_server_new(const struct tls_server_opts *o, struct tls_server **out, struct fm_errbuf *eb)
{
	struct tls_server *s = server_alloc();
	if (!s)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	s->identity = o->identity;
	s->log = o->log;
	int rc = setup_config(s, o, eb);
	if (rc == FM_OK && o->certfile)
		rc = load_own_cert(s, o, eb);
	if (rc == FM_OK)
		rc = load_client_trust(s, o, eb);
	if (rc == FM_OK && o->psk_file) {
		rc = tls_psk_table_load(o->psk_file, &s->psk, &s->n_psk, eb);
		if (rc == FM_OK)
			mbedtls_ssl_conf_psk_cb(&s->conf, tls_on_psk, s);
	}
	if (rc != FM_OK) {
		server_free(s);
		return rc;
	}
	*out = s;
	return FM_OK;
}

void tls_server_ref(struct tls_server *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void tls_server_unref(struct tls_server *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		server_free(s);
}

const struct tls_psk *tls_server_psk(const struct tls_server *s, const unsigned char *id, size_t len)
{
	return tls_psk_table_find(s->psk, s->n_psk, id, len);
}
