/* Host names resolved off the worker: getaddrinfo may wait seconds for a
 * DNS server, and a worker waiting would stall every client it owns. A
 * bridge whose address is a name gets a resolver thread of its own on
 * first use, which sleeps until asked; the answer comes back through an
 * eventfd in the worker's loop. Address literals never come here.
 *
 * The thread touches only the resolver (under its lock) and the eventfd;
 * bridges_fini joins it before anything is freed. A request superseded
 * (the attempt timed out, the bridge stopped) is recognised by its
 * generation and its answer dropped. */
#include "bridge/bridge_int.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct bridge_resolver {
	struct bridge *br;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int efd;                  /* signalled when an answer is ready */
	struct loop_io io;
	bool quit;                /* bridges_fini: the thread ends */
	bool asked;               /* a request waits for the thread */
	unsigned gen;             /* the request asked last */
	unsigned answered_gen;    /* the request the answer below is for */
	char host[256];
	uint16_t port;
	int rc;                   /* getaddrinfo's */
	struct bridge_addrs answer;
};

int bridge_addrs_fill(struct bridge_addrs *out, const char *host, uint16_t port, bool numeric_only)
{
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (numeric_only ? AI_NUMERICHOST : 0) };
	struct addrinfo *res;
	int rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0)
		return rc;
	out->n = out->next = 0;
	for (struct addrinfo *ai = res; ai && out->n < BRIDGE_ADDRS_MAX; ai = ai->ai_next) {
		memcpy(&out->ss[out->n], ai->ai_addr, ai->ai_addrlen);
		out->len[out->n] = ai->ai_addrlen;
		out->family[out->n] = ai->ai_family;
		out->n++;
	}
	freeaddrinfo(res);
	return out->n ? 0 : EAI_NONAME;
}

static void *resolver_main(void *arg)
{
	struct bridge_resolver *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->asked && !r->quit)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->quit)
			break;
		r->asked = false;
		unsigned gen = r->gen;
		char host[sizeof(r->host)];
		uint16_t port = r->port;
		memcpy(host, r->host, sizeof(host));
		pthread_mutex_unlock(&r->lock);
		struct bridge_addrs answer;
		int rc = bridge_addrs_fill(&answer, host, port, false); /* the wait, unlocked */
		pthread_mutex_lock(&r->lock);
		r->rc = rc;
		r->answer = answer;
		r->answered_gen = gen;
		uint64_t one = 1;
		(void)!write(r->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* The answer is in: the link goes on with it, unless it is stale. */
static void on_answer(struct loop *lp, struct loop_io *io, unsigned events)
{
	(void)lp;
	(void)events;
	struct bridge_resolver *r = list_entry(io, struct bridge_resolver, io);
	uint64_t n;
	(void)!read(r->efd, &n, sizeof(n));
	pthread_mutex_lock(&r->lock);
	bool current = r->answered_gen == r->gen && r->answered_gen != 0;
	int rc = r->rc;
	struct bridge_addrs answer = r->answer;
	if (current)
		r->answered_gen = 0; /* taken */
	pthread_mutex_unlock(&r->lock);
	if (current)
		bridge_link_resolved(r->br, rc == 0 ? NULL : gai_strerror(rc), &answer);
}

static void resolver_free(struct bridge_resolver *r)
{
	if (r->efd >= 0)
		close(r->efd);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static struct bridge_resolver *resolver_new(struct bridge *br)
{
	struct bridge_resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->br = br;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0 || loop_io_add(br->w->loop, &r->io, r->efd, LOOP_READ, on_answer) != FM_OK) {
		resolver_free(r);
		return NULL;
	}
	if (pthread_create(&r->thread, NULL, resolver_main, r) != 0) {
		loop_io_del(br->w->loop, &r->io);
		resolver_free(r);
		return NULL;
	}
	return r;
}

int bridge_resolve_ask(struct bridge *br, const struct conf_bridge_address *a)
{
	if (!br->resolver && (br->resolver = resolver_new(br)) == NULL)
		return FM_ENOMEM;
	struct bridge_resolver *r = br->resolver;
	pthread_mutex_lock(&r->lock);
	snprintf(r->host, sizeof(r->host), "%s", a->host);
	r->port = a->port;
	r->gen = r->gen + 1 ? r->gen + 1 : 1; /* 0 means "no answer" */
	r->asked = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return FM_OK;
}

void bridge_resolve_cancel(struct bridge *br)
{
	struct bridge_resolver *r = br->resolver;
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->gen = r->gen + 1 ? r->gen + 1 : 1; /* whatever comes now is stale */
	r->asked = false;
	pthread_mutex_unlock(&r->lock);
}

void bridge_resolve_stop(struct bridge *br)
{
	if (br->resolver) {
		bridge_resolve_cancel(br);
		loop_io_del(br->w->loop, &br->resolver->io);
	}
}

void bridge_resolve_fini(struct bridge *br)
{
	struct bridge_resolver *r = br->resolver;
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->quit = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL); /* at most one lookup still running */
	resolver_free(r);
	br->resolver = NULL;
}
