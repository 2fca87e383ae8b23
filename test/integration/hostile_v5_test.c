/* The MQTT 5.0 part of the hostile catalogue (hostile.h): properties and
 * the 5.0-only rules of the packets a client sends, over raw sockets. Each
 * case is one hand-built packet and the reason code the spec gives for it.
 * A broken CONNECT is refused with a CONNACK carrying the code (4.13.1
 * allows one); anything after an accepted CONNECT gets a DISCONNECT with
 * it; either way the broker then closes that connection [MQTT-4.13.1-1]
 * and nothing else. The attacker's will goes out when the close follows an
 * accepted CONNECT [MQTT-3.1.2-8], and never for a refused one; a QoS 1
 * canary connected from before the attack gets its next message.
 *
 * Every case is a test of its own on a broker of its own, named after
 * the statement it breaks; and one more test runs the whole catalogue
 * round after round against a single broker, the same canary connected
 * throughout, and wants broker RSS back near its baseline.
 *
 * The codes, as the spec words them: an id the packet may not carry, an
 * unknown id, a value that does not parse or runs past its section or the
 * packet, ill-formed UTF-8 [MQTT-1.5.4-1] and U+0000 [MQTT-1.5.4-2] in a
 * string or either half of a string pair [MQTT-1.5.7-1] are a Malformed
 * Packet, 0x81 (2.2.2.2, 1.5.4); a single-use property sent twice and a
 * value a property's section forbids are a Protocol Error, 0x82 ("It is a
 * Protocol Error to include ... more than once"); a Topic Alias of 0 or
 * above the maximum is 0x94 (3.3.4). */
#include "hostile.h"

#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <string.h>

static struct hb broker;

/* Topic Alias Maximum 10, so that 11 is above it whatever the default;
 * no store, which nothing here needs, so that a broker per case starts
 * quickly. */
static void start(void) { hb_start(&broker, "max_topic_alias 10\ndurability memory"); }
static void stop(void)
{
	if (broker.pid > 0)
		cr_assert_eq(hb_stop(&broker), 0, "broker exit status");
}

/* A broker per case costs a sanitized broker's start 62 times over: under
 * a sanitizer only hostile_v5_all runs, which sends every case to one
 * broker, whose exit (LeakSanitizer's check) then covers them all. */
static void start_unless_sanitized(void)
{
	if (broker_sanitized()) {
		broker.pid = 0;
		cr_skip_test("under a sanitizer hostile_v5_all runs every case against one broker");
	}
	start();
}

TestSuite(hostile_v5, .init = start_unless_sanitized, .fini = stop, .timeout = 60);
TestSuite(hostile_v5_all, .init = start, .fini = stop, .timeout = 120);
TestSuite(hostile_v5_lists, .init = start, .fini = stop, .timeout = 60);

#define WILL_TOPIC "canary/will"
#define WILL_PAYLOAD "attacker gone"

#define MALFORMED MQTT_RC_MALFORMED_PACKET
#define PROTOCOL MQTT_RC_PROTOCOL_ERROR
#define ALIAS MQTT_RC_TOPIC_ALIAS_INVALID

/* Where a case's bytes go. For the IN_* carriers they are a property
 * section's contents: the builder writes its length in front. */
enum carrier {
	IN_CONNECT,     /* the CONNECT's properties */
	IN_WILL,        /* the will properties of a CONNECT whose will is for the canary */
	IN_PUBLISH,     /* a QoS 0 PUBLISH to "t", payload "x" */
	IN_SUBSCRIBE,   /* a SUBSCRIBE to "t" at QoS 0 */
	IN_UNSUBSCRIBE, /* an UNSUBSCRIBE from "t" */
	IN_PUBACK,      /* these four: packet id 1, reason 0x00 */
	IN_PUBREC,
	IN_PUBREL,
	IN_PUBCOMP,
	IN_DISCONNECT,  /* reason 0x00 */
	IN_AUTH,        /* reason 0x19 (re-authenticate) */
	OPTIONS,        /* the subscription options byte of a SUBSCRIBE to "t" */
	SHARED_OPTIONS, /* ... to "$share/g/t" */
	WHOLE,          /* a whole packet, fixed header included, after the CONNECT */
	PAST_END = 0x80 /* or'ed in: the property length counts 100 bytes that are not there */
};

