/* A bridge's TLS client context: the CAs the remote broker's certificate
 * must chain to, our client certificate if we have one, the lowest
 * protocol version and whether the host name is checked. The host name
 * itself belongs to each connection (conn_tls_client_init): a bridge with
 * several addresses shares one context between them. */
#include "net/tls_int.h"

#include <stdlib.h>

static void client_free(struct tls_client *t)
{
	tls_base_fini(&t->base);
	free(t);
}

/* What the options must hold before any file is read. */
static int check_opts(const struct tls_client_opts *o, struct fm_errbuf *eb)
{
	if (!o->cafile && !o->capath)
		return fm_errbuf_set(eb, "a TLS connection needs cafile or capath: the CAs the remote's "
					 "certificate must chain to");
	if (!o->certfile != !o->keyfile)
		return fm_errbuf_set(eb, "%s '%s' without %s: a client certificate needs both",
				     o->certfile ? "certfile" : "keyfile", o->certfile ? o->certfile : o->keyfile,
				     o->certfile ? "keyfile" : "certfile");
	return FM_OK;
}

static int setup(struct tls_client *t, const struct tls_client_opts *o, struct fm_errbuf *eb)
{
	int rc = tls_base_setup(&t->base, MBEDTLS_SSL_IS_CLIENT, "fleetmq tls client", o->tls_version, eb);
	if (rc == FM_OK)
		rc = tls_base_load_ca(&t->base, o->cafile, o->capath, eb);
	if (rc == FM_OK && o->certfile)
		rc = tls_base_load_own_cert(&t->base, o->certfile, o->keyfile, eb);
	if (rc != FM_OK)
		return rc;
	/* the chain is always checked; insecure only drops the name check,
	 * which conn_tls.c's verify callback does per connection */
	mbedtls_ssl_conf_ca_chain(&t->base.conf, &t->base.ca, NULL);
	mbedtls_ssl_conf_authmode(&t->base.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	return FM_OK;
}

int tls_client_new(const struct tls_client_opts *o, struct tls_client **out, struct fm_errbuf *eb)
{
	int rc = check_opts(o, eb);
	if (rc != FM_OK)
		return rc;
	struct tls_client *t = calloc(1, sizeof(*t));
	if (!t)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	tls_base_init(&t->base, o->log);
	t->insecure = o->insecure;
	t->has_cert = o->certfile != NULL;
	rc = setup(t, o, eb);
	if (rc != FM_OK) {
		client_free(t);
		return rc;
	}
	*out = t;
	return FM_OK;
}

void tls_client_ref(struct tls_client *t)
{
	tls_base_ref(&t->base);
}

void tls_client_unref(struct tls_client *t)
{
	if (t && tls_base_unref(&t->base))
		client_free(t);
}
