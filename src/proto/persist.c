/* The broker's side of the durable store (see persist.h). */
#include "proto/persist.h"

#include "core/grow.h"
#include "proto/client.h"
#include "proto/expiry.h"
#include "proto/spill.h"
#include "proto/worker.h"
#include "proto/worker_msg.h"
#include "mqtt/codec.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* A worker's store batch: the operations, plus the publishers whose
 * acknowledgements wait for it. Comes back to its worker when applied. */
struct persist_batch {
	struct wmsg h;               /* the trip back: WMSG_STORE_DONE */
	struct store_batch sb;
	struct worker *origin;
	struct persist_batch *next_spare;
	uint64_t ticket;             /* per worker, increasing: batches complete in this order */
	bool poisoned;               /* an operation could not be recorded (out of memory) */
	struct client **waiters;     /* each counted in its client_acks.batches */
	uint32_t n_waiters, cap_waiters;
	struct queue_read *reads;    /* spilled queue entries read back by this batch */
	uint32_t n_reads, cap_reads;
};

/* One read back of a session's spilled entries (proto/spill.c). */
struct queue_read {
	struct session *s;           /* a reference, dropped when the batch is back */
	uint32_t op;                 /* its op's index in the batch */
	uint32_t seq;                /* the session's read number it answers */
};

/* One publisher's acknowledgements not sent yet, oldest first. */
struct pending_ack {
	uint64_t ticket;             /* batch to wait for; 0: only for those ahead */
	uint16_t packet_id;
	uint8_t type;
	uint8_t reason;
};

/* Output past pos (in the client's bytes_written numbering) waits for
 * batch ticket: a PUBLISH whose packet id is not on disk yet. */
struct output_hold {
	uint64_t ticket;
	uint32_t pos;
};

struct client_acks {
	struct pending_ack *v;       /* ring */
	uint32_t head, n, cap;
	struct output_hold *holds;   /* oldest first */
	uint32_t n_holds, cap_holds;
	uint32_t batches;            /* batches holding this client as a waiter */
	uint64_t waits_on;           /* ticket of the newest such batch */
	uint64_t done_ticket;        /* newest of its batches committed */
	bool closing;                /* the client closed; free it with the last batch */
};

/* --- batches ------------------------------------------------------------------ */

static void on_store_done(struct store_batch *sb)
{
	/* store thread: only pass it home */
	struct persist_batch *pb = (struct persist_batch *)((char *)sb - offsetof(struct persist_batch, sb));
	wmsg_post(pb->origin, &pb->h, WMSG_STORE_DONE);
}

/* The batch of this iteration, created (or recycled) on first use. */
static struct persist_batch *current(struct worker *w)
{
	if (w->store_cur)
		return w->store_cur;
	struct persist_batch *pb = w->store_spare;
	if (pb) {
		w->store_spare = pb->next_spare;
	} else {
		if ((pb = calloc(1, sizeof(*pb))) == NULL)
			return NULL;
		store_batch_init(&pb->sb, on_store_done);
		pb->origin = w;
	}
	pb->ticket = ++w->store_ticket;
	w->store_cur = pb;
	worker_schedule_flush(w);
	return pb;
}

static struct store_batch *batch(struct worker *w)
{
	struct persist_batch *pb = current(w);
	return pb ? &pb->sb : NULL;
}

/* An operation could not be recorded (out of memory): the state on disk
 * will lag behind; say so rather than fail silently. */
static void lost_op(struct worker *w, int rc, const char *what)
{
	if (rc == FM_OK)
		return;
	log_error(&w->b->log, "store: %s not recorded (%s); what depends on it is not acknowledged", what,
		  fm_strerror(rc));
	if (w->store_cur)
		w->store_cur->poisoned = true; /* its waiters are disconnected, not answered */
}

void persist_flush(struct worker *w)
{
	struct persist_batch *pb = w->store_cur;
	/* a batch without operations still goes if someone waits on it (its
	 * operations went with an earlier batch, flushed early): the store
	 * hands it back after that one, in order */
	if (!pb || (store_batch_empty(&pb->sb) && pb->n_waiters == 0))
		return;
	w->store_cur = NULL;
	store_submit(w->b->store, &pb->sb);
}

static void drop_reads(struct persist_batch *pb)
{
	for (uint32_t i = 0; i < pb->n_reads; i++)
		session_unref(pb->reads[i].s);
	pb->n_reads = 0;
}

static void recycle(struct worker *w, struct persist_batch *pb)
{
	store_batch_reset(&pb->sb);
	drop_reads(pb);
	pb->n_waiters = 0;
	pb->poisoned = false;
	pb->next_spare = w->store_spare;
	w->store_spare = pb;
}

