/* One network connection speaking MQTT: its transport, buffers, timers and
 * the session attached once CONNECT succeeded.
 *
 * Life cycle: client_accept() -> NEW (connect timeout armed) -> CONNECT
 * accepted -> ACTIVE (keepalive armed) -> client_close() -> CLOSED, freed on
 * the loop's deferred queue after the current iteration, so no callback ever
 * touches freed memory (Redis's freeClientAsync idea).
 *
 * Output is appended to c->out and flushed once per loop iteration with
 * one writev per connection. */
#ifndef FM_PROTO_CLIENT_H
#define FM_PROTO_CLIENT_H

#include "core/buf.h"
#include "core/list.h"
#include "loop/loop.h"
#include "net/conn.h"
#include "proto/broker.h"

#include <stdbool.h>
#include <stdint.h>

enum client_state {
	CLIENT_NEW,      /* waiting for CONNECT */
	CLIENT_ACTIVE,   /* CONNECT accepted */
	CLIENT_CLOSED,   /* closed; waiting to be freed */
};

struct client {
	/* ordered to pack: every idle connection costs sizeof(struct client) */
	struct worker *w;         /* owner (and w->b, the broker) */
	struct listener_rt *listener;
	struct session *session;  /* attached session, NULL before CONNECT */
	struct client_stall *stall; /* while saturated only: the stuck-consumer watch and the publishers paused on it */
	struct client_acks *acks; /* acknowledgements waiting for the store (persist.c), lazily */
	struct client_v5 *v5;     /* 5.0 limits and aliases, only once a client declares or sets one */
	char *username;           /* from CONNECT or the TLS identity; NULL: anonymous; owned */
	struct client_rate *rate; /* max_publish_rate's bucket, once it publishes under a limit (rate.c) */
	struct conn conn;
	struct loop_io io;        /* registration with the worker's loop */
	struct buf in;            /* bytes of an incomplete packet */
	struct buf out;           /* bytes waiting to be written */
	struct loop_timer timer;  /* connect timeout, then keepalive */
	uint32_t last_rx_ms;      /* loop time of the last packet received, mod 2^32: idle
				   * times are differences, and a keepalive (at most 27 h)
				   * is far below the 49 days it takes to wrap */
	uint32_t bytes_written;   /* progress marker (wraps; compared for change only) */
	struct list link;         /* worker->clients */
	struct list dirty_link;   /* worker->dirty while output is pending */
	struct list wait_link;    /* in a target's waiters while paused */
	uint8_t state;            /* enum client_state */
	uint8_t version;          /* protocol level from CONNECT */
	uint16_t keepalive_s;
	uint16_t receive_max_in;  /* 5.0: the Receive Maximum its CONNACK announced; 0: none (65535) */
	uint8_t close_rc;         /* 5.0 reason code for the DISCONNECT a failing handler asks for */
	bool read_paused : 1;     /* backpressure: not reading */
	bool connect_pending : 1; /* CONNECT waits for a session from another worker */
	bool pending_task : 1;    /* process_pending is deferred for c->in */
	bool will_on_close : 1;   /* publish the will if we close (not after DISCONNECT) */
	bool lagging : 1;         /* holds a full queue without acking: no backpressure for it */
	bool problem_info : 1;    /* 5.0 Request Problem Information (reason strings wanted) */
	bool outgoing : 1;        /* we opened it to another broker (a bridge): listener is NULL */
	bool peer_bridge : 1;     /* its CONNECT said it is a bridge (try_private): no echo, retain kept */
};

/* What a 5.0 client declared or set that most connections never do, in an
 * allocation of its own so that the others pay a pointer for it. */
struct client_v5 {
	uint32_t max_packet_out;        /* its Maximum Packet Size; 0: none */
	uint16_t receive_max;           /* its Receive Maximum; 0: none below 65535 */
	struct topic_aliases *aliases;  /* Topic Aliases it set (alias.c) */
	struct alias_out *aliases_out;  /* Topic Aliases we send it (alias_out.c) */
	struct ext_auth *auth;          /* its enhanced authentication (ext_auth.c) */
	uint8_t qos_cap;                /* a bridge's remote's Maximum QoS (CONNACK) + 1; 0: none */
};

/* c's 5.0 state, allocated on first use; NULL on ENOMEM. */
struct client_v5 *client_v5_get(struct client *c);
/* The client's Receive Maximum (0: none below the spec's 65535). */
static inline uint16_t client_receive_max(const struct client *c)
{
	return c->v5 ? c->v5->receive_max : 0;
}
/* The client's Maximum Packet Size (0: none declared). */
static inline uint32_t client_max_packet(const struct client *c)
{
	return c->v5 ? c->v5->max_packet_out : 0;
}

