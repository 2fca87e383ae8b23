/* TLS listeners (mbedtls) against real TLS clients: mosquitto_pub and
 * mosquitto_sub, libmosquitto (OpenSSL underneath) and `openssl s_client`.
 * Certificates as identities, refused handshakes (each with a canary on the
 * plain listener that must not notice), PSK, protocol versions, cipher
 * suites and session resumption. Reloads, large messages and startup
 * errors are in tls_more_test.c; the helpers in tls_common.c (tls.h). */
#include "tls.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- server-only TLS ------------------------------------------------------ */

Test(tls, mosquitto_cli_over_tls_and_a_plain_client_exchange_messages)
{
	tls_start(BASE_CONF TLS_LISTENER);
	char line[128];
	snprintf(line, sizeof(line), "listening on 127.0.0.1:%u (mqtt, tls)", broker.port2);
	cr_assert(hb_log_contains(&broker, line, 2000), "no '%s' in the log", line);

	const char *tls[] = {"--cafile", ca_file(), NULL};
	char sub_out[160], out[1024];
	pid_t sub = cli_sub(tls, broker.port2, "tls-sub", "tls/#", 2, sub_out, sizeof(sub_out));
	cr_assert(hb_log_contains(&broker, "TLS handshake with 127.0.0.1:", 0), "no handshake logged");
	cr_assert(hb_log_contains(&broker, "done (TLSv1.2, ", 0), "handshake not logged as TLSv1.2");
	cr_assert(log_has("client %s connected from 127.0.0.1:", "tls-sub", 0));

	struct raw plain, ppub;
	raw_connect_simple(&plain, broker.port, "plain-sub");
	cr_assert_eq(raw_subscribe(&plain, 1, "tls/#", 1), 1);
	raw_connect_simple(&ppub, broker.port, "plain-pub");
	raw_publish(&ppub, "tls/from-plain", "over tcp", 1, false, 1);
	cr_assert_eq(raw_expect_ack(&ppub, MQTT_PUBACK), 1, "PUBACK for the plain publish [MQTT-4.3.2-2]");
	cr_assert_eq(cli_pub(tls, broker.port2, "tls-pub", "tls/from-tls", "over tls"), 0,
		     "mosquitto_pub over TLS failed");

	cr_assert_eq(wait_cmd(sub, 15000), 0, "mosquitto_sub over TLS did not get both messages");
	read_text(sub_out, out, sizeof(out));
	/* the second was published after the first's PUBACK: per-topic order
	 * is all that is promised [MQTT-4.6.0-6], so look for each line */
	cr_assert(strstr(out, "tls/from-plain over tcp\n"), "TLS subscriber output: %s", out);
	cr_assert(strstr(out, "tls/from-tls over tls\n"), "TLS subscriber output: %s", out);

	bool got_plain = false, got_tls = false;
	for (int i = 0; i < 2; i++) {
		struct mqtt_publish p;
		raw_expect_publish(&plain, &p);
		if (p.topic.len == 14 && memcmp(p.topic.p, "tls/from-plain", 14) == 0) {
			raw_assert_publish(&p, "tls/from-plain", "over tcp");
			got_plain = true;
		} else {
			raw_assert_publish(&p, "tls/from-tls", "over tls");
			got_tls = true;
		}
		if (p.qos == 1)
			raw_ack(&plain, MQTT_PUBACK, p.packet_id);
	}
	cr_assert(got_plain && got_tls, "the plain subscriber missed a message");
	raw_close(&plain);
	raw_close(&ppub);
}

/* A server certificate from an intermediate CA, sent with the intermediate
 * (certfile holds both): clients that trust the root only accept it. */
Test(tls, server_certificate_chain_through_an_intermediate_ca)
{
	tls_start(BASE_CONF "listener %PORT2% 127.0.0.1\ncertfile @F@/chain_server.crt\nkeyfile @F@/chain_server.key\n");
	char out[16384];
	cr_assert_eq(s_client(broker.port2, NULL, out, sizeof(out)), 0, "s_client: %s", out);
	cr_assert(strstr(out, "fleetmq intermediate CA"), "the intermediate was not sent: %s", out);
	const char *tls[] = {"--cafile", ca_file(), NULL};
	cr_assert_eq(cli_pub(tls, broker.port2, "chain-pub", "chain/x", "x"), 0, "mosquitto_pub refused the chain");
}

