/* Connection life cycle: accept, read and frame, dispatch, flush, timers,
 * backpressure and close. Protocol decisions live in the per-packet files;
 * this file only moves bytes and enforces the connection-level rules
 * (first packet CONNECT, one CONNECT, packet size, timeouts). */
#include "proto/client.h"
#include "proto/proto.h"
#include "proto/worker.h"
#include "proto/persist.h"
#include "proto/access.h"
#include "proto/rate.h"
#include "proto/alias.h"
#include "proto/ext_auth.h"
#include "mqtt/codec.h"
#include "net/tls.h"
#include "net/ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_io(struct loop *lp, struct loop_io *io, unsigned events);
static void on_timer(struct loop *lp, struct loop_timer *t);
static void on_stall_timer(struct loop *lp, struct loop_timer *t);
static void kick_pending(struct client *c);

/* Allocated only while a client is saturated, so idle connections do not
 * carry a second timer. */
struct client_stall {
	struct loop_timer timer;
	struct client *c;
	struct list waiters;      /* publishers paused on this client's output */
	uint32_t bytes_mark;      /* bytes_written when armed */
	uint32_t acks;            /* PUBACK/PUBCOMP received since armed */
};

/* A parked client (park_hung_up: not closed, yet out of the loop) goes
 * back into the loop once it is to be read again; until then it stays
 * out, whatever else it waits for. */
static void set_events(struct client *c, unsigned events)
{
	if (c->state == CLIENT_CLOSED)
		return;
	if (c->io.fn) {
		conn_io_mod(&c->conn, c->w->loop, &c->io, events);
		return;
	}
	if ((events & LOOP_READ) && conn_io_add(&c->conn, c->w->loop, &c->io, events, on_io) != FM_OK)
		client_close(c, "out of memory watching the connection");
}

/* The peer hung up (reset, or closed both ways) while c is not being read
 * (backpressure, a handoff). epoll reports a hang-up at every wait,
 * whatever is watched, so the worker would spin until c is read again:
 * the socket leaves the loop instead, and set_events puts it back when
 * reading resumes, which reads what the peer sent before it went (a
 * DISCONNECT among it must still count) and then its end. A WebSocket
 * stream (no fd in the loop) reports a hang-up once and is left alone. */
static void park_hung_up(struct client *c)
{
	if (c->io.fd >= 0)
		conn_io_del(&c->conn, c->w->loop, &c->io);
}

static void close_raw_fd(int fd)
{
	struct conn tmp;
	conn_tcp_init(&tmp, fd);
	conn_close(&tmp);
}

/* The listener's transport around fd: TLS with its current server
 * context, else plain TCP. */
static int init_transport(struct client *c, struct listener_rt *l, int fd)
{
	if (!l->tls) {
		conn_tcp_init(&c->conn, fd);
		return FM_OK;
	}
	struct tls_server *srv = broker_tls_acquire(l->tls);
	int rc = conn_tls_init(&c->conn, fd, srv);
	tls_server_unref(srv); /* the connection holds its own */
	return rc;
}

static int start_client(struct client *c, struct worker *w, struct listener_rt *l, const struct net_addr *peer);

int client_accept(struct worker *w, struct listener_rt *l, int fd, const struct net_addr *peer)
{
	struct client *c = calloc(1, sizeof(*c));
	if (!c || init_transport(c, l, fd) != FM_OK) {
		free(c);
		close_raw_fd(fd);
		return FM_ENOMEM;
	}
	return start_client(c, w, l, peer);
}

int client_accept_ws(struct worker *w, struct listener_rt *l, struct ws_stream *s, const struct net_addr *peer)
{
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return FM_ENOMEM;
	conn_ws_init(&c->conn, s);
	return start_client(c, w, l, peer);
}

/* Registered with the worker's loop, in its list, and given
 * connect_timeout for the handshake (CONNECT, or for a bridge CONNACK). */
static int register_client(struct client *c, struct worker *w)
{
	if (conn_io_add(&c->conn, w->loop, &c->io, LOOP_READ, on_io) != FM_OK) {
		conn_close(&c->conn);
		free(c);
		return FM_ENOMEM;
	}
	c->w = w;
	list_init(&c->dirty_link);
	list_init(&c->wait_link);
	list_push_back(&w->clients, &c->link);
	w->n_clients++;
	c->last_rx_ms = (uint32_t)loop_now_ms(w->loop);
	loop_timer_init(&c->timer, on_timer);
	loop_timer_start(w->loop, &c->timer, (uint64_t)w->lim.connect_timeout_s * 1000u);
	return FM_OK;
}

