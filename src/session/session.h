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
 * A session is owned by one worker at a time, its home: only the home
 * worker reads or changes its state, so nothing here is locked. Other
 * workers hold references (deliveries in flight to the home's inbox, a
 * takeover in progress) and read only `home` and `dead`, both atomic. The
 * session table holds one reference while the session is alive; the last
 * reference frees it. */
#ifndef FM_SESSION_SESSION_H
#define FM_SESSION_SESSION_H

#include "core/list.h"
#include "session/msg.h"

#include <stdatomic.h>
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
	uint32_t sub_id;        /* 5.0 subscription identifier it is delivered for; 0: none */
};

struct session_expiry;

struct session_sub {
	char *filter;           /* owned, NUL-terminated */
	uint16_t len;
	uint8_t options;        /* granted QoS in bits 0-1 */
};

struct session_limits {
	uint32_t max_inflight;  /* 0 = unlimited (capped at 65535 ids) */
	uint32_t max_queued;    /* messages; 0 = unlimited */
	uint64_t max_queued_bytes; /* 0 = unlimited */
	uint32_t max_in_memory; /* queued messages kept in memory, the rest only in the store; 0 = all */
};

/* The part of a session's queue kept only in the durable store (after the
 * in-memory part, which it follows in order): allocated once a session
 * spills, so sessions that never do pay a pointer. The counts take part in
 * the queue limits. */
struct session_spill {
	uint32_t count;         /* entries in the store only */
	uint64_t bytes;         /* their msg_size() sum */
	uint32_t read_seq;      /* numbers the reads back, so a stale one is recognised */
	uint32_t count_at_read; /* count when the read in flight was asked for */
	bool reading;           /* a read back is on its way from the store */
};

struct session {
	/* ordered to pack: every session, online or not, costs this much */
	void *owner;            /* connected client (opaque), NULL while offline */
	_Atomic(void *) home;   /* owning worker (opaque); changes only by handoff */
	struct msg *will;            /* owned reference or NULL */
	struct session *hash_next;   /* session table chain */

	struct session_sub *subs;    /* owned array */
	uint32_t n_subs, cap_subs;

	struct inflight *inflight;   /* owned array, send order */
	uint32_t n_inflight, cap_inflight;

	uint16_t *qos2_in;           /* incoming QoS 2 ids awaiting PUBREL */
	uint32_t n_qos2_in, cap_qos2_in;

	struct list queue;           /* struct queued, oldest first */
	struct session_expiry *expiry; /* while a deadline is set (proto/expiry.c), else NULL */
	struct session_spill *spill; /* once part of the queue lives only in the store, else NULL */
	uint64_t queued_bytes;       /* msg_size() sum of queue */
	uint32_t queued;             /* messages in queue */
	uint32_t since_s;            /* broker uptime (s) when a client last attached or, offline,
	                              * detached: "connected since" / "offline since" for the API */

	atomic_uint refs;
	atomic_uint waiting_workers; /* bit per worker with publishers paused on it */
	atomic_uint inbound;         /* deliveries posted to its home, not yet applied */
	uint16_t id_len;             /* client ids are at most 65535 bytes */
	uint16_t next_packet_id;     /* last id handed out */
	uint32_t expiry_interval;    /* 5.0 Session Expiry Interval (s; 0xFFFFFFFF never);
	                              * 0 on a 3.1.1 session: persistent_client_expiration */
	atomic_bool dead;            /* ended: no longer in the table or the router */
	atomic_bool saturated;       /* its client's output is over the high watermark */
	atomic_bool online;          /* a client is attached (routers on other workers read it) */
	bool persistent;             /* 3.1.1 clean session 0: survives disconnect */
	bool unbounded;              /* a bridge's: max_queued_messages and max_queued_bytes do not
	                              * apply (what waits for the remote is never dropped; the
	                              * store and max_queued_in_memory bound it) */
	char client_id[];            /* NUL-terminated, in the same allocation */
};

/* A new session with one reference (the caller's), homed at home. */
struct session *session_new(const char *client_id, size_t len, bool persistent, void *home);
/* Release everything the session holds (messages, subscriptions list, will).
 * The caller has removed its subscriptions from the router. Accepts NULL.
 * Used directly only where no other reference can exist. */
void session_free(struct session *s);
static inline struct session *session_ref(struct session *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}
/* Drop a reference; the last one frees the session (from any thread: by
 * then nothing else can reach it). */
void session_unref(struct session *s);
static inline void *session_home(const struct session *s)
{
	return atomic_load_explicit(&((struct session *)s)->home, memory_order_acquire);
}
/* Drop queued and inflight state (clean session start, or takeover with clean). */
void session_reset_messages(struct session *s);