/* The client id for log lines: its session's, or "?" before CONNECT. */
static inline const char *client_log_id(const struct client *c)
{
	return c->session ? c->session->client_id : "?";
}

/* Take over an accepted socket. FM_OK or an fm_err (fd closed on error). */
int client_accept(struct worker *w, struct listener_rt *l, int fd, const struct net_addr *peer);
/* Take over a WebSocket connection that finished its upgrade (net/ws.h's
 * on_open). FM_OK or FM_ENOMEM (the caller closes it). */
struct ws_stream;
int client_accept_ws(struct worker *w, struct listener_rt *l, struct ws_stream *s, const struct net_addr *peer);
/* Take over a socket we connected to another broker (a bridge: the
 * worker's bridge_hooks drive its client end): TLS as the client of host
 * when tls is set, else plain TCP. NEW until its CONNACK is taken, which
 * must come within connect_timeout. *out: the client. FM_OK, or FM_ENOMEM
 * (fd closed). */
struct tls_client;
int client_open_outgoing(struct worker *w, int fd, const struct net_addr *peer, struct tls_client *tls,
			 const char *host, struct client **out);

/* Close the connection: unregister, detach the session (publishing the will
 * if will_on_close), and free after this loop iteration. reason is logged.
 * Idempotent. After this call c is still valid memory until the deferred free. */
void client_close(struct client *c, const char *reason);
/* Close with a 5.0 reason code: a 5.0 client whose CONNECT was accepted
 * is sent DISCONNECT with rc first (and the reason as Reason String when
 * it asked for problem information) [MQTT-4.13.2-1]; others just close. */
void client_close_rc(struct client *c, uint8_t rc, const char *reason);

/* Free a closed client after this iteration (or now, once its worker has
 * stopped): for the store's completion of its last batch. */
void client_free_later(struct client *c);

/* Process what c has already sent but we have not read yet (its last
 * acknowledgements, a DISCONNECT) before c is taken over and closed. */
void client_drain_input(struct client *c);

/* The worker that owns c (fixed for c's life; safe to read anywhere). */
static inline struct worker *client_worker(const struct client *c) { return c->w; }

/* c's CONNECT needs a session homed on another worker: stop reading until
 * client_handoff_done(). The CONNECT stays unconsumed in c->in. */
void client_wait_handoff(struct client *c);

/* The session c's CONNECT waited for was handed over (or ended): run the
 * CONNECT again, now locally; a client closed meanwhile is freed instead.
 * Called on c's worker, or single-threaded at the final drain. */
void client_handoff_done(struct client *c);

/* One packet was just appended to c->out: count it (pkts_out, $SYS
 * messages/sent) and flush at the end of this iteration. Every encoder
 * call site ends with it, which is why the count lives here. */
void client_mark_dirty(struct client *c);
/* Output already in c->out may go now (a store hold lifted): flush at the
 * end of this iteration without counting a packet. */
void client_flush_soon(struct client *c);
/* Write every connection of w with pending output now (the end of the
 * iteration does it anyway). */
void client_flush_dirty(struct worker *w);
static inline bool client_out_over(const struct client *c, size_t limit) { return buf_used(&c->out) > limit; }

/* Backpressure: publisher stops reading until target drains below FM_OUT_LOW.
 * A client whose output stays above FM_OUT_HIGH without one byte written
 * for slow_consumer_timeout is a stuck consumer and is closed, so one dead reader can
 * neither stall the publishers it shares with everyone else nor hold
 * memory. */
void client_pause_for(struct client *publisher, struct client *target);

/* Re-evaluate whether c is saturated (output above FM_OUT_HIGH, or its
 * session's queue past half its limit): mark it so publishers pause, or,
 * once drained, let them go. Called after writes, queueing and acks. */
void client_update_pressure(struct client *c);
/* Stop reading c (its unread packets stay where they are) / read again. */
void client_pause(struct client *c);
void client_resume(struct client *c);
/* A PUBACK/PUBCOMP arrived: progress for the stuck-consumer watch. */
void client_count_ack(struct client *c);

/* Backpressure across workers: target (homed elsewhere) is saturated, so
 * publisher stops reading until target's home worker says it drained
 * (worker WAKE message, then client_wake_remote_waiters). */
void client_pause_for_remote(struct client *publisher, struct session *target);
void client_wake_remote_waiters(struct worker *w);

/* Start keepalive supervision (1.5 x keepalive) after CONNECT [MQTT-3.1.2-24]. */
void client_start_keepalive(struct client *c);

#endif
