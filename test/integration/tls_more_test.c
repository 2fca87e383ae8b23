/* TLS, continued (see tls_test.c): certificate, CA and PSK files re-read
 * on SIGHUP without dropping connections, messages far larger than a TLS
 * record (also to a reader that stalls), and startup errors. */
#include "tls.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- reload on SIGHUP ------------------------------------------------------- */

Test(tls, sighup_rotates_the_server_certificate_and_keeps_connections)
{
	char dir[64], crt[128], key[128], conf[1024];
	own_dir(dir, sizeof(dir));
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	install_file(fx("server.crt"), crt);
	install_file(fx("server.key"), key);
	snprintf(conf, sizeof(conf), "%s%s\ncertfile %s\nkeyfile %s\n", BASE_CONF, "listener %PORT2% 127.0.0.1", crt, key);
	tls_start(conf);
	cr_assert(serves_cert(fx("server.crt"), 0), "the broker does not serve server.crt");

	struct tc sub;
	struct tc_opts so = {.id = "hup-sub", .cafile = ca_file()};
	tc_open(&sub, &so);
	tc_subscribe(&sub, "hup/#", 1);

	/* rotate: a newly issued certificate (another serial, another key) */
	install_file(fx("server2.crt"), crt);
	install_file(fx("server2.key"), key);
	long off = log_size();
	hb_signal(&broker, SIGHUP);
	cr_assert(log_since(off, "SIGHUP", 5000), "no reload logged");
	cr_assert(serves_cert(fx("server2.crt"), 5000), "new connections are not shown the new certificate");

	/* the subscriber connected under the old certificate is still there */
	struct raw pub;
	raw_connect_simple(&pub, broker.port, "hup-pub");
	raw_publish(&pub, "hup/after", "rotated", 1, false, 1);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 1);
	struct tc *one[] = {&sub};
	cr_assert(pump_until(one, 1, &sub.received, 1, 5000), "the TLS subscriber got nothing after the reload (%s)",
		  sub.error ? mosquitto_strerror(sub.error) : "no error");
	cr_assert_str_eq(sub.topic, "hup/after");
	cr_assert_eq(sub.disconnects, 0, "the TLS subscriber was disconnected by the reload");

	/* a broken certificate on reload: the current one stays, an error is logged */
	write_text(crt, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
	off = log_size();
	hb_signal(&broker, SIGHUP);
	cr_assert(log_since(off, crt, 5000), "a broken %s on reload was not logged", crt);
	cr_assert(serves_cert(fx("server2.crt"), 0), "a broken file on reload replaced the working certificate");
	raw_publish(&pub, "hup/broken", "still here", 1, false, 2);
	cr_assert_eq(raw_expect_ack(&pub, MQTT_PUBACK), 2);
	cr_assert(pump_until(one, 1, &sub.received, 2, 5000), "the TLS subscriber got nothing after a failed reload");
	cr_assert_str_eq(sub.topic, "hup/broken");
	cr_assert_eq(sub.disconnects, 0);
	raw_close(&pub);
	tc_close(&sub);
}