/* Two TLS listeners, each with its own certificate: each serves its own. */
Test(tls, each_tls_listener_serves_its_own_certificate)
{
	tls_start("log_type all\nallow_anonymous true\n"
	      "listener %PORT% 127.0.0.1\ncertfile @F@/server.crt\nkeyfile @F@/server.key\n"
	      "listener %PORT2% 127.0.0.1\ncertfile @F@/server2.crt\nkeyfile @F@/server2.key\n");
	char pem[4096], pem2[4096], out[16384];
	first_cert_pem(fx("server.crt"), pem, sizeof(pem));
	first_cert_pem(fx("server2.crt"), pem2, sizeof(pem2));
	cr_assert_eq(s_client(broker.port, NULL, out, sizeof(out)), 0, "s_client to %%PORT%%: %s", out);
	cr_assert(strstr(out, pem) && !strstr(out, pem2), "the first listener does not serve server.crt");
	cr_assert_eq(s_client(broker.port2, NULL, out, sizeof(out)), 0, "s_client to %%PORT2%%: %s", out);
	cr_assert(strstr(out, pem2) && !strstr(out, pem), "the second listener does not serve server2.crt");
}

/* --- client certificates as identities ------------------------------------ */

Test(tls, client_certificate_cn_is_the_username_with_allow_anonymous_false)
{
	tls_start("log_type all\nallow_anonymous false\nlistener %PORT% 127.0.0.1\n" MTLS_LISTENER
	      "use_identity_as_username true\n");
	struct tc c;
	struct tc_opts o = cert_client("cert-dev1", "client");
	tc_open(&c, &o);
	cr_assert(hb_log_contains(&broker, "client cert-dev1 connected from 127.0.0.1:", 3000));
	cr_assert(hb_log_contains(&broker, ", user dev1)", 0), "the certificate's CN is not the username");
	/* the identity works as a client: a message to itself comes back */
	tc_subscribe(&c, "id/#", 1);
	cr_assert_eq(mosquitto_publish(c.m, NULL, "id/echo", 2, "hi", 1, false), MOSQ_ERR_SUCCESS);
	struct tc *one[] = {&c};
	cr_assert(pump_until(one, 1, &c.received, 1, 5000), "no echo");
	cr_assert_str_eq(c.topic, "id/echo");
	tc_close(&c);

	/* without a username, the plain listener is closed to it
	 * [MQTT-3.2.2-5] (CONNACK 5, not authorized) */
	struct raw r;
	struct raw_connect_opts ro = {.client_id = "anon", .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &ro, NULL), MQTT_CONNACK_NOT_AUTHORIZED,
		     "allow_anonymous false is not in force");
	raw_close(&r);
}

Test(tls, client_certificate_cn_replaces_the_username_sent_in_connect)
{
	tls_start(BASE_CONF MTLS_LISTENER "use_identity_as_username true\n");
	struct tc c;
	struct tc_opts o = cert_client("cert-mallory", "client");
	o.username = "mallory";
	o.password = "secret";
	tc_open(&c, &o);
	cr_assert(hb_log_contains(&broker, "client cert-mallory connected from 127.0.0.1:", 3000));
	cr_assert(hb_log_contains(&broker, ", user dev1)", 0),
		  "use_identity_as_username: the CONNECT username was not replaced by the CN");
	cr_assert_not(hb_log_contains(&broker, "user mallory", 0), "the CONNECT username was kept");
	tc_close(&c);
}

Test(tls, client_certificate_subject_is_the_username_in_rfc2253_form)
{
	tls_start("log_type all\nallow_anonymous false\nlistener %PORT% 127.0.0.1\n" MTLS_LISTENER
	      "use_subject_as_username true\n");
	struct tc c;
	struct tc_opts o = cert_client("cert-subject", "client");
	tc_open(&c, &o);
	cr_assert(hb_log_contains(&broker, "client cert-subject connected from 127.0.0.1:", 3000));
	cr_assert(hb_log_contains(&broker, ", user CN=dev1,O=Fleet,C=DE)", 0),
		  "the username is not the subject DN in RFC 2253 form (CN=dev1,O=Fleet,C=DE)");
	tc_close(&c);
}

/* A client certificate from an intermediate CA, sent with the intermediate
 * (libmosquitto sends the whole certfile): the broker trusts the root only. */
