/* Bridges: mosquitto's `connection` blocks. Each bridge is a client of a
 * remote broker and a session of ours:
 *
 *   - out topics are subscriptions of the bridge's persistent local
 *     session, so what is headed out queues in that session (and, QoS 1
 *     and 2, in the durable store) while the remote is unreachable, and
 *     goes out in order once it is back, after a restart too;
 *   - in topics are subscriptions on the remote; what it sends is
 *     published here as the bridge's session;
 *   - the connection to the remote is a struct client opened by us
 *     (client_open_outgoing): PUBLISH and its acknowledgements run through
 *     the same code as for any client; the client end (CONNECT, CONNACK,
 *     SUBSCRIBE, PINGREQ) and the topic remapping are here, behind
 *     proto's bridge_hooks.
 *
 * A bridge lives on one worker (its session's home) and runs on that
 * worker's loop; other threads read its status through atomics. */
#ifndef FM_BRIDGE_BRIDGE_H
#define FM_BRIDGE_BRIDGE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;

enum bridge_state {
	BRIDGE_IDLE,        /* lazy: waiting for messages to send */
	BRIDGE_CONNECTING,  /* TCP (and TLS) connect in progress */
	BRIDGE_HANDSHAKE,   /* CONNECT sent, waiting for CONNACK */
	BRIDGE_CONNECTED,
	BRIDGE_BACKOFF,     /* waiting restart_timeout before the next attempt */
	BRIDGE_STOPPED,     /* start_type once, after its connection ended */
};

const char *bridge_state_name(enum bridge_state st);

/* Set up the bridges of b->conf (after broker_init, before broker_run):
 * TLS contexts, topic tables, the hooks. They connect once their worker
 * runs. FM_OK, or an fm_err with eb set (a bad TLS file, a bad topic). */
int bridges_init(struct broker *b, struct fm_errbuf *eb);
/* After broker_run: release them. */
void bridges_fini(struct broker *b);

/* A snapshot of one bridge for the HTTP API and metrics (any thread). */
struct bridge_status {
	const char *name;          /* the config's; valid while the broker lives */
	const char *remote_clientid;
	const char *local_clientid;
	enum bridge_state state;
	uint64_t connects;         /* CONNACKs received */
	uint64_t sent, received;   /* PUBLISH packets to / from the remote */
	uint64_t queued, inflight; /* waiting for the remote / sent and not yet acknowledged */
	uint64_t connected_since_ms; /* wall clock; 0 while not connected */
	char address[64];          /* the remote address in use or last tried */
	char last_error[160];      /* "" if none */
};

size_t bridges_count(const struct broker *b);
/* Fill *out for bridge i (< bridges_count). */
void bridges_status(const struct broker *b, size_t i, struct bridge_status *out);

#endif
