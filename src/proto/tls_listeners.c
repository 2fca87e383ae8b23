/* The TLS side of listeners: each TLS listener's server context, built at
 * start (a broken file stops the broker with a message naming it) and
 * rebuilt from the same files on SIGHUP (a broken file then keeps the old
 * context). Connections take a reference at accept. */
#include "proto/broker.h"
#include "net/tls.h"

#include <stdlib.h>

static struct tls_server_opts opts_of(struct broker *b, const struct conf_listener *l)
{
	const struct conf_tls *t = &l->tls;
	return (struct tls_server_opts){
		.certfile = t->certfile,
		.keyfile = t->keyfile,
		.cafile = t->cafile,
		.capath = t->capath,
		.crlfile = t->crlfile,
		.ciphers = t->ciphers,
		.tls_version = t->tls_version,
		.psk_file = t->psk_hint ? conf_listener_psk_file(&b->conf, l) : NULL,
		.require_certificate = t->require_certificate,
		.identity = t->use_subject_as_username    ? TLS_IDENTITY_SUBJECT
			    : t->use_identity_as_username ? TLS_IDENTITY_CN
							  : TLS_IDENTITY_NONE,
		.log = &b->log,
	};
}

static int build(struct broker *b, const struct conf_listener *l, struct tls_server **out, struct fm_errbuf *eb)
{
	struct tls_server_opts o = opts_of(b, l);
	struct fm_errbuf why = { { 0 } };
	int rc = tls_server_new(&o, out, &why);
	if (rc != FM_OK)
		fm_errbuf_set(eb, "%s:%d: listener %u: %s", l->file, l->line, l->port, why.msg);
	return rc;
}

int broker_tls_open(struct broker *b, struct fm_errbuf *eb)
{
	size_t n = b->conf.n_listeners;
	b->tls = calloc(n, sizeof(*b->tls));
	if (!b->tls)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_init(&b->tls[i].lock, NULL);
		const struct conf_listener *l = &b->conf.listeners[i];
		if (!conf_listener_tls(l) || l->protocol == CONF_PROTO_WEBSOCKETS)
			continue; /* wss: libwebsockets does the TLS */
		int rc = build(b, l, &b->tls[i].srv, eb);
		if (rc != FM_OK)
			return rc;
	}
	return FM_OK;
}

void broker_tls_reload(struct broker *b)
{
	for (size_t i = 0; b->tls && i < b->conf.n_listeners; i++) {
		struct tls_slot *slot = &b->tls[i];
		if (!slot->srv)
			continue;
		struct tls_server *fresh;
		struct fm_errbuf eb = { { 0 } };
		if (build(b, &b->conf.listeners[i], &fresh, &eb) != FM_OK) {
			log_error(&b->log, "SIGHUP: keeping the TLS settings in use: %s", eb.msg);
			continue;
		}
		pthread_mutex_lock(&slot->lock);
		struct tls_server *old = slot->srv;
		slot->srv = fresh;
		pthread_mutex_unlock(&slot->lock);
		tls_server_unref(old); /* freed once its last connection closes */
		log_notice(&b->log, "SIGHUP: listener %u: certificates and keys re-read", b->conf.listeners[i].port);
	}
}

struct tls_server *broker_tls_acquire(struct tls_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	struct tls_server *s = slot->srv;
	tls_server_ref(s);
	pthread_mutex_unlock(&slot->lock);
	return s;
}

void broker_tls_close(struct broker *b)
{
	for (size_t i = 0; b->tls && i < b->conf.n_listeners; i++) {
		tls_server_unref(b->tls[i].srv);
		pthread_mutex_destroy(&b->tls[i].lock);
	}
	free(b->tls);
	b->tls = NULL;
}