Test(tls, client_certificate_chain_through_an_intermediate_ca)
{
	tls_start("log_type all\nallow_anonymous false\nlistener %PORT% 127.0.0.1\n" MTLS_LISTENER
	      "use_identity_as_username true\n");
	struct tc c;
	struct tc_opts o = cert_client("chain-dev2", "chain_client");
	tc_open(&c, &o);
	cr_assert(hb_log_contains(&broker, "client chain-dev2 connected from 127.0.0.1:", 3000));
	cr_assert(hb_log_contains(&broker, ", user dev2)", 0), "the leaf's CN is not the username");
	tc_close(&c);
}

/* What mosquitto makes of a subject that needs escaping (OpenSSL's
 * XN_FLAG_RFC2253, which `openssl x509 -nameopt RFC2253` prints too): ACL
 * files written for mosquitto name users that way. */
Test(tls, subject_username_is_escaped_as_openssl_writes_rfc2253)
{
	tls_start("log_type all\nallow_anonymous false\nlistener %PORT% 127.0.0.1\n" MTLS_LISTENER
	      "use_subject_as_username true\n");
	char out[1024], want[1100];
	const char *argv[] = {"openssl", "x509", "-in", fx("tricky.crt"), "-noout", "-subject", "-nameopt", "RFC2253",
			      NULL};
	cr_assert_eq(run_cmd(argv, out, sizeof(out), 5000), 0, "openssl x509: %s", out);
	cr_assert(strncmp(out, "subject=", 8) == 0, "openssl x509: %s", out);
	out[strcspn(out, "\n")] = '\0';
	snprintf(want, sizeof(want), ", user %s)", out + 8);
	struct tc c;
	struct tc_opts o = cert_client("cert-tricky", "tricky");
	tc_open(&c, &o);
	cr_assert(hb_log_contains(&broker, "client cert-tricky connected from 127.0.0.1:", 3000));
	cr_assert(hb_log_contains(&broker, want, 0), "no '%s' in the log", want);
	tc_close(&c);
}

/* With use_identity_as_username the certificate is the only source of a
 * username: a client without one (require_certificate false: none is asked
 * for) is refused even when it sends a username, as mosquitto does, or
 * anybody could claim to be dev1. */
Test(tls, no_certificate_means_no_username_with_use_identity_as_username)
{
	tls_start(BASE_CONF TLS_LISTENER "cafile @F@/ca.crt\nrequire_certificate false\nuse_identity_as_username true\n");
	struct tc c;
	struct tc_opts o = {.id = "claims-dev1", .cafile = ca_file(), .username = "dev1", .password = "x"};
	bool in = tc_connect(&c, &o);
	bool seen = c.connack_seen;
	int rc = c.connack_rc;
	tc_close(&c);
	cr_assert_not(in, "a client without a certificate got in as the username it sent");
	cr_assert(seen, "the TLS handshake itself failed (require_certificate is false)");
	cr_assert(rc == 4 || rc == 5, "CONNACK %d, expected 4 or 5 (refused)", rc);
	cr_assert_not(hb_log_contains(&broker, "user dev1", 0), "the CONNECT username was used");
}

/* --- refusals --------------------------------------------------------------- */

Test(tls, client_certificate_from_another_ca_is_refused)
{
	tls_start(BASE_CONF MTLS_LISTENER);
	struct raw canary;
	canary_open(&canary);
	struct tc_opts o = cert_client("rogue", "rogue");
	expect_refused(&o, "a certificate from other_ca", "trusted CA");
	canary_check(&canary, "a rogue certificate");
	raw_close(&canary);
}

Test(tls, expired_client_certificate_is_refused)
{
	tls_start(BASE_CONF MTLS_LISTENER);
	struct raw canary;
	canary_open(&canary);
	struct tc_opts o = cert_client("expired", "expired");
	expect_refused(&o, "an expired certificate", "expired");
	canary_check(&canary, "an expired certificate");
	raw_close(&canary);
}

Test(tls, revoked_client_certificate_is_refused_with_crlfile)
{
	tls_start(BASE_CONF MTLS_LISTENER "crlfile @F@/crl.pem\n");
	struct raw canary;
	canary_open(&canary);
	struct tc_opts o = cert_client("revoked", "revoked");
	expect_refused(&o, "a revoked certificate", "revoked");
	canary_check(&canary, "a revoked certificate");
	/* the CRL lets the others through */
	struct tc good;
	struct tc_opts go = cert_client("not-revoked", "client");
	tc_open(&good, &go);
	tc_close(&good);
	raw_close(&canary);
}

