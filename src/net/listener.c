/* Listening sockets and accept(). */
#include "net/conn.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connection storms (a fleet reconnecting after an outage) must not
 * overflow the accept queue; the kernel caps this at net.core.somaxconn. */
#define LISTEN_BACKLOG 65535

/* SO_REUSEPORT would let a second broker (same user) share a port that is
 * already ours, silently splitting the clients between the two. So the
 * first socket of a listener first proves the port free with a plain bind,
 * which fails with EADDRINUSE whatever the other holder did. */
static int probe_free(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	int rc = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int bind_one(const struct addrinfo *ai, const struct net_listen_opts *o, int *fd_out)
{
	if (o->first && o->port != 0) {
		int rc = probe_free(ai);
		if (rc)
			return rc;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (o->interface && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->interface,
				       (socklen_t)strlen(o->interface)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*fd_out = fd;
	return 0;
}

static unsigned bound_port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int net_listen(const struct net_listen_opts *o, int *fd, unsigned *bound_port, struct fm_errbuf *eb)
{
	const char *addr = o->addr;
	unsigned port = o->port;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	struct addrinfo hints = { .ai_family = o->family ? o->family : AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(addr, service, &hints, &res);
	if (gai != 0) {
		fm_errbuf_set(eb, "cannot resolve listener address '%s': %s", addr ? addr : "*", gai_strerror(gai));
		return FM_EIO;
	}
	/* With no address, prefer the IPv4 wildcard: one socket per listener. */
	int err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (!addr && ai->ai_family != AF_INET && ai->ai_next)
			continue;
		err = bind_one(ai, o, fd);
		if (err == 0)
			break;
	}
	freeaddrinfo(res);
	if (err) {
		fm_errbuf_set(eb, "cannot listen on %s:%u: %s", addr ? addr : "*", port, strerror(-err));
		return FM_EIO;
	}
	*bound_port = bound_port_of(*fd);
	return FM_OK;
}

void net_addr_from_sockaddr(const struct sockaddr_storage *ss, struct net_addr *a)
{
	*a = (struct net_addr){0};
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		a->family = AF_INET;
		a->port = ntohs(in->sin_port);
		memcpy(a->ip, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		a->family = AF_INET6;
		a->port = ntohs(in6->sin6_port);
		memcpy(a->ip, &in6->sin6_addr, 16);
	}
}

const char *net_addr_format(const struct net_addr *a, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (a->family == AF_INET || a->family == AF_INET6)
		inet_ntop(a->family, a->ip, host, sizeof(host));
	snprintf(out, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, a->port);
	return out;
}

/* accept(2) on Linux hands back the network errors of a connection that
 * failed in the backlog; that one is gone, the next may be fine. */
static bool gone_before_accept(int e)
{
	switch (e) {
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
	case EPERM: /* a firewall rule refused it */
		return true;
	}
	return false;
}

static int accept_error(int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		return FM_EAGAIN;
	if (gone_before_accept(e))
		return FM_ECLOSED;
	if (e == ENOBUFS)
		return FM_ENOMEM;
	return fm_err_errno(e);
}

int net_accept(int lfd, int *fd, struct net_addr *peer)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int c;
	do
		c = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (c < 0 && errno == EINTR);
	if (c < 0)
		return accept_error(errno);
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	net_addr_from_sockaddr(&ss, peer);
	*fd = c;
	return FM_OK;
}

int net_spare_fd_open(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int net_accept_shed(int lfd, int *spare_fd)
{
	if (*spare_fd < 0 && (*spare_fd = net_spare_fd_open()) < 0)
		return FM_ELIMIT;
	close(*spare_fd);
	int c;
	do
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (c < 0 && errno == EINTR);
	int rc = c >= 0 ? FM_OK : accept_error(errno);
	if (c >= 0)
		close(c);
	*spare_fd = net_spare_fd_open(); /* another thread may have taken the slot: -1, tried again next time */
	return rc;
}

bool net_refuse_waiting(int lfd, int *spare_fd, unsigned max, uint64_t *refused)
{
	for (unsigned i = 0; i < max; i++) {
		int rc = net_accept_shed(lfd, spare_fd);
		if (rc == FM_EAGAIN)
			return true;
		if (rc == FM_OK)
			(*refused)++;
		else if (rc != FM_ECLOSED)
			return false;
	}
	return true;
}