/* A connection with its transport in place: registered and counted
 * against its listener. */
static int start_client(struct client *c, struct worker *w, struct listener_rt *l, const struct net_addr *peer)
{
	c->conn.peer = *peer;
	if (register_client(c, w) != FM_OK)
		return FM_ENOMEM;
	c->listener = l;
	counter_inc(&w->stats.sockets_total);
	counter_peak(&w->b->peak_clients, atomic_fetch_add(&w->b->n_clients, 1) + 1);
	counter_peak(&w->b->listener_peak[l->index], atomic_fetch_add(&w->b->listener_conns[l->index], 1) + 1);
	atomic_fetch_add_explicit(&w->b->listener_accepted[l->index], 1, memory_order_relaxed);
	return FM_OK;
}

/* Not counted against max_connections or a listener: the operator
 * configured it, no device opened it. */
int client_open_outgoing(struct worker *w, int fd, const struct net_addr *peer, struct tls_client *tls,
			 const char *host, struct client **out)
{
	struct client *c = calloc(1, sizeof(*c));
	/* in place: the TLS transport keeps a pointer to c->conn */
	if (c && tls && conn_tls_client_init(&c->conn, fd, tls, host) != FM_OK) {
		free(c);
		c = NULL;
	}
	if (!c) {
		close_raw_fd(fd);
		return FM_ENOMEM;
	}
	if (!tls)
		conn_tcp_init(&c->conn, fd);
	c->conn.peer = *peer;
	c->outgoing = true;
	if (register_client(c, w) != FM_OK)
		return FM_ENOMEM;
	*out = c;
	return FM_OK;
}

void client_start_keepalive(struct client *c)
{
	loop_timer_stop(c->w->loop, &c->timer);
	if (c->keepalive_s == 0)
		return; /* keepalive 0 turns the mechanism off (3.1.1 section 3.1.2.10) */
	loop_timer_start(c->w->loop, &c->timer, (uint64_t)c->keepalive_s * 1500u);
}

/* Connect timeout before CONNECT; afterwards, keepalive: close if nothing
 * arrived within 1.5 x keepalive [MQTT-3.1.2-24], else re-arm for the rest. */
static void on_timer(struct loop *lp, struct loop_timer *t)
{
	struct client *c = list_entry(t, struct client, timer);
	if (c->state == CLIENT_NEW) {
		client_close(c, c->outgoing ? "no CONNACK within connect_timeout"
				: conn_handshaking(&c->conn) ? "TLS handshake not done within connect_timeout"
				: ext_auth_before_connack(c) ? "enhanced authentication not done within connect_timeout"
							    : "no CONNECT within connect_timeout");
		return;
	}
	uint64_t limit = (uint64_t)c->keepalive_s * 1500u;
	uint64_t idle = (uint32_t)((uint32_t)loop_now_ms(lp) - c->last_rx_ms);
	/* a paused publisher's PINGREQs sit unread in the socket: not its fault */
	if (c->read_paused)
		idle = 0;
	if (idle >= limit)
		client_close_rc(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "keepalive timeout");
	else
		loop_timer_start(lp, &c->timer, limit - idle);
}

/* Before CONNACK: a CONNECT; then, while its enhanced authentication
 * runs, only AUTH or DISCONNECT [MQTT-3.1.2-30]. */
static int dispatch_new(struct client *c, const struct mqtt_frame *f, const char **why)
{
	if (!ext_auth_waiting(c)) {
		if (f->type == MQTT_CONNECT)
			return proto_on_connect(c, f, why);
		*why = "first packet was not CONNECT"; /* [MQTT-3.1.0-1] */
		return FM_EPROTO;
	}
	switch (f->type) {
	case MQTT_AUTH: return proto_on_auth(c, f, why);
	case MQTT_DISCONNECT:
		*why = "client sent DISCONNECT during authentication";
		return FM_ECLOSED;
	case MQTT_CONNECT: return proto_refuse_connect(c, MQTT_RC_PROTOCOL_ERROR, "second CONNECT", why); /* [MQTT-3.1.0-2] */
	default:
		return proto_refuse_connect(c, MQTT_RC_PROTOCOL_ERROR, "packet other than AUTH before CONNACK", why);
	}
}

