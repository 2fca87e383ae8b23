/* example: the plugin to copy when you write your own.
 *
 * It shows every part of the fleetmq plugin API (include/fleetmq/plugin.h)
 * a plugin usually needs, and nothing else:
 *   - the three exported functions and the version agreement,
 *   - reading plugin_opt_ lines and refusing bad ones at start,
 *   - MESSAGE: rewriting a topic prefix, dropping a topic,
 *   - CONNECT / DISCONNECT: log lines,
 *   - TICK: housekeeping once a second (here: a counter and a summary),
 *   - state shared between worker threads (atomics, no locks).
 *
 * Options (README.md in this folder):
 *   plugin_opt_rewrite_from PREFIX  topics starting with PREFIX ...
 *   plugin_opt_rewrite_to PREFIX    ... start with this instead (both or neither)
 *   plugin_opt_drop TOPIC           messages published to exactly TOPIC are dropped
 *   plugin_opt_summary_every N      log a summary every N ticks (default 60, 0: never)
 *
 * Build it against the public headers only (plugins/meson.build):
 *   cc -std=c11 -shared -fPIC -fvisibility=hidden -Iinclude example.c -o example.so
 * and load it with `plugin /path/to/example.so` in fleetmq.conf. */
#include "fleetmq/plugin.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything the plugin keeps, made in fm_plugin_init and handed back to
 * every callback as user_data. There is no global state: the same .so could
 * be loaded twice (two `plugin` lines) and each copy gets its own struct. */
struct example {
	struct fm_plugin *p;                /* the broker's handle: needed by fm_plugin_log */
	/* options: written in init only, read-only afterwards, so any number
	 * of worker threads may read them at once without a lock */
	char *rewrite_from;                 /* NULL: no rewriting */
	size_t rewrite_from_len;
	char *rewrite_to;
	char *drop;                         /* NULL: nothing dropped */
	unsigned long summary_every;        /* ticks between summaries; 0: none */
	/* counters: MESSAGE, CONNECT and DISCONNECT run on several worker
	 * threads at the same time, so every counter they touch is atomic.
	 * (A mutex would work too, but a callback must never wait long on one:
	 * the whole worker, with its thousands of clients, waits with it.) */
	atomic_ulong messages;              /* MESSAGE callbacks seen */
	atomic_ulong rewritten;             /* topics rewritten */
	atomic_ulong dropped;               /* messages dropped */
	atomic_long connected;              /* CONNECT minus DISCONNECT */
	/* only TICK touches this, and TICK runs on one thread (the broker's
	 * control thread), never two at once: no atomic needed */
	unsigned long ticks;
};

/* --- callbacks ------------------------------------------------------------------
 *
 * All callbacks share one signature (fm_plugin_callback): the event, its
 * struct (cast it to the type plugin.h names for that event) and your
 * user_data. Everything behind event_data is valid only during the call:
 * copy what you want to keep. Never block here: no file or network I/O
 * that can stall, no sleep, no long-held lock. */

/* FM_EVENT_MESSAGE: a PUBLISH the ACL allowed, before it is routed or
 * retained (not a will: the broker, not the client, publishes that). Worker
 * thread. Return FM_PLUGIN_DROP to
 * throw it away (a QoS 1/2 publisher still gets its PUBACK/PUBREC, so it
 * does not resend), anything else (FM_PLUGIN_DEFER) to route it as it now
 * is. Plugins loaded before this one may already have changed it. */
