/* A worker's libwebsockets host: the context and its vhosts (one per
 * WebSocket listener), the libuv loop nested in the worker's loop, the HTTP
 * upgrade and the WebSocket callbacks, which only move bytes between
 * libwebsockets and each stream's buffers. The owner (a client) learns of
 * them through deferred tasks, never from inside a callback, and
 * libwebsockets calls that 4.1.6 does not tolerate inside callbacks
 * (turning rx flow off on a TLS connection spins; a server close from a
 * callback sends no close frame under libuv) are queued and made after
 * uv_run returns. */
#include "net/ws_int.h"
#include "core/readfile.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* libwebsockets' logging is process-wide; it goes to the broker's log. */
static struct log *ws_log;

static void emit(int level, const char *line)
{
	size_t len = strcspn(line, "\n");
	if (ws_log)
		log_msg(ws_log, level == LLL_ERR ? LOG_T_ERROR : LOG_T_WARNING, "websockets: %.*s", (int)len, line);
}

void ws_global_init(struct log *log)
{
	ws_log = log;
	lws_set_log_level(LLL_ERR | LLL_WARN, emit);
	/* libwebsockets calls localtime() on the workers. With TZ unset, glibc
	 * re-reads the zone on every call (freeing and copying its name under
	 * a lock ThreadSanitizer cannot see); with TZ set to the same default
	 * it does so once, here, before any worker runs. */
	setenv("TZ", ":/etc/localtime", 0);
	tzset();
}

/* --- pumping libuv --------------------------------------------------------- */

void ws_host_touch(struct ws_host *h)
{
	h->dirty = true;
}

/* The queued calls. A timeout set here, outside libwebsockets' service,
 * is not put on its libuv timer until libwebsockets next services a socket
 * (4.1.6 schedules that timer only then): a closing connection whose peer
 * stopped reading was seen to linger for 17 s instead of 5. Waking its
 * service (lws_cancel_service) has the timer set now. */
static bool apply_actions(struct ws_host *h)
{
	bool any = false, timed = false;
	while (!list_empty(&h->actions)) {
		struct ws_stream *s = list_entry(h->actions.next, struct ws_stream, action_link);
		list_del(&s->action_link);
		if (!s->wsi)
			continue;
		any = true;
		if (s->want_rx_off && !s->rx_off) {
			lws_rx_flow_control(s->wsi, 0);
			s->rx_off = true;
		}
		if (s->want_rx_on && s->rx_off) {
			lws_rx_flow_control(s->wsi, 1);
			s->rx_off = false;
		}
		s->want_rx_off = s->want_rx_on = false;
		if (s->want_linger) {
			/* the owner closed with output pending: WRITEABLE then asks
			 * for the close, unless the peer takes nothing until then */
			s->want_linger = false;
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, WS_CLOSE_LINGER_S);
			timed = true;
		}
		if (s->want_close) {
			timed = true; /* the close frame's own timeouts */
			/* may destroy the wsi (and free s) at once */
			lws_close_reason(s->wsi, s->close_code ? (enum lws_close_status)s->close_code
							       : LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
		}
	}
	if (timed)
		lws_cancel_service(h->ctx);
	return any;
}

static void pump_task(struct loop *lp, void *arg);

static void rearm_timer(struct ws_host *h)
{
	int t = uv_backend_timeout(&h->uv);
	if (t == 0) {
		/* libuv has work now (closing handles, pending callbacks) */
		loop_defer(h->lp, pump_task, h);
		return;
	}
	if (t < 0)
		loop_timer_stop(h->lp, &h->uv_timer);
	else
		loop_timer_start(h->lp, &h->uv_timer, (uint64_t)t);
}

/* One turn for libuv (its due timers, its ready sockets, the poll changes
 * libwebsockets asked for), then the queued calls, and another turn if they
 * or the callbacks touched libwebsockets, so nothing waits for the next
 * event to take effect. */
