/* Configuration: mosquitto.conf syntax and option names, parsed into a plain
 * struct. Nothing here touches sockets or the broker; main applies it.
 *
 * Syntax: one "option value..." per line, '#' starts a comment line, blank
 * lines ignored, values separated by whitespace. `listener` starts a listener
 * section: listener-scoped options that follow apply to it (and, with
 * per_listener_settings true, so do allow_anonymous and friends).
 * `connection NAME` starts a bridge block: the bridge options that follow
 * belong to that bridge (struct conf_bridge); other options keep their scope.
 * include_dir reads every *.conf in that directory in alphabetical order.
 * An unknown option, a missing or bad value, or an option we do not support
 * yet is an error naming file, line and option. */
#ifndef FM_CONFIG_CONF_H
#define FM_CONFIG_CONF_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* max_output_buffer: its default, and its least (twice the output at
 * which the publishers feeding a client pause, proto/broker.h) */
#define CONF_OUTPUT_BUFFER_DEFAULT (8u * 1024u * 1024u)
#define CONF_OUTPUT_BUFFER_MIN (2u * 1024u * 1024u)

enum conf_protocol {
	CONF_PROTO_MQTT = 0,
	CONF_PROTO_WEBSOCKETS = 1,
};

enum conf_domain {
	CONF_DOMAIN_ANY = 0,      /* what bind_address resolves to (IPv4 first without one) */
	CONF_DOMAIN_IPV4 = 1,
	CONF_DOMAIN_IPV6 = 2,
};

/* A listener's TLS settings, in mosquitto's names; every string owned or
 * NULL. The listener speaks TLS when certfile or psk_hint is set. */
struct conf_tls {
	char *certfile, *keyfile;  /* PEM server certificate (chain) and key */
	char *cafile, *capath;     /* CAs that client certificates must chain to */
	char *crlfile;             /* PEM revocation list for client certificates */
	char *ciphers;             /* ':'-separated suites; NULL: our default list */
	char *tls_version;         /* lowest version accepted ("tlsv1.2"); NULL: 1.2 */
	char *psk_hint;            /* set: TLS-PSK accepted on this listener */
	char *psk_file;            /* per_listener_settings only; else conf.psk_file */
	bool require_certificate;  /* mutual TLS: a client certificate is required */
	bool use_identity_as_username; /* certificate CN (or PSK identity) is the username */
	bool use_subject_as_username;  /* certificate subject (RFC 2253) is the username */
};

struct conf_listener {
	uint16_t port;            /* 0 = ephemeral (tests read the bound port from the log) */
	char *bind_address;       /* NULL: all interfaces; owned */
	char *bind_interface;     /* SO_BINDTODEVICE; NULL: none; owned */
	enum conf_domain socket_domain;
	enum conf_protocol protocol;
	struct conf_tls tls;
	char *password_file;      /* per_listener_settings only; else conf.password_file; owned */
	char *acl_file;           /* per_listener_settings only; else conf.acl_file; owned */
	uint8_t proxy_protocol;   /* enable_proxy_protocol 1|2: a PROXY header comes first; 0: none */
	char *websockets_path;    /* fleetmq: the one path upgraded; NULL: any (as mosquitto); owned */
	bool websockets_trust_x_forwarded_for; /* fleetmq: take the peer address from X-Forwarded-For */
	uint32_t websockets_headers_size; /* HTTP header bytes; 0: libwebsockets' default (4096) */
	int max_connections;      /* -1: unlimited */
	int allow_anonymous;      /* -1: not set here (use the global), else 0/1 */
	char *file;               /* where the listener line was; owned */
	int line;
};

/* One `plugin PATH` line and the plugin_opt_NAME VALUE lines after it. */
struct conf_plugin_opt {
	char *name;               /* without "plugin_opt_"; owned */
	char *value;              /* owned */
};

struct conf_plugin {
	char *path;               /* owned */
	struct conf_plugin_opt *opts; /* owned array */
	size_t n_opts;
};

/* Bridges: mosquitto's `connection NAME` blocks. Every option from
 * `connection` up to the next `connection` (or the end of the files) that
 * is a bridge option belongs to that bridge; other options stay global. */
enum conf_bridge_dir {
	CONF_BRIDGE_OUT = 1,      /* local -> remote */
	CONF_BRIDGE_IN = 2,       /* remote -> local */
	CONF_BRIDGE_BOTH = 3,
};

enum conf_bridge_start {
	CONF_BRIDGE_AUTOMATIC,    /* connect at start, reconnect after restart_timeout */
	CONF_BRIDGE_LAZY,         /* connect once `threshold` messages wait; drop after idle_timeout */
	CONF_BRIDGE_ONCE,         /* connect at start; never reconnect */
};

/* `topic PATTERN [in|out|both [QOS [LOCAL_PREFIX REMOTE_PREFIX]]]`: the
 * local topic is local_prefix + pattern, the remote one remote_prefix +
 * pattern. `""` stands for an empty pattern or prefix. */
