#include "core/procinfo.h"

#include <stdio.h>
#include <string.h>

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

long proc_rss_kb(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	unsigned long long kb = read_number(path, "VmRSS:", 1);
	return kb ? (long)kb : -1;
}

/* cgroup v1 writes "no limit" as a number near 2^63. */
#define CGROUP_UNLIMITED (1ull << 62)

/* The smallest limit in file under root/path and each of its ancestors up
 * to root (a cgroup is held to its parents' limits too); 0: none. */
static unsigned long long smallest_limit(const char *root, const char *path, const char *file)
{
	char dir[512];
	if (snprintf(dir, sizeof(dir), "%s%s", root, strcmp(path, "/") ? path : "") >= (int)sizeof(dir))
		return 0;
	size_t root_len = strlen(root);
	unsigned long long least = 0;
	for (;;) {
		char name[600];
		snprintf(name, sizeof(name), "%s/%s", dir, file);
		unsigned long long v = read_number(name, "", 1);
		if (v && v < CGROUP_UNLIMITED && (!least || v < least))
			least = v;
		char *slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < root_len)
			return least;
		*slash = '\0';
	}
}

/* The process's memory cgroup limit from /proc/self/cgroup: "0::PATH" on
 * cgroup v2, "N:...memory...:PATH" on v1; 0 when there is none. */
static unsigned long long cgroup_limit(void)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	if (!f)
		return 0;
	char line[512];
	unsigned long long least = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctrl = strchr(line, ':');
		char *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		ctrl++;
		unsigned long long v = 0;
		if (strcmp(line, "0") == 0 && *ctrl == '\0')
			v = smallest_limit("/sys/fs/cgroup", path, "memory.max");
		else if (strstr(ctrl, "memory"))
			v = smallest_limit("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes");
		if (v && (!least || v < least))
			least = v;
	}
	fclose(f);
	return least;
}

unsigned long long proc_memory_available(void)
{
	unsigned long long total = read_number("/proc/meminfo", "MemTotal:", 1024);
	unsigned long long cgroup = cgroup_limit();
	if (cgroup && (!total || cgroup < total))
		return cgroup;
	return total;
}
