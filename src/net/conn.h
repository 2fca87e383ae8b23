/* Transports behind one vtable (Redis's ConnectionType idea): the protocol
 * layer reads and writes bytes through struct conn and never learns whether
 * they travel over TCP, TLS or a WebSocket. Only TCP exists so far; TLS
 * (mbedtls) and WebSocket (libwebsockets) implement the same ops. */
#ifndef FM_NET_CONN_H
#define FM_NET_CONN_H

#include "core/err.h"

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

/* Format a as "1.2.3.4:5" or "[::1]:5" into out (NET_ADDR_STRLEN bytes). */
const char *net_addr_format(const struct net_addr *a, char *out, size_t len);

struct conn {
	const struct conn_ops *ops;
	int fd;
	struct net_addr peer;
};

/* Wrap an accepted, non-blocking TCP socket. */
void conn_tcp_init(struct conn *c, int fd);

static inline ssize_t conn_read(struct conn *c, void *buf, size_t len) { return c->ops->read(c, buf, len); }
static inline ssize_t conn_writev(struct conn *c, const struct iovec *iov, int n) { return c->ops->writev(c, iov, n); }
static inline void conn_close(struct conn *c) { c->ops->close(c); }

/* --- listening sockets ---------------------------------------------------- */

/* Bind and listen on addr:port (addr NULL = all interfaces, IPv4 and IPv6
 * names and literals accepted) with SO_REUSEADDR and SO_REUSEPORT, so every
 * worker can have its own socket on the same port. first: the listener's
 * first socket, which also checks that no other process holds the port.
 * port 0 binds an ephemeral port, reported in *bound_port. FM_OK or FM_EIO
 * with eb set. */
int net_listen(const char *addr, unsigned port, bool first, int *fd, unsigned *bound_port,
	       struct fm_errbuf *eb);

/* Accept one connection: non-blocking, close-on-exec, TCP_NODELAY (no
 * Nagle: MQTT acks are small and latency-bound). FM_OK, FM_EAGAIN when the
 * backlog is empty, or an fm_err. */
int net_accept(int lfd, int *fd, struct net_addr *peer);

#endif