Test(tls, no_client_certificate_is_refused_with_require_certificate)
{
	tls_start(BASE_CONF MTLS_LISTENER);
	struct raw canary;
	canary_open(&canary);
	struct tc_opts o = {.id = "no-cert", .cafile = ca_file()};
	expect_refused(&o, "no client certificate", "client cert");
	canary_check(&canary, "no client certificate");
	raw_close(&canary);
}

Test(tls, plain_mqtt_connect_on_the_tls_port_is_closed)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct raw canary;
	canary_open(&canary);
	/* a 3.1.1 CONNECT, client id "plain", as a client without TLS sends it */
	static const uint8_t connect[] = {0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
					  0x3c, 0x00, 0x05, 'p',  'l',  'a', 'i', 'n'};
	struct raw r;
	raw_open(&r, broker.port2);
	raw_send(&r, connect, sizeof(connect));
	int first;
	cr_assert_neq(closed_within(r.fd, 3000, &first), -1, "a plain CONNECT on the TLS port was not closed");
	cr_assert_neq(first, MQTT_CONNACK << 4, "a plain CONNECT on the TLS port got a CONNACK");
	raw_close(&r);
	cr_assert(hb_log_contains(&broker, "closed: TLS handshake failed: ", 3000),
		  "no 'TLS handshake failed' in the log");
	cr_assert_not(hb_log_contains(&broker, "client plain connected", 0));
	canary_check(&canary, "a plain CONNECT on the TLS port");
	raw_close(&canary);
}

/* MQTT 3.1.1 §3.1 (non-normative): a Server that gets no CONNECT within a
 * reasonable time after the Network Connection is established SHOULD close
 * it. Over TLS the connection is established before the handshake, so
 * connect_timeout bounds the handshake as well: silence, half a record and a
 * finished handshake with nothing after it are all closed after 1 s. */
Test(tls, silent_and_stalled_tls_connections_are_closed_after_connect_timeout)
{
	tls_start(BASE_CONF "connect_timeout 1\n" TLS_LISTENER);
	struct raw canary;
	canary_open(&canary);

	struct raw silent, half;
	raw_open(&silent, broker.port2);
	raw_open(&half, broker.port2);
	/* a handshake record header announcing 512 bytes, then nothing */
	static const uint8_t header[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
	raw_send(&half, header, sizeof(header));

	/* s_client with stdin held open: it finishes the handshake, then waits */
	int in[2];
	cr_assert_eq(pipe(in), 0);
	char target[32], sc_out[160];
	snprintf(target, sizeof(target), "127.0.0.1:%u", broker.port2);
	const char *argv[] = {"openssl", "s_client", "-connect", target, "-CAfile", fx("ca.crt"), NULL};
	out_path_new(sc_out, sizeof(sc_out));
	long sc_start = now_ms();
	pid_t sc = spawn_cmd(argv, sc_out, in[0]);
	close(in[0]);

	int first;
	long t = closed_within(silent.fd, 4000, &first);
	cr_assert_neq(t, -1, "a silent connection to the TLS port was not closed within 4 s");
	cr_assert_geq(t, 800, "a silent connection was closed after %ld ms, before connect_timeout 1", t);
	t = closed_within(half.fd, 4000, &first);
	cr_assert_neq(t, -1, "half a ClientHello was not closed within 4 s");
	int rc = wait_cmd(sc, 5000);
	long sc_ms = now_ms() - sc_start;
	close(in[1]);
	char out[16384];
	read_text(sc_out, out, sizeof(out));
	cr_assert_neq(rc, -1, "a TLS connection without CONNECT was not closed within 5 s");
	cr_assert(strstr(out, "Verify return code: 0 (ok)"), "s_client's handshake failed: %s", out);
	cr_assert_geq(sc_ms, 800, "the connection was closed after %ld ms, before connect_timeout 1", sc_ms);
	cr_assert(hb_log_contains(&broker, "connect_timeout", 0), "the timeout is not logged as such");
	raw_close(&silent);
	raw_close(&half);
	canary_check(&canary, "stalled TLS connections");
	raw_close(&canary);
}

/* capath: every CA in the directory is trusted (here made the way OpenSSL
 * wants it, with `openssl rehash` links). */
Test(tls, capath_trusts_each_ca_in_the_directory)
{
	char dir[64], conf[1024], path[128], cmd[512];
	own_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	install_file(fx("ca.crt"), path);
	snprintf(path, sizeof(path), "%s/other_ca.crt", dir);
	install_file(fx("other_ca.crt"), path);
	snprintf(cmd, sizeof(cmd), "openssl rehash '%s' >/dev/null 2>&1", dir);
	cr_assert_eq(system(cmd), 0, "openssl rehash failed");
	snprintf(conf, sizeof(conf), "%s%scapath %s\nrequire_certificate true\nuse_identity_as_username true\n",
		 BASE_CONF, TLS_LISTENER, dir);
	tls_start(conf);
	struct tc c;
	struct tc_opts o = cert_client("from-ca", "client");
	tc_open(&c, &o);
	tc_close(&c);
	o = cert_client("from-other-ca", "rogue");
	tc_open(&c, &o);
	tc_close(&c);
	o = cert_client("expired-capath", "expired");
	expect_refused(&o, "an expired certificate (capath)", "expired");
}

/* A client asking to renegotiate (s_client's R command) is turned down or
 * dropped; either way the broker carries on. */
Test(tls, client_renegotiation_does_not_disturb_the_broker)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct raw canary;
	canary_open(&canary);
	int in[2];
	cr_assert_eq(pipe(in), 0);
	char target[32], out_path[160], out[16384];
	snprintf(target, sizeof(target), "127.0.0.1:%u", broker.port2);
	const char *argv[] = {"openssl", "s_client", "-connect", target, "-CAfile", ca_file(), "-tls1_2", NULL};
	out_path_new(out_path, sizeof(out_path));
	pid_t sc = spawn_cmd(argv, out_path, in[0]);
	close(in[0]);
	cr_assert(hb_log_contains(&broker, "TLS handshake with 127.0.0.1:", 5000), "no handshake");
	cr_assert_eq(write(in[1], "R\n", 2), 2);
	sleep_ms(300);
	close(in[1]);
	int rc = wait_cmd(sc, 5000);
	read_text(out_path, out, sizeof(out));
	cr_assert_neq(rc, -1, "s_client did not end: %s", out);
	canary_check(&canary, "a renegotiation request");
	raw_close(&canary);
}

