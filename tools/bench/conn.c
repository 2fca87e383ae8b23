/* The bench's event loop and MQTT client connections (edge-triggered
 * epoll, one buffer each way per connection). With --tls the same buffers
 * hold plaintext and tls.c sits between them and the socket: the
 * handshake is stepped by whichever readiness event comes (it never
 * blocks), and the queued CONNECT goes out once it is done. */
#include "bench.h"

#include "fleetmq/errors.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_fail(struct bench_run *r, const char *fmt, ...)
{
	if (r->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->failed = true;
}

const char *bench_conn_error(const struct bconn *c, int err)
{
	const char *tls = bench_tls_error(c);
	if (tls)
		return tls;
	return err ? strerror(err) : NULL;
}

/* A connection failed with err (0: orderly close by the peer). Before the
 * CONNACK that usually means no broker listens there: say so. */
static void conn_failed(struct bench_run *r, struct bconn *c, int err)
{
	if (r->on_conn_lost) {
		r->on_conn_lost(r, c, err);
		return;
	}
	const char *tls = bench_tls_error(c);
	if (tls)
		bench_fail(r, "connection %u to %s:%u: %s", c->index, r->o->host, r->o->port, tls);
	else if (!c->connected && err)
		bench_fail(r, "cannot connect to %s:%u: %s (is the broker running?)", r->o->host, r->o->port,
			   strerror(err));
	else if (!c->connected)
		bench_fail(r, "connection %u to %s:%u closed by the broker before its CONNACK", c->index,
			   r->o->host, r->o->port);
	else if (err)
		bench_fail(r, "connection %u: %s", c->index, strerror(err));
	else
		bench_fail(r, "connection %u closed by the broker", c->index);
}

/* A TLS step failed with rc (an fm_err); tls.c has the words for it. */
static void tls_failed(struct bench_run *r, struct bconn *c, ssize_t rc)
{
	conn_failed(r, c, rc == FM_ECLOSED ? 0 : EPROTO);
}

/* Step c's handshake; true once it is established. */
static bool tls_ready(struct bench_run *r, struct bconn *c)
{
	int rc = bench_tls_handshake(r->tls, c, &r->tls_stats);
	if (rc == FM_OK)
		return true;
	if (rc != FM_EAGAIN)
		tls_failed(r, c, rc);
	return false;
}

/* Nothing of c->out goes out before the handshake is done. After the
 * handshake completes here (a write event) nothing can wait unread: the
 * broker says nothing before our CONNECT, which goes out now. A slot
 * closed earlier in the same event (its read side failed, or a callback
 * ended the cycle) has nothing to step: stepping it would fail it twice. */
static void flush_tls(struct bench_run *r, struct bconn *c)
{
	if (c->fd < 0 || !tls_ready(r, c))
		return;
	while (buf_used(&c->out) > 0) {
		ssize_t n = bench_tls_write(c, buf_head(&c->out), buf_used(&c->out));
		if (n == FM_EAGAIN)
			return;
		if (n < 0) {
			tls_failed(r, c, n);
			return;
		}
		buf_consume(&c->out, (size_t)n);
	}
}

static void flush(struct bench_run *r, struct bconn *c)
{
	if (c->tls) {
		flush_tls(r, c);
		return;
	}
	while (buf_used(&c->out) > 0) {
		ssize_t n = send(c->fd, buf_head(&c->out), buf_used(&c->out), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_failed(r, c, n < 0 ? errno : 0);
			return;
		}
		buf_consume(&c->out, (size_t)n);
	}
}

/* Many connections from one source address to one port make the kernel
 * search ever longer for a free ephemeral port; spreading them over
 * 127.0.0.1-127.0.0.16 (all loopback) keeps connect() cheap. The port is
 * still chosen at connect time (IP_BIND_ADDRESS_NO_PORT). */
#define SOURCE_ADDRESSES 16

static void spread_source(struct bconn *c)
{
	int one = 1;
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	struct sockaddr_in src = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK + c->index % SOURCE_ADDRESSES)};
	bind(c->fd, (struct sockaddr *)&src, sizeof(src)); /* best effort */
}

