/* The bridges' life: set up from the config before the workers run, each
 * started on its home worker's loop, a tick a second (keepalive, lazy
 * start, status, $SYS), stopped with its worker. */
#include "bridge/bridge_int.h"

#include "core/log.h"
#include "net/tls.h"
#include "proto/client.h"
#include "proto/proto.h"
#include "proto/sys_topics.h"
#include "proto/worker.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
	[BRIDGE_IDLE] = "idle",
	[BRIDGE_CONNECTING] = "connecting",
	[BRIDGE_HANDSHAKE] = "handshake",
	[BRIDGE_CONNECTED] = "connected",
	[BRIDGE_BACKOFF] = "backoff",
	[BRIDGE_STOPPED] = "stopped",
};

const char *bridge_state_name(enum bridge_state st)
{
	return (unsigned)st < sizeof(state_names) / sizeof(state_names[0]) ? state_names[st] : "?";
}

void bridge_set_state(struct bridge *br, enum bridge_state st)
{
	atomic_store(&br->state, (uint8_t)st);
}

void bridge_set_error(struct bridge *br, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&br->text_lock);
	vsnprintf(br->last_error, sizeof(br->last_error), fmt, ap);
	pthread_mutex_unlock(&br->text_lock);
	va_end(ap);
}

struct bridge *bridge_of_client(const struct broker *b, const struct client *c)
{
	struct bridges *all = bridges_of(b);
	/* only this worker's bridges: the others' fields are their workers' */
	for (size_t i = 0; all && i < all->n; i++)
		if (all->v[i].w == c->w && all->v[i].c == c)
			return &all->v[i];
	return NULL;
}

/* $SYS/broker/bridge/NAME/{state,queued,sent,received,last_error}, on
 * change, every sys_interval seconds (retained, this run's). */
static void publish_sys(struct bridge *br)
{
	static const char *const names[5] = { "state", "queued", "sent", "received", "last_error" };
	uint32_t interval = br->w->lim.sys_interval_s;
	if (interval == 0 || ++br->sys_s < interval)
		return;
	br->sys_s = 0;
	char text[5][sizeof(br->sys_sent[0])];
	snprintf(text[0], sizeof(text[0]), "%s", bridge_state_name((enum bridge_state)atomic_load(&br->state)));
	snprintf(text[1], sizeof(text[1]), "%" PRIu64, atomic_load(&br->queued));
	snprintf(text[2], sizeof(text[2]), "%" PRIu64, atomic_load(&br->sent));
	snprintf(text[3], sizeof(text[3]), "%" PRIu64, atomic_load(&br->received));
	pthread_mutex_lock(&br->text_lock);
	snprintf(text[4], sizeof(text[4]), "%s", br->last_error);
	pthread_mutex_unlock(&br->text_lock);
	for (int i = 0; i < 5; i++) {
		if (strcmp(text[i], br->sys_sent[i]) == 0)
			continue;
		memcpy(br->sys_sent[i], text[i], sizeof(text[i]));
		char topic[320];
		snprintf(topic, sizeof(topic), "$SYS/broker/bridge/%s/%s", br->conf->name, names[i]);
		sys_publish_text(br->w, topic, text[i]);
	}
}

static void on_tick(struct loop *lp, struct loop_timer *t)
{
	struct bridge *br = list_entry(t, struct bridge, tick);
	bridge_proto_tick(br);
	publish_sys(br);
	loop_timer_start(lp, t, 1000);
}

/* On the home worker's thread, before its loop runs. */
static void start_one(struct bridge *br)
{
	bridge_link_init(br);
	loop_timer_init(&br->tick, on_tick);
	loop_timer_start(br->w->loop, &br->tick, 1000);
	if (br->conf->notifications)
		sys_publish_text(br->w, br->conf->notification_topic, "0");
	if (br->conf->start_type == CONF_BRIDGE_LAZY) {
		/* the session (and its subscriptions) from the start: what is
		 * headed out queues until threshold */
		if (bridge_session_setup(br) != FM_OK)
			log_warn(&br->b->log, "bridge %s: local client id %s is in use", br->conf->name,
				    br->conf->local_clientid);
		bridge_set_state(br, BRIDGE_IDLE);
		return;
	}
	bridge_link_start(br);
}

