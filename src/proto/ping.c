/* PINGREQ -> PINGRESP [MQTT-3.12.4-1], and DISCONNECT both ways. */
#include "mqtt/props.h"
#include "proto/persist.h"
#include "proto/proto.h"

#include <string.h>

int proto_on_pingreq(struct client *c, const struct mqtt_frame *f, const char **why)
{
	uint8_t reason = 0;
	if (mqtt_decode_empty(f, &reason) != FM_OK)
		return proto_malformed(c, reason, "malformed PINGREQ", why);
	if (mqtt_encode_empty(&c->out, MQTT_PINGRESP) != FM_OK)
		return FM_ENOMEM;
	client_mark_dirty(c);
	return FM_OK;
}

/* A 5.0 DISCONNECT may change the Session Expiry Interval, but not from 0:
 * a session the client said ends with the connection stays so
 * [MQTT-3.14.2-2]. */
static int apply_session_expiry(struct client *c, const struct mqtt_props *p, const char **why)
{
	if (!mqtt_props_has(p, MQTT_PROP_SESSION_EXPIRY))
		return FM_OK;
	struct session *s = c->session;
	uint32_t v = p->num[MQTT_PROP_SESSION_EXPIRY];
	if (s->expiry_interval == 0 && v != 0)
		return proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "DISCONNECT sets a session expiry after CONNECT's 0", why);
	if (s->expiry_interval != v) {
		s->expiry_interval = v;
		persist_session_put(c->w, s); /* also "never", which arms no deadline that would write it */
	}
	return FM_OK;
}

/* DISCONNECT discards the will [MQTT-3.1.2-10] unless a 5.0 client asks
 * for it with 0x04 [MQTT-3.14.4-3]; then the connection closes. The close
 * is reported to dispatch as FM_ECLOSED so it stops reading. */
int proto_on_disconnect(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_disconnect d;
	uint8_t reason = 0;
	if (mqtt_decode_disconnect(f, c->version, &d, &reason) != FM_OK)
		return proto_malformed(c, reason, "malformed DISCONNECT", why);
	if (c->version == MQTT_V5) {
		struct mqtt_props p;
		mqtt_props_read(d.props, &p);
		if (apply_session_expiry(c, &p, why) != FM_OK)
			return FM_EPROTO;
	}
	c->will_on_close = c->version == MQTT_V5 && d.reason == MQTT_RC_DISCONNECT_WITH_WILL;
	*why = d.reason == 0 ? "client sent DISCONNECT" : "client sent DISCONNECT with a reason code";
	return FM_ECLOSED;
}

void proto_send_disconnect(struct client *c, uint8_t rc, const char *text)
{
	struct buf props;
	buf_init(&props);
	/* Reason String only for a client that did not turn problem
	 * information off (3.1.2.11.7) */
	if (c->problem_info && text)
		mqtt_prop_put_data(&props, MQTT_PROP_REASON_STRING, text, (uint16_t)strnlen(text, 256));
	/* too large for the client with the Reason String: without it
	 * [MQTT-3.14.2-3]; a client that takes not even 3 bytes gets nothing */
	size_t rem = 1 + mqtt_varint_size((uint32_t)buf_used(&props)) + buf_used(&props);
	size_t with_string = 1 + mqtt_varint_size((uint32_t)rem) + rem;
	uint32_t max = client_max_packet(c);
	if (max && with_string > max)
		props.off = props.len = 0;
	struct mqtt_disconnect d = { .reason = rc, .props = mqtt_props_of(&props) };
	if (max == 0 || max >= 3)
		if (mqtt_encode_disconnect(&c->out, c->version, &d) == FM_OK)
			client_mark_dirty(c);
	buf_fini(&props);
}
