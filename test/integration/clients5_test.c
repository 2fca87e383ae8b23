/* Real MQTT 5.0 clients against fleetmq: libmosquitto with
 * MQTT_PROTOCOL_V5 and its v5 callbacks, 3.1.1 and 5.0 clients side by
 * side, and Debian's mosquitto_pub / mosquitto_sub with -V 5.
 *
 * Every wait is bounded and generous (the broker may be the ThreadSanitizer
 * build, see FLEETMQ_TEST_BIN); no test depends on the broker being fast,
 * only "not before" bounds are checked where time matters. */
#include "harness.h"

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Upper bound for anything that should happen "promptly". */
#define WAIT_MS 15000
/* How long a test keeps listening before it concludes that something was
 * not delivered. A slow broker can only make such a test pass wrongly,
 * never fail wrongly. */
#define GRACE_MS 750

static struct hb broker;

static void kill_leftover_tools(void);

static void start(void)
{
	hb_start(&broker, NULL);
	mosquitto_lib_init();
}

static void stop(void)
{
	kill_leftover_tools(); /* a test that failed half-way */
	mosquitto_lib_cleanup();
	cr_assert_eq(hb_stop(&broker), 0, "broker exit status");
}

TestSuite(libmosquitto5, .init = start, .fini = stop, .timeout = 90);
TestSuite(mixed, .init = start, .fini = stop, .timeout = 90);
TestSuite(cli5, .init = start, .fini = stop, .timeout = 90);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Number of times needle occurs in the broker's log. */
static int log_count(const struct hb *b, const char *needle)
{
	static char buf[1 << 20];
	FILE *f = fopen(b->log_path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	int count = 0;
	for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
		count++;
	return count;
}

/* Wait until needle occurs at least want times in the broker's log. */
static bool log_wait_count(const struct hb *b, const char *needle, int want, int wait_ms)
{
	double deadline = now_s() + wait_ms / 1000.0;
	while (log_count(b, needle) < want) {
		if (now_s() > deadline)
			return false;
		sleep_ms(20);
	}
	return true;
}

/* --- libmosquitto, 5.0 and 3.1.1 ----------------------------------------- */

#define MAXRX 64

struct rx {
	char topic[128];
	char payload[256];
	int payloadlen;
	int qos;
	bool retain;
	mosquitto_property *props; /* a copy; NULL when none */
};

struct c5 {
	struct mosquitto *m;
	char id[64];
	int version;
	int connacks;
	int connack_rc;
	int connack_flags;
	mosquitto_property *connack_props;
	int subscribed;
	int granted[16];
	int n_granted;
	int published;
	int pub_mid[64];
	int pub_rc[64];
	bool pub_diag[64]; /* the ack carried a Reason String or User Property */
	int received;
	struct rx rx[MAXRX];
	int disconnects;
	int disconnect_rc;       /* the first disconnect's reason */
	mosquitto_property *disconnect_props;
};

static void on_connect5(struct mosquitto *m, void *arg, int rc, int flags, const mosquitto_property *props)
{
	(void)m;
	struct c5 *c = arg;
	c->connack_rc = rc;
	c->connack_flags = flags;
	mosquitto_property_free_all(&c->connack_props);
	mosquitto_property_copy_all(&c->connack_props, props);
	c->connacks++;
}

static void on_subscribe5(struct mosquitto *m, void *arg, int mid, int n, const int *granted,
			  const mosquitto_property *props)
{
	(void)m;
	(void)mid;
	(void)props;
	struct c5 *c = arg;
	for (int i = 0; i < n && c->n_granted < 16; i++)
		c->granted[c->n_granted++] = granted[i];
	c->subscribed++;
}

static void on_publish5(struct mosquitto *m, void *arg, int mid, int rc, const mosquitto_property *props)
{
	(void)m;
	struct c5 *c = arg;
	if (c->published < 64) {
		c->pub_mid[c->published] = mid;
		c->pub_rc[c->published] = rc;
		c->pub_diag[c->published] = false;
		for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p))
			if (mosquitto_property_identifier(p) == MQTT_PROP_REASON_STRING ||
			    mosquitto_property_identifier(p) == MQTT_PROP_USER_PROPERTY)
				c->pub_diag[c->published] = true;
	}
	c->published++;
}

static void on_message5(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
			const mosquitto_property *props)
{
	(void)m;
	struct c5 *c = arg;
	if (c->received >= MAXRX) {
		c->received++;
		return;
	}
	struct rx *r = &c->rx[c->received++];
	snprintf(r->topic, sizeof(r->topic), "%s", msg->topic);
	r->payloadlen = msg->payloadlen;
	snprintf(r->payload, sizeof(r->payload), "%.*s", msg->payloadlen, (const char *)msg->payload);
	r->qos = msg->qos;
	r->retain = msg->retain;
	r->props = NULL;
	if (props)
		mosquitto_property_copy_all(&r->props, props);
}

static void on_disconnect5(struct mosquitto *m, void *arg, int rc, const mosquitto_property *props)
{
	(void)m;
	struct c5 *c = arg;
	/* libmosquitto may report the same end twice (the server's DISCONNECT,
	 * then the socket closing): the first one is the server's reason */
	if (c->disconnects++ == 0) {
		c->disconnect_rc = rc;
		if (props)
			mosquitto_property_copy_all(&c->disconnect_props, props);
	}
}

/* Run the network loops of all clients until *flag >= want or timeout_ms
 * pass. */
static bool pump(struct c5 **cs, int n, const int *flag, int want, int timeout_ms)
{
	double deadline = now_s() + timeout_ms / 1000.0;
	while (*flag < want && now_s() < deadline)
		for (int k = 0; k < n; k++)
			if (cs[k] && cs[k]->m)
				mosquitto_loop(cs[k]->m, 10, 1);
	return *flag >= want;
}

/* Run the loops for ms milliseconds whatever happens. */
static void pump_for(struct c5 **cs, int n, int ms)
{
	int never = 0;
	pump(cs, n, &never, 1, ms);
}

/* Create a client (id may be NULL: an empty client identifier). */
static void c5_new(struct c5 *c, const char *id, bool clean, int version)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id ? id : "");
	c->version = version;
	c->m = mosquitto_new(id, clean, c);
	cr_assert(c->m, "mosquitto_new(%s)", id ? id : "NULL");
	cr_assert_eq(mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, version), MOSQ_ERR_SUCCESS);
	mosquitto_connect_v5_callback_set(c->m, on_connect5);
	mosquitto_subscribe_v5_callback_set(c->m, on_subscribe5);
	mosquitto_publish_v5_callback_set(c->m, on_publish5);
	mosquitto_message_v5_callback_set(c->m, on_message5);
	mosquitto_disconnect_v5_callback_set(c->m, on_disconnect5);
}

/* Connect (CONNECT properties may be NULL) and wait for the CONNACK. */
static void c5_connect_to(struct c5 *c, uint16_t port, const mosquitto_property *props)
{
	int rc = mosquitto_connect_bind_v5(c->m, "127.0.0.1", port, 60, NULL, props);
	cr_assert_eq(rc, MOSQ_ERR_SUCCESS, "connect %s: %s", c->id, mosquitto_strerror(rc));
	struct c5 *one[] = {c};
	cr_assert(pump(one, 1, &c->connacks, 1, WAIT_MS), "client '%s' got no CONNACK", c->id);
	cr_assert_eq(c->connack_rc, 0, "client '%s' refused: CONNACK reason 0x%02x", c->id, c->connack_rc);
}

static void c5_open(struct c5 *c, const char *id, int version)
{
	c5_new(c, id, true, version);
	c5_connect_to(c, broker.port, NULL);
}

/* A client with a session that outlives the connection. */
static void c5_open_session(struct c5 *c, const char *id, uint32_t expiry)
{
	c5_new(c, id, false, MQTT_PROTOCOL_V5);
	mosquitto_property *props = NULL;
	cr_assert_eq(mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, expiry), MOSQ_ERR_SUCCESS);
	c5_connect_to(c, broker.port, props);
	mosquitto_property_free_all(&props);
}

static void c5_free(struct c5 *c)
{
	for (int i = 0; i < c->received && i < MAXRX; i++)
		mosquitto_property_free_all(&c->rx[i].props);
	mosquitto_property_free_all(&c->connack_props);
	mosquitto_property_free_all(&c->disconnect_props);
	if (c->m)
		mosquitto_destroy(c->m);
	c->m = NULL;
}

/* Normal DISCONNECT (reason 0), wait until the library has closed. */
static void c5_close(struct c5 *c)
{
	if (c->m && mosquitto_disconnect(c->m) == MOSQ_ERR_SUCCESS) {
		struct c5 *one[] = {c};
		pump(one, 1, &c->disconnects, 1, WAIT_MS);
	}
	c5_free(c);
}

/* SUBSCRIBE one filter and return the SUBACK's code for it. */
static int c5_subscribe_code(struct c5 *c, const char *filter, int qos, int options, const mosquitto_property *props,
			     struct c5 **others, int n_others)
{
	int want = c->subscribed + 1;
	int rc = mosquitto_subscribe_v5(c->m, NULL, filter, qos, options, props);
	cr_assert_eq(rc, MOSQ_ERR_SUCCESS, "subscribe %s: %s", filter, mosquitto_strerror(rc));
	struct c5 *all[8] = {c};
	for (int i = 0; i < n_others && i < 7; i++)
		all[i + 1] = others[i];
	cr_assert(pump(all, n_others + 1, &c->subscribed, want, WAIT_MS), "no SUBACK for %s", filter);
	return c->granted[c->n_granted - 1];
}

static void c5_subscribe(struct c5 *c, const char *filter, int qos, int options, const mosquitto_property *props,
			 struct c5 **others, int n_others)
{
	int g = c5_subscribe_code(c, filter, qos, options, props, others, n_others);
	cr_assert_eq(g, qos, "SUBACK for %s: 0x%02x, QoS %d asked", filter, g, qos);
}

static void c5_sub(struct c5 *c, const char *filter, int qos)
{
	c5_subscribe(c, filter, qos, 0, NULL, NULL, 0);
}

static int c5_publish(struct c5 *c, const char *topic, const char *payload, int qos, bool retain,
		      const mosquitto_property *props)
{
	int mid = 0;
	int rc = mosquitto_publish_v5(c->m, &mid, topic, (int)strlen(payload), payload, qos, retain, props);
	cr_assert_eq(rc, MOSQ_ERR_SUCCESS, "publish %s: %s", topic ? topic : "(alias)", mosquitto_strerror(rc));
	return mid;
}

/* The reason code the publish flow of mid ended with, -1 if not seen. */
static int pub_reason(const struct c5 *c, int mid)
{
	for (int i = 0; i < c->published && i < 64; i++)
		if (c->pub_mid[i] == mid)
			return c->pub_rc[i];
	return -1;
}

/* Index of the first message received on topic with payload (NULL: any). */
static int find_rx(const struct c5 *c, const char *topic, const char *payload)
{
	for (int i = 0; i < c->received && i < MAXRX; i++)
		if (strcmp(c->rx[i].topic, topic) == 0 && (!payload || strcmp(c->rx[i].payload, payload) == 0))
			return i;
	return -1;
}

static int count_prop(const mosquitto_property *props, int id)
{
	int n = 0;
	for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p))
		if (mosquitto_property_identifier(p) == id)
			n++;
	return n;
}

/* User properties as "k=v;k=v;" in the order they were received. */
static void user_props(const mosquitto_property *props, char *out, size_t len)
{
	out[0] = '\0';
	for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p)) {
		if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY)
			continue;
		char *k = NULL, *v = NULL;
		mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false);
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s=%s;", k ? k : "(null)", v ? v : "(null)");
		free(k);
		free(v);
	}
}

static bool read_string_prop(const mosquitto_property *props, int id, char *out, size_t len)
{
	char *s = NULL;
	if (!mosquitto_property_read_string(props, id, &s, false) || !s)
		return false;
	snprintf(out, len, "%s", s);
	free(s);
	return true;
}

static bool read_int32_prop(const mosquitto_property *props, int id, uint32_t *out)
{
	return mosquitto_property_read_int32(props, id, out, false) != NULL;
}

/* --- 5.0 publish properties ------------------------------------------------ */

Test(libmosquitto5, MQTT_3_3_2_18_user_properties_in_order)
{
	struct c5 sub, pub;
	c5_open(&sub, "up-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "up-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "up/#", 2, 0, NULL, both + 1, 1);

	/* duplicates (the same pair twice, the same key with two values) and
	 * non-ASCII UTF-8: all of them, in this order [MQTT-3.3.2-17]
	 * [MQTT-3.3.2-18]. (No empty value: libmosquitto 2.0.11 itself crashes
	 * copying a received zero-length property string.) */
	const char *pairs[][2] = {{"zeta", "1"}, {"alpha", "2"},  {"zeta", "1"},     {"alpha", "3"},
				  {"utf8", "d\xc3\xa9j\xc3\xa0"}, {"k", "v w x"}, {"zeta", "last"}};
	const char *expected = "zeta=1;alpha=2;zeta=1;alpha=3;utf8=d\xc3\xa9j\xc3\xa0;k=v w x;zeta=last;";
	mosquitto_property *props = NULL;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		cr_assert_eq(mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, pairs[i][0], pairs[i][1]),
			     MOSQ_ERR_SUCCESS);
	for (int q = 0; q <= 2; q++) {
		char topic[16];
		snprintf(topic, sizeof(topic), "up/q%d", q);
		c5_publish(&pub, topic, "with properties", q, false, props);
	}
	mosquitto_property_free_all(&props);
	cr_assert(pump(both, 2, &sub.received, 3, WAIT_MS), "received %d of 3", sub.received);
	cr_assert(pump(both, 2, &pub.published, 3, WAIT_MS), "publish flows completed: %d of 3", pub.published);
	for (int q = 0; q <= 2; q++) {
		char topic[16], got[512];
		snprintf(topic, sizeof(topic), "up/q%d", q);
		int i = find_rx(&sub, topic, NULL);
		cr_assert(i >= 0, "nothing on %s", topic);
		cr_assert_eq(sub.rx[i].qos, q, "%s delivered at QoS %d", topic, sub.rx[i].qos);
		cr_assert_str_eq(sub.rx[i].payload, "with properties");
		user_props(sub.rx[i].props, got, sizeof(got));
		cr_assert_str_eq(got, expected, "QoS %d user properties: got %s", q, got);
	}
	pump_for(both, 2, GRACE_MS);
	cr_assert_eq(sub.received, 3, "%d messages for 3 publishes", sub.received);
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_2_20_content_type_and_MQTT_3_3_2_4_payload_format_indicator_unaltered)
{
	struct c5 sub, pub;
	c5_open(&sub, "ct-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "ct-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "ct/#", 2, 0, NULL, both + 1, 1);
	mosquitto_property *props = NULL;
	mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/json; charset=utf-8");
	mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
	for (int q = 0; q <= 2; q++) {
		char topic[16];
		snprintf(topic, sizeof(topic), "ct/q%d", q);
		c5_publish(&pub, topic, "{\"t\": \"\xc3\xa9t\xc3\xa9\"}", q, false, props);
	}
	/* and one without: no content type may appear on it */
	c5_publish(&pub, "ct/plain", "plain", 1, false, NULL);
	mosquitto_property_free_all(&props);
	cr_assert(pump(both, 2, &sub.received, 4, WAIT_MS), "received %d of 4", sub.received);
	for (int q = 0; q <= 2; q++) {
		char topic[16], ct[128] = "";
		snprintf(topic, sizeof(topic), "ct/q%d", q);
		int i = find_rx(&sub, topic, NULL);
		cr_assert(i >= 0, "nothing on %s", topic);
		cr_assert(read_string_prop(sub.rx[i].props, MQTT_PROP_CONTENT_TYPE, ct, sizeof(ct)),
			  "%s: no Content Type", topic);
		cr_assert_str_eq(ct, "application/json; charset=utf-8");
		uint8_t pfi = 0xff;
		cr_assert(mosquitto_property_read_byte(sub.rx[i].props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, &pfi, false),
			  "%s: no Payload Format Indicator", topic);
		cr_assert_eq(pfi, 1);
		cr_assert_str_eq(sub.rx[i].payload, "{\"t\": \"\xc3\xa9t\xc3\xa9\"}");
		cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_CONTENT_TYPE), 1);
	}
	int i = find_rx(&sub, "ct/plain", "plain");
	cr_assert(i >= 0);
	cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_CONTENT_TYPE), 0, "content type appeared on a message without one");
	cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), 0);
	c5_close(&sub);
	c5_close(&pub);
}

