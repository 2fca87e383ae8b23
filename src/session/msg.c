/* Reference-counted immutable messages (one allocation each). */
#include "session/msg.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>

static void copy_in(uint8_t *to, const void *from, size_t n)
{
	if (n)
		memcpy(to, from, n);
}

struct msg *msg_make(const struct msg_spec *sp)
{
	struct msg *m = malloc(sizeof(*m) + sp->topic_len + 1 + sp->payload_len + sp->props_len);
	if (!m)
		return NULL;
	char *t = (char *)(m + 1);
	copy_in((uint8_t *)t, sp->topic, sp->topic_len);
	t[sp->topic_len] = '\0';
	uint8_t *p = (uint8_t *)t + sp->topic_len + 1;
	copy_in(p, sp->payload, sp->payload_len);
	copy_in(p + sp->payload_len, sp->props, sp->props_len);
	atomic_init(&m->refs, 1);
	m->qos = sp->qos;
	m->retain = sp->retain;
	m->topic_len = (uint16_t)sp->topic_len;
	m->payload_len = (uint32_t)sp->payload_len;
	m->props_len = (uint32_t)sp->props_len;
	m->store_id = 0;
	m->expires_at_ms = sp->expires_at_ms;
	m->topic = t;
	m->born_us = clock_mono_us();
	return m;
}

struct msg *msg_new(const char *topic, size_t topic_len, const void *payload,
		    size_t payload_len, uint8_t qos, bool retain)
{
	struct msg_spec sp = { .topic = topic, .topic_len = topic_len, .payload = payload,
			       .payload_len = payload_len, .qos = qos, .retain = retain };
	return msg_make(&sp);
}

struct msg *msg_clone(const struct msg *m, bool retain)
{
	struct msg_spec sp = { .topic = m->topic, .topic_len = m->topic_len, .payload = msg_payload(m),
			       .payload_len = m->payload_len, .props = msg_props(m),
			       .props_len = m->props_len, .qos = m->qos, .retain = retain,
			       .expires_at_ms = m->expires_at_ms };
	struct msg *copy = msg_make(&sp);
	if (copy)
		copy->born_us = m->born_us; /* the same message, as far as latency goes */
	return copy;
}

void msg_unref(struct msg *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		free(m);
}
