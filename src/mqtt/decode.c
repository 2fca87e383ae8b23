/* Decoders: one function per packet type, each strict about the rules the
 * specification gives for that packet. They read through struct reader
 * (reader.c), which turns every out-of-bounds read into r->bad, and hand
 * out views into the frame's body. */
#include "mqtt/codec.h"

#include "fleetmq/errors.h"
#include "mqtt/reader.h"

#include <string.h>

static int malformed(uint8_t *reason)
{
	*reason = MQTT_RC_MALFORMED_PACKET;
	return FM_EPROTO;
}

/* A bad reader's failure: the reason it recorded (malformed by default). */
static int fail(const struct reader *r, uint8_t *reason)
{
	*reason = rd_reason(r);
	return FM_EPROTO;
}

/* The common ending: every byte read, none left over, nothing bad. */
static int finish(const struct reader *r, uint8_t *reason)
{
	if (r->bad)
		return fail(r, reason);
	if (reader_left(r) != 0)
		return malformed(reason); /* bytes after the packet's contents */
	*reason = 0;
	return FM_OK;
}

static bool is_v5(uint8_t version) { return version == MQTT_V5; }

/* --- CONNECT ------------------------------------------------------------ */

static bool bin_is(struct mqtt_bin b, const char *s)
{
	return b.len == strlen(s) && memcmp(b.p, s, b.len) == 0;
}

/* Protocol name and level [MQTT-3.1.2-1], [MQTT-3.1.2-2]. */
static int read_protocol(struct reader *r, struct mqtt_connect *out, uint8_t *reason)
{
	struct mqtt_bin name = rd_bin(r);
	uint8_t level = rd_u8(r);
	if (r->bad)
		return malformed(reason);
	/* mosquitto's bridges (try_private) set the top bit of a 3.x level:
	 * not in the spec, but every mosquitto-compatible broker takes it */
	bool bridge = (level & 0x80) && (level & 0x7F) != MQTT_V5;
	uint8_t plain = bridge ? level & 0x7F : level;
	bool mqtt = bin_is(name, "MQTT"), mqisdp = bin_is(name, "MQIsdp");
	out->version = level; /* a refused level is reported as it came */
	if ((mqtt && (plain == MQTT_V311 || plain == MQTT_V5)) || (mqisdp && plain == MQTT_V31)) {
		out->version = plain;
		out->bridge = bridge;
		return FM_OK;
	}
	*reason = MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION;
	return FM_EPROTO;
}

/* Connect flags (section 3.1.2.3). */
static int read_connect_flags(struct reader *r, struct mqtt_connect *out, uint8_t *reason)
{
	uint8_t fl = rd_u8(r);
	if (r->bad || (fl & 0x01))
		return malformed(reason); /* reserved bit [MQTT-3.1.2-3] */
	out->clean_start = fl & 0x02;
	out->will_flag = fl & 0x04;
	out->will_qos = (fl >> 3) & 0x03;
	out->will_retain = fl & 0x20;
	out->has_password = fl & 0x40;
	out->has_username = fl & 0x80;
	if (out->will_qos == 3)
		return malformed(reason); /* [MQTT-3.1.2-14] */
	if (!out->will_flag && (out->will_qos || out->will_retain))
		return malformed(reason); /* [MQTT-3.1.2-13], [MQTT-3.1.2-15] */
	if (!is_v5(out->version) && out->has_password && !out->has_username)
		return malformed(reason); /* [MQTT-3.1.2-22] */
	return FM_OK;
}

int mqtt_decode_connect(const struct mqtt_frame *f, struct mqtt_connect *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	struct reader r = reader_of(f);
	int rc = read_protocol(&r, out, reason);
	if (rc == FM_OK)
		rc = read_connect_flags(&r, out, reason);
	if (rc != FM_OK)
		return rc;
	out->keepalive_s = rd_u16(&r);
	if (is_v5(out->version))
		out->props = rd_props(&r, PROPS_CONNECT);
	out->client_id = rd_str(&r);
	if (out->will_flag) {
		if (is_v5(out->version))
			out->will_props = rd_props(&r, PROPS_WILL);
		out->will_topic = rd_str(&r);
		out->will_payload = rd_bin(&r);
	}
	if (out->has_username)
		out->username = rd_str(&r);
	if (out->has_password)
		out->password = rd_bin(&r);
	return finish(&r, reason);
}

/* --- PUBLISH ------------------------------------------------------------ */

static bool has_wildcard(struct mqtt_str s)
{
	return s.len && (memchr(s.p, '+', s.len) || memchr(s.p, '#', s.len));
}

/* Fixed-header flags of PUBLISH (section 3.3.1). Framing already refused
 * QoS 3; it is checked again so a hand-built frame cannot slip through. */
