/* The client side of TLS (tls_client_new, conn_tls_client_init), as a
 * bridge uses it: a real non-blocking socket to a real fleetmq's TLS
 * listener, driven the way a bridge's event loop drives it (write CONNECT
 * right after connect(), wait for what the transport asks for), CONNECT
 * and CONNACK through conn_writev and conn_read, and every way the
 * handshake must refuse a server: a chain to another CA, a name that does
 * not match (unless insecure), an expired certificate, a listener that
 * wants a client certificate we lack, a plain MQTT port. */
#include "tls.h"

#include "fleetmq/errors.h"
#include "net/tls.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <mbedtls/ssl.h> /* MBEDTLS_SSL_PROTO_TLS1_3 when this mbedtls has it */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- a bridge's connection in miniature ------------------------------------- */

struct bc {
	struct conn conn;
	struct buf out;       /* bytes conn_writev has not taken yet */
	struct buf in;        /* bytes conn_read returned, not yet framed */
	size_t last_frame;    /* bytes of the frame handed out last (consumed on the next) */
};

static struct tls_client *ctx_new(const struct tls_client_opts *o)
{
	struct tls_client *t = NULL;
	struct fm_errbuf eb = {{0}};
	int rc = tls_client_new(o, &t, &eb);
	cr_assert_eq(rc, FM_OK, "tls_client_new: %s (%s)", fm_strerror(rc), eb.msg);
	return t;
}

/* A context that trusts the fixture's CA and checks host names. */
static struct tls_client *ctx_default(void)
{
	struct tls_client_opts o = {.cafile = ca_file()};
	return ctx_new(&o);
}

/* A non-blocking socket connecting to 127.0.0.1:port (connect() may still
 * be in progress, as a bridge's is when it first writes). */
static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
	return fd;
}

/* Connect to port and wrap the socket as the TLS client for host. */
static void bc_open(struct bc *b, struct tls_client *t, const char *host, uint16_t port)
{
	memset(b, 0, sizeof(*b));
	buf_init(&b->out);
	buf_init(&b->in);
	int fd = tcp_connect(port);
	cr_assert_eq(conn_tls_client_init(&b->conn, fd, t, host), FM_OK);
	cr_assert(conn_handshaking(&b->conn), "a new client connection is not handshaking");
	cr_assert_str_eq(b->conn.ops->kind, "tls");
}

static void bc_close(struct bc *b)
{
	conn_close(&b->conn);
	buf_fini(&b->out);
	buf_fini(&b->in);
}

/* Write what conn_writev takes of b->out; FM_OK or its error. */
static ssize_t bc_flush(struct bc *b)
{
	while (buf_used(&b->out) > 0) {
		struct iovec iov = {.iov_base = buf_head(&b->out), .iov_len = buf_used(&b->out)};
		ssize_t n = conn_writev(&b->conn, &iov, 1);
		if (n == FM_EAGAIN)
			return FM_OK;
		if (n < 0)
			return n;
		cr_assert_gt(n, 0, "conn_writev wrote nothing without saying FM_EAGAIN");
		buf_consume(&b->out, (size_t)n);
	}
	return FM_OK;
}

/* Read until conn_read says FM_EAGAIN; FM_OK or its error. */
static ssize_t bc_fill(struct bc *b)
{
	for (;;) {
		uint8_t chunk[16384];
		ssize_t n = conn_read(&b->conn, chunk, sizeof(chunk));
		if (n == FM_EAGAIN)
			return FM_OK;
		if (n < 0)
			return n;
		cr_assert_eq(buf_append(&b->in, chunk, (size_t)n), FM_OK);
	}
}

/* One turn of a bridge's loop until b->in holds want bytes and b->out is
 * written: write, read, then wait for exactly what the transport asks for
 * (writability only when conn_wants_write says so, or when there are bytes
 * to write and no handshake in the way). FM_OK, the first error from
 * conn_read/conn_writev, or FM_EAGAIN after timeout_ms. */
static ssize_t bc_pump(struct bc *b, size_t want, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	for (;;) {
		ssize_t rc = bc_flush(b);
		if (rc == FM_OK)
			rc = bc_fill(b);
		if (rc != FM_OK)
			return rc;
		if (buf_used(&b->in) >= want && buf_used(&b->out) == 0)
			return FM_OK;
		struct pollfd p = {.fd = b->conn.fd, .events = POLLIN};
		if (conn_wants_write(&b->conn) || (buf_used(&b->out) > 0 && !conn_handshaking(&b->conn)))
			p.events |= POLLOUT;
		long left = end - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return FM_EAGAIN;
	}
}

