/* Internal to src/admin: what the endpoints share. */
#ifndef FM_ADMIN_ADMIN_INT_H
#define FM_ADMIN_ADMIN_INT_H

#include "net/http.h"
#include "proto/broker.h"
#include "proto/worker_poll.h"

#include <cjson/cJSON.h>

/* What is wrong with a request's arguments for an endpoint, or NULL. */
typedef const char *admin_check_fn(const struct http_request *req);
admin_check_fn admin_clients_check, admin_client_check, admin_client_arg_check, admin_subscriptions_check,
	admin_retained_check;

/* One endpoint: fills resp (status 200 and JSON unless it says otherwise). */
typedef void admin_endpoint_fn(struct broker *b, const struct http_request *req, struct http_response *resp);

/* How long an endpoint waits for the workers' answers. */
#define ADMIN_WORKER_WAIT_MS 2000

/* Add item to an array (name NULL) or an object, or free it when that
 * cannot be (out of memory: no parent or no item), so nothing leaks. */
void admin_json_add(cJSON *parent, const char *name, cJSON *item);

/* resp's body is json, printed (and json freed); status as given. On out
 * of memory, a 500 with a fixed body. */
void admin_reply_json(struct http_response *resp, unsigned status, cJSON *json);
/* {"error": text, "status": status} */
void admin_reply_error(struct http_response *resp, unsigned status, const char *text);

/* Paging: limit 1..1000 (default 100), offset 0..10,000,000. */
struct admin_page {
	size_t offset, limit;
};
/* NULL, or what is wrong with the limit and offset arguments. */
const char *admin_parse_page(const struct http_request *req, struct admin_page *pg);
/* A decimal count up to max. */
bool admin_parse_count(const char *s, size_t max, size_t *out);
/* {"total", "offset", "limit", name: []}; *items is that array. */
cJSON *admin_page_json(const struct admin_page *pg, size_t total, const char *name, cJSON **items);

/* Ask every worker fn(arg) (worker_poll.h) and wait: the poll, when every
 * worker answered with a result; else NULL, with resp set to the error. */
struct worker_poll *admin_poll_workers(struct broker *b, worker_poll_fn *fn, const void *arg, size_t arg_size,
				       void (*free_result)(void *), struct http_response *resp);

/* On worker w: fn on every session (fn picks this worker's), the table
 * walked a slice at a time under its lock, so CONNECTs on other workers
 * wait at most one slice; when the table grows meanwhile, restart(arg)
 * discards what fn gathered and the walk starts over. */
void admin_walk_sessions(struct worker *w, void (*fn)(struct session *s, void *arg), void (*restart)(void *arg),
			 void *arg);

admin_endpoint_fn admin_healthz, admin_readyz, admin_broker, admin_metrics, admin_clients, admin_client, admin_client_arg,
	admin_subscriptions, admin_retained, admin_bridges;
/* The dashboard's embedded files (admin_web.c). */
admin_endpoint_fn admin_web;

#endif