/* Request/response: the requester names a response topic and correlation
 * data, the responder answers on that topic with the same correlation data. */
Test(libmosquitto5, MQTT_3_3_2_15_response_topic_and_MQTT_3_3_2_16_correlation_data_request_response)
{
	struct c5 requester, responder;
	c5_open(&requester, "rr-requester", MQTT_PROTOCOL_V5);
	c5_open(&responder, "rr-responder", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&requester, &responder};
	c5_subscribe(&responder, "rr/service", 1, 0, NULL, both, 1);
	c5_subscribe(&requester, "rr/replies/rr-requester", 1, 0, NULL, both + 1, 1);

	/* binary correlation data, with a NUL and high bytes */
	static const unsigned char corr[] = {0x00, 0x01, 0xfe, 0xff, 'i', 'd', '7', 0x00};
	mosquitto_property *req = NULL;
	mosquitto_property_add_string(&req, MQTT_PROP_RESPONSE_TOPIC, "rr/replies/rr-requester");
	mosquitto_property_add_binary(&req, MQTT_PROP_CORRELATION_DATA, corr, sizeof(corr));
	c5_publish(&requester, "rr/service", "what time is it", 1, false, req);
	mosquitto_property_free_all(&req);

	cr_assert(pump(both, 2, &responder.received, 1, WAIT_MS), "the request never reached the responder");
	const struct rx *r = &responder.rx[0];
	cr_assert_str_eq(r->topic, "rr/service");
	char rt[128] = "";
	cr_assert(read_string_prop(r->props, MQTT_PROP_RESPONSE_TOPIC, rt, sizeof(rt)), "no Response Topic forwarded");
	cr_assert_str_eq(rt, "rr/replies/rr-requester");
	void *cd = NULL;
	uint16_t cd_len = 0;
	cr_assert(mosquitto_property_read_binary(r->props, MQTT_PROP_CORRELATION_DATA, &cd, &cd_len, false),
		  "no Correlation Data forwarded");
	cr_assert_eq(cd_len, sizeof(corr));
	cr_assert_arr_eq(cd, corr, sizeof(corr), "correlation data altered");

	/* the answer, as a responder would send it */
	mosquitto_property *resp = NULL;
	mosquitto_property_add_binary(&resp, MQTT_PROP_CORRELATION_DATA, cd, cd_len);
	free(cd);
	c5_publish(&responder, rt, "noon", 1, false, resp);
	mosquitto_property_free_all(&resp);
	cr_assert(pump(both, 2, &requester.received, 1, WAIT_MS), "the response never reached the requester");
	cr_assert_str_eq(requester.rx[0].topic, "rr/replies/rr-requester");
	cr_assert_str_eq(requester.rx[0].payload, "noon");
	cd = NULL;
	cr_assert(mosquitto_property_read_binary(requester.rx[0].props, MQTT_PROP_CORRELATION_DATA, &cd, &cd_len, false));
	cr_assert_eq(cd_len, sizeof(corr));
	cr_assert_arr_eq(cd, corr, sizeof(corr));
	free(cd);
	cr_assert_eq(count_prop(requester.rx[0].props, MQTT_PROP_RESPONSE_TOPIC), 0);
	c5_close(&requester);
	c5_close(&responder);
}

Test(libmosquitto5, MQTT_3_3_2_6_message_expiry_interval_is_the_remaining_time)
{
	struct c5 sub, pub;
	c5_open(&sub, "mei-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "mei-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "mei/#", 2, 0, NULL, both + 1, 1);
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 60);
	for (int q = 0; q <= 2; q++) {
		char topic[16];
		snprintf(topic, sizeof(topic), "mei/q%d", q);
		c5_publish(&pub, topic, "expiring", q, false, props);
	}
	c5_publish(&pub, "mei/none", "forever", 1, false, NULL);
	mosquitto_property_free_all(&props);
	cr_assert(pump(both, 2, &sub.received, 4, WAIT_MS), "received %d of 4", sub.received);
	for (int q = 0; q <= 2; q++) {
		char topic[16];
		snprintf(topic, sizeof(topic), "mei/q%d", q);
		int i = find_rx(&sub, topic, NULL);
		cr_assert(i >= 0, "nothing on %s", topic);
		uint32_t left = 0;
		cr_assert(read_int32_prop(sub.rx[i].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &left),
			  "%s: Message Expiry Interval not forwarded", topic);
		/* live delivery: at most what was sent, and not absurdly less */
		cr_assert(left <= 60 && left >= 45, "%s: Message Expiry Interval %u for 60 sent", topic, left);
	}
	int i = find_rx(&sub, "mei/none", NULL);
	cr_assert(i >= 0);
	cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), 0,
		     "an expiry interval appeared on a message sent without one");
	c5_close(&sub);
	c5_close(&pub);
}

/* A persistent session is offline: what expires while it waits is dropped,
 * what does not comes with its interval reduced by the time waited. */
Test(libmosquitto5, MQTT_3_3_2_5_expired_message_not_delivered_to_an_offline_session)
{
	struct c5 sub, pub;
	c5_open_session(&sub, "mq-sub", 300);
	c5_sub(&sub, "mq/#", 1);
	c5_close(&sub);
	cr_assert(log_wait_count(&broker, "client mq-sub (", 1, WAIT_MS), "the broker never saw mq-sub go");

	c5_open(&pub, "mq-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	mosquitto_property *short_lived = NULL, *long_lived = NULL;
	mosquitto_property_add_int32(&short_lived, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
	mosquitto_property_add_int32(&long_lived, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 60);
	int m1 = c5_publish(&pub, "mq/short", "gone", 1, false, short_lived);
	int m2 = c5_publish(&pub, "mq/long", "kept", 1, false, long_lived);
	int m3 = c5_publish(&pub, "mq/none", "kept too", 1, false, NULL);
	mosquitto_property_free_all(&short_lived);
	mosquitto_property_free_all(&long_lived);
	cr_assert(pump(p, 1, &pub.published, 3, WAIT_MS));
	/* the offline session's subscription matches: not 0x10 */
	cr_assert_eq(pub_reason(&pub, m1), 0);
	cr_assert_eq(pub_reason(&pub, m2), 0);
	cr_assert_eq(pub_reason(&pub, m3), 0);
	c5_close(&pub);

	sleep_ms(3500); /* the 1 s message is expired, the 60 s one has < 57 s left */

	c5_open_session(&sub, "mq-sub", 300);
	cr_assert(sub.connack_flags & 1, "session present 0 for a session that should still exist [MQTT-3.2.2-3]");
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, 2, WAIT_MS), "received %d of the 2 messages still valid", sub.received);
	pump_for(s, 1, GRACE_MS);
	cr_assert(find_rx(&sub, "mq/short", NULL) < 0, "an expired message was delivered [MQTT-3.3.2-5]");
	cr_assert_eq(sub.received, 2, "%d messages delivered", sub.received);
	int i = find_rx(&sub, "mq/long", "kept");
	cr_assert(i >= 0);
	uint32_t left = 0;
	cr_assert(read_int32_prop(sub.rx[i].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &left));
	cr_assert(left <= 58 && left > 0, "after 3.5 s queued, Message Expiry Interval %u for 60 sent [MQTT-3.3.2-6]", left);
	cr_assert(find_rx(&sub, "mq/none", "kept too") >= 0);
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_3_2_5_expired_retained_message_not_sent_to_new_subscriber)
{
	struct c5 pub, sub;
	c5_open(&pub, "rx-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
	c5_publish(&pub, "rx/expiring", "old news", 1, true, props);
	mosquitto_property_free_all(&props);
	c5_publish(&pub, "rx/lasting", "still here", 1, true, NULL);
	cr_assert(pump(p, 1, &pub.published, 2, WAIT_MS));
	c5_close(&pub);
	sleep_ms(3000);
	c5_open(&sub, "rx-sub", MQTT_PROTOCOL_V5);
	c5_sub(&sub, "rx/#", 1);
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, 1, WAIT_MS), "the unexpired retained message was not sent");
	pump_for(s, 1, GRACE_MS);
	cr_assert(find_rx(&sub, "rx/lasting", "still here") >= 0);
	cr_assert(find_rx(&sub, "rx/expiring", NULL) < 0, "an expired retained message was sent [MQTT-3.3.2-5]");
	cr_assert_eq(sub.received, 1);
	c5_close(&sub);
}

/* --- acknowledgements, subscription options ------------------------------- */

Test(libmosquitto5, MQTT_3_4_2_1_puback_reason_0x10_no_matching_subscribers)
{
	struct c5 pub, sub;
	c5_open(&pub, "nm-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	int lonely = c5_publish(&pub, "nm/topic", "anyone?", 1, false, NULL);
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS), "no PUBACK");
	cr_assert_eq(pub_reason(&pub, lonely), MQTT_RC_NO_MATCHING_SUBSCRIBERS,
		     "PUBACK reason 0x%02x for a publish nobody subscribed to", pub_reason(&pub, lonely));

	c5_open(&sub, "nm-sub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "nm/+", 1, 0, NULL, both + 1, 1);
	int heard = c5_publish(&pub, "nm/topic", "hello", 1, false, NULL);
	cr_assert(pump(both, 2, &pub.published, 2, WAIT_MS), "no second PUBACK");
	cr_assert_eq(pub_reason(&pub, heard), 0, "PUBACK reason 0x%02x with a subscriber", pub_reason(&pub, heard));
	cr_assert(pump(both, 2, &sub.received, 1, WAIT_MS));
	cr_assert_str_eq(sub.rx[0].payload, "hello");
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_4_3_subscription_identifier_sent_with_each_matching_message)
{
	struct c5 sub, pub;
	c5_open(&sub, "sid-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "sid-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	mosquitto_property *props = NULL;
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 268435455); /* the largest */
	c5_subscribe(&sub, "sid/with/#", 2, 0, props, both + 1, 1);
	mosquitto_property_free_all(&props);
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 42);
	c5_subscribe(&sub, "sid/small/+", 1, 0, props, both + 1, 1);
	mosquitto_property_free_all(&props);
	c5_subscribe(&sub, "sid/without", 1, 0, NULL, both + 1, 1);

	c5_publish(&pub, "sid/with/a/b", "one", 2, false, NULL);
	c5_publish(&pub, "sid/small/x", "two", 1, false, NULL);
	c5_publish(&pub, "sid/without", "three", 0, false, NULL);
	cr_assert(pump(both, 2, &sub.received, 3, WAIT_MS), "received %d of 3", sub.received);
	uint32_t id = 0;
	int i = find_rx(&sub, "sid/with/a/b", "one");
	cr_assert(i >= 0);
	cr_assert(mosquitto_property_read_varint(sub.rx[i].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false),
		  "no Subscription Identifier on the message");
	cr_assert_eq(id, 268435455u);
	cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), 1);
	i = find_rx(&sub, "sid/small/x", "two");
	cr_assert(i >= 0);
	cr_assert(mosquitto_property_read_varint(sub.rx[i].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false));
	cr_assert_eq(id, 42u);
	i = find_rx(&sub, "sid/without", "three");
	cr_assert(i >= 0);
	cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), 0,
		     "a Subscription Identifier on a subscription made without one");
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_4_5_overlapping_subscriptions_each_copy_carries_its_identifier)
{
	struct c5 sub, pub;
	c5_open(&sub, "ov-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "ov-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	mosquitto_property *props = NULL;
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 1);
	c5_subscribe(&sub, "ov/#", 1, 0, props, both + 1, 1);
	mosquitto_property_free_all(&props);
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 2);
	c5_subscribe(&sub, "ov/+", 1, 0, props, both + 1, 1);
	mosquitto_property_free_all(&props);
	c5_publish(&pub, "ov/x", "both match", 1, false, NULL);
	cr_assert(pump(both, 2, &sub.received, 1, WAIT_MS));
	pump(both, 2, &sub.received, 2, WAIT_MS);
	pump_for(both, 2, GRACE_MS);
	/* one copy carrying both identifiers [MQTT-3.3.4-4] or one copy per
	 * subscription with its own [MQTT-3.3.4-5]: the broker sends copies */
	cr_assert_eq(sub.received, 2, "%d copies for two subscriptions with different identifiers", sub.received);
	int seen[3] = {0};
	for (int i = 0; i < 2; i++) {
		uint32_t id = 0;
		cr_assert_str_eq(sub.rx[i].payload, "both match");
		cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), 1);
		cr_assert(mosquitto_property_read_varint(sub.rx[i].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false));
		cr_assert(id == 1 || id == 2, "identifier %u", id);
		seen[id]++;
	}
	cr_assert(seen[1] == 1 && seen[2] == 1, "identifiers 1 x%d, 2 x%d", seen[1], seen[2]);
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_8_3_3_no_local_own_messages_not_delivered_back)
{
	struct c5 self, other;
	c5_open(&self, "nl-self", MQTT_PROTOCOL_V5);
	c5_open(&other, "nl-other", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&self, &other};
	c5_subscribe(&self, "nl/#", 1, MQTT_SUB_OPT_NO_LOCAL, NULL, both + 1, 1);
	c5_subscribe(&other, "nl/#", 1, 0, NULL, both, 1);
	int mid = c5_publish(&self, "nl/chat", "from self", 1, false, NULL);
	cr_assert(pump(both, 2, &self.published, 1, WAIT_MS));
	cr_assert_eq(pub_reason(&self, mid), 0, "another subscriber exists: PUBACK 0x%02x", pub_reason(&self, mid));
	cr_assert(pump(both, 2, &other.received, 1, WAIT_MS), "the other subscriber did not get it");
	cr_assert_str_eq(other.rx[0].payload, "from self");
	/* what the other client says on the topic still reaches self */
	c5_publish(&other, "nl/chat", "from other", 1, false, NULL);
	cr_assert(pump(both, 2, &self.received, 1, WAIT_MS), "No Local also dropped other clients' messages");
	pump_for(both, 2, GRACE_MS);
	cr_assert(find_rx(&self, "nl/chat", "from self") < 0, "own message delivered despite No Local");
	cr_assert_eq(self.received, 1);
	cr_assert_str_eq(self.rx[0].payload, "from other");
	c5_close(&self);
	c5_close(&other);
}

