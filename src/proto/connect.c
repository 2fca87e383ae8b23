/* CONNECT -> CONNACK, session attach/takeover/detach, wills.
 *
 * Decode, check (protocol level, client id rules, keepalive limit,
 * anonymous access), act (take over an existing connection with the same
 * id, resume or create the session, remember the will), reply (CONNACK,
 * then redeliver what the resumed session owes). */
#include "proto/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void send_connack(struct client *c, bool session_present, uint8_t rc)
{
	struct mqtt_connack ack = { .session_present = session_present, .reason = rc };
	if (mqtt_encode_connack(&c->out, c->version, &ack) == FM_OK)
		client_mark_dirty(c);
}

/* Refuse with a CONNACK return code, then close [MQTT-3.2.2-5]. */
static int refuse(struct client *c, uint8_t rc, const char *why_text, const char **why)
{
	send_connack(c, false, rc);
	*why = why_text;
	return FM_EPROTO;
}

/* A client id the server made up for an empty one [MQTT-3.1.3-6]. */
static void assign_id(struct broker *b, char *out, size_t len)
{
	b->client_seq++;
	snprintf(out, len, "fleetmq-%llx-%08x", (unsigned long long)b->client_seq, (unsigned)rand());
}

static int check_connect(struct client *c, const struct mqtt_connect *ct, const char **why)
{
	struct broker *b = c->b;
	if (ct->version == MQTT_V5)
		/* 5.0 arrives with its properties, session expiry and reason codes;
		 * until then a 5.0 client is told plainly that we do not speak it. */
		return refuse(c, MQTT_CONNACK_BAD_PROTOCOL, "MQTT 5.0 not supported yet", why);
	if (ct->client_id.len == 0 && (!ct->clean_start || ct->version == MQTT_V31))
		return refuse(c, MQTT_CONNACK_ID_REJECTED,
			      "empty client id without clean session", why); /* [MQTT-3.1.3-8] */
	if (ct->keepalive_s > b->conf.max_keepalive)
		return refuse(c, MQTT_CONNACK_ID_REJECTED, "keepalive above max_keepalive", why);
	if (!ct->has_username && !conf_listener_allow_anonymous(&b->conf, c->listener->conf))
		return refuse(c, MQTT_CONNACK_NOT_AUTHORIZED, "anonymous access refused", why);
	if (ct->will_flag && !b->conf.retain_available && ct->will_retain)
		return refuse(c, MQTT_CONNACK_UNAVAILABLE, "retained will but retain_available false", why);
	return FM_OK;
}

static void unsubscribe_all(struct broker *b, struct session *s)
{
	for (uint32_t i = 0; i < s->n_subs; i++)
		topic_tree_del(b->subs, s->subs[i].filter, s->subs[i].len, s);
}

/* Remove a session from the broker entirely and free it. */
static void session_destroy(struct broker *b, struct session *s)
{
	unsubscribe_all(b, s);
	session_table_del(b->sessions, s);
	session_free(s);
}

static void publish_will(struct broker *b, struct session *s)
{
	struct msg *will = s->will;
	if (!will)
		return;
	s->will = NULL;
	if (will->retain)
		route_retain(b, will);
	route_publish(b, NULL, will);
	msg_unref(will);
}

void proto_session_detach(struct client *c)
{
	struct broker *b = c->b;
	struct session *s = c->session;
	c->session = NULL;
	s->owner = NULL;
	if (c->will_on_close)
		publish_will(b, s); /* [MQTT-3.1.2-8] */
	else
		session_will_set(s, NULL); /* [MQTT-3.1.2-10] */
	if (!s->persistent)
		session_destroy(b, s); /* [MQTT-3.1.2-6] */
}

/* Find or create the session for this CONNECT; close a connection that
 * holds it [MQTT-3.1.4-2]. *present tells whether state was resumed. */
static struct session *attach_session(struct client *c, const struct mqtt_connect *ct,
				      const char *id, size_t id_len, bool *present)
{
	struct broker *b = c->b;
	struct session *s = session_table_get(b->sessions, id, id_len);
	if (s && s->owner)
		client_close(s->owner, "session taken over by a new connection");
	/* the takeover may have destroyed a clean session; look again */
	s = session_table_get(b->sessions, id, id_len);
	if (s && ct->clean_start) {
		session_destroy(b, s); /* [MQTT-3.1.2-6] */
		s = NULL;
	}
	*present = s != NULL; /* [MQTT-3.2.2-1], [MQTT-3.2.2-2] */
	if (!s) {
		s = session_new(id, id_len, !ct->clean_start);
		if (!s || session_table_add(b->sessions, s) != FM_OK) {
			session_free(s);
			return NULL;
		}
	}
	s->persistent = !ct->clean_start;
	s->owner = c;
	return s;
}

static int set_will(struct client *c, const struct mqtt_connect *ct)
{
	if (!ct->will_flag) {
		session_will_set(c->session, NULL);
		return FM_OK;
	}
	struct msg *will = msg_new(ct->will_topic.p, ct->will_topic.len, ct->will_payload.p,
				   ct->will_payload.len, ct->will_qos, ct->will_retain);
	if (!will)
		return FM_ENOMEM;
	session_will_set(c->session, will);
	return FM_OK;
}

int proto_on_connect(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_connect ct;
	uint8_t reason = 0;
	int rc = mqtt_decode_connect(f, &ct, &reason);
	if (rc != FM_OK) {
		if (reason == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION) {
			c->version = MQTT_V311; /* answer in a format any 3.x client reads */
			return refuse(c, MQTT_CONNACK_BAD_PROTOCOL, "unsupported protocol level", why); /* [MQTT-3.1.2-2] */
		}
		*why = "malformed CONNECT";
		return rc;
	}
	c->version = ct.version;
	if ((rc = check_connect(c, &ct, why)) != FM_OK)
		return rc;
	if (ct.will_flag && (!topic_name_valid(ct.will_topic.p, ct.will_topic.len))) {
		*why = "invalid will topic";
		return FM_EPROTO;
	}

	char assigned[64];
	const char *id = ct.client_id.p;
	size_t id_len = ct.client_id.len;
	if (id_len == 0) {
		assign_id(c->b, assigned, sizeof(assigned));
		id = assigned;
		id_len = strlen(assigned);
	}
	bool present = false;
	c->session = attach_session(c, &ct, id, id_len, &present);
	if (!c->session || set_will(c, &ct) != FM_OK) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	c->id_for_log = c->session->client_id;
	c->keepalive_s = ct.keepalive_s;
	c->state = CLIENT_ACTIVE;
	c->will_on_close = true;
	c->b->stats.connects_total++;
	client_start_keepalive(c);
	send_connack(c, present, MQTT_CONNACK_ACCEPTED); /* [MQTT-3.2.0-1] */
	log_notice(&c->b->log, "client %s connected from %s (v%u, clean %d, keepalive %u%s)",
		   c->id_for_log, c->conn.peer, ct.version, ct.clean_start, ct.keepalive_s,
		   present ? ", session resumed" : "");
	if (present)
		deliver_resume(c->b, c->session);
	return FM_OK;
}
