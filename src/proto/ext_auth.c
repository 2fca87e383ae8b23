/* MQTT 5.0 enhanced authentication (ext_auth.h) and the AUTH packet. */
#include "proto/ext_auth.h"
#include "auth/plugin_host.h"
#include "mqtt/props.h"
#include "proto/access.h"
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>

enum ext_auth_phase {
	PHASE_CONNECTING,  /* AUTH 0x18 sent; the CONNECT waits for the client's answer */
	PHASE_GRANTED,     /* allowed: the CONNECT runs on to its CONNACK */
	PHASE_DONE,        /* CONNACK sent; the client may re-authenticate */
	PHASE_REAUTH,      /* a re-authentication runs (AUTH 0x19 received) */
};

/* A plugin asked more often than this in one exchange, or a client
 * starting more re-authentications than REAUTH_MAX in REAUTH_WINDOW_MS,
 * is refused: each step runs the plugin on the worker, whose other
 * clients wait meanwhile. */
#define STEPS_MAX 32
#define REAUTH_MAX 10
#define REAUTH_WINDOW_MS 60000u

/* Lives in c->v5 from the CONNECT that names a method to the client's end. */
struct ext_auth {
	char *method;            /* the CONNECT's Authentication Method, NUL-terminated */
	uint16_t method_len;
	uint8_t phase;           /* enum ext_auth_phase */
	uint8_t reauths;         /* re-authentications started in the current window */
	unsigned step;           /* the plugins' step in the running exchange */
	uint32_t max_packet;     /* the CONNECT's Maximum Packet Size; 0: none */
	uint32_t reauth_window;  /* loop time (mod 2^32) the window began */
	uint8_t *connect;        /* the held CONNECT packet (CONNECTING, GRANTED) */
	uint32_t connect_len;
	uint8_t *data_out;       /* Authentication Data for the CONNACK (GRANTED) */
	uint16_t data_out_len;
	char *username;          /* the name a plugin gave the client (GRANTED); NULL: none */
};

static struct ext_auth *auth_of(const struct client *c)
{
	return c->v5 ? c->v5->auth : NULL;
}

bool ext_auth_waiting(const struct client *c)
{
	const struct ext_auth *ea = auth_of(c);
	return ea && ea->phase == PHASE_CONNECTING;
}

bool ext_auth_before_connack(const struct client *c)
{
	const struct ext_auth *ea = auth_of(c);
	return ea && (ea->phase == PHASE_CONNECTING || ea->phase == PHASE_GRANTED);
}

const char *ext_auth_username(const struct client *c)
{
	const struct ext_auth *ea = auth_of(c);
	return ea ? ea->username : NULL;
}

static void drop_held(struct ext_auth *ea)
{
	free(ea->connect);
	free(ea->data_out);
	free(ea->username);
	ea->connect = ea->data_out = NULL;
	ea->username = NULL;
	ea->connect_len = ea->data_out_len = 0;
}

void ext_auth_free(struct client *c)
{
	struct ext_auth *ea = auth_of(c);
	if (!ea)
		return;
	drop_held(ea);
	free(ea->method);
	free(ea);
	c->v5->auth = NULL;
}

static struct ext_auth *auth_new(struct client *c, const struct mqtt_props *p)
{
	struct mqtt_bin method = mqtt_props_data(p, MQTT_PROP_AUTH_METHOD);
	struct client_v5 *v5 = client_v5_get(c);
	struct ext_auth *ea = v5 ? calloc(1, sizeof(*ea)) : NULL;
	if (!ea || !(ea->method = strndup((const char *)method.p, method.len))) {
		free(ea);
		return NULL;
	}
	ea->method_len = (uint16_t)method.len;
	ea->max_packet = mqtt_props_num(p, MQTT_PROP_MAXIMUM_PACKET_SIZE, 0);
	v5->auth = ea;
	return ea;
}

