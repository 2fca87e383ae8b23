/* Facts about a process from /proc, for tools and tests that measure the
 * broker from outside. */
#ifndef FM_CORE_PROCINFO_H
#define FM_CORE_PROCINFO_H

#include <sys/types.h>

/* Resident set size of pid in kB (VmRSS), or -1 if it cannot be read. */
long proc_rss_kb(pid_t pid);

#endif