static int on_message(enum fm_plugin_event event, void *event_data, void *user_data)
{
	(void)event;
	struct example *ex = user_data;
	struct fm_message *m = event_data;
	atomic_fetch_add_explicit(&ex->messages, 1, memory_order_relaxed);

	if (ex->drop && strcmp(m->topic, ex->drop) == 0) {
		atomic_fetch_add_explicit(&ex->dropped, 1, memory_order_relaxed);
		fm_plugin_log(ex->p, FM_LOG_DEBUG, "dropped a message from %s on %s", m->client->client_id, m->topic);
		return FM_PLUGIN_DROP;
	}

	if (ex->rewrite_from && m->topic_len >= ex->rewrite_from_len &&
	    memcmp(m->topic, ex->rewrite_from, ex->rewrite_from_len) == 0) {
		/* Build the new topic in a buffer of our own: fm_message_set_topic
		 * copies it, so we free ours right after. (A topic may be 65535
		 * bytes: too big for a worker's stack, hence malloc.) */
		const char *rest = m->topic + ex->rewrite_from_len;
		size_t len = strlen(ex->rewrite_to) + strlen(rest);
		char *topic = malloc(len + 1);
		if (!topic)
			return FM_PLUGIN_DEFER; /* out of memory: route it unchanged */
		snprintf(topic, len + 1, "%s%s", ex->rewrite_to, rest);
		/* FM_EINVAL if the result is no valid topic name (too long, a
		 * wildcard in it): then the message keeps its topic. m->topic now
		 * points at the broker's copy; the old pointer is gone. */
		if (fm_message_set_topic(m, topic) == FM_OK)
			atomic_fetch_add_explicit(&ex->rewritten, 1, memory_order_relaxed);
		else
			fm_plugin_log(ex->p, FM_LOG_WARNING, "cannot rewrite %s: '%s' is not a valid topic", m->topic, topic);
		free(topic);
	}
	return FM_PLUGIN_DEFER;
}

/* FM_EVENT_CONNECT (a CONNECT was accepted) and FM_EVENT_DISCONNECT (an
 * accepted client's connection closed; e->reason says why). Worker thread;
 * the return value is ignored. One function may serve several events:
 * `event` tells them apart. */
static int on_client(enum fm_plugin_event event, void *event_data, void *user_data)
{
	struct example *ex = user_data;
	const struct fm_client_event *e = event_data;
	const struct fm_client *c = e->client;
	if (event == FM_EVENT_CONNECT) {
		atomic_fetch_add_explicit(&ex->connected, 1, memory_order_relaxed);
		fm_plugin_log(ex->p, FM_LOG_NOTICE, "client %s connected from %s (user %s, protocol level %u)",
			      c->client_id, c->peer, c->username ? c->username : "none", c->protocol_version);
	} else {
		atomic_fetch_sub_explicit(&ex->connected, 1, memory_order_relaxed);
		fm_plugin_log(ex->p, FM_LOG_NOTICE, "client %s disconnected: %s", c->client_id,
			      e->reason ? e->reason : "no reason given");
	}
	return FM_PLUGIN_DEFER;
}

/* FM_EVENT_TICK: once a second on the broker's control thread (never on a
 * worker, never two at once). The place for housekeeping: expiring caches,
 * reporting, refreshing data a background thread fetched. It must not
 * block either: the broker's timers run on the same thread. */
static int on_tick(enum fm_plugin_event event, void *event_data, void *user_data)
{
	(void)event;
	struct example *ex = user_data;
	const struct fm_tick *t = event_data;
	ex->ticks++;
	if (ex->summary_every && ex->ticks % ex->summary_every == 0)
		fm_plugin_log(ex->p, FM_LOG_NOTICE, "tick %lu at %llu ms: %lu messages, %lu rewritten, %lu dropped, "
			      "%ld clients connected", ex->ticks, (unsigned long long)t->now_ms,
			      atomic_load(&ex->messages), atomic_load(&ex->rewritten), atomic_load(&ex->dropped),
			      atomic_load(&ex->connected));
	return FM_PLUGIN_DEFER;
}

/* --- options --------------------------------------------------------------------- */

static int set_string(struct example *ex, char **slot, const struct fm_plugin_opt *o)
{
	free(*slot); /* the last line wins */
	*slot = strdup(o->value);
	if (!*slot) {
		fm_plugin_log(ex->p, FM_LOG_ERROR, "out of memory");
		return FM_ENOMEM;
	}
	return FM_OK;
}

/* Every option this plugin knows; an unknown one is an error, so a typo in
 * the config stops the broker at start instead of being ignored. */