struct v5_case {
	const char *name;     /* the input, the code and the statement broken */
	uint8_t in;           /* enum carrier, maybe | PAST_END */
	uint8_t code;         /* the CONNACK or DISCONNECT reason code wanted */
	const uint8_t *bytes; /* see enum carrier */
	size_t len;           /* bytes in bytes */
};

/* The catalogue: X(name, carrier, code, bytes...). A name ends with the
 * conformance statement it checks (MQTT_x_y_z_n), or with the section
 * whose unnumbered sentence it does (section_x_y_z). Property ids: 0x03
 * Content Type, 0x08 Response Topic, 0x0B Subscription Identifier, 0x11
 * Session Expiry Interval, 0x15 Authentication Method, 0x16 Authentication
 * Data, 0x17 Request Problem Information, 0x18 Will Delay Interval, 0x19
 * Request Response Information, 0x1F Reason String, 0x21 Receive Maximum,
 * 0x23 Topic Alias, 0x26 User Property, 0x27 Maximum Packet Size.
 * Ill-formed UTF-8: C0 80 (overlong U+0000), ED A0 80 (U+D800), FF. */
#define CATALOGUE(X)                                                                                            \
	/* CONNECT properties (3.1.2.11) */                                                                     \
	X(connect_session_expiry_twice_0x82_section_3_1_2_11_2, IN_CONNECT, PROTOCOL,                           \
	  0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2)                                                                   \
	X(connect_unknown_property_id_0x81_section_2_2_2_2, IN_CONNECT, MALFORMED, 0x7F, 0)                     \
	X(connect_will_delay_interval_in_connect_properties_0x81_section_2_2_2_2, IN_CONNECT, MALFORMED,        \
	  0x18, 0, 0, 0, 1)                                                                                     \
	X(connect_property_length_past_the_packet_0x81_section_2_2_2_1, IN_CONNECT | PAST_END, MALFORMED,       \
	  0x11, 0, 0, 0, 1)                                                                                     \
	X(connect_receive_maximum_0_0x82_section_3_1_2_11_3, IN_CONNECT, PROTOCOL, 0x21, 0, 0)                  \
	X(connect_maximum_packet_size_0_0x82_section_3_1_2_11_4, IN_CONNECT, PROTOCOL, 0x27, 0, 0, 0, 0)        \
	X(connect_request_response_information_2_0x82_section_3_1_2_11_6, IN_CONNECT, PROTOCOL, 0x19, 2)        \
	X(connect_request_problem_information_2_0x82_section_3_1_2_11_7, IN_CONNECT, PROTOCOL, 0x17, 2)         \
	X(connect_authentication_data_without_method_0x82_section_3_1_2_11_10, IN_CONNECT, PROTOCOL,            \
	  0x16, 0, 1, 'd')                                                                                      \
	X(connect_authentication_method_invalid_utf8_0x81_MQTT_1_5_4_1, IN_CONNECT, MALFORMED,                  \
	  0x15, 0, 2, 0xC0, 0x80)                                                                               \
	X(connect_authentication_method_nul_0x81_MQTT_1_5_4_2, IN_CONNECT, MALFORMED,                           \
	  0x15, 0, 3, 'a', 0, 'b')                                                                              \
	X(connect_user_property_name_invalid_utf8_0x81_MQTT_1_5_7_1, IN_CONNECT, MALFORMED,                     \
	  0x26, 0, 1, 0xFF, 0, 1, 'v')                                                                          \
	X(connect_user_property_value_nul_0x81_MQTT_1_5_7_1, IN_CONNECT, MALFORMED,                             \
	  0x26, 0, 1, 'k', 0, 1, 0)                                                                             \
	/* will properties (3.1.3.2) */                                                                         \
	X(will_delay_interval_twice_0x82_section_3_1_3_2_2, IN_WILL, PROTOCOL,                                  \
	  0x18, 0, 0, 0, 1, 0x18, 0, 0, 0, 1)                                                                   \
	X(will_session_expiry_in_will_properties_0x81_section_2_2_2_2, IN_WILL, MALFORMED,                      \
	  0x11, 0, 0, 0, 1)                                                                                     \
	X(will_content_type_invalid_utf8_0x81_MQTT_1_5_4_1, IN_WILL, MALFORMED, 0x03, 0, 3, 0xED, 0xA0, 0x80)   \
	X(will_content_type_nul_0x81_MQTT_1_5_4_2, IN_WILL, MALFORMED, 0x03, 0, 1, 0)                           \
	X(will_response_topic_invalid_utf8_0x81_MQTT_1_5_4_1, IN_WILL, MALFORMED, 0x08, 0, 2, 'r', 0xFF)        \
	X(will_response_topic_nul_0x81_MQTT_1_5_4_2, IN_WILL, MALFORMED, 0x08, 0, 3, 'r', 0, 't')               \
	X(will_user_property_name_nul_0x81_MQTT_1_5_7_1, IN_WILL, MALFORMED, 0x26, 0, 1, 0, 0, 1, 'v')          \
	X(will_user_property_value_invalid_utf8_0x81_MQTT_1_5_7_1, IN_WILL, MALFORMED,                          \
	  0x26, 0, 1, 'k', 0, 2, 0xC0, 0xAF)                                                                    \
	/* PUBLISH properties (3.3.2.3) and topic */                                                            \
	X(publish_topic_alias_twice_0x82_section_3_3_2_3_4, IN_PUBLISH, PROTOCOL, 0x23, 0, 1, 0x23, 0, 2)       \
	X(publish_content_type_twice_0x82_section_3_3_2_3_9, IN_PUBLISH, PROTOCOL,                              \
	  0x03, 0, 1, 'a', 0x03, 0, 1, 'b')                                                                     \
	X(publish_unknown_property_id_0x81_section_2_2_2_2, IN_PUBLISH, MALFORMED, 0x04, 0)                     \
	X(publish_will_delay_interval_0x81_section_2_2_2_2, IN_PUBLISH, MALFORMED, 0x18, 0, 0, 0, 1)            \
	X(publish_property_length_past_the_packet_0x81_section_2_2_2_1, IN_PUBLISH | PAST_END, MALFORMED,       \
	  0x23, 0, 1)                                                                                           \
	/* Message Expiry Interval is 4 bytes; the section holds 2 (the payload follows) */                     \
	X(publish_value_past_its_section_0x81_section_2_2_2_1, IN_PUBLISH, MALFORMED, 0x02, 0, 0)               \
	X(publish_content_type_invalid_utf8_0x81_MQTT_3_3_2_19_MQTT_1_5_4_1, IN_PUBLISH, MALFORMED,             \
	  0x03, 0, 2, 0xC0, 0x80)                                                                               \
	X(publish_content_type_nul_0x81_MQTT_3_3_2_19_MQTT_1_5_4_2, IN_PUBLISH, MALFORMED,                      \
	  0x03, 0, 3, 'a', 0, 'b')                                                                              \
	X(publish_response_topic_invalid_utf8_0x81_MQTT_3_3_2_13_MQTT_1_5_4_1, IN_PUBLISH, MALFORMED,           \
	  0x08, 0, 3, 0xED, 0xA0, 0x80)                                                                         \
	X(publish_response_topic_nul_0x81_MQTT_3_3_2_13_MQTT_1_5_4_2, IN_PUBLISH, MALFORMED,                    \
	  0x08, 0, 1, 0)                                                                                        \
	X(publish_user_property_name_invalid_utf8_0x81_MQTT_1_5_7_1, IN_PUBLISH, MALFORMED,                     \
	  0x26, 0, 1, 0xFF, 0, 1, 'v')                                                                          \
	X(publish_user_property_value_nul_0x81_MQTT_1_5_7_1, IN_PUBLISH, MALFORMED,                             \
	  0x26, 0, 1, 'k', 0, 2, 'v', 0)                                                                        \
	X(publish_topic_alias_0_0x94_MQTT_3_3_2_8, IN_PUBLISH, ALIAS, 0x23, 0, 0)                               \
	X(publish_topic_alias_above_the_maximum_0x94_MQTT_3_3_2_9, IN_PUBLISH, ALIAS, 0x23, 0, 11)              \
	X(publish_subscription_identifier_from_a_client_0x82_MQTT_3_3_4_6, IN_PUBLISH, PROTOCOL, 0x0B, 1)       \
	/* topic "", no properties, payload "x" */                                                              \
	X(publish_empty_topic_without_topic_alias_0x82_section_3_3_2_1, WHOLE, PROTOCOL,                        \
	  0x30, 4, 0, 0, 0, 'x')                                                                                \
	/* SUBSCRIBE (3.8.2.1, 3.8.3.1) */                                                                      \
	X(subscribe_subscription_identifier_0_0x82_section_3_8_2_1_2, IN_SUBSCRIBE, PROTOCOL, 0x0B, 0)          \
	X(subscribe_subscription_identifier_twice_0x82_section_3_8_2_1_2, IN_SUBSCRIBE, PROTOCOL,               \
	  0x0B, 1, 0x0B, 2)                                                                                     \
	X(subscribe_topic_alias_0x81_section_2_2_2_2, IN_SUBSCRIBE, MALFORMED, 0x23, 0, 1)                      \
	X(subscribe_user_property_name_nul_0x81_MQTT_1_5_7_1, IN_SUBSCRIBE, MALFORMED,                          \
	  0x26, 0, 1, 0, 0, 1, 'v')                                                                             \
	X(subscribe_option_bit_6_0x81_MQTT_3_8_3_5, OPTIONS, MALFORMED, 0x40)                                   \
	X(subscribe_option_bit_7_0x81_MQTT_3_8_3_5, OPTIONS, MALFORMED, 0x81)                                   \
	X(subscribe_retain_handling_3_0x82_section_3_8_3_1, OPTIONS, PROTOCOL, 0x30)                            \
	X(subscribe_maximum_qos_3_0x82_section_3_8_3_1, OPTIONS, PROTOCOL, 0x03)                                \
	X(subscribe_no_local_on_a_shared_subscription_0x82_MQTT_3_8_3_4, SHARED_OPTIONS, PROTOCOL, 0x05)        \
	/* UNSUBSCRIBE (3.10.2.1) */                                                                            \
	X(unsubscribe_subscription_identifier_0x81_section_2_2_2_2, IN_UNSUBSCRIBE, MALFORMED, 0x0B, 1)         \
	X(unsubscribe_user_property_value_invalid_utf8_0x81_MQTT_1_5_7_1, IN_UNSUBSCRIBE, MALFORMED,            \
	  0x26, 0, 1, 'k', 0, 1, 0xFF)                                                                          \
	/* the client's acknowledgements (3.4.2.2 .. 3.7.2.2) */                                                \
	X(puback_reason_string_twice_0x82_section_3_4_2_2_2, IN_PUBACK, PROTOCOL,                               \
	  0x1F, 0, 1, 'a', 0x1F, 0, 1, 'b')                                                                     \
	X(puback_reason_string_invalid_utf8_0x81_MQTT_1_5_4_1, IN_PUBACK, MALFORMED, 0x1F, 0, 2, 0xC0, 0x80)    \
	X(pubrec_reason_string_nul_0x81_MQTT_1_5_4_2, IN_PUBREC, MALFORMED, 0x1F, 0, 3, 'o', 0, 'k')            \
	X(pubrel_reason_string_invalid_utf8_0x81_MQTT_1_5_4_1, IN_PUBREL, MALFORMED,                            \
	  0x1F, 0, 3, 0xED, 0xA0, 0x80)                                                                         \
	X(pubcomp_reason_string_nul_0x81_MQTT_1_5_4_2, IN_PUBCOMP, MALFORMED, 0x1F, 0, 1, 0)                    \
	X(pubcomp_user_property_value_nul_0x81_MQTT_1_5_7_1, IN_PUBCOMP, MALFORMED,                             \
	  0x26, 0, 1, 'k', 0, 1, 0)                                                                             \
	/* DISCONNECT (3.14.2.2): a broken one publishes the will like any other close */                       \
	X(disconnect_session_expiry_twice_0x82_section_3_14_2_2_2, IN_DISCONNECT, PROTOCOL,                     \
	  0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1)                                                                   \
	X(disconnect_reason_string_invalid_utf8_0x81_MQTT_1_5_4_1, IN_DISCONNECT, MALFORMED,                    \
	  0x1F, 0, 1, 0xFF)                                                                                     \
	X(disconnect_reason_string_nul_0x81_MQTT_1_5_4_2, IN_DISCONNECT, MALFORMED, 0x1F, 0, 2, 'x', 0)         \
	X(disconnect_user_property_name_invalid_utf8_0x81_MQTT_1_5_7_1, IN_DISCONNECT, MALFORMED,               \
	  0x26, 0, 2, 0xC0, 0x80, 0, 1, 'v')                                                                    \
	/* AUTH (3.15.2.2); the attacker's CONNECT named no method, which makes any AUTH a                      \
	 * Protocol Error too [MQTT-4.12.0-7] */                                                                \
	X(auth_without_authentication_method_0x82_section_3_15_2_2_2, IN_AUTH, PROTOCOL, 0x16, 0, 1, 'd')       \
	X(auth_authentication_method_invalid_utf8_0x81_MQTT_1_5_4_1, IN_AUTH, MALFORMED,                        \
	  0x15, 0, 2, 0xC0, 0x80)                                                                               \
	X(auth_authentication_method_nul_0x81_MQTT_1_5_4_2, IN_AUTH, MALFORMED, 0x15, 0, 1, 0)                  \
	X(auth_reason_string_invalid_utf8_0x81_MQTT_1_5_4_1, IN_AUTH, MALFORMED,                                \
	  0x15, 0, 1, 'm', 0x1F, 0, 3, 0xED, 0xA0, 0x80)

