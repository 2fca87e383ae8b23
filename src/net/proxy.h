/* The PROXY protocol (HAProxy's, versions 1 and 2): the header a load
 * balancer sends before the client's bytes to say who the client is. Pure
 * parsing; proto/proxy_wait.c reads it off new connections on listeners
 * that enable it. */
#ifndef FM_NET_PROXY_H
#define FM_NET_PROXY_H

#include "net/conn.h"

#include <stddef.h>
#include <stdint.h>

/* The longest header this parser reads: v1's 107 bytes, v2's 16 plus the
 * IPv6 address block (36) plus TLVs up to this bound (HAProxy's TLVs, SSL
 * details and unique ids included, stay far below it; the spec allows up
 * to 64 KiB, which a header waiting on every new connection should not
 * cost). */
#define PROXY_HEADER_MAX 4096

/* A header at the start of p[0, len):
 * - FM_OK: *used bytes are the header; *src is the client's address, or
 *   family 0 when the header says LOCAL / UNKNOWN (use the socket's).
 * - FM_EAGAIN: a valid beginning, not complete yet: every byte of p belongs
 *   to the header (so a reader may consume them all).
 * - FM_EPROTO: not a PROXY header (or one we cannot take). */
int proxy_parse(const uint8_t *p, size_t len, size_t *used, struct net_addr *src);

#endif
