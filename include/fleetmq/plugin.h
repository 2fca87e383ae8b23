/* The fleetmq plugin API, version 1.
 *
 * A plugin is a shared object the broker loads for each `plugin PATH` line
 * of its config, in config order; the `plugin_opt_NAME VALUE` lines after a
 * plugin line are that plugin's options. It includes only this header (and
 * fleetmq/errors.h) and exports exactly these three functions:
 *
 *   int fm_plugin_version(void);
 *       Return FM_PLUGIN_API_VERSION as this header defines it when the
 *       plugin is built. The broker refuses, with a message naming both
 *       numbers, a plugin built for a version it does not speak.
 *   int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
 *                      void **user_data);
 *       Read the options, set up, register callbacks (fm_plugin_register).
 *       Return FM_OK, or an fm_err after fm_plugin_log() said why: the
 *       broker then does not start. Plugins are loaded at start only (a
 *       SIGHUP does not reload them).
 *   void fm_plugin_cleanup(void *user_data);
 *       Free what init made. Called once, after the last callback.
 *
 * THREADS. Callbacks run on the broker's worker threads, several at the same
 * time, each worker serving thousands of connections: a callback must be
 * thread-safe and must not block. No network or disk I/O that can stall,
 * no sleeping, no locks held for long; a plugin that needs a slow backend
 * keeps a cache filled by its own thread. FM_EVENT_TICK runs on the
 * broker's control thread once a second: the place for housekeeping.
 * Everything a callback is handed is valid only during the call; copy what
 * you keep.
 *
 * ORDER. For the decisions (BASIC_AUTH, EXT_AUTH, ACL_CHECK) the plugins are
 * asked in config order; the first that does not return FM_PLUGIN_DEFER
 * decides (a result that is not a verdict for the event, such as
 * FM_PLUGIN_DROP from ACL_CHECK, refuses). If all defer, the password and ACL files decide (and without
 * them, the access is allowed, as in mosquitto). MESSAGE callbacks all run,
 * each seeing the previous one's changes, until one drops the message.
 *
 * VERSIONS. Any change to a struct or a signature here changes
 * FM_PLUGIN_API_VERSION. Structs the broker hands in are never allocated by
 * plugins, so fields may be added only with a new version. */
#ifndef FLEETMQ_PLUGIN_H
#define FLEETMQ_PLUGIN_H

#include "fleetmq/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FM_PLUGIN_API_VERSION 1

#if defined(__GNUC__)
#define FM_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define FM_PLUGIN_EXPORT
#endif

/* The broker's handle for one loaded plugin. */
struct fm_plugin;

/* One plugin_opt_NAME VALUE line: name without the "plugin_opt_" prefix. */
struct fm_plugin_opt {
	const char *name;
	const char *value;
};

/* What a callback returns. */
enum fm_plugin_result {
	FM_PLUGIN_DEFER = 0,    /* no opinion: the next plugin, then the files, decide */
	FM_PLUGIN_ALLOW = 1,
	FM_PLUGIN_DENY = 2,
	FM_PLUGIN_CONTINUE = 3, /* EXT_AUTH: send the client an AUTH with data_out, wait for its answer */
	FM_PLUGIN_DROP = 4,     /* MESSAGE: do not route it (a QoS 1/2 publisher is still acknowledged) */
};

/* The client an event is about (read-only). */
struct fm_client {
	const char *client_id;      /* "" before the CONNECT is accepted if the client sent none */
	const char *username;       /* NULL: none */
	const char *peer;           /* "203.0.113.9:4567" or "[2001:db8::1]:4567" */
	const char *tls_identity;   /* certificate CN/subject or PSK identity per the listener; NULL */
	uint16_t listener_port;
	uint8_t protocol_version;   /* 3 (3.1), 4 (3.1.1), 5 */
};

/* FM_EVENT_BASIC_AUTH: a CONNECT with a username (or without one, on a
 * listener that does not allow anonymous clients). ALLOW lets it in, DENY
 * refuses it (CONNACK 0x86 / return code 4 with a username, else 0x87 / 5). */
struct fm_basic_auth {
	const struct fm_client *client;
	const char *username;       /* NUL-terminated; NULL: the CONNECT had none */
	const uint8_t *password;    /* NULL: none; may hold any bytes */
	size_t password_len;
};

/* FM_EVENT_EXT_AUTH: MQTT 5.0 enhanced authentication (3.1.2.11.9, 4.12).
 * Called for the CONNECT's Authentication Method and Data (step 0), then
 * for each AUTH the client sends (1, 2, ...); from step 0 again when an
 * accepted client re-authenticates (AUTH 0x19). ALLOW ends it (CONNACK 0,
 * or AUTH 0x00 for a re-authentication, with data_out as Authentication
 * Data if set); CONTINUE sends AUTH 0x18 with data_out and waits for the
 * client (connect_timeout bounds it); DENY refuses (CONNACK 0x87, or
 * DISCONNECT 0x87); DEFER: not this plugin's method (no plugin takes it
 * at step 0: CONNACK 0x8C Bad authentication method; later: refused).
 * An allowed client is not asked for a password (BASIC_AUTH, the
 * password_file); its username is the CONNECT's unless the plugin sets
 * one (fm_ext_auth_set_username), so a plugin that proves an identity
 * must set it. A step that sends more than the client's Maximum Packet
 * Size refuses it (0x95); more than 32 steps, or more than 10
 * re-authentications a minute, refuse it too.
 *
 * The plugin is told nothing when an exchange is abandoned (the client
 * closes, connect_timeout passes): keep no per-exchange state that only a
 * later step would free. Put what the next step needs into the data you
 * send (a nonce with its MAC), or keep a bounded table, locked: callbacks
 * run on several workers at once. */
