/* PINGREQ -> PINGRESP [MQTT-3.12.4-1] and DISCONNECT. */
#include "proto/proto.h"

int proto_on_pingreq(struct client *c, const struct mqtt_frame *f, const char **why)
{
	uint8_t reason = 0;
	if (mqtt_decode_empty(f, &reason) != FM_OK) {
		*why = "malformed PINGREQ";
		return FM_EPROTO;
	}
	if (mqtt_encode_empty(&c->out, MQTT_PINGRESP) != FM_OK)
		return FM_ENOMEM;
	client_mark_dirty(c);
	return FM_OK;
}

/* A clean DISCONNECT discards the will [MQTT-3.1.2-10] and closes. The
 * close is reported to dispatch as a non-OK code so it stops reading. */
int proto_on_disconnect(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_disconnect d;
	uint8_t reason = 0;
	if (mqtt_decode_disconnect(f, c->version, &d, &reason) != FM_OK) {
		*why = "malformed DISCONNECT";
		return FM_EPROTO;
	}
	c->will_on_close = false;
	*why = "client sent DISCONNECT";
	return FM_ECLOSED;
}
