/* TLS settings from text (version, cipher suites, PSK file), certificate
 * identities (common name, RFC 2253 subject) and the server context's
 * refusals of broken files. Certificates are made here with mbedtls'
 * writer, so the test needs no files. */
#include "net/tls.h"
#include "net/tls_setup.h"

#include <criterion/criterion.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct fm_errbuf eb;

/* --- protocol version ----------------------------------------------------- */

Test(tls_setup, version_is_the_lowest_accepted_and_13_needs_an_mbedtls_that_has_it)
{
	mbedtls_ssl_config conf;
	mbedtls_ssl_config_init(&conf);
	cr_assert_eq(tls_apply_version(&conf, NULL, &eb), FM_OK);
	cr_assert_eq(tls_apply_version(&conf, "tlsv1.2", &eb), FM_OK);
	cr_assert_eq(tls_apply_version(&conf, "tlsv1.1", &eb), FM_OK, "1.1 means 1.2 here");
#if !defined(MBEDTLS_SSL_PROTO_TLS1_3)
	cr_assert_eq(tls_apply_version(&conf, "tlsv1.3", &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "has no TLS 1.3"), "%s", eb.msg);
#endif
	cr_assert_eq(tls_apply_version(&conf, "sslv3", &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "'sslv3' is not tlsv1.1, tlsv1.2 or tlsv1.3"), "%s", eb.msg);
	mbedtls_ssl_config_free(&conf);
}

/* --- cipher suites ------------------------------------------------------------ */

static size_t count(const int *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	return n;
}

static bool has(const int *v, const char *mbedtls_name)
{
	int id = mbedtls_ssl_get_ciphersuite_id(mbedtls_name);
	for (; *v; v++)
		if (*v == id)
			return true;
	return false;
}

Test(tls_setup, default_suites_follow_what_the_listener_offers)
{
	int *certs = tls_suites_parse(NULL, false, true, &eb);
	cr_assert_not_null(certs, "%s", eb.msg);
	cr_assert(has(certs, "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"));
	cr_assert(has(certs, "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"));
	cr_assert_not(has(certs, "TLS-PSK-WITH-AES-128-GCM-SHA256"), "no PSK suites without psk_hint");
	int *psk = tls_suites_parse(NULL, true, false, &eb);
	cr_assert(has(psk, "TLS-PSK-WITH-AES-128-GCM-SHA256"));
	cr_assert_not(has(psk, "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"), "no certificate suites without certfile");
	int *both = tls_suites_parse(NULL, true, true, &eb);
	cr_assert_eq(count(both), count(certs) + count(psk));
	free(certs);
	free(psk);
	free(both);
}

Test(tls_setup, suites_by_mbedtls_or_openssl_name)
{
	int *v = tls_suites_parse("TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256,"
				  "ECDHE-RSA-CHACHA20-POLY1305 AES128-GCM-SHA256:PSK-AES128-GCM-SHA256", false, true, &eb);
	cr_assert_not_null(v, "%s", eb.msg);
	cr_assert_eq(count(v), 5);
	cr_assert_eq(v[0], mbedtls_ssl_get_ciphersuite_id("TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"));
	cr_assert_eq(v[1], mbedtls_ssl_get_ciphersuite_id("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"));
	cr_assert_eq(v[2], mbedtls_ssl_get_ciphersuite_id("TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256"));
	cr_assert_eq(v[3], mbedtls_ssl_get_ciphersuite_id("TLS-RSA-WITH-AES-128-GCM-SHA256"));
	cr_assert_eq(v[4], mbedtls_ssl_get_ciphersuite_id("TLS-PSK-WITH-AES-128-GCM-SHA256"));
	free(v);
}

Test(tls_setup, unknown_suites_and_openssl_keywords_are_refused_by_name)
{
	cr_assert_null(tls_suites_parse("ECDHE-RSA-AES128-GCM-SHA256:NOPE-CIPHER", false, true, &eb));
	cr_assert(strstr(eb.msg, "'NOPE-CIPHER' is not a cipher suite this mbedtls supports"), "%s", eb.msg);
	cr_assert_null(tls_suites_parse("DEFAULT:!aNULL", false, true, &eb));
	cr_assert(strstr(eb.msg, "'DEFAULT' is an OpenSSL cipher-string keyword"), "%s", eb.msg);
	cr_assert_null(tls_suites_parse("::", false, true, &eb));
	cr_assert(strstr(eb.msg, "the list is empty"), "%s", eb.msg);
}

