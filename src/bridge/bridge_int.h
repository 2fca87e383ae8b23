/* Inside the bridge layer: one struct bridge per `connection` block, the
 * link to the remote (bridge_link.c), the MQTT client end
 * (bridge_proto.c), the local session (bridge_session.c) and the topic
 * remapping (bridge_map.c). */
#ifndef FM_BRIDGE_BRIDGE_INT_H
#define FM_BRIDGE_BRIDGE_INT_H

#include "bridge/bridge.h"
#include "config/conf.h"
#include "core/buf.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "proto/broker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

struct client;
struct session;
struct tls_client;

/* The socket addresses one configured address resolved to, tried in
 * order (a name may have an IPv6 and an IPv4 address, say). */
#define BRIDGE_ADDRS_MAX 4
struct bridge_addrs {
	struct sockaddr_storage ss[BRIDGE_ADDRS_MAX];
	socklen_t len[BRIDGE_ADDRS_MAX];
	int family[BRIDGE_ADDRS_MAX];
	unsigned n, next;
};

struct bridge_resolver;

/* One topic line, with its two whole filters built once. */
struct bridge_topic {
	const struct conf_bridge_topic *conf;
	char *local_filter;       /* local_prefix + pattern; owned */
	char *remote_filter;      /* remote_prefix + pattern; owned */
	size_t local_prefix_len, remote_prefix_len;
};

struct bridge {
	struct broker *b;
	const struct conf_bridge *conf; /* in b->conf, fixed after start */
	struct worker *w;         /* home: its loop runs everything below */
	struct bridge_topic *topics;
	size_t n_topics;
	struct session *session;  /* our local session (a reference), NULL until set up */
	struct client *c;         /* the connection to the remote, NULL while down */
	struct tls_client *tls;   /* client TLS context; NULL for plain TCP */
	struct bridge_addrs addrs; /* what the address being tried resolved to */
	struct bridge_resolver *resolver; /* for host names, once one was asked for */
	bool resolving;           /* waiting for the resolver's answer */
	int fd;                   /* a TCP connect in progress, else -1 */
	struct loop_io io;        /* its registration */
	struct loop_timer retry;  /* backoff, or a connect taking too long */
	struct loop_timer tick;   /* once a second: ping, lazy start, idle, status */
	struct bridge_addrs primary; /* what the first address last resolved to (n 0: never) */
	int probe_fd;             /* round_robin false, on a later address: a connect to the first, else -1 */
	struct loop_io probe_io;
	struct loop_timer probe;  /* the next probe, or the one in progress taking too long */
	size_t addr_idx;          /* the address tried next */
	unsigned failures;        /* attempts failed in a row (backoff) */
	uint32_t since_ping_s;    /* seconds since the last PINGREQ */
	uint32_t idle_s;          /* seconds without a PUBLISH either way (lazy) */
	uint64_t seen_traffic;    /* sent + received at the last tick */
	uint32_t sys_s;           /* seconds since $SYS values went out */
	char sys_sent[5][160];    /* last $SYS texts, published on change */
	bool stopping;            /* the worker is stopping: no reconnect */
	bool idle_closing;        /* a lazy bridge is leaving on purpose (not an error) */
	bool remote_retain;       /* the remote takes RETAIN (5.0 Retain Available) */
	struct buf topic_buf;     /* the topic a map_in/map_out wrote */
	/* read by other threads (HTTP API) */
	_Atomic uint8_t state;    /* enum bridge_state */
	_Atomic uint64_t connects, sent, received, queued, inflight, since_ms;
	pthread_mutex_t text_lock; /* for the two strings below */
	char last_error[160];
	char address[NET_ADDR_STRLEN];
};

struct bridges {
	struct bridge *v;
	size_t n;
};

static inline struct bridges *bridges_of(const struct broker *b) { return b->bridges; }

/* The bridge whose connection c is (c->outgoing), or NULL. */
struct bridge *bridge_of_client(const struct broker *b, const struct client *c);

