/* Start-up recovery: rebuild the broker's state from the durable store
 * before any worker runs. Messages come first (kept in an id -> message
 * map while loading), then persistent sessions (offline, spread over the
 * workers), their subscriptions (into the router too), queue entries
 * (queued, or back in the inflight window with the packet id they were
 * sent with, so a resumed session resends them with DUP [MQTT-4.4.0-1]),
 * incoming QoS 2 ids, and retained messages. */
#include "proto/recover.h"

#include "core/clock.h"
#include "core/grow.h"
#include "proto/expiry.h"
#include "proto/persist.h"
#include "proto/subs.h"
#include "topic/level_map.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

struct msg_map {
	struct msg **slot;   /* open addressing by store id */
	size_t mask;
	size_t count;
};

struct recovery {
	struct broker *b;
	struct msg_map msgs;
	unsigned next_home;
	uint64_t now_wall_ms;
	struct store_batch fixups;    /* sessions whose deadline passed while we were down, or changed */
	uint32_t expired;
	size_t sessions, subscriptions, queued, inflight, retained, wills, skipped, spilled;
	struct session **split;      /* sessions whose waiting entries are re-split memory/store */
	uint32_t n_split, cap_split;
	struct pending_will **will_bucket; /* delayed wills by client id until their session loads */
};

/* A delayed will read before its session (the store hands wills over
 * first): the session decides what becomes of it. */
struct pending_will {
	struct pending_will *next;
	struct msg *will;
	uint64_t publish_at_ms;
	size_t id_len;
	char id[];
};

#define WILL_BUCKETS 4096u

static size_t will_slot(const char *id, size_t len)
{
	return level_hash(0x3111u, id, len) % WILL_BUCKETS;
}

static int will_keep(struct recovery *r, const char *id, size_t len, struct msg *will, uint64_t publish_at_ms)
{
	if (!r->will_bucket && (r->will_bucket = calloc(WILL_BUCKETS, sizeof(*r->will_bucket))) == NULL)
		return FM_ENOMEM;
	struct pending_will *p = malloc(sizeof(*p) + len);
	if (!p)
		return FM_ENOMEM;
	p->will = will;
	p->publish_at_ms = publish_at_ms;
	p->id_len = len;
	memcpy(p->id, id, len);
	size_t slot = will_slot(id, len);
	p->next = r->will_bucket[slot];
	r->will_bucket[slot] = p;
	return FM_OK;
}