/* --- PSK file ------------------------------------------------------------------- */

Test(tls_setup, psk_file_lines_are_identity_and_hex_key)
{
	struct tls_psk *t = NULL;
	size_t n = 0;
	const char *text = "# fleet keys\n\ndev-b:00ff\r\ndev-a:0102030405060708090a0b0c0d0e0f10\n  \nz:AbCd\n";
	cr_assert_eq(tls_psk_table_parse("psk.txt", text, &t, &n, &eb), FM_OK, "%s", eb.msg);
	cr_assert_eq(n, 3);
	const struct tls_psk *k = tls_psk_table_find(t, n, (const unsigned char *)"dev-b", 5);
	cr_assert_not_null(k);
	cr_assert_eq(k->key_len, 2);
	cr_assert_eq(k->key[0], 0x00);
	cr_assert_eq(k->key[1], 0xff);
	k = tls_psk_table_find(t, n, (const unsigned char *)"dev-a", 5);
	cr_assert_eq(k->key_len, 16);
	cr_assert_eq(k->key[15], 0x10);
	cr_assert_eq(tls_psk_table_find(t, n, (const unsigned char *)"z", 1)->key[0], 0xab);
	cr_assert_null(tls_psk_table_find(t, n, (const unsigned char *)"dev-", 4), "prefixes do not match");
	cr_assert_null(tls_psk_table_find(t, n, (const unsigned char *)"dev-bb", 6));
	cr_assert_null(tls_psk_table_find(t, n, (const unsigned char *)"", 0));
	tls_psk_table_free(t, n);
}

static void expect_psk_error(const char *text, const char *what)
{
	struct tls_psk *t = NULL;
	size_t n = 0;
	cr_assert_eq(tls_psk_table_parse("psk.txt", text, &t, &n, &eb), FM_ECONFIG, "accepted %s", text);
	cr_assert(strstr(eb.msg, what), "'%s' not in '%s'", what, eb.msg);
}

Test(tls_setup, bad_psk_lines_name_file_and_line)
{
	expect_psk_error("a:00\nno-colon\n", "psk.txt:2: not 'identity:hexkey'");
	expect_psk_error(":00\n", "psk.txt:1: not 'identity:hexkey'");
	expect_psk_error("\n\na:0g\n", "psk.txt:3: the key of 'a' is not 1 to 32 bytes of hex");
	expect_psk_error("a:123\n", "the key of 'a'");
	expect_psk_error("a:\n", "the key of 'a'");
	char long_key[80];
	memset(long_key, 'a', 66);
	long_key[66] = '\0';
	char line[100];
	snprintf(line, sizeof(line), "k:%s\n", long_key); /* 33 bytes */
	expect_psk_error(line, "the key of 'k'");
	expect_psk_error("a:00\nb:01\na:02\n", "identity 'a' appears twice");
}

Test(tls_setup, psk_file_that_cannot_be_read_is_named)
{
	struct tls_psk *t = NULL;
	size_t n = 0;
	cr_assert_eq(tls_psk_table_load("/nonexistent/psk.txt", &t, &n, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "cannot read psk_file '/nonexistent/psk.txt'"), "%s", eb.msg);
}

/* --- certificate identities ------------------------------------------------------ */