/* The next whole packet (pumping for more bytes as needed); its frame is
 * valid until the next call. */
static void bc_expect(struct bc *b, uint8_t type, struct mqtt_frame *f)
{
	buf_consume(&b->in, b->last_frame);
	b->last_frame = 0;
	for (;;) {
		size_t consumed = 0;
		uint8_t reason = 0;
		int rc = mqtt_frame_parse(buf_head(&b->in), buf_used(&b->in), 0, f, &consumed, &reason);
		if (rc == FM_OK) {
			cr_assert_eq(f->type, type, "packet type %u, expected %u", f->type, type);
			b->last_frame = consumed;
			return;
		}
		cr_assert_eq(rc, FM_EAGAIN, "unframeable bytes from the broker");
		ssize_t got = bc_pump(b, buf_used(&b->in) + 1, 10000);
		cr_assert_eq(got, FM_OK, "waiting for packet type %u: %s (%s)", type, fm_strerror((int)got),
			     conn_error(&b->conn) ? conn_error(&b->conn) : "no detail");
	}
}

static struct mqtt_str str_of(const char *s)
{
	return (struct mqtt_str){.p = s, .len = (uint16_t)strlen(s)};
}

static void queue_connect(struct bc *b, const char *id)
{
	struct mqtt_connect c = {.version = MQTT_V311, .clean_start = true, .keepalive_s = 60, .client_id = str_of(id)};
	cr_assert_eq(mqtt_encode_connect(&b->out, &c), FM_OK);
}

/* CONNECT as a bridge writes it, right after connect(). None of it may
 * be taken before the handshake is done: FM_EAGAIN with the bytes left and
 * the handshake going on, unless this very call got to the end of it
 * (loopback is fast): then they are written, or it failed with FM_EIO and
 * a reason. Returns what conn_writev did. */
static ssize_t send_connect_early(struct bc *b, const char *id)
{
	queue_connect(b, id);
	struct iovec iov = {.iov_base = buf_head(&b->out), .iov_len = buf_used(&b->out)};
	ssize_t n = conn_writev(&b->conn, &iov, 1);
	if (n == FM_EAGAIN) {
		cr_assert(conn_handshaking(&b->conn), "FM_EAGAIN from a connection done with its handshake");
		cr_assert_null(conn_error(&b->conn));
	} else if (n > 0) {
		cr_assert_not(conn_handshaking(&b->conn), "bytes taken before the handshake was done");
		buf_consume(&b->out, (size_t)n);
	} else {
		cr_assert_eq(n, FM_EIO, "the first write gave %s", fm_strerror((int)n));
		cr_assert_not_null(conn_error(&b->conn));
	}
	return n;
}

/* CONNECT through the TLS client; asserts the CONNACK accepts it. */
static void bc_connect(struct bc *b, struct tls_client *t, const char *host, const char *id)
{
	bc_open(b, t, host, broker.port2);
	cr_assert_neq(send_connect_early(b, id), FM_EIO, "%s: %s", id, conn_error(&b->conn));
	struct mqtt_frame f;
	bc_expect(b, MQTT_CONNACK, &f);
	struct mqtt_connack ack;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_connack(&f, MQTT_V311, &ack, &reason), FM_OK);
	cr_assert_eq(ack.reason, 0, "CONNACK refused %s: 0x%02x", id, ack.reason);
	cr_assert_not(conn_handshaking(&b->conn));
	cr_assert_null(conn_error(&b->conn));
	cr_assert(log_has("client %s connected", id, 5000), "the broker did not log %s's connection", id);
}

/* The handshake to port as host must fail: FM_EIO from the transport (and
 * again on every later call), no CONNECT reaching the broker, and the
 * reason, which is returned (static buffer). */
