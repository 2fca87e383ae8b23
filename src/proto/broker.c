/* Broker set-up, the accept path, the control thread (signals: SIGINT and
 * SIGTERM stop gracefully, SIGHUP reloads) and tear-down. Everything a
 * packet does is elsewhere. */
#include "proto/broker.h"
#include "proto/accept.h"
#include "proto/auth_rules.h"
#include "auth/plugin_host.h"
#include "proto/client.h"
#include "proto/proto.h"
#include "proto/proxy_wait.h"
#include "proto/recover.h"
#include "store/store.h"
#include "proto/worker.h"
#include "core/clock.h"
#include "net/conn.h"
#include "net/ws.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint32_t broker_uptime_s(const struct broker *b)
{
	uint64_t now = clock_wall_ms();
	return now > b->start_ms ? (uint32_t)((now - b->start_ms) / 1000) : 0;
}

struct worker_limits broker_limits(const struct broker *b)
{
	const struct conf *c = &b->conf;
	return (struct worker_limits){
		.session = {
			.max_inflight = c->max_inflight_messages,
			.max_queued = c->max_queued_messages,
			.max_queued_bytes = c->max_queued_bytes,
			.max_in_memory = c->max_queued_in_memory,
		},
		.message_size_limit = c->message_size_limit,
		.max_packet_size = c->max_packet_size,
		.max_topic_alias = c->max_topic_alias,
		.max_subscriptions = c->max_subscriptions,
		.max_topic_levels = c->max_topic_levels,
		.max_topic_length = c->max_topic_length,
		.max_output = c->max_output_buffer,
		.slow_consumer_ms = c->slow_consumer_timeout_s * 1000u,
		.max_publish_rate = c->max_publish_rate,
		.connect_timeout_s = c->connect_timeout_s,
		.max_keepalive = c->max_keepalive,
		.retain_available = c->retain_available,
		.session_expiry_s = c->persistent_client_expiration_s,
		.sys_interval_s = c->sys_interval_s,
		.auth = b->auth,
		.gen = b->reload_gen,
	};
}

static const char *listener_kind(const struct broker *b, size_t index)
{
	const struct conf_listener *cl = &b->conf.listeners[index];
	if (cl->protocol == CONF_PROTO_WEBSOCKETS)
		return cl->tls.certfile ? "mqtt over websockets, tls" : "mqtt over websockets";
	if (!b->tls[index].srv)
		return "mqtt";
	return cl->tls.certfile && cl->tls.psk_hint ? "mqtt, tls, psk" : cl->tls.certfile ? "mqtt, tls" : "mqtt, tls-psk";
}

/* Every worker gets its own socket for every listener (SO_REUSEPORT); the
 * first one resolves an ephemeral port that the others then share. */
static int open_listener(struct broker *b, size_t index, struct fm_errbuf *eb)
{
	const struct conf_listener *cl = &b->conf.listeners[index];
	unsigned port = cl->port;
	for (unsigned i = 0; i < b->n_workers; i++) {
		struct worker *w = &b->workers[i];
		struct listener_rt *l = &w->listeners[index];
		*l = (struct listener_rt){ .b = b, .w = w, .conf = cl, .index = index, .fd = -1,
					   .tls = b->tls[index].srv ? &b->tls[index] : NULL };
		struct net_listen_opts o = {
			.addr = cl->bind_address,
			.port = port,
			.family = cl->socket_domain == CONF_DOMAIN_IPV4   ? AF_INET
				  : cl->socket_domain == CONF_DOMAIN_IPV6 ? AF_INET6
									  : 0,
			.interface = cl->bind_interface,
			.first = i == 0,
		};
		int rc = net_listen(&o, &l->fd, &l->port, eb);
		if (rc == FM_OK)
			rc = listener_watch(l);
		if (rc != FM_OK)
			return rc;
		port = l->port;
	}
	log_notice(&b->log, "listening on %s:%u (%s)", cl->bind_address ? cl->bind_address : "0.0.0.0", port,
		   listener_kind(b, index));
	return FM_OK;
}

/* libwebsockets' on_open: an upgraded WebSocket connection becomes a client
 * of the worker whose socket accepted it. */
static int on_ws_open(void *arg, size_t listener, struct ws_stream *s, const struct net_addr *peer)
{
	struct worker *w = arg;
	return client_accept_ws(w, &w->listeners[listener], s, peer);
}

/* libwebsockets' on_settled: an adopted socket is past its upgrade (a
 * client now, counted as one) or gone. */