static void batch_free(struct persist_batch *pb)
{
	drop_reads(pb);
	free(pb->reads);
	store_batch_fini(&pb->sb);
	free(pb->waiters);
	free(pb);
}

void persist_fini(struct worker *w)
{
	if (w->store_cur)
		batch_free(w->store_cur);
	w->store_cur = NULL;
	while (w->store_spare) {
		struct persist_batch *next = w->store_spare->next_spare;
		batch_free(w->store_spare);
		w->store_spare = next;
	}
}

/* --- what is written -------------------------------------------------------------- */

static const char *id_of(const struct session *s) { return s->client_id; }

static struct store_message stored(const struct msg *m)
{
	return (struct store_message){ .msg_id = m->store_id, .topic = m->topic, .topic_len = m->topic_len,
				       .payload = msg_payload(m), .payload_len = m->payload_len,
				       .props = msg_props(m), .props_len = m->props_len, .qos = m->qos,
				       .expires_at_ms = m->expires_at_ms };
}

bool persist_route(struct worker *w, struct msg *m, const struct route_target *targets, uint32_t n)
{
	if (!persist_on(w) || m->qos == 0)
		return false;
	bool logged = false;
	for (uint32_t i = 0; i < n; i++) {
		const struct session *s = targets[i].s;
		uint8_t qos = targets[i].qos; /* with DELIVER_RETAIN (Retain As Published) */
		if ((qos & 0x03) == 0 || !s->persistent)
			continue;
		struct store_batch *b = batch(w);
		int rc = b ? FM_OK : FM_ENOMEM;
		if (rc == FM_OK && !logged) {
			m->store_id = atomic_fetch_add_explicit(&w->b->next_msg_id, 1, memory_order_relaxed);
			struct store_message sm = stored(m);
			rc = store_msg_add(b, &sm);
			logged = rc == FM_OK;
		}
		if (rc == FM_OK)
			rc = store_ref_add(b, id_of(s), s->id_len, m->store_id, qos, STORE_REF_QUEUED, 0,
					   targets[i].sub_id);
		lost_op(w, rc, "a queued message");
	}
	return logged;
}

struct msg *persist_retained_copy(struct worker *w, const struct session *s, const struct msg *m, uint8_t qos,
				  uint32_t sub_id)
{
	if (!persist_on(w) || !s->persistent || (qos & 0x03) == 0)
		return NULL;
	struct store_batch *b = batch(w);
	struct msg *copy = b ? msg_clone(m, true) : NULL;
	if (!copy) {
		lost_op(w, FM_ENOMEM, "a retained delivery");
		return NULL;
	}
	copy->store_id = atomic_fetch_add_explicit(&w->b->next_msg_id, 1, memory_order_relaxed);
	/* qos keeps DELIVER_RETAIN: after a restart it still goes out as retained */
	struct store_message sm = stored(copy);
	int rc = store_msg_add(b, &sm);
	if (rc == FM_OK)
		rc = store_ref_add(b, id_of(s), s->id_len, copy->store_id, qos, STORE_REF_QUEUED, 0, sub_id);
	lost_op(w, rc, "a retained delivery");
	return copy;
}

void persist_retain(struct worker *w, const struct msg *m)
{
	if (!persist_on(w))
		return;
	struct store_batch *b = batch(w);
	struct store_message sm = stored(m);
	int rc = !b ? FM_ENOMEM
		 : m->payload_len ? store_retain_put(b, &sm)
				  : store_retain_del(b, m->topic, m->topic_len);
	lost_op(w, rc, "a retained message");
}

/* Queue entries exist only for logged messages of persistent sessions. */
static struct store_batch *entry_batch(struct worker *w, const struct session *s, const struct msg *m)
{
	if (!persist_on(w) || !s->persistent || m->store_id == 0)
		return NULL;
	struct store_batch *b = batch(w);
	lost_op(w, b ? FM_OK : FM_ENOMEM, "a delivery state");
	return b;
}

/* An entry's progress; true if written (the output must then wait). */
static bool record_state(struct worker *w, const struct session *s, const struct msg *m,
			 enum store_ref_state state, uint16_t packet_id)
{
	struct store_batch *b = entry_batch(w, s, m);
	if (!b)
		return false;
	/* held even when the write failed: the batch is poisoned, and its
	 * completion disconnects the client instead of releasing the output */
	lost_op(w, store_ref_state(b, id_of(s), s->id_len, m->store_id, state, packet_id), "a delivery state");
	return true;
}