/* Subscriptions as the session remembers them. set replaces options of an
 * existing filter. FM_OK or FM_ENOMEM; del gives FM_ENOTFOUND. */
int session_sub_set(struct session *s, const char *filter, size_t len, uint8_t options);
/* Add a filter the caller knows is new (the router's tree said so): no
 * search, so a SUBSCRIBE with thousands of new filters costs linear time,
 * not filters x subscriptions. FM_OK or FM_ENOMEM. */
int session_sub_append(struct session *s, const char *filter, size_t len, uint8_t options);
int session_sub_del(struct session *s, const char *filter, size_t len);
/* Is s subscribed to filter? (A linear search: for limits, not hot paths.) */
bool session_sub_has(struct session *s, const char *filter, size_t len);

/* Outgoing inflight window: max_inflight_messages, and for a 5.0 client
 * its Receive Maximum too (receive_max, 0: none) [MQTT-3.3.4-7]. add assigns a free packet id into *packet_id and
 * takes a new reference on msg; FM_ELIMIT if the window is full. */
bool session_inflight_full(const struct session *s, const struct session_limits *lim, uint16_t receive_max);
int session_inflight_add(struct session *s, struct msg *msg, uint8_t qos, uint32_t sub_id,
			 uint16_t *packet_id);
/* Put back an entry recovered from the store, with its packet id and state
 * (at start, before the session is used). FM_OK, FM_ENOMEM, or FM_EINVAL if
 * the id is 0 or already taken. */
int session_inflight_restore(struct session *s, struct msg *msg, uint8_t qos, uint32_t sub_id,
			     uint16_t packet_id, enum inflight_state state);
struct inflight *session_inflight_find(struct session *s, uint16_t packet_id);
/* Remove the entry (releasing its message). */
void session_inflight_del(struct session *s, uint16_t packet_id);

/* Would one more message of size bytes exceed the queue limits (counting
 * the spilled part too)? Then it is dropped (the caller counts it). */
bool session_queue_over(const struct session *s, size_t bytes, const struct session_limits *lim);
/* Count one more entry as kept only in the store (allocating the spill
 * state on first use). FM_OK or FM_ENOMEM. */
int session_spill_add(struct session *s, size_t bytes);

/* Queue a message for later (window full or client offline), taking a new
 * reference. FM_ELIMIT if the queue limits say drop (the message is then
 * not queued). */
int session_queue_push(struct session *s, struct msg *msg, uint8_t qos, uint32_t sub_id,
		       const struct session_limits *lim);
/* Oldest queued message; returns false if empty. The caller takes over the
 * queue's reference. */
bool session_queue_pop(struct session *s, struct msg **msg, uint8_t *qos, uint32_t *sub_id);

/* Incoming QoS 2 packet ids between PUBREC and PUBREL [MQTT-4.3.3-2]. */
bool session_qos2_in_has(const struct session *s, uint16_t packet_id);
int session_qos2_in_add(struct session *s, uint16_t packet_id);
void session_qos2_in_del(struct session *s, uint16_t packet_id);

/* Replace the will (taking over the caller's reference; NULL clears). */
void session_will_set(struct session *s, struct msg *will);

/* Free this thread's cache of queue nodes (call when a thread that
 * handled sessions ends). */
void session_thread_release(void);

/* --- session table: client id -> session --------------------------------- */

struct session_table;
struct session_table *session_table_new(void);
/* Frees the table and drops its reference on every session still in it. */
void session_table_free(struct session_table *t);
struct session *session_table_get(const struct session_table *t, const char *id, size_t len);
/* Insert s (its id must not be present). FM_OK or FM_ENOMEM. */
int session_table_add(struct session_table *t, struct session *s);
/* Unlink s from the table (does not free it). */
void session_table_del(struct session_table *t, struct session *s);
size_t session_table_count(const struct session_table *t);
/* Every session, in slices, so that a caller holding the table's lock per
 * slice lets others in between: begin, then step (fn, which must not
 * change the table, on the sessions of the next `buckets` buckets) until
 * it returns false. *regrown: the table
 * grew since begin and the walk stopped (sessions moved between buckets:
 * begin again). Sessions added or removed between slices may be seen or
 * not. */
struct session_walk {
	size_t next;                /* the next bucket */
	size_t mask;                /* the table's size when the walk began */
};
void session_walk_begin(const struct session_table *t, struct session_walk *w);
bool session_walk_step(const struct session_table *t, struct session_walk *w, size_t buckets,
		       void (*fn)(struct session *s, void *arg), void *arg, bool *regrown);

#endif
