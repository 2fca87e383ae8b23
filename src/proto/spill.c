/* Queue spilling (spill.h). */
#include "proto/spill.h"

#include "proto/persist.h"
#include "proto/proto.h"

static bool spilling(const struct session *s)
{
	return s->spill && s->spill->count > 0;
}

bool spill_entry(struct worker *w, struct session *s, struct msg *m)
{
	uint32_t cap = w->lim.session.max_in_memory;
	if (!persist_on(w) || !s->persistent || m->store_id == 0)
		return false;
	/* while entries wait in the store, later ones follow them there (also
	 * after a reload turned spilling off: order), else only past the cap */
	if (!spilling(s) && (cap == 0 || s->queued < cap))
		return false;
	/* the spill state first: with it, a recorded mark always has its count */
	if (session_spill_add(s, msg_size(m)) != FM_OK)
		return false;
	if (!persist_mark_spilled(w, s, m)) {
		s->spill->count--;
		s->spill->bytes -= msg_size(m);
		return false; /* not recorded: it stays in memory */
	}
	return true;
}

void spill_refill(struct worker *w, struct session *s)
{
	struct session_spill *sp = s->spill;
	uint32_t cap = w->lim.session.max_in_memory;
	if (!sp || sp->count == 0 || sp->reading || !persist_on(w))
		return;
	if (cap && s->queued > cap / 2)
		return;
	/* spilling turned off by a reload: bring the rest back */
	uint32_t want = cap ? cap - s->queued : sp->count;
	if (persist_queue_read(w, s, want, sp->read_seq + 1) != FM_OK)
		return; /* out of memory: the next drain asks again */
	sp->read_seq++;
	sp->reading = true;
	sp->count_at_read = sp->count;
}

static struct msg *msg_of_row(const struct store_batch *sb, const struct store_row *r)
{
	struct store_message sm = { .msg_id = r->msg_id, .topic = store_row_bytes(sb, r->topic),
				    .topic_len = r->topic.len, .payload = store_row_bytes(sb, r->payload),
				    .payload_len = r->payload.len, .props = store_row_bytes(sb, r->props),
				    .props_len = r->props.len, .qos = r->msg_qos, .expires_at_ms = r->expires_at_ms };
	return persist_msg_of(&sm, false);
}

/* The rows join the memory part, in order. The store is the truth about
 * what was spilled when the read ran: fewer rows than asked means every
 * entry counted then has been read (or has gone: expired, swept); entries
 * spilled since (their marks come after the read) stay counted. */
static void take_rows(struct worker *w, struct session *s, const struct store_batch *sb, const struct store_row *rows,
		      uint32_t n, uint32_t asked)
{
	static const struct session_limits unlimited;
	struct session_spill *sp = s->spill;
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct msg *m = msg_of_row(sb, &rows[i]);
		if (!m || session_queue_push(s, m, rows[i].qos, rows[i].sub_id, &unlimited) != FM_OK) {
			/* out of memory: the row is queued (state 0) in the store now,
			 * so it comes back at the next restart, not before */
			log_error(&w->b->log, "session %s: out of memory reading back a queued message", s->client_id);
			msg_unref(m);
			counter_inc(&w->stats.dropped_queue);
			continue;
		}
		bytes += msg_size(m);
		msg_unref(m); /* the queue holds its own */
	}
	uint32_t gone = n < asked ? sp->count_at_read : n;
	sp->count = gone >= sp->count ? 0 : sp->count - gone;
	sp->bytes = sp->count == 0 || bytes >= sp->bytes ? 0 : sp->bytes - bytes;
}

void spill_read_done(struct worker *w, struct session *s, uint32_t seq, uint32_t asked, const struct store_batch *sb,
		     const struct store_row *rows, uint32_t n, bool failed)
{
	struct session_spill *sp = s->spill;
	/* ended, moved (the new home reads for itself), or an older read */
	if (atomic_load(&s->dead) || session_home(s) != w || !sp || !sp->reading || sp->read_seq != seq)
		return;
	sp->reading = false;
	if (failed) {
		spill_refill(w, s); /* asked again: no drain may come to ask (nothing in flight) */
		return;
	}
	take_rows(w, s, sb, rows, n, asked);
	if (s->owner)
		deliver_pump(w, s);
}