static const char *bc_refused(struct tls_client *t, const char *host, uint16_t port, const char *id)
{
	static char why[256];
	struct bc b;
	bc_open(&b, t, host, port);
	ssize_t rc = send_connect_early(&b, id);
	if (rc != FM_EIO)
		rc = bc_pump(&b, 1, 10000);
	cr_assert_eq(rc, FM_EIO, "%s: the handshake did not fail with FM_EIO but %s", id, fm_strerror((int)rc));
	cr_assert_not_null(conn_error(&b.conn), "%s: a failed handshake without a reason", id);
	snprintf(why, sizeof(why), "%s", conn_error(&b.conn));
	uint8_t byte;
	cr_assert_eq(conn_read(&b.conn, &byte, 1), FM_EIO, "%s: read after the failure", id);
	struct iovec iov = {.iov_base = buf_head(&b.out), .iov_len = buf_used(&b.out)};
	cr_assert_eq(conn_writev(&b.conn, &iov, 1), FM_EIO, "%s: write after the failure", id);
	cr_assert_str_eq(conn_error(&b.conn), why, "%s: the reason changed", id);
	bc_close(&b);
	cr_assert_not(log_has("client %s connected", id, 200), "%s: the CONNECT got through", id);
	return why;
}

static void assert_has(const char *text, const char *needle)
{
	cr_assert(strstr(text, needle), "'%s' does not contain '%s'", text, needle);
}

/* A listening socket on 127.0.0.1 of our own (a server that never
 * answers); its port into *port. */
static int listen_local(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0 &&
		  getsockname(fd, (struct sockaddr *)&sa, &len) == 0, "listen: %s", strerror(errno));
	*port = ntohs(sa.sin_port);
	return fd;
}