static int open_socket(struct bench_run *r, struct bconn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->o->port)};
	if (inet_pton(AF_INET, r->o->host, &a.sin_addr) != 1) {
		bench_fail(r, "--host must be an IPv4 address, got '%s'", r->o->host);
		return FM_EINVAL;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		bench_fail(r, "socket: %s (raise the open files limit?)", strerror(errno));
		return FM_EIO;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	spread_source(c);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		bench_fail(r, "connect to %s:%u: %s", r->o->host, r->o->port, strerror(errno));
		return FM_EIO;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = c->index};
	epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev);
	return FM_OK;
}

static bool all_connected(struct bench_run *r)
{
	return r->n_connected == r->n;
}

/* Connections still waiting for their CONNACK at any time: enough to keep
 * the broker busy, few enough not to overflow the kernel's SYN and accept
 * queues (net.ipv4.tcp_max_syn_backlog, net.core.somaxconn), which would
 * measure retransmission timers instead of the broker. */
#define CONNECTS_IN_FLIGHT 512
/* A full TLS handshake costs both sides milliseconds of CPU (mbedtls'
 * P-256), so 512 at once would queue each for seconds, past a broker's
 * handshake timeout (fleetmq: connect_timeout, 10 s). 64 keep the broker
 * busy and each handshake's wait well under a second. */
#define TLS_CONNECTS_IN_FLIGHT 64

struct opening {
	const char *prefix;
	uint32_t opened;
};

static struct opening opening; /* one bench_open at a time */

int bench_connect(struct bench_run *r, struct bconn *c, const char *client_id, bool clean)
{
	/* a reused slot starts from scratch: nothing of the previous
	 * connection may be parsed or sent on the new one */
	buf_consume(&c->in, buf_used(&c->in));
	buf_consume(&c->out, buf_used(&c->out));
	c->connected = c->subscribed = false;
	if (open_socket(r, c) != FM_OK)
		return FM_EIO;
	char err[200];
	if (r->tls && bench_tls_start(r->tls, c, err, sizeof(err)) != FM_OK) {
		bench_fail(r, "%s", err);
		return FM_EIO;
	}
	struct mqtt_connect ct = {.version = MQTT_V311, .clean_start = clean, .keepalive_s = 300,
				  .client_id = {client_id, (uint16_t)strlen(client_id)}};
	mqtt_encode_connect(&c->out, &ct);
	return FM_OK;
}

void bench_hangup(struct bench_run *r, struct bconn *c)
{
	(void)r;
	if (c->fd >= 0)
		close(c->fd); /* also removes it from the epoll set */
	c->fd = -1;
	buf_consume(&c->out, buf_used(&c->out)); /* nothing left for flush() to send */
}

void bench_disconnect(struct bench_run *r, struct bconn *c)
{
	/* two bytes into an idle socket's empty send buffer: flush sends them
	 * at once; should it not, the close alone still ends the connection */
	mqtt_encode_empty(&c->out, MQTT_DISCONNECT);
	flush(r, c);
	bench_tls_close_notify(c); /* as a TLS client closes: one more record */
	bench_hangup(r, c);
}

static int open_one(struct bench_run *r, uint32_t i)
{
	char id[64];
	snprintf(id, sizeof(id), "%s-%u-%d", opening.prefix, i, (int)getpid());
	bool persistent = i >= r->persistent_first && i - r->persistent_first < r->persistent_n;
	return bench_connect(r, &r->conns[i], id, !persistent);
}

static void open_more(struct bench_run *r)
{
	uint32_t in_flight = r->tls ? TLS_CONNECTS_IN_FLIGHT : CONNECTS_IN_FLIGHT;
	while (opening.opened < r->n && opening.opened - r->n_connected < in_flight)
		if (open_one(r, opening.opened++) != FM_OK)
			return;
}

int bench_alloc(struct bench_run *r, uint32_t n)
{
	char err[256];
	if (r->o->tls_cafile && bench_tls_new(r->o, &r->tls, err, sizeof(err)) != FM_OK) {
		bench_fail(r, "%s", err);
		return FM_EINVAL;
	}
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->conns = calloc(n, sizeof(*r->conns));
	if (r->epfd < 0 || !r->conns)
		return FM_ENOMEM;
	r->n = n;
	for (uint32_t i = 0; i < n; i++) {
		r->conns[i].index = i;
		r->conns[i].fd = -1;
		buf_init(&r->conns[i].in);
		buf_init(&r->conns[i].out);
	}
	return FM_OK;
}

