/* libFuzzer target: whole client connections through the real protocol
 * layer (client.c's framing and dispatch, CONNECT and sessions, PUBLISH
 * and its QoS flows, SUBSCRIBE, wills, topic aliases, the 5.0 limits,
 * AUTH), not only the codec as fuzz_decode does.
 *
 * Two brokers are built once per process, each with one worker whose
 * loop this file drives on the fuzzer's thread (loop_run_once, never
 * waiting; no thread of the broker's runs) and no store: broker 0 with
 * the defaults, the test EXT_AUTH plugin when the build names it
 * (FUZZ_AUTH_PLUGIN) and retained messages; broker 1 with tight limits
 * and an ACL file. Each
 * client is one end of a socketpair handed to the broker the way its
 * listener hands on an accepted socket (listener_hand_on); the harness
 * writes the client's bytes into the other end and reads and discards
 * what the broker answers.
 *
 * Input: a knob byte, then segments separated by FUZZ_SPLIT. A segment's
 * first byte names its client (bits 0-1, modulo FUZZ_CLIENTS); once the
 * rest of the segment is written, bit 7 closes that client's socket and
 * bit 6 moves the worker's clock ahead (loop_advance) by ADVANCE_MS[bits
 * 4-5], so timers fire: keepalive, connect timeout, the stuck-consumer
 * watch, rate limits, will delays, session expiry. A client is connected
 * when a segment first names it, and again when one names it after its
 * socket closed (a reconnect: session resume, takeover, wills). Segments
 * are written in order, so the input decides how the clients' packets
 * interleave. The knobs:
 *   bit 0     which broker
 *   bits 1-3  chunk size (CHUNKS): a segment is written in pieces of this
 *             many bytes, the loop running until quiet after each (0: whole)
 *   bit 4     the sockets still open at the end close last to first
 *   bit 5     client 0 reads nothing (a stuck subscriber)
 *   bit 6     small socket buffers (partial writes, output backlog)
 * After the sockets close, a day passes on the worker's clock, every
 * session left (persistent ones, 5.0 session expiry) is ended and the
 * retained messages dropped, and the broker must then hold no client,
 * session or subscription: whatever an input did, the next starts from
 * the same empty broker. */
#include "proto/broker.h"
#include "proto/client.h"
#include "proto/proto.h"
#include "proto/proxy_wait.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CLIENTS 3
#define FUZZ_SPLIT "|FM|"
/* Loop iterations one settle may take: a broker that is still busy after
 * this many has a livelock, which is a finding. */
#define SETTLE_MAX 100000

static const size_t CHUNKS[8] = { 0, 1, 2, 3, 5, 16, 64, 512 };
/* Past a rate limit's next token, the stuck-consumer watch (5 s), keepalive
 * and connect timeouts, and everything. */
#define DAY_MS (24u * 3600u * 1000u)
static const uint64_t ADVANCE_MS[4] = { 1000, 6000, 100000, DAY_MS };

/* Common to both brokers: no store, one worker, no $SYS, silent. The
 * listener is never connected to (the harness hands sockets on itself);
 * it exists because a client belongs to one. */
static const char CONF_COMMON[] = "persistence false\nworkers 1\nsys_interval 0\n"
				  "allow_anonymous true\nlistener 0 127.0.0.1\n";
/* The broker's log, silent unless FUZZ_SESSION_LOG is set (to see what an
 * input does: FUZZ_SESSION_LOG=1 replay_session INPUT). */
static const char CONF_QUIET[] = "log_dest none\n";
static const char CONF_LOUD[] = "log_dest stderr\nlog_type all\n";
/* Broker 1: every limit small enough for a short input to reach it. */
static const char CONF_TIGHT[] = "max_inflight_messages 2\nmax_queued_messages 4\nmax_queued_bytes 600\n"
				 "max_topic_alias 3\nmax_packet_size 1024\nmessage_size_limit 200\n"
				 "max_keepalive 120\nmax_subscriptions 6\nmax_topic_levels 5\n"
				 "max_publish_rate 10\nretain_available false\n";
static const char ACL_TIGHT[] = "topic readwrite a/#\ntopic read r/#\ntopic write w/#\ntopic deny a/secret\n"
				"pattern readwrite c/%c/#\npattern read u/%u/+\n"
				"user alice\ntopic readwrite #\n";

static struct broker brokers[2];
static bool brokers_ready;

/* The harness's end of one client's socketpair. */
struct peer {
	int fd;            /* -1: not connected, or closed (by us, or after the broker's EOF) */
	bool deaf;         /* reads nothing */
	bool small;        /* small socket buffers */
};

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_session: %s\n", what);
	abort();
}

/* --- the brokers, once per process --------------------------------------- */

