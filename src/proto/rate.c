/* The per-client publish rate limit (rate.h). */
#include "proto/rate.h"
#include "proto/client.h"
#include "proto/worker.h"

#include <stdlib.h>

struct client_rate {
	struct loop_timer timer;  /* resumes the client when a token is due */
	struct client *c;
	double tokens;
	uint64_t last_ms;         /* loop time of the last refill */
};

static void on_due(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct client_rate *r = list_entry(t, struct client_rate, timer);
	client_resume(r->c);
}

static struct client_rate *rate_of(struct client *c, uint32_t limit)
{
	if (c->rate)
		return c->rate;
	c->rate = malloc(sizeof(*c->rate));
	if (!c->rate)
		return NULL; /* out of memory: no limit for this client */
	c->rate->c = c;
	c->rate->tokens = limit; /* a new client starts with a full second */
	c->rate->last_ms = loop_now_ms(c->w->loop);
	loop_timer_init(&c->rate->timer, on_due);
	return c->rate;
}

bool rate_admit(struct client *c)
{
	uint32_t limit = c->w->lim.max_publish_rate;
	struct client_rate *r = limit ? rate_of(c, limit) : NULL;
	if (!r)
		return true;
	uint64_t now = loop_now_ms(c->w->loop);
	r->tokens += (double)(now - r->last_ms) * limit / 1000.0;
	if (r->tokens > limit)
		r->tokens = limit; /* a reload may have lowered it */
	r->last_ms = now;
	if (r->tokens >= 1.0) {
		r->tokens -= 1.0;
		return true;
	}
	/* the next token, at least one wheel tick away */
	uint64_t wait = (uint64_t)((1.0 - r->tokens) * 1000.0 / limit) + 1;
	client_pause(c);
	loop_timer_start(c->w->loop, &r->timer, wait);
	return false;
}

void rate_stop(struct client *c)
{
	if (c->rate)
		loop_timer_stop(c->w->loop, &c->rate->timer);
}

void rate_free(struct client *c)
{
	free(c->rate);
	c->rate = NULL;
}
