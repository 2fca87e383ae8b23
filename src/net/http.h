/* A small HTTP/1.1 server for the broker's own endpoints (stats, metrics,
 * health, dashboard), served by libwebsockets on a thread of its own, so
 * nothing it does (a slow client, a large answer, a handler that waits
 * for the workers) ever runs on a worker.
 *
 * It knows nothing of MQTT: each request (GET or HEAD; anything else is
 * still handed over, so the handler can answer 405) goes to one handler
 * function, on the server's thread, one request at a time, which fills
 * in the response. */
#ifndef FM_NET_HTTP_H
#define FM_NET_HTTP_H

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

#include <stdbool.h>
#include <stddef.h>

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

#define HTTP_MAX_ARGS 16

struct http_arg {
	const char *name;
	const char *value;          /* URL-decoded; "" for "?flag" */
};

struct http_request {
	enum http_method method;
	const char *path;           /* URL-decoded, without the query */
	const char *authorization;  /* the Authorization header; "" if none */
	struct http_arg args[HTTP_MAX_ARGS]; /* the query's name=value pairs, in order */
	size_t n_args;
	bool too_many_args;         /* more than HTTP_MAX_ARGS: the rest are left out */
	bool arg_too_long;          /* an argument of HTTP_ARG_MAX bytes or more was left out */
};

/* The longest "name=value" argument taken, and the longest path (longer
 * ones are answered 414 before any handler runs). */
#define HTTP_ARG_MAX 256
#define HTTP_PATH_MAX 1024

/* The value of query argument name, or NULL. */
const char *http_arg(const struct http_request *r, const char *name);

struct http_response {
	unsigned status;            /* 200 unless the handler says otherwise */
	const char *content_type;   /* a static string; default application/json */
	struct buf body;
	const char *allow;          /* an Allow header (with 405); static or NULL */
	bool auth_challenge;        /* a WWW-Authenticate: Bearer header (with 401) */
	bool no_store;              /* Cache-Control: no-store (live data) */
	const char *csp;            /* a Content-Security-Policy header (pages); static or NULL */
};

typedef void http_handler_fn(void *arg, const struct http_request *req, struct http_response *resp);

struct http_server;

/* Listen on addr:port and serve on a new thread. FM_OK, or an error with
 * eb saying what (the port taken, say). The handler is first called after
 * this returns. */
int http_server_start(const char *addr, unsigned port, http_handler_fn *handler, void *arg, struct log *log,
		      struct http_server **out, struct fm_errbuf *eb);
/* Stop serving, join the thread and free the server (NULL is fine). */
void http_server_stop(struct http_server *s);

#endif
