#include "core/procinfo.h"

#include <stdio.h>
#include <string.h>

long proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The first number in path after prefix (a "key: N kB" line, or the file's
 * only line with prefix ""), times unit; 0 if none ("max" included). */
static unsigned long long read_number(const char *path, const char *prefix, unsigned long long unit)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[256];
	unsigned long long v = 0;
	size_t plen = strlen(prefix);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, prefix, plen) != 0)
			continue;
		if (sscanf(line + plen, " %llu", &v) != 1)
			v = 0;
		break;
	}
	fclose(f);
	return v * unit;
}

unsigned long long proc_memory_available(void)
{
	unsigned long long total = read_number("/proc/meminfo", "MemTotal:", 1024);
	unsigned long long cgroup = read_number("/sys/fs/cgroup/memory.max", "", 1);
	if (cgroup && (!total || cgroup < total))
		return cgroup;
	return total;
}