int bench_open(struct bench_run *r, uint32_t n, const char *prefix)
{
	if (bench_alloc(r, n) != FM_OK)
		return FM_ENOMEM;
	opening = (struct opening){.prefix = prefix};
	void (*saved)(struct bench_run *) = r->pump;
	r->pump = open_more;
	bool ok = bench_poll(r, 60000, all_connected);
	r->pump = saved;
	return ok ? FM_OK : FM_EIO;
}

void bench_close(struct bench_run *r)
{
	for (uint32_t i = 0; r->conns && i < r->n; i++) {
		struct bconn *c = &r->conns[i];
		if (c->fd >= 0)
			close(c->fd);
		buf_fini(&c->in);
		buf_fini(&c->out);
		free(c->next_seq);
		free(c->ack_wait_ns);
		bench_tls_conn_free(c);
	}
	bench_tls_free(r->tls);
	r->tls = NULL;
	free(r->conns);
	free(r->latencies_ns);
	if (r->epfd >= 0)
		close(r->epfd);
	r->conns = NULL;
}

int bench_subscribe(struct bench_run *r, struct bconn *c, const char *filter, uint8_t qos)
{
	struct mqtt_sub_entry e = {.filter = {filter, (uint16_t)strlen(filter)}, .options = qos};
	mqtt_encode_subscribe(&c->out, MQTT_V311, 1, &e, 1);
	flush(r, c);
	return FM_OK;
}

/* Queue p (its packet id is assigned here for QoS 1/2). */
static uint16_t queue_publish(struct bconn *c, struct mqtt_publish *p, uint64_t now)
{
	if (p->qos) {
		p->packet_id = ++c->next_pid ? c->next_pid : ++c->next_pid;
		c->inflight++;
		if (c->ack_wait_ns)
			c->ack_wait_ns[p->packet_id] = now;
	}
	mqtt_encode_publish(&c->out, MQTT_V311, p);
	c->sent++;
	return p->packet_id;
}

/* Queue p and send what the socket takes. */
static uint16_t send_publish(struct bench_run *r, struct bconn *c, struct mqtt_publish *p, uint64_t now)
{
	uint16_t pid = queue_publish(c, p, now);
	flush(r, c);
	return pid;
}

/* Queue one sequenced PUBLISH on c without sending it. */
static uint16_t queue_with_header(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos,
				  bool retain, uint32_t seq)
{
	uint8_t payload[65536];
	uint32_t size = r->o->size < BENCH_HEADER ? BENCH_HEADER : r->o->size;
	if (size > sizeof(payload))
		size = sizeof(payload);
	uint64_t now = bench_now_ns();
	memcpy(payload, &c->index, 4);
	memcpy(payload + 4, &seq, 4);
	memcpy(payload + 8, &now, 8);
	memset(payload + BENCH_HEADER, 'x', size - BENCH_HEADER);
	struct mqtt_publish p = {.qos = qos, .retain = retain, .topic = {topic, (uint16_t)strlen(topic)},
				 .payload = {payload, size}};
	return queue_publish(c, &p, now);
}

uint16_t bench_publish(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos, uint32_t seq)
{
	uint16_t pid = queue_with_header(r, c, topic, qos, false, seq);
	flush(r, c);
	return pid;
}

uint16_t bench_publish_retained(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos, uint32_t seq)
{
	uint16_t pid = queue_with_header(r, c, topic, qos, true, seq);
	flush(r, c);
	return pid;
}

/* A QoS 0 publisher keeps at most this much queued in the generator. */
#define QOS0_OUT_LIMIT (64u * 1024u)
/* Refills of one publisher per pump, so that one fast socket does not
 * keep the others waiting. */
#define PUMP_ROUNDS 4

/* Publish c's next messages on TOPIC_PREFIX/INDEX, numbered by c->sent,
 * up to msgs in all: as
 * many as fit (QoS 0: QOS0_OUT_LIMIT bytes queued; QoS 1/2: window
 * unacknowledged), written with one send per refill rather than one per
 * message. A device fleet's publishers each send little, but here a few
 * connections stand for many, and a send per message made the generator,
 * not the broker, the bottleneck of the fan-in runs. */