/* --- PSK -------------------------------------------------------------------- */

Test(tls, psk_clients_exchange_messages_with_mosquitto_cli)
{
	tls_start("psk_file @F@/psk.txt\n" BASE_CONF "listener %PORT2% 127.0.0.1\npsk_hint fleetmq\n");
	char key[80], sub_out[160], out[1024];
	psk_key("dev-psk", key, sizeof(key));
	const char *psk[] = {"--psk", key, "--psk-identity", "dev-psk", NULL};
	pid_t sub = cli_sub(psk, broker.port2, "psk-sub", "psk/#", 2, sub_out, sizeof(sub_out));
	cr_assert(hb_log_contains(&broker, "TLS handshake with 127.0.0.1:", 0), "no handshake logged");
	cr_assert_eq(cli_pub(psk, broker.port2, "psk-pub", "psk/a", "pre-shared"), 0, "mosquitto_pub over PSK failed");
	struct raw ppub;
	raw_connect_simple(&ppub, broker.port, "plain-pub");
	raw_publish(&ppub, "psk/b", "plain", 1, false, 1);
	cr_assert_eq(raw_expect_ack(&ppub, MQTT_PUBACK), 1);
	raw_close(&ppub);
	cr_assert_eq(wait_cmd(sub, 15000), 0, "mosquitto_sub over PSK did not get both messages");
	read_text(sub_out, out, sizeof(out));
	cr_assert(strstr(out, "psk/a pre-shared\n") && strstr(out, "psk/b plain\n"), "PSK subscriber output: %s", out);
}

/* per_listener_settings: the PSK listener has its own psk_file and is closed
 * to anonymous clients; the identity is the username. */
