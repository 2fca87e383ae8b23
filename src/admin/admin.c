/* The HTTP server's routes (admin.h): method and path, then the bearer
 * token where the route needs one, then the endpoint. */
#include "admin/admin.h"
#include "admin/admin_int.h"
#include "net/ws.h"

#include "proto/worker_poll.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct route {
	const char *path;           /* exact, or a prefix when it ends with '/' */
	bool open;                  /* no token asked: health checks come from orchestrators */
	admin_endpoint_fn *fn;
	admin_check_fn *check;      /* what is wrong with its arguments (NULL: it takes none) */
};

static const struct route routes[] = {
	{"/", true, admin_web, NULL}, /* the dashboard: its files hold no data, the API calls need the token */
	{"/dashboard.js", true, admin_web, NULL},
	{"/dashboard.css", true, admin_web, NULL},
	{"/healthz", true, admin_healthz, NULL},
	{"/readyz", true, admin_readyz, NULL},
	{"/api/v1/broker", false, admin_broker, NULL},
	{"/metrics", false, admin_metrics, NULL},
	{"/api/v1/clients", false, admin_clients, admin_clients_check},
	{"/api/v1/clients/", false, admin_client, admin_client_check},
	{"/api/v1/client", false, admin_client_arg, admin_client_arg_check},
	{"/api/v1/subscriptions", false, admin_subscriptions, admin_subscriptions_check},
	{"/api/v1/retained", false, admin_retained, admin_retained_check},
	{"/api/v1/bridges", false, admin_bridges, NULL},
};

void admin_reply_json(struct http_response *resp, unsigned status, cJSON *json)
{
	char *text = json ? cJSON_PrintUnformatted(json) : NULL;
	cJSON_Delete(json);
	resp->body.off = resp->body.len = 0;
	if (!text || buf_append(&resp->body, text, strlen(text)) != FM_OK) {
		static const char oom[] = "{\"error\":\"out of memory\",\"status\":500}";
		resp->body.off = resp->body.len = 0;
		buf_append(&resp->body, oom, sizeof(oom) - 1); /* small: fits where the larger one did not */
		status = 500;
	}
	cJSON_free(text);
	resp->status = status;
	resp->content_type = "application/json";
}

void admin_json_add(cJSON *parent, const char *name, cJSON *item)
{
	bool added = parent && item &&
		     (name ? cJSON_AddItemToObject(parent, name, item) : cJSON_AddItemToArray(parent, item));
	if (!added)
		cJSON_Delete(item);
}

void admin_reply_error(struct http_response *resp, unsigned status, const char *text)
{
	cJSON *j = cJSON_CreateObject();
	if (j) {
		cJSON_AddStringToObject(j, "error", text);
		cJSON_AddNumberToObject(j, "status", status);
	}
	admin_reply_json(resp, status, j);
}

bool admin_parse_count(const char *s, size_t max, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v > max || s[0] == '-')
		return false;
	*out = (size_t)v;
	return true;
}

const char *admin_parse_page(const struct http_request *req, struct admin_page *pg)
{
	*pg = (struct admin_page){ .limit = 100 };
	const char *v;
	if ((v = http_arg(req, "limit")) && (!admin_parse_count(v, 1000, &pg->limit) || pg->limit == 0))
		return "limit: 1 to 1000";
	if ((v = http_arg(req, "offset")) && !admin_parse_count(v, 10000000, &pg->offset))
		return "offset: 0 to 10000000";
	return NULL;
}

cJSON *admin_page_json(const struct admin_page *pg, size_t total, const char *name, cJSON **items)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "total", (double)total);
	cJSON_AddNumberToObject(j, "offset", (double)pg->offset);
	cJSON_AddNumberToObject(j, "limit", (double)pg->limit);
	*items = cJSON_AddArrayToObject(j, name);
	return j;
}

struct worker_poll *admin_poll_workers(struct broker *b, worker_poll_fn *fn, const void *arg, size_t arg_size,
				       void (*free_result)(void *), struct http_response *resp)
{
	struct worker_poll *p = worker_poll_start(b, fn, arg, arg_size, free_result);
	if (!p) {
		admin_reply_error(resp, 500, "out of memory");
		return NULL;
	}
	bool all = worker_poll_wait(p, ADMIN_WORKER_WAIT_MS);
	for (unsigned w = 0; all && w < b->n_workers; w++)
		all = worker_poll_result(p, w) != NULL;
	if (all)
		return p;
	worker_poll_release(p);
	admin_reply_error(resp, 503, "a worker did not answer in time (or ran out of memory)");
	return NULL;
}

/* Buckets per slice: about as many sessions, a fraction of a millisecond. */
#define WALK_SLICE 4096

