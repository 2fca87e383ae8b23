/* GET /api/v1/broker: the whole broker at a glance. Counters come from the
 * workers' live stats (proto/stats.h), table sizes from the shared tables,
 * and who is connected where (by listener and protocol version) from each
 * worker's own count of its connections, asked through its inbox. */
#include "admin/admin_int.h"
#include "core/clock.h"
#include "core/histogram.h"
#include "core/procinfo.h"
#include "mqtt/mqtt.h"
#include "proto/client.h"
#include "proto/stats.h"
#include "proto/worker_poll.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

/* Connections of one listener by state and protocol version. */
struct listener_census {
	uint64_t connecting;        /* no CONNECT accepted yet */
	uint64_t by_version[3];     /* accepted: 3.1, 3.1.1, 5.0 */
};

static unsigned version_slot(uint8_t version)
{
	return version == MQTT_V31 ? 0 : version == MQTT_V311 ? 1 : 2;
}

/* On each worker: its connections, counted (n_listeners slots). */
static void *count_connections(struct worker *w, const void *arg)
{
	(void)arg;
	size_t n = w->b->conf.n_listeners; /* listeners are fixed after start */
	struct listener_census *c = calloc(n ? n : 1, sizeof(*c));
	if (!c)
		return NULL;
	struct list *pos, *tmp;
	list_foreach_safe(pos, tmp, &w->clients) {
		const struct client *cl = list_entry(pos, struct client, link);
		if (!cl->listener)
			continue; /* a bridge's connection: /api/v1/bridges lists it */
		struct listener_census *slot = &c[cl->listener->index];
		if (cl->state == CLIENT_ACTIVE)
			slot->by_version[version_slot(cl->version)]++;
		else if (cl->state == CLIENT_NEW)
			slot->connecting++;
	}
	return c;
}

/* Every worker's census added up; false (resp set) if one did not answer. */
static bool census(struct broker *b, struct listener_census *sum, size_t n, struct http_response *resp)
{
	struct worker_poll *p = admin_poll_workers(b, count_connections, NULL, 0, free, resp);
	if (!p)
		return false;
	for (unsigned w = 0; w < b->n_workers; w++) {
		const struct listener_census *c = worker_poll_result(p, w);
		for (size_t i = 0; i < n; i++) {
			sum[i].connecting += c[i].connecting;
			for (int v = 0; v < 3; v++)
				sum[i].by_version[v] += c[i].by_version[v];
		}
	}
	worker_poll_release(p);
	return true;
}

static const char *listener_kind(const struct conf_listener *l)
{
	bool tls = conf_listener_tls(l);
	if (l->protocol == CONF_PROTO_WEBSOCKETS)
		return tls ? "wss" : "ws";
	return tls ? "mqtts" : "mqtt";
}

static cJSON *listener_json(struct broker *b, size_t i, const struct listener_census *c)
{
	const struct conf_listener *l = &b->conf.listeners[i];
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "port", b->workers[0].listeners[i].port); /* bound at start, fixed */
	cJSON_AddStringToObject(j, "address", l->bind_address ? l->bind_address : "*");
	cJSON_AddStringToObject(j, "protocol", listener_kind(l));
	cJSON_AddNumberToObject(j, "connections", atomic_load(&b->listener_conns[i]));
	cJSON_AddNumberToObject(j, "peak", (double)atomic_load(&b->listener_peak[i]));
	cJSON_AddNumberToObject(j, "accepted_total", (double)atomic_load(&b->listener_accepted[i]));
	cJSON_AddNumberToObject(j, "connecting", (double)c->connecting);
	cJSON *v = cJSON_AddObjectToObject(j, "clients_by_version");
	cJSON_AddNumberToObject(v, "3.1", (double)c->by_version[0]);
	cJSON_AddNumberToObject(v, "3.1.1", (double)c->by_version[1]);
	cJSON_AddNumberToObject(v, "5.0", (double)c->by_version[2]);
	return j;
}

