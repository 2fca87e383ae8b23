/* TLS settings from text: protocol version, cipher suites, PSK file. */
#include "net/tls_setup.h"
#include "core/readfile.h"

#include <ctype.h>
#include <errno.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- protocol version ------------------------------------------------------ */

int tls_apply_version(mbedtls_ssl_config *conf, const char *version, struct fm_errbuf *eb)
{
	/* mosquitto's tls_version is the lowest version accepted */
	if (!version || strcmp(version, "tlsv1.2") == 0 || strcmp(version, "tlsv1.1") == 0) {
		mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
		return FM_OK;
	}
	if (strcmp(version, "tlsv1.3") == 0) {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
		mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_4);
		return FM_OK;
#else
		return fm_errbuf_set(eb, "tls_version tlsv1.3: this mbedtls (%s) has no TLS 1.3; use tlsv1.2",
				     MBEDTLS_VERSION_STRING);
#endif
	}
	return fm_errbuf_set(eb, "tls_version '%s' is not tlsv1.1, tlsv1.2 or tlsv1.3", version);
}

/* --- cipher suites ------------------------------------------------------------ */

/* AEAD suites with forward secrecy first; CCM for devices whose crypto
 * hardware has only AES-CCM. */
static const char *const cert_suites[] = {
	"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
	"TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
	"TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
	"TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
	"TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
	"TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
	"TLS-ECDHE-ECDSA-WITH-AES-128-CCM",
};

static const char *const psk_suites[] = {
	"TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256",
	"TLS-PSK-WITH-AES-128-GCM-SHA256",
	"TLS-PSK-WITH-AES-256-GCM-SHA384",
	"TLS-PSK-WITH-CHACHA20-POLY1305-SHA256",
	"TLS-PSK-WITH-AES-128-CCM",
	"TLS-PSK-WITH-AES-128-CCM-8",
	"TLS-ECDHE-PSK-WITH-AES-128-CBC-SHA256",
};

/* Letters and digits only, upper case: "ECDHE-RSA-AES128-GCM-SHA256" and
 * mbedtls' "ECDHE-RSA-WITH-AES-128-GCM-SHA256" (prefix and WITH dropped
 * by the caller) squash to the same text. */
static void squash(const char *in, char *out, size_t len)
{
	size_t o = 0;
	for (; *in && o + 1 < len; in++)
		if (isalnum((unsigned char)*in))
			out[o++] = (char)toupper((unsigned char)*in);
	out[o] = '\0';
}

static void squash_mbedtls(const char *name, char *out, size_t len)
{
	char tmp[128];
	if (strncmp(name, "TLS-", 4) == 0)
		name += 4;
	snprintf(tmp, sizeof(tmp), "%s", name);
	char *with = strstr(tmp, "-WITH-");
	if (with)
		memmove(with, with + 5, strlen(with + 5) + 1); /* keep the '-' before */
	squash(tmp, out, len);
}

static int find_squashed(const char *want)
{
	for (const int *id = mbedtls_ssl_list_ciphersuites(); *id; id++) {
		char have[128];
		squash_mbedtls(mbedtls_ssl_get_ciphersuite_name(*id), have, sizeof(have));
		if (strcmp(have, want) == 0)
			return *id;
	}
	return 0;
}

/* An mbedtls name, or an OpenSSL one: as is, then with the RSA key
 * exchange OpenSSL leaves unnamed ("AES128-GCM-SHA256"), then with the
 * SHA256 it leaves off ChaCha20 suites. 0: unknown here. */
static int suite_id(const char *name)
{
	int id = mbedtls_ssl_get_ciphersuite_id(name);
	if (id)
		return id;
	char want[128], variant[160];
	squash(name, want, sizeof(want));
	if ((id = find_squashed(want)) != 0)
		return id;
	snprintf(variant, sizeof(variant), "RSA%s", want);
	if ((id = find_squashed(variant)) != 0)
		return id;
	snprintf(variant, sizeof(variant), "%sSHA256", want);
	return find_squashed(variant);
}

static bool push_suite(int **v, size_t *n, int id)
{
	int *grown = realloc(*v, (*n + 2) * sizeof(**v));
	if (!grown)
		return false;
	*v = grown;
	grown[(*n)++] = id;
	grown[*n] = 0;
	return true;
}

static int *default_suites(bool psk, bool certs, struct fm_errbuf *eb)
{
	int *v = NULL;
	size_t n = 0;
	for (size_t i = 0; certs && i < sizeof(cert_suites) / sizeof(cert_suites[0]); i++) {
		int id = mbedtls_ssl_get_ciphersuite_id(cert_suites[i]);
		if (id && !push_suite(&v, &n, id))
			goto nomem;
	}
	for (size_t i = 0; psk && i < sizeof(psk_suites) / sizeof(psk_suites[0]); i++) {
		int id = mbedtls_ssl_get_ciphersuite_id(psk_suites[i]);
		if (id && !push_suite(&v, &n, id))
			goto nomem;
	}
	if (n == 0) {
		free(v);
		fm_errbuf_set(eb, "this mbedtls supports none of the default cipher suites");
		return NULL;
	}
	return v;
nomem:
	free(v);
	fm_errbuf_set(eb, "out of memory");
	return NULL;
}

static bool is_openssl_keyword(const char *tok)
{
	if (strchr("!+-@", tok[0]))
		return true;
	for (const char *p = tok; *p; p++)
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p))
			return false;
	return true; /* DEFAULT, HIGH, ALL, ... */
}

