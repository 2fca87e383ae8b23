/* The link to the remote: a non-blocking TCP connect to each address in
 * turn (failover), TLS on top when configured, and the wait before the
 * next attempt: restart_timeout BASE CAP is an exponential backoff with
 * jitter (each wait drawn between BASE and the doubled ceiling, so that a
 * fleet of edge brokers does not return to a central one in step), a
 * single value a constant wait (as mosquitto).
 *
 * An address literal is used at once; a host name is resolved on the
 * bridge's resolver thread (bridge_resolve.c), never on the worker. Each
 * socket address a name resolves to is tried in turn before the next
 * configured address. */
#include "bridge/bridge_int.h"

#include "core/log.h"
#include "net/tls.h"
#include "proto/worker.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_retry(struct loop *lp, struct loop_timer *t);

static uint64_t backoff_ms(struct bridge *br)
{
	uint64_t base = (uint64_t)br->conf->restart_base_s * 1000u;
	uint64_t cap = (uint64_t)br->conf->restart_cap_s * 1000u;
	if (cap <= base)
		return base;
	unsigned shift = br->failures < 16 ? br->failures : 16;
	uint64_t ceiling = base << shift;
	if (ceiling > cap)
		ceiling = cap;
	return base + (uint64_t)rand() % (ceiling - base + 1);
}

static void close_pending(struct bridge *br)
{
	if (br->fd < 0)
		return;
	loop_io_del(br->w->loop, &br->io);
	close(br->fd);
	br->fd = -1;
}

/* An attempt failed before the MQTT connection existed. */
static void attempt_failed(struct bridge *br, const char *what, const char *detail)
{
	char where[NET_ADDR_STRLEN + 8];
	pthread_mutex_lock(&br->text_lock);
	snprintf(where, sizeof(where), "%s", br->address);
	pthread_mutex_unlock(&br->text_lock);
	bridge_set_error(br, "%s %s: %s", what, where, detail);
	log_warn(&br->b->log, "bridge %s: %s %s: %s", br->conf->name, what, where, detail);
	close_pending(br);
	bridge_link_down(br, false);
}

static void note_address(struct bridge *br, const struct conf_bridge_address *a)
{
	pthread_mutex_lock(&br->text_lock);
	snprintf(br->address, sizeof(br->address), strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host,
		 (unsigned)a->port);
	pthread_mutex_unlock(&br->text_lock);
}

static void start_connect(struct bridge *br);

/* The socket address tried failed: the next one the same name resolved
 * to, if any, else the attempt failed. */
static void connect_failed(struct bridge *br, const char *what, const char *detail)
{
	if (br->addrs.next + 1 < br->addrs.n) {
		close_pending(br);
		br->addrs.next++;
		start_connect(br);
		return;
	}
	attempt_failed(br, what, detail);
}

static void on_connected(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)lp;
	(void)events;
	struct bridge *br = list_entry(io, struct bridge, io);
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(br->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		connect_failed(br, "cannot connect to", strerror(err));
		return;
	}
	loop_timer_stop(br->w->loop, &br->retry);
	loop_io_del(br->w->loop, &br->io);
	int fd = br->fd;
	br->fd = -1;
	struct net_addr peer = { 0 };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		net_addr_from_sockaddr(&ss, &peer);
	bridge_proto_open(br, fd, &peer);
}

/* Connect to br->addrs' current entry; one that takes longer than
 * connect_timeout is given up. */
