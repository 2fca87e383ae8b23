/* The broker: the state every protocol handler acts on, passed explicitly
 * (there is no global). One struct broker per process.
 *
 * Threading: N workers (`workers`, default one per core), each a thread
 * with its own loop, listening sockets, connections and the sessions homed
 * there. Shared between them: the subscription tree and the retained tree
 * (read-mostly, rwlocks), the session table (mutex, CONNECT and session end
 * only). Everything else crosses threads as messages (worker.h). The main
 * thread runs the control loop: signals, reload, shutdown. */
#ifndef FM_PROTO_BROKER_H
#define FM_PROTO_BROKER_H

#include "config/conf.h"
#include "core/buf.h"
#include "core/list.h"
#include "core/log.h"
#include "loop/inbox.h"
#include "loop/loop.h"
#include "core/histogram.h"
#include "proto/stats.h"
#include "session/session.h"
#include "topic/topic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Output watermarks per connection. Above HIGH, publishers delivering to
 * this client stop being read until it drains below LOW; above
 * max_output_buffer (worker_limits.max_output, at least twice HIGH), QoS 0
 * deliveries are dropped and QoS 1/2 ones wait in the session queue (which
 * max_queued_messages/bytes bound), so output never grows without bound.
 * A client saturated for slow_consumer_timeout without one byte written is
 * closed (client.c). */
#define FM_OUT_LOW (64u * 1024u)
#define FM_OUT_HIGH (1024u * 1024u)
_Static_assert(CONF_OUTPUT_BUFFER_MIN >= 2 * FM_OUT_HIGH, "max_output_buffer must stay above FM_OUT_HIGH");
/* Retained messages sent on subscribe must all go [MQTT-3.3.1-6]: at QoS 0
 * they may fill the output up to this instead (a wildcard over a large
 * retained set is one burst, answered at once like mosquitto does); past
 * it they are dropped and counted, so one subscriber cannot take unbounded
 * memory. Pacing them as the output drains is the better answer to come. */
#define FM_OUT_RETAINED_BURST (256u * 1024u * 1024u)
/* Deliveries to one session waiting in its home worker's inbox above which
 * the session counts as saturated (publishers on other workers pause). */
#define FM_INBOUND_HIGH 256u

/* Bytes read from a socket per readiness event before moving on to others. */
#define FM_READ_BUDGET (256u * 1024u)

/* Workers per broker: a session's waiting_workers mask has one bit each. */
#define WORKER_MAX 32

struct broker;
struct worker;
struct deliver_batch;
struct persist_batch;
struct store;
struct ws_host;
struct auth_rules;
struct plugin_host;
struct sys_topics;

/* A TLS listener's server context (net/tls.h), shared by every worker's
 * socket of that listener. A SIGHUP swaps in one built from the re-read
 * files; each connection holds a reference to the one it started with. */
struct tls_slot {
	pthread_mutex_t lock;
	struct tls_server *srv;           /* NULL: the listener is plain TCP */
};

/* One listening socket of one worker: every worker has its own socket per
 * configured listener (SO_REUSEPORT), so the kernel spreads connections. */
struct listener_rt {
	struct broker *b;
	struct worker *w;
	const struct conf_listener *conf; /* in b->conf */
	struct tls_slot *tls;             /* in b->tls; NULL for a plain listener */
	size_t index;                     /* in b->conf.listeners */
	struct loop_io io;
	int fd;
	unsigned port;                    /* bound port (ephemeral resolved) */
	struct loop_timer resume;         /* accept failed for want of resources: watched again then (accept.c) */
	uint64_t refused;                 /* connections refused since refused_logged_ms for want of descriptors */
	uint64_t refused_logged_ms;       /* when that was last logged; 0: never */
};

/* A routing target collected during one fan-out, de-duplicated by session. */
struct route_target {
	struct session *s;
	struct worker *home;       /* s's home when matched */
	uint8_t qos;               /* highest granted QoS among matching filters (| DELIVER_RETAIN) */
	bool shared;               /* a shared group's pick: its own copy, never merged */
	uint32_t sub_id;           /* 5.0 subscription identifier of the matching filter; 0: none */
};

/* The reloadable limits a worker applies on its hot paths. Each worker has
 * its own copy, replaced by a message from the control thread on SIGHUP, so
 * a reload never races with a worker reading them. */