Test(tls, sighup_rereads_the_cafile)
{
	char dir[64], cafile[128], conf[1024];
	own_dir(dir, sizeof(dir));
	snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
	install_file(fx("other_ca.crt"), cafile);
	snprintf(conf, sizeof(conf), "%s%scafile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		 BASE_CONF, TLS_LISTENER, cafile);
	tls_start(conf);
	struct tc c;
	struct tc_opts o = cert_client("ca-before", "client");
	bool in = tc_connect(&c, &o);
	tc_close(&c);
	cr_assert_not(in, "client.crt was accepted with only other_ca trusted");

	install_file(fx("ca.crt"), cafile);
	long off = log_size();
	hb_signal(&broker, SIGHUP);
	cr_assert(log_since(off, "SIGHUP", 5000), "no reload logged");
	o = cert_client("ca-after", "client");
	cr_assert(connects_within(&o, 5000), "client.crt is still refused after its CA was installed and SIGHUP sent");
	cr_assert(hb_log_contains(&broker, ", user dev1)", 0));
}

Test(tls, sighup_rereads_the_psk_file)
{
	char dir[64], psk[128], conf[1024], key[80], key2[80], line[128];
	own_dir(dir, sizeof(dir));
	snprintf(psk, sizeof(psk), "%s/psk.txt", dir);
	psk_key("dev-psk", key, sizeof(key));
	psk_key("dev-psk2", key2, sizeof(key2));
	snprintf(line, sizeof(line), "dev-psk:%s\n", key);
	write_text(psk, line);
	snprintf(conf, sizeof(conf), "psk_file %s\n%s%s", psk, BASE_CONF, "listener %PORT2% 127.0.0.1\npsk_hint fleetmq\n");
	tls_start(conf);
	const char *old_key[] = {"--psk", key, "--psk-identity", "dev-psk", NULL};
	const char *new_key[] = {"--psk", key2, "--psk-identity", "dev-psk", NULL};
	cr_assert_eq(cli_pub(old_key, broker.port2, "psk-before", "r/x", "x"), 0, "the PSK in psk_file is refused");

	snprintf(line, sizeof(line), "dev-psk:%s\n", key2);
	write_text(psk, line);
	long off = log_size();
	hb_signal(&broker, SIGHUP);
	cr_assert(log_since(off, "SIGHUP", 5000), "no reload logged");
	bool in = false;
	for (long end = now_ms() + 5000; !in && now_ms() < end; sleep_ms(50))
		in = cli_pub(new_key, broker.port2, "psk-new", "r/x", "x") == 0;
	cr_assert(in, "the key written to psk_file before SIGHUP is refused");
	cr_assert_neq(cli_pub(old_key, broker.port2, "psk-old", "r/x", "x"), 0,
		      "the key removed from psk_file still works after SIGHUP");
}

/* --- large messages --------------------------------------------------------- */

#define BIG_LEN (1024 * 1024)

Test(tls, one_mebibyte_message_each_way_over_tls)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct tc a, b;
	struct tc_opts ao = {.id = "big-a", .cafile = ca_file()};
	struct tc_opts bo = {.id = "big-b", .cafile = ca_file()};
	tc_open(&a, &ao);
	tc_open(&b, &bo);
	tc_subscribe(&a, "big/to-a", 1);
	tc_subscribe(&b, "big/to-b", 1);
	struct raw plain;
	raw_connect_simple(&plain, broker.port, "big-plain");
	cr_assert_eq(raw_subscribe(&plain, 1, "big/to-b", 1), 1);

	uint8_t *p1 = malloc(BIG_LEN), *p2 = malloc(BIG_LEN);
	cr_assert(p1 && p2);
	fill_pattern(p1, BIG_LEN, 1);
	fill_pattern(p2, BIG_LEN, 2);
	struct tc *both[] = {&a, &b};

	cr_assert_eq(mosquitto_publish(a.m, NULL, "big/to-b", BIG_LEN, p1, 1, false), MOSQ_ERR_SUCCESS);
	cr_assert(pump_until(both, 2, &b.received, 1, 15000), "1 MiB from a never reached b (%s)",
		  a.error ? mosquitto_strerror(a.error) : b.error ? mosquitto_strerror(b.error) : "no error");
	cr_assert_eq(b.payload_len, BIG_LEN);
	cr_assert(memcmp(b.payload, p1, BIG_LEN) == 0, "b got a different 1 MiB [MQTT-3.3.3-1]");
	cr_assert(pump_until(both, 2, &a.published, 1, 5000), "no PUBACK for the 1 MiB message");

	/* the same message reached the plain subscriber whole */
	struct mqtt_publish p;
	raw_expect_publish(&plain, &p);
	cr_assert_eq(p.payload.len, BIG_LEN);
	cr_assert(memcmp(p.payload.p, p1, BIG_LEN) == 0, "the plain subscriber got a different 1 MiB");
	if (p.qos == 1)
		raw_ack(&plain, MQTT_PUBACK, p.packet_id);

	cr_assert_eq(mosquitto_publish(b.m, NULL, "big/to-a", BIG_LEN, p2, 1, false), MOSQ_ERR_SUCCESS);
	cr_assert(pump_until(both, 2, &a.received, 1, 15000), "1 MiB from b never reached a");
	cr_assert_eq(a.payload_len, BIG_LEN);
	cr_assert(memcmp(a.payload, p2, BIG_LEN) == 0, "a got a different 1 MiB");
	cr_assert(pump_until(both, 2, &b.published, 1, 5000), "no PUBACK for the second 1 MiB message");
	cr_assert_eq(a.disconnects + b.disconnects, 0);
	free(p1);
	free(p2);
	raw_close(&plain);
	tc_close(&a);
	tc_close(&b);
}

