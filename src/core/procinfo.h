/* Facts about a process from /proc, for tools and tests that measure the
 * broker from outside. */
#ifndef FM_CORE_PROCINFO_H
#define FM_CORE_PROCINFO_H

#include <sys/types.h>

/* Resident set size of pid in kB (VmRSS), or -1 if it cannot be read. */
long proc_rss_kb(pid_t pid);

/* Memory this process may use, in bytes: its cgroup's memory.max (cgroup
 * v2) where one is set, else the machine's MemTotal; 0 if neither can be
 * read. */
unsigned long long proc_memory_available(void);

#endif