/* Keep a copy of what a plugin set for the CONNACK: data and username. */
static int keep_plugin_output(struct ext_auth *ea, const struct plugin_ext_auth *pa)
{
	free(ea->data_out);
	free(ea->username);
	ea->data_out = NULL;
	ea->username = NULL;
	ea->data_out_len = 0;
	if (pa->username_out && !(ea->username = strdup(pa->username_out)))
		return FM_ENOMEM;
	if (!pa->data_out)
		return FM_OK;
	ea->data_out = malloc(pa->data_out_len ? pa->data_out_len : 1);
	if (!ea->data_out)
		return FM_ENOMEM;
	memcpy(ea->data_out, pa->data_out, pa->data_out_len);
	ea->data_out_len = (uint16_t)pa->data_out_len; /* fm_ext_auth_set_data caps it */
	return FM_OK;
}

static int put_method_and_data(const struct ext_auth *ea, const struct plugin_ext_auth *pa, struct buf *props)
{
	int rc = mqtt_prop_put_data(props, MQTT_PROP_AUTH_METHOD, ea->method, ea->method_len);
	if (pa && pa->data_out)
		rc |= mqtt_prop_put_data(props, MQTT_PROP_AUTH_DATA, pa->data_out, (uint16_t)pa->data_out_len);
	else if (!pa && ea->data_out)
		rc |= mqtt_prop_put_data(props, MQTT_PROP_AUTH_DATA, ea->data_out, ea->data_out_len);
	return rc == FM_OK ? FM_OK : FM_ENOMEM;
}

/* AUTH to the client with the method and a plugin's data [MQTT-4.12.0-2],
 * [MQTT-4.12.0-5]. FM_ETOOBIG (nothing sent) when it would not fit the
 * client's Maximum Packet Size [MQTT-3.1.2-24]. */
static int send_auth(struct client *c, const struct ext_auth *ea, uint8_t reason, const struct plugin_ext_auth *pa)
{
	struct buf props, pkt;
	buf_init(&props);
	buf_init(&pkt);
	int rc = put_method_and_data(ea, pa, &props);
	struct mqtt_auth a = { .reason = reason, .props = mqtt_props_of(&props) };
	if (rc == FM_OK)
		rc = mqtt_encode_auth(&pkt, &a);
	if (rc == FM_OK && ea->max_packet && buf_used(&pkt) > ea->max_packet)
		rc = FM_ETOOBIG;
	if (rc == FM_OK)
		rc = buf_append(&c->out, buf_head(&pkt), buf_used(&pkt));
	buf_fini(&pkt);
	buf_fini(&props);
	if (rc == FM_OK)
		client_mark_dirty(c);
	return rc;
}


int ext_auth_connack_props(const struct client *c, struct buf *props)
{
	const struct ext_auth *ea = auth_of(c);
	return ea && ea->phase == PHASE_GRANTED ? put_method_and_data(ea, NULL, props) : FM_OK;
}

void ext_auth_accepted(struct client *c)
{
	struct ext_auth *ea = auth_of(c);
	if (!ea)
		return;
	ea->phase = PHASE_DONE;
	drop_held(ea); /* only the method stays, for re-authentication */
}

/* --- the exchange before CONNACK ------------------------------------------------ */

/* Who the held CONNECT says the client is, as NUL-terminated copies. */
struct held_who {
	struct access_who who;
	char *id, *user;
};

static int who_from_connect(const struct mqtt_connect *ct, struct held_who *h)
{
	h->id = strndup(ct->client_id.p, ct->client_id.len);
	h->user = ct->has_username ? strndup(ct->username.p, ct->username.len) : NULL;
	h->who = (struct access_who){ .client_id = h->id, .username = h->user };
	return h->id && (h->user || !ct->has_username) ? FM_OK : FM_ENOMEM;
}

static void who_fini(struct held_who *h)
{
	free(h->id);
	free(h->user);
}

/* Ask the plugins one step with data. FM_OK with *verdict, or FM_ENOMEM. */
static int ask(struct client *c, const struct mqtt_connect *ct, struct ext_auth *ea, struct mqtt_bin data,
	       struct plugin_ext_auth *pa, int *verdict)
{
	struct held_who h;
	int rc = ct ? who_from_connect(ct, &h) : FM_OK;
	if (rc == FM_OK)
		*verdict = access_ext_auth(c, ct ? &h.who : NULL, ea->method, data, ea->step, pa);
	else
		plugin_ext_auth_init(pa, NULL, NULL, NULL, 0, 0); /* nothing asked: fini is still safe */
	if (ct)
		who_fini(&h);
	return rc;
}