struct fm_ext_auth {
	const struct fm_client *client;
	const char *method;
	const uint8_t *data_in;     /* NULL: none */
	size_t data_in_len;
	unsigned step;              /* 0 for the CONNECT, then 1, 2, ... */
	/* data_out: set with fm_ext_auth_set_data (copied) */
};

enum fm_acl_access {
	FM_ACL_READ = 1,            /* deliver this topic to the client */
	FM_ACL_WRITE = 2,           /* the client publishes to this topic (also its will) */
	FM_ACL_SUBSCRIBE = 4,       /* the client subscribes to this filter */
};

/* FM_EVENT_ACL_CHECK: may the client do this? Asked on every publish,
 * subscribe and delivery: keep it cheap. */
struct fm_acl_check {
	const struct fm_client *client;
	enum fm_acl_access access;
	const char *topic;          /* a topic name (READ, WRITE) or filter (SUBSCRIBE) */
	size_t topic_len;
	uint8_t qos;
	bool retain;
};

/* FM_EVENT_MESSAGE: a PUBLISH the client may send (after the ACL), before
 * it is routed or retained. Wills do not pass through it. Inspect it; change it with fm_message_set_*;
 * drop it with FM_PLUGIN_DROP. Anything else routes it. */
struct fm_message {
	const struct fm_client *client;
	const char *topic;          /* NUL-terminated (the current one, after changes) */
	size_t topic_len;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t qos;
	bool retain;
};

/* FM_EVENT_CONNECT (a CONNECT was accepted) and FM_EVENT_DISCONNECT (the
 * connection of an accepted client closed). Notifications: the result is
 * ignored. */
struct fm_client_event {
	const struct fm_client *client;
	const char *reason;         /* DISCONNECT: why it closed, as the broker logs it */
};

/* FM_EVENT_TICK: once a second, on the control thread. */
struct fm_tick {
	uint64_t now_ms;            /* wall clock, milliseconds since 1970 */
};

enum fm_plugin_event {
	FM_EVENT_BASIC_AUTH = 1,    /* struct fm_basic_auth */
	FM_EVENT_EXT_AUTH = 2,      /* struct fm_ext_auth */
	FM_EVENT_ACL_CHECK = 3,     /* struct fm_acl_check */
	FM_EVENT_MESSAGE = 4,       /* struct fm_message */
	FM_EVENT_CONNECT = 5,       /* struct fm_client_event */
	FM_EVENT_DISCONNECT = 6,    /* struct fm_client_event */
	FM_EVENT_TICK = 7,          /* struct fm_tick */
};

/* A callback: event_data points to the struct its event names. */
typedef int fm_plugin_callback(enum fm_plugin_event event, void *event_data, void *user_data);

/* Register cb for event (once per event per plugin), in fm_plugin_init
 * only. FM_OK, FM_EINVAL (unknown event, or one registered twice). */
FM_PLUGIN_EXPORT int fm_plugin_register(struct fm_plugin *p, enum fm_plugin_event event,
					fm_plugin_callback *cb);

enum fm_plugin_log_level { FM_LOG_ERROR = 1, FM_LOG_WARNING, FM_LOG_NOTICE, FM_LOG_INFO, FM_LOG_DEBUG };

/* A line in the broker's log, prefixed with the plugin's file name. */
FM_PLUGIN_EXPORT void fm_plugin_log(struct fm_plugin *p, enum fm_plugin_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* MESSAGE: replace the topic (a valid topic name without wildcards) or
 * the payload; copied. FM_OK, FM_EINVAL (not a valid topic), FM_ENOMEM. */
FM_PLUGIN_EXPORT int fm_message_set_topic(struct fm_message *m, const char *topic);
FM_PLUGIN_EXPORT int fm_message_set_payload(struct fm_message *m, const void *payload, size_t len);

/* EXT_AUTH: the Authentication Data to send back (at most 65535 bytes);
 * copied. FM_OK, FM_EINVAL, FM_ENOMEM. */
FM_PLUGIN_EXPORT int fm_ext_auth_set_data(struct fm_ext_auth *a, const void *data, size_t len);
/* EXT_AUTH, with ALLOW: the username the client goes by from now on (what
 * the ACL and the other plugins see), in place of its CONNECT's, which
 * nothing checked. A plugin that proves an identity sets it. Copied.
 * FM_OK, FM_EINVAL (empty, or not UTF-8), FM_ENOMEM. */
FM_PLUGIN_EXPORT int fm_ext_auth_set_username(struct fm_ext_auth *a, const char *username);

/* What a plugin exports (declared here so the compiler checks them). */
FM_PLUGIN_EXPORT int fm_plugin_version(void);
FM_PLUGIN_EXPORT int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
				    void **user_data);
FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data);

#endif
