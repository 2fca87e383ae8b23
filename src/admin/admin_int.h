/* Internal to src/admin: what the endpoints share. */
#ifndef FM_ADMIN_ADMIN_INT_H
#define FM_ADMIN_ADMIN_INT_H

#include "net/http.h"
#include "proto/broker.h"

#include <cjson/cJSON.h>

/* One endpoint: fills resp (status 200 and JSON unless it says otherwise). */
typedef void admin_endpoint_fn(struct broker *b, const struct http_request *req, struct http_response *resp);

/* How long an endpoint waits for the workers' answers. */
#define ADMIN_WORKER_WAIT_MS 2000

/* resp's body is json, printed (and json freed); status as given. On out
 * of memory, a 500 with a fixed body. */
void admin_reply_json(struct http_response *resp, unsigned status, cJSON *json);
/* {"error": text, "status": status} */
void admin_reply_error(struct http_response *resp, unsigned status, const char *text);

admin_endpoint_fn admin_healthz, admin_readyz, admin_broker, admin_metrics;

#endif