/* The client end of a bridge: PUBLISH and its acknowledgements flow as
 * on any connection (they are symmetric); the rest is the bridge's. */
static int dispatch_outgoing(struct client *c, const struct mqtt_frame *f, const char **why)
{
	if (c->state == CLIENT_ACTIVE) {
		switch (f->type) {
		case MQTT_PUBLISH: return proto_on_publish(c, f, why);
		case MQTT_PUBACK:
		case MQTT_PUBREC:
		case MQTT_PUBREL:
		case MQTT_PUBCOMP: return proto_on_ack(c, f, why);
		default: break;
		}
	}
	return c->w->b->bridge_hooks->on_packet(c, f, why);
}

static int dispatch(struct client *c, const struct mqtt_frame *f, const char **why)
{
	if (c->outgoing)
		return dispatch_outgoing(c, f, why);
	if (c->state == CLIENT_NEW)
		return dispatch_new(c, f, why);
	switch (f->type) {
	case MQTT_CONNECT:
		*why = "second CONNECT"; /* [MQTT-3.1.0-2] */
		return FM_EPROTO;
	case MQTT_PUBLISH: return proto_on_publish(c, f, why);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP: return proto_on_ack(c, f, why);
	case MQTT_SUBSCRIBE: return proto_on_subscribe(c, f, why);
	case MQTT_UNSUBSCRIBE: return proto_on_unsubscribe(c, f, why);
	case MQTT_PINGREQ: return proto_on_pingreq(c, f, why);
	case MQTT_DISCONNECT: return proto_on_disconnect(c, f, why);
	case MQTT_AUTH: return proto_on_auth(c, f, why);
	default:
		*why = "packet type a client may not send";
		return FM_EPROTO;
	}
}

/* The first packet must be CONNECT, and a 3.1.1 CONNECT is at most
 * 10 + 5 x (2 + 65535) bytes: an unauthenticated connection announcing
 * more is refused from its header instead of being buffered (room is left
 * for 5.0's properties). */
#define FM_CONNECT_MAX (512u * 1024u)

/* Largest whole packet accepted: before CONNECT, FM_CONNECT_MAX; with
 * message_size_limit set, the payload limit plus the largest possible topic
 * and headers; max_packet_size if smaller; else the MQTT maximum (0). */
static uint32_t max_packet(const struct client *c)
{
	/* a bridge's remote (the operator's choice) is not cut off for a
	 * large packet, which it would only send again: admit_from_remote
	 * drops what is over message_size_limit. Over 5.0 it was told
	 * max_packet_size in our CONNECT, so more is its violation. */
	if (c->outgoing) {
		if (c->state == CLIENT_NEW)
			return FM_CONNECT_MAX;
		return c->version == MQTT_V5 ? c->w->lim.max_packet_size : 0;
	}
	uint32_t lim = c->w->lim.message_size_limit;
	uint32_t max = lim == 0 || lim > MQTT_MAX_REMAINING_LENGTH - 65536 ? 0 : lim + 65536 + 5;
	uint32_t packet_lim = c->w->lim.max_packet_size;
	if (packet_lim && (max == 0 || packet_lim < max))
		max = packet_lim; /* max_packet_size: what 5.0 clients are told in CONNACK */
	if (c->state == CLIENT_NEW && (max == 0 || max > FM_CONNECT_MAX))
		max = FM_CONNECT_MAX;
	return max;
}

/* The reason code a failed handler's DISCONNECT carries: the one it set,
 * else what its return code means. A DISCONNECT from the client (ECLOSED)
 * gets none back. */
static uint8_t close_rc_for(const struct client *c, int rc)
{
	if (rc == FM_ECLOSED)
		return 0;
	if (c->close_rc)
		return c->close_rc;
	switch (rc) {
	case FM_ETOOBIG: return MQTT_RC_PACKET_TOO_LARGE;
	case FM_ENOMEM: return MQTT_RC_UNSPECIFIED;
	default: return MQTT_RC_PROTOCOL_ERROR;
	}
}

