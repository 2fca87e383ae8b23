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

/* A socket of ours being connected (*fd, watched by io), if any, closed. */
static void unwatch_and_close(struct bridge *br, struct loop_io *io, int *fd)
{
	if (*fd < 0)
		return;
	loop_io_del(br->w->loop, io);
	close(*fd);
	*fd = -1;
}

static void close_pending(struct bridge *br)
{
	unwatch_and_close(br, &br->io, &br->fd);
}

/* How a non-blocking connect on fd ended: 0, or the errno. */
static int connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	return err;
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
	int err = connect_result(br->fd);
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

static void on_probe_timer(struct loop *lp, struct loop_timer *t);

void bridge_link_init(struct bridge *br)
{
	loop_timer_init(&br->retry, on_retry);
	loop_timer_init(&br->probe, on_probe_timer);
	br->probe_fd = -1;
}

/* --- going back to the first address (round_robin false) ---------------- */

static void probe_close(struct bridge *br)
{
	unwatch_and_close(br, &br->probe_io, &br->probe_fd);
}

static void probe_stop(struct bridge *br)
{
	probe_close(br);
	loop_timer_stop(br->w->loop, &br->probe);
}

static uint64_t probe_interval_ms(const struct bridge *br)
{
	uint32_t s = br->conf->restart_base_s ? br->conf->restart_base_s : 1;
	return (uint64_t)s * 1000u;
}

static void on_probe_done(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)events;
	struct bridge *br = list_entry(io, struct bridge, probe_io);
	int err = connect_result(br->probe_fd);
	probe_close(br);
	if (err || !br->c || br->addr_idx == 0) {
		loop_timer_start(lp, &br->probe, probe_interval_ms(br));
		return;
	}
	loop_timer_stop(lp, &br->probe);
	log_notice(&br->b->log, "bridge %s: the first address takes connections again: going back to it",
		   br->conf->name);
	/* on_close then brings it down as connected: round_robin false
	 * starts again from the first address */
	bridge_proto_leave(br, "going back to the first address");
}

/* Timer: start a probe, or give up one that took connect_timeout. */
static void on_probe_timer(struct loop *lp, struct loop_timer *t)
{
	struct bridge *br = list_entry(t, struct bridge, probe);
	if (br->probe_fd >= 0) {
		probe_close(br); /* no answer in time: the first address is still away */
		loop_timer_start(lp, t, probe_interval_ms(br));
		return;
	}
	if (!br->c || br->addr_idx == 0 || br->primary.n == 0)
		return;
	const struct bridge_addrs *a = &br->primary;
	br->probe_fd = socket(a->family[0], SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (br->probe_fd >= 0 && connect(br->probe_fd, (const struct sockaddr *)&a->ss[0], a->len[0]) != 0 &&
	    errno != EINPROGRESS) {
		close(br->probe_fd);
		br->probe_fd = -1;
	}
	if (br->probe_fd >= 0 && loop_io_add(lp, &br->probe_io, br->probe_fd, LOOP_WRITE, on_probe_done) != FM_OK) {
		close(br->probe_fd);
		br->probe_fd = -1;
	}
	loop_timer_start(lp, t, br->probe_fd >= 0 ? (uint64_t)br->w->lim.connect_timeout_s * 1000u
						  : probe_interval_ms(br));
}

void bridge_link_connected(struct bridge *br)
{
	if (br->conf->round_robin || br->conf->start_type != CONF_BRIDGE_AUTOMATIC || br->addr_idx == 0 ||
	    br->conf->n_addresses < 2)
		return;
	loop_timer_start(br->w->loop, &br->probe, probe_interval_ms(br));
}

/* The first address's socket addresses, kept for the probe. */
static void remember_primary(struct bridge *br)
{
	if (br->addr_idx == 0)
		br->primary = br->addrs;
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
	remember_primary(br);
	start_connect(br);
}

/* A literal is used at once; a name goes to the resolver thread, with
 * connect_timeout for its answer. */
static void resolve_and_connect(struct bridge *br, const struct conf_bridge_address *a)
{
	int rc = bridge_addrs_fill(&br->addrs, a->host, a->port, true);
	if (rc == 0) {
		remember_primary(br);
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
	probe_stop(br);
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
	probe_stop(br);
	bridge_resolve_stop(br);
	close_pending(br);
}
