/* PROXY protocol headers (haproxy's proxy-protocol.txt, versions 1 and 2):
 * complete, incomplete at every length, and refused. */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>

static int parse(const void *p, size_t len, size_t *used, struct net_addr *src)
{
	return proxy_parse(p, len, used, src);
}

/* Every proper prefix of a valid header is "incomplete", never an error:
 * a reader may then consume all of it. */
static void every_prefix_is_incomplete(const uint8_t *h, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t used = 0;
		struct net_addr src;
		cr_assert_eq(parse(h, i, &used, &src), FM_EAGAIN, "prefix of %zu bytes", i);
	}
}

Test(proxy, v1_tcp4_and_tcp6)
{
	const char *h = "PROXY TCP4 203.0.113.9 127.0.0.1 4567 1883\r\n\x10\x0c";
	size_t used = 0;
	struct net_addr src;
	cr_assert_eq(parse(h, strlen(h), &used, &src), FM_OK);
	cr_assert_eq(used, strlen(h) - 2, "the bytes after the header are not the header's");
	cr_assert_eq(src.family, AF_INET);
	cr_assert_eq(src.port, 4567);
	char text[NET_ADDR_STRLEN];
	cr_assert_str_eq(net_addr_format(&src, text, sizeof(text)), "203.0.113.9:4567");
	every_prefix_is_incomplete((const uint8_t *)h, used);
	const char *h6 = "PROXY TCP6 2001:db8::1 ::1 65535 1883\r\n";
	cr_assert_eq(parse(h6, strlen(h6), &used, &src), FM_OK);
	cr_assert_str_eq(net_addr_format(&src, text, sizeof(text)), "[2001:db8::1]:65535");
}

Test(proxy, v1_unknown_keeps_the_socket_address)
{
	const char *h = "PROXY UNKNOWN\r\n";
	size_t used = 0;
	struct net_addr src = {.family = AF_INET};
	cr_assert_eq(parse(h, strlen(h), &used, &src), FM_OK);
	cr_assert_eq(src.family, 0);
	cr_assert_eq(used, strlen(h));
}

Test(proxy, v1_malformed_is_refused)
{
	const char *bad[] = {
		"PROXY TCP4 203.0.113.9 127.0.0.1 4567\r\n",        /* a field missing */
		"PROXY TCP4 203.0.113.9 127.0.0.1 4567 1883 9\r\n", /* one too many */
		"PROXY TCP4 203.0.113 127.0.0.1 4567 1883\r\n",     /* not an address */
		"PROXY TCP4 203.0.113.9 127.0.0.1 65536 1883\r\n",  /* port out of range */
		"PROXY TCP4 203.0.113.9 127.0.0.1 04567 1883\r\n",  /* leading zero */
		"PROXY TCP6 203.0.113.9 127.0.0.1 4567 1883\r\n",   /* family mismatch */
		"PROXY UDP4 203.0.113.9 127.0.0.1 4567 1883\r\n",
		"PROXY TCP4 203.0.113.9 127.0.0.1 4567 1883\r\r",   /* CR not followed by LF */
		"GET / HTTP/1.1\r\n",
		"\x10\x0c\x00\x04MQTT",
		"PROXY  TCP4 203.0.113.9 127.0.0.1 4567 1883\r\n",  /* two spaces (2.1: exactly one) */
		"PROXY TCP4 203.0.113.9 127.0.0.1 4567 1883 \r\n",  /* a trailing space */
		"PROXY TCP4 203.0.113.9 127.0.0.1 4567 1883\n",      /* LF without CR: refused at once */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t used;
		struct net_addr src;
		cr_assert_eq(parse(bad[i], strlen(bad[i]), &used, &src), FM_EPROTO, "accepted %s", bad[i]);
	}
	char longline[200] = "PROXY TCP4 ";
	memset(longline + 11, '1', 150);
	size_t used;
	struct net_addr src;
	cr_assert_eq(parse(longline, strlen(longline), &used, &src), FM_EPROTO, "no CRLF within 107 bytes");
}

static size_t v2_header(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *addrs, uint16_t alen)
{
	static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(alen >> 8);
	out[15] = (uint8_t)alen;
	if (alen)
		memcpy(out + 16, addrs, alen); /* memcpy from NULL is undefined even for 0 bytes */
	return 16u + alen;
}

Test(proxy, v2_inet_inet6_and_tlvs)
{
	uint8_t h[128], a4[12 + 7] = {203, 0, 113, 9, 127, 0, 0, 1, 0x11, 0xd7, 0x07, 0x5b, 0x04, 0, 4, 't', 'e', 's', 't'};
	size_t n = v2_header(h, 0x21, 0x11, a4, sizeof(a4)); /* PROXY, TCP over IPv4, with a TLV */
	size_t used = 0;
	struct net_addr src;
	cr_assert_eq(parse(h, n, &used, &src), FM_OK);
	cr_assert_eq(used, n, "TLVs are part of the header");
	char text[NET_ADDR_STRLEN];
	cr_assert_str_eq(net_addr_format(&src, text, sizeof(text)), "203.0.113.9:4567");
	every_prefix_is_incomplete(h, n);
	uint8_t a6[36] = {0x20, 0x01, 0x0d, 0xb8};
	a6[15] = 1;
	a6[31] = 1;
	a6[32] = 0x30;
	a6[33] = 0x39;
	n = v2_header(h, 0x21, 0x21, a6, sizeof(a6));
	cr_assert_eq(parse(h, n, &used, &src), FM_OK);
	cr_assert_str_eq(net_addr_format(&src, text, sizeof(text)), "[2001:db8::1]:12345");
}

Test(proxy, v2_local_and_unspec_keep_the_socket_address)
{
	uint8_t h[64];
	size_t n = v2_header(h, 0x20, 0x00, NULL, 0); /* LOCAL: a health check */
	size_t used = 0;
	struct net_addr src = {.family = AF_INET};
	cr_assert_eq(parse(h, n, &used, &src), FM_OK);
	cr_assert_eq(src.family, 0);
	cr_assert_eq(used, 16);
}

Test(proxy, v2_malformed_is_refused)
{
	uint8_t h[64], a4[8] = {0};
	size_t used;
	struct net_addr src;
	size_t n = v2_header(h, 0x11, 0x11, a4, 0); /* version 1 in a v2 header */
	cr_assert_eq(parse(h, n, &used, &src), FM_EPROTO);
	n = v2_header(h, 0x22, 0x11, a4, 0); /* command 2 */
	cr_assert_eq(parse(h, n, &used, &src), FM_EPROTO);
	n = v2_header(h, 0x21, 0x11, a4, sizeof(a4)); /* IPv4 block too short */
	cr_assert_eq(parse(h, n, &used, &src), FM_EPROTO);
	h[14] = 0xff; /* longer than we read */
	cr_assert_eq(parse(h, 16, &used, &src), FM_EPROTO);
	uint8_t a[12] = {203, 0, 113, 9, 127, 0, 0, 1, 0, 1, 0, 2};
	n = v2_header(h, 0x21, 0x41, a, sizeof(a)); /* family 4: none such (2.2) */
	cr_assert_eq(parse(h, n, &used, &src), FM_EPROTO);
	n = v2_header(h, 0x21, 0x13, a, sizeof(a)); /* transport 3: none such */
	cr_assert_eq(parse(h, n, &used, &src), FM_EPROTO);
	n = v2_header(h, 0x21, 0x12, a, sizeof(a)); /* DGRAM: not what a TCP listener carries */
	cr_assert_eq(parse(h, n, &used, &src), FM_EPROTO);
}