static void pump(struct ws_host *h)
{
	for (int round = 0; round < 2; round++) {
		h->dirty = false;
		apply_actions(h);
		h->in_pump = true;
		uv_run(&h->uv, UV_RUN_NOWAIT);
		h->in_pump = false;
		if (!h->dirty && list_empty(&h->actions))
			break;
	}
	apply_actions(h);
	rearm_timer(h);
}

static void pump_task(struct loop *lp, void *arg)
{
	(void)lp;
	pump(arg);
}

static void on_uv_io(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)lp;
	(void)events;
	pump(list_entry(io, struct ws_host, uv_io));
}

static void on_uv_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	pump(list_entry(t, struct ws_host, uv_timer));
}

/* Before the worker sleeps: whatever the iteration asked of libwebsockets. */
static void on_prepare(struct loop *lp, void *arg)
{
	(void)lp;
	struct ws_host *h = arg;
	if (h->dirty || !list_empty(&h->actions))
		pump(h);
}

/* --- telling owners -------------------------------------------------------------- */

static void notify_task(struct loop *lp, void *arg)
{
	struct ws_host *h = arg;
	h->notify_scheduled = false;
	while (!list_empty(&h->notify)) {
		struct ws_stream *s = list_entry(h->notify.next, struct ws_stream, notify_link);
		list_del(&s->notify_link);
		struct loop_io *io = s->io;
		if (!io || !io->fn)
			continue;
		unsigned ev = 0;
		if ((io->events & LOOP_READ) && (buf_used(&s->rx) > 0 || s->peer_closed))
			ev |= LOOP_READ;
		if (s->peer_closed && buf_used(&s->rx) == 0)
			ev |= LOOP_HUP;
		if ((io->events & LOOP_WRITE) && s->wsi && s->tx_len < WS_TX_MAX)
			ev |= LOOP_WRITE;
		if (ev)
			io->fn(lp, io, ev); /* may close the owner and free s */
	}
}

void ws_stream_notify(struct ws_stream *s)
{
	struct ws_host *h = s->h;
	if (!s->io || list_linked(&s->notify_link))
		return;
	list_push_back(&h->notify, &s->notify_link);
	if (!h->notify_scheduled && loop_defer(h->lp, notify_task, h) == FM_OK)
		h->notify_scheduled = true;
}

void ws_stream_act(struct ws_stream *s)
{
	if (!list_linked(&s->action_link))
		list_push_back(&s->h->actions, &s->action_link);
}

void ws_stream_free(struct ws_stream *s)
{
	list_del(&s->notify_link);
	list_del(&s->action_link);
	buf_fini(&s->rx);
	free(s->tx);
	free(s->identity);
	free(s);
}

/* --- the WebSocket connection --------------------------------------------------- */

/* What a connection's adoption knew: its listener, and the client's
 * address when a PROXY header named it. Needed because libwebsockets 4.1
 * re-selects the vhost by port and Host once the headers are in, and every
 * adopted vhost has the same (no) port: lws_get_vhost would then say the
 * first WebSocket listener for all of them. */
struct ws_adopted {
	size_t listener;
	struct net_addr peer;     /* family 0: the socket's */
	struct ws_host *h;        /* whose worker's wheel runs upgrade_timer */
	struct lws *wsi;          /* the connection, once adopted */
	struct loop_timer upgrade_timer; /* connect_timeout for the upgrade; stopped once established */
	bool upgrading;           /* adopted, not yet upgraded: on_settled is owed */
};

/* The upgrade is over, done or not: tell the owner, once. */
static void settle(struct ws_adopted *a)
{
	if (!a || !a->upgrading)
		return;
	a->upgrading = false;
	a->h->hooks.on_settled(a->h->hooks.arg, a->listener);
}

static size_t listener_of(const struct ws_host *h, const struct lws *wsi)
{
	const struct ws_adopted *a = lws_get_opaque_user_data(wsi);
	return a ? a->listener : h->n;
}