void bench_pump_publisher(struct bench_run *r, struct bconn *c, const char *topic_prefix, uint32_t msgs)
{
	const struct bench_opts *o = r->o;
	if (c->sent >= msgs || (o->qos == 0 ? buf_used(&c->out) >= QOS0_OUT_LIMIT : c->inflight >= o->window))
		return; /* the common case while the broker catches up: no formatting */
	char topic[96];
	snprintf(topic, sizeof(topic), "%s/%u", topic_prefix, c->index);
	for (int round = 0; round < PUMP_ROUNDS && c->sent < msgs && c->fd >= 0; round++) {
		uint32_t queued = 0;
		while (c->sent < msgs) {
			if (o->qos == 0 ? buf_used(&c->out) >= QOS0_OUT_LIMIT : c->inflight >= o->window)
				break;
			queue_with_header(r, c, topic, o->qos, false, c->sent);
			queued++;
		}
		if (!queued)
			break; /* full: EPOLLOUT or an acknowledgement sends the rest */
		flush(r, c);
		if (buf_used(&c->out) > 0 || (o->qos && c->inflight >= o->window))
			break; /* the socket is full, or the window is: wait for the loop */
	}
}

uint16_t bench_clear_retained(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos)
{
	struct mqtt_publish p = {.qos = qos, .retain = true, .topic = {topic, (uint16_t)strlen(topic)}};
	return send_publish(r, c, &p, bench_now_ns());
}

static void send_ack(struct bench_run *r, struct bconn *c, uint8_t type, uint16_t pid)
{
	mqtt_encode_ack(&c->out, MQTT_V311, &(struct mqtt_ack){.type = type, .packet_id = pid});
	(void)r;
}

static void record_latency(struct bench_run *r, uint64_t ns)
{
	if (r->n_latencies == r->cap_latencies) {
		uint64_t cap = r->cap_latencies ? r->cap_latencies * 2 : 4096;
		uint64_t *v = realloc(r->latencies_ns, cap * sizeof(*v));
		if (!v)
			return;
		r->latencies_ns = v;
		r->cap_latencies = cap;
	}
	r->latencies_ns[r->n_latencies++] = ns;
}

/* Check (publisher, sequence) against what this subscriber saw before. */
static void check_sequence(struct bench_run *r, struct bconn *c, const struct mqtt_publish *p)
{
	if (p->payload.len < BENCH_HEADER)
		return;
	uint32_t pub, seq;
	uint64_t sent;
	memcpy(&pub, p->payload.p, 4);
	memcpy(&seq, p->payload.p + 4, 4);
	memcpy(&sent, p->payload.p + 8, 8);
	record_latency(r, bench_now_ns() - sent);
	c->received++;
	if (!c->next_seq || pub >= r->n_publishers)
		return;
	uint32_t *next = &c->next_seq[pub];
	if (seq == *next) {
		(*next)++;
	} else if (seq > *next) {
		c->lost += seq - *next; /* provisional: a later arrival counts as reordered */
		*next = seq + 1;
	} else if (p->dup) {
		c->dups++;
	} else {
		c->reordered++;
		if (c->lost)
			c->lost--;
	}
}

static void on_packet(struct bench_run *r, struct bconn *c, const struct mqtt_frame *f)
{
	uint8_t reason;
	struct mqtt_ack a;
	switch (f->type) {
	case MQTT_CONNACK:
		if (r->on_connack) {
			uint8_t code = f->remaining_len >= 2 ? f->body[1] : 255;
			bool session_present = f->remaining_len >= 1 && (f->body[0] & 1);
			r->on_connack(r, c, code, session_present);
			break;
		}
		if (f->remaining_len < 2 || f->body[1] != 0)
			bench_fail(r, "connection %u refused (CONNACK %u)", c->index, f->remaining_len >= 2 ? f->body[1] : 255);
		if (!c->connected)
			r->n_connected++;
		c->connected = true;
		break;
	case MQTT_SUBACK:
		/* one filter per SUBSCRIBE here: 0x80 refuses it [MQTT-3.9.3-2] */
		if (f->remaining_len >= 3 && f->body[2] == 0x80)
			bench_fail(r, "connection %u: the broker refused the subscription (SUBACK 0x80)", c->index);
		c->subscribed = true;
		break;
	case MQTT_PUBLISH: {
		struct mqtt_publish p;
		if (mqtt_decode_publish(f, MQTT_V311, &p, &reason) != FM_OK) {
			bench_fail(r, "undecodable PUBLISH");
			return;
		}
		check_sequence(r, c, &p);
		if (p.qos == 1)
			send_ack(r, c, MQTT_PUBACK, p.packet_id);
		else if (p.qos == 2)
			send_ack(r, c, MQTT_PUBREC, p.packet_id);
		if (r->on_publish)
			r->on_publish(r, c, &p);
		break;
	}
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBACK:
	case MQTT_PUBCOMP:
		if (mqtt_decode_ack(f, MQTT_V311, &a, &reason) != FM_OK)
			return;
		if (f->type == MQTT_PUBREC) {
			send_ack(r, c, MQTT_PUBREL, a.packet_id);
		} else if (f->type == MQTT_PUBREL) {
			send_ack(r, c, MQTT_PUBCOMP, a.packet_id);
		} else {
			c->inflight--;
			c->acked++;
			if (r->on_ack)
				r->on_ack(r, c, f->type, a.packet_id);
		}
		break;
	default:
		break;
	}
}