/* A self-signed certificate for subject, parsed back. */
static void make_cert(const char *subject, mbedtls_x509_crt *out)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	cr_assert_eq(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0), 0);
	cr_assert_eq(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	cr_assert_eq(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg), 0);
	mbedtls_x509write_crt_set_subject_key(&w, &key);
	mbedtls_x509write_crt_set_issuer_key(&w, &key);
	cr_assert_eq(mbedtls_x509write_crt_set_subject_name(&w, subject), 0, "subject %s", subject);
	cr_assert_eq(mbedtls_x509write_crt_set_issuer_name(&w, subject), 0);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_mpi_lset(&serial, 7);
	mbedtls_x509write_crt_set_serial(&w, &serial);
	mbedtls_x509write_crt_set_validity(&w, "20250101000000", "20350101000000");
	static unsigned char der[4096];
	int len = mbedtls_x509write_crt_der(&w, der, sizeof(der), mbedtls_ctr_drbg_random, &drbg);
	cr_assert_gt(len, 0);
	mbedtls_x509_crt_init(out);
	cr_assert_eq(mbedtls_x509_crt_parse_der(out, der + sizeof(der) - len, (size_t)len), 0);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
}

Test(tls_identity, common_name_and_rfc2253_subject_as_mosquitto_writes_them)
{
	mbedtls_x509_crt crt;
	make_cert("C=DE,O=Fleet,CN=dev1", &crt);
	char out[256];
	cr_assert(tls_cert_cn(&crt, out, sizeof(out)));
	cr_assert_str_eq(out, "dev1");
	cr_assert(tls_cert_subject(&crt, out, sizeof(out)));
	cr_assert_str_eq(out, "CN=dev1,O=Fleet,C=DE", "RFC 2253 lists the last RDN first");
	cr_assert_not(tls_cert_subject(&crt, out, 10), "a subject that does not fit is no identity");
	cr_assert_not(tls_cert_cn(&crt, out, 4));
	mbedtls_x509_crt_free(&crt);
}

Test(tls_identity, specials_are_escaped_as_rfc2253_says)
{
	mbedtls_x509_crt crt;
	make_cert("C=DE,O=Fleet\\, Inc,CN=a+b", &crt);
	char out[256];
	cr_assert(tls_cert_subject(&crt, out, sizeof(out)));
	cr_assert_str_eq(out, "CN=a\\+b,O=Fleet\\, Inc,C=DE");
	mbedtls_x509_crt_free(&crt);
}

Test(tls_identity, no_common_name_is_no_identity)
{
	mbedtls_x509_crt crt;
	make_cert("C=DE,O=Fleet", &crt);
	char out[256];
	cr_assert_not(tls_cert_cn(&crt, out, sizeof(out)));
	mbedtls_x509_crt_free(&crt);
}

/* --- server context ----------------------------------------------------------------- */

/* A temporary file holding text; its path in path (unlink it after). */
static void temp_file(char *path, const char *text)
{
	strcpy(path, "/tmp/fleetmq-tls-unit-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(tls_server, files_that_cannot_be_used_are_named)
{
	struct tls_server *s = NULL;
	struct tls_server_opts o = {.certfile = "/nonexistent/server.crt", .keyfile = "/nonexistent/server.key"};
	cr_assert_eq(tls_server_new(&o, &s, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "cannot use certfile '/nonexistent/server.crt'"), "%s", eb.msg);
	char path[64];
	temp_file(path, "not a certificate\n");
	o.certfile = path;
	cr_assert_eq(tls_server_new(&o, &s, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "cannot use certfile"), "%s", eb.msg);
	struct tls_server_opts psk = {.psk_file = "/nonexistent/psk"};
	cr_assert_eq(tls_server_new(&psk, &s, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "cannot read psk_file '/nonexistent/psk'"), "%s", eb.msg);
	struct tls_server_opts bad_suite = {.psk_file = path, .ciphers = "NOPE"};
	cr_assert_eq(tls_server_new(&bad_suite, &s, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "'NOPE'"), "%s", eb.msg);
	unlink(path);
}

Test(tls_server, a_psk_only_context_builds_and_is_reference_counted)
{
	char path[64];
	temp_file(path, "dev:00112233\n");
	struct tls_server *s = NULL;
	struct tls_server_opts o = {.psk_file = path, .identity = TLS_IDENTITY_CN};
	cr_assert_eq(tls_server_new(&o, &s, &eb), FM_OK, "%s", eb.msg);
	tls_server_ref(s);
	tls_server_unref(s);
	tls_server_unref(s); /* the last one frees it (ASan would see a leak or a double free) */
	unlink(path);
}