/* Frame and dispatch every complete packet in p[0, len). Returns bytes
 * consumed, or -1 if the connection was closed. */
static ssize_t process(struct client *c, const uint8_t *p, size_t len)
{
	size_t done = 0;
	/* a pause (backpressure) takes effect at once: the packets after it
	 * stay unconsumed until the client is resumed */
	while (done < len && c->state != CLIENT_CLOSED && !c->read_paused && !c->connect_pending) {
		struct mqtt_frame f;
		size_t used;
		uint8_t reason = 0;
		int rc = mqtt_frame_parse(p + done, len - done, max_packet(c), &f, &used, &reason);
		if (rc == FM_EAGAIN)
			break;
		if (rc != FM_OK) {
			client_close_rc(c, reason, reason == MQTT_RC_PACKET_TOO_LARGE ? "packet too large"
										       : "malformed fixed header");
			return -1;
		}
		const char *why = NULL;
		c->close_rc = 0;
		c->last_rx_ms = (uint32_t)loop_now_ms(c->w->loop);
		rc = dispatch(c, &f, &why);
		if (rc == FM_EAGAIN)
			break; /* CONNECT waits for a handoff; it stays unconsumed */
		if (rc != FM_OK) {
			client_close_rc(c, close_rc_for(c, rc), why ? why : "protocol error");
			return -1;
		}
		counter_add(&c->w->stats.bytes_in, used);
		counter_inc(&c->w->stats.pkts_in);
		done += used;
	}
	return c->state == CLIENT_CLOSED ? -1 : (ssize_t)done;
}

/* Frame and dispatch what is buffered in c->in; keep what is left. */
static int process_buffered(struct client *c)
{
	ssize_t done = process(c, buf_head(&c->in), buf_used(&c->in));
	if (done < 0)
		return FM_ECLOSED;
	buf_consume(&c->in, (size_t)done);
	buf_shrink_if_empty(&c->in);
	return FM_OK;
}

/* Parse from wherever the bytes are: straight from the worker's scratch
 * buffer when nothing is pending (no copy), else appended to c->in. Only an
 * incomplete tail is kept per connection. */
static int consume_input(struct client *c, const uint8_t *p, size_t n)
{
	if (buf_used(&c->in) == 0) {
		ssize_t done = process(c, p, n);
		if (done < 0)
			return FM_ECLOSED;
		return buf_append(&c->in, p + done, n - (size_t)done);
	}
	if (buf_append(&c->in, p, n))
		return FM_ENOMEM;
	return process_buffered(c);
}

static void close_on_read_error(struct client *c, ssize_t rc)
{
	const char *why = conn_error(&c->conn);
	client_close(c, why ? why : rc == FM_ECLOSED ? "connection closed by peer" : "read error");
}

void client_drain_input(struct client *c)
{
	/* into c's own buffer, never the worker's scratch: the caller may be
	 * in the middle of parsing another client's bytes from it */
	size_t budget = FM_READ_BUDGET;
	while (budget > 0 && c->state != CLIENT_CLOSED && !c->read_paused && !c->connect_pending) {
		if (buf_reserve(&c->in, 16384) != FM_OK)
			return;
		ssize_t n = conn_read(&c->conn, buf_tail(&c->in), buf_room(&c->in));
		if (n == FM_EAGAIN)
			return;
		if (n < 0) {
			close_on_read_error(c, n);
			return;
		}
		c->in.len += (uint32_t)n;
		if (process_buffered(c) != FM_OK)
			return;
		budget -= (size_t)n > budget ? budget : (size_t)n;
	}
}

static void on_readable(struct client *c)
{
	size_t budget = FM_READ_BUDGET;
	while (budget > 0 && c->state != CLIENT_CLOSED && !c->read_paused && !c->connect_pending) {
		ssize_t n = conn_read(&c->conn, c->w->scratch, c->w->scratch_len);
		if (n == FM_EAGAIN) {
			/* a TLS handshake may need to write before it can read on */
			if (conn_wants_write(&c->conn))
				set_events(c, c->io.events | LOOP_WRITE);
			return;
		}
		if (n < 0) {
			close_on_read_error(c, n);
			return;
		}
		int rc = consume_input(c, c->w->scratch, (size_t)n);
		if (rc == FM_ENOMEM)
			client_close(c, "out of memory");
		if (rc != FM_OK || (size_t)n < c->w->scratch_len)
			return;
		budget -= (size_t)n > budget ? budget : (size_t)n;
	}
	/* out of budget: bytes the transport already took off the socket
	 * would get no readiness event, so come back for them */
	kick_pending(c);
}

