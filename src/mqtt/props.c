/* MQTT 5.0 properties (section 2.2.2): the value type of every property id,
 * which packets may carry it, which may appear only once, and the value
 * rules that need no session state (a zero Receive Maximum, a Topic Alias
 * of 0, ...). Rules that do need state (topic alias range, authentication
 * method matching the CONNECT's) belong to the protocol layer.
 *
 * Decoders call rd_props() once per property section; it checks every
 * property and hands back the raw bytes, so nothing here allocates.
 * Failure reasons follow the spec's wording: an id the packet may not carry
 * or a value that does not parse is a Malformed Packet (section 2.2.2.2);
 * a repeated single-use property or a forbidden value is a Protocol Error
 * (Topic Alias 0 being the Protocol Error reported as 0x94, section 3.3.4). */
#include "mqtt/props.h"
#include "mqtt/reader.h"

enum prop_kind { PK_NONE, PK_BYTE, PK_U16, PK_U32, PK_VARINT, PK_STR, PK_BIN, PK_PAIR };

#define IN(ctx) (1u << (ctx))
#define IN_PUB_WILL (IN(PROPS_PUBLISH) | IN(PROPS_WILL))
#define IN_ALL 0xFFFFu

struct prop_def {
	uint8_t kind;   /* enum prop_kind; PK_NONE: no such id */
	uint16_t where; /* IN(enum props_ctx) bits of the packets that may carry it */
};

/* Section 2.2.2.2, table "Properties". Ids not listed are malformed. */
static const struct prop_def prop_defs[] = {
	[0x01] = {PK_BYTE, IN_PUB_WILL},                                   /* payload format indicator */
	[0x02] = {PK_U32, IN_PUB_WILL},                                    /* message expiry interval */
	[0x03] = {PK_STR, IN_PUB_WILL},                                    /* content type */
	[0x08] = {PK_STR, IN_PUB_WILL},                                    /* response topic */
	[0x09] = {PK_BIN, IN_PUB_WILL},                                    /* correlation data */
	[0x0B] = {PK_VARINT, IN(PROPS_PUBLISH) | IN(PROPS_SUBSCRIBE)},     /* subscription identifier */
	[0x11] = {PK_U32, IN(PROPS_CONNECT) | IN(PROPS_CONNACK) | IN(PROPS_DISCONNECT)}, /* session expiry */
	[0x12] = {PK_STR, IN(PROPS_CONNACK)},                              /* assigned client id */
	[0x13] = {PK_U16, IN(PROPS_CONNACK)},                              /* server keep alive */
	[0x15] = {PK_STR, IN(PROPS_CONNECT) | IN(PROPS_CONNACK) | IN(PROPS_AUTH)}, /* auth method */
	[0x16] = {PK_BIN, IN(PROPS_CONNECT) | IN(PROPS_CONNACK) | IN(PROPS_AUTH)}, /* auth data */
	[0x17] = {PK_BYTE, IN(PROPS_CONNECT)},                             /* request problem info */
	[0x18] = {PK_U32, IN(PROPS_WILL)},                                 /* will delay interval */
	[0x19] = {PK_BYTE, IN(PROPS_CONNECT)},                             /* request response info */
	[0x1A] = {PK_STR, IN(PROPS_CONNACK)},                              /* response information */
	[0x1C] = {PK_STR, IN(PROPS_CONNACK) | IN(PROPS_DISCONNECT)},       /* server reference */
	[0x1F] = {PK_STR, IN(PROPS_CONNACK) | IN(PROPS_ACK) | IN(PROPS_DISCONNECT) | IN(PROPS_AUTH)}, /* reason string */
	[0x21] = {PK_U16, IN(PROPS_CONNECT) | IN(PROPS_CONNACK)},          /* receive maximum */
	[0x22] = {PK_U16, IN(PROPS_CONNECT) | IN(PROPS_CONNACK)},          /* topic alias maximum */
	[0x23] = {PK_U16, IN(PROPS_PUBLISH)},                              /* topic alias */
	[0x24] = {PK_BYTE, IN(PROPS_CONNACK)},                             /* maximum QoS */
	[0x25] = {PK_BYTE, IN(PROPS_CONNACK)},                             /* retain available */
	[0x26] = {PK_PAIR, IN_ALL},                                        /* user property */
	[0x27] = {PK_U32, IN(PROPS_CONNECT) | IN(PROPS_CONNACK)},          /* maximum packet size */
	[0x28] = {PK_BYTE, IN(PROPS_CONNACK)},                             /* wildcard subs available */
	[0x29] = {PK_BYTE, IN(PROPS_CONNACK)},                             /* sub ids available */
	[0x2A] = {PK_BYTE, IN(PROPS_CONNACK)},                             /* shared subs available */
};
#define N_PROP_IDS (sizeof(prop_defs) / sizeof(prop_defs[0]))

/* User Property may repeat anywhere; Subscription Identifier only in
 * PUBLISH, where the server sends one per matching subscription. Every
 * other property is a Protocol Error the second time. */
