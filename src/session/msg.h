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
	uint64_t store_id;    /* id in the store's message log; 0: not logged. Set once, by
	                       * the routing worker, before the message is shared */
	const char *topic;    /* NUL-terminated, inside this allocation */
	const uint8_t *payload; /* inside this allocation */
};

/* New message with one reference held by the caller. NULL on ENOMEM. */
struct msg *msg_new(const char *topic, size_t topic_len, const void *payload,
		    size_t payload_len, uint8_t qos, bool retain);
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
