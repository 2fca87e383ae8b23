/* Session state: subscriptions list, inflight window, offline/overflow
 * queue, incoming QoS 2 ids and will. See session.h for the model. */
#include "session/session.h"
#include "core/grow.h"
#include "fleetmq/errors.h"

#include <stdlib.h>
#include <string.h>

struct queued {
	struct list link;
	struct msg *msg;   /* queue's reference */
	uint8_t qos;
	uint32_t sub_id;
};

/* Queue nodes are recycled per thread: a session is only touched by its
 * home worker, so the node a message leaves the queue with goes back to
 * that thread's cache and the next queued message takes it, with no malloc
 * in the steady state. The cache is bounded; session_thread_release() frees
 * it when a worker thread ends. */
#define NODE_CACHE_MAX 4096u

static _Thread_local struct queued *node_cache; /* linked through link.next */
static _Thread_local unsigned node_cache_n;

static struct queued *node_get(void)
{
	struct queued *q = node_cache;
	if (!q)
		return malloc(sizeof(*q));
	node_cache = (struct queued *)q->link.next;
	node_cache_n--;
	return q;
}

static void node_put(struct queued *q)
{
	if (node_cache_n >= NODE_CACHE_MAX) {
		free(q);
		return;
	}
	q->link.next = (struct list *)node_cache;
	node_cache = q;
	node_cache_n++;
}

void session_thread_release(void)
{
	while (node_cache) {
		struct queued *q = node_cache;
		node_cache = (struct queued *)q->link.next;
		free(q);
	}
	node_cache_n = 0;
}

struct session *session_new(const char *client_id, size_t len, bool persistent, void *home)
{
	/* the id lives in the same allocation: one less per session */
	struct session *s = calloc(1, offsetof(struct session, client_id) + len + 1);
	if (!s)
		return NULL;
	memcpy(s->client_id, client_id, len);
	s->client_id[len] = '\0';
	s->id_len = len;
	s->persistent = persistent;
	atomic_init(&s->home, home);
	atomic_init(&s->dead, false);
	atomic_init(&s->refs, 1);
	atomic_init(&s->saturated, false);
	atomic_init(&s->online, false);
	atomic_init(&s->waiting_workers, 0);
	atomic_init(&s->inbound, 0);
	list_init(&s->queue);
	return s;
}

void session_unref(struct session *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		session_free(s);
}

void session_reset_messages(struct session *s)
{
	for (uint32_t i = 0; i < s->n_inflight; i++)
		msg_unref(s->inflight[i].msg);
	s->n_inflight = 0;
	struct msg *m;
	uint8_t qos;
	uint32_t sub_id;
	while (session_queue_pop(s, &m, &qos, &sub_id))
		msg_unref(m);
	s->n_qos2_in = 0;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	session_reset_messages(s);
	for (uint32_t i = 0; i < s->n_subs; i++)
		free(s->subs[i].filter);
	free(s->subs);
	free(s->inflight);
	free(s->qos2_in);
	msg_unref(s->will);
	free(s->expiry); /* plain memory; its timer was stopped when the session ended */
	free(s->spill);
	free(s);
}

static struct session_sub *sub_find(struct session *s, const char *filter, size_t len)
{
	for (uint32_t i = 0; i < s->n_subs; i++)
		if (s->subs[i].len == len && memcmp(s->subs[i].filter, filter, len) == 0)
			return &s->subs[i];
	return NULL;
}

int session_sub_set(struct session *s, const char *filter, size_t len, uint8_t options)
{
	struct session_sub *sub = sub_find(s, filter, len);
	if (sub) {
		sub->options = options;
		return FM_OK;
	}
	return session_sub_append(s, filter, len, options);
}

int session_sub_append(struct session *s, const char *filter, size_t len, uint8_t options)
{
	if (fm_grow((void **)&s->subs, &s->cap_subs, s->n_subs + 1, sizeof(*s->subs), 4))
		return FM_ENOMEM;
	char *copy = malloc(len + 1);
	if (!copy)
		return FM_ENOMEM;
	memcpy(copy, filter, len);
	copy[len] = '\0';
	s->subs[s->n_subs++] = (struct session_sub){ .filter = copy, .len = (uint16_t)len, .options = options };
	return FM_OK;
}

bool session_sub_has(struct session *s, const char *filter, size_t len)
{
	return sub_find(s, filter, len) != NULL;
}

int session_sub_del(struct session *s, const char *filter, size_t len)
{
	struct session_sub *sub = sub_find(s, filter, len);
	if (!sub)
		return FM_ENOTFOUND;
	free(sub->filter);
	*sub = s->subs[--s->n_subs];
	return FM_OK;
}

bool session_inflight_full(const struct session *s, const struct session_limits *lim, uint16_t receive_max)
{
	uint32_t max = lim->max_inflight ? lim->max_inflight : 65535;
	if (receive_max && receive_max < max)
		max = receive_max;
	return s->n_inflight >= max;
}

/* Next packet id not used by an inflight message [MQTT-2.3.1-2]. The window
 * is small (max_inflight_messages), so a linear check is cheap. */
static uint16_t next_free_id(struct session *s)
{
	for (;;) {
		s->next_packet_id++;
		if (s->next_packet_id == 0)
			s->next_packet_id = 1;
		if (!session_inflight_find(s, s->next_packet_id))
			return s->next_packet_id;
	}
}

