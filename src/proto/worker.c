/* Worker threads: start, stop, and the inbox messages between workers
 * (see worker.h for the protocol). */
#include "proto/worker.h"
#include "proto/accept.h"
#include "net/ws.h"
#include "proto/auth_rules.h"

#include "proto/client.h"
#include "proto/expiry.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/sys_topics.h"
#include "proto/worker_msg.h"
#include "proto/worker_poll.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCRATCH_BYTES (64u * 1024u)

/* TAKEOVER and HANDOFF: the session (a reference) and the waiting client. */
struct wmsg_handover {
	struct wmsg h;
	struct session *s;
	struct client *c;
};

struct wmsg_limits {
	struct wmsg h;
	struct worker_limits lim;
};

static void post_handover(struct worker *w, enum wmsg_type type, struct session *s, struct client *c)
{
	/* A handover cannot be dropped: the waiting client would never be
	 * answered. Allocation failure here is treated as fatal. */
	struct wmsg_handover *h = malloc(sizeof(*h));
	if (!h)
		fm_panic("out of memory posting a session handover");
	h->s = s;
	h->c = c;
	wmsg_post(w, &h->h, type);
}

void worker_post_takeover(struct worker *w, struct session *s, struct client *c)
{
	post_handover(w, WMSG_TAKEOVER, s, c);
}

int worker_post_limits(struct worker *w, const struct worker_limits *lim)
{
	struct wmsg_limits *l = malloc(sizeof(*l));
	if (!l)
		return FM_ENOMEM; /* the worker keeps its previous limits */
	l->lim = *lim;
	wmsg_post(w, &l->h, WMSG_LIMITS);
	return FM_OK;
}

void worker_post_wake(struct worker *w)
{
	struct wmsg *m = malloc(sizeof(*m));
	if (!m)
		fm_panic("out of memory posting a wake-up"); /* publishers would stay paused */
	wmsg_post(w, m, WMSG_WAKE);
}

/* --- handling ----------------------------------------------------------- */

/* The home applied a delivery: once the backlog is down to half, the
 * publishers that paused on it may go (unless the session is saturated
 * for another reason; its own drain wakes them then). */
static void backlog_applied(struct worker *w, struct session *s)
{
	if (atomic_fetch_sub(&s->inbound, 1) - 1 > FM_INBOUND_HIGH / 2 || atomic_load(&s->saturated))
		return;
	if (atomic_load(&s->waiting_workers) == 0)
		return;
	unsigned mask = atomic_exchange(&s->waiting_workers, 0);
	for (unsigned i = 0; mask; i++, mask >>= 1)
		if (mask & 1)
			worker_post_wake(&w->b->workers[i]);
}

static void on_deliver(struct worker *w, struct deliver_batch *d)
{
	for (uint32_t i = 0; i < d->n; i++) {
		struct delivery *it = &d->item[i];
		struct session *s = it->s;
		struct worker *home = session_home(s);
		backlog_applied(w, s);
		if (atomic_load(&s->dead)) {
			session_unref(s);
		} else if (home != w) {
			/* it moved: follow it (the reference travels on) */
			struct route_target t = { .s = s, .home = home, .qos = it->qos, .sub_id = it->sub_id };
			atomic_fetch_add_explicit(&s->inbound, 1, memory_order_relaxed);
			worker_queue_deliver(w, home, it->m, &t, 1);
		} else {
			deliver_msg(w, s, it->m, it->qos, it->sub_id);
			session_unref(s);
		}
		if (deliver_run_ends(d, i))
			msg_unref(it->m);
	}
	d->n = 0;
	deliver_batch_return(d);
}

