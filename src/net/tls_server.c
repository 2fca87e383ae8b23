/* A listener's TLS server context: certificates, CAs, CRL, protocol
 * version, cipher suites, PSKs, the random generator and resumption
 * (session tickets and a session cache). */
#include "net/tls_int.h"
#include "net/tls_setup.h"

#include <stdlib.h>
#include <string.h>

/* Sessions the cache keeps for clients that resume by session id rather
 * than by ticket; mbedtls scans it linearly, so it stays modest. */
#define TLS_CACHE_ENTRIES 1000
/* How long a ticket or cached session may be resumed. */
#define TLS_RESUME_SECONDS 86400

static void server_free(struct tls_server *s)
{
	tls_base_fini(&s->base);
	mbedtls_ssl_ticket_free(&s->ticket);
	mbedtls_ssl_cache_free(&s->cache);
	mbedtls_x509_crl_free(&s->crl);
	tls_psk_table_free(s->psk, s->n_psk);
	free(s->suites);
	free(s);
}

static struct tls_server *server_alloc(struct log *log)
{
	struct tls_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	tls_base_init(&s->base, log);
	mbedtls_ssl_ticket_init(&s->ticket);
	mbedtls_ssl_cache_init(&s->cache);
	mbedtls_x509_crl_init(&s->crl);
	return s;
}

/* CAs and CRL for client certificates. Without require_certificate none is
 * asked for (mosquitto does the same). */
static int load_client_trust(struct tls_server *s, const struct tls_server_opts *o, struct fm_errbuf *eb)
{
	int rc = tls_base_load_ca(&s->base, o->cafile, o->capath, eb);
	if (rc != FM_OK)
		return rc;
	if (o->crlfile && (rc = mbedtls_x509_crl_parse_file(&s->crl, o->crlfile)) != 0)
		return tls_file_error(eb, "crlfile", o->crlfile, rc);
	if (o->cafile || o->capath)
		mbedtls_ssl_conf_ca_chain(&s->base.conf, &s->base.ca, o->crlfile ? &s->crl : NULL);
	mbedtls_ssl_conf_authmode(&s->base.conf, o->require_certificate ? MBEDTLS_SSL_VERIFY_REQUIRED
									 : MBEDTLS_SSL_VERIFY_NONE);
	return FM_OK;
}

/* Tickets (stateless, the server keeps nothing per client) and a cache for
 * clients that only resume by session id. */
static int setup_resumption(struct tls_server *s, struct fm_errbuf *eb)
{
	int rc = mbedtls_ssl_ticket_setup(&s->ticket, mbedtls_ctr_drbg_random, &s->base.drbg,
					  MBEDTLS_CIPHER_AES_256_GCM, TLS_RESUME_SECONDS);
	if (rc != 0)
		return tls_file_error(eb, "session tickets", "setup", rc);
	mbedtls_ssl_conf_session_tickets_cb(&s->base.conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
					    &s->ticket);
	mbedtls_ssl_cache_set_max_entries(&s->cache, TLS_CACHE_ENTRIES);
	mbedtls_ssl_cache_set_timeout(&s->cache, TLS_RESUME_SECONDS);
	mbedtls_ssl_conf_session_cache(&s->base.conf, &s->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
	return FM_OK;
}

static int setup_config(struct tls_server *s, const struct tls_server_opts *o, struct fm_errbuf *eb)
{
	int rc = tls_base_setup(&s->base, MBEDTLS_SSL_IS_SERVER, "fleetmq tls server", o->tls_version, eb);
	if (rc != FM_OK)
		return rc;
	s->suites = tls_suites_parse(o->ciphers, o->psk_file != NULL, o->certfile != NULL, eb);
	if (!s->suites)
		return FM_ECONFIG;
	mbedtls_ssl_conf_ciphersuites(&s->base.conf, s->suites);
	return setup_resumption(s, eb);
}

int tls_server_new(const struct tls_server_opts *o, struct tls_server **out, struct fm_errbuf *eb)
{
	struct tls_server *s = server_alloc(o->log);
	if (!s)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	s->identity = o->identity;
	int rc = setup_config(s, o, eb);
	if (rc == FM_OK && o->certfile)
		rc = tls_base_load_own_cert(&s->base, o->certfile, o->keyfile, eb);
	if (rc == FM_OK)
		rc = load_client_trust(s, o, eb);
	if (rc == FM_OK && o->psk_file) {
		rc = tls_psk_table_load(o->psk_file, &s->psk, &s->n_psk, eb);
		if (rc == FM_OK)
			mbedtls_ssl_conf_psk_cb(&s->base.conf, tls_on_psk, s);
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
	tls_base_ref(&s->base);
}

void tls_server_unref(struct tls_server *s)
{
	if (s && tls_base_unref(&s->base))
		server_free(s);
}

const struct tls_psk *tls_server_psk(const struct tls_server *s, const unsigned char *id, size_t len)
{
	return tls_psk_table_find(s->psk, s->n_psk, id, len);
}