static void on_ws_settled(void *arg, size_t listener)
{
	struct worker *w = arg;
	listener_pending_done(w->b, listener);
}

static struct ws_listener ws_listener_of(const struct conf_listener *cl)
{
	if (cl->protocol != CONF_PROTO_WEBSOCKETS)
		return (struct ws_listener){ .enabled = false };
	return (struct ws_listener){
		.enabled = true,
		.path = cl->websockets_path,
		.trust_x_forwarded_for = cl->websockets_trust_x_forwarded_for,
		.headers_size = cl->websockets_headers_size,
		.certfile = cl->tls.certfile,
		.keyfile = cl->tls.keyfile,
		.cafile = cl->tls.cafile,
		.ciphers = cl->tls.ciphers,
		.require_certificate = cl->tls.require_certificate,
		.identity_cn = cl->tls.use_identity_as_username,
	};
}

/* One libwebsockets host per worker when any listener is a WebSocket one. */
static int open_ws_hosts(struct broker *b, struct fm_errbuf *eb)
{
	size_t n = b->conf.n_listeners;
	bool any = false;
	struct ws_listener *ls = calloc(n, sizeof(*ls));
	if (!ls)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ls[i] = ws_listener_of(&b->conf.listeners[i]);
		any |= ls[i].enabled;
	}
	int rc = FM_OK;
	if (any)
		ws_global_init(&b->log);
	for (unsigned i = 0; any && rc == FM_OK && i < b->n_workers; i++)
		rc = ws_host_new(b->workers[i].loop, ls, n, &(struct ws_host_hooks){ .on_open = on_ws_open,
				 .on_settled = on_ws_settled, .arg = &b->workers[i] }, &b->workers[i].ws, eb);
	free(ls);
	return rc;
}

static int open_listeners(struct broker *b, struct fm_errbuf *eb)
{
	size_t n = b->conf.n_listeners;
	b->listener_conns = calloc(n, sizeof(*b->listener_conns));
	b->listener_accepted = calloc(n, sizeof(*b->listener_accepted));
	b->listener_peak = calloc(n, sizeof(*b->listener_peak));
	b->listener_pending = calloc(n, sizeof(*b->listener_pending));
	if (!b->listener_conns || !b->listener_accepted || !b->listener_peak || !b->listener_pending)
		return FM_ENOMEM;
	for (unsigned i = 0; i < b->n_workers; i++) {
		b->workers[i].listeners = calloc(n, sizeof(struct listener_rt));
		if (!b->workers[i].listeners)
			return FM_ENOMEM;
		for (size_t k = 0; k < n; k++)
			b->workers[i].listeners[k].fd = -1;
	}
	int rc = open_ws_hosts(b, eb);
	for (size_t k = 0; rc == FM_OK && k < n; k++)
		rc = open_listener(b, k, eb);
	return rc;
}

/* --- control thread: logging, reload, signals ---------------------------- */

static int open_log(struct log *lg, const struct conf *c, struct fm_errbuf *eb)
{
	lg->types = c->log_types;
	lg->dests = c->log_dests & ~(unsigned)LOG_D_FILE;
	if ((c->log_dests & LOG_D_FILE) && c->log_file) {
		int rc = log_open_file(lg, c->log_file);
		if (rc != FM_OK)
			return fm_errbuf_set(eb, "cannot open log file '%s': %s", c->log_file, fm_strerror(rc));
	}
	return FM_OK;
}

/* "reloaded" is logged once every worker runs with the new limits and
 * rules, so what a client does after it is judged by them. The workers
 * answer within a loop iteration; the wait is bounded all the same. */
#define RELOAD_WAIT_MS 2000

static void wait_workers_applied(struct broker *b, unsigned gen)
{
	for (unsigned waited = 0; waited < RELOAD_WAIT_MS; waited++) {
		bool all = true;
		for (unsigned i = 0; i < b->n_workers && all; i++)
			all = atomic_load(&b->workers[i].lim_gen) == gen;
		if (all)
			return;
		struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000 };
		nanosleep(&ms, NULL);
	}
	log_warn(&b->log, "SIGHUP: not every worker took the new settings within %u ms", RELOAD_WAIT_MS);
}

/* The password and ACL files named by the (reloaded) config, re-read; a
 * file with a bad line keeps the rules in force, and says which line. */
static void reload_auth(struct broker *b)
{
	struct auth_rules *fresh;
	struct fm_errbuf eb = { { 0 } };
	if (auth_rules_load(&b->conf, &fresh, &eb) != FM_OK) {
		log_error(&b->log, "SIGHUP: keeping the password and ACL rules in force: %s", eb.msg);
		return;
	}
	auth_rules_unref(b->auth); /* the workers hold theirs until the new ones arrive */
	b->auth = fresh;
}

