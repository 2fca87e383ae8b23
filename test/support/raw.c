#include "raw.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void raw_open(struct raw *r, uint16_t port)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->in);
	buf_init(&r->out);
	r->version = MQTT_V311;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(r->fd >= 0);
	int one = 1;
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(connect(r->fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s", strerror(errno));
}

void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	buf_fini(&r->in);
	buf_fini(&r->out);
}

void raw_send(struct raw *r, const void *p, size_t n)
{
	const uint8_t *c = p;
	while (n > 0) {
		ssize_t w = send(r->fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		/* a broker that already closed us may reset the connection; the
		 * test then sees the close on its next receive */
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

/* Send what the helpers below encoded into r->out. */
static void raw_send_out(struct raw *r)
{
	raw_send_buf(r, &r->out);
}

void raw_send_buf(struct raw *r, struct buf *b)
{
	raw_send(r, buf_head(b), buf_used(b));
	buf_consume(b, buf_used(b));
}

static int fill(struct raw *r, int timeout_ms)
{
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
	int n = poll(&pfd, 1, timeout_ms);
	if (n == 0)
		return FM_EAGAIN;
	cr_assert(buf_reserve(&r->in, 65536) == FM_OK);
	ssize_t got = recv(r->fd, buf_tail(&r->in), buf_room(&r->in), 0);
	if (got <= 0)
		return FM_ECLOSED;
	r->in.len += (size_t)got;
	return FM_OK;
}

int raw_recv(struct raw *r, struct mqtt_frame *f, int timeout_ms)
{
	buf_consume(&r->in, r->last_consumed);
	r->last_consumed = 0;
	for (;;) {
		size_t consumed;
		uint8_t reason;
		int rc = mqtt_frame_parse(buf_head(&r->in), buf_used(&r->in), 0, f, &consumed, &reason);
		if (rc == FM_OK) {
			r->last_consumed = consumed;
			return FM_OK;
		}
		cr_assert_eq(rc, FM_EAGAIN, "broker sent a malformed packet");
		rc = fill(r, timeout_ms);
		if (rc != FM_OK)
			return rc;
	}
}

void raw_expect(struct raw *r, uint8_t type, struct mqtt_frame *f)
{
	int rc = raw_recv(r, f, RAW_TIMEOUT_MS);
	cr_assert_eq(rc, FM_OK, "expected packet type %u, got %s", type,
		     rc == FM_ECLOSED ? "connection closed" : "nothing (timeout)");
	cr_assert_eq(f->type, type, "expected packet type %u, got %u", type, f->type);
}

bool raw_closed_within(struct raw *r, int timeout_ms, uint8_t *last_type)
{
	struct mqtt_frame f;
	int rc;
	while ((rc = raw_recv(r, &f, timeout_ms)) == FM_OK)
		if (last_type)
			*last_type = f.type;
	return rc == FM_ECLOSED;
}

bool raw_silent(struct raw *r, int quiet_ms)
{
	struct mqtt_frame f;
	return raw_recv(r, &f, quiet_ms) == FM_EAGAIN;
}

static struct mqtt_str str_of(const char *s)
{
	return (struct mqtt_str){s ? s : "", s ? (uint16_t)strlen(s) : 0};
}

static struct mqtt_bin bin_of(const char *s)
{
	return (struct mqtt_bin){(const uint8_t *)(s ? s : ""), s ? (uint32_t)strlen(s) : 0};
}

void raw_connect_send(struct raw *r, uint16_t port, const struct raw_connect_opts *o)
{
	raw_open(r, port);
	r->version = o->version ? o->version : MQTT_V311;
	struct mqtt_connect c = {
		.version = r->version,
		.clean_start = o->clean,
		.keepalive_s = o->keepalive,
		.client_id = str_of(o->client_id),
		.has_username = o->username != NULL,
		.username = str_of(o->username),
		.has_password = o->password != NULL,
		.password = bin_of(o->password),
		.will_flag = o->will_topic != NULL,
		.will_topic = str_of(o->will_topic),
		.will_payload = bin_of(o->will_payload),
		.will_qos = o->will_qos,
		.will_retain = o->will_retain,
		.props = o->props,
		.will_props = o->will_props,
	};
	cr_assert(mqtt_encode_connect(&r->out, &c) == FM_OK);
	raw_send_out(r);
}

int raw_connect(struct raw *r, uint16_t port, const struct raw_connect_opts *o, bool *session_present)
{
	raw_connect_send(r, port, o);
	struct mqtt_frame f;
	raw_expect(r, MQTT_CONNACK, &f);
	struct mqtt_connack ack;
	uint8_t reason;
	cr_assert(mqtt_decode_connack(&f, r->version, &ack, &reason) == FM_OK, "undecodable CONNACK");
	if (o->connack_props)
		mqtt_props_read(ack.props, o->connack_props);
	if (session_present)
		*session_present = ack.session_present;
	return ack.reason;
}

void raw_connect_simple(struct raw *r, uint16_t port, const char *client_id)
{
	struct raw_connect_opts o = {.client_id = client_id, .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(r, port, &o, NULL), 0, "CONNECT of %s refused", client_id);
}

uint8_t raw_subscribe(struct raw *r, uint16_t packet_id, const char *filter, uint8_t qos)
{
	struct mqtt_sub_entry e = {.filter = str_of(filter), .options = qos};
	cr_assert(mqtt_encode_subscribe(&r->out, r->version, packet_id, &e, 1) == FM_OK);
	raw_send_out(r);
	struct mqtt_frame f;
	raw_expect(r, MQTT_SUBACK, &f);
	struct mqtt_suback s;
	uint8_t reason;
	cr_assert(mqtt_decode_suback(&f, r->version, &s, &reason) == FM_OK);
	cr_assert_eq(s.packet_id, packet_id, "SUBACK packet id [MQTT-3.8.4-2]");
	cr_assert_eq(s.codes.len, 1);
	return s.codes.p[0];
}

void raw_park(uint16_t port, const char *client_id, const char *filter, uint8_t qos)
{
	struct raw r;
	struct raw_connect_opts o = {.client_id = client_id, .clean = false, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, port, &o, NULL), 0, "%s: CONNECT refused", client_id);
	cr_assert_eq(raw_subscribe(&r, 1, filter, qos), qos, "%s: SUBSCRIBE %s refused", client_id, filter);
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&r, disconnect, sizeof(disconnect));
	cr_assert(raw_closed_within(&r, 2000, NULL), "%s: not closed after DISCONNECT", client_id);
	raw_close(&r);
}

void raw_unsubscribe(struct raw *r, uint16_t packet_id, const char *filter)
{
	struct mqtt_sub_entry e = {.filter = str_of(filter)};
	cr_assert(mqtt_encode_unsubscribe(&r->out, r->version, packet_id, &e, 1) == FM_OK);
	raw_send_out(r);
	struct mqtt_frame f;
	raw_expect(r, MQTT_UNSUBACK, &f);
	cr_assert(f.remaining_len >= 2);
	cr_assert_eq((f.body[0] << 8 | f.body[1]), packet_id, "UNSUBACK packet id [MQTT-3.10.4-4]");
}

void raw_publish(struct raw *r, const char *topic, const char *payload, uint8_t qos,
		 bool retain, uint16_t packet_id)
{
	struct mqtt_publish p = {.qos = qos, .retain = retain, .topic = str_of(topic),
				 .packet_id = packet_id, .payload = bin_of(payload)};
	cr_assert(mqtt_encode_publish(&r->out, r->version, &p) == FM_OK);
	raw_send_out(r);
}

void raw_ack(struct raw *r, uint8_t type, uint16_t packet_id)
{
	struct mqtt_ack a = {.type = type, .packet_id = packet_id};
	cr_assert(mqtt_encode_ack(&r->out, r->version, &a) == FM_OK);
	raw_send_out(r);
}

void raw_expect_publish(struct raw *r, struct mqtt_publish *p)
{
	struct mqtt_frame f;
	raw_expect(r, MQTT_PUBLISH, &f);
	uint8_t reason;
	cr_assert(mqtt_decode_publish(&f, r->version, p, &reason) == FM_OK, "undecodable PUBLISH");
}

void raw_assert_publish(const struct mqtt_publish *p, const char *topic, const char *payload)
{
	cr_assert_eq(p->topic.len, strlen(topic));
	cr_assert(memcmp(p->topic.p, topic, p->topic.len) == 0, "topic %.*s != %s",
		  (int)p->topic.len, p->topic.p, topic);
	cr_assert_eq(p->payload.len, strlen(payload), "payload length %u != %zu",
		     p->payload.len, strlen(payload));
	cr_assert(memcmp(p->payload.p, payload, p->payload.len) == 0);
}

uint16_t raw_expect_ack(struct raw *r, uint8_t type)
{
	struct mqtt_frame f;
	raw_expect(r, type, &f);
	struct mqtt_ack a;
	uint8_t reason;
	cr_assert(mqtt_decode_ack(&f, r->version, &a, &reason) == FM_OK);
	return a.packet_id;
}

/* --- MQTT 5.0 ----------------------------------------------------------------- */

static void put_varint(struct buf *b, uint32_t v)
{
	do {
		uint8_t byte = v & 0x7F;
		v >>= 7;
		buf_append_u8(b, (uint8_t)(byte | (v ? 0x80 : 0)));
	} while (v);
}

void raw_publish5(struct raw *r, const char *topic, const char *payload, uint8_t qos, bool retain,
		  uint16_t packet_id, struct mqtt_bin props)
{
	struct mqtt_publish p = {.qos = qos, .retain = retain, .topic = str_of(topic),
				 .packet_id = packet_id, .payload = bin_of(payload), .props = props};
	cr_assert(mqtt_encode_publish(&r->out, r->version, &p) == FM_OK);
	raw_send_out(r);
}

/* The codec's SUBSCRIBE encoder writes no properties, so a SUBSCRIBE with a
 * Subscription Identifier is built here. */
void raw_subscribe_n(struct raw *r, uint16_t packet_id, const struct mqtt_sub_entry *e, uint32_t n,
		     uint32_t sub_id, uint8_t *codes)
{
	bool v5 = r->version == MQTT_V5;
	uint32_t props_len = sub_id ? 1 + mqtt_varint_size(sub_id) : 0;
	uint32_t remaining = 2 + (v5 ? mqtt_varint_size(props_len) + props_len : 0);
	for (uint32_t i = 0; i < n; i++)
		remaining += 2 + e[i].filter.len + 1;
	struct buf *b = &r->out;
	buf_append_u8(b, MQTT_SUBSCRIBE << 4 | 0x2);
	put_varint(b, remaining);
	buf_append_u16(b, packet_id);
	if (v5) {
		put_varint(b, props_len);
		if (sub_id) {
			buf_append_u8(b, MQTT_PROP_SUBSCRIPTION_ID);
			put_varint(b, sub_id);
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		buf_append_u16(b, e[i].filter.len);
		buf_append(b, e[i].filter.p, e[i].filter.len);
		buf_append_u8(b, e[i].options);
	}
	raw_send_out(r);
	struct mqtt_frame f;
	raw_expect(r, MQTT_SUBACK, &f);
	struct mqtt_suback s;
	uint8_t reason;
	cr_assert(mqtt_decode_suback(&f, r->version, &s, &reason) == FM_OK, "undecodable SUBACK");
	cr_assert_eq(s.packet_id, packet_id, "SUBACK packet id [MQTT-3.8.4-2]");
	cr_assert_eq(s.codes.len, n, "SUBACK has %u codes for %u filters [MQTT-3.8.4-6]", s.codes.len, n);
	memcpy(codes, s.codes.p, n);
}

uint8_t raw_subscribe5(struct raw *r, uint16_t packet_id, const char *filter, uint8_t options, uint32_t sub_id)
{
	struct mqtt_sub_entry e = {.filter = str_of(filter), .options = options};
	uint8_t code;
	raw_subscribe_n(r, packet_id, &e, 1, sub_id, &code);
	return code;
}

void raw_unsubscribe_n(struct raw *r, uint16_t packet_id, const char *const *filters, uint32_t n, uint8_t *codes)
{
	struct mqtt_sub_entry e[16];
	cr_assert(n <= 16);
	for (uint32_t i = 0; i < n; i++)
		e[i] = (struct mqtt_sub_entry){.filter = str_of(filters[i])};
	cr_assert(mqtt_encode_unsubscribe(&r->out, r->version, packet_id, e, n) == FM_OK);
	raw_send_out(r);
	struct mqtt_frame f;
	raw_expect(r, MQTT_UNSUBACK, &f);
	struct mqtt_suback s;
	uint8_t reason;
	cr_assert(mqtt_decode_suback(&f, r->version, &s, &reason) == FM_OK, "undecodable UNSUBACK");
	cr_assert_eq(s.packet_id, packet_id, "UNSUBACK packet id [MQTT-3.11.2-1]");
	if (r->version != MQTT_V5)
		return; /* a 3.1.1 UNSUBACK has no codes */
	cr_assert_eq(s.codes.len, n, "UNSUBACK has %u codes for %u filters [MQTT-3.11.3-1]", s.codes.len, n);
	memcpy(codes, s.codes.p, n);
}

void raw_ack5(struct raw *r, uint8_t type, uint16_t packet_id, uint8_t reason)
{
	struct mqtt_ack a = {.type = type, .packet_id = packet_id, .reason = reason};
	cr_assert(mqtt_encode_ack(&r->out, r->version, &a) == FM_OK);
	raw_send_out(r);
}

uint16_t raw_expect_ack5(struct raw *r, uint8_t type, uint8_t *reason)
{
	struct mqtt_frame f;
	raw_expect(r, type, &f);
	struct mqtt_ack a;
	uint8_t why;
	cr_assert(mqtt_decode_ack(&f, r->version, &a, &why) == FM_OK, "undecodable ack");
	if (reason)
		*reason = a.reason;
	return a.packet_id;
}

void raw_expect_publish5(struct raw *r, struct mqtt_publish *p, struct mqtt_props *props)
{
	raw_expect_publish(r, p);
	if (props)
		mqtt_props_read(p->props, props);
}

unsigned raw_prop_count(struct mqtt_bin props, uint8_t id)
{
	unsigned n = 0;
	struct mqtt_prop p;
	while (mqtt_props_next(&props, &p))
		n += p.id == id;
	return n;
}

void raw_disconnect5(struct raw *r, uint8_t reason, struct mqtt_bin props)
{
	struct mqtt_disconnect d = {.reason = reason, .props = props};
	cr_assert(mqtt_encode_disconnect(&r->out, r->version, &d) == FM_OK);
	raw_send_out(r);
}

uint8_t raw_expect_disconnect(struct raw *r, int timeout_ms, struct raw_disconnect *d)
{
	struct raw_disconnect local;
	if (!d)
		d = &local;
	memset(d, 0, sizeof(*d));
	struct mqtt_frame f;
	int rc = raw_recv(r, &f, timeout_ms);
	cr_assert_eq(rc, FM_OK, "expected DISCONNECT, got %s",
		     rc == FM_ECLOSED ? "the connection closed without it" : "nothing (timeout)");
	cr_assert_eq(f.type, MQTT_DISCONNECT, "expected DISCONNECT (14), got packet type %u", f.type);
	d->len = f.header_len + f.remaining_len;
	memcpy(d->bytes, f.body - f.header_len, d->len < sizeof(d->bytes) ? d->len : sizeof(d->bytes));
	struct mqtt_disconnect dc;
	uint8_t why;
	cr_assert(mqtt_decode_disconnect(&f, r->version, &dc, &why) == FM_OK, "undecodable DISCONNECT");
	d->reason = dc.reason;
	struct mqtt_props p;
	mqtt_props_read(dc.props, &p);
	d->props_has = p.has;
	if (mqtt_props_has(&p, MQTT_PROP_REASON_STRING)) {
		struct mqtt_bin s = p.data[MQTT_PROP_REASON_STRING];
		size_t n = s.len < sizeof(d->reason_string) - 1 ? s.len : sizeof(d->reason_string) - 1;
		memcpy(d->reason_string, s.p, n);
		d->reason_string[n] = '\0';
	}
	uint8_t last = 0;
	cr_assert(raw_closed_within(r, 3000, &last), "connection not closed after DISCONNECT 0x%02x [MQTT-3.14.4-1]",
		  d->reason);
	cr_assert_eq(last, 0, "packet type %u sent after DISCONNECT [MQTT-3.14.4-1]", last);
	return d->reason;
}