/* What arrives on fd within quiet_ms of silence, into out; its length. */
static size_t read_all(int fd, uint8_t *out, size_t cap, int quiet_ms)
{
	size_t got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (got < cap && poll(&p, 1, quiet_ms) == 1) {
		ssize_t n = recv(fd, out + got, cap - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* openssl s_server (OpenSSL, as a remote mosquitto would speak it) with
 * server.crt on a free port and extra arguments; its pid once it accepts. */
static pid_t s_server(uint16_t port, const char *const *extra)
{
	/* -www: it answers HTTP and needs no stdin (at EOF it would hang up) */
	const char *argv[24] = {"openssl", "s_server", "-www", "-accept", port_str(port), "-naccept", "1",
				"-cert", fx("server.crt"), "-key", fx("server.key")};
	int n = 11;
	for (int i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	char dir[64], out[128], text[4096];
	own_dir(dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/s_server.out", dir);
	pid_t pid = spawn_cmd(argv, out, -1);
	text[0] = '\0';
	for (long end = now_ms() + 10000; now_ms() < end; sleep_ms(20)) {
		FILE *f = fopen(out, "r"); /* the child may not have made it yet */
		if (!f)
			continue;
		size_t len = fread(text, 1, sizeof(text) - 1, f);
		text[len] = '\0';
		fclose(f);
		if (strstr(text, "ACCEPT"))
			return pid;
	}
	cr_assert_fail("openssl s_server did not start: %s", text);
	return -1;
}

/* --- the handshake on the wire ------------------------------------------------ */

Test(tls, client_holds_our_bytes_until_the_handshake_and_sends_sni_for_names_only)
{
	uint16_t port;
	int lfd = listen_local(&port);
	struct tls_client *t = ctx_default();
	const char *hosts[] = {"localhost", "127.0.0.1"};
	for (int i = 0; i < 2; i++) {
		struct bc b;
		bc_open(&b, t, hosts[i], port);
		int sfd = accept(lfd, NULL, NULL);
		cr_assert_geq(sfd, 0, "accept: %s", strerror(errno));
		/* a server that does not answer: the first write starts the
		 * handshake, takes nothing and waits for the server */
		queue_connect(&b, "tlsc-held");
		size_t len = buf_used(&b.out);
		struct iovec iov = {.iov_base = buf_head(&b.out), .iov_len = len};
		cr_assert_eq(conn_writev(&b.conn, &iov, 1), FM_EAGAIN);
		cr_assert(conn_handshaking(&b.conn));
		cr_assert_not(conn_wants_write(&b.conn), "the ClientHello did not go out whole");
		uint8_t byte;
		cr_assert_eq(conn_read(&b.conn, &byte, 1), FM_EAGAIN);
		cr_assert_eq(conn_writev(&b.conn, &iov, 1), FM_EAGAIN);

		/* what reached the server: one record, a ClientHello, with SNI
		 * for a name and none for an address (RFC 6066) */
		uint8_t wire[4096];
		size_t n = read_all(sfd, wire, sizeof(wire), 300);
		cr_assert_geq(n, 6, "%zu bytes on the wire", n);
		cr_assert_eq(wire[0], 0x16, "not a handshake record");
		cr_assert_eq(wire[5], 0x01, "not a ClientHello");
		cr_assert_eq(n, 5u + (size_t)(wire[3] << 8 | wire[4]), "more than the ClientHello was sent");
		bool sni = memmem(wire, n, hosts[i], strlen(hosts[i])) != NULL;
		cr_assert_eq(sni, i == 0, "%s: SNI %s", hosts[i], sni ? "sent" : "missing");

		/* the server hangs up: a failure with a reason, not a hang */
		close(sfd);
		cr_assert_eq(bc_pump(&b, 1, 5000), FM_EIO);
		cr_assert_str_eq(conn_error(&b.conn), i == 0 ? "TLS handshake with localhost failed: the server closed "
							       "the connection before the handshake was done"
							     : "TLS handshake with 127.0.0.1 failed: the server closed "
							       "the connection before the handshake was done");
		bc_close(&b);
	}
	close(lfd);
	tls_client_unref(t);
}

/* --- getting in ------------------------------------------------------------- */

Test(tls, client_transport_carries_mqtt_through_a_real_handshake)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct tls_client *t = ctx_default();
	struct bc b;
	bc_connect(&b, t, "localhost", "tlsc-1");
	cr_assert(hb_log_contains(&broker, "TLS handshake with 127.0.0.1:", 0), "the broker logged no handshake");

	/* a message far larger than a record, both ways: SUBSCRIBE to
	 * ourselves, PUBLISH 300 KB, read the same bytes back */
	struct mqtt_sub_entry e = {.filter = str_of("tlsc/#"), .options = 0};
	cr_assert_eq(mqtt_encode_subscribe(&b.out, MQTT_V311, 7, &e, 1), FM_OK);
	struct mqtt_frame f;
	bc_expect(&b, MQTT_SUBACK, &f);
	enum { BIG = 300 * 1024 };
	uint8_t *payload = malloc(BIG);
	cr_assert_not_null(payload);
	fill_pattern(payload, BIG, 42);
	struct mqtt_publish p = {.topic = str_of("tlsc/big"), .payload = {.p = payload, .len = BIG}};
	cr_assert_eq(mqtt_encode_publish(&b.out, MQTT_V311, &p), FM_OK);
	bc_expect(&b, MQTT_PUBLISH, &f);
	struct mqtt_publish got;
	uint8_t reason;
	cr_assert_eq(mqtt_decode_publish(&f, MQTT_V311, &got, &reason), FM_OK);
	cr_assert_eq(got.topic.len, strlen("tlsc/big"));
	cr_assert_eq(got.payload.len, BIG);
	cr_assert_eq(fnv1a(got.payload.p, BIG), fnv1a(payload, BIG), "the payload came back changed");
	free(payload);

	bc_close(&b);
	tls_client_unref(t);
}

Test(tls, client_checks_an_address_against_the_certificates_ip_entries)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct tls_client *t = ctx_default();
	struct bc b;
	bc_connect(&b, t, "127.0.0.1", "tlsc-ip"); /* server.crt: IP:127.0.0.1 */
	bc_close(&b);
	const char *why = bc_refused(t, "127.0.0.2", broker.port2, "tlsc-ip2");
	assert_has(why, "TLS handshake with 127.0.0.2 failed: certificate verify failed: ");
	assert_has(why, "Common Name (CN) does not match");
	tls_client_unref(t);
}

/* --- refusals ------------------------------------------------------------------ */

Test(tls, client_refuses_a_server_from_another_ca)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct tls_client_opts o = {.cafile = fx("other_ca.crt")};
	struct tls_client *t = ctx_new(&o);
	const char *why = bc_refused(t, "localhost", broker.port2, "tlsc-ca");
	assert_has(why, "TLS handshake with localhost failed: certificate verify failed: ");
	assert_has(why, "not correctly signed by the trusted CA");
	tls_client_unref(t);
	/* the broker saw it fail (with the client's alert, unknown_ca, or its
	 * hang-up, whichever reached it first) */
	cr_assert(hb_log_contains(&broker, "closed: TLS handshake failed: the client ", 5000),
		  "the broker did not log the failed handshake");
}

Test(tls, client_checks_the_host_name_unless_insecure)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct tls_client_opts o = {.cafile = ca_file()};
	struct tls_client *t = ctx_new(&o);
	const char *why = bc_refused(t, "broker.example.com", broker.port2, "tlsc-name");
	assert_has(why, "TLS handshake with broker.example.com failed: certificate verify failed: ");
	assert_has(why, "Common Name (CN) does not match");
	tls_client_unref(t);

	/* bridge_insecure: the name no longer matters ... */
	o.insecure = true;
	t = ctx_new(&o);
	struct bc b;
	bc_connect(&b, t, "broker.example.com", "tlsc-insecure");
	bc_close(&b);
	bc_connect(&b, t, "127.0.0.2", "tlsc-insecure-ip");
	bc_close(&b);
	tls_client_unref(t);

	/* ... but the chain still does */
	o.cafile = fx("other_ca.crt");
	t = ctx_new(&o);
	why = bc_refused(t, "localhost", broker.port2, "tlsc-insecure-ca");
	assert_has(why, "not correctly signed by the trusted CA");
	tls_client_unref(t);
}

Test(tls, client_refuses_an_expired_server_certificate)
{
	tls_start(BASE_CONF "listener %PORT2% 127.0.0.1\ncertfile @F@/expired_server.crt\n"
			    "keyfile @F@/expired_server.key\n");
	struct tls_client_opts o = {.cafile = ca_file(), .insecure = true};
	struct tls_client *t = ctx_new(&o);
	const char *why = bc_refused(t, "localhost", broker.port2, "tlsc-expired");
	assert_has(why, "certificate verify failed: ");
	assert_has(why, "validity has expired");
	tls_client_unref(t);
}

Test(tls, client_presents_its_certificate_where_one_is_required)
{
	tls_start(BASE_CONF MTLS_LISTENER "use_identity_as_username true\n");
	struct tls_client_opts o = {.cafile = ca_file()};
	struct tls_client *t = ctx_new(&o);
	const char *why = bc_refused(t, "localhost", broker.port2, "tlsc-nocert");
	assert_has(why, "TLS handshake with localhost failed: the server ");
	assert_has(why, ": it asked for a client certificate and we have none");
	cr_assert(hb_log_contains(&broker, "No client certification received", 5000),
		  "the broker did not log the missing certificate");
	tls_client_unref(t);

	o.certfile = fx("client.crt");
	o.keyfile = fx("client.key");
	t = ctx_new(&o);
	struct bc b;
	bc_connect(&b, t, "localhost", "tlsc-cert");
	cr_assert(log_has("client %s connected", "tlsc-cert", 0));
	cr_assert(hb_log_contains(&broker, "user dev1", 0), "the broker did not take dev1 from our certificate");
	bc_close(&b);
	tls_client_unref(t);
}

Test(tls, client_to_a_plain_mqtt_port_fails_with_a_reason)
{
	tls_start(BASE_CONF TLS_LISTENER);
	struct tls_client *t = ctx_default();
	const char *why = bc_refused(t, "localhost", broker.port, "tlsc-plain");
	cr_assert_str_eq(why, "TLS handshake with localhost failed: the server closed the connection before the "
			      "handshake was done");
	tls_client_unref(t);
}

/* A remote on OpenSSL that wants a client certificate, or only TLS 1.3:
 * its alert, by name. */
Test(tls, client_names_the_alert_an_openssl_server_ends_the_handshake_with)
{
	struct tls_client *t = ctx_default();
	uint16_t port = hb_free_port();
	const char *mtls[] = {"-tls1_2", "-Verify", "1", "-CAfile", ca_file(), NULL};
	pid_t pid = s_server(port, mtls);
	const char *why = bc_refused(t, "localhost", port, "tlsc-s-server");
	/* the alert, unless the server's hang-up reached our last writes first */
	cr_assert(strcmp(why, "TLS handshake with localhost failed: the server sent alert handshake_failure (40): "
			      "it asked for a client certificate and we have none") == 0 ||
		  strcmp(why, "TLS handshake with localhost failed: the server closed the connection before the "
			      "handshake was done: it asked for a client certificate and we have none") == 0,
		  "%s", why);
	wait_cmd(pid, 2000);

	port = hb_free_port();
	const char *only13[] = {"-tls1_3", NULL};
	pid = s_server(port, only13);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	/* this mbedtls speaks 1.3: the handshake goes through, and the
	 * NewSessionTickets OpenSSL sends after it do not break reading */
	struct bc b;
	bc_open(&b, t, "localhost", port);
	const char get[] = "GET / HTTP/1.0\r\n\r\n";
	cr_assert_eq(buf_append(&b.out, get, sizeof(get) - 1), FM_OK);
	cr_assert_eq(bc_pump(&b, 12, 10000), FM_OK, "%s", conn_error(&b.conn) ? conn_error(&b.conn) : "timeout");
	cr_assert_eq(memcmp(buf_head(&b.in), "HTTP/1.0 200", 12), 0, "not s_server's answer");
	bc_close(&b);
#else
	why = bc_refused(t, "localhost", port, "tlsc-s-server13");
	cr_assert_str_eq(why, "TLS handshake with localhost failed: the server sent alert protocol_version (70)");
#endif
	wait_cmd(pid, 2000);
	tls_client_unref(t);
}

/* --- the context ------------------------------------------------------------------ */

Test(tls, client_lowest_version_tlsv1_3)
{
	struct tls_client_opts o = {.cafile = ca_file(), .tls_version = "tlsv1.3"};
	struct fm_errbuf eb = {{0}};
	struct tls_client *t = NULL;
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	tls_start(BASE_CONF TLS_LISTENER);
	cr_assert_eq(tls_client_new(&o, &t, &eb), FM_OK, "%s", eb.msg);
	struct bc b;
	bc_connect(&b, t, "localhost", "tlsc-13");
	cr_assert(hb_log_contains(&broker, "(TLSv1.3", 0), "not TLS 1.3");
	bc_close(&b);
	tls_client_unref(t);
#else
	/* this mbedtls has no TLS 1.3: asking for it as the minimum is a
	 * configuration error, not a bridge that can never connect */
	cr_assert_eq(tls_client_new(&o, &t, &eb), FM_ECONFIG);
	cr_assert_null(t);
	assert_has(eb.msg, "tls_version tlsv1.3: this mbedtls");
	assert_has(eb.msg, "has no TLS 1.3");
#endif
	o.tls_version = "tlsv1.0";
	cr_assert_eq(tls_client_new(&o, &t, &eb), FM_ECONFIG);
	assert_has(eb.msg, "'tlsv1.0' is not tlsv1.1, tlsv1.2 or tlsv1.3");
}

Test(tls, client_context_names_what_it_cannot_use)
{
	struct fm_errbuf eb = {{0}};
	struct tls_client *t = NULL;
	struct tls_client_opts none = {0};
	cr_assert_eq(tls_client_new(&none, &t, &eb), FM_ECONFIG);
	assert_has(eb.msg, "needs cafile or capath");

	struct tls_client_opts missing = {.cafile = "/nonexistent/ca.crt"};
	cr_assert_eq(tls_client_new(&missing, &t, &eb), FM_ECONFIG);
	assert_has(eb.msg, "cannot use cafile '/nonexistent/ca.crt'");

	struct tls_client_opts half = {.cafile = ca_file(), .certfile = fx("client.crt")};
	cr_assert_eq(tls_client_new(&half, &t, &eb), FM_ECONFIG);
	assert_has(eb.msg, "without keyfile");

	struct tls_client_opts wrong_key = {.cafile = ca_file(), .certfile = fx("client.crt"), .keyfile = fx("server.key")};
	cr_assert_eq(tls_client_new(&wrong_key, &t, &eb), FM_ECONFIG);
	assert_has(eb.msg, "is not the key of certfile");
	cr_assert_null(t);

	/* capath alone is enough (a directory of CA certificates) */
	char dir[64], path[128];
	own_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	install_file(ca_file(), path);
	struct tls_client_opts ok = {.capath = dir};
	t = ctx_new(&ok);
	tls_start(BASE_CONF TLS_LISTENER);
	struct bc b;
	bc_connect(&b, t, "localhost", "tlsc-capath");
	bc_close(&b);

	/* reference counted, and a host name longer than TLS allows is
	 * refused with the socket left to the caller */
	tls_client_ref(t);
	char host[300];
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	int fds[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	struct conn c = {0};
	cr_assert_eq(conn_tls_client_init(&c, fds[0], t, host), FM_EINVAL);
	cr_assert_null(c.ops, "a refused init touched the conn");
	cr_assert_eq(write(fds[0], "x", 1), 1, "the fd was closed");
	close(fds[0]);
	close(fds[1]);
	tls_client_unref(t);
	tls_client_unref(t); /* the last one frees it (ASan would see a leak or a double free) */
}