static int hold_connect(struct ext_auth *ea, const struct mqtt_frame *f)
{
	uint32_t len = f->header_len + f->remaining_len;
	ea->connect = malloc(len);
	if (!ea->connect)
		return FM_ENOMEM;
	memcpy(ea->connect, f->body - f->header_len, len);
	ea->connect_len = len;
	return FM_OK;
}

static int refused(enum ext_auth_outcome *out, uint8_t *refuse_rc, const char **why_text, uint8_t rc,
		   const char *text)
{
	*out = EXT_AUTH_REFUSED;
	*refuse_rc = rc;
	*why_text = text;
	return FM_OK;
}

/* What a verdict before CONNACK means for the CONNECT. */
static int settle(struct client *c, struct ext_auth *ea, int verdict, const struct plugin_ext_auth *pa,
		  enum ext_auth_outcome *out, uint8_t *refuse_rc, const char **why_text)
{
	static const char too_large[] = "the plugin's answer does not fit the client's Maximum Packet Size";
	switch (verdict) {
	case FM_PLUGIN_ALLOW: /* the CONNACK's size is checked with the rest of it (connect.c) */
		ea->phase = PHASE_GRANTED;
		*out = EXT_AUTH_GRANTED;
		return keep_plugin_output(ea, pa);
	case FM_PLUGIN_CONTINUE: {
		ea->phase = PHASE_CONNECTING;
		*out = EXT_AUTH_WAITING;
		int rc = send_auth(c, ea, MQTT_RC_CONTINUE_AUTH, pa); /* [MQTT-4.12.0-2] */
		return rc == FM_ETOOBIG ? refused(out, refuse_rc, why_text, MQTT_RC_PACKET_TOO_LARGE, too_large) : rc;
	}
	case FM_PLUGIN_DEFER: /* no plugin takes the method [MQTT-4.12.0-1] */
		return refused(out, refuse_rc, why_text, MQTT_RC_BAD_AUTH_METHOD, "authentication method not supported");
	default: /* [MQTT-4.12.0-4] */
		return refused(out, refuse_rc, why_text, MQTT_RC_NOT_AUTHORIZED, "enhanced authentication refused by a plugin");
	}
}

int ext_auth_on_connect(struct client *c, const struct mqtt_frame *f, const struct mqtt_connect *ct,
			enum ext_auth_outcome *out, uint8_t *refuse_rc, const char **why_text)
{
	struct ext_auth *ea = auth_of(c);
	*out = EXT_AUTH_NONE;
	if (ea) { /* the CONNECT again, after the exchange or a session handoff */
		*out = EXT_AUTH_GRANTED;
		return FM_OK;
	}
	struct mqtt_props p;
	if (ct->version != MQTT_V5)
		return FM_OK;
	mqtt_props_read(ct->props, &p);
	if (!mqtt_props_has(&p, MQTT_PROP_AUTH_METHOD)) {
		if (!mqtt_props_has(&p, MQTT_PROP_AUTH_DATA))
			return FM_OK;
		*out = EXT_AUTH_REFUSED; /* 3.1.2.11.10: data without a method */
		*refuse_rc = MQTT_RC_PROTOCOL_ERROR;
		*why_text = "authentication data without an authentication method";
		return FM_OK;
	}
	if (!access_wants_ext_auth(c))
		return settle(c, NULL, FM_PLUGIN_DEFER, NULL, out, refuse_rc, why_text);
	if (!(ea = auth_new(c, &p)))
		return FM_ENOMEM;
	struct plugin_ext_auth pa;
	int verdict = FM_PLUGIN_DENY;
	int rc = ask(c, ct, ea, mqtt_props_data(&p, MQTT_PROP_AUTH_DATA), &pa, &verdict);
	if (rc == FM_OK && verdict == FM_PLUGIN_CONTINUE)
		rc = hold_connect(ea, f);
	if (rc == FM_OK)
		rc = settle(c, ea, verdict, &pa, out, refuse_rc, why_text);
	plugin_ext_auth_fini(&pa);
	return rc;
}

/* The CONNECT a plugin has now allowed runs again, first in c->in, once
 * this iteration's reading stopped (it was the last packet taken). */