/* A TLS subscriber that stops reading while 16 messages of 512 KiB are
 * published: its socket fills, the broker's writes stop half-way through
 * records (mbedtls must then be given the same record again) and it holds
 * the publisher back; once the subscriber reads again every message arrives
 * whole and in order [MQTT-4.6.0-6]. The stall stays well under the
 * broker's slow-consumer limit (5 s). */
#define STALL_N 16
#define STALL_LEN (512 * 1024)

Test(tls, a_stalled_tls_reader_gets_every_byte_once_it_reads_again)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct tc sub, pub;
	struct tc_opts so = {.id = "stalled", .cafile = ca_file()};
	struct tc_opts po = {.id = "stall-pub", .cafile = ca_file()};
	tc_open(&sub, &so);
	tc_open(&pub, &po);
	tc_subscribe(&sub, "stall/#", 1);

	uint8_t *p = malloc(STALL_LEN);
	cr_assert(p);
	uint32_t want[STALL_N];
	for (int i = 0; i < STALL_N; i++) {
		fill_pattern(p, STALL_LEN, 100u + (unsigned)i);
		want[i] = fnv1a(p, STALL_LEN);
		cr_assert_eq(mosquitto_publish(pub.m, NULL, "stall/t", STALL_LEN, p, 1, false), MOSQ_ERR_SUCCESS);
	}
	free(p);
	/* only the publisher runs: the subscriber reads nothing for a second */
	struct tc *only_pub[] = {&pub};
	pump_until(only_pub, 1, &pub.published, STALL_N, 1000);
	cr_assert_lt(pub.published, STALL_N, "all were acknowledged while the subscriber read nothing: no stall");
	cr_assert_eq(sub.received, 0);

	struct tc *both[] = {&sub, &pub};
	cr_assert(pump_until(both, 2, &sub.received, STALL_N, 20000), "received %d of %d (%s)", sub.received, STALL_N,
		  sub.error ? mosquitto_strerror(sub.error) : "no error");
	cr_assert(pump_until(both, 2, &pub.published, STALL_N, 5000), "acknowledged %d of %d", pub.published, STALL_N);
	for (int i = 0; i < STALL_N; i++) {
		cr_assert_eq(sub.lens[i], STALL_LEN, "message %d: %d bytes", i, sub.lens[i]);
		cr_assert_eq(sub.hashes[i], want[i], "message %d differs (or came out of order)", i);
	}
	cr_assert_eq(sub.disconnects, 0);
	tc_close(&sub);
	tc_close(&pub);
}

/* --- startup errors --------------------------------------------------------- */

/* Run fleetmq on conf_text (with @F@ expanded; its line 1 is the listener)
 * and expect it to fail without being killed, naming the config file and
 * the option's line or its listener's ("PATH:LINE:"; line 0: any line) and
 * every string in needles (also @F@-expanded). */
