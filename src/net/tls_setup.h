/* TLS settings read from text: the protocol version, the cipher suite
 * list (mbedtls and OpenSSL names) and the PSK file. Pure parsing, so the
 * unit tests cover every error message. */
#ifndef FM_NET_TLS_SETUP_H
#define FM_NET_TLS_SETUP_H

#include "net/tls.h"

#include <mbedtls/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* Lowest protocol version: NULL or "tlsv1.2" (also "tlsv1.1", which this
 * mbedtls cannot speak, so 1.2 is what it gets); "tlsv1.3" is refused
 * unless mbedtls has it. FM_OK or FM_ECONFIG with eb set. */
int tls_apply_version(mbedtls_ssl_config *conf, const char *version, struct fm_errbuf *eb);

/* The 0-terminated suite ids for a ':'-separated list (mbedtls names such
 * as TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256 or OpenSSL names such as
 * ECDHE-RSA-AES128-GCM-SHA256), or our default list when list is NULL:
 * AEAD suites with forward secrecy, plus PSK suites when psk (and only
 * those without certs). NULL with eb set (unknown name, or nothing left
 * that this mbedtls supports) or on ENOMEM. Caller frees. */
int *tls_suites_parse(const char *list, bool psk, bool certs, struct fm_errbuf *eb);

/* Read identity:hexkey lines ('#' comments and blank lines skipped) into a
 * table sorted for tls_psk_table_find. FM_OK, or FM_ECONFIG naming the file
 * and line. */
int tls_psk_table_load(const char *path, struct tls_psk **out, size_t *n, struct fm_errbuf *eb);
/* The same from text already in memory (name is used in messages). */
int tls_psk_table_parse(const char *name, const char *text, struct tls_psk **out, size_t *n,
			struct fm_errbuf *eb);
const struct tls_psk *tls_psk_table_find(const struct tls_psk *t, size_t n, const unsigned char *id,
					 size_t len);
void tls_psk_table_free(struct tls_psk *t, size_t n);

#endif