/* Both subscribers are online when the retained message is published. */
static void retain_as_published(int options, const char *id, bool expect_retain)
{
	struct c5 sub, pub;
	c5_open(&sub, id, MQTT_PROTOCOL_V5);
	c5_open(&pub, "rap-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "rap/#", 2, options, NULL, both + 1, 1);
	c5_publish(&pub, "rap/retained", "kept", 1, true, NULL);
	c5_publish(&pub, "rap/plain", "not kept", 1, false, NULL);
	cr_assert(pump(both, 2, &sub.received, 2, WAIT_MS));
	int r = find_rx(&sub, "rap/retained", "kept"), p = find_rx(&sub, "rap/plain", "not kept");
	cr_assert(r >= 0 && p >= 0);
	cr_assert_eq(sub.rx[r].retain, expect_retain, "live delivery of a retained publish, RAP %d: retain %d",
		     (options & MQTT_SUB_OPT_RETAIN_AS_PUBLISHED) != 0, sub.rx[r].retain);
	cr_assert_not(sub.rx[p].retain, "a non-retained publish delivered with RETAIN 1");
	c5_close(&sub);

	/* a new subscription still gets the retained message with RETAIN 1 */
	struct c5 late;
	c5_open(&late, "rap-late", MQTT_PROTOCOL_V5);
	c5_subscribe(&late, "rap/#", 1, options, NULL, NULL, 0);
	struct c5 *l[] = {&late};
	cr_assert(pump(l, 1, &late.received, 1, WAIT_MS));
	cr_assert(late.rx[0].retain, "retained message sent to a new subscription without RETAIN [MQTT-3.3.1-9]");
	c5_close(&late);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_1_13_retain_as_published_keeps_the_retain_flag)
{
	retain_as_published(MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, "rap1-sub", true);
}

Test(libmosquitto5, MQTT_3_3_1_12_without_retain_as_published_the_retain_flag_is_cleared)
{
	retain_as_published(0, "rap0-sub", false);
}

/* --- CONNACK, sessions, disconnects --------------------------------------- */

Test(libmosquitto5, MQTT_3_2_2_3_connack_properties_receive_maximum_topic_alias_maximum_shared_subscriptions)
{
	struct c5 c;
	c5_open(&c, "ck-client", MQTT_PROTOCOL_V5);
	const mosquitto_property *p = c.connack_props;
	uint16_t v16 = 0;
	uint8_t v8 = 0xff;
	cr_assert(mosquitto_property_read_int16(p, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, &v16, false), "no Topic Alias Maximum");
	cr_assert_eq(v16, 10, "Topic Alias Maximum %u", v16);
	cr_assert(mosquitto_property_read_int16(p, MQTT_PROP_RECEIVE_MAXIMUM, &v16, false), "no Receive Maximum");
	cr_assert_eq(v16, 20, "Receive Maximum %u", v16);
	/* shared subscriptions work: the property is left at its default (1) */
	cr_assert_not(mosquitto_property_read_byte(p, MQTT_PROP_SHARED_SUB_AVAILABLE, &v8, false),
		      "Shared Subscription Available %u sent: absent means available", v8);
	cr_assert_eq(count_prop(p, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER), 0, "client id assigned to a client that had one");
	cr_assert_eq(count_prop(p, MQTT_PROP_MAXIMUM_PACKET_SIZE), 0, "Maximum Packet Size without max_packet_size");
	cr_assert_eq(count_prop(p, MQTT_PROP_RETAIN_AVAILABLE), 0, "Retain Available sent though retain is available");
	cr_assert_eq(c.connack_flags & 1, 0, "session present with Clean Start 1 [MQTT-3.2.2-2]");
	c5_close(&c);
}

Test(libmosquitto5, MQTT_3_2_2_16_assigned_client_identifier_for_an_empty_client_id)
{
	struct c5 a, b;
	c5_open(&a, NULL, MQTT_PROTOCOL_V5);
	c5_open(&b, NULL, MQTT_PROTOCOL_V5);
	char ida[256] = "", idb[256] = "";
	cr_assert(read_string_prop(a.connack_props, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER, ida, sizeof(ida)),
		  "no Assigned Client Identifier for an empty client id [MQTT-3.1.3-7]");
	cr_assert(read_string_prop(b.connack_props, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER, idb, sizeof(idb)));
	cr_assert(ida[0] && idb[0], "empty assigned identifier");
	cr_assert_str_neq(ida, idb, "two clients were assigned the same identifier %s", ida);
	/* the assigned identifier is the client's from now on */
	char needle[300];
	snprintf(needle, sizeof(needle), "client %s connected", ida);
	cr_assert(hb_log_contains(&broker, needle, 2000), "broker log does not name the client %s", ida);
	/* and the client works */
	struct c5 *both[] = {&a, &b};
	c5_subscribe(&a, "aci/t", 1, 0, NULL, both + 1, 1);
	c5_publish(&b, "aci/t", "to the anonymous", 1, false, NULL);
	cr_assert(pump(both, 2, &a.received, 1, WAIT_MS));
	c5_close(&a);
	c5_close(&b);
}

Test(libmosquitto5, MQTT_3_1_4_3_session_takeover_disconnects_the_old_client_with_0x8E)
{
	struct c5 old, fresh;
	c5_open(&old, "to-client", MQTT_PROTOCOL_V5);
	c5_open(&fresh, "to-client", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&old, &fresh};
	cr_assert(pump(both, 2, &old.disconnects, 1, WAIT_MS), "the old connection was not closed");
	cr_assert_eq(old.disconnect_rc, MQTT_RC_SESSION_TAKEN_OVER,
		     "old client's disconnect reason 0x%02x, not 0x8E (7 = connection lost without DISCONNECT)",
		     old.disconnect_rc);
	cr_assert_eq(fresh.disconnects, 0, "the new connection was closed too");
	/* the new connection is the one that works */
	c5_subscribe(&fresh, "to/t", 1, 0, NULL, NULL, 0);
	c5_publish(&fresh, "to/t", "still here", 1, false, NULL);
	struct c5 *f[] = {&fresh};
	cr_assert(pump(f, 1, &fresh.received, 1, WAIT_MS));
	c5_close(&fresh);
	c5_free(&old);
}

Test(libmosquitto5, MQTT_3_14_2_1_broker_shutdown_disconnects_with_0x8B, .timeout = 90)
{
	struct hb own;
	hb_start(&own, NULL);
	struct c5 c;
	c5_new(&c, "sd-client", true, MQTT_PROTOCOL_V5);
	c5_connect_to(&c, own.port, NULL);
	c5_subscribe(&c, "sd/#", 1, 0, NULL, NULL, 0);
	hb_signal(&own, SIGTERM);
	struct c5 *one[] = {&c};
	cr_assert(pump(one, 1, &c.disconnects, 1, WAIT_MS), "no disconnect after SIGTERM");
	cr_assert_eq(c.disconnect_rc, MQTT_RC_SERVER_SHUTTING_DOWN,
		     "disconnect reason 0x%02x on SIGTERM, not 0x8B (7 = connection lost without DISCONNECT)",
		     c.disconnect_rc);
	c5_free(&c);
	int status = hb_stop(&own);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "broker exit status %d after SIGTERM", status);
}

Test(libmosquitto5, MQTT_3_1_2_23_session_kept_for_the_session_expiry_interval)
{
	struct c5 sub, pub;
	c5_open_session(&sub, "se-sub", 60);
	cr_assert_eq(sub.connack_flags & 1, 0, "session present for a new session");
	mosquitto_property *props = NULL;
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 9);
	c5_subscribe(&sub, "se/#", 1, 0, props, NULL, 0);
	mosquitto_property_free_all(&props);
	c5_close(&sub);
	cr_assert(log_wait_count(&broker, "client se-sub (", 1, WAIT_MS), "the broker never saw se-sub go");

	c5_open(&pub, "se-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "queued", "yes");
	int m1 = c5_publish(&pub, "se/one", "first", 1, false, props);
	int m2 = c5_publish(&pub, "se/two", "second", 1, false, props);
	int m3 = c5_publish(&pub, "se/three", "third", 2, false, NULL);
	mosquitto_property_free_all(&props);
	cr_assert(pump(p, 1, &pub.published, 3, WAIT_MS));
	cr_assert_eq(pub_reason(&pub, m1), 0, "PUBACK 0x%02x though an offline session subscribed", pub_reason(&pub, m1));
	cr_assert_eq(pub_reason(&pub, m2), 0);
	cr_assert_eq(pub_reason(&pub, m3), 0);
	c5_close(&pub);

	/* reconnect without subscribing again */
	c5_open_session(&sub, "se-sub", 60);
	cr_assert(sub.connack_flags & 1, "session present 0 within the session expiry interval [MQTT-3.2.2-3]");
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, 3, WAIT_MS), "%d of 3 queued messages delivered", sub.received);
	const char *topics[] = {"se/one", "se/two", "se/three"};
	const char *payloads[] = {"first", "second", "third"};
	for (int k = 0; k < 3; k++) {
		/* one publisher, one topic tree, QoS 1 and 2: in order [MQTT-4.6.0-6] */
		cr_assert_str_eq(sub.rx[k].topic, topics[k]);
		cr_assert_str_eq(sub.rx[k].payload, payloads[k]);
		cr_assert_eq(sub.rx[k].qos, 1);
		uint32_t id = 0;
		cr_assert(mosquitto_property_read_varint(sub.rx[k].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false),
			  "stored subscription lost its identifier");
		cr_assert_eq(id, 9u);
	}
	char got[128];
	user_props(sub.rx[0].props, got, sizeof(got));
	cr_assert_str_eq(got, "queued=yes;", "queued message lost its properties");
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_1_2_23_session_gone_after_the_session_expiry_interval)
{
	struct c5 sub, pub;
	c5_open_session(&sub, "sg-sub", 1);
	c5_sub(&sub, "sg/#", 1);
	c5_close(&sub);
	cr_assert(log_wait_count(&broker, "client sg-sub (", 1, WAIT_MS));
	sleep_ms(4000);
	c5_open(&pub, "sg-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	int mid = c5_publish(&pub, "sg/t", "too late", 1, false, NULL);
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	cr_assert_eq(pub_reason(&pub, mid), MQTT_RC_NO_MATCHING_SUBSCRIBERS,
		     "PUBACK 0x%02x: the expired session's subscription still matched", pub_reason(&pub, mid));
	c5_close(&pub);
	c5_open_session(&sub, "sg-sub", 1);
	cr_assert_eq(sub.connack_flags & 1, 0, "session present after its expiry interval [MQTT-3.2.2-3]");
	struct c5 *s[] = {&sub};
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(sub.received, 0);
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_1_2_4_clean_start_discards_the_session)
{
	struct c5 sub, pub;
	c5_open_session(&sub, "cs-sub", 300);
	c5_sub(&sub, "cs/#", 1);
	c5_close(&sub);
	cr_assert(log_wait_count(&broker, "client cs-sub (", 1, WAIT_MS));
	c5_open(&pub, "cs-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	c5_publish(&pub, "cs/t", "queued", 1, false, NULL);
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	c5_close(&pub);
	c5_new(&sub, "cs-sub", true, MQTT_PROTOCOL_V5);
	c5_connect_to(&sub, broker.port, NULL);
	cr_assert_eq(sub.connack_flags & 1, 0, "session present with Clean Start 1 [MQTT-3.2.2-2]");
	struct c5 *s[] = {&sub};
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(sub.received, 0, "a message queued for the discarded session was delivered");
	c5_close(&sub);
}

/* --- topic aliases ---------------------------------------------------------- */

static void add_alias(mosquitto_property **props, int alias)
{
	cr_assert_eq(mosquitto_property_add_int16(props, MQTT_PROP_TOPIC_ALIAS, (uint16_t)alias), MOSQ_ERR_SUCCESS);
}

Test(libmosquitto5, MQTT_3_3_2_12_server_accepts_topic_aliases_up_to_its_maximum)
{
	struct c5 sub, pub;
	c5_open(&sub, "ta-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "ta-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "ta/#", 1, 0, NULL, both + 1, 1);
	mosquitto_property *a1 = NULL, *a10 = NULL;
	add_alias(&a1, 1);
	add_alias(&a10, 10);
	c5_publish(&pub, "ta/one", "set 1", 1, false, a1);
	c5_publish(&pub, "ta/ten", "set 10", 1, false, a10);
	c5_publish(&pub, NULL, "use 1", 1, false, a1);
	c5_publish(&pub, NULL, "use 10", 0, false, a10);
	c5_publish(&pub, "ta/other", "rebind 1", 1, false, a1);
	c5_publish(&pub, NULL, "use 1 again", 1, false, a1);
	mosquitto_property_free_all(&a1);
	mosquitto_property_free_all(&a10);
	cr_assert(pump(both, 2, &sub.received, 6, WAIT_MS), "received %d of 6", sub.received);
	cr_assert_eq(pub.disconnects, 0, "publisher disconnected (reason 0x%02x)", pub.disconnect_rc);
	const char *want[][2] = {{"ta/one", "set 1"},	   {"ta/ten", "set 10"},     {"ta/one", "use 1"},
				 {"ta/ten", "use 10"},	   {"ta/other", "rebind 1"}, {"ta/other", "use 1 again"}};
	for (int k = 0; k < 6; k++) {
		int i = find_rx(&sub, want[k][0], want[k][1]);
		cr_assert(i >= 0, "no '%s' on %s", want[k][1], want[k][0]);
		/* the broker never sends aliases itself */
		cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_TOPIC_ALIAS), 0, "Topic Alias forwarded");
	}
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_2_9_topic_alias_above_the_maximum_is_disconnected_with_0x94)
{
	struct c5 pub;
	c5_open(&pub, "tx-pub", MQTT_PROTOCOL_V5);
	mosquitto_property *a11 = NULL;
	add_alias(&a11, 11);
	c5_publish(&pub, "tx/t", "alias 11", 1, false, a11);
	mosquitto_property_free_all(&a11);
	struct c5 *p[] = {&pub};
	cr_assert(pump(p, 1, &pub.disconnects, 1, WAIT_MS), "still connected after Topic Alias 11 (maximum 10)");
	cr_assert_eq(pub.disconnect_rc, MQTT_RC_TOPIC_ALIAS_INVALID, "disconnect reason 0x%02x, not 0x94",
		     pub.disconnect_rc);
	c5_free(&pub);
}

Test(libmosquitto5, MQTT_3_3_2_7_topic_alias_not_carried_to_a_new_connection)
{
	struct c5 pub, sub;
	c5_open(&sub, "tc-sub", MQTT_PROTOCOL_V5);
	struct c5 *s[] = {&sub};
	c5_sub(&sub, "tc/#", 1);
	c5_open_session(&pub, "tc-pub", 300);
	mosquitto_property *a2 = NULL;
	add_alias(&a2, 2);
	c5_publish(&pub, "tc/t", "set", 1, false, a2);
	struct c5 *p[] = {&pub};
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	c5_close(&pub);
	cr_assert(pump(s, 1, &sub.received, 1, WAIT_MS));
	/* same client id, same session, new connection: alias 2 is unset */
	c5_open_session(&pub, "tc-pub", 300);
	cr_assert(pub.connack_flags & 1);
	c5_publish(&pub, NULL, "use", 1, false, a2);
	mosquitto_property_free_all(&a2);
	cr_assert(pump(p, 1, &pub.disconnects, 1, WAIT_MS), "an alias from the previous connection was accepted");
	cr_assert_eq(pub.disconnect_rc, MQTT_RC_PROTOCOL_ERROR, "disconnect reason 0x%02x, not 0x82", pub.disconnect_rc);
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(sub.received, 1, "the aliased publish was delivered");
	c5_free(&pub);
	c5_close(&sub);
}

/* --- wills ----------------------------------------------------------------- */

/* Connect a 5.0 client with a will (delay seconds, properties in order) and
 * the given session expiry. */
static void open_with_will(struct c5 *c, const char *id, uint32_t delay, uint32_t session_expiry)
{
	c5_new(c, id, session_expiry == 0, MQTT_PROTOCOL_V5);
	mosquitto_property *wp = NULL;
	mosquitto_property_add_int32(&wp, MQTT_PROP_WILL_DELAY_INTERVAL, delay);
	mosquitto_property_add_string_pair(&wp, MQTT_PROP_USER_PROPERTY, "w1", "first");
	mosquitto_property_add_string_pair(&wp, MQTT_PROP_USER_PROPERTY, "w0", "second");
	mosquitto_property_add_string(&wp, MQTT_PROP_CONTENT_TYPE, "text/plain");
	mosquitto_property_add_int32(&wp, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 60);
	/* on success the will takes the properties */
	cr_assert_eq(mosquitto_will_set_v5(c->m, "will/topic", 4, "gone", 1, false, wp), MOSQ_ERR_SUCCESS);
	mosquitto_property *cp = NULL;
	if (session_expiry)
		mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, session_expiry);
	c5_connect_to(c, broker.port, cp);
	mosquitto_property_free_all(&cp);
}

/* The connection is dropped without DISCONNECT. */
static void drop(struct c5 *c)
{
	c5_free(c);
}

