/* Session deadlines (see expiry.h): the session's own expiry and a will
 * waiting for its delay. They live in a small allocation made only while a
 * session has one: every session, online or not, would otherwise pay for
 * timers most of them never arm. */
#include "proto/expiry.h"

#include "core/clock.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/will.h"

#include <stdlib.h>

struct session_expiry {
	struct loop_timer timer;      /* session end, on the home worker's loop while armed */
	struct loop_timer will_timer; /* delayed will, likewise */
	struct session *s;
	uint32_t at_s;                /* wall clock seconds, as the store holds it; 0: none */
	uint32_t will_at_s;           /* 0: no will waiting */
};

static void on_expiry(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = list_entry(t, struct session_expiry, timer)->s;
	struct worker *w = session_home(s);
	log_notice(&w->b->log, "session %s expired: offline longer than its expiry interval", s->client_id);
	counter_inc(&w->stats.sessions_expired);
	proto_session_end(w, s);
}

static void on_will_due(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session_expiry *e = list_entry(t, struct session_expiry, will_timer);
	struct session *s = e->s;
	e->will_at_s = 0;
	will_publish_pending(session_home(s), s);
}

static struct session_expiry *deadlines_of(struct session *s)
{
	if (!s->expiry) {
		if ((s->expiry = calloc(1, sizeof(*s->expiry))) == NULL)
			return NULL;
		loop_timer_init(&s->expiry->timer, on_expiry);
		loop_timer_init(&s->expiry->will_timer, on_will_due);
		s->expiry->s = s;
	}
	return s->expiry;
}

static uint64_t ms_until(uint32_t at_s, uint64_t now_ms)
{
	uint64_t at_ms = (uint64_t)at_s * 1000;
	return at_ms > now_ms ? at_ms - now_ms : 0;
}

/* The wall-clock second delay_s from now, rounded up: a deadline kept in
 * whole seconds (and in the store, for a restart) must never come early,
 * or a will restored after a restart would go out before its delay
 * [MQTT-3.1.3-9]. */
static uint32_t wall_s_after(uint64_t delay_s)
{
	uint64_t at_s = (clock_wall_ms() + 999) / 1000 + delay_s;
	return at_s > UINT32_MAX ? UINT32_MAX : (uint32_t)at_s;
}

/* Arm s's deadline at_s, delay_ms from now on w's loop. False on ENOMEM
 * (the session then simply does not expire). */
static bool arm(struct worker *w, struct session *s, uint32_t at_s, uint64_t delay_ms)
{
	struct session_expiry *e = deadlines_of(s);
	if (!e)
		return false;
	e->at_s = at_s;
	loop_timer_start(w->loop, &e->timer, delay_ms);
	return true;
}

uint64_t session_expiry_at_ms(const struct session *s)
{
	return s->expiry ? (uint64_t)s->expiry->at_s * 1000 : 0;
}

void session_expiry_start(struct worker *w, struct session *s)
{
	uint32_t after_s = s->expiry_interval;
	if (!s->persistent || after_s == 0 || after_s == UINT32_MAX)
		return; /* ends with its connection, or never */
	if (arm(w, s, wall_s_after(after_s), (uint64_t)after_s * 1000))
		persist_session_put(w, s);
}

void session_expiry_stop(struct worker *w, struct session *s)
{
	if (!s->expiry)
		return;
	loop_timer_stop(w->loop, &s->expiry->timer);
	loop_timer_stop(w->loop, &s->expiry->will_timer);
}

void session_expiry_clear(struct worker *w, struct session *s)
{
	if (!s->expiry)
		return;
	session_expiry_stop(w, s);
	free(s->expiry);
	s->expiry = NULL;
	persist_session_put(w, s); /* no deadline on disk either */
}

void session_expiry_resume(struct worker *w, struct session *s)
{
	struct session_expiry *e = s->expiry;
	if (!e)
		return;
	uint64_t now = clock_wall_ms();
	if (e->at_s)
		loop_timer_start(w->loop, &e->timer, ms_until(e->at_s, now));
	if (e->will_at_s)
		loop_timer_start(w->loop, &e->will_timer, ms_until(e->will_at_s, now));
}

void session_expiry_restore(struct worker *home, struct session *s, uint32_t expires_at_s, uint64_t now_wall_ms)
{
	arm(home, s, expires_at_s, ms_until(expires_at_s, now_wall_ms));
}

uint64_t session_will_arm(struct worker *w, struct session *s, uint32_t delay_s)
{
	struct session_expiry *e = deadlines_of(s);
	if (!e)
		return 0;
	e->will_at_s = wall_s_after(delay_s);
	loop_timer_start(w->loop, &e->will_timer, (uint64_t)delay_s * 1000);
	return (uint64_t)e->will_at_s * 1000;
}

bool session_will_disarm(struct worker *w, struct session *s)
{
	struct session_expiry *e = s->expiry;
	if (!e || !e->will_at_s)
		return false;
	loop_timer_stop(w->loop, &e->will_timer);
	e->will_at_s = 0;
	return true;
}

void session_will_restore(struct worker *home, struct session *s, uint64_t publish_at_ms, uint64_t now_wall_ms)
{
	struct session_expiry *e = deadlines_of(s);
	if (!e)
		return; /* out of memory: the will goes when the session ends */
	e->will_at_s = (uint32_t)(publish_at_ms / 1000);
	if (e->will_at_s == 0)
		e->will_at_s = 1;
	loop_timer_start(home->loop, &e->will_timer, publish_at_ms > now_wall_ms ? publish_at_ms - now_wall_ms : 0);
}