/* Run the packets a pause left unconsumed in c->in. Deferred, never run
 * from inside another client's flush; a client closed meanwhile is skipped
 * (its deferred free runs after this task). */
static void process_pending(struct loop *lp, void *arg)
{
	(void)lp;
	struct client *c = arg;
	c->pending_task = false;
	if (c->state == CLIENT_CLOSED || c->read_paused || c->connect_pending)
		return;
	if (buf_used(&c->in) > 0 && process_buffered(c) != FM_OK)
		return;
	if (conn_pending(&c->conn))
		on_readable(c);
}

/* Run process_pending later if the transport holds bytes the socket will
 * not announce again (the rest of a TLS record) and reading may go on. */
static void kick_pending(struct client *c)
{
	if (c->state == CLIENT_CLOSED || c->read_paused || c->connect_pending || c->pending_task ||
	    !conn_pending(&c->conn))
		return;
	if (loop_defer(c->w->loop, process_pending, c) == FM_OK)
		c->pending_task = true;
}

static void resume_reading(struct client *pub)
{
	list_del(&pub->wait_link);
	pub->read_paused = false;
	if (!pub->connect_pending)
		set_events(pub, pub->io.events | LOOP_READ);
	if ((buf_used(&pub->in) > 0 || conn_pending(&pub->conn)) && !pub->pending_task &&
	    loop_defer(pub->w->loop, process_pending, pub) == FM_OK)
		pub->pending_task = true;
}

/* Our output is no longer saturated: let the publishers waiting on it read
 * again, here and on the other workers that asked to be told. */
static void wake_local_waiters(struct client *c)
{
	struct list *pos, *tmp;
	if (c->stall)
		list_foreach_safe(pos, tmp, &c->stall->waiters)
			resume_reading(list_entry(pos, struct client, wait_link));
}

static void wake_waiters(struct client *c)
{
	wake_local_waiters(c);
	struct session *s = c->session;
	if (!s || !atomic_load(&s->saturated))
		return;
	/* clear first, then collect the waiting workers: a publisher that sets
	 * its bit after this exchange re-checks the flag and sees it clear */
	atomic_store(&s->saturated, false);
	unsigned mask = atomic_exchange(&s->waiting_workers, 0);
	for (unsigned i = 0; mask; i++, mask >>= 1)
		if (mask & 1)
			worker_post_wake(&c->w->b->workers[i]);
}

static void mark_saturated(struct client *c)
{
	if (c->session && !atomic_load_explicit(&c->session->saturated, memory_order_relaxed))
		atomic_store(&c->session->saturated, true);
}

/* Write as much of c->out as the socket takes. Watches for writability only
 * while something is left. Above FM_OUT_HIGH the session is marked
 * saturated (publishers pause) and the stuck-consumer timer runs; below
 * FM_OUT_LOW the waiting publishers resume. */
static void flush(struct client *c)
{
	size_t writable;
	while ((writable = persist_writable(c, buf_used(&c->out))) > 0) {
		struct iovec iov = { .iov_base = buf_head(&c->out), .iov_len = writable };
		ssize_t n = conn_writev(&c->conn, &iov, 1);
		if (n == FM_EAGAIN)
			break;
		if (n < 0) {
			client_close(c, "write error");
			return;
		}
		counter_add(&c->w->stats.bytes_out, (uint64_t)n);
		c->bytes_written += (uint32_t)n;
		buf_consume(&c->out, (size_t)n);
	}
	unsigned want = c->read_paused || c->connect_pending ? 0 : LOOP_READ;
	/* output held for a store commit is not waited on with EPOLLOUT (it
	 * would fire at once, in a loop): the commit marks the client dirty */
	if (persist_writable(c, buf_used(&c->out)) > 0 || conn_wants_write(&c->conn))
		want |= LOOP_WRITE;
	else if (buf_used(&c->out) == 0)
		buf_shrink_if_empty(&c->out);
	set_events(c, want);
	client_update_pressure(c);
}