Test(libmosquitto5, MQTT_3_1_2_8_will_published_after_the_will_delay_interval)
{
	struct c5 watcher, w;
	c5_open(&watcher, "wd-watcher", MQTT_PROTOCOL_V5);
	c5_sub(&watcher, "will/#", 1);
	open_with_will(&w, "wd-client", 3, 60);
	double dropped = now_s();
	drop(&w);
	struct c5 *s[] = {&watcher};
	cr_assert(pump(s, 1, &watcher.received, 1, WAIT_MS), "no will within %d ms", WAIT_MS);
	double took = now_s() - dropped;
	cr_assert(took >= 2.5, "will published %.2f s after the connection dropped, delay 3 s", took);
	/* the will's expiry counts from its publication, not from the drop */
	uint32_t left = 0;
	cr_assert(read_int32_prop(watcher.rx[0].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &left));
	cr_assert(left >= 58 && left <= 60, "will Message Expiry Interval %u, 60 set, delay 3 s", left);
	cr_assert_str_eq(watcher.rx[0].topic, "will/topic");
	cr_assert_str_eq(watcher.rx[0].payload, "gone");
	char got[128], ct[64] = "";
	user_props(watcher.rx[0].props, got, sizeof(got));
	cr_assert_str_eq(got, "w1=first;w0=second;", "will user properties [MQTT-3.1.3-10]: %s", got);
	cr_assert(read_string_prop(watcher.rx[0].props, MQTT_PROP_CONTENT_TYPE, ct, sizeof(ct)));
	cr_assert_str_eq(ct, "text/plain");
	cr_assert_eq(count_prop(watcher.rx[0].props, MQTT_PROP_WILL_DELAY_INTERVAL), 0);
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(watcher.received, 1, "will published %d times", watcher.received);
	c5_close(&watcher);
}

Test(libmosquitto5, MQTT_3_1_3_9_reconnect_within_the_will_delay_cancels_the_will)
{
	struct c5 watcher, w;
	c5_open(&watcher, "wc-watcher", MQTT_PROTOCOL_V5);
	c5_sub(&watcher, "will/#", 1);
	open_with_will(&w, "wc-client", 5, 60);
	drop(&w);
	cr_assert(log_wait_count(&broker, "client wc-client (", 1, WAIT_MS));
	/* back, without a will, well within the 5 s */
	c5_open_session(&w, "wc-client", 60);
	cr_assert(w.connack_flags & 1);
	struct c5 *both[] = {&watcher, &w};
	pump_for(both, 2, 7000);
	cr_assert_eq(watcher.received, 0, "will published though the client came back within the delay");
	c5_close(&w);
	c5_close(&watcher);
}

Test(libmosquitto5, MQTT_3_1_2_8_will_published_when_the_session_ends_before_the_delay)
{
	struct c5 watcher, w;
	c5_open(&watcher, "we-watcher", MQTT_PROTOCOL_V5);
	c5_sub(&watcher, "will/#", 1);
	/* session expiry 1 s, will delay 3600 s: the session end publishes it */
	open_with_will(&w, "we-client", 3600, 1);
	drop(&w);
	struct c5 *s[] = {&watcher};
	cr_assert(pump(s, 1, &watcher.received, 1, WAIT_MS), "will not published when the session ended");
	cr_assert_str_eq(watcher.rx[0].payload, "gone");
	c5_close(&watcher);
}

Test(libmosquitto5, MQTT_3_1_2_10_disconnect_0x00_discards_the_will_and_0x04_publishes_it)
{
	struct c5 watcher, w;
	c5_open(&watcher, "wx-watcher", MQTT_PROTOCOL_V5);
	c5_sub(&watcher, "will/#", 1);
	struct c5 *s[] = {&watcher};
	open_with_will(&w, "wx-normal", 0, 0);
	c5_close(&w); /* DISCONNECT 0x00 */
	cr_assert(log_wait_count(&broker, "client wx-normal (", 1, WAIT_MS));
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(watcher.received, 0, "will published after DISCONNECT 0x00");

	open_with_will(&w, "wx-with-will", 0, 0);
	cr_assert_eq(mosquitto_disconnect_v5(w.m, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *both[] = {&watcher, &w};
	cr_assert(pump(both, 2, &watcher.received, 1, WAIT_MS), "no will after DISCONNECT 0x04");
	cr_assert_str_eq(watcher.rx[0].payload, "gone");
	c5_free(&w);
	c5_close(&watcher);
}

/* --- 3.1.1 and 5.0 together -------------------------------------------------- */

/* Both subscribers want QoS sub_qos; every publisher sends QoS 0, 1, 2. */
static void mixed_round(int sub_qos)
{
	struct c5 s311, s5, p311, p5;
	c5_open(&s311, "mx-sub311", MQTT_PROTOCOL_V311);
	c5_open(&s5, "mx-sub5", MQTT_PROTOCOL_V5);
	c5_open(&p311, "mx-pub311", MQTT_PROTOCOL_V311);
	c5_open(&p5, "mx-pub5", MQTT_PROTOCOL_V5);
	struct c5 *all[] = {&s311, &s5, &p311, &p5};
	c5_subscribe(&s311, "mx/#", sub_qos, 0, NULL, all + 1, 3);
	c5_subscribe(&s5, "mx/#", sub_qos, 0, NULL, all, 1);

	mosquitto_property *props = NULL;
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "from", "v5");
	mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "text/plain");
	mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 120);
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "mx/reply");
	for (int q = 0; q <= 2; q++) {
		char topic[32], payload[32];
		snprintf(topic, sizeof(topic), "mx/v5/q%d", q);
		snprintf(payload, sizeof(payload), "five %d", q);
		c5_publish(&p5, topic, payload, q, false, props);
		snprintf(topic, sizeof(topic), "mx/v311/q%d", q);
		snprintf(payload, sizeof(payload), "three %d", q);
		c5_publish(&p311, topic, payload, q, false, NULL);
	}
	mosquitto_property_free_all(&props);
	cr_assert(pump(all, 4, &s311.received, 6, WAIT_MS), "3.1.1 subscriber: %d of 6", s311.received);
	cr_assert(pump(all, 4, &s5.received, 6, WAIT_MS), "5.0 subscriber: %d of 6", s5.received);
	cr_assert(pump(all, 4, &p5.published, 3, WAIT_MS));
	cr_assert(pump(all, 4, &p311.published, 3, WAIT_MS));
	pump_for(all, 4, GRACE_MS);
	cr_assert_eq(s311.received, 6);
	cr_assert_eq(s5.received, 6);
	for (int q = 0; q <= 2; q++) {
		int want_qos = q < sub_qos ? q : sub_qos; /* [MQTT-3.8.4-8] */
		char t5[32], t3[32], pl5[32], pl3[32];
		snprintf(t5, sizeof(t5), "mx/v5/q%d", q);
		snprintf(pl5, sizeof(pl5), "five %d", q);
		snprintf(t3, sizeof(t3), "mx/v311/q%d", q);
		snprintf(pl3, sizeof(pl3), "three %d", q);
		for (int who = 0; who < 2; who++) {
			struct c5 *s = who ? &s5 : &s311;
			int i5 = find_rx(s, t5, pl5), i3 = find_rx(s, t3, pl3);
			cr_assert(i5 >= 0, "%s: no '%s' on %s (payload damaged?)", s->id, pl5, t5);
			cr_assert(i3 >= 0, "%s: no '%s' on %s", s->id, pl3, t3);
			cr_assert_eq(s->rx[i5].qos, want_qos, "%s: %s at QoS %d", s->id, t5, s->rx[i5].qos);
			cr_assert_eq(s->rx[i3].qos, want_qos, "%s: %s at QoS %d", s->id, t3, s->rx[i3].qos);
			cr_assert_eq(s->rx[i5].payloadlen, (int)strlen(pl5));
			cr_assert_eq(s->rx[i3].payloadlen, (int)strlen(pl3));
		}
		/* 3.1.1: no properties at all (a 3.1.1 client cannot even parse them) */
		cr_assert_null(s311.rx[find_rx(&s311, t5, pl5)].props);
		cr_assert_null(s311.rx[find_rx(&s311, t3, pl3)].props);
		/* 5.0: the 5.0 publisher's properties, none on the 3.1.1 publisher's */
		const mosquitto_property *p = s5.rx[find_rx(&s5, t5, pl5)].props;
		char got[64], ct[32] = "", rt[32] = "";
		user_props(p, got, sizeof(got));
		cr_assert_str_eq(got, "from=v5;");
		cr_assert(read_string_prop(p, MQTT_PROP_CONTENT_TYPE, ct, sizeof(ct)));
		cr_assert_str_eq(ct, "text/plain");
		cr_assert(read_string_prop(p, MQTT_PROP_RESPONSE_TOPIC, rt, sizeof(rt)));
		cr_assert_str_eq(rt, "mx/reply");
		uint32_t left = 0;
		cr_assert(read_int32_prop(p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &left));
		cr_assert(left <= 120 && left >= 100, "expiry %u", left);
		p = s5.rx[find_rx(&s5, t3, pl3)].props;
		cr_assert_eq(count_prop(p, MQTT_PROP_USER_PROPERTY) + count_prop(p, MQTT_PROP_CONTENT_TYPE) +
				     count_prop(p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL) +
				     count_prop(p, MQTT_PROP_RESPONSE_TOPIC),
			     0, "properties on a message from a 3.1.1 publisher");
	}
	c5_close(&s311);
	c5_close(&s5);
	c5_close(&p311);
	c5_close(&p5);
}

Test(mixed, MQTT_3_8_4_8_v311_and_v5_subscribers_get_the_same_messages_at_qos_2)
{
	mixed_round(2);
}

Test(mixed, MQTT_3_8_4_8_v311_and_v5_subscribers_get_the_same_messages_downgraded_to_qos_1)
{
	mixed_round(1);
}

Test(mixed, MQTT_3_8_4_8_v311_and_v5_subscribers_get_the_same_messages_downgraded_to_qos_0)
{
	mixed_round(0);
}

/* A 5.0 publisher's alias is resolved for a 3.1.1 subscriber, and a retained
 * message published with properties by 5.0 reaches a 3.1.1 client plain. */
Test(mixed, MQTT_3_3_2_12_aliased_and_retained_v5_publishes_reach_a_v311_subscriber)
{
	struct c5 s311, p5, late311;
	c5_open(&s311, "mxa-sub311", MQTT_PROTOCOL_V311);
	c5_open(&p5, "mxa-pub5", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&s311, &p5};
	c5_subscribe(&s311, "mxa/#", 1, 0, NULL, both + 1, 1);
	mosquitto_property *props = NULL;
	add_alias(&props, 4);
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "a", "b");
	c5_publish(&p5, "mxa/aliased", "first", 1, false, props);
	c5_publish(&p5, NULL, "second", 1, true, props);
	mosquitto_property_free_all(&props);
	cr_assert(pump(both, 2, &s311.received, 2, WAIT_MS), "received %d of 2", s311.received);
	cr_assert_str_eq(s311.rx[0].topic, "mxa/aliased");
	cr_assert_str_eq(s311.rx[0].payload, "first");
	cr_assert_str_eq(s311.rx[1].topic, "mxa/aliased");
	cr_assert_str_eq(s311.rx[1].payload, "second");
	c5_close(&s311);

	c5_open(&late311, "mxa-late311", MQTT_PROTOCOL_V311);
	c5_subscribe(&late311, "mxa/+", 1, 0, NULL, NULL, 0);
	struct c5 *l[] = {&late311};
	cr_assert(pump(l, 1, &late311.received, 1, WAIT_MS), "retained message not sent to the 3.1.1 client");
	cr_assert_str_eq(late311.rx[0].topic, "mxa/aliased");
	cr_assert_str_eq(late311.rx[0].payload, "second");
	cr_assert_eq(late311.rx[0].payloadlen, 6);
	cr_assert(late311.rx[0].retain);
	c5_close(&late311);
	c5_close(&p5);
}

/* --- mosquitto_pub / mosquitto_sub -V 5 ----------------------------------- */

/* Tools started and not yet reaped, so that a test failing half-way
 * leaves none behind (stop() kills them by process group). */
static pid_t tools[16];

static void tool_forget(pid_t pid)
{
	for (int i = 0; i < 16; i++)
		if (tools[i] == pid)
			tools[i] = 0;
}

static void kill_leftover_tools(void)
{
	for (int i = 0; i < 16; i++) {
		if (tools[i] <= 0)
			continue;
		int status;
		kill(-tools[i], SIGKILL);
		kill(tools[i], SIGKILL);
		waitpid(tools[i], &status, 0);
		tools[i] = 0;
	}
}

/* Run args (args[0] is a tool) under timeout(1) with stdout in out_path and
 * stderr in out_path.err; stdin from stdin_fd (-1: /dev/null). timeout(1)
 * makes itself a process group leader, so -pid reaches the tool too. */
static pid_t spawn_tool(const char *const *args, int secs, const char *out_path, int stdin_fd)
{
	const char *argv[64];
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", secs);
	int n = 0;
	argv[n++] = "timeout";
	argv[n++] = "-k";
	argv[n++] = "3";
	argv[n++] = limit;
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char err_path[160];
	snprintf(err_path, sizeof(err_path), "%s.err", out_path);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || out < 0 || err < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 16; i++)
		if (tools[i] == 0) {
			tools[i] = pid;
			break;
		}
	return pid;
}

/* Exit code of the tool (124: timeout(1) had to stop it), or -1 if it had
 * to be killed here. */
