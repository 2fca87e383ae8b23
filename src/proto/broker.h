/* The broker: the state every protocol handler acts on, passed explicitly
 * (there is no global). One struct broker per process; worker-owned parts
 * (the loop, the client list, the output flush list) are grouped in struct
 * worker so the multi-core work can run N of them.
 *
 * Threading today: one worker, run on the main thread. */
#ifndef FM_PROTO_BROKER_H
#define FM_PROTO_BROKER_H

#include "config/conf.h"
#include "core/list.h"
#include "core/log.h"
#include "loop/loop.h"
#include "session/session.h"
#include "topic/topic.h"

#include <stdbool.h>
#include <stdint.h>

/* Output watermarks per connection. Above HIGH, publishers delivering to
 * this client stop being read until it drains below LOW; above HARD, QoS 0
 * deliveries are dropped and QoS 1/2 ones wait in the session queue (which
 * max_queued_messages/bytes bound), so output never grows without bound. */
#define FM_OUT_LOW (64u * 1024u)
#define FM_OUT_HIGH (1024u * 1024u)
#define FM_OUT_HARD (8u * 1024u * 1024u)
#define FM_STALL_MS 5000u

/* Bytes read from a socket per readiness event before moving on to others. */
#define FM_READ_BUDGET (256u * 1024u)

struct broker;

struct listener_rt {
	struct broker *b;
	const struct conf_listener *conf; /* in b->conf */
	int fd;
	unsigned port;                    /* bound port (ephemeral resolved) */
	uint32_t connections;             /* currently open on this listener */
};

struct broker_stats {
	uint64_t connects_total;
	uint64_t msgs_in;          /* PUBLISH received */
	uint64_t msgs_out;         /* PUBLISH sent */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t dropped_qos0;     /* output over FM_OUT_HARD */
	uint64_t slow_consumers;   /* closed for not reading their output */
	uint64_t dropped_queue;    /* session queue limits */
	uint64_t dropped_offline;  /* QoS 0 for offline sessions */
};

/* A routing target collected during one fan-out, de-duplicated by session. */
struct route_target {
	struct session *s;
	uint8_t qos;               /* highest granted QoS among matching filters */
};

struct worker {
	struct broker *b;
	struct loop *loop;
	struct list clients;       /* struct client, all connections of this worker */
	uint32_t n_clients;
	struct list dirty;         /* clients with output to flush this iteration */
	bool flush_pending;        /* a flush task is deferred */
	uint8_t *scratch;          /* read buffer shared by this worker's connections */
	size_t scratch_len;
};

struct broker {
	struct conf conf;          /* live config; reloadable fields change on SIGHUP */
	const char *conf_path;     /* NULL: embedded default */
	struct log log;
	struct worker worker;      /* the single worker for now */
	struct listener_rt *listeners;
	size_t n_listeners;
	uint32_t n_clients;        /* all connections (max_connections) */
	struct topic_tree *subs;
	struct retain_tree *retained;
	struct session_table *sessions;
	struct route_target *targets; /* fan-out scratch */
	uint32_t n_targets, cap_targets;
	uint64_t match_epoch;
	uint64_t client_seq;       /* for assigned client ids */
	uint64_t start_ms;         /* wall clock at start */
	bool stopping;
	int signal_fd;
	struct broker_stats stats;
};

/* Build the broker from a finished config (taken over: b owns it). Opens the
 * listeners. FM_OK or an fm_err with eb set. */
int broker_init(struct broker *b, struct conf *conf, const char *conf_path, struct fm_errbuf *eb);
/* Run until SIGINT/SIGTERM; SIGHUP reloads. Returns FM_OK on clean shutdown. */
int broker_run(struct broker *b);
void broker_fini(struct broker *b);

/* Limits for session queues as currently configured. */
struct session_limits broker_session_limits(const struct broker *b);

#endif