Test(tls, psk_identity_is_the_username_and_a_wrong_key_is_refused)
{
	tls_start("log_type all\nper_listener_settings true\n"
	      "listener %PORT% 127.0.0.1\nallow_anonymous true\n"
	      "listener %PORT2% 127.0.0.1\nallow_anonymous false\npsk_hint fleetmq\n"
	      "psk_file @F@/psk.txt\nuse_identity_as_username true\n");
	struct raw canary;
	canary_open(&canary);
	char key[80], key2[80];
	psk_key("dev-psk", key, sizeof(key));
	psk_key("dev-psk2", key2, sizeof(key2));

	const char *good[] = {"--psk", key, "--psk-identity", "dev-psk", NULL};
	cr_assert_eq(cli_pub(good, broker.port2, "psk-ok", "psk/x", "in"), 0, "the right PSK was refused");
	cr_assert(hb_log_contains(&broker, "client psk-ok connected from 127.0.0.1:", 2000));
	cr_assert(hb_log_contains(&broker, ", user dev-psk)", 0), "the PSK identity is not the username");

	/* dev-psk2's key under the identity dev-psk */
	const char *wrong[] = {"--psk", key2, "--psk-identity", "dev-psk", NULL};
	cr_assert_neq(cli_pub(wrong, broker.port2, "psk-wrong", "psk/x", "in"), 0, "a wrong PSK was accepted");
	cr_assert(hb_log_contains(&broker, "closed: TLS handshake failed: ", 3000));
	cr_assert_not(hb_log_contains(&broker, "client psk-wrong connected", 0));
	canary_check(&canary, "a wrong PSK");

	const char *unknown[] = {"--psk", key, "--psk-identity", "nobody", NULL};
	cr_assert_neq(cli_pub(unknown, broker.port2, "psk-nobody", "psk/x", "in"), 0,
		      "an unknown PSK identity was accepted");
	cr_assert_not(hb_log_contains(&broker, "client psk-nobody connected", 0));
	canary_check(&canary, "an unknown PSK identity");
	raw_close(&canary);
}

/* --- versions and ciphers ------------------------------------------------- */

Test(tls, tls_1_1_is_refused_and_tls_1_2_accepted)
{
	tls_start(BASE_CONF TLS_LISTENER);
	char out[16384];
	const char *v11[] = {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", NULL};
	cr_assert_neq(s_client(broker.port2, v11, out, sizeof(out)), 0, "TLS 1.1 was accepted: %s", out);
	cr_assert(hb_log_contains(&broker, "closed: TLS handshake failed: ", 3000), "the broker logged no refusal");
	const char *v12[] = {"-tls1_2", NULL};
	cr_assert_eq(s_client(broker.port2, v12, out, sizeof(out)), 0, "TLS 1.2 failed: %s", out);
	cr_assert(strstr(out, "New, TLSv1.2, Cipher is "), "s_client: %s", out);
}

Test(tls, tls_version_and_ciphers_restrict_the_handshake)
{
	/* one IANA (mbedtls) name and one OpenSSL name; -tls1_2 in s_client
	 * because -cipher only governs TLS 1.2 suites */
	tls_start(BASE_CONF TLS_LISTENER "tls_version tlsv1.2\n"
	      "ciphers TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305\n");
	char out[16384];
	const char *aes256[] = {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", NULL};
	cr_assert_eq(s_client(broker.port2, aes256, out, sizeof(out)), 0, "a listed suite failed: %s", out);
	cr_assert(strstr(out, "Cipher is ECDHE-ECDSA-AES256-GCM-SHA384"), "s_client: %s", out);
	const char *chacha[] = {"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305", NULL};
	cr_assert_eq(s_client(broker.port2, chacha, out, sizeof(out)), 0, "a listed suite failed: %s", out);
	cr_assert(strstr(out, "Cipher is ECDHE-ECDSA-CHACHA20-POLY1305"), "s_client: %s", out);
	const char *aes128[] = {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", NULL};
	cr_assert_neq(s_client(broker.port2, aes128, out, sizeof(out)), 0, "a suite not listed was accepted: %s", out);
	cr_assert(hb_log_contains(&broker, "closed: TLS handshake failed: ", 3000));
}

/* --- session resumption ------------------------------------------------------ */

Test(tls, a_session_is_resumed_by_openssl_s_client)
{
	tls_start(BASE_CONF TLS_LISTENER);
	char sess[160], out[16384];
	snprintf(sess, sizeof(sess), "%s/session.pem", broker.dir);
	const char *save[] = {"-tls1_2", "-sess_out", sess, NULL};
	cr_assert_eq(s_client(broker.port2, save, out, sizeof(out)), 0, "first handshake: %s", out);
	cr_assert(strstr(out, "New, TLSv1.2"), "first handshake: %s", out);
	const char *resume[] = {"-tls1_2", "-sess_in", sess, NULL};
	cr_assert_eq(s_client(broker.port2, resume, out, sizeof(out)), 0, "second handshake: %s", out);
	cr_assert(strstr(out, "Reused, TLSv1.2"), "the session was not resumed: %s", out);
}