static int wait_tool(pid_t pid, int wait_ms)
{
	int status;
	double deadline = now_s() + wait_ms / 1000.0;
	while (now_s() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			tool_forget(pid);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		sleep_ms(10);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	tool_forget(pid);
	return -1;
}

static void kill_tool(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	tool_forget(pid);
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* Broker-dir path for a tool's output. */
static void out_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s.out", broker.dir, name);
}

static const char *port_str(void)
{
	static char port[8];
	snprintf(port, sizeof(port), "%u", broker.port);
	return port;
}

/* mosquitto_pub ... to completion; returns its exit code. */
static int run_pub5(const char *const *extra)
{
	const char *args[48] = {"mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", port_str()};
	int n = 7;
	for (int i = 0; extra[i] && n < 47; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	char out[160], text[1024];
	out_path(out, sizeof(out), "pub");
	int rc = wait_tool(spawn_tool(args, 30, out, -1), 40000);
	if (rc != 0) {
		char err[176];
		snprintf(err, sizeof(err), "%s.err", out);
		slurp(err, text, sizeof(text));
		cr_log_error("mosquitto_pub exit %d: %s", rc, text);
	}
	return rc;
}

/* Start mosquitto_sub -V 5 with -i id and extra args, and wait until the
 * broker has logged its subscription to filter. */
static pid_t start_sub5(const char *id, const char *filter, const char *qos, const char *const *extra,
			const char *path)
{
	const char *args[48] = {"mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(),
				"-i", id, "-t", filter, "-q", qos, "-W", "30"};
	int n = 15;
	for (int i = 0; extra && extra[i] && n < 47; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	char needle[128];
	snprintf(needle, sizeof(needle), "subscribe: %s %s %s", id, qos, filter);
	int before = log_count(&broker, needle);
	pid_t pid = spawn_tool(args, 35, path, -1);
	if (!log_wait_count(&broker, needle, before + 1, WAIT_MS)) {
		kill_tool(pid);
		cr_assert_fail("mosquitto_sub %s never subscribed to %s", id, filter);
	}
	return pid;
}

Test(cli5, MQTT_3_3_2_18_mosquitto_pub_user_properties_and_expiry_reach_mosquitto_sub)
{
	char path[160], text[1024];
	out_path(path, sizeof(path), "sub");
	/* %P: user properties as key:value separated by spaces (checked with
	 * this version, 2.0.11); %E: message expiry interval; %C content type */
	const char *extra[] = {"-C", "3", "-F", "%t|%p|%P|%E|%C|%q", NULL};
	pid_t sub = start_sub5("c5-sub", "cli5/#", "2", extra, path);
	for (int q = 0; q <= 2; q++) {
		char qs[4], topic[16];
		snprintf(qs, sizeof(qs), "%d", q);
		snprintf(topic, sizeof(topic), "cli5/q%d", q);
		const char *pub[] = {"-t", topic, "-m", "hello v5", "-q", qs,
				     "-D", "publish", "user-property", "k", "v",
				     "-D", "publish", "user-property", "k", "v2",
				     "-D", "publish", "user-property", "a", "b",
				     "-D", "publish", "message-expiry-interval", "60",
				     "-D", "publish", "content-type", "text/plain", NULL};
		cr_assert_eq(run_pub5(pub), 0, "mosquitto_pub -V 5 failed at QoS %d", q);
	}
	int rc = wait_tool(sub, 40000);
	slurp(path, text, sizeof(text));
	cr_assert_eq(rc, 0, "mosquitto_sub did not get 3 messages (exit %d), printed:\n%s", rc, text);
	/* one publisher, published one after the other: in this order */
	char *save = NULL, *line = strtok_r(text, "\n", &save);
	for (int q = 0; q <= 2; q++, line = strtok_r(NULL, "\n", &save)) {
		cr_assert(line, "only %d lines", q);
		char topic[16], prefix[64], suffix[32];
		unsigned expiry = 0;
		snprintf(topic, sizeof(topic), "cli5/q%d", q);
		snprintf(prefix, sizeof(prefix), "%s|hello v5|k:v k:v2 a:b|", topic);
		cr_assert(strncmp(line, prefix, strlen(prefix)) == 0, "line '%s', expected to start '%s'", line, prefix);
		cr_assert_eq(sscanf(line + strlen(prefix), "%u|%31s", &expiry, suffix), 2, "line '%s'", line);
		cr_assert(expiry <= 60 && expiry >= 45, "expiry %u for 60 sent", expiry);
		char want_suffix[32];
		snprintf(want_suffix, sizeof(want_suffix), "text/plain|%d", q);
		cr_assert_str_eq(suffix, want_suffix, "line '%s'", line);
	}
}

Test(cli5, MQTT_3_3_4_3_mosquitto_sub_subscription_identifier)
{
	char path[160], text[512];
	out_path(path, sizeof(path), "sub");
	const char *extra[] = {"-C", "2", "-F", "%S %t %p", "-D", "subscribe", "subscription-identifier", "7", NULL};
	pid_t sub = start_sub5("c5-sid", "cli5/sid/+", "1", extra, path);
	const char *p1[] = {"-t", "cli5/sid/a", "-m", "one", "-q", "1", NULL};
	const char *p2[] = {"-t", "cli5/sid/b", "-m", "two", "-q", "0", NULL};
	cr_assert_eq(run_pub5(p1), 0);
	cr_assert_eq(run_pub5(p2), 0);
	int rc = wait_tool(sub, 40000);
	slurp(path, text, sizeof(text));
	cr_assert_eq(rc, 0, "mosquitto_sub exit %d, printed:\n%s", rc, text);
	cr_assert_str_eq(text, "7 cli5/sid/a one\n7 cli5/sid/b two\n");
}

Test(cli5, MQTT_3_3_2_12_mosquitto_pub_topic_alias)
{
	char path[160], text[512];
	out_path(path, sizeof(path), "sub");
	/* %A: the alias as received (the broker never sends one) */
	const char *extra[] = {"-C", "3", "-F", "%t %p [%A]", NULL};
	pid_t sub = start_sub5("c5-alias", "cli5/alias/#", "1", extra, path);
	/* the first PUBLISH sets alias 3 with the topic, the next two send an
	 * empty topic with alias 3 */
	const char *pub[] = {"-t", "cli5/alias/long/topic/name", "-m", "aliased", "-q", "1", "--repeat", "3",
			     "-D", "publish", "topic-alias", "3", NULL};
	cr_assert_eq(run_pub5(pub), 0, "mosquitto_pub with a topic alias failed");
	int rc = wait_tool(sub, 40000);
	slurp(path, text, sizeof(text));
	cr_assert_eq(rc, 0, "mosquitto_sub exit %d, printed:\n%s", rc, text);
	cr_assert_str_eq(text, "cli5/alias/long/topic/name aliased []\n"
			       "cli5/alias/long/topic/name aliased []\n"
			       "cli5/alias/long/topic/name aliased []\n");
}

Test(cli5, MQTT_3_1_2_23_mosquitto_sub_session_expiry_and_reconnect)
{
	char path[160], text[512];
	out_path(path, sizeof(path), "sub");
	/* subscribe, then exit once the SUBACK is in (-E) */
	const char *first[] = {"mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-persist",
			       "-c", "-x", "60", "-t", "cli5/persist/#", "-q", "1", "-E", NULL};
	int rc = wait_tool(spawn_tool(first, 30, path, -1), 40000);
	cr_assert_eq(rc, 0, "mosquitto_sub -E exit %d", rc);
	cr_assert(log_wait_count(&broker, "client c5-persist (", 1, WAIT_MS), "the broker never saw c5-persist go");
	const char *p1[] = {"-t", "cli5/persist/a", "-m", "while away 1", "-q", "1", NULL};
	const char *p2[] = {"-t", "cli5/persist/b", "-m", "while away 2", "-q", "2", NULL};
	cr_assert_eq(run_pub5(p1), 0);
	cr_assert_eq(run_pub5(p2), 0);
	/* back with the same id; it subscribes to something else, so what
	 * arrives can only come from the stored session */
	const char *second[] = {"mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-persist",
				"-c", "-x", "60", "-t", "cli5/unrelated", "-q", "1", "-C", "2", "-W", "30",
				"-F", "%t %p %q", NULL};
	rc = wait_tool(spawn_tool(second, 35, path, -1), 45000);
	slurp(path, text, sizeof(text));
	cr_assert_eq(rc, 0, "reconnected mosquitto_sub exit %d, printed:\n%s", rc, text);
	cr_assert_str_eq(text, "cli5/persist/a while away 1 1\ncli5/persist/b while away 2 1\n");
	cr_assert(hb_log_contains(&broker, "client c5-persist connected from", 0));
	cr_assert(hb_log_contains(&broker, "session resumed", 0), "the broker did not resume the session");
}

Test(cli5, MQTT_3_1_2_8_mosquitto_pub_will_with_will_delay_interval)
{
	char wpath[160], ppath[160], text[512];
	out_path(wpath, sizeof(wpath), "watch");
	out_path(ppath, sizeof(ppath), "willer");
	const char *extra[] = {"-C", "1", "-F", "%t|%p|%P|%q", NULL};
	pid_t watcher = start_sub5("c5-watch", "cli5/will/#", "1", extra, wpath);

	/* mosquitto_pub -l stays connected while its stdin is open */
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	const char *args[] = {"mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-willer",
			      "-x", "60", "-t", "cli5/other", "-l", "--will-topic", "cli5/will/c5-willer",
			      "--will-payload", "willer gone", "--will-qos", "1",
			      "-D", "will", "will-delay-interval", "2",
			      "-D", "will", "user-property", "why", "killed", NULL};
	pid_t willer = spawn_tool(args, 30, ppath, fds[0]);
	close(fds[0]);
	if (!log_wait_count(&broker, "client c5-willer connected", 1, WAIT_MS)) {
		kill_tool(willer);
		kill_tool(watcher);
		close(fds[1]);
		cr_assert_fail("mosquitto_pub with a will did not connect");
	}
	kill_tool(willer); /* no DISCONNECT: the will is due after 2 s */
	double killed = now_s();
	close(fds[1]);
	int rc = wait_tool(watcher, 40000);
	double took = now_s() - killed;
	slurp(wpath, text, sizeof(text));
	cr_assert_eq(rc, 0, "watcher exit %d: no will", rc);
	cr_assert_str_eq(text, "cli5/will/c5-willer|willer gone|why:killed|1\n");
	cr_assert(took >= 1.5, "will arrived %.2f s after the kill, delay 2 s", took);
}

Test(cli5, MQTT_3_1_3_9_mosquitto_pub_reconnect_within_the_will_delay_cancels_the_will)
{
	char wpath[160], ppath[160], text[512];
	out_path(wpath, sizeof(wpath), "watch");
	out_path(ppath, sizeof(ppath), "willer");
	const char *extra[] = {"-C", "1", "-F", "%t|%p", NULL};
	pid_t watcher = start_sub5("c5-watch2", "cli5/will/#", "1", extra, wpath);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	const char *args[] = {"mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-back",
			      "-c", "-x", "60", "-t", "cli5/other", "-l", "--will-topic", "cli5/will/c5-back",
			      "--will-payload", "should not appear", "-D", "will", "will-delay-interval", "5", NULL};
	pid_t willer = spawn_tool(args, 30, ppath, fds[0]);
	close(fds[0]);
	if (!log_wait_count(&broker, "client c5-back connected", 1, WAIT_MS)) {
		kill_tool(willer);
		kill_tool(watcher);
		close(fds[1]);
		cr_assert_fail("mosquitto_pub with a will did not connect");
	}
	kill_tool(willer);
	close(fds[1]);
	cr_assert(log_wait_count(&broker, "client c5-back (", 1, WAIT_MS));
	/* the same client id comes back (resuming the session) and leaves normally */
	const char *back[] = {"-i", "c5-back", "-c", "-x", "60", "-t", "cli5/other", "-m", "back", NULL};
	cr_assert_eq(run_pub5(back), 0);
	sleep_ms(7000);
	slurp(wpath, text, sizeof(text));
	kill_tool(watcher);
	cr_assert_str_eq(text, "", "will published though the client came back within the delay");
}

Test(cli5, MQTT_3_1_2_8_mosquitto_pub_will_without_session_goes_at_once)
{
	char wpath[160], ppath[160], text[512];
	out_path(wpath, sizeof(wpath), "watch");
	out_path(ppath, sizeof(ppath), "willer");
	const char *extra[] = {"-C", "1", "-F", "%t|%p", NULL};
	pid_t watcher = start_sub5("c5-watch3", "cli5/will/#", "1", extra, wpath);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	/* no -x: session expiry 0, so the session ends with the connection and
	 * the will cannot wait for its 3600 s delay */
	const char *args[] = {"mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-short",
			      "-t", "cli5/other", "-l", "--will-topic", "cli5/will/c5-short",
			      "--will-payload", "session over", "-D", "will", "will-delay-interval", "3600", NULL};
	pid_t willer = spawn_tool(args, 30, ppath, fds[0]);
	close(fds[0]);
	if (!log_wait_count(&broker, "client c5-short connected", 1, WAIT_MS)) {
		kill_tool(willer);
		kill_tool(watcher);
		close(fds[1]);
		cr_assert_fail("mosquitto_pub with a will did not connect");
	}
	kill_tool(willer);
	close(fds[1]);
	int rc = wait_tool(watcher, 40000);
	slurp(wpath, text, sizeof(text));
	cr_assert_eq(rc, 0, "watcher exit %d: no will when the session ended", rc);
	cr_assert_str_eq(text, "cli5/will/c5-short|session over\n");
}

/* --- more 5.0 behaviour through libmosquitto ------------------------------ */

/* The subscriber allows one (then two) unacknowledged QoS 1/2 PUBLISH at a
 * time: everything still arrives, in order. */
static void receive_maximum_round(int receive_max)
{
	struct c5 sub, pub;
	char id[32];
	snprintf(id, sizeof(id), "rm%d-sub", receive_max);
	c5_new(&sub, id, true, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_int_option(sub.m, MOSQ_OPT_RECEIVE_MAXIMUM, receive_max), MOSQ_ERR_SUCCESS);
	c5_connect_to(&sub, broker.port, NULL);
	c5_open(&pub, "rm-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "rm/#", 2, 0, NULL, both + 1, 1);
	const int n = 40;
	for (int k = 0; k < n; k++) {
		char payload[16];
		snprintf(payload, sizeof(payload), "m%02d", k);
		c5_publish(&pub, "rm/t", payload, k % 2 ? 2 : 1, false, NULL);
	}
	cr_assert(pump(both, 2, &sub.received, n, WAIT_MS), "receive maximum %d: %d of %d delivered", receive_max,
		  sub.received, n);
	/* in order per QoS [MQTT-4.6.0-6]: libmosquitto hands a QoS 2 message
	 * over at PUBREL, so across QoS levels the callbacks interleave */
	for (int q = 1; q <= 2; q++) {
		int next = q == 1 ? 0 : 1;
		for (int k = 0; k < n; k++) {
			if (sub.rx[k].qos != q)
				continue;
			char payload[16];
			snprintf(payload, sizeof(payload), "m%02d", next);
			cr_assert_str_eq(sub.rx[k].payload, payload, "QoS %d: %s where %s was next", q, sub.rx[k].payload,
					 payload);
			next += 2;
		}
		cr_assert_eq(next, n + (q == 1 ? 0 : 1), "QoS %d: messages missing or at the wrong QoS", q);
	}
	cr_assert_eq(sub.disconnects, 0, "subscriber disconnected, reason 0x%02x", sub.disconnect_rc);
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_4_9_receive_maximum_1_of_the_client_everything_arrives_in_order)
{
	receive_maximum_round(1);
}

Test(libmosquitto5, MQTT_3_3_4_9_receive_maximum_2_of_the_client_everything_arrives_in_order)
{
	receive_maximum_round(2);
}

Test(libmosquitto5, MQTT_3_1_2_24_no_packet_above_the_clients_maximum_packet_size)
{
	struct c5 sub, pub;
	c5_new(&sub, "mps-sub", true, MQTT_PROTOCOL_V5);
	mosquitto_property *cp = NULL;
	mosquitto_property_add_int32(&cp, MQTT_PROP_MAXIMUM_PACKET_SIZE, 512);
	c5_connect_to(&sub, broker.port, cp);
	mosquitto_property_free_all(&cp);
	c5_open(&pub, "mps-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "mps/#", 1, 0, NULL, both + 1, 1);
	char big[1001];
	memset(big, 'x', 1000);
	big[1000] = '\0';
	int m1 = c5_publish(&pub, "mps/t", "small 1", 1, false, NULL);
	int m2 = c5_publish(&pub, "mps/t", big, 1, false, NULL);
	c5_publish(&pub, "mps/t", big, 0, false, NULL);
	int m3 = c5_publish(&pub, "mps/t", "small 2", 1, false, NULL);
	/* just under the limit with properties: 512 - fixed header - topic... */
	mosquitto_property *up = NULL;
	mosquitto_property_add_string_pair(&up, MQTT_PROP_USER_PROPERTY, "pad", big + 500); /* 500 bytes */
	c5_publish(&pub, "mps/t", "props too big", 1, false, up);
	mosquitto_property_free_all(&up);
	c5_publish(&pub, "mps/t", "small 3", 1, false, NULL);
	cr_assert(pump(both, 2, &sub.received, 3, WAIT_MS), "received %d of the 3 small ones", sub.received);
	cr_assert(pump(both, 2, &pub.published, 6, WAIT_MS));
	pump_for(both, 2, GRACE_MS);
	cr_assert_eq(sub.received, 3, "%d messages: an oversize one was sent", sub.received);
	cr_assert_str_eq(sub.rx[0].payload, "small 1");
	cr_assert_str_eq(sub.rx[1].payload, "small 2");
	cr_assert_str_eq(sub.rx[2].payload, "small 3");
	cr_assert_eq(sub.disconnects, 0, "subscriber disconnected, reason 0x%02x", sub.disconnect_rc);
	cr_assert_eq(pub_reason(&pub, m1), 0);
	cr_assert_eq(pub_reason(&pub, m2), 0, "PUBACK 0x%02x for the big one", pub_reason(&pub, m2));
	cr_assert_eq(pub_reason(&pub, m3), 0);
	c5_close(&sub);
	c5_close(&pub);
}

/* A retained message is there before each subscription. */
Test(libmosquitto5, MQTT_3_3_1_10_retain_handling_1_sends_retained_only_for_a_new_subscription)
{
	struct c5 pub, sub;
	c5_open(&pub, "rh-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	c5_publish(&pub, "rh/state", "retained", 1, true, NULL);
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	c5_open(&sub, "rh1-sub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "rh/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEW, NULL, both + 1, 1);
	cr_assert(pump(both, 2, &sub.received, 1, WAIT_MS), "new subscription with Retain Handling 1 got nothing");
	cr_assert(sub.rx[0].retain);
	/* the same subscription again: it exists, so nothing this time */
	c5_subscribe(&sub, "rh/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEW, NULL, both + 1, 1);
	/* a marker proves the broker has handled the SUBSCRIBE and moved on */
	c5_publish(&pub, "rh/marker", "marker", 1, false, NULL);
	cr_assert(pump(both, 2, &sub.received, 2, WAIT_MS));
	pump_for(both, 2, GRACE_MS);
	cr_assert_eq(sub.received, 2, "retained message sent again for an existing subscription");
	cr_assert_str_eq(sub.rx[1].payload, "marker");
	/* Retain Handling 0 sends it on every SUBSCRIBE [MQTT-3.3.1-9] */
	c5_subscribe(&sub, "rh/#", 1, MQTT_SUB_OPT_SEND_RETAIN_ALWAYS, NULL, both + 1, 1);
	cr_assert(pump(both, 2, &sub.received, 3, WAIT_MS), "Retain Handling 0 on an existing subscription sent nothing");
	cr_assert_str_eq(sub.rx[2].payload, "retained");
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_1_11_retain_handling_2_never_sends_retained)
{
	struct c5 pub, sub;
	c5_open(&pub, "rh2-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	c5_publish(&pub, "rh2/state", "retained", 1, true, NULL);
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	c5_open(&sub, "rh2-sub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "rh2/#", 1, MQTT_SUB_OPT_SEND_RETAIN_NEVER, NULL, both + 1, 1);
	c5_publish(&pub, "rh2/marker", "marker", 1, false, NULL);
	cr_assert(pump(both, 2, &sub.received, 1, WAIT_MS));
	pump_for(both, 2, GRACE_MS);
	cr_assert_eq(sub.received, 1, "retained message sent with Retain Handling 2");
	cr_assert_str_eq(sub.rx[0].payload, "marker");
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_4_2_overlapping_subscriptions_with_one_identifier_get_one_copy_at_the_highest_qos)
{
	struct c5 sub, pub;
	c5_open(&sub, "os-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "os-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	mosquitto_property *props = NULL;
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 5);
	c5_subscribe(&sub, "os/#", 0, 0, props, both + 1, 1);
	c5_subscribe(&sub, "os/+", 2, 0, props, both + 1, 1);
	mosquitto_property_free_all(&props);
	c5_publish(&pub, "os/x", "once", 2, false, NULL);
	cr_assert(pump(both, 2, &sub.received, 1, WAIT_MS));
	pump_for(both, 2, GRACE_MS);
	cr_assert_eq(sub.received, 1, "%d copies", sub.received);
	cr_assert_eq(sub.rx[0].qos, 2, "delivered at QoS %d, the subscriptions allow 0 and 2", sub.rx[0].qos);
	uint32_t id = 0;
	cr_assert(mosquitto_property_read_varint(sub.rx[0].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false));
	cr_assert_eq(id, 5u);
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_9_3_1_suback_codes_in_order_shared_subscription_granted)
{
	struct c5 c;
	c5_open(&c, "sh-client", MQTT_PROTOCOL_V5);
	char *filters[] = {"sh/a/#", "$share/group/sh/b", "sh/c"};
	int before = c.subscribed;
	cr_assert_eq(mosquitto_subscribe_multiple(c.m, NULL, 3, filters, 1, 0, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&c};
	cr_assert(pump(one, 1, &c.subscribed, before + 1, WAIT_MS));
	cr_assert_eq(c.n_granted, 3);
	cr_assert_eq(c.granted[0], 1);
	cr_assert_eq(c.granted[1], 1, "$share filter: 0x%02x, not granted QoS 1", c.granted[1]);
	cr_assert_eq(c.granted[2], 1);
	c5_close(&c);
}

/* Shared subscriptions are open to 3.1.1 clients too (4.8.2): a 3.1.1
 * member of "$share/group/sh/t" gets what a 5.0 client publishes on sh/t,
 * and nothing published on the literal topic "$share/group/sh/t". */
Test(mixed, MQTT_4_8_2_v311_client_is_a_shared_subscription_member)
{
	struct c5 s311, p5;
	c5_open(&s311, "sh-311", MQTT_PROTOCOL_V311);
	c5_open(&p5, "sh-pub5", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&s311, &p5};
	c5_subscribe(&s311, "$share/group/sh/t", 1, 0, NULL, both + 1, 1);
	c5_publish(&p5, "$share/group/sh/t", "literal", 1, false, NULL);
	c5_publish(&p5, "sh/t", "shared target", 1, false, NULL);
	cr_assert(pump(both, 2, &s311.received, 1, WAIT_MS));
	pump_for(both, 2, GRACE_MS);
	cr_assert_eq(s311.received, 1);
	cr_assert_str_eq(s311.rx[0].payload, "shared target");
	c5_close(&s311);
	c5_close(&p5);
}

Test(libmosquitto5, MQTT_3_14_2_2_2_disconnect_with_session_expiry_0_ends_the_session)
{
	struct c5 sub;
	c5_open_session(&sub, "dz-sub", 300);
	c5_sub(&sub, "dz/#", 1);
	mosquitto_property *dp = NULL;
	mosquitto_property_add_int32(&dp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 0);
	cr_assert_eq(mosquitto_disconnect_v5(sub.m, 0, dp), MOSQ_ERR_SUCCESS);
	mosquitto_property_free_all(&dp);
	struct c5 *s[] = {&sub};
	pump(s, 1, &sub.disconnects, 1, WAIT_MS);
	c5_free(&sub);
	cr_assert(log_wait_count(&broker, "client dz-sub (", 1, WAIT_MS));
	c5_open_session(&sub, "dz-sub", 300);
	cr_assert_eq(sub.connack_flags & 1, 0, "session present after DISCONNECT with Session Expiry Interval 0");
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_14_2_2_2_disconnect_cannot_give_a_session_to_a_connection_that_had_none)
{
	struct c5 sub, pub;
	c5_new(&sub, "dn-sub", false, MQTT_PROTOCOL_V5); /* Clean Start 0, Session Expiry Interval 0 */
	c5_connect_to(&sub, broker.port, NULL);
	c5_sub(&sub, "dn/#", 1);
	mosquitto_property *dp = NULL;
	mosquitto_property_add_int32(&dp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 300);
	cr_assert_eq(mosquitto_disconnect_v5(sub.m, 0, dp), MOSQ_ERR_SUCCESS);
	mosquitto_property_free_all(&dp);
	struct c5 *s[] = {&sub};
	pump(s, 1, &sub.disconnects, 1, WAIT_MS);
	c5_free(&sub);
	cr_assert(log_wait_count(&broker, "client dn-sub (", 1, WAIT_MS));
	c5_open(&pub, "dn-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	int mid = c5_publish(&pub, "dn/t", "nobody", 1, false, NULL);
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	cr_assert_eq(pub_reason(&pub, mid), MQTT_RC_NO_MATCHING_SUBSCRIBERS, "the session survived: PUBACK 0x%02x",
		     pub_reason(&pub, mid));
	c5_close(&pub);
	c5_open_session(&sub, "dn-sub", 300);
	cr_assert_eq(sub.connack_flags & 1, 0, "session present: DISCONNECT turned interval 0 into 300");
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_3_2_4_payload_format_indicator_1_with_invalid_utf8_refused_0x99)
{
	struct c5 sub, pub;
	c5_open(&sub, "pf-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "pf-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "pf/#", 2, 0, NULL, both + 1, 1);
	mosquitto_property *props = NULL;
	mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
	int m1 = c5_publish(&pub, "pf/t", "bad \xff\xfe utf-8", 1, false, props);
	int m2 = c5_publish(&pub, "pf/t", "bad \xc0\xaf overlong", 2, false, props);
	int m3 = c5_publish(&pub, "pf/t", "good \xc3\xa9", 1, false, props);
	mosquitto_property_free_all(&props);
	cr_assert(pump(both, 2, &pub.published, 3, WAIT_MS), "%d of 3 publish flows ended", pub.published);
	cr_assert_eq(pub_reason(&pub, m1), MQTT_RC_PAYLOAD_FORMAT_INVALID, "QoS 1: PUBACK 0x%02x", pub_reason(&pub, m1));
	cr_assert_eq(pub_reason(&pub, m2), MQTT_RC_PAYLOAD_FORMAT_INVALID, "QoS 2: PUBREC 0x%02x", pub_reason(&pub, m2));
	cr_assert_eq(pub_reason(&pub, m3), 0);
	cr_assert(pump(both, 2, &sub.received, 1, WAIT_MS));
	pump_for(both, 2, GRACE_MS);
	cr_assert_eq(sub.received, 1, "a payload refused with 0x99 was delivered");
	cr_assert_str_eq(sub.rx[0].payload, "good \xc3\xa9");
	cr_assert_eq(pub.disconnects, 0);
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_1_2_29_request_problem_information_0_no_reason_string_on_acks)
{
	struct c5 pub;
	c5_new(&pub, "rpi-pub", true, MQTT_PROTOCOL_V5);
	mosquitto_property *cp = NULL;
	mosquitto_property_add_byte(&cp, MQTT_PROP_REQUEST_PROBLEM_INFORMATION, 0);
	c5_connect_to(&pub, broker.port, cp);
	mosquitto_property_free_all(&cp);
	mosquitto_property *props = NULL;
	mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
	int m1 = c5_publish(&pub, "rpi/t", "\xff", 1, false, props);
	mosquitto_property_free_all(&props);
	int m2 = c5_publish(&pub, "rpi/t", "nobody listens", 1, false, NULL);
	struct c5 *p[] = {&pub};
	cr_assert(pump(p, 1, &pub.published, 2, WAIT_MS));
	cr_assert_eq(pub_reason(&pub, m1), MQTT_RC_PAYLOAD_FORMAT_INVALID);
	cr_assert_eq(pub_reason(&pub, m2), MQTT_RC_NO_MATCHING_SUBSCRIBERS);
	cr_assert_not(pub.pub_diag[0] || pub.pub_diag[1], "Reason String / User Property on a PUBACK after "
							    "Request Problem Information 0");
	/* (The DISCONNECT side cannot be checked here: libmosquitto 2.0.11 does
	 * not hand the server's DISCONNECT properties to the callback.) */
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_2_17_user_properties_larger_than_16_KiB_forwarded_unaltered)
{
	struct c5 sub, pub;
	c5_open(&sub, "big-sub", MQTT_PROTOCOL_V5);
	c5_open(&pub, "big-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	c5_subscribe(&sub, "big/#", 1, 0, NULL, both + 1, 1);
	/* 300 pairs of ~70 bytes: the property length needs a 3-byte varint */
	mosquitto_property *props = NULL;
	static char expected[32768];
	expected[0] = '\0';
	size_t used = 0;
	for (int k = 0; k < 300; k++) {
		char key[16], value[80];
		snprintf(key, sizeof(key), "key-%03d", k);
		snprintf(value, sizeof(value), "value %03d %.*s", k, 50 + k % 7,
			 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
		mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, key, value);
		used += (size_t)snprintf(expected + used, sizeof(expected) - used, "%s=%s;", key, value);
	}
	c5_publish(&pub, "big/props", "payload", 1, false, props);
	c5_publish(&pub, "big/props", "payload q0", 0, false, props);
	mosquitto_property_free_all(&props);
	cr_assert(pump(both, 2, &sub.received, 2, WAIT_MS), "received %d of 2", sub.received);
	static char got[32768];
	for (int i = 0; i < 2; i++) {
		user_props(sub.rx[i].props, got, sizeof(got));
		cr_assert_eq(count_prop(sub.rx[i].props, MQTT_PROP_USER_PROPERTY), 300);
		cr_assert(strcmp(got, expected) == 0, "user properties altered (%zu bytes, %zu expected)", strlen(got),
			  strlen(expected));
	}
	cr_assert_eq(sub.disconnects, 0);
	c5_close(&sub);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_1_5_retained_message_keeps_its_properties)
{
	struct c5 pub, sub;
	c5_open(&pub, "rp-pub", MQTT_PROTOCOL_V5);
	mosquitto_property *props = NULL;
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "u1", "a");
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "u2", "b");
	mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "text/x-state");
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "rp/reply");
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "\x01\x02", 2);
	mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
	mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 60);
	c5_publish(&pub, "rp/state", "on", 2, true, props);
	mosquitto_property_free_all(&props);
	struct c5 *p[] = {&pub};
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	c5_close(&pub);
	sleep_ms(2200);
	c5_open(&sub, "rp-sub", MQTT_PROTOCOL_V5);
	c5_sub(&sub, "rp/#", 2);
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, 1, WAIT_MS), "retained message not sent");
	const mosquitto_property *r = sub.rx[0].props;
	cr_assert(sub.rx[0].retain);
	cr_assert_eq(sub.rx[0].qos, 2);
	char got[128], ct[64] = "", rt[64] = "";
	user_props(r, got, sizeof(got));
	cr_assert_str_eq(got, "u1=a;u2=b;");
	cr_assert(read_string_prop(r, MQTT_PROP_CONTENT_TYPE, ct, sizeof(ct)));
	cr_assert_str_eq(ct, "text/x-state");
	cr_assert(read_string_prop(r, MQTT_PROP_RESPONSE_TOPIC, rt, sizeof(rt)));
	cr_assert_str_eq(rt, "rp/reply");
	void *cd = NULL;
	uint16_t cd_len = 0;
	cr_assert(mosquitto_property_read_binary(r, MQTT_PROP_CORRELATION_DATA, &cd, &cd_len, false));
	cr_assert(cd_len == 2 && memcmp(cd, "\x01\x02", 2) == 0);
	free(cd);
	uint8_t pfi = 0;
	cr_assert(mosquitto_property_read_byte(r, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, &pfi, false));
	cr_assert_eq(pfi, 1);
	uint32_t left = 0;
	cr_assert(read_int32_prop(r, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &left));
	cr_assert(left <= 59 && left > 0, "retained 2.2 s ago with 60 s: Message Expiry Interval %u [MQTT-3.3.2-6]", left);
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_2_2_21_server_keep_alive_when_above_max_keepalive)
{
	struct hb own;
	hb_start(&own, "max_keepalive 30");
	struct c5 a, b, z;
	c5_new(&a, "ka-60", true, MQTT_PROTOCOL_V5);
	c5_connect_to(&a, own.port, NULL); /* keepalive 60 */
	uint16_t ska = 0;
	cr_assert(mosquitto_property_read_int16(a.connack_props, MQTT_PROP_SERVER_KEEP_ALIVE, &ska, false),
		  "no Server Keep Alive for keepalive 60 > max_keepalive 30");
	cr_assert_eq(ska, 30);
	c5_close(&a);
	c5_new(&b, "ka-20", true, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_connect_bind_v5(b.m, "127.0.0.1", own.port, 20, NULL, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&b};
	cr_assert(pump(one, 1, &b.connacks, 1, WAIT_MS));
	cr_assert_eq(b.connack_rc, 0);
	if (mosquitto_property_read_int16(b.connack_props, MQTT_PROP_SERVER_KEEP_ALIVE, &ska, false))
		cr_assert_eq(ska, 20, "Server Keep Alive %u for keepalive 20 within the limit", ska);
	c5_close(&b);
	c5_new(&z, "ka-0", true, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_connect_bind_v5(z.m, "127.0.0.1", own.port, 0, NULL, NULL), MOSQ_ERR_SUCCESS);
	one[0] = &z;
	cr_assert(pump(one, 1, &z.connacks, 1, WAIT_MS));
	cr_assert_eq(z.connack_rc, 0);
	cr_assert(mosquitto_property_read_int16(z.connack_props, MQTT_PROP_SERVER_KEEP_ALIVE, &ska, false),
		  "no Server Keep Alive for keepalive 0 under max_keepalive 30");
	cr_assert_eq(ska, 30);
	c5_close(&z);
	cr_assert_eq(hb_stop(&own), 0);
}

Test(libmosquitto5, MQTT_3_1_2_22_keepalive_timeout_disconnects_with_0x8D)
{
	struct c5 c;
	c5_new(&c, "kt-client", true, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_connect_bind_v5(c.m, "127.0.0.1", broker.port, 5, NULL, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&c};
	cr_assert(pump(one, 1, &c.connacks, 1, WAIT_MS));
	cr_assert_eq(c.connack_rc, 0);
	/* silent: no loop, so no PINGREQ; the broker gives up after 7.5 s */
	double t0 = now_s();
	cr_assert(log_wait_count(&broker, "client kt-client (", 1, 30000), "not disconnected after 30 s of silence");
	double took = now_s() - t0;
	cr_assert(took >= 5.0, "disconnected after %.1f s of silence, keepalive 5 s", took);
	cr_assert(pump(one, 1, &c.disconnects, 1, WAIT_MS));
	cr_assert_eq(c.disconnect_rc, MQTT_RC_KEEP_ALIVE_TIMEOUT, "disconnect reason 0x%02x, not 0x8D", c.disconnect_rc);
	c5_free(&c);
}

Test(libmosquitto5, MQTT_3_2_2_13_retained_will_refused_0x9A_when_retain_is_unavailable)
{
	struct hb own;
	hb_start(&own, "retain_available false");
	struct c5 plain, w;
	c5_new(&plain, "ra-plain", true, MQTT_PROTOCOL_V5);
	c5_connect_to(&plain, own.port, NULL);
	uint8_t ra = 0xff;
	cr_assert(mosquitto_property_read_byte(plain.connack_props, MQTT_PROP_RETAIN_AVAILABLE, &ra, false),
		  "no Retain Available with retain_available false");
	cr_assert_eq(ra, 0);
	c5_close(&plain);
	c5_new(&w, "ra-will", true, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_will_set_v5(w.m, "ra/will", 1, "x", 1, true, NULL), MOSQ_ERR_SUCCESS);
	cr_assert_eq(mosquitto_connect_bind_v5(w.m, "127.0.0.1", own.port, 60, NULL, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&w};
	cr_assert(pump(one, 1, &w.connacks, 1, WAIT_MS), "no CONNACK");
	cr_assert_eq(w.connack_rc, MQTT_RC_RETAIN_NOT_SUPPORTED, "CONNACK 0x%02x for a retained will", w.connack_rc);
	c5_free(&w);
	cr_assert_eq(hb_stop(&own), 0);
}

Test(mixed, MQTT_3_3_2_5_expired_message_not_delivered_to_an_offline_v311_session)
{
	struct c5 s311, p5;
	c5_new(&s311, "mxe-311", false, MQTT_PROTOCOL_V311); /* clean session 0 */
	c5_connect_to(&s311, broker.port, NULL);
	c5_sub(&s311, "mxe/#", 1);
	c5_close(&s311);
	cr_assert(log_wait_count(&broker, "client mxe-311 (", 1, WAIT_MS));
	c5_open(&p5, "mxe-pub5", MQTT_PROTOCOL_V5);
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
	c5_publish(&p5, "mxe/short", "expires", 1, false, props);
	mosquitto_property_free_all(&props);
	c5_publish(&p5, "mxe/long", "stays", 1, false, NULL);
	struct c5 *p[] = {&p5};
	cr_assert(pump(p, 1, &p5.published, 2, WAIT_MS));
	c5_close(&p5);
	sleep_ms(3000);
	c5_new(&s311, "mxe-311", false, MQTT_PROTOCOL_V311);
	c5_connect_to(&s311, broker.port, NULL);
	cr_assert(s311.connack_flags & 1, "3.1.1 session not present");
	struct c5 *s[] = {&s311};
	cr_assert(pump(s, 1, &s311.received, 1, WAIT_MS));
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(s311.received, 1, "expired message delivered to the 3.1.1 session");
	cr_assert_str_eq(s311.rx[0].payload, "stays");
	c5_close(&s311);
}

/* mosquitto_rr publishes a request with a Response Topic (and Correlation
 * Data) and waits for the answer; a libmosquitto responder answers it. */
Test(cli5, MQTT_3_3_2_15_mosquitto_rr_request_response)
{
	struct c5 responder;
	c5_open(&responder, "rr-svc", MQTT_PROTOCOL_V5);
	c5_sub(&responder, "cli5/rr/req", 1);
	char path[160], text[512];
	out_path(path, sizeof(path), "rr");
	const char *args[] = {"mosquitto_rr", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-rr",
			      "-t", "cli5/rr/req", "-e", "cli5/rr/resp", "-m", "ping", "-q", "1", "-W", "25", NULL};
	pid_t rr = spawn_tool(args, 30, path, -1);
	struct c5 *one[] = {&responder};
	if (!pump(one, 1, &responder.received, 1, WAIT_MS)) {
		kill_tool(rr);
		cr_assert_fail("mosquitto_rr's request never arrived");
	}
	char rt[128] = "";
	bool have_rt = read_string_prop(responder.rx[0].props, MQTT_PROP_RESPONSE_TOPIC, rt, sizeof(rt));
	void *cd = NULL;
	uint16_t cd_len = 0;
	mosquitto_property_read_binary(responder.rx[0].props, MQTT_PROP_CORRELATION_DATA, &cd, &cd_len, false);
	mosquitto_property *resp = NULL;
	if (cd)
		mosquitto_property_add_binary(&resp, MQTT_PROP_CORRELATION_DATA, cd, cd_len);
	free(cd);
	if (have_rt)
		c5_publish(&responder, rt, "pong", 1, false, resp);
	mosquitto_property_free_all(&resp);
	pump_for(one, 1, 200);
	int rc = wait_tool(rr, 40000);
	slurp(path, text, sizeof(text));
	c5_close(&responder);
	cr_assert(have_rt, "the request reached the responder without its Response Topic");
	cr_assert_str_eq(rt, "cli5/rr/resp");
	cr_assert_str_eq(responder.rx[0].payload, "ping");
	cr_assert_eq(rc, 0, "mosquitto_rr exit %d, printed '%s'", rc, text);
	cr_assert_str_eq(text, "pong\n");
}

/* -D connect receive-maximum 1 on mosquitto_sub; mosquitto_pub -l sends one
 * message per stdin line. */
Test(cli5, MQTT_3_3_4_9_mosquitto_sub_receive_maximum_1)
{
	char path[160], lines_path[160], text[1024], want[1024] = "";
	out_path(path, sizeof(path), "sub");
	snprintf(lines_path, sizeof(lines_path), "%s/lines.txt", broker.dir);
	FILE *f = fopen(lines_path, "w");
	cr_assert(f);
	for (int k = 0; k < 20; k++) {
		fprintf(f, "line %02d\n", k);
		size_t used = strlen(want);
		snprintf(want + used, sizeof(want) - used, "line %02d 2\n", k);
	}
	fclose(f);
	const char *extra[] = {"-C", "20", "-F", "%p %q", "-D", "connect", "receive-maximum", "1", NULL};
	pid_t sub = start_sub5("c5-rm1", "cli5/rm", "2", extra, path);
	int in = open(lines_path, O_RDONLY);
	cr_assert(in >= 0);
	char ppath[160];
	out_path(ppath, sizeof(ppath), "pub");
	const char *args[] = {"mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-t", "cli5/rm",
			      "-q", "2", "-l", NULL};
	int prc = wait_tool(spawn_tool(args, 30, ppath, in), 40000);
	close(in);
	int rc = wait_tool(sub, 40000);
	slurp(path, text, sizeof(text));
	cr_assert_eq(prc, 0, "mosquitto_pub -l exit %d", prc);
	cr_assert_eq(rc, 0, "mosquitto_sub exit %d, printed:\n%s", rc, text);
	cr_assert_str_eq(text, want);
}

/* --- more sessions, wills and refusals -------------------------------------- */

Test(libmosquitto5, MQTT_3_8_4_3_resubscribing_replaces_identifier_and_options)
{
	struct c5 c;
	c5_open(&c, "rs-client", MQTT_PROTOCOL_V5);
	struct c5 *one[] = {&c};
	mosquitto_property *props = NULL;
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 1);
	c5_subscribe(&c, "rs/#", 1, MQTT_SUB_OPT_NO_LOCAL, props, NULL, 0);
	mosquitto_property_free_all(&props);
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 2);
	/* the same filter again: replaces it, so No Local is off and the
	 * identifier is 2 */
	c5_subscribe(&c, "rs/#", 1, 0, props, NULL, 0);
	mosquitto_property_free_all(&props);
	c5_publish(&c, "rs/t", "mine", 1, false, NULL);
	cr_assert(pump(one, 1, &c.received, 1, WAIT_MS), "No Local of the replaced subscription still applies");
	uint32_t id = 0;
	cr_assert_eq(count_prop(c.rx[0].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), 1);
	cr_assert(mosquitto_property_read_varint(c.rx[0].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false));
	cr_assert_eq(id, 2u, "identifier %u after resubscribing with 2", id);
	/* and once more without an identifier: none */
	c5_subscribe(&c, "rs/#", 1, 0, NULL, NULL, 0);
	c5_publish(&c, "rs/t", "again", 1, false, NULL);
	cr_assert(pump(one, 1, &c.received, 2, WAIT_MS));
	pump_for(one, 1, GRACE_MS);
	cr_assert_eq(c.received, 2, "%d copies: the subscription was added, not replaced", c.received);
	cr_assert_eq(count_prop(c.rx[1].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER), 0,
		     "identifier kept after resubscribing without one");
	c5_close(&c);
}

/* The client's limits apply to what waited for it too. */
Test(libmosquitto5, MQTT_3_3_4_9_receive_maximum_1_applies_to_a_resumed_session_backlog)
{
	struct c5 sub, pub;
	c5_open_session(&sub, "rb-sub", 300);
	c5_sub(&sub, "rb/#", 2);
	c5_close(&sub);
	cr_assert(log_wait_count(&broker, "client rb-sub (", 1, WAIT_MS));
	/* the backlog comes from a 3.1.1 publisher: a 5.0 one sending this
	 * burst trips the broker's own Receive Maximum check, which
	 * MQTT_3_3_4_7_qos2_burst_within_receive_maximum_... covers */
	c5_open(&pub, "rb-pub", MQTT_PROTOCOL_V311);
	const int n = 30;
	for (int k = 0; k < n; k++) {
		char payload[16];
		snprintf(payload, sizeof(payload), "q%02d", k);
		c5_publish(&pub, "rb/t", payload, 2, false, NULL);
	}
	struct c5 *p[] = {&pub};
	pump(p, 1, &pub.published, n, WAIT_MS);
	cr_assert_eq(pub.disconnects, 0, "publisher disconnected, reason 0x%02x, after %d of %d QoS 2 flows", pub.disconnect_rc,
		     pub.published, n);
	cr_assert_eq(pub.published, n, "%d of %d QoS 2 publish flows completed", pub.published, n);
	c5_close(&pub);
	c5_new(&sub, "rb-sub", false, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_int_option(sub.m, MOSQ_OPT_RECEIVE_MAXIMUM, 1), MOSQ_ERR_SUCCESS);
	mosquitto_property *cp = NULL;
	mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 300);
	c5_connect_to(&sub, broker.port, cp);
	mosquitto_property_free_all(&cp);
	cr_assert(sub.connack_flags & 1);
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, n, WAIT_MS), "%d of %d queued messages delivered", sub.received, n);
	for (int k = 0; k < n; k++) {
		char payload[16];
		snprintf(payload, sizeof(payload), "q%02d", k);
		cr_assert_str_eq(sub.rx[k].payload, payload, "queued message %d out of order", k);
		cr_assert_eq(sub.rx[k].qos, 2);
	}
	cr_assert_eq(sub.disconnects, 0);
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_1_2_25_oversize_retained_and_queued_messages_discarded)
{
	struct c5 pub, sub;
	char big[801];
	memset(big, 'y', 800);
	big[800] = '\0';
	c5_open(&pub, "mq2-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	c5_publish(&pub, "mq2/big", big, 1, true, NULL);
	c5_publish(&pub, "mq2/small", "small retained", 1, true, NULL);
	cr_assert(pump(p, 1, &pub.published, 2, WAIT_MS));

	c5_new(&sub, "mq2-sub", false, MQTT_PROTOCOL_V5);
	mosquitto_property *cp = NULL;
	mosquitto_property_add_int32(&cp, MQTT_PROP_MAXIMUM_PACKET_SIZE, 256);
	mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 300);
	c5_connect_to(&sub, broker.port, cp);
	c5_sub(&sub, "mq2/#", 1);
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, 1, WAIT_MS));
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(sub.received, 1, "%d retained messages: the oversize one was sent", sub.received);
	cr_assert_str_eq(sub.rx[0].payload, "small retained");
	c5_close(&sub);
	cr_assert(log_wait_count(&broker, "client mq2-sub (", 1, WAIT_MS));

	c5_publish(&pub, "mq2/q", big, 1, false, NULL);
	c5_publish(&pub, "mq2/q", "small queued", 1, false, NULL);
	cr_assert(pump(p, 1, &pub.published, 4, WAIT_MS));
	c5_close(&pub);
	c5_new(&sub, "mq2-sub", false, MQTT_PROTOCOL_V5);
	c5_connect_to(&sub, broker.port, cp);
	mosquitto_property_free_all(&cp);
	cr_assert(sub.connack_flags & 1);
	cr_assert(pump(s, 1, &sub.received, 1, WAIT_MS), "queued messages not delivered");
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(sub.received, 1, "%d queued messages: the oversize one was sent", sub.received);
	cr_assert_str_eq(sub.rx[0].payload, "small queued");
	cr_assert_eq(sub.disconnects, 0);
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_1_2_8_will_published_on_keepalive_timeout)
{
	struct c5 watcher, w;
	c5_open(&watcher, "kw-watcher", MQTT_PROTOCOL_V5);
	c5_sub(&watcher, "will/#", 1);
	c5_new(&w, "kw-client", true, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_will_set_v5(w.m, "will/kw", 7, "timeout", 1, false, NULL), MOSQ_ERR_SUCCESS);
	cr_assert_eq(mosquitto_connect_bind_v5(w.m, "127.0.0.1", broker.port, 5, NULL, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&w};
	cr_assert(pump(one, 1, &w.connacks, 1, WAIT_MS));
	/* w stays silent; the watcher is pumped */
	struct c5 *s[] = {&watcher};
	cr_assert(pump(s, 1, &watcher.received, 1, 30000), "no will after 30 s of silence with keepalive 5");
	cr_assert_str_eq(watcher.rx[0].payload, "timeout");
	c5_free(&w);
	c5_close(&watcher);
}

Test(libmosquitto5, MQTT_3_1_2_8_will_published_on_takeover_with_delay_0)
{
	struct c5 watcher, old, fresh;
	c5_open(&watcher, "tw-watcher", MQTT_PROTOCOL_V5);
	c5_sub(&watcher, "will/#", 1);
	open_with_will(&old, "tw-client", 0, 0);
	c5_open(&fresh, "tw-client", MQTT_PROTOCOL_V5);
	struct c5 *all[] = {&watcher, &old, &fresh};
	cr_assert(pump(all, 3, &old.disconnects, 1, WAIT_MS));
	cr_assert_eq(old.disconnect_rc, MQTT_RC_SESSION_TAKEN_OVER);
	/* the old connection closed without DISCONNECT 0x00 and its session ended */
	cr_assert(pump(all, 3, &watcher.received, 1, WAIT_MS), "no will for the connection taken over");
	cr_assert_str_eq(watcher.rx[0].payload, "gone");
	c5_free(&old);
	c5_close(&fresh);
	c5_close(&watcher);
}

Test(libmosquitto5, MQTT_3_1_3_9_takeover_within_the_will_delay_cancels_the_will)
{
	struct c5 watcher, old, fresh;
	c5_open(&watcher, "tc2-watcher", MQTT_PROTOCOL_V5);
	c5_sub(&watcher, "will/#", 1);
	open_with_will(&old, "tc2-client", 4, 60);
	c5_open_session(&fresh, "tc2-client", 60); /* Clean Start 0: the session goes on */
	cr_assert(fresh.connack_flags & 1);
	struct c5 *all[] = {&watcher, &old, &fresh};
	cr_assert(pump(all, 3, &old.disconnects, 1, WAIT_MS));
	c5_free(&old);
	struct c5 *two[] = {&watcher, &fresh};
	pump_for(two, 2, 6000);
	cr_assert_eq(watcher.received, 0, "will published though the session was resumed within the delay");
	c5_close(&fresh);
	c5_close(&watcher);
}

Test(libmosquitto5, MQTT_3_1_2_8_waiting_will_survives_a_broker_restart, .timeout = 120)
{
	struct c5 watcher, w;
	c5_open_session(&watcher, "wr-watcher", 300);
	c5_sub(&watcher, "will/#", 1);
	open_with_will(&w, "wr-client", 6, 300);
	double dropped = now_s();
	drop(&w);
	cr_assert(log_wait_count(&broker, "client wr-client (", 1, WAIT_MS));
	struct c5 *s[] = {&watcher};
	pump_for(s, 1, 200);
	cr_assert_eq(watcher.received, 0, "will published at once, delay 6 s");
	c5_free(&watcher);
	int status = hb_terminate(&broker, SIGTERM);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "broker exit status %d", status);
	hb_restart(&broker);
	c5_open_session(&watcher, "wr-watcher", 300);
	cr_assert(watcher.connack_flags & 1, "watcher session lost in the restart");
	cr_assert(pump(s, 1, &watcher.received, 1, 20000), "the waiting will was lost in the restart");
	double took = now_s() - dropped;
	cr_assert(took >= 5.0, "will delivered %.1f s after the drop, delay 6 s", took);
	cr_assert_str_eq(watcher.rx[0].topic, "will/topic");
	cr_assert_str_eq(watcher.rx[0].payload, "gone");
	char got[128];
	user_props(watcher.rx[0].props, got, sizeof(got));
	cr_assert_str_eq(got, "w1=first;w0=second;", "will properties after the restart: %s", got);
	pump_for(s, 1, GRACE_MS);
	cr_assert_eq(watcher.received, 1);
	c5_close(&watcher);
}