/* Re-read the config file; apply what may change without reopening
 * listeners, hand every worker its new limits. A broken file changes
 * nothing. */
static void reload(struct broker *b)
{
	if (!b->conf_path) {
		log_notice(&b->log, "SIGHUP: no config file to reload");
		return;
	}
	struct conf fresh;
	struct fm_errbuf eb = { { 0 } };
	conf_init(&fresh);
	int rc = conf_load_file(&fresh, b->conf_path, &eb);
	if (rc == FM_OK)
		rc = conf_finish(&fresh, &eb);
	if (rc != FM_OK) {
		log_error(&b->log, "SIGHUP: keeping the previous configuration: %s", eb.msg);
		conf_fini(&fresh);
		return;
	}
	pthread_rwlock_wrlock(&b->conf_lock);
	conf_apply_reloadable(&b->conf, &fresh);
	reload_auth(b);
	b->reload_gen++;
	struct worker_limits lim = broker_limits(b);
	uint64_t store_max = b->conf.store_max_size;
	pthread_rwlock_unlock(&b->conf_lock);
	if (b->store)
		store_set_max_bytes(b->store, store_max);
	log_set_types(&b->log, b->conf.log_types);
	for (unsigned i = 0; i < b->n_workers; i++) {
		auth_rules_ref(lim.auth); /* the copy the worker keeps */
		if (worker_post_limits(&b->workers[i], &lim) != FM_OK)
			auth_rules_unref(lim.auth);
	}
	wait_workers_applied(b, lim.gen);
	broker_tls_reload(b);
	broker_memory_watch(b);
	conf_fini(&fresh);
	log_notice(&b->log, "SIGHUP: reloaded %s (listeners, workers and log destinations need a restart)",
		   b->conf_path);
}

static void on_signal(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)events;
	struct broker *b = list_entry(io, struct broker, signal_io);
	struct signalfd_siginfo si;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(b);
		} else {
			log_notice(&b->log, "signal %u: shutting down", si.ssi_signo);
			loop_stop(lp);
		}
	}
}

static int setup_signals(struct broker *b, struct fm_errbuf *eb)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* blocked before any worker starts, so every thread inherits the mask
	 * and only the control loop's signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (b->signal_fd < 0)
		return fm_errbuf_set(eb, "signalfd: %s", strerror(errno));
	return loop_io_add(b->control, &b->signal_io, b->signal_fd, LOOP_READ, on_signal);
}

static int write_pid_file(const struct broker *b, struct fm_errbuf *eb)
{
	if (!b->conf.pid_file)
		return FM_OK;
	/* written aside and renamed: a reader never sees it empty */
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", b->conf.pid_file) >= sizeof(tmp))
		return fm_errbuf_set(eb, "pid_file path too long: %s", b->conf.pid_file);
	FILE *f = fopen(tmp, "w");
	bool ok = f && fprintf(f, "%ld\n", (long)getpid()) > 0;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, b->conf.pid_file) != 0) {
		int e = errno;
		unlink(tmp);
		return fm_errbuf_set(eb, "cannot write pid_file '%s': %s", b->conf.pid_file, strerror(e));
	}
	return FM_OK;
}

/* --- life cycle ------------------------------------------------------------ */

static unsigned worker_count(const struct conf *c)
{
	if (c->workers)
		return c->workers > WORKER_MAX ? WORKER_MAX : c->workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > WORKER_MAX ? WORKER_MAX : (unsigned)n;
}

static int init_shared(struct broker *b)
{
	pthread_rwlock_init(&b->conf_lock, NULL);
	pthread_rwlock_init(&b->subs_lock, NULL);
	pthread_rwlock_init(&b->retained_lock, NULL);
	pthread_mutex_init(&b->sessions_lock, NULL);
	pthread_mutex_init(&b->start_lock, NULL);
	pthread_cond_init(&b->start_cond, NULL);
	b->locks_ready = true;
	b->subs = topic_tree_new();
	b->shares = share_table_new();
	b->retained = retain_tree_new(route_retained_unref, route_retained_size);
	b->sessions = session_table_new();
	b->control = loop_new();
	return b->subs && b->shares && b->retained && b->sessions && b->control ? FM_OK : FM_ENOMEM;
}