/* We are (or were) the session's home; another worker's client wants it. */
static void on_takeover(struct worker *w, struct wmsg_handover *h)
{
	struct session *s = h->s;
	struct worker *home = session_home(s);
	if (!atomic_load(&s->dead) && home != w) {
		post_handover(home, WMSG_TAKEOVER, s, h->c); /* moved meanwhile */
		free(h);
		return;
	}
	/* spilled entries being read back: the rows land in this worker's
	 * memory part of the queue, which then travels with the session; the
	 * takeover waits (a store round trip) rather than leave them behind */
	if (!atomic_load(&s->dead) && s->spill && s->spill->reading) {
		post_handover(w, WMSG_TAKEOVER, s, h->c);
		free(h);
		return;
	}
	if (!atomic_load(&s->dead) && s->owner)
		client_drain_input(s->owner); /* acks it sent before the new CONNECT */
	if (!atomic_load(&s->dead) && s->owner)
		client_close_rc(s->owner, MQTT_RC_SESSION_TAKEN_OVER, "session taken over by a new connection"); /* [MQTT-3.1.4-2] */
	/* detaching may have ended a clean session; otherwise hand it over
	 * now that nothing here touches it any more */
	struct worker *to = client_worker(h->c);
	if (!atomic_load(&s->dead)) {
		session_expiry_stop(w, s); /* its timer is in our loop */
		atomic_store_explicit(&s->home, to, memory_order_release);
	}
	/* what we wrote about the session (the old connection's last acks,
	 * its close, entries routed here) reaches the store before anything
	 * its new home writes */
	persist_flush(w);
	post_handover(to, WMSG_HANDOFF, s, h->c);
	free(h);
}

static void on_handoff(struct worker *w, struct wmsg_handover *h)
{
	client_handoff_done(h->c);
	/* the client that asked left before taking it: offline here now */
	/* owner and the timer are the home's to read: only then look */
	if (session_home(h->s) == w && !atomic_load(&h->s->dead) && !h->s->owner)
		session_expiry_resume(w, h->s);
	session_unref(h->s);
	free(h);
}

static void handle(struct worker *w, struct wmsg *m)
{
	switch (m->type) {
	case WMSG_DELIVER: on_deliver(w, (struct deliver_batch *)m); break;
	case WMSG_TAKEOVER: on_takeover(w, (struct wmsg_handover *)m); break;
	case WMSG_HANDOFF: on_handoff(w, (struct wmsg_handover *)m); break;
	case WMSG_LIMITS: {
		struct auth_rules *old = w->lim.auth;
		w->lim = ((struct wmsg_limits *)m)->lim; /* its auth reference is ours now */
		auth_rules_unref(old);
		if (w->ws)
			ws_host_reload_certs(w->ws, &w->b->log); /* libwebsockets is this thread's */
		sys_topics_configure(w); /* sys_interval may have changed */
		atomic_store(&w->lim_gen, w->lim.gen);
		free(m);
		break;
	}
	case WMSG_WAKE:
		client_wake_remote_waiters(w);
		free(m);
		break;
	case WMSG_STORE_DONE: persist_on_done(w, (struct persist_batch *)m); break;
	case WMSG_POLL: worker_poll_on_msg(w, m, true); break;
	}
}

static struct wmsg *pop(struct worker *w)
{
	struct inbox_node *n = inbox_pop(&w->inbox);
	return n ? (struct wmsg *)((char *)n - offsetof(struct wmsg, node)) : NULL;
}

/* The loop's wake callback: everything that arrived since the last drain. */
static void drain(struct loop *lp, void *arg)
{
	(void)lp;
	struct worker *w = arg;
	inbox_begin_drain(&w->inbox);
	for (struct wmsg *m; (m = pop(w)) != NULL;)
		handle(w, m);
}

/* Nobody runs any more: release what is left without acting on it. */
void worker_drain_final(struct worker *w)
{
	for (struct wmsg *m; (m = pop(w)) != NULL;) {
		if (m->type == WMSG_DELIVER) {
			deliver_batch_release((struct deliver_batch *)m);
			deliver_batch_return((struct deliver_batch *)m); /* its origin frees it */
			continue;
		}
		if (m->type == WMSG_STORE_DONE) {
			persist_on_done(w, (struct persist_batch *)m); /* frees closed publishers */
			continue;
		}
		if (m->type == WMSG_POLL) {
			worker_poll_on_msg(w, m, false); /* unanswered; the poll owns m */
			continue;
		}
		if (m->type == WMSG_TAKEOVER || m->type == WMSG_HANDOFF) {
			struct wmsg_handover *h = (struct wmsg_handover *)m;
			client_handoff_done(h->c); /* closed by now: just freed */
			session_unref(h->s);
		}
		if (m->type == WMSG_LIMITS)
			auth_rules_unref(((struct wmsg_limits *)m)->lim.auth);
		free(m);
	}
}

