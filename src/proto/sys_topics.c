/* The $SYS publisher (sys_topics.h).
 *
 * Which thread: worker 0, on a timer of its loop. Publishing goes through
 * route_publish and the retained tree, which need a worker (its fan-out
 * scratch, its outbox to the other workers) and must run on that worker's
 * thread; worker 0 always exists, and the work is a few dozen small
 * messages per interval, so a thread of its own would buy nothing. The
 * numbers it reads are made for readers on other threads: the workers'
 * relaxed counters and O(1) table sizes under their locks (stats.h).
 *
 * What: mosquitto's topics and formats ("$SYS/broker/uptime" is "N
 * seconds", counts are plain integers, load averages "%.2f" events per
 * minute); a value is published only when its text changed since it was
 * last published, the version once. The retained copies live in memory
 * only (route_retain_volatile): they describe this run. */
#include "proto/sys_topics.h"

#include "core/clock.h"
#include "core/loadavg.h"
#include "proto/proto.h"
#include "proto/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYS_PREFIX "$SYS/broker/"

/* Plain values, each published as an integer (uptime with " seconds"). */
enum sys_value {
	SYS_UPTIME,
	SYS_CLIENTS_CONNECTED,
	SYS_CLIENTS_DISCONNECTED,
	SYS_CLIENTS_TOTAL,
	SYS_CLIENTS_MAXIMUM,
	SYS_CLIENTS_EXPIRED,
	SYS_MESSAGES_RECEIVED,
	SYS_MESSAGES_SENT,
	SYS_PUBLISH_RECEIVED,
	SYS_PUBLISH_SENT,
	SYS_PUBLISH_DROPPED,
	SYS_BYTES_RECEIVED,
	SYS_BYTES_SENT,
	SYS_SUBSCRIPTIONS,
	SYS_RETAINED,
	SYS_N_VALUES
};

static const char *const value_topic[SYS_N_VALUES] = {
	[SYS_UPTIME] = "uptime",
	[SYS_CLIENTS_CONNECTED] = "clients/connected",
	[SYS_CLIENTS_DISCONNECTED] = "clients/disconnected",
	[SYS_CLIENTS_TOTAL] = "clients/total",
	[SYS_CLIENTS_MAXIMUM] = "clients/maximum",
	[SYS_CLIENTS_EXPIRED] = "clients/expired",
	[SYS_MESSAGES_RECEIVED] = "messages/received",
	[SYS_MESSAGES_SENT] = "messages/sent",
	[SYS_PUBLISH_RECEIVED] = "publish/messages/received",
	[SYS_PUBLISH_SENT] = "publish/messages/sent",
	[SYS_PUBLISH_DROPPED] = "publish/messages/dropped",
	[SYS_BYTES_RECEIVED] = "bytes/received",
	[SYS_BYTES_SENT] = "bytes/sent",
	[SYS_SUBSCRIPTIONS] = "subscriptions/count",
	[SYS_RETAINED] = "retained messages/count",
};

/* Counters with load averages: $SYS/broker/load/<name>/{1min,5min,15min}. */
enum sys_load {
	LOAD_MESSAGES_RECEIVED,
	LOAD_MESSAGES_SENT,
	LOAD_PUBLISH_RECEIVED,
	LOAD_PUBLISH_SENT,
	LOAD_PUBLISH_DROPPED,
	LOAD_BYTES_RECEIVED,
	LOAD_BYTES_SENT,
	LOAD_CONNECTIONS,
	LOAD_SOCKETS,
	SYS_N_LOADS
};

static const char *const load_topic[SYS_N_LOADS] = {
	[LOAD_MESSAGES_RECEIVED] = "messages/received",
	[LOAD_MESSAGES_SENT] = "messages/sent",
	[LOAD_PUBLISH_RECEIVED] = "publish/received",
	[LOAD_PUBLISH_SENT] = "publish/sent",
	[LOAD_PUBLISH_DROPPED] = "publish/dropped",
	[LOAD_BYTES_RECEIVED] = "bytes/received",
	[LOAD_BYTES_SENT] = "bytes/sent",
	[LOAD_CONNECTIONS] = "connections",
	[LOAD_SOCKETS] = "sockets",
};

static const char *const load_window[LOADAVG_N] = { "1min", "5min", "15min" };

#define SYS_TEXT 32 /* longest value text: 20 digits and " seconds" */

struct sys_topics {
	struct loop_timer timer;
	struct worker *w;
	uint32_t interval_s;
	bool version_sent;
	bool sampled;                       /* last_ms and last_count hold a sample */
	uint64_t last_ms;                   /* loop time of the previous sample */
	uint64_t last_count[SYS_N_LOADS];   /* counters at the previous sample */
	struct loadavg load[SYS_N_LOADS];
	/* text last published per value, then per load average; "" = never */
	char sent[SYS_N_VALUES + SYS_N_LOADS * LOADAVG_N][SYS_TEXT];
};

void sys_publish_text(struct worker *w, const char *topic, const char *text)
{
	struct msg *m = msg_new(topic, strlen(topic), text, strlen(text), 0, true);
	if (!m)
		return; /* out of memory: the next interval tries again */
	route_publish(w, NULL, m);
	route_retain_volatile(w, m);
	msg_unref(m);
}

/* Publish SYS_PREFIX + name with text unless slot last sent the same. */
static void publish_changed(struct sys_topics *st, size_t slot, const char *name, const char *text)
{
	if (strcmp(st->sent[slot], text) == 0)
		return;
	snprintf(st->sent[slot], SYS_TEXT, "%s", text);
	char topic[96];
	snprintf(topic, sizeof(topic), SYS_PREFIX "%s", name);
	sys_publish_text(st->w, topic, text);
}