static void on_plugin_tick(struct loop *lp, struct loop_timer *t)
{
	struct broker *b = list_entry(t, struct broker, plugin_tick);
	struct fm_tick tick = { .now_ms = clock_wall_ms() };
	plugin_host_notify(b->plugins, FM_EVENT_TICK, &tick);
	loop_timer_start(lp, t, 1000);
}

/* The plugin lines of the config, loaded in order (a failure stops the
 * start, naming the plugin). Plugins live as long as the broker: a SIGHUP
 * does not reload them. */
static int load_plugins(struct broker *b, struct fm_errbuf *eb)
{
	const struct conf *c = &b->conf;
	struct plugin_spec *specs = calloc(c->n_plugins + 1, sizeof(*specs));
	struct fm_plugin_opt **opts = calloc(c->n_plugins + 1, sizeof(*opts));
	int rc = specs && opts ? FM_OK : FM_ENOMEM;
	for (size_t i = 0; rc == FM_OK && i < c->n_plugins; i++) {
		const struct conf_plugin *cp = &c->plugins[i];
		opts[i] = calloc(cp->n_opts + 1, sizeof(**opts));
		if (!opts[i]) {
			rc = FM_ENOMEM;
			break;
		}
		for (size_t k = 0; k < cp->n_opts; k++)
			opts[i][k] = (struct fm_plugin_opt){ .name = cp->opts[k].name, .value = cp->opts[k].value };
		specs[i] = (struct plugin_spec){ .path = cp->path, .opts = opts[i], .n_opts = cp->n_opts };
	}
	if (rc == FM_OK)
		rc = plugin_host_load(specs, c->n_plugins, &b->log, &b->plugins, eb);
	else
		fm_errbuf_set(eb, "out of memory loading plugins");
	for (size_t i = 0; opts && i < c->n_plugins; i++)
		free(opts[i]);
	free(opts);
	free(specs);
	loop_timer_init(&b->plugin_tick, on_plugin_tick);
	return rc;
}

static int init_workers(struct broker *b)
{
	unsigned n = worker_count(&b->conf);
	b->workers = calloc(n, sizeof(*b->workers));
	if (!b->workers)
		return FM_ENOMEM;
	struct worker_limits lim = broker_limits(b);
	for (unsigned i = 0; i < n; i++) {
		b->n_workers++;
		if (worker_init(&b->workers[i], b, i) != FM_OK)
			return FM_ENOMEM;
		b->workers[i].lim = lim;
		auth_rules_ref(lim.auth);
	}
	return FM_OK;
}

/* The durable store (unless durability memory / persistence false): open
 * it, refusing to start on any doubt about it, and recover its state. */
static int open_store(struct broker *b, struct fm_errbuf *eb)
{
	const struct conf *c = &b->conf;
	if (!c->persistence || c->durability == CONF_DURABILITY_MEMORY) {
		log_notice(&b->log, "no durable store (durability memory): state lives in memory only");
		return FM_OK;
	}
	struct store_opts o = {
		.dir = c->persistence_location,
		.durability = c->durability == CONF_DURABILITY_BATCHED ? STORE_BATCHED : STORE_FULL,
		.batched_interval_ms = c->durability_interval_ms,
		.max_bytes = c->store_max_size,
	};
	int rc = store_open(&b->store, &o, eb);
	if (rc != FM_OK)
		return rc;
	b->store_acks_wait = o.durability == STORE_FULL;
	return broker_recover(b, eb);
}

int broker_init(struct broker *b, struct conf *conf, const char *conf_path, struct fm_errbuf *eb)
{
	memset(b, 0, sizeof(*b));
	b->conf = *conf;
	memset(conf, 0, sizeof(*conf)); /* b owns it now */
	b->conf_path = conf_path;
	b->signal_fd = -1;
	b->start_ms = clock_wall_ms();
	srand((unsigned)(b->start_ms ^ (uint64_t)getpid()));
	log_init(&b->log, b->conf.log_types, 0);
	int rc = open_log(&b->log, &b->conf, eb);
	if (rc != FM_OK)
		return rc;
	for (size_t i = 0; i < b->conf.n_notices; i++)
		log_notice(&b->log, "%s", b->conf.notices[i]);
	if ((rc = auth_rules_load(&b->conf, &b->auth, eb)) != FM_OK || (rc = load_plugins(b, eb)) != FM_OK)
		return rc;
	if (init_shared(b) != FM_OK || init_workers(b) != FM_OK)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	if ((rc = open_store(b, eb)) != FM_OK)
		return rc;
	broker_memory_watch(b);
	if (plugin_host_wants(b->plugins, FM_EVENT_TICK))
		loop_timer_start(b->control, &b->plugin_tick, 1000);
	if ((rc = setup_signals(b, eb)) != FM_OK || (rc = broker_tls_open(b, eb)) != FM_OK ||
	    (rc = open_listeners(b, eb)) != FM_OK)
		return rc;
	return write_pid_file(b, eb);
}