/* The pending will of client id, taken out of the map, or NULL. */
static struct pending_will *will_take(struct recovery *r, const char *id, size_t len)
{
	if (!r->will_bucket)
		return NULL;
	for (struct pending_will **pp = &r->will_bucket[will_slot(id, len)]; *pp; pp = &(*pp)->next) {
		struct pending_will *p = *pp;
		if (p->id_len == len && memcmp(p->id, id, len) == 0) {
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

/* Wills whose session was not there (it ended as the will was written). */
static void wills_free(struct recovery *r)
{
	for (size_t i = 0; r->will_bucket && i < WILL_BUCKETS; i++) {
		for (struct pending_will *p = r->will_bucket[i], *next; p; p = next) {
			next = p->next;
			msg_unref(p->will);
			free(p);
			r->skipped++;
		}
	}
	free(r->will_bucket);
	r->will_bucket = NULL;
}

static size_t slot_of(const struct msg_map *m, uint64_t id)
{
	return (size_t)(id * 0x9E3779B97F4A7C15ull) & m->mask;
}

static int map_grow(struct msg_map *m)
{
	size_t cap = m->slot ? (m->mask + 1) * 2 : 1024;
	struct msg_map bigger = { .slot = calloc(cap, sizeof(struct msg *)), .mask = cap - 1 };
	if (!bigger.slot)
		return FM_ENOMEM;
	for (size_t i = 0; m->slot && i <= m->mask; i++) {
		struct msg *x = m->slot[i];
		if (!x)
			continue;
		size_t j = slot_of(&bigger, x->store_id);
		while (bigger.slot[j])
			j = (j + 1) & bigger.mask;
		bigger.slot[j] = x;
	}
	bigger.count = m->count;
	free(m->slot);
	*m = bigger;
	return FM_OK;
}

static int map_put(struct msg_map *m, struct msg *x)
{
	if ((m->count + 1) * 2 > (m->slot ? m->mask + 1 : 0) && map_grow(m) != FM_OK)
		return FM_ENOMEM;
	size_t j = slot_of(m, x->store_id);
	while (m->slot[j])
		j = (j + 1) & m->mask;
	m->slot[j] = x;
	m->count++;
	return FM_OK;
}

static struct msg *map_get(const struct msg_map *m, uint64_t id)
{
	if (!m->slot)
		return NULL;
	for (size_t j = slot_of(m, id); m->slot[j]; j = (j + 1) & m->mask)
		if (m->slot[j]->store_id == id)
			return m->slot[j];
	return NULL;
}

static void map_free(struct msg_map *m)
{
	for (size_t i = 0; m->slot && i <= m->mask; i++)
		msg_unref(m->slot[i]);
	free(m->slot);
}

/* The session's expiry interval: its own (5.0, or a 3.1.1 one stored
 * with persistent_client_expiration as it was), or, stored before
 * intervals were, persistent_client_expiration as it is now. */
static uint32_t interval_of(const struct broker *b, int64_t stored)
{
	uint64_t conf_s = b->workers[0].lim.session_expiry_s;
	if (stored != STORE_INTERVAL_UNKNOWN)
		return (uint32_t)stored;
	return conf_s == 0 || conf_s >= UINT32_MAX ? UINT32_MAX : (uint32_t)conf_s;
}

/* s's delayed will waits on (or goes at once, its delay having passed). */
static void will_restore(struct recovery *r, struct session *s, struct pending_will *p)
{
	session_will_set(s, p->will);
	session_will_restore(session_home(s), s, p->publish_at_ms, r->now_wall_ms);
	free(p);
	r->wills++;
}

static int on_session(void *arg, const char *id, size_t len, uint64_t expires_at_ms, int64_t stored_interval)
{
	struct recovery *r = arg;
	struct broker *b = r->b;
	uint32_t interval = interval_of(b, stored_interval);
	uint64_t expiry_s = interval == UINT32_MAX ? 0 : interval;
	uint64_t stored = expires_at_ms;
	struct pending_will *will = will_take(r, id, len);
	if (interval == 0)
		expires_at_ms = r->now_wall_ms; /* it was to end with its connection, which is gone */
	else if (expiry_s == 0)
		expires_at_ms = 0; /* never expires: no deadline */
	bool expired = expires_at_ms && expires_at_ms <= r->now_wall_ms;
	if (expired && !will) {
		r->expired++;
		return store_session_del(&r->fixups, id, len); /* its entries are skipped below */
	}
	/* expired with a will waiting: it is loaded and ends right after the
	 * start, which publishes the will [MQTT-3.1.3-9] */
	struct worker *home = &b->workers[r->next_home++ % b->n_workers];
	struct session *s = session_new(id, len, true, home);
	if (!s) {
		if (will)
			msg_unref(will->will);
		free(will);
		return FM_ENOMEM;
	}
	s->expiry_interval = interval;
	int rc = session_table_add(b->sessions, s);
	if (rc != FM_OK) {
		session_free(s);
		if (will)
			msg_unref(will->will);
		free(will);
		return rc;
	}
	if (will)
		will_restore(r, s, will);
	/* no deadline stored: it was online when last written, so its client
	 * has been away since the restart at most; its clock starts now */
	if (!expires_at_ms && expiry_s)
		expires_at_ms = r->now_wall_ms + expiry_s * 1000;
	if (expires_at_ms)
		session_expiry_restore(home, s, (uint32_t)(expires_at_ms / 1000), r->now_wall_ms);
	/* the deadline on disk follows: a second crash keeps this one */
	if ((expires_at_ms / 1000 != stored / 1000 || interval != stored_interval) &&
	    store_session_put(&r->fixups, id, len, expires_at_ms, interval) != FM_OK)
		return FM_ENOMEM;
	r->sessions++;
	return FM_OK;
}

static int on_subscription(void *arg, const char *id, size_t len, const char *filter, size_t filter_len,
			   uint8_t options, uint32_t sub_id)
{
	struct recovery *r = arg;
	struct session *s = session_table_get(r->b->sessions, id, len);
	if (!s) {
		r->skipped++;
		return FM_OK;
	}
	bool replaced;
	int rc = subs_add(r->b, s, filter, filter_len, options, sub_id, &replaced);
	if (rc == FM_OK)
		rc = replaced ? session_sub_set(s, filter, filter_len, options)
			      : session_sub_append(s, filter, filter_len, options);
	r->subscriptions += rc == FM_OK;
	return rc;
}

/* s's waiting entries (queued or spilled, in queue order) are split again
 * at the end of the load: the first max_queued_in_memory in memory, the
 * rest in the store only. A session is listed once (its spill state marks
 * it). */
static int needs_split(struct recovery *r, struct session *s)
{
	if (s->spill)
		return FM_OK;
	if ((s->spill = calloc(1, sizeof(*s->spill))) == NULL ||
	    fm_grow((void **)&r->split, &r->cap_split, r->n_split + 1, sizeof(*r->split), 16) != FM_OK)
		return FM_ENOMEM;
	r->split[r->n_split++] = s;
	return FM_OK;
}

/* The message an entry refers to, in memory: made once per message (the
 * map shares it between sessions), only for entries that stay in memory,
 * so a long queue's tail never passes through the broker's memory. One
 * past its expiry is still made: delivery drops it (and its entry) as it
 * would have live. */
static struct msg *msg_for(struct recovery *r, const struct store_message *sm)
{
	struct msg *m = map_get(&r->msgs, sm->msg_id);
	if (m)
		return m;
	if ((m = persist_msg_of(sm, false)) == NULL)
		return NULL;
	if (map_put(&r->msgs, m) != FM_OK) {
		msg_unref(m);
		return NULL;
	}
	return m;
}

/* Would s's next waiting entry stay in the store only? */
static bool spills(const struct recovery *r, const struct session *s)
{
	uint32_t cap = r->b->workers[0].lim.session.max_in_memory;
	return cap && (s->queued >= cap || (s->spill && s->spill->count));
}

/* Back in s's queue, whatever its limits: they applied when it was
 * queued; past max_queued_in_memory, counted as spilled instead. */
static int queue_again(struct recovery *r, struct session *s, const struct store_message *sm, uint8_t qos,
		       uint32_t sub_id, bool was_spilled)
{
	static const struct session_limits unlimited;
	bool spill = spills(r, s);
	if ((spill || was_spilled) && needs_split(r, s) != FM_OK)
		return FM_ENOMEM;
	r->queued++;
	if (spill) {
		r->spilled++;
		return session_spill_add(s, sm->topic_len + sm->payload_len);
	}
	struct msg *m = msg_for(r, sm);
	return m ? session_queue_push(s, m, qos, sub_id, &unlimited) : FM_ENOMEM;
}

static int apply_splits(struct recovery *r)
{
	for (uint32_t i = 0; i < r->n_split; i++) {
		struct session *s = r->split[i];
		if (store_queue_split(&r->fixups, s->client_id, s->id_len, s->queued) != FM_OK)
			return FM_ENOMEM;
	}
	free(r->split);
	r->split = NULL;
	return FM_OK;
}

static int on_queued(void *arg, const char *id, size_t len, const struct store_message *sm, uint8_t qos,
		     enum store_ref_state state, uint16_t packet_id, uint32_t sub_id)
{
	struct recovery *r = arg;
	struct session *s = session_table_get(r->b->sessions, id, len);
	if (!s) {
		r->skipped++; /* its session expired, or ended as the entry was written */
		return FM_OK;
	}
	if (state == STORE_REF_QUEUED || state == STORE_REF_SPILLED)
		return queue_again(r, s, sm, qos, sub_id, state == STORE_REF_SPILLED);
	struct msg *m = msg_for(r, sm);
	if (!m)
		return FM_ENOMEM;
	/* qos may carry DELIVER_RETAIN (a retained delivery): kept for the resend */
	enum inflight_state st = state == STORE_REF_RELEASED ? INFLIGHT_WAIT_PUBCOMP
				 : (qos & 0x03) == 1	     ? INFLIGHT_WAIT_PUBACK
							     : INFLIGHT_WAIT_PUBREC;
	int rc = session_inflight_restore(s, m, qos, sub_id, packet_id, st);
	if (rc == FM_EINVAL) {
		/* a packet id 0 or one taken twice: not to be trusted, but the
		 * message is: it goes out again under a new id rather than not */
		log_warn(&r->b->log, "store: session %s: in-flight entry with unusable packet id %u queued again",
			 s->client_id, packet_id);
		return queue_again(r, s, sm, qos, sub_id, false);
	}
	r->inflight += rc == FM_OK;
	return rc;
}

static int on_qos2_in(void *arg, const char *id, size_t len, uint16_t packet_id)
{
	struct recovery *r = arg;
	struct session *s = session_table_get(r->b->sessions, id, len);
	return s ? session_qos2_in_add(s, packet_id) : FM_OK;
}

/* A retained message whose expiry passed while the broker was down is
 * gone [MQTT-3.3.2-5]: from the store too. */
static int on_retained(void *arg, const struct store_message *sm)
{
	struct recovery *r = arg;
	if (sm->expires_at_ms && sm->expires_at_ms <= r->now_wall_ms)
		return store_retain_del(&r->fixups, sm->topic, sm->topic_len);
	struct msg *m = persist_msg_of(sm, true);
	if (!m)
		return FM_ENOMEM;
	int rc = retain_tree_set(r->b->retained, m->topic, m->topic_len, m);
	if (rc != FM_OK)
		msg_unref(m);
	r->retained += rc == FM_OK;
	return rc;
}

/* A will that waited for its delay when the broker stopped; kept until
 * its session is read (the store hands wills over before sessions). */
static int on_will(void *arg, const char *id, size_t len, const struct store_message *sm, bool retain,
		   uint64_t publish_at_ms)
{
	struct recovery *r = arg;
	struct msg *will = persist_msg_of(sm, retain);
	if (!will)
		return FM_ENOMEM;
	int rc = will_keep(r, id, len, will, publish_at_ms);
	if (rc != FM_OK)
		msg_unref(will);
	return rc;
}

static void applied(struct store_batch *b) { (void)b; }

/* Sessions that expired while the broker was down go from the store now,
 * and deadlines set (or dropped) at this start are written. */
static int apply_fixups(struct broker *b, struct recovery *r, struct fm_errbuf *eb)
{
	if (r->fixups.n_ops == 0)
		return FM_OK;
	store_apply_now(b->store, &r->fixups);
	if (r->fixups.rc != FM_OK)
		return fm_errbuf_set(eb, "store %s: writing session deadlines failed", b->conf.persistence_location),
		       FM_ESTORE;
	if (r->expired)
		log_notice(&b->log, "store: %u sessions expired while the broker was down (persistent_client_expiration)",
			   r->expired);
	return FM_OK;
}

int broker_recover(struct broker *b, struct fm_errbuf *eb)
{
	struct recovery r = { .b = b, .now_wall_ms = clock_wall_ms() };
	store_batch_init(&r.fixups, applied);
	struct store_loader l = {
		.arg = &r, .session = on_session, .subscription = on_subscription,
		.queued = on_queued, .qos2_in = on_qos2_in, .retained = on_retained, .will = on_will,
	};
	uint64_t t0 = clock_mono_ms(), max_id = 0;
	int rc = store_load(b->store, &l, &max_id, eb);
	size_t messages = r.msgs.count;
	map_free(&r.msgs);
	wills_free(&r);
	if (rc == FM_OK && apply_splits(&r) != FM_OK)
		rc = FM_ENOMEM;
	free(r.split);
	if (rc == FM_OK)
		rc = apply_fixups(b, &r, eb);
	store_batch_fini(&r.fixups);
	if (rc != FM_OK)
		return rc;
	atomic_store(&b->next_msg_id, max_id + 1);
	log_notice(&b->log, "store %s: recovered %zu sessions, %zu subscriptions, %zu messages (%zu queued, "
		   "%zu in flight, %zu of the queued only in the store), %zu retained, %zu delayed wills in %llu ms%s",
		   b->conf.persistence_location, r.sessions, r.subscriptions, messages, r.queued, r.inflight, r.spilled,
		   r.retained, r.wills, (unsigned long long)(clock_mono_ms() - t0),
		   r.skipped ? " (entries of ended or expired sessions skipped)" : "");
	return FM_OK;
}