static int read_publish_flags(const struct mqtt_frame *f, struct mqtt_publish *out, uint8_t *reason)
{
	out->qos = (f->flags >> 1) & 0x03;
	out->dup = f->flags & 0x08;
	out->retain = f->flags & 0x01;
	if (out->qos == 3 || (out->qos == 0 && out->dup))
		return malformed(reason); /* [MQTT-3.3.1-4], [MQTT-3.3.1-2] */
	return FM_OK;
}

int mqtt_decode_publish(const struct mqtt_frame *f, uint8_t version,
			struct mqtt_publish *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	if (read_publish_flags(f, out, reason) != FM_OK)
		return FM_EPROTO;
	struct reader r = reader_of(f);
	out->topic = rd_str(&r);
	if (out->qos > 0)
		out->packet_id = rd_u16(&r);
	if (is_v5(version))
		out->props = rd_props(&r, PROPS_PUBLISH);
	if (r.bad)
		return fail(&r, reason);
	if (out->qos > 0 && out->packet_id == 0)
		return malformed(reason); /* [MQTT-2.3.1-1] */
	/* 5.0 allows an empty topic when a Topic Alias stands for it; whether
	 * one does is the protocol layer's to check (it owns the alias map). */
	if (has_wildcard(out->topic) || (out->topic.len == 0 && !is_v5(version))) {
		*reason = MQTT_RC_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-2], [MQTT-4.7.3-1] */
		return FM_EPROTO;
	}
	/* The payload is whatever follows; it may be empty [MQTT-3.3.2]. */
	out->payload = (struct mqtt_bin){r.p, (uint32_t)reader_left(&r)};
	r.p = r.end;
	return finish(&r, reason);
}

/* --- PUBACK, PUBREC, PUBREL, PUBCOMP -------------------------------------- */

/* 5.0 acks and DISCONNECT may stop before the reason code (meaning 0x00)
 * or after it (no properties) [MQTT-3.4.2.1], [MQTT-3.14.2.1]. */
static void read_v5_tail(struct reader *r, enum props_ctx ctx, uint8_t *code, struct mqtt_bin *props)
{
	if (reader_left(r) > 0)
		*code = rd_u8(r);
	if (reader_left(r) > 0)
		*props = rd_props(r, ctx);
}

int mqtt_decode_ack(const struct mqtt_frame *f, uint8_t version, struct mqtt_ack *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	out->type = f->type;
	struct reader r = reader_of(f);
	out->packet_id = rd_u16(&r);
	if (is_v5(version))
		read_v5_tail(&r, PROPS_ACK, &out->reason, &out->props);
	if (!r.bad && out->packet_id == 0)
		return malformed(reason); /* [MQTT-2.3.1-1] */
	return finish(&r, reason);
}

/* --- SUBSCRIBE, UNSUBSCRIBE ------------------------------------------------ */

/* Subscription options (section 3.8.3.1): the reason to refuse them, 0
 * when valid. 3.1.1: QoS <= 2 and the other bits reserved, all malformed
 * [MQTT-3-8.3-4]. 5.0: bits 6-7 reserved, malformed [MQTT-3.8.3-5]; QoS 3
 * and Retain Handling 3 are Protocol Errors (3.8.3.1). */
static uint8_t options_refusal(uint8_t version, uint8_t o)
{
	if (!is_v5(version))
		return (o & 0x03) == 3 || (o & 0xFC) ? MQTT_RC_MALFORMED_PACKET : 0;
	if (o & 0xC0)
		return MQTT_RC_MALFORMED_PACKET;
	return (o & 0x03) == 3 || ((o >> 4) & 0x03) == 3 ? MQTT_RC_PROTOCOL_ERROR : 0;
}

/* One entry: a non-empty filter [MQTT-4.7.3-1] (its wildcard syntax is
 * the topic module's) and, for SUBSCRIBE, the options byte. */
static void read_entry(struct reader *r, uint8_t version, bool with_options)
{
	struct mqtt_str filter = rd_str(r);
	uint8_t options = with_options ? rd_u8(r) : 0;
	if (r->bad)
		return;
	uint8_t refusal = with_options ? options_refusal(version, options) : 0;
	if (filter.len == 0)
		rd_fail(r, MQTT_RC_MALFORMED_PACKET);
	else if (refusal)
		rd_fail(r, refusal);
}