static void rerun_connect(struct loop *lp, void *arg)
{
	(void)lp;
	struct client *c = arg;
	struct ext_auth *ea = auth_of(c);
	if (c->state != CLIENT_CLOSED && buf_prepend(&c->in, ea->connect, ea->connect_len) != FM_OK)
		client_close(c, "out of memory");
	free(ea->connect);
	ea->connect = NULL;
	client_handoff_done(c); /* runs it, or frees c if it was closed meanwhile */
}

/* A held CONNECT, decoded again for who the client says it is. */
static int held_connect(const struct ext_auth *ea, struct mqtt_connect *ct)
{
	struct mqtt_frame f;
	size_t used;
	uint8_t reason;
	if (mqtt_frame_parse(ea->connect, ea->connect_len, 0, &f, &used, &reason) != FM_OK)
		return FM_EPROTO;
	return mqtt_decode_connect(&f, ct, &reason);
}

/* The client's AUTH 0x18 before CONNACK [MQTT-4.12.0-3]: the next step. */
static int continue_connecting(struct client *c, struct ext_auth *ea, const struct mqtt_auth *a,
			       const struct mqtt_props *p, const char **why)
{
	if (a->reason != MQTT_RC_CONTINUE_AUTH)
		return proto_refuse_connect(c, MQTT_RC_PROTOCOL_ERROR, "AUTH before CONNACK without 0x18", why);
	if (ea->step + 1 >= STEPS_MAX) /* this would be the plugin's 33rd call */
		return proto_refuse_connect(c, MQTT_RC_NOT_AUTHORIZED, "too many authentication steps", why);
	struct mqtt_connect ct;
	if (held_connect(ea, &ct) != FM_OK)
		return proto_refuse_connect(c, MQTT_RC_UNSPECIFIED, "held CONNECT unreadable", why);
	ea->step++;
	struct plugin_ext_auth pa;
	int verdict = FM_PLUGIN_DENY;
	int rc = ask(c, &ct, ea, mqtt_props_data(p, MQTT_PROP_AUTH_DATA), &pa, &verdict);
	enum ext_auth_outcome out = EXT_AUTH_REFUSED;
	uint8_t refuse_rc = MQTT_RC_NOT_AUTHORIZED;
	const char *text = "enhanced authentication refused by a plugin";
	if (verdict == FM_PLUGIN_DEFER)
		verdict = FM_PLUGIN_DENY; /* mid-exchange, nobody taking it is a refusal */
	if (rc == FM_OK)
		rc = settle(c, ea, verdict, &pa, &out, &refuse_rc, &text);
	plugin_ext_auth_fini(&pa);
	if (rc == FM_OK && out == EXT_AUTH_GRANTED) {
		if ((rc = loop_defer(c->w->loop, rerun_connect, c)) == FM_OK)
			client_wait_handoff(c); /* nothing more is read before the CONNECT runs */
	}
	if (rc != FM_OK) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	return out == EXT_AUTH_REFUSED ? proto_refuse_connect(c, refuse_rc, text, why) : FM_OK;
}

/* --- re-authentication after CONNACK [MQTT-4.12.1-1] ------------------------------- */

/* A new re-authentication: within its budget? (the window restarts
 * when it has passed) */
static bool reauth_allowed(struct client *c, struct ext_auth *ea)
{
	uint32_t now = (uint32_t)loop_now_ms(c->w->loop);
	if (ea->reauths == 0 || now - ea->reauth_window >= REAUTH_WINDOW_MS) {
		ea->reauth_window = now;
		ea->reauths = 0;
	}
	return ++ea->reauths <= REAUTH_MAX;
}

/* The client's code: 0x19 starts one, 0x18 carries it on; 0x00 is the
 * server's [MQTT-4.12.0-3], [MQTT-3.15.2-1]. */
static int check_reauth_turn(struct client *c, const struct ext_auth *ea, uint8_t reason, const char **why)
{
	if (ea->phase == PHASE_DONE && reason != MQTT_RC_REAUTHENTICATE)
		return proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "AUTH without 0x19 and no re-authentication running", why);
	if (ea->phase == PHASE_REAUTH && reason != MQTT_RC_CONTINUE_AUTH)
		return proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "AUTH without 0x18 during a re-authentication", why);
	return FM_OK;
}