/* --- building a case's packet --------------------------------------------- */

static void put_section(struct buf *b, const struct v5_case *k)
{
	put_varint(b, (uint32_t)k->len + (k->in & PAST_END ? 100u : 0u));
	put_bytes(b, k->bytes, k->len);
}

static void put_empty_section(struct buf *b) { put_u8(b, 0); }

/* A 5.0 CONNECT, clean start, keepalive 60; with a will for the canary
 * when the case is in the will properties. */
static void put_connect_body(struct buf *body, const struct v5_case *k, uint8_t in)
{
	bool will = in == IN_WILL;
	put_field(body, "MQTT", 4);
	put_u8(body, 5);
	put_u8(body, CF_CLEAN | (will ? CF_WILL : 0));
	put_u16(body, 60);
	if (in == IN_CONNECT)
		put_section(body, k);
	else
		put_empty_section(body);
	put_field(body, "v5-attacker", 11);
	if (will) {
		put_section(body, k);
		put_field(body, WILL_TOPIC, strlen(WILL_TOPIC));
		put_field(body, WILL_PAYLOAD, strlen(WILL_PAYLOAD));
	}
}

/* The first byte of the packet that carries a case (WHOLE brings its own). */
static uint8_t first_byte(uint8_t in)
{
	static const uint8_t by_carrier[] = {
		[IN_CONNECT] = 0x10, [IN_WILL] = 0x10, [IN_PUBLISH] = 0x30, [IN_SUBSCRIBE] = 0x82,
		[IN_UNSUBSCRIBE] = 0xA2, [IN_PUBACK] = 0x40, [IN_PUBREC] = 0x50, [IN_PUBREL] = 0x62,
		[IN_PUBCOMP] = 0x70, [IN_DISCONNECT] = 0xE0, [IN_AUTH] = 0xF0, [OPTIONS] = 0x82,
		[SHARED_OPTIONS] = 0x82,
	};
	return in < sizeof(by_carrier) ? by_carrier[in] : 0;
}

