#include "v5.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

struct hb v5_broker;

void v5_start(const char *extra_conf) { hb_start(&v5_broker, extra_conf); }
void v5_start_default(void) { v5_start(NULL); }

void v5_stop(void)
{
	if (v5_broker.dir[0] == '\0')
		return; /* the test failed before starting one */
	bool running = v5_broker.pid > 0;
	int status = hb_stop(&v5_broker);
	memset(&v5_broker, 0, sizeof(v5_broker));
	if (running) /* else the test already failed on the start */
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "broker exit status %d", status);
}

void props_begin(struct props *p) { buf_init(&p->b); }
void props_end(struct props *p) { buf_fini(&p->b); }

struct props *props_byte(struct props *p, uint8_t id, uint8_t v)
{
	cr_assert(mqtt_prop_put_byte(&p->b, id, v) == FM_OK);
	return p;
}

struct props *props_u16(struct props *p, uint8_t id, uint16_t v)
{
	cr_assert(mqtt_prop_put_u16(&p->b, id, v) == FM_OK);
	return p;
}

struct props *props_u32(struct props *p, uint8_t id, uint32_t v)
{
	cr_assert(mqtt_prop_put_u32(&p->b, id, v) == FM_OK);
	return p;
}

struct props *props_varint(struct props *p, uint8_t id, uint32_t v)
{
	cr_assert(mqtt_prop_put_varint(&p->b, id, v) == FM_OK);
	return p;
}

struct props *props_str(struct props *p, uint8_t id, const char *s)
{
	cr_assert(mqtt_prop_put_data(&p->b, id, s, (uint16_t)strlen(s)) == FM_OK);
	return p;
}

struct props *props_pair(struct props *p, const char *name, const char *value)
{
	cr_assert(mqtt_prop_put_pair(&p->b, name, (uint16_t)strlen(name), value, (uint16_t)strlen(value)) == FM_OK);
	return p;
}

bool v5_connect(struct raw *r, const char *id, bool clean, uint32_t session_expiry)
{
	struct props p;
	props_begin(&p);
	if (session_expiry)
		props_u32(&p, MQTT_PROP_SESSION_EXPIRY, session_expiry);
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = id, .clean = clean, .keepalive = 60,
				     .props = props_bin(&p)};
	bool present = false;
	uint8_t rc = (uint8_t)raw_connect(r, v5_broker.port, &o, &present);
	props_end(&p);
	cr_assert_eq(rc, MQTT_RC_SUCCESS, "5.0 CONNECT of %s refused with 0x%02x", id, rc);
	return present;
}

void v5_connect_simple(struct raw *r, const char *id)
{
	v5_connect(r, id, true, 0);
}

void v5_disconnect(struct raw *r)
{
	raw_disconnect5(r, MQTT_RC_SUCCESS, (struct mqtt_bin){0});
	uint8_t last = 0;
	cr_assert(raw_closed_within(r, V5_WAIT_MS, &last), "connection not closed after the client's DISCONNECT");
	cr_assert_eq(last, 0, "packet type %u sent after the client's DISCONNECT", last);
	raw_close(r);
}

const char *hex(const uint8_t *p, size_t n, char *out, size_t out_len)
{
	size_t at = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && at + 4 < out_len; i++)
		at += (size_t)snprintf(out + at, out_len - at, "%02X ", p[i]);
	return out;
}

void expect_bytes(struct raw *r, const uint8_t *want, size_t n, const char *what)
{
	struct mqtt_frame f;
	int rc = raw_recv(r, &f, V5_WAIT_MS);
	char w[1024], g[1024];
	cr_assert_eq(rc, FM_OK, "%s: expected %s, got %s", what, hex(want, n, w, sizeof(w)),
		     rc == FM_ECLOSED ? "the connection closed" : "nothing (timeout)");
	const uint8_t *got = f.body - f.header_len;
	size_t got_n = f.header_len + f.remaining_len;
	cr_assert(got_n == n && memcmp(got, want, n) == 0, "%s: expected %s, got %s", what,
		  hex(want, n, w, sizeof(w)), hex(got, got_n, g, sizeof(g)));
}

void expect_publish5(struct raw *r, const char *topic, const char *payload, uint8_t qos,
		     struct mqtt_publish *p, struct mqtt_props *props)
{
	struct mqtt_publish local;
	struct mqtt_props local_props;
	if (!p)
		p = &local;
	if (!props)
		props = &local_props;
	raw_expect_publish5(r, p, props);
	raw_assert_publish(p, topic, payload);
	cr_assert_eq(p->qos, qos, "%s: QoS %u, expected %u", topic, p->qos, qos);
}

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}