bool persist_sent(struct worker *w, const struct session *s, const struct msg *m, uint16_t packet_id)
{
	return record_state(w, s, m, STORE_REF_SENT, packet_id);
}

bool persist_released(struct worker *w, const struct session *s, const struct msg *m, uint16_t packet_id)
{
	return record_state(w, s, m, STORE_REF_RELEASED, packet_id);
}

void persist_done(struct worker *w, const struct session *s, const struct msg *m, uint16_t packet_id)
{
	struct store_batch *b = entry_batch(w, s, m);
	if (b)
		lost_op(w, store_ref_del(b, id_of(s), s->id_len, m->store_id, packet_id), "an acknowledgement");
}

/* Session-level writes: only persistent sessions are stored. */
static struct store_batch *session_batch(struct worker *w, const struct session *s)
{
	if (!persist_on(w) || !s->persistent)
		return NULL;
	struct store_batch *b = batch(w);
	lost_op(w, b ? FM_OK : FM_ENOMEM, "a session change");
	return b;
}

void persist_session_put(struct worker *w, const struct session *s)
{
	struct store_batch *b = session_batch(w, s);
	if (b)
		lost_op(w, store_session_put(b, id_of(s), s->id_len, session_expiry_at_ms(s), s->expiry_interval),
			"a session");
}

void persist_session_del(struct worker *w, const struct session *s)
{
	struct store_batch *b = session_batch(w, s);
	if (b)
		lost_op(w, store_session_del(b, id_of(s), s->id_len), "a session end");
}

void persist_sub_put(struct worker *w, const struct session *s, const char *filter, size_t len, uint8_t options,
		     uint32_t sub_id)
{
	struct store_batch *b = session_batch(w, s);
	if (b)
		lost_op(w, store_sub_put(b, id_of(s), s->id_len, filter, len, options, sub_id), "a subscription");
}

void persist_sub_del(struct worker *w, const struct session *s, const char *filter, size_t len)
{
	struct store_batch *b = session_batch(w, s);
	if (b)
		lost_op(w, store_sub_del(b, id_of(s), s->id_len, filter, len), "an unsubscribe");
}

void persist_qos2_in(struct worker *w, const struct session *s, uint16_t packet_id, bool add)
{
	struct store_batch *b = session_batch(w, s);
	if (!b)
		return;
	int rc = add ? store_qos2_in_add(b, id_of(s), s->id_len, packet_id)
		     : store_qos2_in_del(b, id_of(s), s->id_len, packet_id);
	lost_op(w, rc, "a QoS 2 packet id");
}

struct msg *persist_msg_of(const struct store_message *sm, bool retain)
{
	struct msg_spec sp = { .topic = sm->topic, .topic_len = sm->topic_len, .payload = sm->payload,
			       .payload_len = sm->payload_len, .props = sm->props, .props_len = sm->props_len,
			       .qos = sm->qos, .retain = retain, .expires_at_ms = sm->expires_at_ms };
	struct msg *m = msg_make(&sp);
	if (m)
		m->store_id = sm->msg_id;
	return m;
}

int persist_queue_read(struct worker *w, struct session *s, uint32_t count, uint32_t seq)
{
	struct persist_batch *pb = current(w);
	if (!pb || fm_grow((void **)&pb->reads, &pb->cap_reads, pb->n_reads + 1, sizeof(*pb->reads), 4) != FM_OK)
		return FM_ENOMEM;
	uint32_t op = pb->sb.n_ops;
	int rc = store_queue_read(&pb->sb, id_of(s), s->id_len, count);
	if (rc != FM_OK)
		return rc;
	pb->reads[pb->n_reads++] = (struct queue_read){ .s = session_ref(s), .op = op, .seq = seq };
	return FM_OK;
}

/* Each read back of this batch, with its rows (none if it failed). */
static void reads_done(struct worker *w, struct persist_batch *pb, bool failed)
{
	const struct store_batch *sb = &pb->sb;
	uint32_t row = 0;
	for (uint32_t i = 0; i < pb->n_reads; i++) {
		const struct queue_read *r = &pb->reads[i];
		while (row < sb->n_rows && sb->rows[row].op < r->op)
			row++;
		uint32_t first = row;
		while (row < sb->n_rows && sb->rows[row].op == r->op)
			row++;
		spill_read_done(w, r->s, r->seq, sb->ops[r->op].count, sb, failed ? NULL : sb->rows + first,
				failed ? 0 : row - first, failed);
	}
}

bool persist_mark_spilled(struct worker *w, const struct session *s, const struct msg *m)
{
	struct store_batch *b = entry_batch(w, s, m);
	if (!b)
		return false;
	int rc = store_ref_state(b, id_of(s), s->id_len, m->store_id, STORE_REF_SPILLED, 0);
	lost_op(w, rc, "a spilled queue entry");
	return rc == FM_OK;
}

