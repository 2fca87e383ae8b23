/* Session expiry (see expiry.h). The deadline lives in a small allocation
 * made only while a session has one: every session, online or not, would
 * otherwise pay for a timer most of them never arm. */
#include "proto/expiry.h"

#include "core/clock.h"
#include "proto/persist.h"
#include "proto/proto.h"

#include <stdlib.h>

struct session_expiry {
	struct loop_timer timer;  /* on the home worker's loop while armed */
	struct session *s;
	uint32_t at_s;            /* wall clock seconds, as the store holds it */
};

static void on_expiry(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct session *s = list_entry(t, struct session_expiry, timer)->s;
	struct worker *w = session_home(s);
	log_notice(&w->b->log, "session %s expired: offline longer than persistent_client_expiration", s->client_id);
	proto_session_end(w, s);
}

/* Arm s's deadline at_s, delay_ms from now on w's loop. False on ENOMEM
 * (the session then simply does not expire). */
static bool arm(struct worker *w, struct session *s, uint32_t at_s, uint64_t delay_ms)
{
	if (!s->expiry) {
		if ((s->expiry = calloc(1, sizeof(*s->expiry))) == NULL)
			return false;
		loop_timer_init(&s->expiry->timer, on_expiry);
		s->expiry->s = s;
	}
	s->expiry->at_s = at_s;
	loop_timer_start(w->loop, &s->expiry->timer, delay_ms);
	return true;
}

uint64_t session_expiry_at_ms(const struct session *s)
{
	return s->expiry ? (uint64_t)s->expiry->at_s * 1000 : 0;
}

void session_expiry_start(struct worker *w, struct session *s)
{
	uint64_t after_s = w->lim.session_expiry_s;
	if (!s->persistent || after_s == 0)
		return;
	uint64_t at_s = clock_wall_ms() / 1000 + after_s;
	if (arm(w, s, at_s > UINT32_MAX ? UINT32_MAX : (uint32_t)at_s, after_s * 1000))
		persist_session_put(w, s);
}

void session_expiry_stop(struct worker *w, struct session *s)
{
	if (s->expiry)
		loop_timer_stop(w->loop, &s->expiry->timer);
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
	if (!s->expiry)
		return;
	uint64_t at_ms = (uint64_t)s->expiry->at_s * 1000, now = clock_wall_ms();
	loop_timer_start(w->loop, &s->expiry->timer, at_ms > now ? at_ms - now : 0);
}

void session_expiry_restore(struct worker *home, struct session *s, uint32_t expires_at_s, uint64_t now_wall_ms)
{
	uint64_t at_ms = (uint64_t)expires_at_s * 1000;
	arm(home, s, expires_at_s, at_ms > now_wall_ms ? at_ms - now_wall_ms : 0);
}