int session_inflight_add(struct session *s, struct msg *msg, uint8_t qos, uint32_t sub_id,
			 uint16_t *packet_id)
{
	if (s->n_inflight >= 65535)
		return FM_ELIMIT;
	if (fm_grow((void **)&s->inflight, &s->cap_inflight, s->n_inflight + 1, sizeof(*s->inflight), 4))
		return FM_ENOMEM;
	uint16_t id = next_free_id(s);
	s->inflight[s->n_inflight++] = (struct inflight){
		.msg = msg_ref(msg),
		.packet_id = id,
		.qos = qos,
		.state = (qos & 0x03) == 1 ? INFLIGHT_WAIT_PUBACK : INFLIGHT_WAIT_PUBREC,
		.sub_id = sub_id,
	};
	*packet_id = id;
	return FM_OK;
}

int session_inflight_restore(struct session *s, struct msg *msg, uint8_t qos, uint32_t sub_id,
			     uint16_t packet_id, enum inflight_state state)
{
	if (packet_id == 0 || session_inflight_find(s, packet_id) || s->n_inflight >= 65535)
		return FM_EINVAL;
	if (fm_grow((void **)&s->inflight, &s->cap_inflight, s->n_inflight + 1, sizeof(*s->inflight), 4))
		return FM_ENOMEM;
	s->inflight[s->n_inflight++] = (struct inflight){
		.msg = msg_ref(msg), .packet_id = packet_id, .qos = qos, .state = (uint8_t)state,
		.sub_id = sub_id,
	};
	s->next_packet_id = packet_id; /* new ids continue after the recovered ones */
	return FM_OK;
}

struct inflight *session_inflight_find(struct session *s, uint16_t packet_id)
{
	for (uint32_t i = 0; i < s->n_inflight; i++)
		if (s->inflight[i].packet_id == packet_id)
			return &s->inflight[i];
	return NULL;
}

void session_inflight_del(struct session *s, uint16_t packet_id)
{
	struct inflight *in = session_inflight_find(s, packet_id);
	if (!in)
		return;
	msg_unref(in->msg);
	size_t idx = (size_t)(in - s->inflight);
	/* keep send order: redelivery on reconnect goes out oldest first [MQTT-4.6.0-1] */
	memmove(in, in + 1, (s->n_inflight - idx - 1) * sizeof(*in));
	s->n_inflight--;
}

bool session_queue_over(const struct session *s, size_t bytes, const struct session_limits *lim)
{
	if (s->unbounded)
		return false;
	uint64_t count = s->queued + (s->spill ? s->spill->count : 0);
	uint64_t total = s->queued_bytes + (s->spill ? s->spill->bytes : 0);
	return (lim->max_queued && count >= lim->max_queued) ||
	       (lim->max_queued_bytes && total + bytes > lim->max_queued_bytes);
}

int session_spill_add(struct session *s, size_t bytes)
{
	if (!s->spill && (s->spill = calloc(1, sizeof(*s->spill))) == NULL)
		return FM_ENOMEM;
	s->spill->count++;
	s->spill->bytes += bytes;
	return FM_OK;
}

int session_queue_push(struct session *s, struct msg *msg, uint8_t qos, uint32_t sub_id,
		       const struct session_limits *lim)
{
	if (session_queue_over(s, msg_size(msg), lim))
		return FM_ELIMIT;
	struct queued *q = node_get();
	if (!q)
		return FM_ENOMEM;
	q->msg = msg_ref(msg);
	q->qos = qos;
	q->sub_id = sub_id;
	list_push_back(&s->queue, &q->link);
	s->queued++;
	s->queued_bytes += msg_size(msg);
	return FM_OK;
}

bool session_queue_pop(struct session *s, struct msg **msg, uint8_t *qos, uint32_t *sub_id)
{
	struct list *first = list_first(&s->queue);
	if (!first)
		return false;
	struct queued *q = list_entry(first, struct queued, link);
	list_del(&q->link);
	s->queued--;
	s->queued_bytes -= msg_size(q->msg);
	*msg = q->msg;
	*qos = q->qos;
	*sub_id = q->sub_id;
	node_put(q);
	return true;
}

bool session_qos2_in_has(const struct session *s, uint16_t packet_id)
{
	for (uint32_t i = 0; i < s->n_qos2_in; i++)
		if (s->qos2_in[i] == packet_id)
			return true;
	return false;
}

int session_qos2_in_add(struct session *s, uint16_t packet_id)
{
	if (fm_grow((void **)&s->qos2_in, &s->cap_qos2_in, s->n_qos2_in + 1, sizeof(*s->qos2_in), 4))
		return FM_ENOMEM;
	s->qos2_in[s->n_qos2_in++] = packet_id;
	return FM_OK;
}

void session_qos2_in_del(struct session *s, uint16_t packet_id)
{
	for (uint32_t i = 0; i < s->n_qos2_in; i++) {
		if (s->qos2_in[i] == packet_id) {
			s->qos2_in[i] = s->qos2_in[--s->n_qos2_in];
			return;
		}
	}
}

void session_will_set(struct session *s, struct msg *will)
{
	msg_unref(s->will);
	s->will = will;
}