static void expect_startup_error(const char *conf_text, int line, const char *const *needles)
{
	char dir[64], conf_path[128], conf[2048], out[8192], where[160], listener[160];
	own_dir(dir, sizeof(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/fleetmq.conf", dir);
	expand(conf, sizeof(conf), conf_text);
	write_text(conf_path, conf);
	const char *argv[] = {hb_binary(), "-c", conf_path, NULL};
	int rc = hb_run_capture(argv, out, sizeof(out), 5);
	cr_assert(rc != 0 && rc < 128, "fleetmq exited %d (0: it started; >= 128: killed) on:\n%s\noutput:\n%s", rc,
		  conf, out);
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d:", conf_path, line);
	else
		snprintf(where, sizeof(where), "%s:", conf_path);
	snprintf(listener, sizeof(listener), "%s:1:", conf_path);
	cr_assert(strstr(out, where) || strstr(out, listener), "the error names neither %s nor %s:\n%s", where,
		  listener, out);
	for (int i = 0; needles[i]; i++) {
		char needle[256];
		expand(needle, sizeof(needle), needles[i]);
		cr_assert(strstr(out, needle), "the error does not mention '%s':\n%s", needle, out);
	}
}

/* The first line is the listener, on an ephemeral port in case a broken
 * broker gets as far as binding it. */
#define ERR_LISTENER "listener 0 127.0.0.1\n"

Test(tls, startup_error_for_a_missing_keyfile)
{
	const char *needles[] = {"keyfile", "/nonexistent/server.key", NULL};
	expect_startup_error(ERR_LISTENER "certfile @F@/server.crt\nkeyfile /nonexistent/server.key\n", 3, needles);
}

/* mosquitto refuses a certfile without a keyfile too; the error may point
 * at the listener or the certfile line */
Test(tls, startup_error_for_a_certfile_without_keyfile)
{
	const char *needles[] = {"keyfile", NULL};
	expect_startup_error(ERR_LISTENER "certfile @F@/server.crt\n", 0, needles);
}

/* A file that holds no certificate. (The tests run as root, for whom chmod
 * 000 changes nothing; as another user, an unreadable copy is tried too.) */
Test(tls, startup_error_for_an_unreadable_certfile)
{
	const char *needles[] = {"certfile", "@F@/psk.txt", NULL};
	expect_startup_error(ERR_LISTENER "certfile @F@/psk.txt\nkeyfile @F@/server.key\n", 2, needles);
	if (geteuid() == 0)
		return;
	char dir[64], crt[128], conf[512];
	own_dir(dir, sizeof(dir));
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	install_file(fx("server.crt"), crt);
	cr_assert_eq(chmod(crt, 0), 0);
	snprintf(conf, sizeof(conf), ERR_LISTENER "certfile %s\nkeyfile @F@/server.key\n", crt);
	const char *n2[] = {"certfile", crt, NULL};
	expect_startup_error(conf, 2, n2);
}

Test(tls, startup_error_for_a_key_that_does_not_match_the_certificate)
{
	const char *needles[] = {"keyfile", "@F@/client.key", NULL};
	expect_startup_error(ERR_LISTENER "certfile @F@/server.crt\nkeyfile @F@/client.key\n", 3, needles);
}

Test(tls, startup_error_for_tls_version_1_3)
{
	const char *needles[] = {"tls_version", "tlsv1.3", "mbedtls", NULL};
	expect_startup_error(ERR_LISTENER "certfile @F@/server.crt\nkeyfile @F@/server.key\ntls_version tlsv1.3\n",
			     4, needles);
}

Test(tls, startup_error_for_an_unknown_cipher)
{
	const char *needles[] = {"ciphers", "NO-SUCH-CIPHER-SHA999", NULL};
	expect_startup_error(ERR_LISTENER "certfile @F@/server.crt\nkeyfile @F@/server.key\n"
					  "ciphers ECDHE-ECDSA-AES128-GCM-SHA256:NO-SUCH-CIPHER-SHA999\n",
			     4, needles);
}
