/* Reference-counted immutable messages (one allocation each). */
#include "session/msg.h"

#include <stdlib.h>
#include <string.h>

struct msg *msg_new(const char *topic, size_t topic_len, const void *payload,
		    size_t payload_len, uint8_t qos, bool retain)
{
	struct msg *m = malloc(sizeof(*m) + topic_len + 1 + payload_len);
	if (!m)
		return NULL;
	char *t = (char *)(m + 1);
	memcpy(t, topic, topic_len);
	t[topic_len] = '\0';
	uint8_t *p = (uint8_t *)t + topic_len + 1;
	if (payload_len)
		memcpy(p, payload, payload_len);
	atomic_init(&m->refs, 1);
	m->qos = qos;
	m->retain = retain;
	m->topic_len = (uint16_t)topic_len;
	m->payload_len = (uint32_t)payload_len;
	m->store_id = 0;
	m->topic = t;
	m->payload = p;
	return m;
}

void msg_unref(struct msg *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		free(m);
}
