/* Transports behind one vtable (Redis's ConnectionType idea): the protocol
 * layer reads and writes bytes through struct conn and never learns whether
 * they travel over TCP, TLS or a WebSocket. TCP (conn_tcp.c) and TLS on
 * mbedtls (conn_tls.c) implement the ops; a transport's own handshake runs
 * inside read (FM_EAGAIN until it is done), so the caller's loop needs
 * only conn_wants_write() and conn_pending() to drive it. */
#ifndef FM_NET_CONN_H
#define FM_NET_CONN_H

#include "core/err.h"
#include "loop/loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct conn;

struct conn_ops {
	const char *kind; /* "tcp", "tls", "ws", ... */
	/* Read up to len bytes. >0 bytes read, FM_EAGAIN, FM_ECLOSED or FM_EIO. */
	ssize_t (*read)(struct conn *c, void *buf, size_t len);
	/* Write from iov. >=0 bytes written (may be partial), FM_EAGAIN or an fm_err. */
	ssize_t (*writev)(struct conn *c, const struct iovec *iov, int iovcnt);
	/* Release the transport and close the fd. */
	void (*close)(struct conn *c);
	/* Optional (NULL: never). True while the transport's own handshake
	 * is not done. */
	bool (*handshaking)(const struct conn *c);
	/* Optional (NULL: never). True when the transport cannot progress
	 * (a handshake) until the socket is writable. */
	bool (*wants_write)(const struct conn *c);
	/* Optional. True when bytes were taken off the socket but not yet
	 * returned by read (the rest of a TLS record): the socket will not
	 * signal them again. */
	bool (*pending)(const struct conn *c);
	/* Optional. Why the last read or write failed, for the log. */
	const char *(*error)(const struct conn *c);
	/* Optional, all three or none: a transport whose socket another
	 * library polls (WebSocket: libwebsockets owns it) keeps the owner's
	 * registration itself and reports readiness by calling io->fn. None:
	 * the socket goes into the loop. */
	int (*io_add)(struct conn *c, struct loop *lp, struct loop_io *io, unsigned events, loop_io_fn *fn);
	int (*io_mod)(struct conn *c, struct loop *lp, struct loop_io *io, unsigned events);
	void (*io_del)(struct conn *c, struct loop *lp, struct loop_io *io);
	/* Optional. The identity the transport established for the peer
	 * (per its listener: certificate CN or subject, PSK identity); NULL
	 * when there is none. */
	const char *(*identity)(const struct conn *c);
};

/* A peer address kept compact (every connection holds one; only logs
 * turn it into text). */
struct net_addr {
	uint8_t family;   /* AF_INET, AF_INET6 or 0 (unknown) */
	uint16_t port;
	uint8_t ip[16];   /* 4 bytes used for IPv4 */
};

/* Longest net_addr_format() result: "[v6 address]:port" and the NUL. */
#define NET_ADDR_STRLEN 56

struct sockaddr_storage;
/* The address in ss (AF_INET or AF_INET6; anything else: family 0). */
void net_addr_from_sockaddr(const struct sockaddr_storage *ss, struct net_addr *a);

/* Format a as "1.2.3.4:5" or "[::1]:5" into out (NET_ADDR_STRLEN bytes). */
const char *net_addr_format(const struct net_addr *a, char *out, size_t len);

struct conn {
	const struct conn_ops *ops;
	void *impl;               /* the transport's own state (TLS session); NULL for TCP */
	int fd;
	struct net_addr peer;
};

/* Wrap an accepted, non-blocking TCP socket. */
void conn_tcp_init(struct conn *c, int fd);

static inline ssize_t conn_read(struct conn *c, void *buf, size_t len) { return c->ops->read(c, buf, len); }
static inline ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n) { return c->ops->writev(c, iov, n); }
static inline void conn_close(struct conn *c) { c->ops->close(c); }
static inline bool conn_handshaking(const struct conn *c) { return c->ops->handshaking && c->ops->handshaking(c); }
static inline bool conn_wants_write(const struct conn *c) { return c->ops->wants_write && c->ops->wants_write(c); }
static inline bool conn_pending(const struct conn *c) { return c->ops->pending && c->ops->pending(c); }
static inline const char *conn_error(const struct conn *c) { return c->ops->error ? c->ops->error(c) : NULL; }
static inline const char *conn_identity(const struct conn *c) { return c->ops->identity ? c->ops->identity(c) : NULL; }

/* The owner's readiness registration for c (see io_add in conn_ops). */
static inline int conn_io_add(struct conn *c, struct loop *lp, struct loop_io *io, unsigned events, loop_io_fn *fn)
{
	return c->ops->io_add ? c->ops->io_add(c, lp, io, events, fn) : loop_io_add(lp, io, c->fd, events, fn);
}
static inline int conn_io_mod(struct conn *c, struct loop *lp, struct loop_io *io, unsigned events)
{
	return c->ops->io_mod ? c->ops->io_mod(c, lp, io, events) : loop_io_mod(lp, io, events);
}
static inline void conn_io_del(struct conn *c, struct loop *lp, struct loop_io *io)
{
	if (c->ops->io_del)
		c->ops->io_del(c, lp, io);
	else
		loop_io_del(lp, io);
}

/* --- listening sockets ---------------------------------------------------- */

/* Bind and listen on addr:port (addr NULL = all interfaces, IPv4 and IPv6
 * names and literals accepted; family narrows them, mosquitto's
 * socket_domain) with SO_REUSEADDR and SO_REUSEPORT, so every worker can
 * have its own socket on the same port. first: the listener's first
 * socket, which also checks that no other process holds the port. port 0
 * binds an ephemeral port, reported in *bound_port. FM_OK or FM_EIO with
 * eb set. */
struct net_listen_opts {
	const char *addr;         /* NULL: all interfaces */
	unsigned port;            /* 0: ephemeral */
	int family;               /* AF_INET, AF_INET6, or 0 for whatever addr resolves to */
	const char *interface;    /* SO_BINDTODEVICE; NULL: none */
	bool first;
};
int net_listen(const struct net_listen_opts *o, int *fd, unsigned *bound_port, struct fm_errbuf *eb);

/* Accept one connection: non-blocking, close-on-exec, TCP_NODELAY (no
 * Nagle: MQTT acks are small and latency-bound). FM_OK, FM_EAGAIN when the
 * backlog is empty, FM_ECLOSED when the connection failed in the backlog
 * (take the next), FM_ELIMIT when the process or the system is out of
 * file descriptors, FM_ENOMEM when the kernel is out of socket memory, or
 * another fm_err. */
int net_accept(int lfd, int *fd, struct net_addr *peer);

/* Out of file descriptors, a listener would stay readable and its
 * connections wait in the backlog until their clients give up. A spare
 * descriptor (/dev/null) held for the purpose is let go for a moment to
 * accept the oldest connection and close it at once, so its client hears
 * no at once. FM_OK (one refused), FM_EAGAIN (the backlog is empty), or
 * FM_ELIMIT and the others of net_accept. *spare_fd is -1 when it could
 * not be taken back (another thread took the slot); the next call tries
 * again. */
int net_accept_shed(int lfd, int *spare_fd);
/* A spare descriptor for net_accept_shed, or -1. */
int net_spare_fd_open(void);
/* net_accept_shed up to max times, counting into *refused: true when the
 * backlog is empty or max were refused, false when the spare is gone or
 * another error stopped it. */
bool net_refuse_waiting(int lfd, int *spare_fd, unsigned max, uint64_t *refused);

#endif
