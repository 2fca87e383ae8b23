/* Building store batches: operations in an array, their strings and
 * payloads copied into one arena, so a batch owns everything it refers to
 * and outlives whatever the broker frees meanwhile. Both grow
 * geometrically and are kept across store_batch_reset(): a recycled batch
 * allocates nothing. */
#include "store/store.h"

#include "core/grow.h"

#include <stdlib.h>
#include <string.h>

void store_batch_init(struct store_batch *b, store_done_fn *done)
{
	memset(b, 0, sizeof(*b));
	b->done = done;
}

void store_batch_fini(struct store_batch *b)
{
	free(b->ops);
	free(b->arena);
	free(b->rows);
	free(b->row_arena);
	b->ops = NULL;
	b->arena = NULL;
	b->rows = NULL;
	b->row_arena = NULL;
	b->n_ops = b->cap_ops = b->arena_used = b->arena_cap = 0;
	b->n_rows = b->cap_rows = b->row_arena_used = b->row_arena_cap = 0;
}

void store_batch_reset(struct store_batch *b)
{
	b->n_ops = 0;
	b->arena_used = 0;
	b->n_rows = 0;
	b->row_arena_used = 0;
	b->rc = FM_OK;
}

static struct store_op *op_new(struct store_batch *b, enum store_op_type type)
{
	if (fm_grow((void **)&b->ops, &b->cap_ops, b->n_ops + 1, sizeof(*b->ops), 32) != FM_OK)
		return NULL;
	struct store_op *op = &b->ops[b->n_ops];
	memset(op, 0, sizeof(*op));
	op->type = (uint8_t)type;
	return op;
}

/* Copy bytes into the arena; the span says where. */
static int copy_in(struct store_batch *b, const void *p, size_t len, struct store_span *out)
{
	if (len > UINT32_MAX - b->arena_used)
		return FM_ETOOBIG;
	size_t need = b->arena_used + len;
	if (need > b->arena_cap) {
		size_t cap = b->arena_cap ? b->arena_cap : 1024;
		while (cap < need)
			cap *= 2;
		if (cap > UINT32_MAX)
			cap = UINT32_MAX;
		uint8_t *a = realloc(b->arena, cap);
		if (!a)
			return FM_ENOMEM;
		b->arena = a;
		b->arena_cap = (uint32_t)cap;
	}
	if (len)
		memcpy(b->arena + b->arena_used, p, len);
	*out = (struct store_span){ .off = b->arena_used, .len = (uint32_t)len };
	b->arena_used += (uint32_t)len;
	return FM_OK;
}

/* An op about one client (and maybe a topic or filter); committed to the
 * batch only once everything it needs is copied. */
static struct store_op *client_op(struct store_batch *b, enum store_op_type type, const char *client_id,
				  size_t id_len, const char *topic, size_t topic_len)
{
	uint32_t mark = b->arena_used;
	struct store_op *op = op_new(b, type);
	if (!op || copy_in(b, client_id, id_len, &op->client_id) != FM_OK ||
	    (topic && copy_in(b, topic, topic_len, &op->topic) != FM_OK)) {
		b->arena_used = mark;
		return NULL;
	}
	return op;
}

static int commit_op(struct store_batch *b, struct store_op *op)
{
	if (!op)
		return FM_ENOMEM;
	b->n_ops++;
	return FM_OK;
}

/* An op carrying a message (topic, payload, properties, QoS, expiry): a
 * logged one or a retained one. */
static struct store_op *message_op(struct store_batch *b, enum store_op_type type, const struct store_message *m)
{
	uint32_t mark = b->arena_used;
	struct store_op *op = client_op(b, type, "", 0, m->topic, m->topic_len);
	if (op && (copy_in(b, m->payload, m->payload_len, &op->payload) != FM_OK ||
		   copy_in(b, m->props, m->props_len, &op->props) != FM_OK)) {
		b->arena_used = mark;
		return NULL;
	}
	if (op) {
		op->qos = m->qos;
		op->expires_at_ms = m->expires_at_ms;
		op->msg_id = m->msg_id;
	}
	return op;
}

int store_msg_add(struct store_batch *b, const struct store_message *m)
{
	return commit_op(b, message_op(b, STORE_MSG_ADD, m));
}

int store_ref_add(struct store_batch *b, const char *client_id, size_t id_len, uint64_t msg_id,
		  uint8_t qos, enum store_ref_state state, uint16_t packet_id, uint32_t sub_id)
{
	struct store_op *op = client_op(b, STORE_REF_ADD, client_id, id_len, NULL, 0);
	if (op) {
		op->msg_id = msg_id;
		op->qos = qos;
		op->state = (uint8_t)state;
		op->packet_id = packet_id;
		op->sub_id = sub_id;
	}
	return commit_op(b, op);
}