/* A session's queue counts as saturated from a quarter of
 * max_queued_messages (1000 when unlimited) and as drained again at an
 * eighth: the rest is headroom for what is already on its way when the
 * publishers pause (their last packets, deliveries in inboxes). */
static uint32_t queue_high(const struct client *c)
{
	uint32_t max = c->w->lim.session.max_queued;
	return max ? (max / 4 ? max / 4 : 1) : 1000;
}

/* Queued for the session: in memory and, past max_queued_in_memory, in
 * the store only (both hold the publishers back alike). */
static uint64_t queued_total(const struct session *s)
{
	return s->queued + (s->spill ? s->spill->count : 0);
}

/* A bridge's session (unbounded) does not hold publishers back for its
 * queue: after an outage its backlog lives in the store and drains at the
 * remote's pace, and the publishers feeding it must not wait for that. */
static bool queue_saturated(const struct client *c)
{
	return c->session && !c->lagging && !c->session->unbounded && queued_total(c->session) >= queue_high(c);
}

static bool queue_drained(const struct client *c)
{
	return !c->session || queued_total(c->session) <= queue_high(c) / 2;
}

static void arm_stall(struct client *c)
{
	c->stall->bytes_mark = c->bytes_written;
	c->stall->acks = 0;
	loop_timer_start(c->w->loop, &c->stall->timer, c->w->lim.slow_consumer_ms);
}

static void watch_stall(struct client *c)
{
	if (c->stall)
		return;
	c->stall = malloc(sizeof(*c->stall));
	if (!c->stall)
		return; /* out of memory: no stuck-consumer detection for now */
	c->stall->c = c;
	list_init(&c->stall->waiters);
	loop_timer_init(&c->stall->timer, on_stall_timer);
	arm_stall(c);
}

/* Saturation is over (or the client is closing): the publishers paused on
 * it read again, and the watch goes. */
static void unwatch_stall(struct client *c)
{
	if (!c->stall)
		return;
	wake_local_waiters(c);
	loop_timer_stop(c->w->loop, &c->stall->timer);
	free(c->stall);
	c->stall = NULL;
}

void client_count_ack(struct client *c)
{
	if (c->stall)
		c->stall->acks++; /* progress only matters while saturated */
}

void client_update_pressure(struct client *c)
{
	if (c->state == CLIENT_CLOSED)
		return;
	if (client_out_over(c, FM_OUT_HIGH) || queue_saturated(c)) {
		mark_saturated(c);
		watch_stall(c);
	} else if (buf_used(&c->out) < FM_OUT_LOW && queue_drained(c)) {
		c->lagging = false;
		unwatch_stall(c);
		wake_waiters(c);
	}
}

static void on_io(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)lp;
	struct client *c = list_entry(io, struct client, io);
	if ((events & LOOP_WRITE) && conn_wants_write(&c->conn))
		events |= LOOP_READ; /* the handshake goes on from the read side */
	if (events & LOOP_WRITE)
		flush(c);
	if (c->state != CLIENT_CLOSED && (events & (LOOP_READ | LOOP_HUP)))
		on_readable(c);
	if (c->state != CLIENT_CLOSED && (events & LOOP_HUP) && (c->read_paused || c->connect_pending))
		park_hung_up(c);
	if (c->state != CLIENT_CLOSED && (events & LOOP_HUP) && !(events & LOOP_READ))
		client_close(c, "connection reset");
}

void client_flush_dirty(struct worker *w)
{
	w->flush_pending = false; /* a task already deferred finds the list empty */
	struct list *pos, *tmp;
	list_foreach_safe(pos, tmp, &w->dirty) {
		struct client *c = list_entry(pos, struct client, dirty_link);
		list_del(&c->dirty_link);
		if (c->state != CLIENT_CLOSED)
			flush(c);
	}
}

static void flush_dirty(struct loop *lp, void *arg)
{
	(void)lp;
	client_flush_dirty(arg);
}

void client_mark_dirty(struct client *c)
{
	if (c->state == CLIENT_CLOSED)
		return;
	counter_inc(&c->w->stats.pkts_out);
	client_flush_soon(c);
}