static void close_store(struct broker *b)
{
	if (!b->store)
		return;
	struct store_stats st = store_stats(b->store);
	store_close(b->store);
	b->store = NULL;
	log_notice(&b->log, "store closed: %llu batches, %llu operations in %llu commits (mean %.0f us, max %llu us)%s",
		   (unsigned long long)st.batches, (unsigned long long)st.ops, (unsigned long long)st.commits,
		   st.commits ? (double)st.commit_us_total / (double)st.commits : 0.0,
		   (unsigned long long)st.commit_us_max, st.errors ? "; some batches FAILED" : "");
}

int broker_run(struct broker *b)
{
	int rc = b->store ? store_start(b->store) : FM_OK;
	for (unsigned i = 0; i < b->n_workers && rc == FM_OK; i++)
		rc = worker_start(&b->workers[i]);
	if (rc != FM_OK)
		worker_open_start_gate(b); /* the ones that started wait there; they stop below */
	if (rc == FM_OK) {
		atomic_store(&b->running, true);
		log_notice(&b->log, "fleetmq %s running with %u worker%s", FLEETMQ_VERSION, b->n_workers,
			   b->n_workers == 1 ? "" : "s");
		rc = loop_run(b->control);
	}
	atomic_store(&b->running, false);
	if (b->on_stopping)
		b->on_stopping(b, b->on_stopping_arg);
	for (unsigned i = 0; i < b->n_workers; i++)
		worker_stop_and_join(&b->workers[i]);
	/* the store applies and commits everything the workers submitted, and
	 * posts the batches back for the final drain */
	close_store(b);
	/* every thread is gone: what is still in flight between workers is
	 * released, not delivered */
	for (unsigned i = 0; i < b->n_workers; i++)
		worker_drain_final(&b->workers[i]);
	for (unsigned i = 0; i < b->n_workers && rc == FM_OK; i++)
		rc = b->workers[i].rc;
	struct broker_totals st = broker_stats_sum(b);
	log_notice(&b->log, "fleetmq stopped: %llu connections, %llu messages in, %llu out; dropped: "
		   "%llu queue limit, %llu QoS 0 over output limit, %llu QoS 0 offline; %llu slow consumers closed; "
		   "%llu delivery batches to other workers, %llu allocated",
		   (unsigned long long)st.connects_total, (unsigned long long)totals_pub_in(&st),
		   (unsigned long long)totals_pub_out(&st), (unsigned long long)st.dropped_queue,
		   (unsigned long long)st.dropped_qos0, (unsigned long long)st.dropped_offline,
		   (unsigned long long)st.slow_consumers, (unsigned long long)st.remote_batches,
		   (unsigned long long)st.batches_allocated);
	return rc;
}

void broker_fini(struct broker *b)
{
	for (unsigned i = 0; i < b->n_workers; i++)
		worker_stop_and_join(&b->workers[i]);
	close_store(b);
	for (unsigned i = 0; i < b->n_workers; i++)
		worker_drain_final(&b->workers[i]);
	for (unsigned i = 0; i < b->n_workers; i++)
		worker_fini(&b->workers[i]);
	free(b->workers);
	free(b->listener_conns);
	free(b->listener_accepted);
	free(b->listener_peak);
	free(b->listener_pending);
	broker_tls_close(b); /* after the workers: their connections held references */
	auth_rules_unref(b->auth);
	plugin_host_free(b->plugins); /* after the workers: no callback runs any more */
	if (b->signal_fd >= 0)
		close(b->signal_fd);
	loop_free(b->control);
	topic_tree_free(b->subs);
	share_table_free(b->shares);
	retain_tree_free(b->retained);
	session_table_free(b->sessions);
	session_thread_release(); /* nodes the final drain freed on this thread */
	if (b->locks_ready) {
		pthread_rwlock_destroy(&b->conf_lock);
		pthread_rwlock_destroy(&b->subs_lock);
		pthread_rwlock_destroy(&b->retained_lock);
		pthread_mutex_destroy(&b->sessions_lock);
		pthread_mutex_destroy(&b->start_lock);
		pthread_cond_destroy(&b->start_cond);
	}
	if (b->conf.pid_file)
		unlink(b->conf.pid_file);
	log_fini(&b->log);
	conf_fini(&b->conf);
}