static cJSON *connections_json(struct broker *b, const struct broker_totals *t, const struct broker_gauges *g,
			       const struct listener_census *c)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "current", (double)g->connections);
	cJSON_AddNumberToObject(j, "peak", (double)g->peak_connections);
	cJSON_AddNumberToObject(j, "clients_connected", (double)totals_connected(t));
	cJSON_AddNumberToObject(j, "accepted_total", (double)t->sockets_total);
	cJSON_AddNumberToObject(j, "connects_total", (double)t->connects_total);
	cJSON *v = cJSON_AddObjectToObject(j, "connects_by_version");
	cJSON_AddNumberToObject(v, "3.1", (double)t->connects_v31);
	cJSON_AddNumberToObject(v, "3.1.1", (double)t->connects_v311);
	cJSON_AddNumberToObject(v, "5.0", (double)t->connects_v5);
	cJSON *by = cJSON_AddArrayToObject(j, "by_listener");
	for (size_t i = 0; c && i < b->conf.n_listeners; i++)
		admin_json_add(by, NULL, listener_json(b, i, &c[i]));
	return j;
}

static cJSON *per_qos(uint64_t q0, uint64_t q1, uint64_t q2)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "qos0", (double)q0);
	cJSON_AddNumberToObject(j, "qos1", (double)q1);
	cJSON_AddNumberToObject(j, "qos2", (double)q2);
	cJSON_AddNumberToObject(j, "total", (double)(q0 + q1 + q2));
	return j;
}

/* Publish-to-delivery latency of every worker: count, mean, and the
 * bucket bounds of the median and the 99th percentile. */
static cJSON *latency_json(struct broker *b)
{
	struct histogram_reading r = {0};
	for (unsigned i = 0; i < b->n_workers; i++)
		histogram_read_into(&b->workers[i].delivery_latency, &r);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "count", (double)r.count);
	cJSON_AddNumberToObject(j, "mean_us", r.count ? (double)r.sum_us / (double)r.count : 0);
	static const struct { const char *name; double q; } qs[] = {{"p50_at_most_us", 0.5}, {"p99_at_most_us", 0.99}};
	for (size_t i = 0; i < 2; i++) {
		uint64_t bound = histogram_quantile_bound_us(&r, qs[i].q);
		if (bound == UINT64_MAX)
			cJSON_AddNullToObject(j, qs[i].name); /* above the largest bucket (1 s) */
		else
			cJSON_AddNumberToObject(j, qs[i].name, (double)bound);
	}
	return j;
}

static cJSON *messages_json(const struct broker_totals *t)
{
	cJSON *j = cJSON_CreateObject();
	admin_json_add(j, "received", per_qos(t->pub_in_qos0, t->pub_in_qos1, t->pub_in_qos2));
	admin_json_add(j, "sent", per_qos(t->pub_out_qos0, t->pub_out_qos1, t->pub_out_qos2));
	cJSON_AddNumberToObject(j, "packets_received", (double)t->pkts_in);
	cJSON_AddNumberToObject(j, "packets_sent", (double)t->pkts_out);
	cJSON_AddNumberToObject(j, "bytes_received", (double)t->bytes_in);
	cJSON_AddNumberToObject(j, "bytes_sent", (double)t->bytes_out);
	cJSON_AddNumberToObject(j, "publish_denied", (double)t->denied_publish);
	return j;
}

static cJSON *dropped_json(const struct broker_totals *t)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "queue_full", (double)t->dropped_queue);
	cJSON_AddNumberToObject(j, "qos0_output_full", (double)t->dropped_qos0);
	cJSON_AddNumberToObject(j, "qos0_offline", (double)t->dropped_offline);
	cJSON_AddNumberToObject(j, "expired", (double)t->dropped_expired);
	cJSON_AddNumberToObject(j, "too_large_for_client", (double)t->dropped_too_large);
	cJSON_AddNumberToObject(j, "not_authorized", (double)t->dropped_denied);
	cJSON_AddNumberToObject(j, "memory_limit", (double)t->dropped_memory);
	cJSON_AddNumberToObject(j, "total", (double)totals_dropped(t));
	cJSON_AddNumberToObject(j, "slow_consumers_closed", (double)t->slow_consumers);
	return j;
}