Test(libmosquitto5, MQTT_3_2_2_8_connack_0x99_for_a_will_payload_that_is_not_utf8)
{
	struct c5 w;
	c5_new(&w, "pfw-client", true, MQTT_PROTOCOL_V5);
	mosquitto_property *wp = NULL;
	mosquitto_property_add_byte(&wp, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
	cr_assert_eq(mosquitto_will_set_v5(w.m, "will/pf", 2, "\xff\xfe", 1, false, wp), MOSQ_ERR_SUCCESS);
	cr_assert_eq(mosquitto_connect_bind_v5(w.m, "127.0.0.1", broker.port, 60, NULL, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&w};
	cr_assert(pump(one, 1, &w.connacks, 1, WAIT_MS));
	cr_assert_eq(w.connack_rc, MQTT_RC_PAYLOAD_FORMAT_INVALID, "CONNACK 0x%02x", w.connack_rc);
	c5_free(&w);
}

Test(libmosquitto5, MQTT_3_2_2_8_connack_0x8C_for_an_authentication_method)
{
	struct c5 c;
	c5_new(&c, "am-client", true, MQTT_PROTOCOL_V5);
	mosquitto_property *cp = NULL;
	mosquitto_property_add_string(&cp, MQTT_PROP_AUTHENTICATION_METHOD, "SCRAM-SHA-1");
	cr_assert_eq(mosquitto_connect_bind_v5(c.m, "127.0.0.1", broker.port, 60, NULL, cp), MOSQ_ERR_SUCCESS);
	mosquitto_property_free_all(&cp);
	struct c5 *one[] = {&c};
	cr_assert(pump(one, 1, &c.connacks, 1, WAIT_MS));
	cr_assert_eq(c.connack_rc, MQTT_RC_BAD_AUTHENTICATION_METHOD, "CONNACK 0x%02x", c.connack_rc);
	c5_free(&c);
}

Test(libmosquitto5, MQTT_3_2_2_8_connack_0x87_when_anonymous_is_not_allowed)
{
	struct hb own;
	hb_start_raw(&own, "listener %PORT% 127.0.0.1\nallow_anonymous false\nlog_type all\n");
	struct c5 c;
	c5_new(&c, "an-client", true, MQTT_PROTOCOL_V5);
	cr_assert_eq(mosquitto_connect_bind_v5(c.m, "127.0.0.1", own.port, 60, NULL, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&c};
	cr_assert(pump(one, 1, &c.connacks, 1, WAIT_MS));
	cr_assert_eq(c.connack_rc, MQTT_RC_NOT_AUTHORIZED, "CONNACK 0x%02x", c.connack_rc);
	c5_free(&c);
	cr_assert_eq(hb_stop(&own), 0);
}

Test(mixed, MQTT_3_1_4_2_v311_keepalive_above_max_keepalive_refused_v5_accepted)
{
	struct hb own;
	hb_start(&own, "max_keepalive 30");
	struct c5 c3, c5c;
	c5_new(&c3, "mk-311", true, MQTT_PROTOCOL_V311);
	cr_assert_eq(mosquitto_connect_bind_v5(c3.m, "127.0.0.1", own.port, 60, NULL, NULL), MOSQ_ERR_SUCCESS);
	struct c5 *one[] = {&c3};
	cr_assert(pump(one, 1, &c3.connacks, 1, WAIT_MS));
	cr_assert_eq(c3.connack_rc, 2, "3.1.1 CONNACK return code %d for keepalive 60 > 30", c3.connack_rc);
	c5_free(&c3);
	c5_new(&c5c, "mk-5", true, MQTT_PROTOCOL_V5);
	c5_connect_to(&c5c, own.port, NULL);
	c5_close(&c5c);
	cr_assert_eq(hb_stop(&own), 0);
}

/* The broker's Receive Maximum is 20: a 5.0 client may have 20 QoS 1/2
 * PUBLISH unacknowledged (QoS 2: until PUBCOMP) [MQTT-3.3.4-7]. libmosquitto
 * keeps to that by itself. When the messages are stored (a persistent
 * subscriber, or retained) the burst must still go through. */
static void qos2_burst(const char *topic, bool retain, int n)
{
	struct c5 pub;
	c5_open(&pub, "qb-pub", MQTT_PROTOCOL_V5);
	uint16_t rm = 0;
	cr_assert(mosquitto_property_read_int16(pub.connack_props, MQTT_PROP_RECEIVE_MAXIMUM, &rm, false));
	cr_assert_eq(rm, 20);
	for (int k = 0; k < n; k++) {
		char payload[16];
		snprintf(payload, sizeof(payload), "b%02d", k);
		c5_publish(&pub, topic, payload, 2, retain, NULL);
	}
	double deadline = now_s() + WAIT_MS / 1000.0;
	while (pub.published < n && pub.disconnects == 0 && now_s() < deadline)
		mosquitto_loop(pub.m, 10, 1);
	cr_assert_eq(pub.disconnects, 0,
		     "publisher disconnected, reason 0x%02x, after %d of %d QoS 2 flows (0x93: the broker counted more "
		     "than its Receive Maximum %u unacknowledged)",
		     pub.disconnect_rc, pub.published, n, rm);
	cr_assert_eq(pub.published, n, "%d of %d QoS 2 flows completed", pub.published, n);
	for (int k = 0; k < n && k < 64; k++)
		cr_assert(pub.pub_rc[k] < 0x80, "flow %d ended with 0x%02x", k, pub.pub_rc[k]);
	c5_close(&pub);
}

Test(libmosquitto5, MQTT_3_3_4_7_qos2_burst_within_receive_maximum_to_an_offline_session)
{
	struct c5 sub;
	c5_open_session(&sub, "qb-sub", 300);
	c5_sub(&sub, "qb/#", 2);
	c5_close(&sub);
	cr_assert(log_wait_count(&broker, "client qb-sub (", 1, WAIT_MS));
	qos2_burst("qb/t", false, 20);
	c5_open_session(&sub, "qb-sub", 300);
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, 20, WAIT_MS), "%d of 20 delivered", sub.received);
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_3_4_7_qos2_burst_within_receive_maximum_to_an_online_persistent_session)
{
	struct c5 sub;
	c5_open_session(&sub, "qp-sub", 300);
	c5_sub(&sub, "qp/#", 2);
	struct c5 pub;
	c5_open(&pub, "qp-pub", MQTT_PROTOCOL_V5);
	struct c5 *both[] = {&sub, &pub};
	for (int k = 0; k < 20; k++)
		c5_publish(&pub, "qp/t", "burst", 2, false, NULL);
	double deadline = now_s() + WAIT_MS / 1000.0;
	while (pub.published < 20 && pub.disconnects == 0 && now_s() < deadline)
		pump_for(both, 2, 10);
	cr_assert_eq(pub.disconnects, 0, "publisher disconnected, reason 0x%02x, after %d of 20 QoS 2 flows",
		     pub.disconnect_rc, pub.published);
	cr_assert(pump(both, 2, &sub.received, 20, WAIT_MS), "%d of 20 delivered", sub.received);
	c5_close(&pub);
	c5_close(&sub);
}

Test(libmosquitto5, MQTT_3_3_4_7_retained_qos2_burst_within_receive_maximum)
{
	qos2_burst("qr/t", true, 20);
}

Test(cli5, MQTT_3_3_4_7_mosquitto_pub_qos2_lines_to_an_offline_session)
{
	char path[160], lines_path[160], text[1024];
	out_path(path, sizeof(path), "sub");
	const char *first[] = {"mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-off",
			       "-c", "-x", "300", "-t", "cli5/off/#", "-q", "2", "-E", NULL};
	cr_assert_eq(wait_tool(spawn_tool(first, 30, path, -1), 40000), 0);
	cr_assert(log_wait_count(&broker, "client c5-off (", 1, WAIT_MS));
	snprintf(lines_path, sizeof(lines_path), "%s/lines.txt", broker.dir);
	FILE *f = fopen(lines_path, "w");
	cr_assert(f);
	for (int k = 0; k < 15; k++)
		fprintf(f, "line %02d\n", k);
	fclose(f);
	int in = open(lines_path, O_RDONLY);
	cr_assert(in >= 0);
	char ppath[160], err[176];
	out_path(ppath, sizeof(ppath), "pub");
	const char *args[] = {"mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", port_str(), "-i", "c5-burst",
			      "-t", "cli5/off/t", "-q", "2", "-l", NULL};
	int rc = wait_tool(spawn_tool(args, 30, ppath, in), 40000);
	close(in);
	snprintf(err, sizeof(err), "%s.err", ppath);
	slurp(err, text, sizeof(text));
	cr_assert_eq(rc, 0, "mosquitto_pub -V 5 -q 2 -l with 15 lines exit %d: %s", rc, text);
	cr_assert_eq(log_count(&broker, "more unacknowledged PUBLISH than Receive Maximum"), 0,
		     "15 QoS 2 PUBLISH (Receive Maximum 20) answered DISCONNECT 0x93");
}

Test(libmosquitto5, MQTT_3_3_4_3_retained_message_sent_on_subscribe_carries_the_subscription_identifier)
{
	struct c5 pub, sub;
	c5_open(&pub, "ri-pub", MQTT_PROTOCOL_V5);
	struct c5 *p[] = {&pub};
	c5_publish(&pub, "ri/state", "retained", 1, true, NULL);
	cr_assert(pump(p, 1, &pub.published, 1, WAIT_MS));
	c5_close(&pub);
	c5_open(&sub, "ri-sub", MQTT_PROTOCOL_V5);
	mosquitto_property *props = NULL;
	mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 77);
	c5_subscribe(&sub, "ri/#", 1, 0, props, NULL, 0);
	mosquitto_property_free_all(&props);
	struct c5 *s[] = {&sub};
	cr_assert(pump(s, 1, &sub.received, 1, WAIT_MS));
	cr_assert(sub.rx[0].retain);
	uint32_t id = 0;
	cr_assert(mosquitto_property_read_varint(sub.rx[0].props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, &id, false),
		  "retained message sent without the subscription's identifier");
	cr_assert_eq(id, 77u);
	c5_close(&sub);
}

