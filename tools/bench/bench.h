/* fleetmq-bench: an MQTT load generator for side-by-side broker
 * measurements. One process, one epoll loop, non-blocking sockets, every
 * run bounded in message count and in time.
 *
 * Payloads carry (publisher, sequence, send time) so the receiving side
 * checks loss, duplicates and order itself and measures one-way latency on
 * the one clock this process has. */
#ifndef FM_BENCH_H
#define FM_BENCH_H

#include "core/buf.h"
#include "mqtt/codec.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_HEADER 16 /* publisher u32, sequence u32, send time ns u64 */

struct bench_opts {
	const char *scenario;
	const char *host;
	uint16_t port;
	uint8_t qos;
	uint32_t msgs;        /* messages per publisher (fan-in/fan-out/latency) */
	uint32_t size;        /* payload bytes (>= BENCH_HEADER) */
	uint32_t pubs, subs, conns;
	uint32_t procs;       /* idle: generator processes */
	uint32_t rate;        /* latency: messages per second; 0: closed loop */
	uint32_t window;      /* unacknowledged QoS 1/2 messages per publisher */
	double time_limit_s;  /* hard stop */
	pid_t broker_pid;     /* 0: no broker sampling */
	bool json;
};

/* One MQTT connection driven by the loop. */
struct bconn {
	int fd;
	uint32_t index;          /* publisher/subscriber number */
	bool connected;          /* CONNACK received */
	bool subscribed;         /* SUBACK received */
	struct buf in, out;
	uint16_t next_pid;
	uint32_t inflight;       /* QoS 1/2 sent, not completed */
	uint32_t sent;           /* PUBLISH sent */
	uint32_t acked;          /* PUBACK/PUBCOMP received */
	uint64_t *ack_wait_ns;   /* latency: send time per packet id slot */
	/* receiving side: next expected sequence per publisher */
	uint32_t *next_seq;
	uint64_t received, lost, dups, reordered;
};

struct bench_run;
typedef void bench_publish_fn(struct bench_run *r, struct bconn *c, const struct mqtt_publish *p);
typedef void bench_ack_fn(struct bench_run *r, struct bconn *c, uint8_t type, uint16_t packet_id);

/* The event loop and the connections of one run. */
struct bench_run {
	const struct bench_opts *o;
	int epfd;
	struct bconn *conns;
	uint32_t n;
	uint64_t deadline_ns;
	bench_publish_fn *on_publish;   /* optional */
	bench_ack_fn *on_ack;           /* optional */
	void (*pump)(struct bench_run *r); /* each iteration: send what may be sent */
	uint32_t n_publishers;   /* size of next_seq arrays */
	uint32_t n_connected;    /* CONNACKs received */
	uint64_t *latencies_ns;  /* one-way samples */
	uint64_t n_latencies, cap_latencies;
	bool failed;
	bool timed_out;          /* failed on --duration-limit (or a phase timeout) */
	char error[256];
};

uint64_t bench_now_ns(void);

/* Connections: open n, CONNECT each (client ids "<prefix>-<i>"), wait for
 * every CONNACK. FM_OK or an fm_err with r->error set. */
int bench_open(struct bench_run *r, uint32_t n, const char *prefix);
void bench_close(struct bench_run *r);
int bench_subscribe(struct bench_run *r, struct bconn *c, const char *filter, uint8_t qos);
/* Queue a PUBLISH with the bench header; returns its packet id (0: QoS 0). */
uint16_t bench_publish(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos, uint32_t seq);
/* Run the loop for at most timeout_ms or until done(r) is true. Returns
 * false on the time limit or a connection failure. */
bool bench_poll(struct bench_run *r, int timeout_ms, bool (*done)(struct bench_run *r));
void bench_fail(struct bench_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Process sampling (/proc). */
struct proc_sample {
	double cpu_s;   /* user + system */
	long rss_kb;
};
bool proc_sample(pid_t pid, struct proc_sample *out);
double self_cpu_s(void);

/* Scenarios: each fills a result and returns 0, or nonzero on failure. */
struct bench_result {
	double rate;           /* messages (or deliveries, or connections) per second */
	const char *unit;
	uint64_t count;
	uint64_t lost, dups, reordered;
	double elapsed_s;
	double broker_cpu_us_per_msg;
	double broker_rss_kb;  /* end of run */
	double bytes_per_conn; /* idle */
	double self_cpu_pct;
	double p50_us, p99_us, max_us; /* latency */
	double rtt_p50_us, rtt_p99_us, rtt_max_us; /* latency: round trip */
};

int scenario_fanin(const struct bench_opts *o, struct bench_result *res);
int scenario_fanout(const struct bench_opts *o, struct bench_result *res);
int scenario_latency(const struct bench_opts *o, struct bench_result *res);
int scenario_idle(const struct bench_opts *o, struct bench_result *res);

/* Print one run's result: a line of text, or one JSON object (--json). */
void bench_report(const struct bench_opts *o, const struct bench_result *r);

#endif