/* Append k's packet to out. */
static void build(struct buf *out, const struct v5_case *k)
{
	uint8_t in = k->in & (uint8_t)~PAST_END;
	if (in == WHOLE) {
		put_bytes(out, k->bytes, k->len);
		return;
	}
	struct buf body;
	buf_init(&body);
	switch (in) {
	case IN_CONNECT:
	case IN_WILL:
		put_connect_body(&body, k, in);
		break;
	case IN_PUBLISH:
		put_field(&body, "t", 1);
		put_section(&body, k);
		put_u8(&body, 'x');
		break;
	case IN_SUBSCRIBE:
	case IN_UNSUBSCRIBE:
		put_u16(&body, 1);
		put_section(&body, k);
		put_field(&body, "t", 1);
		if (in == IN_SUBSCRIBE)
			put_u8(&body, 0);
		break;
	case IN_PUBACK:
	case IN_PUBREC:
	case IN_PUBREL:
	case IN_PUBCOMP:
		put_u16(&body, 1);
		put_u8(&body, MQTT_RC_SUCCESS);
		put_section(&body, k);
		break;
	case IN_DISCONNECT:
	case IN_AUTH:
		put_u8(&body, in == IN_AUTH ? MQTT_RC_REAUTHENTICATE : MQTT_RC_SUCCESS);
		put_section(&body, k);
		break;
	case OPTIONS:
	case SHARED_OPTIONS: {
		const char *filter = in == OPTIONS ? "t" : "$share/g/t";
		put_u16(&body, 1);
		put_empty_section(&body);
		put_field(&body, filter, strlen(filter));
		put_bytes(&body, k->bytes, k->len);
		break;
	}
	default:
		cr_assert_fail("%s: no carrier %u", k->name, in);
	}
	put_packet(out, first_byte(in), &body);
	buf_fini(&body);
}