/* The broker times the connection out by the keepalive it told the client
 * (Server Keep Alive), not by the one the client asked for. */
Test(libmosquitto5, MQTT_3_2_2_21_server_keep_alive_is_the_one_enforced, .timeout = 90)
{
	struct hb own;
	hb_start(&own, "max_keepalive 5");
	struct c5 c;
	c5_new(&c, "ske-client", true, MQTT_PROTOCOL_V5);
	c5_connect_to(&c, own.port, NULL); /* asks for 60 */
	uint16_t ska = 0;
	cr_assert(mosquitto_property_read_int16(c.connack_props, MQTT_PROP_SERVER_KEEP_ALIVE, &ska, false));
	cr_assert_eq(ska, 5);
	double t0 = now_s();
	/* silent (no loop, no PINGREQ): 1.5 x 5 s, not 1.5 x 60 s */
	cr_assert(log_wait_count(&own, "client ske-client (", 1, 30000),
		  "still connected after 30 s of silence with Server Keep Alive 5");
	double took = now_s() - t0;
	cr_assert(took >= 5.0, "disconnected after %.1f s", took);
	struct c5 *one[] = {&c};
	cr_assert(pump(one, 1, &c.disconnects, 1, WAIT_MS));
	cr_assert_eq(c.disconnect_rc, MQTT_RC_KEEP_ALIVE_TIMEOUT, "disconnect reason 0x%02x", c.disconnect_rc);
	c5_free(&c);
	cr_assert_eq(hb_stop(&own), 0);
}

