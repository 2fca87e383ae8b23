/* Routing: match a message against the subscription tree, collapse the
 * matches to one target per session at the highest granted QoS
 * [MQTT-3.3.5-1], deliver to sessions homed on this worker and send one
 * batch per other worker to its inbox. The retained tree is updated here
 * too.
 *
 * Matching runs under the tree's read lock. Sessions homed elsewhere get a
 * reference while the lock is held (their home may end them as soon as it
 * is released); sessions homed here need none, since only this thread can
 * end or move them. The targets array is per worker, grows geometrically
 * and is reused across messages: no allocation per message here. */
#include "core/grow.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/subs.h"
#include "proto/worker.h"

#include <stdint.h>
#include <stdlib.h>

static bool targets_reserve(struct worker *w)
{
	return fm_grow((void **)&w->targets, &w->cap_targets, w->n_targets + 1, sizeof(*w->targets), 64) == FM_OK;
}

struct collect_ctx {
	struct worker *w;
	const struct session *from;  /* the publisher's session, NULL for wills */
	const struct msg *m;
};


/* How fit a shared group's member is to take the next message: online and
 * keeping up, online, or at least a persistent session whose queue keeps
 * it (4.8.2: a member that disconnected or is saturated is passed over
 * while another can take the message). */
static int member_fitness(const struct session *s)
{
	if (atomic_load_explicit(&s->dead, memory_order_relaxed))
		return 0;
	if (atomic_load_explicit(&s->online, memory_order_relaxed))
		return atomic_load_explicit(&s->saturated, memory_order_relaxed) ? 2 : 3;
	return s->persistent ? 1 : 0;
}

/* One member of a shared group for this message, taking turns: the first
 * fittest member from the group's round-robin position. NULL if none can
 * take it. */
static const struct share_member *pick_member(struct share_group *g)
{
	const struct share_member *v;
	uint32_t n = share_members(g, &v);
	if (n == 0)
		return NULL;
	uint32_t start = share_next(g) % n;
	const struct share_member *best = NULL;
	int best_fit = 0;
	for (uint32_t i = 0; i < n && best_fit < 3; i++) {
		const struct share_member *m = &v[(start + i) % n];
		int fit = member_fitness(m->subscriber);
		if (fit > best_fit) {
			best = m;
			best_fit = fit;
		}
	}
	return best;
}

static void collect(void *arg, const struct topic_sub *entry)
{
	struct collect_ctx *cx = arg;
	struct worker *w = cx->w;
	struct topic_sub member;
	const struct topic_sub *sub = entry;
	bool shared = entry->options & TOPIC_SUB_SHARED;
	if (shared) {
		const struct share_member *m = pick_member(entry->subscriber);
		if (!m)
			return;
		member = (struct topic_sub){ .subscriber = m->subscriber, .options = m->options, .sub_id = m->sub_id };
		sub = &member;
	}
	struct session *s = sub->subscriber;
	if ((sub->options & SUB_NO_LOCAL) && s == cx->from)
		return;
	if (!targets_reserve(w)) {
		counter_inc(&w->stats.dropped_queue); /* out of memory: this delivery is lost, counted */
		return;
	}
	struct worker *home = session_home(s);
	if (home != w)
		session_ref(s);
	uint8_t flags = (sub->options & SUB_RETAIN_AS_PUBLISHED) && cx->m->retain ? DELIVER_RETAIN : 0;
	w->targets[w->n_targets++] = (struct route_target){
		.s = s, .home = home, .qos = (uint8_t)((sub->options & 0x03) | flags), .shared = shared,
		.sub_id = sub->sub_id };
}

/* Order by home worker, then session: runs of one home become one batch,
 * and duplicates of one session (overlapping filters) sit side by side. */
static int by_home_then_session(const void *a, const void *b)
{
	const struct route_target *x = a, *y = b;
	uintptr_t hx = (uintptr_t)x->home, hy = (uintptr_t)y->home;
	if (hx != hy)
		return hx < hy ? -1 : 1;
	uintptr_t sx = (uintptr_t)x->s, sy = (uintptr_t)y->s;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (x->sub_id != y->sub_id)
		return x->sub_id < y->sub_id ? -1 : 1;
	return (x->qos & DELIVER_RETAIN) - (y->qos & DELIVER_RETAIN);
}

/* Overlapping filters of one session become one delivery at the highest
 * QoS [MQTT-3.3.4-2] when they carry the same subscription identifier and
 * Retain As Published; filters that differ in those are delivered once
 * each, every copy with its own identifier [MQTT-3.3.4-5]. A shared
 * group's copy is the group's own, whoever else the member is (4.8.2). */
