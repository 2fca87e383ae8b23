/* fm_errbuf formatting and fm_panic. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int fm_errbuf_set(struct fm_errbuf *eb, const char *fmt, ...)
{
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
	}
	return FM_ECONFIG;
}

void fm_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fleetmq: panic: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}