Test(cli5, MQTT_3_3_2_4_mosquitto_pub_payload_not_utf8_refused_0x99)
{
	char path[160], text[512], err_path[176], err[512];
	out_path(path, sizeof(path), "sub");
	const char *extra[] = {"-C", "1", "-F", "%p %F", NULL};
	pid_t sub = start_sub5("c5-pf", "cli5/pf/#", "2", extra, path);
	for (int q = 1; q <= 2; q++) {
		char qs[4];
		snprintf(qs, sizeof(qs), "%d", q);
		const char *bad[] = {"-t", "cli5/pf/t", "-m", "bad \xff", "-q", qs,
				     "-D", "publish", "payload-format-indicator", "1", NULL};
		cr_assert_eq(run_pub5(bad), 0);
		char pub_out[160];
		out_path(pub_out, sizeof(pub_out), "pub");
		snprintf(err_path, sizeof(err_path), "%s.err", pub_out);
		slurp(err_path, err, sizeof(err));
		cr_assert(strstr(err, "Payload format invalid"), "QoS %d: mosquitto_pub said '%s', not a 0x99 refusal", q,
			  err);
	}
	const char *good[] = {"-t", "cli5/pf/t", "-m", "good \xc3\xa9", "-q", "1",
			      "-D", "publish", "payload-format-indicator", "1", NULL};
	cr_assert_eq(run_pub5(good), 0);
	int rc = wait_tool(sub, 40000);
	slurp(path, text, sizeof(text));
	cr_assert_eq(rc, 0, "mosquitto_sub exit %d", rc);
	cr_assert_str_eq(text, "good \xc3\xa9 1\n", "the first message delivered was '%s'", text);
}
