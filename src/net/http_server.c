/* The HTTP server of http.h: a libwebsockets context with its own poll
 * loop, serviced by one thread. A request is read into a struct
 * http_request, answered by the handler, and the answer written in
 * chunks as the socket takes them.
 *
 * The listening socket is ours, watched by libwebsockets as a raw file
 * descriptor: libwebsockets' own accept, out of file descriptors, logged
 * and returned to a poll that reported the socket readable again at once,
 * so the thread spun and the log grew by hundreds of thousands of lines a
 * second. Here the connections it cannot take are refused through a spare
 * descriptor (net_accept_shed), as the MQTT listeners do, or the thread
 * waits ACCEPT_REST_MS before it tries again. */
#include "net/http.h"
#include "net/conn.h"
#include "core/clock.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384
#define ACCEPTS_PER_EVENT 16
#define ACCEPT_REST_MS 100
#define REFUSAL_LOG_INTERVAL_MS 10000

struct http_server {
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	http_handler_fn *handler;
	void *arg;
	struct log *log;
	unsigned port;
	int spare_fd;                 /* for net_accept_shed; -1 while another thread holds the slot */
	uint64_t refused;             /* connections refused since refused_logged_ms */
	uint64_t refused_logged_ms;   /* 0: never */
	uint8_t out[LWS_PRE + CHUNK]; /* one chunk being written (the thread's own) */
};

/* Per connection: the answer being written. */
struct http_conn {
	struct buf body;
	size_t sent;
	bool writing;
};

const char *http_arg(const struct http_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_args; i++)
		if (strcmp(r->args[i].name, name) == 0)
			return r->args[i].value;
	return NULL;
}

/* --- reading a request ----------------------------------------------------------- */

/* The request's storage: strings the request points into. */
struct request_text {
	char path[HTTP_PATH_MAX];
	char authorization[512];    /* longer: left out, so no token matches */
	char args[HTTP_MAX_ARGS][HTTP_ARG_MAX];
};

/* How many of the query's '&'-separated fragments are looked at: empty
 * ones ("a=1&&b=2") count, so a few more than HTTP_MAX_ARGS. */
#define ARG_FRAGMENTS_MAX (4 * HTTP_MAX_ARGS)

static enum http_method method_of(struct lws *wsi)
{
	char *uri;
	int len;
	switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
	case LWSHUMETH_GET: return HTTP_GET;
	case LWSHUMETH_HEAD: return HTTP_HEAD;
	default: return HTTP_OTHER;
	}
}

/* Every argument, none silently dropped: an empty fragment is skipped, a
 * too long one or one too many is flagged (the handler answers 400). */
static void read_args(struct lws *wsi, struct http_request *r, struct request_text *t)
{
	for (int i = 0; i < ARG_FRAGMENTS_MAX; i++) {
		int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len <= 0)
			continue; /* empty ("&&"), or past the last */
		if (len >= HTTP_ARG_MAX) {
			r->arg_too_long = true;
			continue;
		}
		if (r->n_args == HTTP_MAX_ARGS) {
			r->too_many_args = true;
			return;
		}
		char *slot = t->args[r->n_args];
		if (lws_hdr_copy_fragment(wsi, slot, HTTP_ARG_MAX, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			continue;
		char *eq = strchr(slot, '=');
		if (eq)
			*eq = '\0';
		r->args[r->n_args++] = (struct http_arg){ .name = slot, .value = eq ? eq + 1 : "" };
	}
}

static void read_request(struct lws *wsi, const char *path, size_t len, struct http_request *r,
			 struct request_text *t)
{
	memset(r, 0, sizeof(*r));
	if (len >= sizeof(t->path))
		len = 0; /* answered 414 (serve_request): never a cut path, which could name something else */
	memcpy(t->path, path, len);
	t->path[len] = '\0';
	r->path = t->path;
	r->method = method_of(wsi);
	t->authorization[0] = '\0';
	if (lws_hdr_copy(wsi, t->authorization, sizeof(t->authorization), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		t->authorization[0] = '\0';
	r->authorization = t->authorization;
	read_args(wsi, r, t);
	if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, ARG_FRAGMENTS_MAX) > 0)
		r->too_many_args = true;
}

/* --- writing the answer --------------------------------------------------------- */

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
					   (int)strlen(value), p, end);
}

