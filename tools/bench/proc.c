/* CPU and memory of a process from /proc, and of this process.
 *
 * CPU: the sum of every thread's /proc/PID/task/TID/schedstat run time
 * (nanoseconds), because /proc/PID/stat's utime+stime count in clock ticks
 * (10 ms) and a short run spends only a few of them. Threads that already
 * exited are missing from that sum, which is fine for brokers whose threads
 * live as long as the process; without schedstat (kernel built without
 * CONFIG_SCHED_INFO) we fall back to utime+stime.
 * RSS: VmRSS from /proc/PID/status. */
#include "bench.h"

#include "core/procinfo.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* utime + stime in seconds, from /proc/PID/stat. */
static bool stat_cpu(pid_t pid, double *cpu_s)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name (which may contain spaces) */
	const char *p = strrchr(buf, ')');
	unsigned long utime, stime;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
		return false;
	*cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	return true;
}

/* Summed run time of all live threads, in seconds, from schedstat. */
static bool schedstat_cpu(pid_t pid, double *cpu_s)
{
	char path[320];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	unsigned long long total_ns = 0;
	unsigned threads = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* the thread just exited */
		unsigned long long ns;
		if (fscanf(f, "%llu", &ns) == 1) {
			total_ns += ns;
			threads++;
		}
		fclose(f);
	}
	closedir(d);
	*cpu_s = (double)total_ns / 1e9;
	return threads > 0;
}

bool proc_sample(pid_t pid, struct proc_sample *out)
{
	if (!schedstat_cpu(pid, &out->cpu_s) && !stat_cpu(pid, &out->cpu_s))
		return false;
	out->rss_kb = proc_rss_kb(pid);
	return out->rss_kb >= 0;
}

double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}
