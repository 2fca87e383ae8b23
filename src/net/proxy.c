/* PROXY protocol headers, as haproxy's proxy-protocol.txt describes them:
 *   v1: "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n", at most 107 bytes;
 *   v2: a 12-byte signature, version/command, family/protocol, a 16-bit
 *       length, then the addresses (and TLVs, skipped). */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define V1_MAX 107
static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* p[0,len) is a prefix of s (or s a prefix of it). */
static bool prefix_of(const uint8_t *p, size_t len, const void *s, size_t slen)
{
	return memcmp(p, s, len < slen ? len : slen) == 0;
}

/* --- version 1 ------------------------------------------------------------- */

static bool parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > 65535 || (s[0] == '0' && s[1]))
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "TCP4 1.2.3.4 5.6.7.8 1111 2222" (the line without "PROXY " and CRLF). */
static int parse_v1_fields(char *line, struct net_addr *src)
{
	char *save = NULL, *f[6];
	int n = 0;
	for (char *t = strtok_r(line, " ", &save); t && n < 6; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	if (n >= 1 && strcmp(f[0], "UNKNOWN") == 0) {
		*src = (struct net_addr){0}; /* the rest of the line is to be ignored */
		return FM_OK;
	}
	if (n != 5 || strtok_r(NULL, " ", &save))
		return FM_EPROTO;
	int family = strcmp(f[0], "TCP4") == 0 ? AF_INET : strcmp(f[0], "TCP6") == 0 ? AF_INET6 : 0;
	uint8_t dst[16];
	uint16_t dport;
	*src = (struct net_addr){.family = (uint8_t)family};
	if (!family || inet_pton(family, f[1], src->ip) != 1 || inet_pton(family, f[2], dst) != 1 ||
	    !parse_port(f[3], &src->port) || !parse_port(f[4], &dport))
		return FM_EPROTO;
	return FM_OK;
}

static int parse_v1(const uint8_t *p, size_t len, size_t *used, struct net_addr *src)
{
	size_t scan = len < V1_MAX ? len : V1_MAX;
	const uint8_t *cr = memchr(p, '\r', scan);
	if (memchr(p, '\n', cr ? (size_t)(cr - p) : scan))
		return FM_EPROTO; /* a bare LF: refused now, not at the 107th byte */
	if (!cr)
		return len < V1_MAX ? FM_EAGAIN : FM_EPROTO;
	size_t end = (size_t)(cr - p);
	if (end + 1 == len)
		return FM_EAGAIN; /* the '\n' has not arrived */
	if (p[end + 1] != '\n' || end < 6)
		return FM_EPROTO;
	char line[V1_MAX + 1];
	memcpy(line, p + 6, end - 6); /* after "PROXY " */
	line[end - 6] = '\0';
	/* fields are separated by exactly one space (2.1) */
	if (memchr(line, '\0', end - 6) || strstr(line, "  ") || line[0] == ' ' ||
	    (end > 6 && line[end - 7] == ' '))
		return FM_EPROTO;
	int rc = parse_v1_fields(line, src);
	if (rc == FM_OK)
		*used = end + 2;
	return rc;
}

/* --- version 2 ---------------------------------------------------------------- */

static int v2_addresses(const uint8_t *a, size_t alen, uint8_t fam, struct net_addr *src)
{
	*src = (struct net_addr){0};
	/* transport: UNSPEC or STREAM (we are TCP); family: UNSPEC, INET,
	 * INET6, UNIX; anything else is invalid (2.2) */
	if ((fam & 0x0f) > 1 || (fam >> 4) > 3)
		return FM_EPROTO;
	if ((fam & 0x0f) == 0)
		return FM_OK; /* UNSPEC: keep the socket's address */
	switch (fam >> 4) {
	case 0x1: /* AF_INET: src, dst, sport, dport */
		if (alen < 12)
			return FM_EPROTO;
		src->family = AF_INET;
		memcpy(src->ip, a, 4);
		src->port = (uint16_t)(a[8] << 8 | a[9]);
		return FM_OK;
	case 0x2: /* AF_INET6 */
		if (alen < 36)
			return FM_EPROTO;
		src->family = AF_INET6;
		memcpy(src->ip, a, 16);
		src->port = (uint16_t)(a[32] << 8 | a[33]);
		return FM_OK;
	default:
		return FM_OK; /* AF_UNSPEC or AF_UNIX: keep the socket's address */
	}
}

static int parse_v2(const uint8_t *p, size_t len, size_t *used, struct net_addr *src)
{
	if (len < 16)
		return FM_EAGAIN;
	uint8_t ver_cmd = p[12], fam = p[13];
	size_t alen = (size_t)(p[14] << 8 | p[15]);
	if ((ver_cmd >> 4) != 2 || (ver_cmd & 0x0f) > 1 || 16 + alen > PROXY_HEADER_MAX)
		return FM_EPROTO;
	if (len < 16 + alen)
		return FM_EAGAIN;
	*used = 16 + alen;
	if ((ver_cmd & 0x0f) == 0) { /* LOCAL: the balancer's own check */
		*src = (struct net_addr){0};
		return FM_OK;
	}
	return v2_addresses(p + 16, alen, fam, src);
}

int proxy_parse(const uint8_t *p, size_t len, size_t *used, struct net_addr *src)
{
	if (len == 0)
		return FM_EAGAIN;
	if (prefix_of(p, len, v2_sig, sizeof(v2_sig)))
		return len < sizeof(v2_sig) ? FM_EAGAIN : parse_v2(p, len, used, src);
	if (prefix_of(p, len, "PROXY ", 6))
		return len < 6 ? FM_EAGAIN : parse_v1(p, len, used, src);
	return FM_EPROTO;
}
