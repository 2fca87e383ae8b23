/* Sessions: the state MQTT keeps per client id, attached to at most one
 * connection at a time and, for persistent sessions (clean session 0),
 * kept while the client is offline.
 *
 * What lives here is pure state with no I/O: the session's subscriptions
 * (the router's tree holds them for matching; this list is what to remove
 * when the session ends), the outgoing inflight window (QoS 1/2 messages
 * sent and not yet fully acknowledged), the queue of messages waiting for a
 * free inflight slot or for the client to come back, the packet ids of
 * incoming QoS 2 messages awaiting PUBREL, and the will message.
 * Limits are passed in on each call so a SIGHUP reload applies at once.
 *
 * A session is owned by one worker at a time (the one running its client),
 * so nothing here is locked. */
#ifndef FM_SESSION_SESSION_H
#define FM_SESSION_SESSION_H

#include "core/list.h"
#include "session/msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum inflight_state {
	INFLIGHT_WAIT_PUBACK,   /* QoS 1 PUBLISH sent */
	INFLIGHT_WAIT_PUBREC,   /* QoS 2 PUBLISH sent */
	INFLIGHT_WAIT_PUBCOMP,  /* QoS 2 PUBREC received, PUBREL sent */
};

/* One outgoing QoS 1/2 message awaiting acknowledgement, in send order. */
struct inflight {
	struct msg *msg;        /* our reference; kept until the flow completes */
	uint16_t packet_id;
	uint8_t qos;            /* QoS it was sent with (min of pub and sub) */
	uint8_t state;          /* enum inflight_state */
};

struct session_sub {
	char *filter;           /* owned, NUL-terminated */
	uint16_t len;
	uint8_t options;        /* granted QoS in bits 0-1 */
};

struct session_limits {
	uint32_t max_inflight;  /* 0 = unlimited (capped at 65535 ids) */
	uint32_t max_queued;    /* messages; 0 = unlimited */
	uint64_t max_queued_bytes; /* 0 = unlimited */
};

struct session {
	char *client_id;        /* owned, NUL-terminated */
	size_t id_len;
	bool persistent;        /* 3.1.1 clean session 0: survives disconnect */
	void *owner;            /* connected client (opaque), NULL while offline */

	struct session_sub *subs;    /* owned array */
	uint32_t n_subs, cap_subs;

	struct inflight *inflight;   /* owned array, send order */
	uint32_t n_inflight, cap_inflight;
	uint16_t next_packet_id;     /* last id handed out */

	struct list queue;           /* struct queued, oldest first */
	uint32_t queued;             /* messages in queue */
	uint64_t queued_bytes;       /* msg_size() sum of queue */
	uint64_t dropped;            /* messages dropped by queue limits */

	uint16_t *qos2_in;           /* incoming QoS 2 ids awaiting PUBREL */
	uint32_t n_qos2_in, cap_qos2_in;

	struct msg *will;            /* owned reference or NULL */

	uint64_t match_epoch;        /* router scratch: de-duplicates fan-out */
	uint32_t match_slot;
	struct session *hash_next;   /* session table chain */
};

struct session *session_new(const char *client_id, size_t len, bool persistent);
/* Release everything the session holds (messages, subscriptions list, will).
 * The caller has removed its subscriptions from the router. Accepts NULL. */
void session_free(struct session *s);
/* Drop queued and inflight state (clean session start, or takeover with clean). */
void session_reset_messages(struct session *s);

/* Subscriptions as the session remembers them. set replaces options of an
 * existing filter. FM_OK or FM_ENOMEM; del gives FM_ENOTFOUND. */
int session_sub_set(struct session *s, const char *filter, size_t len, uint8_t options);
int session_sub_del(struct session *s, const char *filter, size_t len);

/* Outgoing inflight window. add assigns a free packet id into *packet_id and
 * takes a new reference on msg; FM_ELIMIT if the window is full. */
bool session_inflight_full(const struct session *s, const struct session_limits *lim);
int session_inflight_add(struct session *s, struct msg *msg, uint8_t qos, uint16_t *packet_id);
struct inflight *session_inflight_find(struct session *s, uint16_t packet_id);
/* Remove the entry (releasing its message). */
void session_inflight_del(struct session *s, uint16_t packet_id);

/* Queue a message for later (window full or client offline), taking a new
 * reference. FM_ELIMIT if the queue limits say drop (the message is then
 * not queued and s->dropped is counted). */
int session_queue_push(struct session *s, struct msg *msg, uint8_t qos,
		       const struct session_limits *lim);
/* Oldest queued message; returns false if empty. The caller takes over the
 * queue's reference. */
bool session_queue_pop(struct session *s, struct msg **msg, uint8_t *qos);

/* Incoming QoS 2 packet ids between PUBREC and PUBREL [MQTT-4.3.3-2]. */
bool session_qos2_in_has(const struct session *s, uint16_t packet_id);
int session_qos2_in_add(struct session *s, uint16_t packet_id);
void session_qos2_in_del(struct session *s, uint16_t packet_id);

/* Replace the will (taking over the caller's reference; NULL clears). */
void session_will_set(struct session *s, struct msg *will);

/* --- session table: client id -> session --------------------------------- */

struct session_table;
struct session_table *session_table_new(void);
/* Frees the table and every session still in it. */
void session_table_free(struct session_table *t);
struct session *session_table_get(const struct session_table *t, const char *id, size_t len);
/* Insert s (its id must not be present). FM_OK or FM_ENOMEM. */
int session_table_add(struct session_table *t, struct session *s);
/* Unlink s from the table (does not free it). */
void session_table_del(struct session_table *t, struct session *s);
size_t session_table_count(const struct session_table *t);

#endif
