/* Accepting connections (see accept.h).
 *
 * Out of file descriptors (EMFILE, ENFILE), accept fails while the
 * listening socket stays readable: a worker that only logged and went back
 * to epoll_wait spun at full CPU and wrote hundreds of thousands of log
 * lines a second, while the clients waited in the backlog. Instead the
 * worker refuses the waiting connections through its spare descriptor
 * (net_accept_shed), so each costs one accept and one close and its client
 * hears no at once; and when even that fails (no spare, or the kernel is
 * out of socket memory) the listener rests ACCEPT_REST_MS before it is
 * watched again, and its connections wait in the backlog until a
 * descriptor is free. Either way the log says so at most every
 * REFUSAL_LOG_INTERVAL_MS. */
#include "proto/accept.h"
#include "proto/proxy_wait.h"
#include "net/conn.h"

#include <sys/resource.h>
#include <unistd.h>

#define ACCEPTS_PER_EVENT 64
#define ACCEPT_REST_MS 100
#define REFUSAL_LOG_INTERVAL_MS 10000

static bool over_connection_limits(struct broker *b, struct listener_rt *l)
{
	pthread_rwlock_rdlock(&b->conf_lock);
	int per_listener = l->conf->max_connections;
	int global = b->conf.max_connections;
	pthread_rwlock_unlock(&b->conf_lock);
	unsigned here = atomic_load(&b->listener_conns[l->index]) + atomic_load(&b->listener_pending[l->index]);
	if (per_listener >= 0 && here >= (unsigned)per_listener)
		return true;
	return global >= 0 && atomic_load(&b->n_clients) + atomic_load(&b->n_pending) >= (unsigned)global;
}

void listener_pending_add(struct listener_rt *l)
{
	atomic_fetch_add(&l->b->n_pending, 1);
	atomic_fetch_add(&l->b->listener_pending[l->index], 1);
}

void listener_pending_done(struct broker *b, size_t listener_index)
{
	atomic_fetch_sub(&b->n_pending, 1);
	atomic_fetch_sub(&b->listener_pending[listener_index], 1);
}

/* Trouble accepting, logged the first time and then at most every
 * REFUSAL_LOG_INTERVAL_MS, with the refusals meanwhile. resting: the
 * listener is not watched for ACCEPT_REST_MS. */
static void log_trouble(struct listener_rt *l, int rc, bool resting)
{
	uint64_t now = loop_now_ms(l->w->loop);
	if (l->refused_logged_ms && now - l->refused_logged_ms < REFUSAL_LOG_INTERVAL_MS)
		return;
	if (rc == FM_ELIMIT && l->refused == 0 && !resting)
		return; /* nothing was waiting after all */
	struct rlimit rl = {0};
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rc == FM_ELIMIT)
		log_warn(&l->b->log,
			 "port %u: no file descriptor left (the open files limit is %llu, unless the system's "
			 "fs.file-max ran out): %llu connection%s refused%s; raise the limit (ulimit -n, "
			 "LimitNOFILE) or lower max_connections",
			 l->port, (unsigned long long)rl.rlim_cur, (unsigned long long)l->refused,
			 l->refused == 1 ? "" : "s", resting ? ", the others wait until one is free" : "");
	else
		log_warn(&l->b->log, "port %u: accept failed: %s; trying again every %u ms", l->port, fm_strerror(rc),
			 ACCEPT_REST_MS);
	l->refused = 0;
	l->refused_logged_ms = now ? now : 1;
}

static void on_resume(struct loop *lp, struct loop_timer *t)
{
	(void)lp;
	struct listener_rt *l = list_entry(t, struct listener_rt, resume);
	if (listener_watch(l) != FM_OK)
		loop_timer_start(l->w->loop, &l->resume, ACCEPT_REST_MS);
}

static void rest(struct listener_rt *l)
{
	loop_io_del(l->w->loop, &l->io);
	loop_timer_start(l->w->loop, &l->resume, ACCEPT_REST_MS);
}

/* Out of descriptors, the waiting connections are refused while the
 * worker's spare descriptor lasts. Another worker can take the slot the
 * spare left for a moment (for a client of its own); until a descriptor
 * is free again the spare is gone, and the listener rests. */
static void accept_failed(struct listener_rt *l, int rc)
{
	bool refused_all = rc == FM_ELIMIT &&
			   net_refuse_waiting(l->fd, &l->w->spare_fd, ACCEPTS_PER_EVENT, &l->refused);
	log_trouble(l, rc, !refused_all);
	if (!refused_all)
		rest(l);
}

static void refuse(struct broker *b, int fd, const struct net_addr *peer, const char *why)
{
	char text[NET_ADDR_STRLEN];
	log_notice(&b->log, "connection from %s refused: %s", net_addr_format(peer, text, sizeof(text)), why);
	close(fd);
}

static void on_accept(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)lp;
	(void)events;
	struct listener_rt *l = list_entry(io, struct listener_rt, io);
	struct broker *b = l->b;
	if (l->w->spare_fd < 0) /* lost in a shortage: before any connection takes the next free slot */
		l->w->spare_fd = net_spare_fd_open();
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd;
		struct net_addr peer;
		int rc = net_accept(l->fd, &fd, &peer);
		if (rc == FM_EAGAIN)
			return;
		if (rc == FM_ECLOSED)
			continue;
		if (rc != FM_OK) {
			accept_failed(l, rc);
			return;
		}
		if (atomic_load_explicit(&b->over_memory, memory_order_relaxed)) {
			refuse(b, fd, &peer, "memory_limit reached");
			continue;
		}
		if (over_connection_limits(b, l)) {
			refuse(b, fd, &peer, "max_connections reached");
			continue;
		}
		int arc = l->conf->proxy_protocol ? proxy_wait_start(l->w, l, fd, &peer) : listener_hand_on(l, fd, &peer);
		if (arc != FM_OK) { /* fd closed, nothing left counted */
			char text[NET_ADDR_STRLEN];
			log_warn(&b->log, "connection from %s dropped: out of memory",
				 net_addr_format(&peer, text, sizeof(text)));
		}
	}
}

int listener_watch(struct listener_rt *l)
{
	if (!l->resume.fn)
		loop_timer_init(&l->resume, on_resume);
	if (l->w->spare_fd < 0)
		l->w->spare_fd = net_spare_fd_open();
	return loop_io_add(l->w->loop, &l->io, l->fd, LOOP_READ, on_accept);
}

void listener_unwatch(struct listener_rt *l)
{
	loop_io_del(l->w->loop, &l->io);
	if (l->resume.fn)
		loop_timer_stop(l->w->loop, &l->resume);
}
