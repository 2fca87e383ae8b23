/* Helpers of the hostile-input tests: see hostile.h. */
#include "hostile.h"

#include "core/procinfo.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long broker_rss_kb(const struct hb *b)
{
	long kb = proc_rss_kb(b->pid);
	cr_assert_geq(kb, 0, "cannot read the broker's RSS");
	return kb;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

void rss_settles_near(const struct hb *b, long base_kb, long slack_kb, const char *what)
{
	long now = broker_rss_kb(b);
	if (broker_sanitized()) {
		cr_log_info("%s: broker RSS %ld kB before, %ld kB after (not checked: sanitizer)", what,
			    base_kb, now);
		return;
	}
	for (int i = 0; i < 50 && now > base_kb + slack_kb; i++) {
		sleep_ms(100);
		now = broker_rss_kb(b);
	}
	cr_log_info("%s: broker RSS %ld kB before, %ld kB after", what, base_kb, now);
	cr_assert_leq(now, base_kb + slack_kb, "%s: broker RSS grew from %ld to %ld kB (allowed %ld kB)",
		      what, base_kb, now, slack_kb);
}

/* Memory a round frees stays with the allocator (an arena per worker
 * thread, so the warm-up has to reach every worker), which makes RSS
 * plateau after the warm-up; a round that leaks shows as growth
 * proportional to `more`. */
#define WARMUP_ROUNDS 5

void rounds_near_baseline(const struct hb *b, void (*round)(void *), void *arg, int more,
			  long slack_kb, const char *what)
{
	if (broker_sanitized()) {
		/* RSS means nothing there; LeakSanitizer checks at the broker's exit */
		round(arg);
		round(arg);
		return;
	}
	for (int i = 0; i < WARMUP_ROUNDS; i++)
		round(arg);
	long base = broker_rss_kb(b);
	for (int i = 0; i < more; i++)
		round(arg);
	rss_settles_near(b, base, slack_kb, what);
}

/* --- canary -------------------------------------------------------------- */

void canary_up(struct canary *c, const struct hb *b)
{
	raw_connect_simple(&c->sub, b->port, "canary-sub");
	cr_assert_eq(raw_subscribe(&c->sub, 1, "canary/#", 1), 1, "canary SUBACK");
	raw_connect_simple(&c->pub, b->port, "canary-pub");
	c->next_id = 1;
}

void canary_expect(struct canary *c, const char *topic, const char *payload, const char *what)
{
	struct mqtt_frame f;
	int rc = raw_recv(&c->sub, &f, RAW_TIMEOUT_MS);
	cr_assert_eq(rc, FM_OK, "%s: canary subscriber %s instead of getting %s", what,
		     rc == FM_ECLOSED ? "was disconnected" : "got nothing", topic);
	cr_assert_eq(f.type, MQTT_PUBLISH, "%s: canary subscriber got packet type %u, not PUBLISH",
		     what, f.type);
	struct mqtt_publish p;
	uint8_t reason;
	cr_assert(mqtt_decode_publish(&f, MQTT_V311, &p, &reason) == FM_OK);
	cr_assert(p.topic.len == strlen(topic) && memcmp(p.topic.p, topic, p.topic.len) == 0,
		  "%s: canary got topic %.*s instead of %s", what, (int)p.topic.len, p.topic.p, topic);
	cr_assert(p.payload.len == strlen(payload) && memcmp(p.payload.p, payload, p.payload.len) == 0,
		  "%s: canary got the wrong payload on %s", what, topic);
	if (p.qos == 1)
		raw_ack(&c->sub, MQTT_PUBACK, p.packet_id);
}

/* Publish the next "alive N" at QoS 1 and take its PUBACK. */
static void canary_publish(struct canary *c, char *payload, size_t len, const char *what)
{
	uint16_t id = c->next_id++;
	snprintf(payload, len, "alive %u", id);
	raw_publish(&c->pub, "canary/live", payload, 1, false, id);
	struct mqtt_frame f;
	int rc = raw_recv(&c->pub, &f, RAW_TIMEOUT_MS);
	cr_assert_eq(rc, FM_OK, "%s: canary publisher %s", what,
		     rc == FM_ECLOSED ? "was disconnected" : "got no PUBACK");
	cr_assert_eq(f.type, MQTT_PUBACK, "%s: canary publisher got type %u", what, f.type);
}

void canary_check(struct canary *c, const char *what)
{
	char payload[32];
	canary_publish(c, payload, sizeof(payload), what);
	canary_expect(c, "canary/live", payload, what);
}

static bool publish_is(const struct mqtt_publish *p, const char *topic, const char *payload)
{
	return p->topic.len == strlen(topic) && memcmp(p->topic.p, topic, p->topic.len) == 0 &&
	       p->payload.len == strlen(payload) && memcmp(p->payload.p, payload, p->payload.len) == 0;
}

void canary_check_will(struct canary *c, const char *will_topic, const char *will_payload,
		       const char *what)
{
	char payload[32];
	canary_publish(c, payload, sizeof(payload), what);
	bool will = false, live = false;
	for (int i = 0; i < 2; i++) {
		struct mqtt_frame f;
		int rc = raw_recv(&c->sub, &f, RAW_TIMEOUT_MS);
		cr_assert_eq(rc, FM_OK, "%s: canary subscriber %s (will %s, live message %s)", what,
			     rc == FM_ECLOSED ? "was disconnected" : "got nothing",
			     will ? "seen" : "missing", live ? "seen" : "missing");
		cr_assert_eq(f.type, MQTT_PUBLISH, "%s: canary subscriber got packet type %u", what, f.type);
		struct mqtt_publish p;
		uint8_t reason;
		cr_assert(mqtt_decode_publish(&f, MQTT_V311, &p, &reason) == FM_OK);
		if (!will && publish_is(&p, will_topic, will_payload))
			will = true;
		else if (!live && publish_is(&p, "canary/live", payload))
			live = true;
		else
			cr_assert_fail("%s: canary got an unexpected message on %.*s", what,
				       (int)p.topic.len, p.topic.p);
		if (p.qos == 1)
			raw_ack(&c->sub, MQTT_PUBACK, p.packet_id);
	}
}

void canary_down(struct canary *c, const char *what)
{
	canary_check(c, what);
	cr_assert(raw_silent(&c->sub, 100), "%s: a stray message reached the canary", what);
	raw_close(&c->sub);
	raw_close(&c->pub);
}

/* --- closing ------------------------------------------------------------- */

void expect_closed_after(struct raw *r, int connack, const char *what)
{
	int packets = 0, code = -1;
	uint8_t first_type = 0;
	struct mqtt_frame f;
	int rc;
	while ((rc = raw_recv(r, &f, HOSTILE_CLOSE_MS)) == FM_OK) {
		if (packets++ == 0)
			first_type = f.type;
		if (f.type == MQTT_CONNACK && f.remaining_len == 2)
			code = f.body[1];
	}
	cr_assert_eq(rc, FM_ECLOSED, "%s: the broker did not close the connection", what);
	if (connack < 0)
		cr_assert_eq(packets, 0, "%s: the broker answered (packet type %u) before closing",
			     what, first_type);
	else
		cr_assert(packets == 1 && first_type == MQTT_CONNACK && code == connack,
			  "%s: wanted only CONNACK %d before the close, got %d packet(s), first type %u, code %d",
			  what, connack, packets, first_type, code);
	raw_close(r);
}

void expect_closed(struct raw *r, const char *what)
{
	cr_assert(raw_closed_within(r, HOSTILE_CLOSE_MS, NULL), "%s: connection not closed", what);
	raw_close(r);
}

/* --- hand-built packets -------------------------------------------------- */

void put_u8(struct buf *b, uint8_t v)
{
	cr_assert(buf_append_u8(b, v) == FM_OK);
}

void put_u16(struct buf *b, uint16_t v)
{
	cr_assert(buf_append_u16(b, v) == FM_OK);
}

void put_bytes(struct buf *b, const void *p, size_t n)
{
	cr_assert(buf_append(b, p, n) == FM_OK);
}

void put_field(struct buf *b, const void *p, size_t n)
{
	cr_assert(n <= 65535);
	put_u16(b, (uint16_t)n);
	put_bytes(b, p, n);
}

void put_varint(struct buf *b, uint32_t v)
{
	cr_assert(v < 268435456u);
	do {
		uint8_t d = v & 0x7F;
		v >>= 7;
		put_u8(b, (uint8_t)(d | (v ? 0x80 : 0)));
	} while (v);
}

void put_packet(struct buf *out, uint8_t first_byte, const struct buf *body)
{
	put_u8(out, first_byte);
	cr_assert(buf_used(body) < 268435456u);
	put_varint(out, (uint32_t)buf_used(body));
	if (buf_used(body))
		put_bytes(out, buf_head(body), buf_used(body));
}

void put_connect(struct buf *out, uint8_t first_byte, const char *proto, uint8_t level,
		 uint8_t flags, const struct field *fields, size_t n)
{
	struct buf body;
	buf_init(&body);
	put_field(&body, proto, strlen(proto));
	put_u8(&body, level);
	put_u8(&body, flags);
	put_u16(&body, 60);
	for (size_t i = 0; i < n; i++)
		put_field(&body, fields[i].p, fields[i].len);
	put_packet(out, first_byte, &body);
	buf_fini(&body);
}
