/* Listener transport options: TLS (certfile, keyfile, cafile, capath,
 * crlfile, require_certificate, use_identity_as_username,
 * use_subject_as_username, tls_version, ciphers, psk_hint, psk_file) and
 * socket placement (socket_domain, bind_interface), in mosquitto's names.
 * Before any listener line they apply to the default listener, as in
 * mosquitto. The files themselves are read when the listener opens
 * (src/net/tls.c); here only the combinations are checked. */
#include "config/conf_parse.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct conf_listener *target(struct conf_parse *px)
{
	struct conf_listener *l = conf_cur_listener(px);
	return l ? l : conf_port_listener(px);
}

/* String options of a listener's TLS settings, by offset. */
static const struct {
	const char *name;
	size_t offset;
} tls_strings[] = {
	{"certfile", offsetof(struct conf_tls, certfile)},
	{"keyfile", offsetof(struct conf_tls, keyfile)},
	{"cafile", offsetof(struct conf_tls, cafile)},
	{"capath", offsetof(struct conf_tls, capath)},
	{"crlfile", offsetof(struct conf_tls, crlfile)},
	{"ciphers", offsetof(struct conf_tls, ciphers)},
	{"tls_version", offsetof(struct conf_tls, tls_version)},
	{"psk_hint", offsetof(struct conf_tls, psk_hint)},
};

static const struct {
	const char *name;
	size_t offset;
} tls_flags[] = {
	{"require_certificate", offsetof(struct conf_tls, require_certificate)},
	{"use_identity_as_username", offsetof(struct conf_tls, use_identity_as_username)},
	{"use_subject_as_username", offsetof(struct conf_tls, use_subject_as_username)},
};

/* Security files: the listener's with per_listener_settings inside a
 * listener section, else the global one (as mosquitto). */
static int opt_security_file(struct conf_parse *px, const char *name, const char *value)
{
	struct conf_listener *l = px->c->per_listener_settings ? conf_cur_listener(px) : NULL;
	if (strcmp(name, "psk_file") == 0)
		return conf_set_string(px, l ? &l->tls.psk_file : &px->c->psk_file, value);
	if (strcmp(name, "password_file") == 0)
		return conf_set_string(px, l ? &l->password_file : &px->c->password_file, value);
	return conf_set_string(px, l ? &l->acl_file : &px->c->acl_file, value);
}

static bool is_security_file(const char *name)
{
	return strcmp(name, "psk_file") == 0 || strcmp(name, "password_file") == 0 || strcmp(name, "acl_file") == 0;
}

static int opt_socket_domain(struct conf_parse *px, struct conf_listener *l, const char *value)
{
	if (strcmp(value, "ipv4") == 0)
		l->socket_domain = CONF_DOMAIN_IPV4;
	else if (strcmp(value, "ipv6") == 0)
		l->socket_domain = CONF_DOMAIN_IPV6;
	else
		return conf_error(px, "option 'socket_domain': '%s' is not ipv4 or ipv6", value);
	return FM_OK;
}

/* WebSocket listener options: websockets_headers_size (mosquitto's),
 * websockets_path and websockets_trust_x_forwarded_for (ours). */
static int opt_websockets(struct conf_parse *px, struct conf_listener *l, const char *name, const char *value)
{
	if (strcmp(name, "websockets_path") == 0) {
		if (value[0] != '/')
			return conf_error(px, "option 'websockets_path': '%s' does not start with '/'", value);
		return conf_set_string(px, &l->websockets_path, value);
	}
	if (strcmp(name, "websockets_trust_x_forwarded_for") == 0)
		return conf_parse_bool(px, name, value, &l->websockets_trust_x_forwarded_for);
	char *end;
	unsigned long v = strtoul(value, &end, 10);
	if (value[0] == '-' || !value[0] || *end || v < 1024 || v > 65535)
		return conf_error(px, "option 'websockets_headers_size': '%s' is not 1024..65535", value);
	l->websockets_headers_size = (uint32_t)v;
	return FM_OK;
}

