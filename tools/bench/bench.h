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
	uint32_t msgs;        /* messages per publisher (fan-in/fan-out/latency/shared) */
	uint32_t size;        /* payload bytes (>= BENCH_HEADER) */
	uint32_t pubs, subs, conns;
	uint32_t procs;       /* idle: generator processes */
	uint32_t rate;        /* latency: messages per second; 0: closed loop */
	uint32_t window;      /* unacknowledged QoS 1/2 messages per publisher;
			       * churn: connect/disconnect cycles in flight */
	bool clean;           /* churn: clean session (default) or persistent */
	const char *tls_cafile; /* --tls: TLS on every connection, the server's
				 * certificate checked against this CA; NULL: TCP */
	bool tls_resume;      /* --tls-resume: each slot offers its previous session */
	const char *tls_curves; /* --tls-curves: ECDHE curves offered, comma-separated */
	double time_limit_s;  /* hard stop */
	pid_t broker_pid;     /* 0: no broker sampling */
	bool json;
};

struct tls_conn;  /* a connection's TLS state (tls.c) */
struct bench_tls; /* a run's TLS client context (tls.c) */

/* TLS handshakes of a run, counted by tls.c. */
struct tls_stats {
	uint64_t handshakes; /* completed */
	uint64_t offered;    /* of them, offered the slot's previous session */
	uint64_t resumed;    /* of them, abbreviated: the server sent no Certificate */
	uint64_t failed;     /* handshakes that failed (alert, verification, close) */
	char suite[64];      /* version and cipher suite of the first one */
};