static cJSON *store_json(struct broker *b)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddBoolToObject(j, "enabled", b->store != NULL);
	if (!b->store)
		return j;
	struct store_stats s = store_stats(b->store);
	cJSON_AddNumberToObject(j, "batches", (double)s.batches);
	cJSON_AddNumberToObject(j, "queue_depth", (double)s.queued);
	cJSON_AddNumberToObject(j, "operations", (double)s.ops);
	cJSON_AddNumberToObject(j, "commits", (double)s.commits);
	cJSON_AddNumberToObject(j, "commit_latency_mean_us", s.commits ? (double)s.commit_us_total / (double)s.commits : 0);
	cJSON_AddNumberToObject(j, "commit_latency_max_us", (double)s.commit_us_max);
	cJSON_AddNumberToObject(j, "errors", (double)s.errors);
	cJSON_AddNumberToObject(j, "failing_batches", (double)atomic_load(&b->store_fail_run));
	return j;
}

static cJSON *memory_json(struct broker *b)
{
	cJSON *j = cJSON_CreateObject();
	long kb = proc_rss_kb(getpid());
	cJSON_AddNumberToObject(j, "rss_bytes", kb < 0 ? 0 : (double)kb * 1024);
	cJSON_AddNumberToObject(j, "limit_bytes", (double)atomic_load(&b->memory_limit));
	cJSON_AddBoolToObject(j, "over_limit", atomic_load(&b->over_memory));
	return j;
}

void admin_broker(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	size_t n = b->conf.n_listeners;
	struct listener_census *c = calloc(n ? n : 1, sizeof(*c));
	if (!c)
		return admin_reply_error(resp, 500, "out of memory");
	if (!census(b, c, n, resp)) {
		free(c);
		return;
	}
	struct broker_totals t = broker_stats_sum(b);
	struct broker_gauges g = broker_gauges_read(b);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "version", FLEETMQ_VERSION);
	cJSON_AddNumberToObject(j, "uptime_s", broker_uptime_s(b)); /* never negative if the clock steps back */
	cJSON_AddNumberToObject(j, "started_at_ms", (double)b->start_ms);
	cJSON_AddNumberToObject(j, "workers", b->n_workers);
	admin_json_add(j, "connections", connections_json(b, &t, &g, c));
	cJSON *s = cJSON_AddObjectToObject(j, "sessions");
	uint64_t online = totals_connected(&t);
	cJSON_AddNumberToObject(s, "total", (double)g.sessions);
	cJSON_AddNumberToObject(s, "online", (double)online);
	cJSON_AddNumberToObject(s, "offline", (double)(g.sessions > online ? g.sessions - online : 0));
	cJSON_AddNumberToObject(s, "expired", (double)t.sessions_expired);
	cJSON_AddNumberToObject(j, "subscriptions", (double)g.subscriptions);
	cJSON *r = cJSON_AddObjectToObject(j, "retained");
	cJSON_AddNumberToObject(r, "count", (double)g.retained);
	cJSON_AddNumberToObject(r, "bytes", (double)g.retained_bytes);
	cJSON *msgs = messages_json(&t);
	admin_json_add(msgs, "delivery_latency", latency_json(b));
	admin_json_add(j, "messages", msgs);
	admin_json_add(j, "dropped", dropped_json(&t));
	admin_json_add(j, "store", store_json(b));
	admin_json_add(j, "memory", memory_json(b));
	free(c);
	admin_reply_json(resp, 200, j);
}