static bool is_websockets_option(const char *name)
{
	return strcmp(name, "websockets_path") == 0 || strcmp(name, "websockets_trust_x_forwarded_for") == 0 ||
	       strcmp(name, "websockets_headers_size") == 0;
}

int conf_transport_option(struct conf_parse *px, char **args, int n)
{
	const char *name = args[0];
	bool known = is_security_file(name) || strcmp(name, "socket_domain") == 0 ||
		     strcmp(name, "enable_proxy_protocol") == 0 ||
		     strcmp(name, "bind_interface") == 0 || is_websockets_option(name);
	for (size_t i = 0; !known && i < sizeof(tls_strings) / sizeof(tls_strings[0]); i++)
		known = strcmp(name, tls_strings[i].name) == 0;
	for (size_t i = 0; !known && i < sizeof(tls_flags) / sizeof(tls_flags[0]); i++)
		known = strcmp(name, tls_flags[i].name) == 0;
	if (!known)
		return FM_ENOTFOUND;
	if (n != 2)
		return conf_error(px, n < 2 ? "option '%s' needs a value" : "option '%s': too many values", name);
	if (is_security_file(name))
		return opt_security_file(px, name, args[1]);
	struct conf_listener *l = target(px);
	if (!l)
		return FM_ECONFIG; /* conf_add_listener said why */
	if (strcmp(name, "socket_domain") == 0)
		return opt_socket_domain(px, l, args[1]);
	if (strcmp(name, "bind_interface") == 0)
		return conf_set_string(px, &l->bind_interface, args[1]);
	if (strcmp(name, "enable_proxy_protocol") == 0) {
		if (strcmp(args[1], "1") != 0 && strcmp(args[1], "2") != 0)
			return conf_error(px, "option 'enable_proxy_protocol': '%s' is not 1 or 2", args[1]);
		l->proxy_protocol = (uint8_t)(args[1][0] - '0');
		return FM_OK;
	}
	if (is_websockets_option(name))
		return opt_websockets(px, l, name, args[1]);
	for (size_t i = 0; i < sizeof(tls_strings) / sizeof(tls_strings[0]); i++)
		if (strcmp(name, tls_strings[i].name) == 0)
			return conf_set_string(px, (char **)((char *)&l->tls + tls_strings[i].offset), args[1]);
	for (size_t i = 0; i < sizeof(tls_flags) / sizeof(tls_flags[0]); i++)
		if (strcmp(name, tls_flags[i].name) == 0)
			return conf_parse_bool(px, name, args[1], (bool *)((char *)&l->tls + tls_flags[i].offset));
	return FM_ENOTFOUND;
}

bool conf_listener_tls(const struct conf_listener *l)
{
	return l->tls.certfile || l->tls.keyfile || l->tls.psk_hint;
}

const char *conf_listener_psk_file(const struct conf *c, const struct conf_listener *l)
{
	return l->tls.psk_file ? l->tls.psk_file : c->psk_file;
}

static int listener_error(struct fm_errbuf *eb, const struct conf_listener *l, const char *msg)
{
	return fm_errbuf_set(eb, "%s:%d: listener %u: %s", l->file, l->line, l->port, msg);
}

/* Settings that mean nothing without TLS on the listener. */
static const char *needs_tls(const struct conf_tls *t)
{
	if (t->cafile) return "cafile";
	if (t->capath) return "capath";
	if (t->crlfile) return "crlfile";
	if (t->ciphers) return "ciphers";
	if (t->tls_version) return "tls_version";
	if (t->require_certificate) return "require_certificate";
	if (t->use_subject_as_username) return "use_subject_as_username";
	if (t->use_identity_as_username) return "use_identity_as_username";
	return NULL;
}