/* A new name from the plugin: the one the ACL sees from now on. */
static int take_username(struct client *c, const struct plugin_ext_auth *pa)
{
	if (!pa->username_out)
		return FM_OK;
	char *name = strdup(pa->username_out);
	if (!name)
		return FM_ENOMEM;
	free(c->username);
	c->username = name;
	return FM_OK;
}

static int reauthenticate(struct client *c, struct ext_auth *ea, const struct mqtt_auth *a,
			  const struct mqtt_props *p, const char **why)
{
	if (check_reauth_turn(c, ea, a->reason, why) != FM_OK)
		return FM_EPROTO;
	bool starts = a->reason == MQTT_RC_REAUTHENTICATE;
	if (starts && !reauth_allowed(c, ea))
		return proto_fail(c, MQTT_RC_MESSAGE_RATE_TOO_HIGH, "re-authenticating too often", why);
	if (!starts && ea->step + 1 >= STEPS_MAX)
		return proto_fail(c, MQTT_RC_MESSAGE_RATE_TOO_HIGH, "too many re-authentication steps", why);
	ea->step = starts ? 0 : ea->step + 1;
	struct plugin_ext_auth pa;
	int verdict = FM_PLUGIN_DENY;
	int rc = ask(c, NULL, ea, mqtt_props_data(p, MQTT_PROP_AUTH_DATA), &pa, &verdict);
	if (rc == FM_OK && verdict == FM_PLUGIN_CONTINUE) {
		ea->phase = PHASE_REAUTH;
		rc = send_auth(c, ea, MQTT_RC_CONTINUE_AUTH, &pa);
	} else if (rc == FM_OK && verdict == FM_PLUGIN_ALLOW) {
		ea->phase = PHASE_DONE;
		rc = send_auth(c, ea, MQTT_RC_SUCCESS, &pa);
		if (rc == FM_OK)
			rc = take_username(c, &pa);
	}
	plugin_ext_auth_fini(&pa);
	if (rc == FM_ETOOBIG)
		return proto_fail(c, MQTT_RC_PACKET_TOO_LARGE, "AUTH too large for the client's Maximum Packet Size", why);
	if (rc != FM_OK) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	if (verdict != FM_PLUGIN_CONTINUE && verdict != FM_PLUGIN_ALLOW)
		return proto_fail(c, MQTT_RC_NOT_AUTHORIZED, "re-authentication refused", why); /* [MQTT-4.12.1-2] */
	return FM_OK;
}

/* AUTH carries on the exchange the CONNECT's Authentication Method
 * started, before CONNACK or as a re-authentication after it. A client
 * that named no method may send none [MQTT-4.12.0-7]; one that did must
 * name the same method in each [MQTT-4.12.0-5]. */
int proto_on_auth(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct ext_auth *ea = auth_of(c);
	bool connecting = c->state == CLIENT_NEW;
	struct mqtt_auth a;
	uint8_t reason = 0;
	if (mqtt_decode_auth(f, c->version, &a, &reason) != FM_OK)
		return connecting ? proto_refuse_connect(c, reason ? reason : MQTT_RC_MALFORMED_PACKET, "malformed AUTH", why)
				  : proto_malformed(c, reason, "malformed AUTH", why);
	if (!ea)
		return proto_fail(c, MQTT_RC_PROTOCOL_ERROR, "AUTH without an authentication method", why);
	struct mqtt_props p;
	mqtt_props_read(a.props, &p);
	struct mqtt_bin m = mqtt_props_data(&p, MQTT_PROP_AUTH_METHOD);
	if (!mqtt_props_has(&p, MQTT_PROP_AUTH_METHOD) || m.len != ea->method_len || memcmp(m.p, ea->method, m.len) != 0) {
		const char *text = "AUTH with another authentication method";
		return connecting ? proto_refuse_connect(c, MQTT_RC_PROTOCOL_ERROR, text, why)
				  : proto_fail(c, MQTT_RC_PROTOCOL_ERROR, text, why);
	}
	if (connecting)
		return continue_connecting(c, ea, &a, &p, why);
	return reauthenticate(c, ea, &a, &p, why);
}