static bool same_delivery(const struct route_target *a, const struct route_target *b)
{
	return a->s == b->s && !a->shared && !b->shared && a->sub_id == b->sub_id &&
	       (a->qos & DELIVER_RETAIN) == (b->qos & DELIVER_RETAIN);
}

static void dedupe(struct worker *w)
{
	if (w->n_targets < 2)
		return;
	qsort(w->targets, w->n_targets, sizeof(w->targets[0]), by_home_then_session);
	uint32_t out = 0;
	for (uint32_t i = 0; i < w->n_targets; i++) {
		struct route_target *t = &w->targets[i];
		struct route_target *last = out ? &w->targets[out - 1] : NULL;
		if (last && same_delivery(last, t)) {
			if ((t->qos & 0x03) > (last->qos & 0x03))
				last->qos = t->qos;
			if (t->home != w)
				session_unref(t->s); /* the duplicate's extra reference */
			continue;
		}
		w->targets[out++] = *t;
	}
	w->n_targets = out;
}

/* Publishers feeding a saturated subscriber are paused (backpressure):
 * directly for one on this worker, through the session's saturated flag
 * and a WAKE message for one homed elsewhere. */
static void apply_backpressure(struct client *from, struct session *target)
{
	struct client *tc = target->owner;
	if (from && tc && atomic_load_explicit(&target->saturated, memory_order_relaxed))
		client_pause_for(from, tc);
}

static uint8_t delivery_qos(const struct route_target *t, const struct msg *m)
{
	uint8_t granted = t->qos & 0x03;
	return (uint8_t)((granted < m->qos ? granted : m->qos) | (t->qos & DELIVER_RETAIN)); /* [MQTT-3.8.4-6] */
}

bool route_publish(struct worker *w, struct client *from, struct msg *m)
{
	struct broker *b = w->b;
	w->n_targets = 0;
	struct collect_ctx cx = { .w = w, .from = from ? from->session : NULL, .m = m };
	pthread_rwlock_rdlock(&b->subs_lock);
	topic_tree_match(b->subs, m->topic, m->topic_len, collect, &cx);
	pthread_rwlock_unlock(&b->subs_lock);
	dedupe(w);
	for (uint32_t i = 0; i < w->n_targets; i++)
		w->targets[i].qos = delivery_qos(&w->targets[i], m);
	/* logged before any delivery: a queue entry precedes its progress */
	bool logged = persist_route(w, m, w->targets, w->n_targets);
	for (uint32_t i = 0; i < w->n_targets;) {
		struct route_target *t = &w->targets[i];
		if (t->home == w) {
			deliver_msg(w, t->s, m, t->qos, t->sub_id);
			apply_backpressure(from, t->s);
			i++;
			continue;
		}
		uint32_t run = 1;
		while (i + run < w->n_targets && w->targets[i + run].home == t->home)
			run++;
		for (uint32_t k = 0; k < run; k++) {
			struct session *ts = t[k].s;
			/* deliveries waiting in the home's inbox are its backlog:
			 * too many, and publishers wait as for a saturated client */
			unsigned backlog = atomic_fetch_add(&ts->inbound, 1) + 1;
			if (from && (backlog > FM_INBOUND_HIGH ||
				     atomic_load_explicit(&ts->saturated, memory_order_relaxed)))
				client_pause_for_remote(from, ts);
		}
		worker_queue_deliver(w, t->home, m, t, run); /* the references travel */
		i += run;
	}
	return logged;
}

uint64_t route_retained_size(const void *value)
{
	const struct msg *m = value;
	return (uint64_t)m->topic_len + m->payload_len + m->props_len;
}

void route_retained_unref(void *value)
{
	msg_unref(value);
}

/* stored: also write it to the durable store (under the lock, see below). */
static void retain_set(struct worker *w, struct msg *m, bool stored)
{
	struct broker *b = w->b;
	/* a retained message with an empty payload removes the stored one
	 * and is not itself stored [MQTT-3.3.1-10], [MQTT-3.3.1-11] */
	void *value = m->payload_len ? msg_ref(m) : NULL;
	pthread_rwlock_wrlock(&b->retained_lock);
	int rc = retain_tree_set(b->retained, m->topic, m->topic_len, value);
	if (rc == FM_OK && stored) {
		/* submitted under the lock: two workers setting one topic reach
		 * the store in the order the tree saw them, so a restart brings
		 * back the newest, not whichever batch went last */
		persist_retain(w, m);
		persist_flush(w);
	}
	pthread_rwlock_unlock(&b->retained_lock);
	if (rc != FM_OK && value)
		msg_unref(m);
}

void route_retain(struct worker *w, struct msg *m)
{
	retain_set(w, m, true);
}

void route_retain_volatile(struct worker *w, struct msg *m)
{
	retain_set(w, m, false);
}