/* --- the attack ------------------------------------------------------------ */

static bool at_connect(const struct v5_case *k)
{
	uint8_t in = k->in & (uint8_t)~PAST_END;
	return in == IN_CONNECT || in == IN_WILL;
}

/* The next packet on r is a CONNACK or DISCONNECT (type) with reason code
 * code, and the broker closes r after it, sending nothing more
 * [MQTT-4.13.1-1], [MQTT-3.2.2-7], [MQTT-3.14.4-1]; r is closed. */
static void expect_refusal(struct raw *r, uint8_t type, uint8_t code, const char *what)
{
	const char *name = type == MQTT_CONNACK ? "CONNACK" : "DISCONNECT";
	struct mqtt_frame f;
	int rc = raw_recv(r, &f, HOSTILE_CLOSE_MS);
	cr_assert_eq(rc, FM_OK, "%s: wanted %s 0x%02x, but the broker %s", what, name, code,
		     rc == FM_ECLOSED ? "closed without it" : "sent nothing");
	cr_assert_eq(f.type, type, "%s: wanted %s 0x%02x, got packet type %u", what, name, code, f.type);
	uint8_t got = 0, why = 0;
	if (type == MQTT_CONNACK) {
		struct mqtt_connack a;
		cr_assert(mqtt_decode_connack(&f, MQTT_V5, &a, &why) == FM_OK, "%s: undecodable CONNACK", what);
		got = a.reason;
	} else {
		struct mqtt_disconnect d;
		cr_assert(mqtt_decode_disconnect(&f, MQTT_V5, &d, &why) == FM_OK, "%s: undecodable DISCONNECT", what);
		got = d.reason;
	}
	cr_assert_eq(got, code, "%s: %s 0x%02x, wanted 0x%02x", what, name, got, code);
	uint8_t last = 0;
	cr_assert(raw_closed_within(r, HOSTILE_CLOSE_MS, &last), "%s: not closed after %s 0x%02x", what, name, got);
	cr_assert_eq(last, 0, "%s: packet type %u after %s", what, last, name);
	raw_close(r);
}