/* The ACL as a file (the broker reads it at start only), removed again. */
static char *write_acl(char *path, size_t len)
{
	snprintf(path, len, "/tmp/fuzz_session_acl_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, ACL_TIGHT, strlen(ACL_TIGHT)) != (ssize_t)strlen(ACL_TIGHT))
		fail("cannot write the ACL file");
	close(fd);
	return path;
}

static void open_broker(struct broker *b, const char *extra, const char *acl_path, const char *plugin)
{
	struct conf c;
	struct fm_errbuf eb = { { 0 } };
	char text[1024];
	snprintf(text, sizeof(text), "%s%s%s%s%s\n%s%s\n", CONF_COMMON, getenv("FUZZ_SESSION_LOG") ? CONF_LOUD : CONF_QUIET,
		 extra, acl_path ? "acl_file " : "", acl_path ? acl_path : "", plugin ? "plugin " : "",
		 plugin ? plugin : "");
	conf_init(&c);
	int rc = conf_load_string(&c, "fuzz_session", text, &eb);
	if (rc == FM_OK)
		rc = conf_finish(&c, &eb);
	if (rc == FM_OK)
		rc = broker_init(b, &c, NULL, &eb);
	else
		conf_fini(&c);
	if (rc != FM_OK)
		fail(eb.msg);
}

static void close_brokers(void)
{
	for (size_t i = 0; i < 2; i++)
		broker_fini(&brokers[i]);
}

static void open_brokers(void)
{
	if (brokers_ready)
		return;
	brokers_ready = true;
	/* broker_init blocks SIGINT, SIGTERM and SIGHUP for its control
	 * loop, which never runs here: libFuzzer's own handlers should see
	 * them, so the mask goes back to what it was */
	sigset_t mask;
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
#ifdef FUZZ_AUTH_PLUGIN
	open_broker(&brokers[0], "", NULL, FUZZ_AUTH_PLUGIN);
#else
	open_broker(&brokers[0], "", NULL, NULL);
#endif
	char acl[64];
	open_broker(&brokers[1], CONF_TIGHT, write_acl(acl, sizeof(acl)), NULL);
	unlink(acl);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	atexit(close_brokers); /* so the leak check sees what the broker still holds */
}

/* --- driving one worker ------------------------------------------------- */

/* Read and discard what the broker wrote to each peer; a peer the broker
 * closed is closed here too. True if anything was read. */
static bool drain_peers(struct peer *peers, size_t n)
{
	static uint8_t sink[65536];
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		struct peer *p = &peers[i];
		while (p->fd >= 0 && !p->deaf) {
			ssize_t k = recv(p->fd, sink, sizeof(sink), 0);
			if (k > 0) {
				any = true;
				continue;
			}
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			close(p->fd); /* EOF or reset: the broker closed it */
			p->fd = -1;
		}
	}
	return any;
}

/* Run the worker's loop until two iterations in a row find nothing to do
 * (no event, nothing for the peers to read). */
static void settle(struct worker *w, struct peer *peers, size_t n)
{
	unsigned idle = 0;
	for (unsigned i = 0; idle < 2; i++) {
		if (i == SETTLE_MAX)
			fail("the broker's loop never went quiet");
		int rc = loop_run_once(w->loop);
		if (rc < 0)
			fail("loop_run_once failed");
		bool read = drain_peers(peers, n);
		idle = rc > 0 || read ? 0 : idle + 1;
	}
}

static void connect_peer(struct worker *w, struct peer *p, size_t i)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		fail("socketpair failed");
	if (p->small) {
		int size = 4096;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	struct net_addr peer = { .family = AF_INET, .port = (uint16_t)(50000 + i), .ip = { 127, 0, 0, 1 } };
	p->fd = sv[1];
	if (listener_hand_on(&w->listeners[0], sv[0], &peer) != FM_OK)
		fail("the broker did not take the connection");
}

/* Write a segment to its client, chunk bytes at a time (0: all at once),
 * settling after each write; then close its socket and move the clock if
 * it says so. Gives up the rest when the broker stops reading the client
 * (backpressure, a rate limit) or closes it. */