static void start_connect(struct bridge *br)
{
	unsigned i = br->addrs.next;
	br->fd = socket(br->addrs.family[i], SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (br->fd < 0) {
		connect_failed(br, "cannot open a socket for", strerror(errno));
		return;
	}
	int one = 1;
	(void)setsockopt(br->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(br->fd, (const struct sockaddr *)&br->addrs.ss[i], br->addrs.len[i]) != 0 && errno != EINPROGRESS) {
		connect_failed(br, "cannot connect to", strerror(errno));
		return;
	}
	if (loop_io_add(br->w->loop, &br->io, br->fd, LOOP_WRITE, on_connected) != FM_OK) {
		attempt_failed(br, "cannot watch the connection to", "out of memory");
		return;
	}
	loop_timer_start(br->w->loop, &br->retry, (uint64_t)br->w->lim.connect_timeout_s * 1000u);
}

void bridge_link_init(struct bridge *br)
{
	loop_timer_init(&br->retry, on_retry);
}

void bridge_link_resolved(struct bridge *br, const char *err, const struct bridge_addrs *addrs)
{
	if (!br->resolving)
		return;
	br->resolving = false;
	loop_timer_stop(br->w->loop, &br->retry);
	if (err) {
		attempt_failed(br, "cannot resolve", err);
		return;
	}
	br->addrs = *addrs;
	start_connect(br);
}

/* A literal is used at once; a name goes to the resolver thread, with
 * connect_timeout for its answer. */
static void resolve_and_connect(struct bridge *br, const struct conf_bridge_address *a)
{
	int rc = bridge_addrs_fill(&br->addrs, a->host, a->port, true);
	if (rc == 0) {
		start_connect(br);
		return;
	}
	if (rc != EAI_NONAME) {
		attempt_failed(br, "cannot resolve", gai_strerror(rc));
		return;
	}
	if (bridge_resolve_ask(br, a) != FM_OK) {
		attempt_failed(br, "cannot resolve", "out of memory");
		return;
	}
	br->resolving = true;
	loop_timer_start(br->w->loop, &br->retry, (uint64_t)br->w->lim.connect_timeout_s * 1000u);
}

void bridge_link_start(struct bridge *br)
{
	if (br->stopping || br->c || br->fd >= 0 || br->resolving)
		return;
	if (bridge_session_setup(br) != FM_OK) {
		bridge_set_error(br, "local client id %s is in use by a client", br->conf->local_clientid);
		log_warn(&br->b->log, "bridge %s: local client id %s is in use by a client; retrying later",
			    br->conf->name, br->conf->local_clientid);
		bridge_link_down(br, false);
		return;
	}
	const struct conf_bridge_address *a = &br->conf->addresses[br->addr_idx];
	note_address(br, a);
	bridge_set_state(br, BRIDGE_CONNECTING);
	resolve_and_connect(br, a);
}

/* Backoff over, or a connect that took too long. */
static void on_retry(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct bridge *br = list_entry(t, struct bridge, retry);
	if (br->resolving) {
		br->resolving = false;
		bridge_resolve_cancel(br); /* its answer, if it ever comes, is dropped */
		attempt_failed(br, "no name resolution within connect_timeout for", "timed out");
		return;
	}
	if (br->fd >= 0) {
		connect_failed(br, "no answer within connect_timeout from", "timed out");
		return;
	}
	bridge_link_start(br);
}

void bridge_link_down(struct bridge *br, bool was_connected)
{
	size_t n = br->conf->n_addresses;
	if (was_connected) {
		br->failures = 0;
		/* round_robin false: the first address is the preferred one */
		br->addr_idx = br->conf->round_robin ? (br->addr_idx + 1) % n : 0;
	} else {
		br->failures++;
		br->addr_idx = (br->addr_idx + 1) % n;
	}
	if (br->stopping)
		return;
	/* once: one round over the addresses, and no reconnect */
	if (br->conf->start_type == CONF_BRIDGE_ONCE && (was_connected || br->addr_idx == 0)) {
		bridge_set_state(br, BRIDGE_STOPPED);
		return;
	}
	if (br->conf->start_type == CONF_BRIDGE_LAZY && was_connected) {
		bridge_set_state(br, BRIDGE_IDLE); /* the tick connects again once enough waits */
		return;
	}
	bridge_set_state(br, BRIDGE_BACKOFF);
	/* a failed attempt goes on to the next address at once, and waits
	 * once every address failed in this round */
	bool round_done = was_connected || br->addr_idx == 0 || n == 1;
	loop_timer_start(br->w->loop, &br->retry, round_done ? backoff_ms(br) : 0);
}

void bridge_link_stop(struct bridge *br)
{
	br->stopping = true;
	br->resolving = false;
	loop_timer_stop(br->w->loop, &br->retry);
	loop_timer_stop(br->w->loop, &br->tick);
	bridge_resolve_stop(br);
	close_pending(br);
}