static bool may_repeat(uint32_t id, enum props_ctx ctx)
{
	return id == 0x26 || (id == 0x0B && ctx == PROPS_PUBLISH);
}

/* Read one value of the given kind; returns it for the kinds that have a
 * numeric value worth checking, 0 otherwise. */
static uint32_t rd_value(struct reader *r, enum prop_kind k)
{
	switch (k) {
	case PK_BYTE: return rd_u8(r);
	case PK_U16: return rd_u16(r);
	case PK_U32: return rd_u32(r);
	case PK_VARINT: return rd_varint(r);
	case PK_STR: rd_str(r); return 0;
	case PK_BIN: rd_bin(r); return 0;
	case PK_PAIR: rd_str(r); rd_str(r); return 0;
	case PK_NONE: break;
	}
	rd_fail(r, MQTT_RC_MALFORMED_PACKET);
	return 0;
}

/* Values the spec forbids outright, whatever the session. */
static bool value_allowed(uint32_t id, uint32_t v)
{
	switch (id) {
	case 0x0B: return v != 0; /* subscription identifier 1..268,435,455 [MQTT-3.8.2.1.2] */
	case 0x21: return v != 0; /* receive maximum 0 (3.1.2.11.3, 3.2.2.3.3) */
	case 0x23: return v != 0; /* topic alias 0 [MQTT-3.3.2-8] */
	case 0x27: return v != 0; /* maximum packet size 0 (3.1.2.11.4, 3.2.2.3.6) */
	case 0x01: /* payload format indicator: 0 unspecified, 1 UTF-8 (3.3.2.3.2) */
	case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
		return v <= 1; /* flag-like bytes: "a value other than 0 or 1" */
	default: return true;
	}
}

/* One property: id, then a value of its type. *seen has a bit per id
 * already read in this section. */
static void rd_prop(struct reader *r, enum props_ctx ctx, uint64_t *seen)
{
	/* ids are varints, but every defined one is below 128: a second byte
	 * is either a longer-than-needed encoding [MQTT-1.5.5-1] or unknown */
	uint32_t id = rd_u8(r);
	if (r->bad)
		return;
	if (id >= N_PROP_IDS || prop_defs[id].kind == PK_NONE || !(prop_defs[id].where & IN(ctx))) {
		rd_fail(r, MQTT_RC_MALFORMED_PACKET); /* section 2.2.2.2 */
		return;
	}
	uint32_t v = rd_value(r, (enum prop_kind)prop_defs[id].kind);
	if (r->bad)
		return;
	if ((*seen & (1ull << id)) && !may_repeat(id, ctx))
		rd_fail(r, MQTT_RC_PROTOCOL_ERROR);
	else if (!value_allowed(id, v)) /* 3.3.4 gives Topic Alias 0 a code of its own */
		rd_fail(r, id == 0x23 ? MQTT_RC_TOPIC_ALIAS_INVALID : MQTT_RC_PROTOCOL_ERROR);
	*seen |= 1ull << id;
}

/* Check every property in pr; on failure pr->bad and pr->rc say why. */
static void walk_props(struct reader *pr, enum props_ctx ctx)
{
	uint64_t seen = 0;
	while (!pr->bad && reader_left(pr) > 0)
		rd_prop(pr, ctx, &seen);
}

struct mqtt_bin rd_props(struct reader *r, enum props_ctx ctx)
{
	uint32_t len = rd_varint(r);
	if (r->bad || reader_left(r) < len) {
		rd_fail(r, MQTT_RC_MALFORMED_PACKET);
		return (struct mqtt_bin){0};
	}
	struct mqtt_bin props = {r->p, len};
	/* A sub-reader bounded by the section's length, so a property value
	 * cannot run into the payload. */
	struct reader pr = {r->p, r->p + len, false, 0};
	walk_props(&pr, ctx);
	if (pr.bad)
		rd_fail(r, pr.rc);
	r->p += len;
	return props;
}

/* --- reading a validated section (props.h) -------------------------------- */

bool mqtt_props_next(struct mqtt_bin *rest, struct mqtt_prop *p)
{
	if (rest->len == 0)
		return false;
	struct reader r = {rest->p, rest->p + rest->len, false, 0};
	*p = (struct mqtt_prop){0};
	uint32_t id = rd_varint(&r);
	enum prop_kind k = id < N_PROP_IDS ? (enum prop_kind)prop_defs[id].kind : PK_NONE;
	p->id = (uint8_t)id;
	if (k == PK_STR || k == PK_BIN || k == PK_PAIR)
		p->data = rd_bin(&r);
	if (k == PK_PAIR)
		p->data2 = rd_bin(&r);
	else if (k != PK_STR && k != PK_BIN)
		p->num = rd_value(&r, k);
	if (r.bad)
		return false; /* not a validated section: stop rather than read on */
	p->raw = (struct mqtt_bin){rest->p, (uint32_t)(r.p - rest->p)};
	rest->p = r.p;
	rest->len -= p->raw.len;
	return true;
}
