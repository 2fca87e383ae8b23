/* Plain TCP transport. */
#include "net/conn.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t tcp_read(struct conn *c, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n > 0)
			return n;
		if (n == 0)
			return FM_ECLOSED;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return FM_EAGAIN;
		return errno == ECONNRESET ? FM_ECLOSED : FM_EIO;
	}
}

static ssize_t tcp_writev(struct conn *c, const struct iovec *iov, int iovcnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	for (;;) {
		/* MSG_NOSIGNAL: a peer that vanished must not SIGPIPE the broker */
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return FM_EAGAIN;
		return fm_err_errno(errno);
	}
}

static void tcp_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static const struct conn_ops tcp_ops = {
	.kind = "tcp",
	.read = tcp_read,
	.writev = tcp_writev,
	.close = tcp_close,
};

void conn_tcp_init(struct conn *c, int fd)
{
	c->ops = &tcp_ops;
	c->impl = NULL;
	c->fd = fd;
	c->peer = (struct net_addr){0};
}