void admin_walk_sessions(struct worker *w, void (*fn)(struct session *s, void *arg), void (*restart)(void *arg),
			 void *arg)
{
	struct broker *b = w->b;
	for (;;) {
		struct session_walk walk;
		bool more = true, regrown = false;
		pthread_mutex_lock(&b->sessions_lock);
		session_walk_begin(b->sessions, &walk);
		pthread_mutex_unlock(&b->sessions_lock);
		while (more && !regrown) {
			pthread_mutex_lock(&b->sessions_lock);
			more = session_walk_step(b->sessions, &walk, WALK_SLICE, fn, arg, &regrown);
			pthread_mutex_unlock(&b->sessions_lock);
		}
		if (!regrown)
			return;
		restart(arg); /* rare: the table doubles only log2(sessions) times */
	}
}

/* Constant-time comparison: how long it takes says nothing of how much of
 * the token was right. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned diff = (unsigned)(la ^ lb);
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return diff == 0 && lb > 0;
}

/* "Authorization: Bearer TOKEN" with http_token (read under the config
 * lock: SIGHUP may change it). No http_token: everyone may. */
static bool authorized(struct broker *b, const struct http_request *req)
{
	pthread_rwlock_rdlock(&b->conf_lock);
	bool ok = true;
	if (b->conf.http_token) {
		const char *h = req->authorization;
		ok = strncasecmp(h, "Bearer ", 7) == 0 && same_secret(h + 7, b->conf.http_token);
	}
	pthread_rwlock_unlock(&b->conf_lock);
	return ok;
}

static bool route_matches(const struct route *r, const char *path)
{
	size_t len = strlen(r->path);
	bool prefix = len > 1 && r->path[len - 1] == '/'; /* "/" itself (the dashboard) is exact */
	return prefix ? strncmp(path, r->path, len) == 0 && path[len] : strcmp(path, r->path) == 0;
}

static const struct route *route_of(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (route_matches(&routes[i], path))
			return &routes[i];
	return NULL;
}

/* 404 or 405 (*why says why), or 0 with *out the route. */
static unsigned check_route(const struct http_request *req, const struct route **out, const char **why)
{
	*out = route_of(req->path);
	if (!*out)
		return *why = "no such endpoint", 404;
	if (req->method == HTTP_OTHER)
		return *why = "only GET and HEAD", 405;
	return 0;
}

/* 400 (*why says why) or 0. */
static unsigned check_args(const struct route *r, const struct http_request *req, const char **why)
{
	if (req->too_many_args)
		return *why = "too many query arguments", 400;
	if (req->arg_too_long)
		return *why = "a query argument of 256 bytes or more", 400;
	if (r->check && (*why = r->check(req)) != NULL)
		return 400;
	return 0;
}

unsigned admin_request_check(const struct http_request *req, const char **why)
{
	const struct route *r;
	unsigned status = check_route(req, &r, why);
	return status ? status : check_args(r, req, why);
}

static void handle(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct broker *b = arg;
	resp->no_store = true; /* every answer is live data */
	const struct route *r;
	const char *why = NULL;
	unsigned status = check_route(req, &r, &why);
	if (status == 405)
		resp->allow = "GET, HEAD";
	if (status)
		return admin_reply_error(resp, status, why);
	/* the token before the arguments: nobody learns anything without it */
	if (!r->open && !authorized(b, req)) {
		resp->auth_challenge = true;
		return admin_reply_error(resp, 401, "a valid 'Authorization: Bearer' token is required");
	}
	if ((status = check_args(r, req, &why)) != 0)
		return admin_reply_error(resp, status, why);
	r->fn(b, req, resp);
}

static void stop_on_broker_stop(struct broker *b, void *arg)
{
	(void)arg;
	admin_stop(b);
}

/* Loopback addresses: the only ones where an open API is no one else's. */
static bool loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 || strcmp(addr, "localhost") == 0;
}

int admin_start(struct broker *b, struct fm_errbuf *eb)
{
	if (!b->conf.http_port)
		return FM_OK;
	if (!b->conf.http_token && !loopback(b->conf.http_address))
		log_warn(&b->log, "http_listener on %s without http_token: anyone who reaches it reads the API",
			    b->conf.http_address);
	struct http_server *s = NULL;
	ws_global_init(&b->log); /* libwebsockets' log lines into ours */
	int rc = http_server_start(b->conf.http_address, b->conf.http_port, handle, b, &b->log, &s, eb);
	if (rc != FM_OK)
		return rc;
	b->on_stopping = stop_on_broker_stop;
	b->on_stopping_arg = s;
	return FM_OK;
}

void admin_stop(struct broker *b)
{
	http_server_stop(b->on_stopping_arg);
	b->on_stopping = NULL;
	b->on_stopping_arg = NULL;
}
