/* The WebSocket transport: MQTT bytes to and from a ws_stream's buffers.
 * libwebsockets owns the socket, so the owner's registration is kept here
 * and readiness is reported by ws_host.c's notify task: received bytes,
 * room to write, the peer gone. MQTT packets may span frames or share them
 * [MQTT-6.0.0-2]: the bytes are one stream to the reader. */
#include "net/ws_int.h"

#include <stdlib.h>
#include <string.h>

static struct ws_stream *ws_of(const struct conn *c)
{
	return c->impl;
}

/* Let libwebsockets read again once the owner has taken most of what was
 * buffered and wants more. */
static void maybe_resume(struct ws_stream *s)
{
	if (s->rx_off && s->io && (s->io->events & LOOP_READ) && buf_used(&s->rx) < WS_RX_LOW) {
		s->want_rx_on = true;
		s->want_rx_off = false;
		ws_stream_act(s);
		ws_host_touch(s->h);
	}
}

static ssize_t ws_read(struct conn *c, void *buf, size_t len)
{
	struct ws_stream *s = ws_of(c);
	size_t have = buf_used(&s->rx);
	if (have == 0)
		return s->peer_closed || !s->wsi ? FM_ECLOSED : FM_EAGAIN;
	size_t n = have < len ? have : len;
	memcpy(buf, buf_head(&s->rx), n);
	buf_consume(&s->rx, n);
	buf_shrink_if_empty(&s->rx);
	maybe_resume(s);
	return (ssize_t)n;
}

/* Room for LWS_PRE + WS_TX_MAX bytes, allocated on first use and kept
 * only while output flows (freed when the owner's output drains). */
static bool reserve_tx(struct ws_stream *s)
{
	if (!s->tx)
		s->tx = malloc(LWS_PRE + WS_TX_MAX);
	return s->tx != NULL;
}

static ssize_t ws_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
	struct ws_stream *s = ws_of(c);
	if (!s->wsi || s->peer_closed)
		return FM_ECLOSED;
	if (s->tx_len == WS_TX_MAX)
		return FM_EAGAIN;
	if (!reserve_tx(s))
		return FM_ENOMEM;
	size_t total = 0;
	for (int i = 0; i < iovcnt && s->tx_len < WS_TX_MAX; i++) {
		size_t n = iov[i].iov_len < WS_TX_MAX - s->tx_len ? iov[i].iov_len : WS_TX_MAX - s->tx_len;
		memcpy(s->tx + LWS_PRE + s->tx_len, iov[i].iov_base, n);
		s->tx_len += n;
		total += n;
	}
	lws_callback_on_writable(s->wsi);
	ws_host_touch(s->h);
	return (ssize_t)total;
}

/* The owner is done. What it wrote last still goes out (the WRITEABLE
 * callback then asks for the close) if the peer takes it within
 * WS_CLOSE_LINGER_S, else the connection is dropped with it; with nothing
 * pending the close is asked for now. A stream libwebsockets already
 * destroyed is freed. */
static void ws_close(struct conn *c)
{
	struct ws_stream *s = ws_of(c);
	c->impl = NULL;
	if (!s)
		return;
	s->conn = NULL;
	s->io = NULL;
	list_del(&s->notify_link);
	if (!s->wsi) {
		ws_stream_free(s);
		return;
	}
	if (s->tx_len == 0)
		s->want_close = true;
	else
		s->want_linger = true;
	ws_stream_act(s);
	ws_host_touch(s->h);
}

static bool ws_pending(const struct conn *c)
{
	const struct ws_stream *s = ws_of(c);
	return s && (buf_used(&s->rx) > 0 || s->peer_closed);
}

static const char *ws_error(const struct conn *c)
{
	const struct ws_stream *s = ws_of(c);
	return s && s->err[0] ? s->err : NULL;
}

static const char *ws_identity(const struct conn *c)
{
	const struct ws_stream *s = ws_of(c);
	return s ? s->identity : NULL;
}

static int ws_io_add(struct conn *c, struct loop *lp, struct loop_io *io, unsigned events, loop_io_fn *fn)
{
	(void)lp;
	struct ws_stream *s = ws_of(c);
	io->fn = fn;
	io->fd = -1;
	io->events = events;
	s->io = io;
	if (ws_pending(c))
		ws_stream_notify(s);
	return FM_OK;
}

/* Reading paused (backpressure) stops libwebsockets reading too; resumed,
 * what is buffered is reported; write interest with room is reported. */
static int ws_io_mod(struct conn *c, struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)lp;
	struct ws_stream *s = ws_of(c);
	if (!io->fn)
		return FM_ENOTFOUND;
	io->events = events;
	if (!(events & LOOP_READ) && !s->rx_off && s->wsi) {
		s->want_rx_off = true;
		s->want_rx_on = false;
		ws_stream_act(s);
		ws_host_touch(s->h);
	}
	maybe_resume(s);
	if (((events & LOOP_READ) && ws_pending(c)) || ((events & LOOP_WRITE) && s->tx_len < WS_TX_MAX))
		ws_stream_notify(s);
	if (!(events & LOOP_WRITE) && s->tx_len == 0 && s->tx) {
		free(s->tx); /* the output drained: an idle connection keeps no buffer */
		s->tx = NULL;
	}
	return FM_OK;
}

static void ws_io_del(struct conn *c, struct loop *lp, struct loop_io *io)
{
	(void)lp;
	struct ws_stream *s = ws_of(c);
	io->fn = NULL;
	if (s) {
		s->io = NULL;
		list_del(&s->notify_link);
	}
}

static const struct conn_ops ws_ops = {
	.kind = "ws",
	.read = ws_read,
	.writev = ws_writev,
	.close = ws_close,
	.pending = ws_pending,
	.error = ws_error,
	.identity = ws_identity,
	.io_add = ws_io_add,
	.io_mod = ws_io_mod,
	.io_del = ws_io_del,
};

void conn_ws_init(struct conn *c, struct ws_stream *s)
{
	c->ops = &ws_ops;
	c->impl = s;
	c->fd = -1;
	c->peer = (struct net_addr){0};
	s->conn = c;
}