static bool path_allowed(const struct ws_listener *l, struct lws *wsi)
{
	char uri[256];
	if (!l->path)
		return true;
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0)
		return false;
	uri[strcspn(uri, "?")] = '\0';
	return strcmp(uri, l->path) == 0;
}

/* The address the connection came from: a PROXY header's, else the
 * socket's. */
static void socket_peer(struct lws *wsi, struct net_addr *peer)
{
	*peer = (struct net_addr){0};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct ws_adopted *a = lws_get_opaque_user_data(wsi);
	if (a && a->peer.family)
		*peer = a->peer;
	else if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &len) == 0)
		net_addr_from_sockaddr(&ss, peer);
}

/* The peer's address: socket_peer's, or with trust_x_forwarded_for the
 * first X-Forwarded-For entry (the client a proxy in front of us saw). */
static void peer_of(const struct ws_listener *l, struct lws *wsi, struct net_addr *peer)
{
	socket_peer(wsi, peer);
	char xff[128];
	if (!l->trust_x_forwarded_for || lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR) <= 0)
		return;
	xff[strcspn(xff, ", ")] = '\0';
	struct net_addr fwd = {0};
	if (inet_pton(AF_INET, xff, fwd.ip) == 1)
		fwd.family = AF_INET;
	else if (inet_pton(AF_INET6, xff, fwd.ip) == 1)
		fwd.family = AF_INET6;
	if (fwd.family)
		*peer = fwd; /* the proxy does not tell the client's port */
}

#define WS_CN_MAX 1024

static char *cert_cn(struct lws *wsi)
{
	/* the name runs past the union's 64 bytes, as lws-x509.h shows */
	union lws_tls_cert_info_results *r = calloc(1, sizeof(*r) + WS_CN_MAX);
	char *cn = NULL;
	if (r && lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME, r, sizeof(r->ns.name) + WS_CN_MAX) == 0 &&
	    r->ns.len > 0 && !memchr(r->ns.name, '\0', (size_t)r->ns.len))
		cn = strndup(r->ns.name, (size_t)r->ns.len);
	free(r);
	return cn;
}

static int on_established(struct ws_host *h, struct lws *wsi, struct ws_stream **slot)
{
	size_t li = listener_of(h, wsi);
	if (li == h->n)
		return -1;
	struct ws_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->h = h;
	s->wsi = wsi;
	list_init(&s->notify_link);
	list_init(&s->action_link);
	if (h->ls[li].identity_cn)
		s->identity = cert_cn(wsi);
	struct net_addr peer;
	peer_of(&h->ls[li], wsi, &peer);
	*slot = s;
	if (h->hooks.on_open(h->hooks.arg, li, s, &peer) != FM_OK) {
		*slot = NULL;
		ws_stream_free(s);
		return -1;
	}
	return 0;
}

static int on_receive(struct ws_stream *s, struct lws *wsi, const void *in, size_t len)
{
	/* MQTT travels in binary frames only; anything else closes the
	 * connection [MQTT-6.0.0-1] */
	if (!lws_frame_is_binary(wsi)) {
		if (!s->want_close) {
			snprintf(s->err, sizeof(s->err), "WebSocket text frame (MQTT needs binary frames)");
			s->close_code = LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE; /* 1003 (RFC 6455 7.4.1) */
			s->want_close = true;
			s->peer_closed = true; /* the owner reads no more and closes */
			ws_stream_act(s);
			ws_stream_notify(s);
		}
		return 0;
	}
	if (s->want_close)
		return 0; /* closing: what follows is dropped */
	if (buf_append(&s->rx, in, len) != FM_OK) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return -1;
	}
	if (buf_used(&s->rx) > WS_RX_HIGH && !s->rx_off) {
		s->want_rx_off = true; /* not here: 4.1.6 spins on TLS connections */
		ws_stream_act(s);
	}
	ws_stream_notify(s);
	return 0;
}

/* Everything buffered goes as one binary frame; libwebsockets keeps what
 * the socket does not take and holds back the next WRITEABLE until it is
 * gone, which is what stops this buffer refilling. */