static void values_now(struct broker *b, uint64_t v[SYS_N_VALUES])
{
	struct broker_totals t = broker_stats_sum(b);
	struct broker_gauges g = broker_gauges_read(b);
	uint64_t now = clock_wall_ms();
	uint64_t connected = totals_connected(&t);
	v[SYS_UPTIME] = now > b->start_ms ? (now - b->start_ms) / 1000 : 0;
	v[SYS_CLIENTS_CONNECTED] = connected;
	/* a session outlives its connection only when persistent; during a
	 * takeover the two counts may disagree for an instant */
	v[SYS_CLIENTS_DISCONNECTED] = g.sessions > connected ? g.sessions - connected : 0;
	v[SYS_CLIENTS_TOTAL] = g.sessions > connected ? g.sessions : connected;
	v[SYS_CLIENTS_MAXIMUM] = g.peak_connections;
	v[SYS_CLIENTS_EXPIRED] = t.sessions_expired;
	v[SYS_MESSAGES_RECEIVED] = t.pkts_in;
	v[SYS_MESSAGES_SENT] = t.pkts_out;
	v[SYS_PUBLISH_RECEIVED] = totals_pub_in(&t);
	v[SYS_PUBLISH_SENT] = totals_pub_out(&t);
	v[SYS_PUBLISH_DROPPED] = totals_dropped(&t);
	v[SYS_BYTES_RECEIVED] = t.bytes_in;
	v[SYS_BYTES_SENT] = t.bytes_out;
	v[SYS_SUBSCRIPTIONS] = g.subscriptions;
	v[SYS_RETAINED] = g.retained;
}

static void load_counts(const struct broker_totals *t, uint64_t c[SYS_N_LOADS])
{
	c[LOAD_MESSAGES_RECEIVED] = t->pkts_in;
	c[LOAD_MESSAGES_SENT] = t->pkts_out;
	c[LOAD_PUBLISH_RECEIVED] = totals_pub_in(t);
	c[LOAD_PUBLISH_SENT] = totals_pub_out(t);
	c[LOAD_PUBLISH_DROPPED] = totals_dropped(t);
	c[LOAD_BYTES_RECEIVED] = t->bytes_in;
	c[LOAD_BYTES_SENT] = t->bytes_out;
	c[LOAD_CONNECTIONS] = t->connects_total;
	c[LOAD_SOCKETS] = t->sockets_total;
}

static void publish_values(struct sys_topics *st)
{
	uint64_t v[SYS_N_VALUES];
	values_now(st->w->b, v);
	for (size_t i = 0; i < SYS_N_VALUES; i++) {
		char text[SYS_TEXT];
		snprintf(text, sizeof(text), i == SYS_UPTIME ? "%" PRIu64 " seconds" : "%" PRIu64, v[i]);
		publish_changed(st, i, value_topic[i], text);
	}
}

/* Fold what the counters did since the previous sample into the averages
 * (the first sample only sets the baseline) and publish them. */
static void publish_loads(struct sys_topics *st, uint64_t now_ms)
{
	uint64_t c[SYS_N_LOADS];
	struct broker_totals t = broker_stats_sum(st->w->b);
	load_counts(&t, c);
	double dt_s = st->sampled ? (double)(now_ms - st->last_ms) / 1000.0 : 0.0;
	for (size_t i = 0; i < SYS_N_LOADS; i++) {
		uint64_t events = st->sampled && c[i] > st->last_count[i] ? c[i] - st->last_count[i] : 0;
		loadavg_update(&st->load[i], events, dt_s);
		st->last_count[i] = c[i];
		for (size_t k = 0; k < LOADAVG_N; k++) {
			char name[64], text[SYS_TEXT];
			snprintf(name, sizeof(name), "load/%s/%s", load_topic[i], load_window[k]);
			snprintf(text, sizeof(text), "%.2f", st->load[i].per_min[k]);
			publish_changed(st, SYS_N_VALUES + i * LOADAVG_N + k, name, text);
		}
	}
	st->sampled = true;
	st->last_ms = now_ms;
}

static void on_tick(struct loop *lp, struct loop_timer *t)
{
	struct sys_topics *st = list_entry(t, struct sys_topics, timer);
	if (!st->version_sent) {
		sys_publish_text(st->w, SYS_PREFIX "version", "fleetmq version " FLEETMQ_VERSION);
		st->version_sent = true;
	}
	publish_values(st);
	publish_loads(st, loop_now_ms(lp));
	loop_timer_start(lp, t, (uint64_t)st->interval_s * 1000u);
}

void sys_topics_configure(struct worker *w)
{
	uint32_t interval_s = w->lim.sys_interval_s;
	if (w->id != 0 || (w->sys && w->sys->interval_s == interval_s))
		return;
	if (interval_s == 0) {
		sys_topics_stop(w); /* the retained values stay, as mosquitto leaves them */
		return;
	}
	if (!w->sys) {
		if ((w->sys = calloc(1, sizeof(*w->sys))) == NULL)
			return; /* no $SYS this time; a reload tries again */
		w->sys->w = w;
		loop_timer_init(&w->sys->timer, on_tick);
	}
	w->sys->interval_s = interval_s;
	loop_timer_start(w->loop, &w->sys->timer, 0); /* the first values at once */
}

void sys_topics_stop(struct worker *w)
{
	if (!w->sys)
		return;
	loop_timer_stop(w->loop, &w->sys->timer);
	free(w->sys);
	w->sys = NULL;
}
