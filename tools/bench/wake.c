/* fleetmq-bench wake: the machine's floor under every latency number, no
 * broker involved. Two threads pass a token back and forth through two
 * eventfds, paced at --rate rounds per second so that the answering thread
 * is asleep when the token arrives, as a broker worker is between messages
 * at 1,000 msg/s. Measured twice: both threads pinned to one CPU (a wake
 * is a context switch), then to two CPUs (a wake of a sleeping CPU: on a
 * virtual machine the hypervisor must run the halted vCPU again).
 *
 * A one-way delivery through a broker crosses from the publisher to a
 * worker and from the worker to the subscriber; each crossing to a
 * sleeping CPU costs about half the cross-CPU round trip reported here, so
 * no broker's one-way latency on the machine can be below it when the
 * threads it crosses sit on different CPUs. */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct wake_pair {
	int ping, pong;      /* eventfds: to the answering thread, and back */
	int answer_cpu;
	atomic_bool stop;    /* set before the last ping: leave instead of answering */
	atomic_bool unpinned; /* the answering thread could not be pinned */
};

static bool pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

static bool token_wait(int fd)
{
	uint64_t v;
	ssize_t n;
	do
		n = read(fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(v);
}

static bool token_send(int fd)
{
	uint64_t one = 1;
	return write(fd, &one, sizeof(one)) == (ssize_t)sizeof(one);
}

/* Answers every ping until told to stop; unpinned, it still answers (so
 * the asking thread never waits forever) and the run reports the error. */
static void *answer(void *arg)
{
	struct wake_pair *p = arg;
	if (!pin_to(p->answer_cpu))
		atomic_store(&p->unpinned, true);
	while (token_wait(p->ping) && !atomic_load(&p->stop))
		if (!token_send(p->pong))
			break;
	return NULL;
}

static void pace(uint64_t interval_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(interval_ns / 1000000000u),
			       .tv_nsec = (long)(interval_ns % 1000000000u) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Round trips between this thread on asking_cpu and one on answer_cpu,
 * sorted into rtt_ns; 0, or an errno. Both eventfds are blocking: a
 * thread that waits sleeps, which is the point. */
static int measure(int asking_cpu, int answer_cpu, const struct bench_opts *o, uint64_t *rtt_ns,
		   uint64_t deadline_ns)
{
	struct wake_pair p = { .ping = eventfd(0, EFD_CLOEXEC), .pong = eventfd(0, EFD_CLOEXEC),
			       .answer_cpu = answer_cpu };
	int rc = 0;
	pthread_t t;
	if (p.ping < 0 || p.pong < 0) {
		rc = errno;
		goto out;
	}
	if (!pin_to(asking_cpu)) {
		rc = EINVAL;
		goto out;
	}
	if ((rc = pthread_create(&t, NULL, answer, &p)) != 0)
		goto out;
	uint64_t interval_ns = o->rate ? 1000000000u / o->rate : 0;
	uint32_t done = 0;
	while (done < o->msgs && !atomic_load(&p.unpinned) && bench_now_ns() < deadline_ns) {
		pace(interval_ns);
		uint64_t t0 = bench_now_ns();
		if (!token_send(p.ping) || !token_wait(p.pong)) {
			rc = errno ? errno : EIO;
			break;
		}
		rtt_ns[done++] = bench_now_ns() - t0;
	}
	atomic_store(&p.stop, true);
	token_send(p.ping);
	pthread_join(t, NULL);
	if (rc == 0 && atomic_load(&p.unpinned))
		rc = EINVAL;
	if (rc == 0 && done < o->msgs)
		rc = ETIMEDOUT;
	bench_sort_ns(rtt_ns, done);
out:
	if (p.ping >= 0)
		close(p.ping);
	if (p.pong >= 0)
		close(p.pong);
	return rc;
}

/* The first two CPUs this process may run on; false with fewer than two. */
static bool two_cpus(int *first, int *second)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return false;
	int found = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			*(found++ == 0 ? first : second) = cpu;
	return found == 2;
}

int scenario_wake(const struct bench_opts *o, struct bench_result *res)
{
	int a = 0, b = 0;
	if (o->msgs == 0) {
		fprintf(stderr, "fleetmq-bench wake: --msgs must be at least 1\n");
		return 2;
	}
	if (!two_cpus(&a, &b)) {
		fprintf(stderr, "fleetmq-bench wake: this process may run on one CPU only; the cross-CPU wake needs two\n");
		return 2;
	}
	uint64_t *rtt = calloc(o->msgs, sizeof(*rtt));
	if (!rtt) {
		fprintf(stderr, "fleetmq-bench wake: out of memory\n");
		return 2;
	}
	uint64_t start = bench_now_ns();
	uint64_t deadline_ns = start + (uint64_t)(o->time_limit_s * 1e9);
	int rc = measure(a, a, o, rtt, deadline_ns);
	if (rc == 0) {
		res->wake_same_p50_us = bench_pct_us(rtt, o->msgs, 50);
		res->wake_same_p99_us = bench_pct_us(rtt, o->msgs, 99);
		rc = measure(a, b, o, rtt, deadline_ns);
	}
	if (rc == 0) {
		res->p50_us = bench_pct_us(rtt, o->msgs, 50);
		res->p99_us = bench_pct_us(rtt, o->msgs, 99);
		res->max_us = bench_pct_us(rtt, o->msgs, 100);
		res->count = o->msgs;
		res->elapsed_s = (double)(bench_now_ns() - start) / 1e9;
		res->rate = res->elapsed_s > 0 ? 2.0 * o->msgs / res->elapsed_s : 0;
		res->unit = "round trips/s";
		res->wake_cpus[0] = a;
		res->wake_cpus[1] = b;
	}
	free(rtt);
	if (rc != 0) {
		fprintf(stderr, "fleetmq-bench wake: %s\n",
			rc == ETIMEDOUT ? "not finished within --duration-limit"
			: rc == EINVAL ? "a thread could not be pinned to its CPU" : strerror(rc));
		return rc == ETIMEDOUT ? 1 : 2;
	}
	return 0;
}