void client_flush_soon(struct client *c)
{
	if (c->state == CLIENT_CLOSED || list_linked(&c->dirty_link))
		return;
	list_push_back(&c->w->dirty, &c->dirty_link);
	if (!c->w->flush_pending && loop_defer(c->w->loop, flush_dirty, c->w) == FM_OK)
		c->w->flush_pending = true;
}

void client_pause_for(struct client *publisher, struct client *target)
{
	if (!publisher || publisher == target || publisher->read_paused ||
	    publisher->state == CLIENT_CLOSED)
		return;
	/* A publisher that is itself not draining its output may be the reason
	 * the target cannot read; pausing it could deadlock both. */
	if (client_out_over(publisher, FM_OUT_HIGH))
		return;
	/* the waiters list lives with the stall watch, which a saturated
	 * target has (unless it could not be allocated: then no pause) */
	if (!target->stall)
		return;
	publisher->read_paused = true;
	list_push_back(&target->stall->waiters, &publisher->wait_link);
	set_events(publisher, publisher->io.events & ~LOOP_READ);
}

void client_pause(struct client *c)
{
	if (c->read_paused || c->state == CLIENT_CLOSED)
		return;
	c->read_paused = true;
	set_events(c, c->io.events & ~LOOP_READ);
}

void client_resume(struct client *c)
{
	if (c->read_paused && c->state != CLIENT_CLOSED)
		resume_reading(c);
}

void client_pause_for_remote(struct client *publisher, struct session *target)
{
	if (!publisher || publisher->read_paused || publisher->state == CLIENT_CLOSED ||
	    client_out_over(publisher, FM_OUT_HIGH))
		return;
	struct worker *w = publisher->w;
	/* bit first, then the re-check: the home clears its flag or lowers the
	 * backlog first and then collects the bits, so one of the two sides
	 * always sees the other */
	atomic_fetch_or(&target->waiting_workers, 1u << w->id);
	if (!atomic_load(&target->saturated) && atomic_load(&target->inbound) <= FM_INBOUND_HIGH)
		return; /* drained meanwhile; the wake we asked for is harmless */
	publisher->read_paused = true;
	list_push_back(&w->remote_waiters, &publisher->wait_link);
	set_events(publisher, publisher->io.events & ~LOOP_READ);
}

void client_wake_remote_waiters(struct worker *w)
{
	struct list *pos, *tmp;
	list_foreach_safe(pos, tmp, &w->remote_waiters)
		resume_reading(list_entry(pos, struct client, wait_link));
}

/* The client has been saturated for slow_consumer_timeout. Output not drained below
 * FM_OUT_LOW with not one byte written meanwhile: the reader is stuck; drop it, which
 * frees the publishers waiting on it and the memory its output holds. A
 * queue kept full with not one acknowledgement meanwhile: the client reads
 * but does not acknowledge; stop holding publishers back for it and let its
 * queue limit drop instead (until it drains). */
static void on_stall_timer(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct client *c = list_entry(t, struct client_stall, timer)->c;
	/* still above the low watermark: the output has not drained since it
	 * crossed the high one */
	if (buf_used(&c->out) >= FM_OUT_LOW) {
		if (c->bytes_written == c->stall->bytes_mark) {
			counter_inc(&c->w->stats.slow_consumers);
			client_close_rc(c, MQTT_RC_QUOTA_EXCEEDED, "slow consumer: output not draining");
			return;
		}
	} else if (queue_saturated(c)) {
		if (c->stall->acks == 0) {
			c->lagging = true;
			log_info(&c->w->b->log, "client %s acknowledges nothing: its queue limit applies", client_log_id(c));
			unwatch_stall(c);
			wake_waiters(c);
			return;
		}
	} else {
		/* drained without a flush noticing: release, or keep watching
		 * while the queue is still between its marks */
		client_update_pressure(c);
		if (!c->stall)
			return;
	}
	arm_stall(c);
}

static void free_client(struct loop *lp, void *arg)
{
	(void)lp;
	struct client *c = arg;
	conn_close(&c->conn);
	persist_client_free(c);
	alias_free(c);
	alias_out_free(c);
	ext_auth_free(c);
	free(c->v5);
	free(c->username);
	rate_free(c);
	buf_fini(&c->in);
	buf_fini(&c->out);
	free(c);
}

