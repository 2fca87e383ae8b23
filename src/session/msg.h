/* An application message as routed: immutable once built, reference
 * counted, shared by every session queue, inflight slot and the retained
 * tree that holds it. Fan-out to 10,000 subscribers shares one payload.
 *
 * Topic and payload live in the same allocation as the header. The
 * reference count is atomic because worker threads share messages. */
#ifndef FM_SESSION_MSG_H
#define FM_SESSION_MSG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msg {
	atomic_uint refs;
	uint8_t qos;          /* QoS the publisher sent it with */
	bool retain;          /* the publisher set RETAIN */
	uint16_t topic_len;
	uint32_t payload_len;
	uint32_t props_len;   /* 5.0 properties forwarded with it (raw), after the payload */
	uint64_t store_id;    /* id in the store's message log; 0: not logged. Set once, by
	                       * the routing worker, before the message is shared */
	uint64_t expires_at_ms; /* wall clock when its Message Expiry Interval ends; 0: never */
	const char *topic;    /* NUL-terminated, inside this allocation; the payload follows it */
	uint64_t born_us;     /* monotonic clock when it was made: publish-to-delivery latency */
};

/* What a message is made of; msg_make copies all of it. props are the 5.0
 * properties that travel with the message to every subscriber (payload
 * format, content type, response topic, correlation data, user
 * properties), already filtered: never a topic alias or an expiry. */
struct msg_spec {
	const char *topic;
	size_t topic_len;
	const void *payload;
	size_t payload_len;
	const void *props;
	size_t props_len;
	uint8_t qos;
	bool retain;
	uint64_t expires_at_ms;
};

/* New message with one reference held by the caller. NULL on ENOMEM. */
struct msg *msg_make(const struct msg_spec *sp);
/* A message without properties or expiry (3.1.1 style). */
struct msg *msg_new(const char *topic, size_t topic_len, const void *payload,
		    size_t payload_len, uint8_t qos, bool retain);
/* A new message with m's contents and the given retain flag. */
struct msg *msg_clone(const struct msg *m, bool retain);
/* Its payload (payload_len bytes), after the topic's NUL; its 5.0
 * properties (props_len bytes) after the payload. Computed, not stored:
 * every retained and queued message would pay for the pointers. */
static inline const uint8_t *msg_payload(const struct msg *m)
{
	return (const uint8_t *)m->topic + m->topic_len + 1;
}
static inline const uint8_t *msg_props(const struct msg *m) { return msg_payload(m) + m->payload_len; }
/* Seconds left of its Message Expiry Interval at now_ms (at least 1 while
 * not expired); meaningless when it has none. */
static inline uint32_t msg_expiry_left_s(const struct msg *m, uint64_t now_ms)
{
	uint64_t left_ms = m->expires_at_ms > now_ms ? m->expires_at_ms - now_ms : 0;
	return (uint32_t)((left_ms + 999) / 1000);
}
static inline bool msg_expired(const struct msg *m, uint64_t now_ms)
{
	return m->expires_at_ms != 0 && m->expires_at_ms <= now_ms;
}
static inline struct msg *msg_ref(struct msg *m)
{
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}
/* Drop one reference; frees on the last. Accepts NULL. */
void msg_unref(struct msg *m);
/* Bytes the message accounts for in queue limits. */
static inline size_t msg_size(const struct msg *m) { return m->topic_len + m->payload_len; }

#endif
