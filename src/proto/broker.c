/* Broker set-up, the accept path, signals (SIGINT/SIGTERM graceful stop,
 * SIGHUP reload) and tear-down. Everything a packet does is elsewhere. */
#include "proto/broker.h"
#include "proto/client.h"
#include "proto/proto.h"
#include "core/clock.h"
#include "net/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define SCRATCH_BYTES (64u * 1024u)
#define ACCEPTS_PER_EVENT 64

struct session_limits broker_session_limits(const struct broker *b)
{
	return (struct session_limits){
		.max_inflight = b->conf.max_inflight_messages,
		.max_queued = b->conf.max_queued_messages,
		.max_queued_bytes = b->conf.max_queued_bytes,
	};
}

static bool over_connection_limits(struct broker *b, struct listener_rt *l)
{
	int per_listener = l->conf->max_connections;
	if (per_listener >= 0 && l->connections >= (uint32_t)per_listener)
		return true;
	return b->conf.max_connections >= 0 && b->n_clients >= (uint32_t)b->conf.max_connections;
}

static void on_accept(struct loop *lp, int fd, unsigned events, void *arg)
{
	(void)lp;
	(void)events;
	struct listener_rt *l = arg;
	struct broker *b = l->b;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int cfd;
		char peer[64];
		int rc = net_accept(fd, &cfd, peer, sizeof(peer));
		if (rc == FM_EAGAIN)
			return;
		if (rc != FM_OK) {
			log_warn(&b->log, "accept on port %u failed: %s", l->port, fm_strerror(rc));
			return;
		}
		if (over_connection_limits(b, l)) {
			log_notice(&b->log, "connection from %s refused: max_connections reached", peer);
			close(cfd);
			continue;
		}
		if (client_accept(&b->worker, l, cfd, peer) != FM_OK)
			log_warn(&b->log, "connection from %s dropped: out of memory", peer);
	}
}

static int open_listeners(struct broker *b, struct fm_errbuf *eb)
{
	b->listeners = calloc(b->conf.n_listeners, sizeof(*b->listeners));
	if (!b->listeners)
		return FM_ENOMEM;
	for (size_t i = 0; i < b->conf.n_listeners; i++) {
		struct listener_rt *l = &b->listeners[i];
		const struct conf_listener *cl = &b->conf.listeners[i];
		l->b = b;
		l->conf = cl;
		l->fd = -1;
		b->n_listeners++;
		int rc = net_listen(cl->bind_address, cl->port, &l->fd, &l->port, eb);
		if (rc == FM_OK)
			rc = loop_io_add(b->worker.loop, l->fd, LOOP_READ, on_accept, l);
		if (rc != FM_OK)
			return rc;
		log_notice(&b->log, "listening on %s:%u (mqtt)",
			   cl->bind_address ? cl->bind_address : "0.0.0.0", l->port);
	}
	return FM_OK;
}

static int apply_log_conf(struct log *lg, const struct conf *c, struct fm_errbuf *eb)
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
	if (rc == FM_OK) {
		conf_apply_reloadable(&b->conf, &fresh);
		rc = apply_log_conf(&b->log, &b->conf, &eb);
	}
	if (rc == FM_OK)
		log_notice(&b->log, "SIGHUP: reloaded %s (listeners and workers need a restart)", b->conf_path);
	else
		log_error(&b->log, "SIGHUP: keeping the previous configuration: %s", eb.msg);
	conf_fini(&fresh);
}

static void on_signal(struct loop *lp, int fd, unsigned events, void *arg)
{
	(void)events;
	struct broker *b = arg;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(b);
		} else {
			log_notice(&b->log, "signal %u: shutting down", si.ssi_signo);
			b->stopping = true;
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
	/* blocked before any thread starts, so every thread inherits the mask */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (b->signal_fd < 0)
		return fm_errbuf_set(eb, "signalfd: %s", strerror(errno));
	return loop_io_add(b->worker.loop, b->signal_fd, LOOP_READ, on_signal, b);
}

static int write_pid_file(const struct broker *b, struct fm_errbuf *eb)
{
	if (!b->conf.pid_file)
		return FM_OK;
	FILE *f = fopen(b->conf.pid_file, "w");
	if (!f)
		return fm_errbuf_set(eb, "cannot write pid_file '%s': %s", b->conf.pid_file, strerror(errno));
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return FM_OK;
}

static int worker_init(struct worker *w, struct broker *b)
{
	w->b = b;
	list_init(&w->clients);
	list_init(&w->dirty);
	w->loop = loop_new();
	w->scratch = malloc(SCRATCH_BYTES);
	w->scratch_len = SCRATCH_BYTES;
	return w->loop && w->scratch ? FM_OK : FM_ENOMEM;
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
	int rc = apply_log_conf(&b->log, &b->conf, eb);
	if (rc != FM_OK)
		return rc;
	b->subs = topic_tree_new();
	b->retained = retain_tree_new(route_retained_unref);
	b->sessions = session_table_new();
	if (!b->subs || !b->retained || !b->sessions || worker_init(&b->worker, b) != FM_OK)
		return fm_errbuf_set(eb, "out of memory") , FM_ENOMEM;
	if ((rc = setup_signals(b, eb)) != FM_OK || (rc = open_listeners(b, eb)) != FM_OK)
		return rc;
	return write_pid_file(b, eb);
}

/* Graceful stop: stop accepting, close every connection (flushing what is
 * already queued for it), then let the loop run its deferred frees. Wills
 * are not published: the clients did not go away, the broker did. */
static void shutdown_clients(struct broker *b)
{
	for (size_t i = 0; i < b->n_listeners; i++) {
		if (b->listeners[i].fd >= 0) {
			loop_io_del(b->worker.loop, b->listeners[i].fd);
			close(b->listeners[i].fd);
			b->listeners[i].fd = -1;
		}
	}
	struct list *pos, *tmp;
	list_foreach_safe(pos, tmp, &b->worker.clients) {
		struct client *c = list_entry(pos, struct client, link);
		c->will_on_close = false;
		client_close(c, "server shutting down");
	}
	loop_stop(b->worker.loop);
	loop_run(b->worker.loop); /* one iteration: deferred frees */
}

int broker_run(struct broker *b)
{
	log_notice(&b->log, "fleetmq %s running", FLEETMQ_VERSION);
	int rc = loop_run(b->worker.loop);
	shutdown_clients(b);
	log_notice(&b->log, "fleetmq stopped");
	return rc;
}

void broker_fini(struct broker *b)
{
	for (size_t i = 0; i < b->n_listeners; i++)
		if (b->listeners[i].fd >= 0)
			close(b->listeners[i].fd);
	free(b->listeners);
	if (b->signal_fd >= 0)
		close(b->signal_fd);
	session_table_free(b->sessions);
	retain_tree_free(b->retained);
	topic_tree_free(b->subs);
	free(b->targets);
	loop_free(b->worker.loop);
	free(b->worker.scratch);
	if (b->conf.pid_file)
		unlink(b->conf.pid_file);
	log_fini(&b->log);
	conf_fini(&b->conf);
}