struct conf_bridge_topic {
	char *pattern;            /* a topic filter (may be "" when a prefix is given); owned */
	char *local_prefix;       /* NULL: none; owned */
	char *remote_prefix;      /* NULL: none; owned */
	uint8_t direction;        /* enum conf_bridge_dir; default out */
	uint8_t qos;              /* default 0 */
	int line;                 /* for messages; the file is the bridge's */
};

struct conf_bridge_address {
	char *host;               /* name or address (IPv6 without brackets); owned */
	uint16_t port;            /* default 1883 */
};

struct conf_bridge {
	char *name;               /* from `connection NAME`; owned */
	struct conf_bridge_address *addresses; /* `address`/`addresses`, in order; owned array */
	size_t n_addresses;
	struct conf_bridge_topic *topics;      /* owned array */
	size_t n_topics;
	uint8_t protocol_version; /* bridge_protocol_version: 3 (mqttv31), 4 (mqttv311, default) or 5 (mqttv50) */
	char *remote_clientid;    /* default "HOSTNAME.NAME" (as mosquitto); owned */
	char *local_clientid;     /* our session's id; default "local.REMOTE_CLIENTID"; owned */
	char *remote_username, *remote_password; /* NULL: none; owned */
	char *local_username;     /* who the bridge is for our ACL; NULL: unrestricted; owned */
	bool cleansession;        /* default false: sessions kept on both sides */
	bool local_cleansession;  /* default: cleansession */
	bool local_cleansession_set; /* the file said local_cleansession; else conf_finish copies cleansession */
	bool try_private;         /* default true: tell the remote we are a bridge */
	bool notifications;       /* default true */
	bool notifications_local_only; /* default false */
	char *notification_topic; /* default "$SYS/broker/connection/REMOTE_CLIENTID/state"; owned */
	bool round_robin;         /* default false: after a failover, go back to the first address */
	bool outgoing_retain;     /* bridge_outgoing_retain; default true */
	bool attempt_unsubscribe; /* bridge_attempt_unsubscribe; default true */
	uint16_t keepalive_s;     /* keepalive_interval; default 60 */
	uint32_t restart_base_s;  /* restart_timeout BASE [CAP]; default 5 */
	uint32_t restart_cap_s;   /* default 30; equal to base: a constant delay */
	uint8_t start_type;       /* enum conf_bridge_start */
	uint32_t idle_timeout_s;  /* lazy: disconnect after this long idle; default 60 */
	uint32_t threshold;       /* lazy: connect once this many messages wait; default 10 */
	uint32_t max_packet_size; /* bridge_max_packet_size; 0: none */
	/* TLS (mbedtls): used when cafile or capath is set */
	char *cafile, *capath, *certfile, *keyfile; /* owned or NULL */
	char *tls_version;        /* bridge_tls_version; NULL: tlsv1.2 or later */
	bool insecure;            /* bridge_insecure: do not check the host name */
	char *file;               /* where the connection line was; owned */
	int line;
};

struct conf {
	struct conf_listener *listeners; /* owned array */
	size_t n_listeners;
	bool per_listener_settings;      /* default false */
	bool allow_anonymous;            /* default false once a listener is configured, as mosquitto 2.0 */
	bool allow_anonymous_set;        /* the file said so explicitly */
	char *psk_file;                  /* identity:hexkey lines for psk_hint listeners; owned */
	char *password_file;             /* mosquitto_passwd file; NULL: usernames unchecked; owned */
	char *acl_file;                  /* mosquitto ACL file; NULL: no topic restrictions; owned */
	struct conf_plugin *plugins;     /* in config order; owned array (restart) */
	size_t n_plugins;
	int max_connections;             /* -1 unlimited (global, when listeners do not set it) */
	uint32_t max_inflight_messages;  /* default 20; 0 = unlimited */
	uint32_t max_queued_messages;    /* default 1000; 0 = unlimited */
	uint32_t max_queued_in_memory;   /* fleetmq: per session, the rest stays in the store; default 1000; 0 = all */
	uint64_t max_queued_bytes;       /* default 0 = unlimited */
	uint32_t message_size_limit;     /* payload bytes; default 0 = MQTT maximum */
	uint32_t max_packet_size;        /* whole packets from clients; default 0 = MQTT maximum */
	uint16_t max_topic_alias;        /* 5.0 Topic Alias Maximum we announce; default 10 */
	uint32_t max_subscriptions;      /* fleetmq: per client; default 0 = unlimited */
	uint32_t max_topic_levels;       /* fleetmq: levels of a topic or filter; default 0 = unlimited */
	uint32_t max_topic_length;       /* fleetmq: bytes of a topic or filter; default 0 = MQTT's 65535 */
	uint32_t max_output_buffer;      /* fleetmq: bytes waiting for one client above which QoS 0 is dropped; default 8 MiB */
	uint32_t slow_consumer_timeout_s; /* fleetmq: seconds a client may write nothing while saturated; default 5 */
	uint32_t max_publish_rate;       /* fleetmq: PUBLISH per second per client; default 0 = unlimited */
	uint64_t memory_limit;           /* RSS bytes above which new connections and QoS 0 deliveries are refused; 0 = none */
	bool memory_limit_set;           /* false: 90 % of what the process may use (proto/memory.c) */
	uint16_t max_keepalive;          /* seconds; default 65535 ("max_keepalive 0", no limit, is stored as 65535) */
	bool retain_available;           /* default true */
	bool persistence;                /* default true (fleetmq: sqlite store) */
	char *persistence_location;      /* default "./data"; owned */
	uint64_t persistent_client_expiration_s; /* offline persistent sessions end after this; 0 = never */
	uint8_t durability;              /* fleetmq: enum conf_durability; default full */
	uint32_t durability_interval_ms; /* fleetmq: batched commits at most this far apart; default 100 */
	uint64_t store_max_size;         /* fleetmq: cap on the store file in bytes; default 0 = none */
	unsigned log_types;              /* enum log_type mask; default LOG_T_DEFAULT */
	bool log_types_fixed;            /* set on the command line (-v): a reload keeps them */
	unsigned log_dests;              /* enum log_dest mask; default stderr */
	char *log_file;                  /* for log_dest file; owned */
	char *pid_file;                  /* owned or NULL */
	uint32_t connect_timeout_s;      /* fleetmq: close sockets without CONNECT; default 10 */
	uint32_t sys_interval_s;         /* $SYS topics published this often; default 10 (as mosquitto); 0 = off */
	uint32_t workers;                /* fleetmq: worker threads; 0 = one per core */
	uint16_t http_port;              /* fleetmq: the HTTP stats listener's port; 0 = none (restart) */
	char *http_address;              /* its address; default 127.0.0.1; owned (restart) */
	char *http_token;                /* bearer token the HTTP API asks for; NULL: none; owned (reload) */
	struct conf_bridge *bridges;     /* `connection` blocks in config order; owned array (restart) */
	size_t n_bridges;
	/* mosquitto options accepted because what they ask for already holds
	 * (or cannot apply), each with a line saying so, logged at start */
	char **notices;                  /* owned "FILE:LINE: ..." strings */
	size_t n_notices;
};