/* One MQTT connection driven by the loop. */
struct bconn {
	int fd;
	struct tls_conn *tls;    /* NULL: plain TCP; kept across a slot's reconnects */
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
typedef void bench_connack_fn(struct bench_run *r, struct bconn *c, uint8_t return_code, bool session_present);
typedef void bench_conn_lost_fn(struct bench_run *r, struct bconn *c, int err);

/* The event loop and the connections of one run. */
struct bench_run {
	const struct bench_opts *o;
	int epfd;
	struct bconn *conns;
	uint32_t n;
	uint64_t deadline_ns;
	bench_publish_fn *on_publish;   /* optional */
	bench_ack_fn *on_ack;           /* optional */
	/* Optional; when set, a refused CONNACK or a lost connection is the
	 * callback's to handle instead of failing the whole run (churn). */
	bench_connack_fn *on_connack;
	bench_conn_lost_fn *on_conn_lost; /* err 0: closed by the broker */
	void (*pump)(struct bench_run *r); /* each iteration: send what may be sent */
	uint32_t n_publishers;   /* size of next_seq arrays */
	/* connections [persistent_first, +persistent_n) CONNECT with clean
	 * session 0 (fanin/fanout subscribers with --clean 0: their messages
	 * go through the broker's durable store) */
	uint32_t persistent_first, persistent_n;
	uint32_t n_connected;    /* CONNACKs received */
	struct bench_tls *tls;   /* --tls: shared by the connections; NULL: TCP */
	struct tls_stats tls_stats;
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
/* The epoll set and n idle connection slots, none connected (bench_open
 * does this first; churn connects its slots itself). */
int bench_alloc(struct bench_run *r, uint32_t n);
void bench_close(struct bench_run *r);
/* Open c's socket (a slot may be reused once closed) and queue a CONNECT. */
int bench_connect(struct bench_run *r, struct bconn *c, const char *client_id, bool clean);
/* Send DISCONNECT and close c; bench_hangup closes without DISCONNECT. */
void bench_disconnect(struct bench_run *r, struct bconn *c);
void bench_hangup(struct bench_run *r, struct bconn *c);
int bench_subscribe(struct bench_run *r, struct bconn *c, const char *filter, uint8_t qos);
/* Queue a PUBLISH with the bench header; returns its packet id (0: QoS 0). */
uint16_t bench_publish(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos, uint32_t seq);
/* The same with the RETAIN flag set: the broker keeps it for the topic. */
uint16_t bench_publish_retained(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos, uint32_t seq);
/* The publisher's steady state: queue its next messages (on
 * TOPIC_PREFIX/INDEX) up to its limit
 * (bytes at QoS 0, --window at QoS 1/2) and send them in one write. */
void bench_pump_publisher(struct bench_run *r, struct bconn *c, const char *topic_prefix, uint32_t msgs);
/* A retained PUBLISH with an empty payload: removes the topic's retained
 * message [MQTT-3.3.1-10]. */
uint16_t bench_clear_retained(struct bench_run *r, struct bconn *c, const char *topic, uint8_t qos);
/* Run the loop for at most timeout_ms or until done(r) is true. Returns
 * false on the time limit or a connection failure. */
bool bench_poll(struct bench_run *r, int timeout_ms, bool (*done)(struct bench_run *r));
void bench_fail(struct bench_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Why c failed with err (an errno, 0: closed by the broker): TLS's own
 * words when it has any, else strerror(err); NULL for an orderly close. */
const char *bench_conn_error(const struct bconn *c, int err);

/* The TLS client transport (tls.c), used by conn.c only. Errors come back
 * as an fm_err with the text in err (bench_tls_new, bench_tls_start) or in
 * bench_tls_error(c). */
int bench_tls_new(const struct bench_opts *o, struct bench_tls **out, char *err, size_t len);
void bench_tls_free(struct bench_tls *t);
/* A new handshake on c's freshly connected socket, offering the slot's
 * previous session when resuming. */
int bench_tls_start(struct bench_tls *t, struct bconn *c, char *err, size_t len);
/* Step the handshake: FM_OK once established (counted in st), FM_EAGAIN
 * while it waits for the socket, else an fm_err. */
int bench_tls_handshake(struct bench_tls *t, struct bconn *c, struct tls_stats *st);
bool bench_tls_established(const struct bconn *c);
/* Bytes, FM_EAGAIN, FM_ECLOSED (orderly end) or FM_EIO. */
ssize_t bench_tls_read(struct bconn *c, void *buf, size_t len);
ssize_t bench_tls_write(struct bconn *c, const void *buf, size_t len);
/* Plaintext already taken off the socket and not yet read. */
size_t bench_tls_buffered(const struct bconn *c);
void bench_tls_close_notify(struct bconn *c);
const char *bench_tls_error(const struct bconn *c);
void bench_tls_conn_free(struct bconn *c);

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
	double set_rate;       /* retained: retained messages stored per second */
	double set_self_cpu_pct; /* retained: generator CPU while storing */
	uint64_t failures;     /* churn: cycles refused or timed out; retained:
				* deliveries breaking the protocol (no RETAIN flag,
				* topic and payload not matching) */
	uint64_t resumed;      /* churn: CONNACKs with session present */
	double share_min_pct, share_max_pct; /* shared: the smallest and largest
				* share of all deliveries one consumer got */
	struct tls_stats tls;  /* --tls: the handshakes measured */
	/* wake (no broker): p50/p99/max_us are the cross-CPU round trip, these
	 * the same-CPU one, between the two CPUs named */
	double wake_same_p50_us, wake_same_p99_us;
	int wake_cpus[2];
	/* set when the run measured but its own checks failed (loss,
	 * duplicates, failures): reported, then the exit status is 1 */
	char check_failed[512];
};

int scenario_fanin(const struct bench_opts *o, struct bench_result *res);
int scenario_fanout(const struct bench_opts *o, struct bench_result *res);
int scenario_latency(const struct bench_opts *o, struct bench_result *res);
int scenario_idle(const struct bench_opts *o, struct bench_result *res);
int scenario_retained(const struct bench_opts *o, struct bench_result *res);
int scenario_churn(const struct bench_opts *o, struct bench_result *res);
int scenario_shared(const struct bench_opts *o, struct bench_result *res);
int scenario_wake(const struct bench_opts *o, struct bench_result *res);

/* Shared by the scenarios: a run with extra bytes of scenario state after
 * it (zeroed), its deadline set from --duration-limit; and the failure
 * exit that prints r->error and frees the run. */
struct bench_run *bench_run_new(const struct bench_opts *o, size_t extra);
int bench_run_fail(struct bench_run *r);
/* CPU and RSS of pid, or zeros when pid is 0 (no --broker-pid). */
void bench_sample(pid_t pid, struct proc_sample *s);

/* Sort samples in nanoseconds, then read the pct-th percentile (0-100) of
 * the n sorted ones in microseconds (0 with none). */
void bench_sort_ns(uint64_t *v, uint64_t n);
double bench_pct_us(const uint64_t *sorted_ns, uint64_t n, double pct);

/* Print one run's result: a line of text, or one JSON object (--json). */
void bench_report(const struct bench_opts *o, const struct bench_result *r);

#endif