void persist_will_put(struct worker *w, const struct session *s, uint64_t publish_at_ms)
{
	struct store_batch *b = session_batch(w, s);
	if (!b || !s->will)
		return;
	struct store_message sm = stored(s->will);
	sm.expires_at_ms = publish_at_ms;
	lost_op(w, store_will_put(b, id_of(s), s->id_len, &sm, s->will->retain), "a delayed will");
}

void persist_will_del(struct worker *w, const struct session *s)
{
	struct store_batch *b = session_batch(w, s);
	if (b)
		lost_op(w, store_will_del(b, id_of(s), s->id_len), "a delayed will's removal");
}

/* --- acknowledgements that wait --------------------------------------------------- */

static void send_ack_now(struct client *c, uint8_t type, uint16_t packet_id, uint8_t reason)
{
	struct mqtt_ack ack = { .type = type, .packet_id = packet_id, .reason = reason };
	if (mqtt_encode_ack(&c->out, c->version, &ack) == FM_OK)
		client_mark_dirty(c);
}

static struct client_acks *acks_of(struct client *c)
{
	if (!c->acks)
		c->acks = calloc(1, sizeof(*c->acks));
	return c->acks;
}

static bool acks_push(struct client_acks *a, struct pending_ack p)
{
	if (a->n == a->cap) {
		uint32_t cap = a->cap ? a->cap * 2 : 16;
		struct pending_ack *v = malloc(cap * sizeof(*v));
		if (!v)
			return false;
		for (uint32_t i = 0; i < a->n; i++)
			v[i] = a->v[(a->head + i) % a->cap];
		free(a->v);
		a->v = v;
		a->head = 0;
		a->cap = cap;
	}
	a->v[(a->head + a->n++) % a->cap] = p;
	return true;
}

static bool add_waiter(struct persist_batch *pb, struct client *c)
{
	if (fm_grow((void **)&pb->waiters, &pb->cap_waiters, pb->n_waiters + 1, sizeof(*pb->waiters), 16) != FM_OK)
		return false;
	pb->waiters[pb->n_waiters++] = c;
	return true;
}

/* Make c a waiter on the current batch (once per batch). */
static bool wait_for_current(struct client *c, struct client_acks *a, struct persist_batch *pb)
{
	if (a->waits_on == pb->ticket)
		return true;
	if (!add_waiter(pb, c))
		return false;
	a->waits_on = pb->ticket;
	a->batches++;
	return true;
}

/* Send what no longer waits, oldest first. */
static void release_ready(struct client *c)
{
	struct client_acks *a = c->acks;
	while (a->n > 0) {
		struct pending_ack *p = &a->v[a->head];
		if (p->ticket > a->done_ticket)
			break;
		send_ack_now(c, p->type, p->packet_id, p->reason);
		a->head = (a->head + 1) % a->cap;
		a->n--;
	}
}

uint32_t persist_flow_ends_waiting(const struct client *c)
{
	const struct client_acks *a = c->acks;
	uint32_t n = 0;
	for (uint32_t i = 0; a && i < a->n; i++) {
		uint8_t type = a->v[(a->head + i) % a->cap].type;
		n += type == MQTT_PUBACK || type == MQTT_PUBCOMP;
	}
	return n;
}

void persist_ack(struct client *c, uint8_t type, uint16_t packet_id, uint8_t reason, bool after_commit)
{
	after_commit = after_commit && c->w->b->store_acks_wait;
	if (!after_commit && (!c->acks || c->acks->n == 0)) {
		send_ack_now(c, type, packet_id, reason);
		return;
	}
	struct client_acks *a = acks_of(c);
	struct persist_batch *pb = after_commit ? current(c->w) : NULL;
	uint64_t ticket = pb ? pb->ticket : 0;
	if (!a || (after_commit && !pb) || !acks_push(a, (struct pending_ack){ ticket, packet_id, type, reason }) ||
	    (pb && !wait_for_current(c, a, pb)))
		client_close(c, "out of memory holding an acknowledgement");
}

void persist_hold_output(struct client *c)
{
	if (!c->w->b->store_acks_wait)
		return;
	struct client_acks *a = acks_of(c);
	struct persist_batch *pb = current(c->w);
	uint32_t pos = c->bytes_written + (uint32_t)buf_used(&c->out);
	if (!a || !pb || fm_grow((void **)&a->holds, &a->cap_holds, a->n_holds + 1, sizeof(*a->holds), 4) != FM_OK ||
	    !wait_for_current(c, a, pb)) {
		client_close(c, "out of memory holding output for the store");
		return;
	}
	a->holds[a->n_holds++] = (struct output_hold){ .ticket = pb->ticket, .pos = pos };
}