int *tls_suites_parse(const char *list, bool psk, bool certs, struct fm_errbuf *eb)
{
	if (!list)
		return default_suites(psk, certs, eb);
	char *copy = strdup(list), *save = NULL;
	int *v = NULL;
	size_t n = 0;
	if (!copy)
		goto nomem;
	for (char *tok = strtok_r(copy, ": ,", &save); tok; tok = strtok_r(NULL, ": ,", &save)) {
		int id = suite_id(tok);
		if (id == 0) {
			fm_errbuf_set(eb, is_openssl_keyword(tok)
					  ? "ciphers: '%s' is an OpenSSL cipher-string keyword; list the suites by name"
					  : "ciphers: '%s' is not a cipher suite this mbedtls supports", tok);
			goto fail;
		}
		if (!push_suite(&v, &n, id))
			goto nomem;
	}
	if (n == 0) {
		fm_errbuf_set(eb, "ciphers: the list is empty");
		goto fail;
	}
	free(copy);
	return v;
nomem:
	fm_errbuf_set(eb, "out of memory");
fail:
	free(copy);
	free(v);
	return NULL;
}

/* --- PSK file ------------------------------------------------------------------- */

static int hex_value(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* hex (len characters) into key; false if not an even run of hex digits
 * of 1..max bytes. */
static bool parse_hex_key(const char *hex, size_t len, unsigned char *key, size_t max, size_t *key_len)
{
	if (len == 0 || len % 2 || len / 2 > max)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value((unsigned char)hex[i]), lo = hex_value((unsigned char)hex[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		key[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*key_len = len / 2;
	return true;
}

static int compare_psk(const void *a, const void *b)
{
	const struct tls_psk *x = a, *y = b;
	return strcmp(x->identity, y->identity);
}

struct psk_list {
	struct tls_psk *v;
	size_t n;
};

static int add_line(struct psk_list *l, const char *name, int line_no, char *line, struct fm_errbuf *eb)
{
	char *colon = strchr(line, ':');
	if (!colon || colon == line)
		return fm_errbuf_set(eb, "%s:%d: not 'identity:hexkey'", name, line_no);
	*colon = '\0';
	const char *hex = colon + 1;
	unsigned char key[MBEDTLS_PSK_MAX_LEN];
	size_t key_len;
	if (!parse_hex_key(hex, strlen(hex), key, sizeof(key), &key_len))
		return fm_errbuf_set(eb, "%s:%d: the key of '%s' is not 1 to %d bytes of hex", name, line_no, line,
				     MBEDTLS_PSK_MAX_LEN);
	struct tls_psk *grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
	if (!grown)
		return fm_errbuf_set(eb, "out of memory");
	l->v = grown;
	struct tls_psk *p = &grown[l->n];
	p->identity = strdup(line);
	p->key = malloc(key_len);
	p->key_len = key_len;
	if (!p->identity || !p->key) {
		free(p->identity);
		free(p->key);
		return fm_errbuf_set(eb, "out of memory");
	}
	memcpy(p->key, key, key_len);
	mbedtls_platform_zeroize(key, sizeof(key));
	l->n++;
	return FM_OK;
}

static int find_duplicate(const struct psk_list *l, const char *name, struct fm_errbuf *eb)
{
	for (size_t i = 1; i < l->n; i++)
		if (strcmp(l->v[i - 1].identity, l->v[i].identity) == 0)
			return fm_errbuf_set(eb, "%s: identity '%s' appears twice", name, l->v[i].identity);
	return FM_OK;
}

int tls_psk_table_parse(const char *name, const char *text, struct tls_psk **out, size_t *n,
			struct fm_errbuf *eb)
{
	struct psk_list l = {0};
	char *copy = strdup(text), *save = NULL;
	if (!copy)
		return fm_errbuf_set(eb, "out of memory");
	int rc = FM_OK, line_no = 0;
	/* strtok_r would skip empty lines and lose the numbering */
	for (char *line = copy; line && rc == FM_OK; line = save) {
		line_no++;
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		size_t len = strlen(line);
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		rc = add_line(&l, name, line_no, line, eb);
	}
	free(copy);
	if (rc == FM_OK && l.n > 1) {
		qsort(l.v, l.n, sizeof(*l.v), compare_psk);
		rc = find_duplicate(&l, name, eb);
	}
	if (rc != FM_OK) {
		tls_psk_table_free(l.v, l.n);
		return FM_ECONFIG;
	}
	*out = l.v;
	*n = l.n;
	return FM_OK;
}

/* A PSK file: one short line per device. */
#define PSK_FILE_MAX (64u * 1024u * 1024u)

int tls_psk_table_load(const char *path, struct tls_psk **out, size_t *n, struct fm_errbuf *eb)
{
	char *text = NULL;
	size_t len = 0;
	int err_no = 0;
	int rc = fm_read_file(path, PSK_FILE_MAX, &text, &len, &err_no);
	if (rc != FM_OK)
		return fm_errbuf_set(eb, "cannot read psk_file '%s': %s", path,
				     rc == FM_ENOTFOUND || rc == FM_EIO ? strerror(err_no)
				     : rc == FM_EPROTO ? "it holds a NUL byte" : fm_strerror(rc));
	rc = tls_psk_table_parse(path, text, out, n, eb);
	mbedtls_platform_zeroize(text, len); /* keys do not linger in freed memory */
	free(text);
	return rc;
}

const struct tls_psk *tls_psk_table_find(const struct tls_psk *t, size_t n, const unsigned char *id,
					 size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t mlen = strlen(t[mid].identity);
		int c = memcmp(t[mid].identity, id, mlen < len ? mlen : len);
		if (c == 0)
			c = mlen < len ? -1 : mlen > len ? 1 : 0;
		if (c == 0)
			return &t[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void tls_psk_table_free(struct tls_psk *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].identity);
		if (t[i].key)
			mbedtls_platform_zeroize(t[i].key, t[i].key_len);
		free(t[i].key);
	}
	free(t);
}