/* Everything the socket has into c->in; false when reading failed. A
 * close or error after data is left in *closed_err (-1: none) for the
 * caller to report once that data is handled: a refusal's CONNACK comes
 * just before the broker closes, and says more than the close. */
static bool read_tcp(struct bconn *c, int *closed_err)
{
	for (;;) {
		if (buf_reserve(&c->in, 65536) != FM_OK)
			return false;
		ssize_t n = recv(c->fd, buf_tail(&c->in), buf_room(&c->in), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0) {
			*closed_err = n < 0 ? errno : 0;
			return true;
		}
		c->in.len += (size_t)n;
	}
}

/* The same through TLS, stepping the handshake first. mbedtls takes one
 * record at a time off the socket and may hold plaintext of it; reading
 * until WANT_READ, which it answers only with nothing held, leaves no
 * bytes where the edge-triggered socket would not report them again. */
static bool read_tls(struct bench_run *r, struct bconn *c)
{
	if (!tls_ready(r, c))
		return false;
	for (;;) {
		if (buf_reserve(&c->in, 65536) != FM_OK)
			return false;
		ssize_t n = bench_tls_read(c, buf_tail(&c->in), buf_room(&c->in));
		if (n == FM_EAGAIN)
			break;
		if (n < 0) {
			tls_failed(r, c, n);
			return false;
		}
		c->in.len += (size_t)n;
	}
	assert(bench_tls_buffered(c) == 0);
	return true;
}

static void on_readable(struct bench_run *r, struct bconn *c)
{
	int closed_err = -1;
	if (!(c->tls ? read_tls(r, c) : read_tcp(c, &closed_err)))
		return;
	for (;;) {
		struct mqtt_frame f;
		size_t used;
		uint8_t reason;
		int rc = mqtt_frame_parse(buf_head(&c->in), buf_used(&c->in), 0, &f, &used, &reason);
		if (rc == FM_EAGAIN)
			break;
		if (rc != FM_OK) {
			bench_fail(r, "connection %u: malformed packet from the broker", c->index);
			return;
		}
		on_packet(r, c, &f);
		buf_consume(&c->in, used);
		if (c->fd < 0)
			return; /* a callback closed it (churn): the rest was for the old connection */
	}
	if (closed_err >= 0) {
		if (!r->failed)
			conn_failed(r, c, closed_err);
		return;
	}
	flush(r, c);
}

bool bench_poll(struct bench_run *r, int timeout_ms, bool (*done)(struct bench_run *r))
{
	uint64_t until = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct epoll_event evs[256];
	while (!r->failed) {
		if (done(r))
			return true;
		uint64_t now = bench_now_ns();
		if (now > r->deadline_ns) {
			bench_fail(r, "--duration-limit (%g s) reached before the run completed", r->o->time_limit_s);
			r->timed_out = true;
			break;
		}
		if (now > until) {
			bench_fail(r, "no answer from the broker within %d ms", timeout_ms);
			r->timed_out = true;
			break;
		}
		if (r->pump)
			r->pump(r);
		int n = epoll_wait(r->epfd, evs, 256, 1);
		for (int i = 0; i < n; i++) {
			struct bconn *c = &r->conns[evs[i].data.u32];
			if (c->fd < 0)
				continue; /* closed by a callback earlier in this batch */
			if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
				int err = 0;
				socklen_t len = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				conn_failed(r, c, err ? err : ECONNRESET);
				/* edge-triggered: the batch's other events would not
				 * come again, and with on_conn_lost the run goes on */
				continue;
			}
			if (evs[i].events & EPOLLIN)
				on_readable(r, c);
			if (evs[i].events & EPOLLOUT)
				flush(r, c);
		}
	}
	return false;
}