size_t persist_writable(const struct client *c, size_t used)
{
	const struct client_acks *a = c->acks;
	if (!a || a->n_holds == 0)
		return used;
	size_t free_part = (uint32_t)(a->holds[0].pos - c->bytes_written); /* wraps like bytes_written */
	return free_part < used ? free_part : used;
}

/* Holds whose batch committed are lifted: their output may go. */
static void release_holds(struct client *c, struct client_acks *a)
{
	uint32_t k = 0;
	while (k < a->n_holds && a->holds[k].ticket <= a->done_ticket)
		k++;
	if (k == 0)
		return;
	memmove(a->holds, a->holds + k, (a->n_holds - k) * sizeof(*a->holds));
	a->n_holds -= k;
	client_flush_soon(c);
}

bool persist_client_closing(struct client *c)
{
	struct client_acks *a = c->acks;
	if (!a)
		return false;
	a->n = 0; /* never sent: the publisher resends after reconnecting */
	a->n_holds = 0;
	a->closing = true;
	return a->batches > 0;
}

void persist_client_free(struct client *c)
{
	if (c->acks) {
		free(c->acks->v);
		free(c->acks->holds);
		free(c->acks);
		c->acks = NULL;
	}
}

static void batch_came_back(struct worker *w, struct persist_batch *pb, struct client *c, bool failed)
{
	struct client_acks *a = c->acks;
	a->batches--;
	if (a->closing) {
		if (a->batches == 0)
			client_free_later(c);
		return;
	}
	if (failed) {
		client_close(c, "the store failed: messages not acknowledged");
		return;
	}
	if (pb->ticket > a->done_ticket)
		a->done_ticket = pb->ticket;
	release_ready(c);
	release_holds(c, a);
	(void)w;
}

/* Failures come in runs (a full disk fails every batch until there is
 * room): the first of a run is logged, then at most one line every
 * STORE_FAIL_LOG_MS with the count, and the end of the run. */
#define STORE_FAIL_LOG_MS 10000u

static void log_failure(struct worker *w, const struct persist_batch *pb)
{
	struct broker *b = w->b;
	uint64_t now = loop_now_ms(w->loop);
	uint64_t run = atomic_fetch_add(&b->store_fail_run, 1) + 1;
	unsigned long long last = atomic_load(&b->store_fail_logged_ms);
	if (run > 1 && now - last < STORE_FAIL_LOG_MS)
		return;
	if (!atomic_compare_exchange_strong(&b->store_fail_logged_ms, &last, now) && run > 1)
		return; /* another worker logs this round */
	if (pb->sb.rc == FM_EFULL)
		log_error(&w->b->log, "store full (the disk, or store_max_size): %llu batches failed so far; persistent "
			  "QoS 1/2 publishers are disconnected without acknowledgement until it has room, QoS 0 and "
			  "everything else go on", (unsigned long long)run);
	else
		log_error(&w->b->log, "store: %llu batches failed so far, the last of %u operations (%s); its publishers "
			  "are disconnected without acknowledgement", (unsigned long long)run,
			  pb->sb.n_ops, pb->poisoned ? "an operation was not recorded" : fm_strerror(pb->sb.rc));
}

static void log_recovery(struct worker *w)
{
	if (atomic_load_explicit(&w->b->store_fail_run, memory_order_relaxed) == 0)
		return;
	uint64_t run = atomic_exchange(&w->b->store_fail_run, 0);
	if (run)
		log_notice(&w->b->log, "store: writing again after %llu failed batches", (unsigned long long)run);
}

void persist_on_done(struct worker *w, struct persist_batch *pb)
{
	if (pb->sb.rc != FM_OK || pb->poisoned) {
		log_failure(w, pb);
		/* every batch already made may hang on this one (a message's
		 * operations here, its acknowledgement waiting on a later batch):
		 * they all count as failed */
		if (w->store_failed_through < w->store_ticket)
			w->store_failed_through = w->store_ticket;
	} else if (!store_batch_empty(&pb->sb)) {
		log_recovery(w);
	}
	bool failed = pb->ticket <= w->store_failed_through;
	/* a poisoned batch still committed: its reads read (and took) rows */
	reads_done(w, pb, pb->sb.rc != FM_OK);
	for (uint32_t i = 0; i < pb->n_waiters; i++)
		batch_came_back(w, pb, pb->waiters[i], failed);
	recycle(w, pb);
}