static int decode_entries(const struct mqtt_frame *f, uint8_t version, bool with_options,
			  struct mqtt_subscribe *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	struct reader r = reader_of(f);
	out->packet_id = rd_u16(&r);
	if (is_v5(version))
		out->props = rd_props(&r, with_options ? PROPS_SUBSCRIBE : PROPS_UNSUBSCRIBE);
	if (r.bad)
		return fail(&r, reason);
	if (out->packet_id == 0)
		return malformed(reason); /* [MQTT-2.3.1-1] */
	out->entries = (struct mqtt_bin){r.p, (uint32_t)reader_left(&r)};
	while (!r.bad && reader_left(&r) > 0) {
		read_entry(&r, version, with_options);
		out->count++;
	}
	if (out->count == 0) {
		/* 3.1.1 [MQTT-3.8.3-3], [MQTT-3.10.3-2]; 5.0 calls it a Protocol
		 * Error [MQTT-3.8.3-2], [MQTT-3.10.3-2] */
		*reason = is_v5(version) ? MQTT_RC_PROTOCOL_ERROR : MQTT_RC_MALFORMED_PACKET;
		return FM_EPROTO;
	}
	return finish(&r, reason);
}

int mqtt_decode_subscribe(const struct mqtt_frame *f, uint8_t version,
			  struct mqtt_subscribe *out, uint8_t *reason)
{
	return decode_entries(f, version, true, out, reason);
}

int mqtt_decode_unsubscribe(const struct mqtt_frame *f, uint8_t version,
			    struct mqtt_subscribe *out, uint8_t *reason)
{
	return decode_entries(f, version, false, out, reason);
}

void mqtt_entries_begin(const struct mqtt_subscribe *s, bool with_options, struct mqtt_entry_iter *it)
{
	it->p = s->entries.p;
	it->end = s->entries.p + s->entries.len;
	it->with_options = with_options;
}

bool mqtt_entries_next(struct mqtt_entry_iter *it, struct mqtt_sub_entry *out)
{
	if (it->p >= it->end)
		return false;
	struct reader r = {it->p, it->end, false, 0};
	out->filter = rd_str(&r);
	out->options = it->with_options ? rd_u8(&r) : 0;
	it->p = r.p;
	return !r.bad;
}

/* --- PINGREQ, PINGRESP, DISCONNECT ------------------------------------------ */

int mqtt_decode_empty(const struct mqtt_frame *f, uint8_t *reason)
{
	if (f->remaining_len != 0)
		return malformed(reason); /* [MQTT-3.12.1], [MQTT-3.13.1], 3.1.1 [MQTT-3.14.1] */
	*reason = 0;
	return FM_OK;
}

int mqtt_decode_disconnect(const struct mqtt_frame *f, uint8_t version,
			   struct mqtt_disconnect *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	if (!is_v5(version))
		return mqtt_decode_empty(f, reason);
	struct reader r = reader_of(f);
	read_v5_tail(&r, PROPS_DISCONNECT, &out->reason, &out->props);
	return finish(&r, reason);
}

int mqtt_decode_auth(const struct mqtt_frame *f, uint8_t version, struct mqtt_auth *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	if (!is_v5(version))
		return malformed(reason); /* AUTH exists in 5.0 only */
	struct reader r = reader_of(f);
	read_v5_tail(&r, PROPS_AUTH, &out->reason, &out->props);
	if (!r.bad && out->reason != MQTT_RC_SUCCESS && out->reason != MQTT_RC_CONTINUE_AUTH &&
	    out->reason != MQTT_RC_REAUTHENTICATE)
		return malformed(reason); /* not an AUTH reason code (3.15.2.1) */
	return finish(&r, reason);
}

/* --- client side: CONNACK, SUBACK, UNSUBACK --------------------------------- */

int mqtt_decode_connack(const struct mqtt_frame *f, uint8_t version, struct mqtt_connack *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	struct reader r = reader_of(f);
	uint8_t flags = rd_u8(&r);
	out->reason = rd_u8(&r);
	if (is_v5(version))
		out->props = rd_props(&r, PROPS_CONNACK);
	if (!r.bad && (flags & 0xFE))
		return malformed(reason); /* reserved bits [MQTT-3.2.2-1] */
	out->session_present = flags & 0x01;
	return finish(&r, reason);
}

/* SUBACK has one code per filter, so at least one [MQTT-3.9.3-1]. A 3.1.1
 * UNSUBACK is only a packet id, so any code is a leftover byte. A 5.0
 * UNSUBACK should carry one code per filter too, but an empty list is
 * accepted: this side is for tools and tests, and leniency costs nothing. */
int mqtt_decode_suback(const struct mqtt_frame *f, uint8_t version, struct mqtt_suback *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	struct reader r = reader_of(f);
	out->packet_id = rd_u16(&r);
	if (is_v5(version))
		out->props = rd_props(&r, PROPS_ACK);
	if (r.bad)
		return fail(&r, reason);
	if (f->type == MQTT_SUBACK && reader_left(&r) == 0)
		return malformed(reason);
	if (f->type == MQTT_SUBACK || is_v5(version)) {
		out->codes = (struct mqtt_bin){r.p, (uint32_t)reader_left(&r)};
		r.p = r.end;
	}
	return finish(&r, reason);
}