int store_ref_state(struct store_batch *b, const char *client_id, size_t id_len, uint64_t msg_id,
		    enum store_ref_state state, uint16_t packet_id)
{
	struct store_op *op = client_op(b, STORE_REF_STATE, client_id, id_len, NULL, 0);
	if (op) {
		op->msg_id = msg_id;
		op->state = (uint8_t)state;
		op->packet_id = packet_id;
	}
	return commit_op(b, op);
}

int store_ref_del(struct store_batch *b, const char *client_id, size_t id_len, uint64_t msg_id,
		  uint16_t packet_id)
{
	struct store_op *op = client_op(b, STORE_REF_DEL, client_id, id_len, NULL, 0);
	if (op) {
		op->msg_id = msg_id;
		op->packet_id = packet_id;
	}
	return commit_op(b, op);
}

int store_session_put(struct store_batch *b, const char *client_id, size_t id_len, uint64_t expires_at_ms,
		      int64_t interval)
{
	struct store_op *op = client_op(b, STORE_SESSION_PUT, client_id, id_len, NULL, 0);
	if (op) {
		op->expires_at_ms = expires_at_ms;
		op->interval = interval;
	}
	return commit_op(b, op);
}

int store_session_del(struct store_batch *b, const char *client_id, size_t id_len)
{
	return commit_op(b, client_op(b, STORE_SESSION_DEL, client_id, id_len, NULL, 0));
}

int store_sub_put(struct store_batch *b, const char *client_id, size_t id_len, const char *filter,
		  size_t filter_len, uint8_t options, uint32_t sub_id)
{
	struct store_op *op = client_op(b, STORE_SUB_PUT, client_id, id_len, filter, filter_len);
	if (op) {
		op->options = options;
		op->sub_id = sub_id;
	}
	return commit_op(b, op);
}

int store_sub_del(struct store_batch *b, const char *client_id, size_t id_len, const char *filter,
		  size_t filter_len)
{
	return commit_op(b, client_op(b, STORE_SUB_DEL, client_id, id_len, filter, filter_len));
}

int store_retain_put(struct store_batch *b, const struct store_message *m)
{
	return commit_op(b, message_op(b, STORE_RETAIN_PUT, m));
}

int store_retain_del(struct store_batch *b, const char *topic, size_t topic_len)
{
	return commit_op(b, client_op(b, STORE_RETAIN_DEL, "", 0, topic, topic_len));
}

int store_qos2_in_add(struct store_batch *b, const char *client_id, size_t id_len, uint16_t packet_id)
{
	struct store_op *op = client_op(b, STORE_QOS2_IN_ADD, client_id, id_len, NULL, 0);
	if (op)
		op->packet_id = packet_id;
	return commit_op(b, op);
}

static int queue_op(struct store_batch *b, enum store_op_type type, const char *client_id, size_t id_len,
		    uint32_t count)
{
	struct store_op *op = client_op(b, type, client_id, id_len, NULL, 0);
	if (op)
		op->count = count;
	return commit_op(b, op);
}

int store_queue_split(struct store_batch *b, const char *client_id, size_t id_len, uint32_t keep)
{
	return queue_op(b, STORE_QUEUE_SPLIT, client_id, id_len, keep);
}

int store_queue_read(struct store_batch *b, const char *client_id, size_t id_len, uint32_t count)
{
	return queue_op(b, STORE_QUEUE_READ, client_id, id_len, count);
}

int store_will_put(struct store_batch *b, const char *client_id, size_t id_len, const struct store_message *m,
		   bool retain)
{
	uint32_t mark = b->arena_used;
	struct store_op *op = message_op(b, STORE_WILL_PUT, m);
	if (op && copy_in(b, client_id, id_len, &op->client_id) != FM_OK) {
		b->arena_used = mark;
		op = NULL;
	}
	if (op)
		op->options = retain;
	return commit_op(b, op);
}

int store_will_del(struct store_batch *b, const char *client_id, size_t id_len)
{
	return commit_op(b, client_op(b, STORE_WILL_DEL, client_id, id_len, NULL, 0));
}

int store_qos2_in_del(struct store_batch *b, const char *client_id, size_t id_len, uint16_t packet_id)
{
	struct store_op *op = client_op(b, STORE_QOS2_IN_DEL, client_id, id_len, NULL, 0);
	if (op)
		op->packet_id = packet_id;
	return commit_op(b, op);
}