/* --- life cycle ---------------------------------------------------------- */

int worker_init(struct worker *w, struct broker *b, unsigned id)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->id = id;
	w->spare_fd = -1;
	list_init(&w->clients);
	list_init(&w->dirty);
	list_init(&w->remote_waiters);
	w->loop = loop_new();
	w->scratch = malloc(SCRATCH_BYTES);
	w->scratch_len = SCRATCH_BYTES;
	buf_init(&w->props_scratch);
	if (!w->loop || !w->scratch)
		return FM_ENOMEM;
	inbox_init(&w->inbox, w->loop);
	loop_set_wake_fn(w->loop, drain, w);
	return FM_OK;
}

static void close_listeners(struct worker *w)
{
	for (size_t i = 0; w->listeners && i < w->b->conf.n_listeners; i++) {
		struct listener_rt *l = &w->listeners[i];
		if (l->fd >= 0) {
			listener_unwatch(l);
			close(l->fd);
			l->fd = -1;
		}
	}
}

/* Graceful stop of this worker: stop accepting, close every connection
 * (flushing what is queued for it), run the deferred frees. Wills are not
 * published: the clients did not go away, the broker did. */
static void shutdown_clients(struct worker *w)
{
	close_listeners(w);
	struct list *pos, *tmp;
	list_foreach_safe(pos, tmp, &w->clients) {
		struct client *c = list_entry(pos, struct client, link);
		c->will_on_close = false;
		client_close_rc(c, MQTT_RC_SERVER_SHUTTING_DOWN, "server shutting down");
	}
	loop_stop(w->loop);
	loop_run(w->loop); /* one iteration: deferred frees */
}

void worker_open_start_gate(struct broker *b)
{
	pthread_mutex_lock(&b->start_lock);
	b->start_open = true;
	pthread_cond_broadcast(&b->start_cond);
	pthread_mutex_unlock(&b->start_lock);
}

/* Counts this worker's start hooks as run, then waits for the others'. */
static void wait_at_start_gate(struct worker *w)
{
	struct broker *b = w->b;
	pthread_mutex_lock(&b->start_lock);
	if (++b->started_hooks == b->n_workers) {
		b->start_open = true;
		pthread_cond_broadcast(&b->start_cond);
	}
	while (!b->start_open)
		pthread_cond_wait(&b->start_cond, &b->start_lock);
	pthread_mutex_unlock(&b->start_lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct bridge_hooks *bridges = w->b->bridge_hooks;
	sys_topics_configure(w);
	if (bridges)
		bridges->worker_started(w);
	wait_at_start_gate(w);
	w->rc = loop_run(w->loop);
	sys_topics_stop(w); /* before the last iteration: no $SYS during shutdown */
	if (bridges)
		bridges->worker_stopping(w); /* its timers and half-open sockets; its connections close below */
	shutdown_clients(w);
	w->stopped = true;
	session_thread_release();
	return NULL;
}

int worker_start(struct worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return FM_ENOMEM;
	w->started = true;
	return FM_OK;
}

void worker_stop_and_join(struct worker *w)
{
	if (!w->started)
		return;
	loop_stop(w->loop);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void worker_fini(struct worker *w)
{
	sys_topics_stop(w); /* a reload handled during the shutdown iteration may have restarted it */
	close_listeners(w);
	if (w->spare_fd >= 0)
		close(w->spare_fd);
	w->spare_fd = -1;
	outbox_fini(w);
	persist_fini(w);
	free(w->listeners);
	free(w->targets);
	ws_host_free(w->ws); /* the loop is still there: the host leaves it */
	auth_rules_unref(w->lim.auth);
	w->lim.auth = NULL;
	loop_free(w->loop);
	free(w->scratch);
	buf_fini(&w->props_scratch);
}
