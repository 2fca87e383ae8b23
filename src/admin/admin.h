/* The broker's HTTP endpoints (http_listener): health and readiness for
 * orchestrators, the JSON API and Prometheus metrics for operators. A
 * layer above the protocol: it asks the broker, never the other way. */
#ifndef FM_ADMIN_ADMIN_H
#define FM_ADMIN_ADMIN_H

#include "core/err.h"
#include "proto/broker.h"

/* Start the HTTP server if the config has an http_listener (else FM_OK
 * and nothing runs); it stops itself when the broker starts stopping. */
int admin_start(struct broker *b, struct fm_errbuf *eb);
/* Stop it now if it still runs (main, after a failed start). */
void admin_stop(struct broker *b);

/* How a request would be refused before any endpoint runs: 404, 405 or
 * 400 with *why, or 0 when it goes on (the token is checked apart). Pure:
 * no broker needed (the fuzzer drives it). */
struct http_request;
unsigned admin_request_check(const struct http_request *req, const char **why);

#endif