static int write_headers(struct lws *wsi, const struct http_response *resp)
{
	unsigned char hdr[LWS_PRE + 2048];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
	const char *type = resp->content_type ? resp->content_type : "application/json";
	if (lws_add_http_common_headers(wsi, resp->status, type, buf_used(&resp->body), &p, end))
		return -1;
	if (resp->allow && add_header(wsi, "allow:", resp->allow, &p, end))
		return -1;
	if (resp->auth_challenge && add_header(wsi, "www-authenticate:", "Bearer realm=\"fleetmq\"", &p, end))
		return -1;
	if (resp->no_store && add_header(wsi, "cache-control:", "no-store", &p, end))
		return -1;
	if (resp->csp && add_header(wsi, "content-security-policy:", resp->csp, &p, end))
		return -1;
	if (add_header(wsi, "x-content-type-options:", "nosniff", &p, end))
		return -1;
	return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* One chunk of the answer (the last completes the transaction). */
static int write_chunk(struct http_server *s, struct lws *wsi, struct http_conn *hc)
{
	if (!hc->writing)
		return 0;
	size_t left = buf_used(&hc->body) - hc->sent;
	size_t n = left < CHUNK ? left : CHUNK;
	bool last = n == left;
	memcpy(s->out + LWS_PRE, buf_head(&hc->body) + hc->sent, n);
	if (lws_write(wsi, s->out + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
		return -1;
	hc->sent += n;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	hc->writing = false;
	buf_fini(&hc->body);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Answer one request; the body follows as the socket becomes writable. */
static int serve_request(struct http_server *s, struct lws *wsi, struct http_conn *hc, const char *path, size_t len)
{
	struct request_text t;
	struct http_request req;
	read_request(wsi, path, len, &req, &t);
	struct http_response resp = { .status = 200 };
	buf_init(&resp.body);
	if (len >= HTTP_PATH_MAX) {
		static const char too_long[] = "{\"error\":\"the path is too long\",\"status\":414}";
		resp.status = 414;
		buf_append(&resp.body, too_long, sizeof(too_long) - 1);
	} else {
		s->handler(s->arg, &req, &resp);
	}
	int rc = write_headers(wsi, &resp);
	if (rc == 0 && req.method != HTTP_HEAD && buf_used(&resp.body) > 0) {
		buf_fini(&hc->body);
		hc->body = resp.body; /* taken over */
		hc->sent = 0;
		hc->writing = true;
		/* the first chunk at once: a request with a body (POST, PUT) is
		 * not offered a writable callback before it has been read */
		return write_chunk(s, wsi, hc);
	}
	buf_fini(&resp.body);
	if (rc == 0 && lws_http_transaction_completed(wsi))
		rc = -1;
	return rc;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct http_server *s = lws_context_user(lws_get_context(wsi));
	struct http_conn *hc = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return serve_request(s, wsi, hc, in ? (const char *)in : "/", in ? strlen(in) : 1);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_chunk(s, wsi, hc);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (hc) {
			buf_fini(&hc->body);
			hc->writing = false;
		}
		break;
	default:
		break;
	}
	(void)len;
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* --- accepting ------------------------------------------------------------------ */

static void log_trouble(struct http_server *s, int rc, bool resting)
{
	uint64_t now = clock_mono_ms();
	if (s->refused_logged_ms && now - s->refused_logged_ms < REFUSAL_LOG_INTERVAL_MS)
		return;
	if (rc == FM_ELIMIT && s->refused == 0 && !resting)
		return; /* nothing was waiting after all */
	struct rlimit rl = {0};
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rc == FM_ELIMIT)
		log_warn(s->log, "HTTP port %u: no file descriptor left (the open files limit is %llu, unless the "
			 "system's fs.file-max ran out): %llu connection%s refused%s", s->port,
			 (unsigned long long)rl.rlim_cur, (unsigned long long)s->refused, s->refused == 1 ? "" : "s",
			 resting ? ", the others wait until one is free" : "");
	else
		log_warn(s->log, "HTTP port %u: accept failed: %s; trying again every %u ms", s->port, fm_strerror(rc),
			 ACCEPT_REST_MS);
	s->refused = 0;
	s->refused_logged_ms = now ? now : 1;
}

/* The thread is this listener's alone: when not even refusing works, it
 * sleeps rather than poll a socket that stays readable. */
static void rest(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ACCEPT_REST_MS * 1000000L };
	nanosleep(&ts, NULL);
}

static void accept_waiting(struct http_server *s, int lfd)
{
	if (s->spare_fd < 0) /* lost in a shortage: before any connection takes the next free slot */
		s->spare_fd = net_spare_fd_open();
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd;
		struct net_addr peer;
		int rc = net_accept(lfd, &fd, &peer);
		if (rc == FM_EAGAIN)
			return;
		if (rc == FM_ECLOSED)
			continue;
		if (rc == FM_OK) {
			lws_adopt_socket_vhost(s->vhost, fd); /* which closes fd if it fails */
			continue;
		}
		bool refused_all = rc == FM_ELIMIT &&
				   net_refuse_waiting(lfd, &s->spare_fd, ACCEPTS_PER_EVENT, &s->refused);
		log_trouble(s, rc, !refused_all);
		if (!refused_all)
			rest();
		return;
	}
}

static int accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct http_server *s = lws_context_user(lws_get_context(wsi));
	if (reason == LWS_CALLBACK_RAW_RX_FILE)
		accept_waiting(s, (int)lws_get_socket_fd(wsi));
	(void)user;
	(void)in;
	(void)len;
	return 0;
}

