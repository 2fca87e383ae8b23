/* CPU and memory of a process from /proc, and of this process. */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

bool proc_sample(pid_t pid, struct proc_sample *out)
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
	long rss_pages;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
			 &utime, &stime, &rss_pages) != 3)
		return false;
	double tick = (double)sysconf(_SC_CLK_TCK);
	out->cpu_s = (double)(utime + stime) / tick;
	out->rss_kb = rss_pages * (sysconf(_SC_PAGESIZE) / 1024);
	return true;
}

double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}
