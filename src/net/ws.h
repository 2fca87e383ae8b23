/* WebSocket listeners (MQTT over ws and wss) on libwebsockets.
 *
 * Each worker has one ws_host: a libwebsockets context on a libuv loop of
 * its own that is nested in the worker's loop (the libuv backend fd is one
 * more fd in the worker's epoll set, libuv's next timer one more timer), so
 * the worker thread services WebSocket sockets between its other work and
 * nothing runs on a thread of its own. Debian 12's libwebsockets (4.1.6) is
 * built without its external-poll interface, which is why libuv sits in
 * between. The worker accepts on its own listening socket and hands the
 * socket to libwebsockets, which answers the HTTP upgrade (and, for wss, does
 * the TLS with OpenSSL, the library Debian built it with). Once upgraded,
 * on_open gets a ws_stream that conn_ws_init turns into an ordinary
 * transport: the protocol layer reads and writes MQTT bytes through struct
 * conn as over TCP. */
#ifndef FM_NET_WS_H
#define FM_NET_WS_H

#include "core/err.h"
#include "core/log.h"
#include "loop/loop.h"
#include "net/conn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_host;
struct ws_stream;

/* One configured listener as the host sees it; enabled false for listeners
 * that are not WebSocket ones (indexes match the broker's listeners). */
struct ws_listener {
	bool enabled;
	const char *path;            /* the only path upgraded; NULL: any */
	bool trust_x_forwarded_for;  /* the peer address is X-Forwarded-For's first entry */
	unsigned headers_size;       /* HTTP header bytes accepted; 0: libwebsockets' 4096 */
	/* wss: TLS by libwebsockets (OpenSSL) */
	const char *certfile, *keyfile, *cafile, *ciphers;
	bool require_certificate;
	bool identity_cn;            /* use_identity_as_username: the certificate's CN */
};

/* A connection finished its upgrade on listener `listener`: wrap s with
 * conn_ws_init and return FM_OK, or an error to close it. */
typedef int ws_open_fn(void *arg, size_t listener, struct ws_stream *s, const struct net_addr *peer);
/* An adopted socket of listener `listener` is no longer waiting for its
 * upgrade: it was upgraded (just after on_open) or it is gone. Once per
 * socket for which ws_host_adopt returned FM_OK, never after an error
 * return; it may run from inside ws_host_free, so what it counts must
 * outlive the host. */
typedef void ws_settled_fn(void *arg, size_t listener);

struct ws_host_hooks {
	ws_open_fn *on_open;
	ws_settled_fn *on_settled;
	void *arg;                   /* passed to both */
};

/* Once per process, before any libwebsockets context (a host, the HTTP
 * server): libwebsockets' logging goes to log (warnings and errors only).
 * Calling it again changes nothing. */
void ws_global_init(struct log *log);

/* A host for the loop lp (the worker's), serving ls[0..n). FM_OK, or an
 * error with eb naming the listener setting at fault (a wss certificate
 * that cannot be loaded, ...). */
int ws_host_new(struct loop *lp, const struct ws_listener *ls, size_t n, const struct ws_host_hooks *hooks,
		struct ws_host **out, struct fm_errbuf *eb);
/* Hand an accepted socket of listener `listener` to libwebsockets (it
 * closes it on failure); peer: the client's address when a PROXY header
 * named it, else NULL (the socket's). A connection whose upgrade is not
 * done within timeout_ms (connect_timeout) is closed and logged. */
int ws_host_adopt(struct ws_host *h, size_t listener, int fd, const struct net_addr *peer, uint32_t timeout_ms);
/* SIGHUP, on the thread that owns the host: re-read every wss listener's
 * certfile and keyfile (same paths) into libwebsockets, for new
 * connections; existing ones keep theirs. Failures are logged and keep
 * the certificate in use. */
void ws_host_reload_certs(struct ws_host *h, struct log *log);

/* Destroy the host (on the thread that owns it, or after it has ended),
 * closing what is still open. */
void ws_host_free(struct ws_host *h);

/* Wrap an upgraded stream (only inside on_open). */
void conn_ws_init(struct conn *c, struct ws_stream *s);

#endif
