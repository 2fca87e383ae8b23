/* Reading a PROXY header off a new connection. Bytes are consumed only when
 * they belong to the header (the parser says so for an incomplete one, and
 * a complete one's length is known), so whatever the client sent after it
 * stays in the socket for TLS, WebSocket or MQTT to read. */
#include "proto/proxy_wait.h"
#include "proto/accept.h"
#include "proto/client.h"
#include "net/proxy.h"
#include "net/ws.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct proxy_wait {
	struct loop_io io;
	struct loop_timer timer;
	struct listener_rt *l;
	struct net_addr peer;       /* the balancer's, until the header says otherwise */
	size_t len;
	uint8_t buf[PROXY_HEADER_MAX];
};

int listener_hand_on(struct listener_rt *l, int fd, const struct net_addr *peer)
{
	if (l->conf->protocol != CONF_PROTO_WEBSOCKETS)
		return client_accept(l->w, l, fd, peer);
	/* until the upgrade is done or the socket gone (on_ws_settled) */
	listener_pending_add(l);
	int rc = ws_host_adopt(l->w->ws, l->index, fd, peer, l->w->lim.connect_timeout_s * 1000u);
	if (rc != FM_OK)
		listener_pending_done(l->b, l->index);
	return rc;
}

static void free_later(struct loop *lp, void *arg)
{
	(void)lp;
	free(arg);
}

static void finish(struct proxy_wait *pw, const char *failure)
{
	struct worker *w = pw->l->w;
	int fd = pw->io.fd;
	loop_io_del(w->loop, &pw->io);
	loop_timer_stop(w->loop, &pw->timer);
	char text[NET_ADDR_STRLEN];
	if (failure) {
		log_info(&w->b->log, "connection from %s closed: %s", net_addr_format(&pw->peer, text, sizeof(text)),
			 failure);
		close(fd);
	} else if (listener_hand_on(pw->l, fd, &pw->peer) != FM_OK) {
		log_warn(&w->b->log, "connection from %s dropped: out of memory",
			 net_addr_format(&pw->peer, text, sizeof(text)));
	}
	/* after the hand-on, which counts it as what it becomes: an
	 * over-count for a moment, never an under-count */
	listener_pending_done(w->b, pw->l->index);
	/* an event for it may still be in this iteration's batch: freed after */
	if (loop_defer(w->loop, free_later, pw) != FM_OK)
		fm_panic("out of memory deferring a free");
}

/* Peek at what arrived; consume the header's bytes only. */
static void on_readable(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)lp;
	(void)events;
	struct proxy_wait *pw = list_entry(io, struct proxy_wait, io);
	ssize_t n = recv(io->fd, pw->buf + pw->len, sizeof(pw->buf) - pw->len, MSG_PEEK);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		finish(pw, "closed before its PROXY header");
		return;
	}
	size_t used = 0;
	struct net_addr src;
	int rc = proxy_parse(pw->buf, pw->len + (size_t)n, &used, &src);
	if (rc == FM_EPROTO) {
		finish(pw, "no valid PROXY protocol header");
		return;
	}
	/* incomplete: everything peeked is header; complete: up to its end */
	size_t take = rc == FM_EAGAIN ? (size_t)n : used - pw->len;
	if (recv(io->fd, pw->buf + pw->len, take, 0) != (ssize_t)take) {
		finish(pw, "read error in its PROXY header");
		return;
	}
	pw->len += take;
	if (rc == FM_EAGAIN)
		return;
	if (src.family)
		pw->peer = src;
	finish(pw, NULL);
}

static void on_timeout(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	finish(list_entry(t, struct proxy_wait, timer), "no PROXY header within connect_timeout");
}

int proxy_wait_start(struct worker *w, struct listener_rt *l, int fd, const struct net_addr *peer)
{
	struct proxy_wait *pw = calloc(1, sizeof(*pw));
	if (!pw || loop_io_add(w->loop, &pw->io, fd, LOOP_READ, on_readable) != FM_OK) {
		free(pw);
		close(fd);
		return FM_ENOMEM;
	}
	listener_pending_add(l); /* until finish() */
	pw->l = l;
	pw->peer = *peer;
	loop_timer_init(&pw->timer, on_timeout);
	loop_timer_start(w->loop, &pw->timer, (uint64_t)w->lim.connect_timeout_s * 1000u);
	return FM_OK;
}
