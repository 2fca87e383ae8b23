/* Internal to src/net: what ws_host.c and conn_ws.c share. */
#ifndef FM_NET_WS_INT_H
#define FM_NET_WS_INT_H

#include "core/buf.h"
#include "core/list.h"
#include "net/ws.h"

#include <libwebsockets.h>
#include <uv.h>

/* Received bytes kept for the owner: above HIGH libwebsockets stops reading
 * the socket, below LOW it starts again. */
#define WS_RX_HIGH (64u * 1024u)
#define WS_RX_LOW (16u * 1024u)
/* Bytes accepted for sending before writev says EAGAIN: the rest waits in
 * the owner's output buffer, where its backpressure rules apply. */
#define WS_TX_MAX (64u * 1024u)
/* Seconds a closed owner's last bytes get to leave before the connection
 * is dropped with them: a peer that stops reading must not keep its
 * socket (and the output libwebsockets holds for it) once it is closed. */
#define WS_CLOSE_LINGER_S 5

struct ws_host {
	struct loop *lp;
	uv_loop_t uv;
	struct lws_context *ctx;
	struct lws_vhost **vhosts;   /* per listener; NULL for non-WebSocket ones */
	struct ws_listener *ls;      /* copies (strings borrowed from the config) */
	size_t n;
	struct ws_host_hooks hooks;
	struct loop_io uv_io;        /* libuv's backend fd in the worker's loop */
	struct loop_timer uv_timer;  /* libuv's next timer */
	bool in_pump;                /* inside uv_run: libwebsockets callbacks may run */
	bool dirty;                  /* libwebsockets was called outside uv_run */
	bool notify_scheduled;
	struct list notify;          /* streams with readiness to report */
	struct list actions;         /* streams with libwebsockets calls to make after uv_run */
};

struct ws_stream {
	struct ws_host *h;
	struct lws *wsi;             /* NULL once libwebsockets destroyed it */
	struct conn *conn;           /* the owner's transport; NULL once it closed */
	struct loop_io *io;          /* the owner's registration; NULL when none */
	struct buf rx;               /* received, not yet read */
	unsigned char *tx;           /* LWS_PRE bytes of headroom, then tx_len bytes */
	size_t tx_len;
	char *identity;              /* certificate CN (use_identity_as_username) */
	struct list notify_link;
	struct list action_link;
	bool peer_closed;
	bool rx_off;                 /* libwebsockets is told not to read */
	bool want_rx_off, want_rx_on, want_close;
	bool want_linger;            /* closed with output pending: WS_CLOSE_LINGER_S for it */
	uint16_t close_code;         /* the close frame's status; 0: 1000 */
	char err[96];
};

/* Mark that libwebsockets must be given a turn before the loop sleeps. */
void ws_host_touch(struct ws_host *h);
/* Report the stream's readiness to its owner soon (from a deferred task,
 * never from inside a libwebsockets callback). */
void ws_stream_notify(struct ws_stream *s);
/* Queue a flow-control change or the close for after uv_run. */
void ws_stream_act(struct ws_stream *s);
/* Free a stream that neither its owner nor libwebsockets holds any more. */
void ws_stream_free(struct ws_stream *s);

#endif