/* One case, the canary c up: the attacker's packet, the broker's refusal
 * and close, then the canary's next message (and the will, after an
 * accepted CONNECT). */
static void attack(struct canary *c, const struct v5_case *k)
{
	struct buf b;
	buf_init(&b);
	build(&b, k);
	struct raw r;
	if (at_connect(k)) {
		raw_open(&r, broker.port);
		raw_send_buf(&r, &b);
		expect_refusal(&r, MQTT_CONNACK, k->code, k->name);
		canary_check(c, k->name); /* no will: nothing was accepted */
	} else {
		struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "v5-attacker", .clean = true,
					     .keepalive = 60, .will_topic = WILL_TOPIC, .will_payload = WILL_PAYLOAD};
		cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), MQTT_RC_SUCCESS, "%s: attacker refused", k->name);
		raw_send_buf(&r, &b);
		expect_refusal(&r, MQTT_DISCONNECT, k->code, k->name);
		canary_check_will(c, WILL_TOPIC, WILL_PAYLOAD, k->name);
	}
	buf_fini(&b);
}

/* --- one test per case ------------------------------------------------------ */

#define CASE_OF(id, in, code, ...)                                                                              \
	{#id, (in), (code), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})}

#define ONE_TEST(id, in, code, ...)                                                                             \
	Test(hostile_v5, id)                                                                                    \
	{                                                                                                       \
		const struct v5_case k = CASE_OF(id, in, code, __VA_ARGS__);                                    \
		struct canary c;                                                                                \
		canary_up(&c, &broker);                                                                         \
		attack(&c, &k);                                                                                 \
		canary_down(&c, k.name);                                                                        \
	}

CATALOGUE(ONE_TEST)

/* --- the whole catalogue against one broker ---------------------------------- */

#define TABLE_ENTRY(id, in, code, ...) CASE_OF(id, in, code, __VA_ARGS__),

static const struct v5_case catalogue[] = {CATALOGUE(TABLE_ENTRY)};

static void catalogue_round(void *arg)
{
	for (size_t i = 0; i < sizeof(catalogue) / sizeof(catalogue[0]); i++)
		attack(arg, &catalogue[i]);
}

/* Rounds after the warm-up, and the RSS growth allowed after them: some
 * 3,000 attacks, so a leak of 1.5 kB each would exceed it. */
#define CATALOGUE_ROUNDS 50
#define CATALOGUE_SLACK_KB (4 * 1024)

Test(hostile_v5_all, every_case_in_turn_one_canary_throughout_memory_back_to_baseline)
{
	struct canary c;
	canary_up(&c, &broker);
	rounds_near_baseline(&broker, catalogue_round, &c, CATALOGUE_ROUNDS, CATALOGUE_SLACK_KB,
			     "the 5.0 catalogue, round after round");
	canary_down(&c, "the 5.0 catalogue");
}

/* A 5.0 SUBSCRIBE or UNSUBSCRIBE with no topic filter at all: "a SUBSCRIBE
 * packet with no Payload is a Protocol Error" [MQTT-3.8.3-2] (3.8.3), and
 * likewise an UNSUBSCRIBE [MQTT-3.10.3-2] (3.10.3): DISCONNECT 0x82. */
static void empty_filter_list(uint8_t first_byte, const char *what)
{
	struct canary c;
	canary_up(&c, &broker);
	struct raw r;
	struct raw_connect_opts o = {.version = MQTT_V5, .client_id = "v5-empty", .clean = true, .keepalive = 60};
	cr_assert_eq(raw_connect(&r, broker.port, &o, NULL), MQTT_RC_SUCCESS);
	const uint8_t packet[] = {first_byte, 3, 0, 1, 0}; /* packet id 1, no properties, no filters */
	raw_send(&r, packet, sizeof(packet));
	expect_refusal(&r, MQTT_DISCONNECT, PROTOCOL, what);
	canary_down(&c, what);
}

Test(hostile_v5_lists, subscribe_without_filters_0x82_MQTT_3_8_3_2)
{
	empty_filter_list(0x82, "SUBSCRIBE without filters");
}

Test(hostile_v5_lists, unsubscribe_without_filters_0x82_MQTT_3_10_3_2)
{
	empty_filter_list(0xA2, "UNSUBSCRIBE without filters");
}
