/* Facts about a process from /proc, for tools and tests that measure the
 * broker from outside. */
#ifndef FM_CORE_PROCINFO_H
#define FM_CORE_PROCINFO_H

#include <sys/types.h>

/* Resident set size of pid in kB (VmRSS), or -1 if it cannot be read. */
long proc_rss_kb(pid_t pid);

/* Memory this process may use, in bytes: the smallest memory limit of its
 * cgroup and the cgroup's ancestors (v2 memory.max, v1
 * memory.limit_in_bytes, found through /proc/self/cgroup) where one is
 * set and below the machine's MemTotal, else MemTotal; 0 if neither can
 * be read. */
unsigned long long proc_memory_available(void);

#endif