struct worker_limits {
	struct session_limits session;
	uint32_t message_size_limit;
	uint32_t max_packet_size;   /* whole packets from clients; 0 = MQTT maximum */
	uint32_t connect_timeout_s;
	uint16_t max_topic_alias;
	uint32_t max_subscriptions; /* per client; 0 = unlimited */
	uint32_t max_topic_levels;  /* 0 = unlimited */
	uint32_t max_topic_length;  /* bytes; 0 = unlimited (MQTT's 65535) */
	uint32_t max_output;        /* max_output_buffer: QoS 0 to a client with more waiting is dropped */
	uint32_t slow_consumer_ms;  /* saturated this long with nothing written: closed */
	uint32_t max_publish_rate;  /* PUBLISH per second per client; 0 = unlimited */
	uint16_t max_keepalive;
	bool retain_available;
	uint64_t session_expiry_s;  /* persistent_client_expiration; 0 = never */
	uint32_t sys_interval_s;    /* $SYS publishing period (worker 0 uses it); 0 = off */
	struct auth_rules *auth;    /* password and ACL files; a reference each copy holds */
	unsigned gen;               /* which reload these are (0: the start) */
};

/* Connections the broker opens itself, to other brokers (bridges,
 * src/bridge). They use the client machinery for everything both ends of
 * MQTT share: PUBLISH and its acknowledgements, the session with its
 * queue, inflight window and store records. What only the client end
 * does is asked of these hooks, which the bridge layer sets before the
 * workers start. Each runs on the connection's worker. */
struct client;
struct mqtt_frame;
struct mqtt_publish;
struct worker;
struct bridge_hooks {
	/* A packet other than PUBLISH and its acknowledgements: CONNACK (the
	 * connection is NEW until it is taken), SUBACK, UNSUBACK, PINGRESP,
	 * DISCONNECT, AUTH, or one the remote may not send. FM_OK, or an
	 * fm_err with *why (the connection closes). */
	int (*on_packet)(struct client *c, const struct mqtt_frame *f, const char **why);
	/* A PUBLISH from the remote: rewrite pub->topic to the local topic
	 * (into storage of the bridge's own); false: no bridge topic takes
	 * it, so it is acknowledged and dropped. */
	bool (*map_in)(struct client *c, struct mqtt_publish *pub);
	/* A PUBLISH going to the remote: rewrite its topic and RETAIN flag
	 * (the topic into storage of the bridge's own); false: no bridge topic
	 * maps it, so it must not go. sending: it is being sent (counted), not
	 * just measured. */
	bool (*map_out)(struct client *c, struct mqtt_publish *pub, bool sending);
	/* c is closing (its session still attached); reason for the log. */
	void (*on_close)(struct client *c, const char *reason);
	/* The worker's loop starts / is about to stop (its thread). */
	void (*worker_started)(struct worker *w);
	void (*worker_stopping)(struct worker *w);
};

struct worker {
	struct broker *b;
	unsigned id;
	pthread_t thread;
	bool started;
	struct loop *loop;
	struct inbox inbox;        /* messages from other workers and the control thread */
	struct listener_rt *listeners; /* one per configured listener */
	struct ws_host *ws;        /* WebSocket listeners' libwebsockets host; NULL without any */
	struct list clients;       /* struct client, all connections of this worker */
	uint32_t n_clients;
	struct list dirty;         /* clients with output to flush this iteration */
	struct list remote_waiters; /* publishers paused on sessions homed elsewhere */
	bool flush_pending;        /* a flush task is deferred */
	int spare_fd;              /* held to refuse connections when out of descriptors (accept.c) */
	uint8_t *scratch;          /* read buffer shared by this worker's connections */
	size_t scratch_len;
	struct buf props_scratch;  /* 5.0 properties being built (one message or delivery at a time) */
	struct route_target *targets; /* fan-out scratch */
	uint32_t n_targets, cap_targets;
	/* deliveries to sessions homed on other workers, collected during an
	 * iteration and posted once at its end: one batch per destination */
	struct deliver_batch *outbox[WORKER_MAX];
	bool outbox_pending;       /* a flush task is deferred */
	struct deliver_batch *spare; /* emptied batches ready for reuse (owner only) */
	_Atomic(struct deliver_batch *) returned; /* batches handed back by their consumers */
	struct persist_batch *store_cur;   /* store operations of this iteration */
	struct persist_batch *store_spare; /* applied batches ready for reuse */
	uint64_t store_ticket;     /* batches created, numbering them */
	uint64_t store_failed_through; /* batches up to this ticket count as failed */
	bool stopped;              /* its thread ended: free directly, nothing runs deferred tasks */
	struct worker_limits lim;
	atomic_uint lim_gen;       /* the reload whose limits are in force here (lim.gen, for the control thread) */
	struct broker_stats stats; /* written by this worker only; any thread reads (stats.h) */
	struct histogram delivery_latency; /* a message's making to its first send here (deliver.c) */
	uint32_t latency_tick;     /* deliveries counted for sampling delivery_latency */
	struct sys_topics *sys;    /* worker 0 only, while sys_interval > 0: the $SYS publisher */
	int rc;                    /* what its loop returned */
};

