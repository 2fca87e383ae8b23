/* libFuzzer target: PROXY protocol headers (net/proxy.c). Checks beside
 * "no crash": a complete header's length lies within the input and within
 * PROXY_HEADER_MAX; the parse of any prefix of the input agrees with the
 * parse of the whole (incomplete before the header's end, the same header
 * from there on), which is what lets a reader consume an incomplete
 * header's bytes; a parsed address has a known family. */
#include "net/proxy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	struct net_addr src;
	int rc = proxy_parse(data, size, &used, &src);
	if (rc == FM_OK && (used == 0 || used > size || used > PROXY_HEADER_MAX))
		abort();
	if (rc == FM_OK && src.family != 0 && src.family != AF_INET && src.family != AF_INET6)
		abort();
	for (size_t i = 0; i < size; i++) {
		size_t u = 0;
		struct net_addr s;
		int r = proxy_parse(data, i, &u, &s);
		if (rc == FM_OK && i < used && r != FM_EAGAIN)
			abort(); /* a prefix of a header must read as incomplete */
		if (rc == FM_OK && i >= used && (r != FM_OK || u != used || memcmp(&s, &src, sizeof(s)) != 0))
			abort(); /* bytes after the header change nothing */
		if (rc == FM_EAGAIN && r != FM_EAGAIN)
			abort(); /* a prefix of an incomplete header is incomplete */
	}
	return 0;
}