void bridges_worker_started(struct worker *w)
{
	struct bridges *all = bridges_of(w->b);
	for (size_t i = 0; i < all->n; i++)
		if (all->v[i].w == w)
			start_one(&all->v[i]);
}

void bridges_worker_stopping(struct worker *w)
{
	struct bridges *all = bridges_of(w->b);
	for (size_t i = 0; i < all->n; i++)
		if (all->v[i].w == w)
			bridge_link_stop(&all->v[i]);
}

/* The worker that holds the session a previous run left, so the bridge
 * never has to take it over; a new bridge goes round the workers. */
static struct worker *home_for(struct broker *b, const struct conf_bridge *cb, size_t i)
{
	struct session *s = session_table_get(b->sessions, cb->local_clientid, strlen(cb->local_clientid));
	return s ? session_home(s) : &b->workers[i % b->n_workers];
}

static int open_tls(struct bridge *br, struct fm_errbuf *eb)
{
	const struct conf_bridge *cb = br->conf;
	if (!cb->cafile && !cb->capath)
		return FM_OK;
	struct tls_client_opts o = { .cafile = cb->cafile, .capath = cb->capath, .certfile = cb->certfile,
				     .keyfile = cb->keyfile, .tls_version = cb->tls_version,
				     .insecure = cb->insecure, .log = &br->b->log };
	int rc = tls_client_new(&o, &br->tls, eb);
	if (rc != FM_OK)
		fm_errbuf_set(eb, "%s:%d: bridge %s: %s", cb->file, cb->line, cb->name, eb->msg);
	return rc;
}

static int init_one(struct broker *b, struct bridge *br, const struct conf_bridge *cb, size_t i,
		    struct fm_errbuf *eb)
{
	br->b = b;
	br->conf = cb;
	br->fd = -1;
	br->probe_fd = -1;
	br->w = home_for(b, cb, i);
	buf_init(&br->topic_buf);
	pthread_mutex_init(&br->text_lock, NULL);
	if (bridge_topics_build(br) != FM_OK)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	return open_tls(br, eb);
}

int bridges_init(struct broker *b, struct fm_errbuf *eb)
{
	size_t n = b->conf.n_bridges;
	if (n == 0)
		return FM_OK;
	struct bridges *all = calloc(1, sizeof(*all));
	if (all)
		all->v = calloc(n, sizeof(*all->v));
	if (!all || !all->v) {
		free(all);
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	}
	b->bridges = all;
	for (size_t i = 0; i < n; i++) {
		all->n++;
		int rc = init_one(b, &all->v[i], &b->conf.bridges[i], i, eb);
		if (rc != FM_OK)
			return rc;
	}
	b->bridge_hooks = &bridge_hooks;
	return FM_OK;
}

void bridges_fini(struct broker *b)
{
	struct bridges *all = bridges_of(b);
	if (!all)
		return;
	for (size_t i = 0; i < all->n; i++) {
		struct bridge *br = &all->v[i];
		if (br->session)
			session_unref(br->session);
		bridge_resolve_fini(br); /* its thread, which may still wait on a lookup */
		if (br->tls)
			tls_client_unref(br->tls);
		bridge_topics_free(br);
		buf_fini(&br->topic_buf);
		pthread_mutex_destroy(&br->text_lock);
	}
	free(all->v);
	free(all);
	b->bridges = NULL;
	b->bridge_hooks = NULL;
}

size_t bridges_count(const struct broker *b)
{
	const struct bridges *all = bridges_of(b);
	return all ? all->n : 0;
}

void bridges_status(const struct broker *b, size_t i, struct bridge_status *out)
{
	struct bridge *br = &bridges_of(b)->v[i];
	*out = (struct bridge_status){
		.name = br->conf->name,
		.remote_clientid = br->conf->remote_clientid,
		.local_clientid = br->conf->local_clientid,
		.state = (enum bridge_state)atomic_load(&br->state),
		.connects = atomic_load(&br->connects),
		.sent = atomic_load(&br->sent),
		.received = atomic_load(&br->received),
		.queued = atomic_load(&br->queued),
		.inflight = atomic_load(&br->inflight),
		.connected_since_ms = atomic_load(&br->since_ms),
	};
	pthread_mutex_lock(&br->text_lock);
	snprintf(out->address, sizeof(out->address), "%s", br->address);
	snprintf(out->last_error, sizeof(out->last_error), "%s", br->last_error);
	pthread_mutex_unlock(&br->text_lock);
}