/* When the durable store commits and acknowledgements go out (our option
 * `durability`). `persistence false` (mosquitto's) means memory. */
enum conf_durability {
	CONF_DURABILITY_FULL,    /* fsync per group commit; acknowledge after it */
	CONF_DURABILITY_BATCHED, /* commit every durability_interval ms; acknowledge before */
	CONF_DURABILITY_MEMORY,  /* no store */
};

/* Defaults as with no config file at all. */
void conf_init(struct conf *c);
/* Free everything the struct owns; leaves it re-initialisable. */
void conf_fini(struct conf *c);

/* Parse path into c (which must be conf_init'ed). On error returns
 * FM_ECONFIG with eb->msg like "fleetmq.conf:12: unknown option 'lisener'". */
int conf_load_file(struct conf *c, const char *path, struct fm_errbuf *eb);
/* Parse config text (for tests); name is used in messages. */
int conf_load_string(struct conf *c, const char *name, const char *text, struct fm_errbuf *eb);

/* After loading: if no listener was configured, add the embedded default
 * (127.0.0.1:1883, anonymous allowed, as mosquitto 2.0 does without a config);
 * fill in each bridge's derived defaults (client ids, local_cleansession,
 * notification_topic) and check the listeners' and bridges' settings
 * together. */
int conf_finish(struct conf *c, struct fm_errbuf *eb);

/* True if the listener speaks TLS (certfile or psk_hint set). */
bool conf_listener_tls(const struct conf_listener *l);
/* The psk_file a listener uses: its own, else the global one (NULL: none). */
const char *conf_listener_psk_file(const struct conf *c, const struct conf_listener *l);

/* The password_file / acl_file a listener uses (per_listener_settings
 * aware); NULL: none. */
const char *conf_listener_password_file(const struct conf *c, const struct conf_listener *l);
const char *conf_listener_acl_file(const struct conf *c, const struct conf_listener *l);

/* Effective allow_anonymous for a listener (per_listener_settings aware). */
bool conf_listener_allow_anonymous(const struct conf *c, const struct conf_listener *l);

/* Copy into live the options of fresh that may change on SIGHUP without
 * reopening listeners: password_file and acl_file (their strings are
 * swapped between the two, so fresh frees the old ones), allow_anonymous (and allow_anonymous_set),
 * max_connections, max_inflight_messages, max_queued_messages,
 * max_queued_in_memory, max_queued_bytes, message_size_limit, max_publish_rate, memory_limit,
 * max_keepalive, retain_available, store_max_size, max_subscriptions,
 * max_topic_levels, max_topic_length, max_output_buffer, slow_consumer_timeout_s, log_types, connect_timeout_s, sys_interval_s; and for each live listener that fresh has
 * too (same port and bind_address), its allow_anonymous,
 * max_connections, password_file and acl_file. Everything else in live, listeners and bridges included, is
 * left as it is; nothing is allocated or freed, so it cannot fail. Both should have
 * been through conf_finish. */
void conf_apply_reloadable(struct conf *live, struct conf *fresh);

#endif