static int read_options(struct example *ex, const struct fm_plugin_opt *opts, size_t n_opts)
{
	for (size_t i = 0; i < n_opts; i++) {
		const struct fm_plugin_opt *o = &opts[i];
		int rc;
		if (strcmp(o->name, "rewrite_from") == 0) {
			rc = set_string(ex, &ex->rewrite_from, o);
		} else if (strcmp(o->name, "rewrite_to") == 0) {
			rc = set_string(ex, &ex->rewrite_to, o);
		} else if (strcmp(o->name, "drop") == 0) {
			rc = set_string(ex, &ex->drop, o);
		} else if (strcmp(o->name, "summary_every") == 0) {
			char *end;
			ex->summary_every = strtoul(o->value, &end, 10);
			rc = end == o->value || *end || o->value[0] == '-' ? FM_ECONFIG : FM_OK;
			if (rc != FM_OK)
				fm_plugin_log(ex->p, FM_LOG_ERROR, "plugin_opt_summary_every '%s': a number of ticks "
					      "expected", o->value);
		} else {
			fm_plugin_log(ex->p, FM_LOG_ERROR, "unknown option plugin_opt_%s", o->name);
			rc = FM_ECONFIG;
		}
		if (rc != FM_OK)
			return rc;
	}
	if (!ex->rewrite_from != !ex->rewrite_to) {
		fm_plugin_log(ex->p, FM_LOG_ERROR, "plugin_opt_rewrite_from and plugin_opt_rewrite_to go together");
		return FM_ECONFIG;
	}
	if (ex->rewrite_from)
		ex->rewrite_from_len = strlen(ex->rewrite_from);
	return FM_OK;
}

/* --- the three functions every plugin exports --------------------------------------
 *
 * FM_PLUGIN_EXPORT gives them default visibility (build with
 * -fvisibility=hidden so nothing else leaks out of your .so). */

/* Called first, before anything else of the plugin runs: the broker refuses
 * a plugin whose number is not its own FM_PLUGIN_API_VERSION, naming both.
 * Always return the macro, never a literal: rebuilding against a newer
 * header is then what tells you the API changed. */
FM_PLUGIN_EXPORT int fm_plugin_version(void)
{
	return FM_PLUGIN_API_VERSION;
}

/* Called once at start on the main thread, before any client connects.
 * Read the options (valid only during this call: copy them), set up,
 * register callbacks (fm_plugin_register works only here). On failure, say
 * why with fm_plugin_log and return an fm_err: the broker does not start,
 * and fm_plugin_cleanup is NOT called, so free what you made yourself. */
FM_PLUGIN_EXPORT int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
				    void **user_data)
{
	struct example *ex = calloc(1, sizeof(*ex));
	if (!ex) {
		fm_plugin_log(p, FM_LOG_ERROR, "out of memory");
		return FM_ENOMEM;
	}
	ex->p = p;
	ex->summary_every = 60;
	atomic_init(&ex->messages, 0);
	atomic_init(&ex->rewritten, 0);
	atomic_init(&ex->dropped, 0);
	atomic_init(&ex->connected, 0);
	int rc = read_options(ex, opts, n_opts);
	/* register only what you use: the broker skips work (building the
	 * event struct, copying the topic) for events nobody listens to */
	if (rc == FM_OK && (ex->rewrite_from || ex->drop))
		rc = fm_plugin_register(p, FM_EVENT_MESSAGE, on_message);
	if (rc == FM_OK)
		rc = fm_plugin_register(p, FM_EVENT_CONNECT, on_client);
	if (rc == FM_OK)
		rc = fm_plugin_register(p, FM_EVENT_DISCONNECT, on_client);
	if (rc == FM_OK)
		rc = fm_plugin_register(p, FM_EVENT_TICK, on_tick);
	if (rc != FM_OK) {
		fm_plugin_cleanup(ex);
		return rc;
	}
	fm_plugin_log(p, FM_LOG_NOTICE, "rewriting %s -> %s, dropping %s, a summary every %lu ticks",
		      ex->rewrite_from ? ex->rewrite_from : "nothing", ex->rewrite_to ? ex->rewrite_to : "-",
		      ex->drop ? ex->drop : "nothing", ex->summary_every);
	*user_data = ex;
	return FM_OK;
}

/* Called once at shutdown, after the last callback has returned (no worker
 * is running any more): free everything init made. */
FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data)
{
	struct example *ex = user_data;
	if (!ex)
		return;
	free(ex->rewrite_from);
	free(ex->rewrite_to);
	free(ex->drop);
	free(ex);
}
