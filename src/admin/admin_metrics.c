/* GET /metrics: the Prometheus text exposition format (version 0.0.4).
 * Every family has its HELP and TYPE lines; counters end in _total, sizes
 * in _bytes, durations in _seconds, as Prometheus' naming asks. */
#include "admin/admin_int.h"
#include "bridge/bridge.h"
#include "core/clock.h"
#include "core/histogram.h"
#include "core/procinfo.h"
#include "proto/stats.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* The text being built; an allocation failure anywhere shows at the end. */
struct exposition {
	struct buf *out;
	int rc;
};

static void emit(struct exposition *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct exposition *x, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && x->rc == FM_OK)
		x->rc = buf_append(x->out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void family(struct exposition *x, const char *name, const char *type, const char *help)
{
	emit(x, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct exposition *x, const char *name, const char *type, const char *help, uint64_t v)
{
	family(x, name, type, help);
	emit(x, "%s %llu\n", name, (unsigned long long)v);
}

static void by_qos(struct exposition *x, const char *name, const char *help, uint64_t q0, uint64_t q1, uint64_t q2)
{
	family(x, name, "counter", help);
	emit(x, "%s{qos=\"0\"} %llu\n%s{qos=\"1\"} %llu\n%s{qos=\"2\"} %llu\n", name, (unsigned long long)q0, name,
	     (unsigned long long)q1, name, (unsigned long long)q2);
}

static void dropped(struct exposition *x, const struct broker_totals *t)
{
	static const char name[] = "fleetmq_dropped_messages_total";
	family(x, name, "counter", "Deliveries dropped, by reason.");
	const struct { const char *reason; uint64_t n; } rows[] = {
		{"queue_full", t->dropped_queue}, {"qos0_output_full", t->dropped_qos0},
		{"qos0_offline", t->dropped_offline}, {"expired", t->dropped_expired},
		{"too_large_for_client", t->dropped_too_large}, {"not_authorized", t->dropped_denied},
		{"memory_limit", t->dropped_memory},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		emit(x, "%s{reason=\"%s\"} %llu\n", name, rows[i].reason, (unsigned long long)rows[i].n);
}

/* A histogram family from a reading: cumulative buckets, sum, count. */
static void histogram(struct exposition *x, const char *name, const char *help, const struct histogram_reading *r)
{
	family(x, name, "histogram", help);
	uint64_t cumulative = 0;
	for (unsigned i = 0; i < HISTOGRAM_BOUNDS; i++) {
		cumulative += r->bucket[i];
		emit(x, "%s_bucket{le=\"%g\"} %llu\n", name, (double)histogram_bound_us(i) / 1e6,
		     (unsigned long long)cumulative);
	}
	/* +Inf and _count from the buckets themselves, not from the separately
	 * read count: they must agree with the buckets above */
	cumulative += r->bucket[HISTOGRAM_BOUNDS];
	emit(x, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cumulative);
	emit(x, "%s_sum %.6f\n%s_count %llu\n", name, (double)r->sum_us / 1e6, name, (unsigned long long)cumulative);
}

static void listeners(struct exposition *x, struct broker *b)
{
	static const char name[] = "fleetmq_listener_connections";
	family(x, name, "gauge", "Open connections, by listener (port and address).");
	for (size_t i = 0; i < b->conf.n_listeners; i++) {
		const char *addr = b->conf.listeners[i].bind_address;
		emit(x, "%s{port=\"%u\",address=\"%s\"} %u\n", name, b->workers[0].listeners[i].port, addr ? addr : "*",
		     atomic_load(&b->listener_conns[i]));
	}
}

static void store(struct exposition *x, struct broker *b)
{
	if (!b->store)
		return;
	struct store_stats s = store_stats(b->store);
	one(x, "fleetmq_store_commits_total", "counter", "Durable store transactions committed.", s.commits);
	one(x, "fleetmq_store_operations_total", "counter", "Durable store writes applied.", s.ops);
	one(x, "fleetmq_store_errors_total", "counter", "Durable store batches that failed.", s.errors);
	one(x, "fleetmq_store_queue_batches", "gauge", "Store batches waiting for the store thread.", s.queued);
	struct histogram_reading r = {0};
	store_commit_latency(b->store, &r);
	histogram(x, "fleetmq_store_commit_duration_seconds", "Time to commit a store transaction (fsync included).", &r);
}

static void traffic(struct exposition *x, const struct broker_totals *t)
{
	by_qos(x, "fleetmq_publish_received_total", "PUBLISH packets received, by QoS.", t->pub_in_qos0, t->pub_in_qos1,
	       t->pub_in_qos2);
	by_qos(x, "fleetmq_publish_sent_total", "PUBLISH packets sent, by delivery QoS.", t->pub_out_qos0, t->pub_out_qos1,
	       t->pub_out_qos2);
	one(x, "fleetmq_packets_received_total", "counter", "MQTT packets received.", t->pkts_in);
	one(x, "fleetmq_packets_sent_total", "counter", "MQTT packets sent.", t->pkts_out);
	one(x, "fleetmq_received_bytes_total", "counter", "Bytes of MQTT received.", t->bytes_in);
	one(x, "fleetmq_sent_bytes_total", "counter", "Bytes of MQTT sent.", t->bytes_out);
	one(x, "fleetmq_publish_denied_total", "counter", "PUBLISH packets the ACL refused.", t->denied_publish);
	dropped(x, t);
	one(x, "fleetmq_slow_consumers_closed_total", "counter", "Clients closed for not reading their output.",
	    t->slow_consumers);
}

static void latency(struct exposition *x, struct broker *b)
{
	struct histogram_reading r = {0};
	for (unsigned i = 0; i < b->n_workers; i++)
		histogram_read_into(&b->workers[i].delivery_latency, &r);
	histogram(x, "fleetmq_delivery_latency_seconds",
		  "From a message's arrival to its first send to a subscriber, queued time included "
		  "(one delivery in 8 is timed).", &r);
}

static void clients(struct exposition *x, struct broker *b, const struct broker_totals *t,
		    const struct broker_gauges *g)
{
	one(x, "fleetmq_connections", "gauge", "Open network connections.", g->connections);
	one(x, "fleetmq_connections_peak", "gauge", "Most connections open at once since start.", g->peak_connections);
	one(x, "fleetmq_clients_connected", "gauge", "Clients whose CONNECT was accepted, connected now.",
	    totals_connected(t));
	one(x, "fleetmq_accepted_connections_total", "counter", "Connections accepted.", t->sockets_total);
	family(x, "fleetmq_connects_total", "counter", "CONNECT packets accepted, by protocol version.");
	emit(x, "fleetmq_connects_total{version=\"3.1\"} %llu\nfleetmq_connects_total{version=\"3.1.1\"} %llu\n"
	     "fleetmq_connects_total{version=\"5.0\"} %llu\n", (unsigned long long)t->connects_v31,
	     (unsigned long long)t->connects_v311, (unsigned long long)t->connects_v5);
	listeners(x, b);
	uint64_t online = totals_connected(t);
	family(x, "fleetmq_sessions", "gauge", "Sessions, by state.");
	emit(x, "fleetmq_sessions{state=\"online\"} %llu\nfleetmq_sessions{state=\"offline\"} %llu\n",
	     (unsigned long long)online, (unsigned long long)(g->sessions > online ? g->sessions - online : 0));
	one(x, "fleetmq_sessions_expired_total", "counter", "Offline sessions ended by their expiry.", t->sessions_expired);
	one(x, "fleetmq_subscriptions", "gauge", "Subscriptions (session and filter pairs).", g->subscriptions);
	one(x, "fleetmq_retained_messages", "gauge", "Retained messages.", g->retained);
	one(x, "fleetmq_retained_bytes", "gauge", "Bytes of retained messages (topics, payloads, properties).",
	    g->retained_bytes);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void label_value(const char *s, char *out, size_t len)
{
	size_t n = 0;
	for (; *s && n + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			out[n++] = '\\';
		out[n++] = *s == '\n' ? 'n' : *s;
	}
	out[n] = '\0';
}

static void bridges(struct exposition *x, struct broker *b)
{
	size_t n = bridges_count(b);
	if (n == 0)
		return;
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{ "fleetmq_bridge_connected", "gauge", "1 while the bridge is connected to its remote." },
		{ "fleetmq_bridge_queued_messages", "gauge", "Messages waiting for the bridge's remote." },
		{ "fleetmq_bridge_sent_total", "counter", "PUBLISH packets the bridge sent to its remote." },
		{ "fleetmq_bridge_received_total", "counter", "PUBLISH packets the bridge received from its remote." },
		{ "fleetmq_bridge_connects_total", "counter", "Connections the bridge made (CONNACKs)." },
	};
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		family(x, fams[f].name, fams[f].type, fams[f].help);
		for (size_t i = 0; i < n; i++) {
			struct bridge_status st;
			bridges_status(b, i, &st);
			uint64_t v[] = { st.state == BRIDGE_CONNECTED, st.queued, st.sent, st.received, st.connects };
			char name[256];
			label_value(st.name, name, sizeof(name));
			emit(x, "%s{bridge=\"%s\"} %llu\n", fams[f].name, name, (unsigned long long)v[f]);
		}
	}
}

static void process(struct exposition *x, struct broker *b)
{
	family(x, "fleetmq_info", "gauge", "The broker's version.");
	emit(x, "fleetmq_info{version=\"%s\"} 1\n", FLEETMQ_VERSION);
	one(x, "fleetmq_uptime_seconds", "gauge", "Seconds since the broker started.", broker_uptime_s(b));
	one(x, "fleetmq_workers", "gauge", "Worker threads.", b->n_workers);
	long kb = proc_rss_kb(getpid());
	one(x, "fleetmq_resident_memory_bytes", "gauge", "Resident memory of the broker process.",
	    kb < 0 ? 0 : (uint64_t)kb * 1024);
	one(x, "fleetmq_over_memory_limit", "gauge", "1 while resident memory is above memory_limit.",
	    atomic_load(&b->over_memory) ? 1 : 0);
}

void admin_metrics(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	struct broker_totals t = broker_stats_sum(b);
	struct broker_gauges g = broker_gauges_read(b);
	struct exposition x = { .out = &resp->body, .rc = FM_OK };
	process(&x, b);
	clients(&x, b, &t, &g);
	traffic(&x, &t);
	latency(&x, b);
	store(&x, b);
	bridges(&x, b);
	if (x.rc != FM_OK)
		return admin_reply_error(resp, 500, "out of memory");
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
