/* libFuzzer target: a whole stream of MQTT packets through framing and the
 * decoder for every packet type. The first input byte picks the protocol
 * version (3, 4 or 5), the rest is the stream, fed in two pieces split at
 * the second byte's value to exercise resumable framing. */
#include "fleetmq/errors.h"
#include "mqtt/codec.h"
#include "mqtt/props.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the protocol layer does with a decoded 5.0 property section: read
 * it by id and copy what a message forwards (props.h). */
static void use_props(struct mqtt_bin raw)
{
	struct mqtt_props p;
	mqtt_props_read(raw, &p);
	struct buf b;
	buf_init(&b);
	(void)mqtt_props_copy(&b, raw, MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY));
	buf_fini(&b);
}

/* The property sections of a packet the decoder accepted. */
static void use_all_props(uint8_t type, const void *u)
{
	switch (type) {
	case MQTT_CONNECT:
		use_props(((const struct mqtt_connect *)u)->props);
		use_props(((const struct mqtt_connect *)u)->will_props);
		break;
	case MQTT_CONNACK: use_props(((const struct mqtt_connack *)u)->props); break;
	case MQTT_PUBLISH: use_props(((const struct mqtt_publish *)u)->props); break;
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
		use_props(((const struct mqtt_ack *)u)->props);
		break;
	case MQTT_SUBSCRIBE: case MQTT_UNSUBSCRIBE: use_props(((const struct mqtt_subscribe *)u)->props); break;
	case MQTT_SUBACK: case MQTT_UNSUBACK: use_props(((const struct mqtt_suback *)u)->props); break;
	case MQTT_DISCONNECT: use_props(((const struct mqtt_disconnect *)u)->props); break;
	case MQTT_AUTH: use_props(((const struct mqtt_auth *)u)->props); break;
	default: break;
	}
}

static void decode_one(const struct mqtt_frame *f, uint8_t version)
{
	uint8_t reason = 0xFF; /* decoders set 0 on success */
	union {
		struct mqtt_connect connect;
		struct mqtt_publish publish;
		struct mqtt_ack ack;
		struct mqtt_subscribe sub;
		struct mqtt_disconnect disconnect;
		struct mqtt_connack connack;
		struct mqtt_suback suback;
		struct mqtt_auth auth;
	} u;
	switch (f->type) {
	case MQTT_CONNECT: mqtt_decode_connect(f, &u.connect, &reason); break;
	case MQTT_CONNACK: mqtt_decode_connack(f, version, &u.connack, &reason); break;
	case MQTT_PUBLISH: mqtt_decode_publish(f, version, &u.publish, &reason); break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP: mqtt_decode_ack(f, version, &u.ack, &reason); break;
	case MQTT_SUBSCRIBE:
		if (mqtt_decode_subscribe(f, version, &u.sub, &reason) == FM_OK) {
			struct mqtt_entry_iter it;
			struct mqtt_sub_entry e;
			mqtt_entries_begin(&u.sub, true, &it);
			while (mqtt_entries_next(&it, &e))
				;
		}
		break;
	case MQTT_UNSUBSCRIBE: mqtt_decode_unsubscribe(f, version, &u.sub, &reason); break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK: mqtt_decode_suback(f, version, &u.suback, &reason); break;
	case MQTT_DISCONNECT: mqtt_decode_disconnect(f, version, &u.disconnect, &reason); break;
	case MQTT_AUTH: mqtt_decode_auth(f, version, &u.auth, &reason); break;
	default: mqtt_decode_empty(f, &reason); break;
	}
	if (reason == 0 && version == MQTT_V5)
		use_all_props(f->type, &u);
}

/* Frame and decode everything complete in p[0, len); returns bytes used,
 * or len when the stream is invalid (a broker would close). */
static size_t run_stream(const uint8_t *p, size_t len, uint8_t version)
{
	size_t done = 0;
	while (done < len) {
		struct mqtt_frame f;
		size_t used;
		uint8_t reason;
		int rc = mqtt_frame_parse(p + done, len - done, 1u << 20, &f, &used, &reason);
		if (rc == FM_EAGAIN)
			return done;
		if (rc != FM_OK)
			return len;
		decode_one(&f, version);
		done += used;
	}
	return done;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t version = (uint8_t)(3 + data[0] % 3);
	size_t split = data[1];
	const uint8_t *stream = data + 2;
	size_t len = size - 2;
	if (split > len)
		split = len;
	/* first piece, then the leftover plus the second piece, as a connection would */
	size_t used = run_stream(stream, split, version);
	if (used < len)
		run_stream(stream + used, len - used, version);
	return 0;
}