static const struct lws_protocols protocols[] = {
	{"http", callback, sizeof(struct http_conn), 0, 0, NULL, 0},
	{"fleetmq-http-accept", accept_callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Our listening socket, watched by libwebsockets, which closes it with the
 * context (also when adopting it failed after it was queued on the vhost;
 * before that, on a missing vhost, it is ours to close). */
static int listen_on(struct http_server *s, const char *addr, unsigned port, struct fm_errbuf *eb)
{
	struct net_listen_opts o = { .addr = addr, .port = port, .first = true };
	int fd;
	struct fm_errbuf why;
	if (net_listen(&o, &fd, &s->port, &why) != FM_OK)
		return fm_errbuf_set(eb, "http_listener: %s", why.msg), FM_EIO;
	s->vhost = lws_get_vhost_by_name(s->ctx, "default");
	if (!s->vhost) {
		close(fd);
		return fm_errbuf_set(eb, "http_listener: libwebsockets made no default vhost"), FM_EIO;
	}
	lws_sock_file_fd_type u = { .filefd = fd };
	if (!lws_adopt_descriptor_vhost(s->vhost, LWS_ADOPT_RAW_FILE_DESC, u, "fleetmq-http-accept", NULL))
		return fm_errbuf_set(eb, "http_listener: libwebsockets cannot watch its socket"), FM_EIO;
	return FM_OK;
}

/* --- the thread ------------------------------------------------------------------ */

static void *serve(void *arg)
{
	struct http_server *s = arg;
	while (!atomic_load(&s->stop))
		if (lws_service(s->ctx, 0) < 0)
			break;
	return NULL;
}

static void http_server_free(struct http_server *s);

int http_server_start(const char *addr, unsigned port, http_handler_fn *handler, void *arg, struct log *log,
		      struct http_server **out, struct fm_errbuf *eb)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	s->handler = handler;
	s->arg = arg;
	s->log = log;
	s->spare_fd = net_spare_fd_open();
	struct lws_context_creation_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	ci.protocols = protocols;
	ci.user = s;
	ci.server_string = "fleetmq";
	ci.timeout_secs = 10;
	ci.options = LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	s->ctx = lws_create_context(&ci);
	int rc = s->ctx ? listen_on(s, addr, port, eb)
			: (fm_errbuf_set(eb, "http_listener: libwebsockets cannot create its context"), FM_EIO);
	if (rc != FM_OK) {
		http_server_free(s);
		return rc;
	}
	if (pthread_create(&s->thread, NULL, serve, s) != 0) {
		http_server_free(s);
		return fm_errbuf_set(eb, "http_listener: cannot start its thread"), FM_EIO;
	}
	s->started = true;
	log_notice(log, "HTTP stats listening on %s port %u", addr, s->port);
	*out = s;
	return FM_OK;
}

static void http_server_free(struct http_server *s)
{
	if (s->ctx)
		lws_context_destroy(s->ctx);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	free(s);
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->started) {
		atomic_store(&s->stop, true);
		lws_cancel_service(s->ctx); /* wakes the thread out of its poll */
		pthread_join(s->thread, NULL);
	}
	http_server_free(s);
}