void client_close(struct client *c, const char *reason)
{
	if (c->state == CLIENT_CLOSED)
		return;
	struct broker *b = c->w->b;
	bool was_active = c->state == CLIENT_ACTIVE;
	/* closed first: the flush below may fail, and a failed write closes
	 * the client, which must then be the no-op above, not a recursion */
	c->state = CLIENT_CLOSED;
	if (c->outgoing)
		b->bridge_hooks->on_close(c, reason);
	/* Best effort: push out what is already queued (e.g. a CONNACK refusal). */
	if (buf_used(&c->out) > 0)
		flush(c);
	char peer[NET_ADDR_STRLEN];
	if (was_active || c->session)
		log_notice(&b->log, "client %s (%s) disconnected: %s", client_log_id(c),
			   net_addr_format(&c->conn.peer, peer, sizeof(peer)), reason);
	if (was_active) {
		counter_inc(&c->w->stats.disconnects_total);
		access_notify(c, FM_EVENT_DISCONNECT, reason);
	}
	else
		log_info(&b->log, "connection from %s closed: %s",
			 net_addr_format(&c->conn.peer, peer, sizeof(peer)), reason);
	conn_io_del(&c->conn, c->w->loop, &c->io);
	loop_timer_stop(c->w->loop, &c->timer);
	rate_stop(c);
	unwatch_stall(c);
	list_del(&c->dirty_link);
	list_del(&c->wait_link);
	wake_waiters(c);
	list_del(&c->link);
	c->w->n_clients--;
	if (c->listener) {
		atomic_fetch_sub(&b->n_clients, 1);
		atomic_fetch_sub(&b->listener_conns[c->listener->index], 1);
	}
	if (c->session)
		proto_session_detach(c);
	if (c->connect_pending)
		return; /* another worker holds c until its handoff comes back */
	if (persist_client_closing(c))
		return; /* store batches still name c: the last one frees it */
	client_free_later(c);
}

struct client_v5 *client_v5_get(struct client *c)
{
	if (!c->v5)
		c->v5 = calloc(1, sizeof(*c->v5));
	return c->v5;
}

/* What the client end of a bridge says when we close it: only the codes
 * a client may send (3.14.2.1 table); at shutdown 0x04, so that the
 * remote publishes our will (the bridge's "0" notification). 0: nothing. */
static uint8_t outgoing_rc(uint8_t rc)
{
	switch (rc) {
	case MQTT_RC_SERVER_SHUTTING_DOWN: return MQTT_RC_DISCONNECT_WITH_WILL;
	case 0x80: case 0x81: case 0x82: case 0x83: case 0x87: case 0x90: case 0x93: case 0x94:
	case 0x95: case 0x96: case 0x97: case 0x98: case 0x99: return rc;
	default: return 0;
	}
}

void client_close_rc(struct client *c, uint8_t rc, const char *reason)
{
	if (c->outgoing)
		rc = outgoing_rc(rc);
	if (c->state == CLIENT_ACTIVE && c->version == MQTT_V5 && (rc >= 0x80 || (c->outgoing && rc)))
		proto_send_disconnect(c, rc, reason);
	client_close(c, reason);
}

void client_free_later(struct client *c)
{
	if (c->w->stopped || loop_defer(c->w->loop, free_client, c) != FM_OK)
		free_client(c->w->loop, c); /* nothing else references c now */
}

void client_wait_handoff(struct client *c)
{
	c->connect_pending = true;
	set_events(c, c->io.events & ~(unsigned)LOOP_READ);
}

void client_handoff_done(struct client *c)
{
	c->connect_pending = false;
	if (c->state == CLIENT_CLOSED) {
		/* deferred: an event for it may still be in this iteration's batch */
		if (loop_defer(c->w->loop, free_client, c) != FM_OK)
			free_client(c->w->loop, c);
		return;
	}
	/* the CONNECT is still first in c->in: run it (and what followed) again */
	if (process_buffered(c) != FM_OK)
		return;
	if (!c->connect_pending) {
		set_events(c, (c->read_paused ? 0 : LOOP_READ) |
			       (persist_writable(c, buf_used(&c->out)) ? LOOP_WRITE : 0));
		kick_pending(c);
	}
}