struct broker {
	struct conf conf;          /* live config; the control thread changes reloadable fields */
	pthread_rwlock_t conf_lock; /* readers: workers at CONNECT; writer: reload */
	const char *conf_path;     /* NULL: embedded default */
	struct log log;
	struct worker *workers;
	unsigned n_workers;
	atomic_uint *listener_conns; /* open connections per configured listener */
	_Atomic uint64_t *listener_accepted; /* connections each listener accepted */
	_Atomic uint64_t *listener_peak;     /* most open on each at once */
	struct tls_slot *tls;      /* per configured listener (tls_listeners.c) */
	struct auth_rules *auth;   /* the password and ACL files in force (control thread's reference) */
	struct plugin_host *plugins; /* loaded at start, read-only after (auth/plugin_host.h) */
	unsigned reload_gen;       /* reloads so far (control thread) */
	struct loop_timer plugin_tick; /* FM_EVENT_TICK, once a second, while a plugin wants it */
	atomic_bool over_memory;   /* RSS above memory_limit: refuse connections, drop QoS 0 (memory.c) */
	struct loop_timer memory_timer; /* the control thread's RSS sample */
	_Atomic uint64_t memory_limit; /* in force: memory_limit or its automatic default (memory.c); the HTTP thread reads it */
	atomic_uint n_clients;     /* all connections (max_connections) */
	atomic_uint n_pending;     /* sockets not yet clients: in a PROXY wait or a WebSocket upgrade (accept.c) */
	atomic_uint *listener_pending; /* the same per configured listener */
	_Atomic uint64_t peak_clients; /* most connections open at once (counter_peak at accept) */
	struct topic_tree *subs;   /* shared, read-mostly: */
	struct share_table *shares; /* shared subscription groups (in subs too), under subs_lock */
	pthread_rwlock_t subs_lock;
	struct retain_tree *retained;
	pthread_rwlock_t retained_lock;
	struct session_table *sessions;
	pthread_mutex_t sessions_lock;
	struct store *store;       /* durable store; NULL with durability memory */
	bool store_acks_wait;      /* durability full: acknowledge after the commit */
	atomic_ullong store_fail_run; /* failed batches (any worker) since one went through */
	atomic_ullong store_fail_logged_ms; /* when that run was last logged */
	atomic_ullong next_msg_id; /* ids for the store's message log */
	atomic_ullong client_seq;  /* for assigned client ids */
	uint64_t start_ms;         /* wall clock at start */
	atomic_bool running;       /* the workers run and the broker is not stopping (readiness) */
	/* No worker runs its loop (accepts, routes) before every worker has
	 * run its start hooks: a lazy bridge's subscriptions, for one, must be
	 * in the tree before a client on another worker publishes. */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned started_hooks;    /* workers whose start hooks ran */
	bool start_open;           /* all ran, or starting failed: loops may run */
	/* called on the control thread when the broker starts stopping, before
	 * the workers do (main.c stops the HTTP server there) */
	void (*on_stopping)(struct broker *b, void *arg);
	void *on_stopping_arg;
	const struct bridge_hooks *bridge_hooks; /* NULL: no bridges */
	void *bridges;             /* the bridge layer's state (src/bridge) */
	struct loop *control;      /* main thread: signals */
	struct loop_io signal_io;
	int signal_fd;
	bool locks_ready;
};

/* Build the broker from a finished config (taken over: b owns it). Opens the
 * listeners. FM_OK or an fm_err with eb set. */
int broker_init(struct broker *b, struct conf *conf, const char *conf_path, struct fm_errbuf *eb);
/* Run until SIGINT/SIGTERM; SIGHUP reloads. Returns FM_OK on clean shutdown. */
int broker_run(struct broker *b);
void broker_fini(struct broker *b);

/* Seconds since the broker started (wall clock; any thread). */
uint32_t broker_uptime_s(const struct broker *b);

/* The current reloadable limits from b->conf (caller holds conf_lock),
 * with b->auth (no reference taken: whoever hands the copy to a worker
 * takes one). */
struct worker_limits broker_limits(const struct broker *b);

/* memory_limit (memory.c): while one is in force (by default 90 % of the
 * memory the process may use), sample the broker's RSS once a second on the
 * control thread and keep over_memory up to date. Called at start and
 * after each reload. */
void broker_memory_watch(struct broker *b);

/* TLS listeners (tls_listeners.c). Build every TLS listener's server
 * context from its files: FM_OK, or FM_ECONFIG with eb naming the
 * listener's config line and the file at fault. */
int broker_tls_open(struct broker *b, struct fm_errbuf *eb);
/* SIGHUP: re-read every TLS listener's files; a listener whose files are
 * broken keeps its context (logged). */
void broker_tls_reload(struct broker *b);
/* A reference to the listener's current context (tls_server_unref it). */
struct tls_server *broker_tls_acquire(struct tls_slot *slot);
void broker_tls_close(struct broker *b);

#endif