/* wss TLS is libwebsockets' (OpenSSL): what it cannot do is refused. */
static const char *wss_unsupported(const struct conf_tls *t)
{
	if (t->psk_hint) return "psk_hint";
	if (t->capath) return "capath";
	if (t->crlfile) return "crlfile";
	if (t->use_subject_as_username) return "use_subject_as_username";
	if (t->tls_version && strcmp(t->tls_version, "tlsv1.2") != 0) return "tls_version other than tlsv1.2";
	return NULL;
}

static int check_wss(const struct conf_listener *l, struct fm_errbuf *eb)
{
	const char *opt = wss_unsupported(&l->tls);
	if (!opt)
		return FM_OK;
	char msg[200];
	snprintf(msg, sizeof(msg), "%s is not available on a websockets listener (libwebsockets does its TLS)", opt);
	return listener_error(eb, l, msg);
}

static int check_listener(const struct conf *c, const struct conf_listener *l, struct fm_errbuf *eb)
{
	const struct conf_tls *t = &l->tls;
	char msg[200];
	if (l->protocol != CONF_PROTO_WEBSOCKETS &&
	    (l->websockets_path || l->websockets_trust_x_forwarded_for || l->websockets_headers_size))
		return listener_error(eb, l, "websockets_* options need 'protocol websockets'");
	if (!conf_listener_tls(l)) {
		const char *opt = needs_tls(t);
		if (!opt)
			return FM_OK;
		snprintf(msg, sizeof(msg), "'%s' is set but the listener has no certfile/keyfile or psk_hint", opt);
		return listener_error(eb, l, msg);
	}
	if (!t->certfile != !t->keyfile)
		return listener_error(eb, l, t->certfile ? "certfile is set but keyfile is not"
							 : "keyfile is set but certfile is not");
	if (t->require_certificate && !t->cafile && !t->capath)
		return listener_error(eb, l, "require_certificate needs cafile or capath to check certificates against");
	if ((t->cafile || t->capath || t->crlfile) && !t->certfile)
		return listener_error(eb, l, "cafile/capath/crlfile need certfile and keyfile");
	if (t->psk_hint && !conf_listener_psk_file(c, l))
		return listener_error(eb, l, "psk_hint is set but there is no psk_file");
	if (t->use_identity_as_username && t->use_subject_as_username)
		return listener_error(eb, l, "use_identity_as_username and use_subject_as_username exclude each other");
	if (l->protocol == CONF_PROTO_WEBSOCKETS)
		return check_wss(l, eb);
	return FM_OK;
}

/* libwebsockets 4.1.6 picks a TLS connection's certificate by SNI among
 * all its vhosts, and ours all share one (no) port: a second wss listener
 * would be served the first one's certificate and CAs. */
static int check_one_wss(const struct conf *c, struct fm_errbuf *eb)
{
	const struct conf_listener *first = NULL;
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct conf_listener *l = &c->listeners[i];
		if (l->protocol != CONF_PROTO_WEBSOCKETS || !l->tls.certfile)
			continue;
		if (first)
			return listener_error(eb, l, "only one websockets listener with TLS is supported "
						     "(libwebsockets 4.1.6 would serve it the first one's certificate)");
		first = l;
	}
	return FM_OK;
}

int conf_transport_check(const struct conf *c, struct fm_errbuf *eb)
{
	if (check_one_wss(c, eb) != FM_OK)
		return FM_ECONFIG;
	for (size_t i = 0; i < c->n_listeners; i++) {
		int rc = check_listener(c, &c->listeners[i], eb);
		if (rc != FM_OK)
			return rc;
	}
	return FM_OK;
}

void conf_transport_fini(struct conf_listener *l)
{
	struct conf_tls *t = &l->tls;
	free(t->certfile);
	free(t->keyfile);
	free(t->cafile);
	free(t->capath);
	free(t->crlfile);
	free(t->ciphers);
	free(t->tls_version);
	free(t->psk_hint);
	free(t->psk_file);
	free(l->bind_interface);
	free(l->websockets_path);
	free(l->password_file);
	free(l->acl_file);
}
