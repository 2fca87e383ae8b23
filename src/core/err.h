/* Internal error helpers on top of the public fm_err codes. */
#ifndef FM_CORE_ERR_H
#define FM_CORE_ERR_H

#include "fleetmq/errors.h"

#include <stddef.h>

/* Convert an errno value to an fm_err, once, where the syscall failed. */
int fm_err_errno(int e);

/* A caller-provided buffer for a human-readable error message, used on
 * startup paths (config, listeners) so the message can name file and line. */
struct fm_errbuf {
	char msg[512];
};

/* printf into eb (if not NULL); returns FM_ECONFIG for convenient tail calls. */
int fm_errbuf_set(struct fm_errbuf *eb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Abort with a message: for states that must never happen at runtime. */
_Noreturn void fm_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