/* Record why the link failed or closed, for the API and $SYS (any thread reads). */
void bridge_set_error(struct bridge *br, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bridge_set_state(struct bridge *br, enum bridge_state st);

/* --- bridge_map.c: topics ------------------------------------------------- */

/* Build br->topics from the config. FM_OK or FM_ENOMEM. */
int bridge_topics_build(struct bridge *br);
void bridge_topics_free(struct bridge *br);
/* The remote topic for a local one leaving on an out/both topic line
 * (written to out), or false if no line takes it. */
bool bridge_map_topic_out(const struct bridge *br, const char *topic, size_t len, struct buf *out);
/* The local topic for a remote one arriving on an in/both line. */
bool bridge_map_topic_in(const struct bridge *br, const char *topic, size_t len, struct buf *out);

/* --- bridge_session.c: the local session ------------------------------ */

/* Find or make the bridge's persistent local session on its home worker
 * (w's thread) with exactly the configured out subscriptions. FM_OK or
 * FM_ENOMEM / FM_EDENIED (the client id is held elsewhere). */
int bridge_session_setup(struct bridge *br);
/* Messages waiting for the remote (queued in memory and in the store). */
uint64_t bridge_session_queued(const struct bridge *br);
/* On a connect where the remote has no session of ours (new, or it lost
 * its state), as mosquitto does on every connect: the local retained
 * messages each out-only line matches go to the remote, retained, so a
 * remote that lost them has them again. Not over "both" lines, where a
 * retained message may have come from the remote and an old copy would
 * overwrite a newer value there; not where RETAIN is not sent. */
void bridge_session_send_retained(struct bridge *br);

/* --- bridge_link.c: the TCP/TLS link ------------------------------------ */

/* Ready the link's timer (w's thread, before anything else). */
void bridge_link_init(struct bridge *br);
/* Start connecting to the next address (w's thread). */
void bridge_link_start(struct bridge *br);
/* The link went down (a failed attempt, or a connection that closed):
 * arrange the next attempt as start_type and restart_timeout say. */
void bridge_link_down(struct bridge *br, bool was_connected);
/* Stop timers and any connect in progress (worker stopping). */
void bridge_link_stop(struct bridge *br);
/* The MQTT link is up (CONNACK taken): with round_robin false on any
 * address but the first, probe the first every restart_timeout BASE, and
 * go back to it once it takes a TCP connection, as mosquitto does. */
void bridge_link_connected(struct bridge *br);

/* The resolver's answer for the address being tried (w's thread): err
 * NULL and the addresses, or why the name did not resolve. */
void bridge_link_resolved(struct bridge *br, const char *err, const struct bridge_addrs *addrs);

/* --- bridge_resolve.c: host names off the worker ---------------------- */

/* Resolve host:port into out (blocking; numeric_only: literals only, which
 * never wait). 0 or a getaddrinfo error code (EAI_NONAME: not a literal). */
int bridge_addrs_fill(struct bridge_addrs *out, const char *host, uint16_t port, bool numeric_only);
/* Ask br's resolver thread (started on first use) for a; the answer comes
 * to bridge_link_resolved on br's worker. FM_OK or FM_ENOMEM. */
int bridge_resolve_ask(struct bridge *br, const struct conf_bridge_address *a);
/* Drop the answer to the request in flight, if any. */
void bridge_resolve_cancel(struct bridge *br);
/* The worker is stopping: no answer is taken any more. */
void bridge_resolve_stop(struct bridge *br);
/* After the workers stopped: end the thread (waiting for a lookup still
 * running) and free the resolver. */
void bridge_resolve_fini(struct bridge *br);

/* --- bridge_proto.c: the client end ------------------------------------ */

/* The TCP connect is done: a client takes the socket (TLS on top when
 * configured) and sends CONNECT. */
void bridge_proto_open(struct bridge *br, int fd, const struct net_addr *peer);
/* Leave the remote on purpose (DISCONNECT, the remote told "0" where
 * notifications are on), saying why in the log, not as an error. */
void bridge_proto_leave(struct bridge *br, const char *why);
/* Once a second on the home worker. */
void bridge_proto_tick(struct bridge *br);

/* --- bridge.c ------------------------------------------------------------ */

/* Start the bridges homed on w / stop them (the hooks of those names). */
void bridges_worker_started(struct worker *w);
void bridges_worker_stopping(struct worker *w);

extern const struct bridge_hooks bridge_hooks;

#endif
