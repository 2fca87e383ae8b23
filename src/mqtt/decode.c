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

/* The common ending: every byte read, none left over, nothing bad. */
static int finish(const struct reader *r, uint8_t *reason)
{
	if (r->bad || reader_left(r) != 0)
		return malformed(reason);
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
	out->version = level;
	bool mqtt = bin_is(name, "MQTT"), mqisdp = bin_is(name, "MQIsdp");
	if ((mqtt && (level == MQTT_V311 || level == MQTT_V5)) || (mqisdp && level == MQTT_V31))
		return FM_OK;
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
		out->props = rd_props(&r);
	out->client_id = rd_str(&r);
	if (out->will_flag) {
		if (is_v5(out->version))
			out->will_props = rd_props(&r);
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
	return memchr(s.p, '+', s.len) || memchr(s.p, '#', s.len);
}

int mqtt_decode_publish(const struct mqtt_frame *f, uint8_t version,
			struct mqtt_publish *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	out->qos = (f->flags >> 1) & 0x03;
	out->dup = f->flags & 0x08;
	out->retain = f->flags & 0x01;
	if (out->qos == 3 || (out->qos == 0 && out->dup))
		return malformed(reason); /* [MQTT-3.3.1-4], [MQTT-3.3.1-2] */
	struct reader r = reader_of(f);
	out->topic = rd_str(&r);
	if (out->qos > 0)
		out->packet_id = rd_u16(&r);
	if (is_v5(version))
		out->props = rd_props(&r);
	if (r.bad || (out->qos > 0 && out->packet_id == 0))
		return malformed(reason); /* [MQTT-2.3.1-1] */
	if (has_wildcard(out->topic) || (out->topic.len == 0 && !is_v5(version))) {
		*reason = MQTT_RC_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-2], [MQTT-4.7.3-1] */
		return FM_EPROTO;
	}
	out->payload = (struct mqtt_bin){r.p, (uint32_t)reader_left(&r)};
	r.p = r.end;
	return finish(&r, reason);
}

/* --- PUBACK, PUBREC, PUBREL, PUBCOMP -------------------------------------- */

/* 5.0 acks may stop after the packet id (reason 0) or after the reason
 * code (no properties) [MQTT-3.4.2.1]. */
static void read_v5_tail(struct reader *r, uint8_t *code, struct mqtt_bin *props)
{
	if (reader_left(r) > 0)
		*code = rd_u8(r);
	if (reader_left(r) > 0)
		*props = rd_props(r);
}

int mqtt_decode_ack(const struct mqtt_frame *f, uint8_t version, struct mqtt_ack *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	out->type = f->type;
	struct reader r = reader_of(f);
	out->packet_id = rd_u16(&r);
	if (is_v5(version))
		read_v5_tail(&r, &out->reason, &out->props);
	if (!r.bad && out->packet_id == 0)
		return malformed(reason); /* [MQTT-2.3.1-1] */
	return finish(&r, reason);
}

/* --- SUBSCRIBE, UNSUBSCRIBE ------------------------------------------------ */

/* Subscription options: QoS <= 2 and reserved bits zero [MQTT-3.8.3-4];
 * 5.0 adds no-local, retain-as-published and retain handling (not 3). */
static bool options_valid(uint8_t version, uint8_t o)
{
	if ((o & 0x03) == 3)
		return false;
	if (!is_v5(version))
		return (o & 0xFC) == 0;
	return (o & 0xC0) == 0 && ((o >> 4) & 0x03) != 3;
}

static int decode_entries(const struct mqtt_frame *f, uint8_t version, bool with_options,
			  struct mqtt_subscribe *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	struct reader r = reader_of(f);
	out->packet_id = rd_u16(&r);
	if (is_v5(version))
		out->props = rd_props(&r);
	if (r.bad || out->packet_id == 0)
		return malformed(reason); /* [MQTT-2.3.1-1] */
	out->entries = (struct mqtt_bin){r.p, (uint32_t)reader_left(&r)};
	while (!r.bad && reader_left(&r) > 0) {
		struct mqtt_str filter = rd_str(&r);
		uint8_t options = with_options ? rd_u8(&r) : 0;
		if (filter.len == 0 || (with_options && !options_valid(version, options)))
			r.bad = true; /* [MQTT-4.7.3-1] */
		out->count++;
	}
	if (out->count == 0)
		r.bad = true; /* [MQTT-3.8.3-3], [MQTT-3.10.3-2] */
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
	struct reader r = {it->p, it->end, false};
	out->filter = rd_str(&r);
	out->options = it->with_options ? rd_u8(&r) : 0;
	it->p = r.p;
	return !r.bad;
}

/* --- PINGREQ, PINGRESP, DISCONNECT ------------------------------------------ */

int mqtt_decode_empty(const struct mqtt_frame *f, uint8_t *reason)
{
	if (f->remaining_len != 0)
		return malformed(reason);
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
	read_v5_tail(&r, &out->reason, &out->props);
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
		out->props = rd_props(&r);
	if (flags & 0xFE)
		return malformed(reason); /* reserved bits [MQTT-3.2.2-1] */
	out->session_present = flags & 0x01;
	return finish(&r, reason);
}

int mqtt_decode_suback(const struct mqtt_frame *f, uint8_t version, struct mqtt_suback *out, uint8_t *reason)
{
	memset(out, 0, sizeof(*out));
	struct reader r = reader_of(f);
	out->packet_id = rd_u16(&r);
	if (is_v5(version))
		out->props = rd_props(&r);
	if (r.bad)
		return malformed(reason);
	out->codes = (struct mqtt_bin){r.p, (uint32_t)reader_left(&r)};
	r.p = r.end;
	if (f->type == MQTT_SUBACK && out->codes.len == 0)
		return malformed(reason);
	return finish(&r, reason);
}