static int on_writeable(struct ws_stream *s, struct lws *wsi)
{
	if (s->tx_len > 0) {
		int n = lws_write(wsi, s->tx + LWS_PRE, s->tx_len, LWS_WRITE_BINARY);
		if (n < (int)s->tx_len) {
			snprintf(s->err, sizeof(s->err), "WebSocket write failed");
			return -1;
		}
		s->tx_len = 0;
	}
	if (!s->conn) {
		s->want_close = true; /* the owner closed: its last bytes are out */
		ws_stream_act(s);
		return 0;
	}
	ws_stream_notify(s);
	return 0;
}

static void on_destroy(struct ws_stream *s)
{
	s->wsi = NULL;
	s->peer_closed = true;
	list_del(&s->action_link);
	if (!s->conn)
		ws_stream_free(s);
	else
		ws_stream_notify(s);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ws_host *h = lws_context_user(lws_get_context(wsi));
	struct ws_stream **slot = user, *s = slot ? *slot : NULL;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		/* len is OpenSSL's verdict (preverify_ok); libwebsockets would
		 * take 0 from us as "accept whatever was presented" */
		return len ? 0 : 1;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		size_t li = listener_of(h, wsi);
		if (li < h->n && path_allowed(&h->ls[li], wsi))
			return 0;
		return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 : 1;
	}
	case LWS_CALLBACK_HTTP:
		/* a plain HTTP request on a WebSocket listener */
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_RAW_ADOPT:
		return -1;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* no subprotocol offered: a client must offer "mqtt" [MQTT-6.0.0-3] */
		return in == NULL ? 1 : 0;
	case LWS_CALLBACK_ESTABLISHED: {
		struct ws_adopted *a = lws_get_opaque_user_data(wsi);
		if (a)
			loop_timer_stop(h->lp, &a->upgrade_timer); /* MQTT's connect_timeout takes over */
		int rc = on_established(h, wsi, slot); /* counted as a client from there */
		settle(a); /* after: an over-count for a moment, never an under-count */
		return rc;
	}
	case LWS_CALLBACK_RECEIVE:
		return s ? on_receive(s, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return s ? on_writeable(s, wsi) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return 0; /* libwebsockets answers the close frame */
	case LWS_CALLBACK_CLOSED:
		if (s) {
			s->peer_closed = true;
			ws_stream_notify(s);
		}
		return 0;
	case LWS_CALLBACK_WSI_DESTROY: {
		struct ws_adopted *a = lws_get_opaque_user_data(wsi);
		if (a)
			loop_timer_stop(h->lp, &a->upgrade_timer);
		settle(a);
		free(a);
		lws_set_opaque_user_data(wsi, NULL);
		if (s) {
			*slot = NULL;
			on_destroy(s);
		}
		return 0;
	}
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The subprotocol MQTT over WebSocket names ("mqtt" [MQTT-6.0.0-4]), and
 * the one 3.1 clients offered. */
static const struct lws_protocols protocols[] = {
	{"mqtt", callback, sizeof(struct ws_stream *), 16384, 0, NULL, 0},
	{"mqttv3.1", callback, sizeof(struct ws_stream *), 16384, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* MQTT's keepalive watches the connection: libwebsockets' own idle ping
 * (and hang-up five minutes later) is off. */
static const lws_retry_bo_t no_idle_hangup = {.secs_since_valid_ping = 0, .secs_since_valid_hangup = 0};

/* --- the host ------------------------------------------------------------------------ */

static int create_vhost(struct ws_host *h, size_t i, struct fm_errbuf *eb)
{
	const struct ws_listener *l = &h->ls[i];
	struct lws_context_creation_info ci;
	char name[32];
	memset(&ci, 0, sizeof(ci));
	snprintf(name, sizeof(name), "listener-%zu", i);
	ci.vhost_name = name;
	ci.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* we accept; libwebsockets adopts */
	ci.protocols = protocols;
	ci.retry_and_idle_policy = &no_idle_hangup;
	ci.options = LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	if (l->headers_size)
		ci.max_http_header_data = (unsigned short)(l->headers_size > 65535 ? 65535 : l->headers_size);
	if (l->certfile) {
		ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		ci.ssl_cert_filepath = l->certfile;
		ci.ssl_private_key_filepath = l->keyfile;
		ci.ssl_ca_filepath = l->cafile;
		ci.ssl_cipher_list = l->ciphers;
		ci.alpn = "http/1.1"; /* no HTTP/2: WebSocket over h2 is not what MQTT clients speak */
		if (l->require_certificate)
			ci.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
	}
	h->vhosts[i] = lws_create_vhost(h->ctx, &ci);
	if (!h->vhosts[i])
		return fm_errbuf_set(eb, "libwebsockets refused the listener%s", l->certfile
					 ? " (is certfile/keyfile/cafile readable PEM, and ciphers an OpenSSL list?)" : "");
	return FM_OK;
}

static int create_context(struct ws_host *h, struct fm_errbuf *eb)
{
	struct lws_context_creation_info ci;
	void *foreign[1] = {&h->uv};
	memset(&ci, 0, sizeof(ci));
	ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	ci.foreign_loops = foreign;
	ci.user = h;
	ci.pcontext = &h->ctx; /* set to NULL once the context is fully destroyed */
	h->ctx = lws_create_context(&ci);
	if (!h->ctx)
		return fm_errbuf_set(eb, "cannot create the libwebsockets context (is libwebsockets-evlib-uv installed?)");
	return FM_OK;
}

int ws_host_new(struct loop *lp, const struct ws_listener *ls, size_t n, const struct ws_host_hooks *hooks,
		struct ws_host **out, struct fm_errbuf *eb)
{
	struct ws_host *h = calloc(1, sizeof(*h));
	if (!h || !(h->vhosts = calloc(n, sizeof(*h->vhosts))) || !(h->ls = calloc(n, sizeof(*h->ls)))) {
		if (h)
			free(h->vhosts);
		free(h);
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	}
	memcpy(h->ls, ls, n * sizeof(*ls));
	h->n = n;
	h->lp = lp;
	h->hooks = *hooks;
	list_init(&h->notify);
	list_init(&h->actions);
	loop_timer_init(&h->uv_timer, on_uv_timer);
	int rc = uv_loop_init(&h->uv) == 0 ? FM_OK : fm_errbuf_set(eb, "cannot create a libuv loop");
	if (rc != FM_OK) {
		free(h->ls);
		free(h->vhosts);
		free(h);
		return rc;
	}
	rc = create_context(h, eb);
	for (size_t i = 0; rc == FM_OK && i < n; i++)
		if (ls[i].enabled)
			rc = create_vhost(h, i, eb);
	if (rc == FM_OK)
		rc = loop_io_add(lp, &h->uv_io, uv_backend_fd(&h->uv), LOOP_READ, on_uv_io);
	if (rc != FM_OK) {
		ws_host_free(h);
		return rc == FM_ECONFIG ? rc : FM_ECONFIG;
	}
	loop_set_prepare_fn(lp, on_prepare, h);
	*out = h;
	return FM_OK;
}

/* connect_timeout passed before the upgrade was done (a silent socket, a
 * request sent byte by byte): close it. A timer runs outside libwebsockets'
 * callbacks, where closing at once is allowed (as in apply_actions). */
static void on_upgrade_timeout(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct ws_adopted *a = list_entry(t, struct ws_adopted, upgrade_timer);
	struct ws_host *h = a->h;
	struct net_addr peer;
	char text[NET_ADDR_STRLEN];
	socket_peer(a->wsi, &peer);
	if (ws_log)
		log_info(ws_log, "connection from %s closed: WebSocket upgrade not done within connect_timeout",
			 net_addr_format(&peer, text, sizeof(text)));
	lws_set_timeout(a->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC); /* may free a */
	ws_host_touch(h);
}

int ws_host_adopt(struct ws_host *h, size_t listener, int fd, const struct net_addr *peer, uint32_t timeout_ms)
{
	if (listener >= h->n || !h->vhosts[listener]) {
		close(fd);
		return FM_EINVAL;
	}
	lws_adopt_desc_t ad;
	memset(&ad, 0, sizeof(ad));
	ad.vh = h->vhosts[listener];
	ad.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (h->ls[listener].certfile ? LWS_ADOPT_ALLOW_SSL : 0);
	ad.fd.sockfd = fd;
	struct ws_adopted *a = malloc(sizeof(*a));
	if (!a) {
		close(fd);
		return FM_ENOMEM;
	}
	*a = (struct ws_adopted){ .listener = listener, .peer = peer ? *peer : (struct net_addr){0}, .h = h };
	loop_timer_init(&a->upgrade_timer, on_upgrade_timeout);
	ad.opaque = a; /* freed at WSI_DESTROY */
	struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&ad);
	ws_host_touch(h);
	/* on failure libwebsockets closed fd, and freed the copy through
	 * WSI_DESTROY if it got as far as attaching it (else it is lost: a
	 * few bytes, on a path that only out of memory takes) */
	if (!wsi)
		return FM_ENOMEM;
	a->wsi = wsi;
	a->upgrading = true; /* only now: a failed adoption above owes nothing */
	loop_timer_start(h->lp, &a->upgrade_timer, timeout_ms);
	return FM_OK;
}

void ws_host_free(struct ws_host *h)
{
	if (!h)
		return;
	if (h->uv_io.fn)
		loop_io_del(h->lp, &h->uv_io);
	loop_timer_stop(h->lp, &h->uv_timer);
	loop_set_prepare_fn(h->lp, NULL, NULL);
	/* with a foreign libuv loop the first destroy only starts closing
	 * handles: run libuv and destroy again until the context is gone */
	for (int i = 0; h->ctx && i < 100; i++) {
		lws_context_destroy(h->ctx);
		while (h->ctx && uv_run(&h->uv, UV_RUN_NOWAIT))
			;
	}
	while (uv_run(&h->uv, UV_RUN_NOWAIT))
		;
	uv_loop_close(&h->uv);
	/* streams whose owners never closed (the worker is gone) */
	while (!list_empty(&h->notify))
		list_del(h->notify.next);
	free(h->vhosts);
	free(h->ls);
	free(h);
}

/* --- certificates on SIGHUP ----------------------------------------------------- */

#define WS_PEM_MAX (1024 * 1024)

/* The whole of a PEM file; NULL if it cannot be read. */
static char *read_pem(const char *path, size_t *len)
{
	char *text = NULL;
	int err_no = 0;
	if (fm_read_file(path, WS_PEM_MAX, &text, len, &err_no) != FM_OK)
		return NULL;
	*len += 1; /* OpenSSL's PEM reader is handed the terminator too */
	return text;
}

void ws_host_reload_certs(struct ws_host *h, struct log *log)
{
	for (size_t i = 0; i < h->n; i++) {
		const struct ws_listener *l = &h->ls[i];
		if (!l->enabled || !l->certfile)
			continue;
		size_t cert_len = 0, key_len = 0;
		char *cert = read_pem(l->certfile, &cert_len), *key = read_pem(l->keyfile, &key_len);
		int rc = cert && key ? lws_tls_cert_updated(h->ctx, l->certfile, l->keyfile, cert, cert_len, key, key_len)
				     : -1;
		if (key)
			memset(key, 0, key_len); /* no key left in freed memory */
		free(cert);
		free(key);
		if (rc != 0)
			log_error(log, "SIGHUP: websockets listener %zu: keeping its certificate: '%s' or '%s' cannot be used",
				  i, l->certfile, l->keyfile);
		ws_host_touch(h);
	}
}