static void write_segment(struct worker *w, struct peer *peers, const uint8_t *seg, size_t seg_len, size_t chunk)
{
	size_t i = (size_t)(seg[0] & 3) % FUZZ_CLIENTS;
	const uint8_t *p = seg + 1;
	size_t len = seg_len - 1;
	struct peer *pr = &peers[i];
	if (pr->fd < 0)
		connect_peer(w, pr, i);
	size_t sent = 0;
	unsigned full = 0; /* writes in a row the socket took nothing of */
	while (sent < len && pr->fd >= 0 && full < 2) {
		size_t want = len - sent;
		if (chunk && want > chunk)
			want = chunk;
		ssize_t k = send(pr->fd, p + sent, want, MSG_NOSIGNAL);
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			break; /* the broker closed it */
		sent += k > 0 ? (size_t)k : 0;
		full = k > 0 ? 0 : full + 1;
		settle(w, peers, FUZZ_CLIENTS);
	}
	if ((seg[0] & 0x80) && pr->fd >= 0) {
		close(pr->fd);
		pr->fd = -1;
		settle(w, peers, FUZZ_CLIENTS);
	}
	if (seg[0] & 0x40) {
		loop_advance(w->loop, ADVANCE_MS[(seg[0] >> 4) & 3]);
		settle(w, peers, FUZZ_CLIENTS);
	}
}

/* --- leaving no state ------------------------------------------------------ */

struct session_list {
	struct session **v;
	size_t n, cap;
};

static void collect_session(struct session *s, void *arg)
{
	struct session_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct session **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			fail("out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = session_ref(s);
}

/* End every session still in the table (all offline by now), as their
 * expiry would: delayed wills go out, queues are released. */
static void end_sessions(struct broker *b, struct worker *w)
{
	struct session_list l = { 0 };
	struct session_walk walk;
	bool regrown = false;
	pthread_mutex_lock(&b->sessions_lock);
	session_walk_begin(b->sessions, &walk);
	while (session_walk_step(b->sessions, &walk, 64, collect_session, &l, &regrown))
		;
	pthread_mutex_unlock(&b->sessions_lock);
	for (size_t i = 0; i < l.n; i++) {
		if (!atomic_load(&l.v[i]->dead))
			proto_session_end(w, l.v[i]);
		session_unref(l.v[i]);
	}
	free(l.v);
}

static void drop_retained(struct broker *b)
{
	pthread_rwlock_wrlock(&b->retained_lock);
	retain_tree_free(b->retained);
	b->retained = retain_tree_new(route_retained_unref, route_retained_size);
	pthread_rwlock_unlock(&b->retained_lock);
	if (!b->retained)
		fail("out of memory");
}

static void check_empty(struct broker *b, struct worker *w)
{
	if (w->n_clients != 0 || atomic_load(&b->n_clients) != 0 || !list_empty(&w->clients))
		fail("a connection outlived its socket");
	if (session_table_count(b->sessions) != 0)
		fail("a session outlived its end");
	if (topic_tree_count(b->subs) != 0 || share_table_count(b->shares) != 0)
		fail("a subscription outlived its session");
	if (!list_empty(&w->dirty) || !list_empty(&w->remote_waiters))
		fail("a closed connection is still listed");
}

/* --- the input ----------------------------------------------------------- */

/* The next segment of in[0, len) into *seg: bytes up to FUZZ_SPLIT or the
 * end. Returns the bytes consumed (the separator too), 0 at the end. */
static size_t next_segment(const uint8_t *in, size_t len, const uint8_t **seg, size_t *seg_len)
{
	const size_t sl = sizeof(FUZZ_SPLIT) - 1;
	if (len == 0)
		return 0;
	const uint8_t *cut = memmem(in, len, FUZZ_SPLIT, sl);
	*seg = in;
	*seg_len = cut ? (size_t)(cut - in) : len;
	return cut ? *seg_len + sl : len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	open_brokers();
	uint8_t knobs = data[0];
	struct broker *b = &brokers[knobs & 1];
	struct worker *w = &b->workers[0];
	struct peer peers[FUZZ_CLIENTS];
	for (size_t i = 0; i < FUZZ_CLIENTS; i++)
		peers[i] = (struct peer){ .fd = -1, .deaf = i == 0 && (knobs & 0x20), .small = knobs & 0x40 };
	size_t chunk = CHUNKS[(knobs >> 1) & 7];
	const uint8_t *seg;
	size_t seg_len;
	for (size_t off = 1, used; (used = next_segment(data + off, size - off, &seg, &seg_len)) > 0; off += used) {
		if (seg_len > 0)
			write_segment(w, peers, seg, seg_len, chunk);
	}
	for (size_t k = 0; k < FUZZ_CLIENTS; k++) {
		struct peer *p = &peers[knobs & 0x10 ? FUZZ_CLIENTS - 1 - k : k];
		if (p->fd < 0)
			continue;
		close(p->fd);
		p->fd = -1;
		settle(w, peers, FUZZ_CLIENTS);
	}
	loop_advance(w->loop, DAY_MS);
	settle(w, peers, FUZZ_CLIENTS);
	end_sessions(b, w);
	settle(w, peers, FUZZ_CLIENTS);
	drop_retained(b);
	check_empty(b, w);
	return 0;
}
