/* CONNECT -> CONNACK, session attach/takeover/detach, wills.
 *
 * Decode, check (protocol level, client id rules, keepalive limit,
 * anonymous access), act (take over an existing connection with the same
 * id, resume or create the session, remember the will), reply (CONNACK,
 * then redeliver what the resumed session owes).
 *
 * A session homed on another worker is not touched from here: the CONNECT
 * asks that worker for it (worker.h, TAKEOVER) and is run again when the
 * session has been handed over. */
#include "proto/expiry.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/worker.h"

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
	unsigned long long seq = atomic_fetch_add(&b->client_seq, 1) + 1;
	snprintf(out, len, "fleetmq-%llx-%08x", seq, (unsigned)rand());
}

static bool anonymous_allowed(struct client *c)
{
	struct broker *b = c->w->b;
	pthread_rwlock_rdlock(&b->conf_lock);
	bool ok = conf_listener_allow_anonymous(&b->conf, c->listener->conf);
	pthread_rwlock_unlock(&b->conf_lock);
	return ok;
}

static int check_connect(struct client *c, const struct mqtt_connect *ct, const char **why)
{
	const struct worker_limits *lim = &c->w->lim;
	if (ct->version == MQTT_V5)
		/* 5.0 arrives with its properties, session expiry and reason codes;
		 * until then a 5.0 client is told plainly that we do not speak it. */
		return refuse(c, MQTT_CONNACK_BAD_PROTOCOL, "MQTT 5.0 not supported yet", why);
	if (ct->client_id.len == 0 && (!ct->clean_start || ct->version == MQTT_V31))
		return refuse(c, MQTT_CONNACK_ID_REJECTED,
			      "empty client id without clean session", why); /* [MQTT-3.1.3-8] */
	if (ct->keepalive_s > lim->max_keepalive)
		return refuse(c, MQTT_CONNACK_ID_REJECTED, "keepalive above max_keepalive", why);
	if (!ct->has_username && !anonymous_allowed(c))
		return refuse(c, MQTT_CONNACK_NOT_AUTHORIZED, "anonymous access refused", why);
	if (ct->will_flag && !lim->retain_available && ct->will_retain)
		return refuse(c, MQTT_CONNACK_UNAVAILABLE, "retained will but retain_available false", why);
	return FM_OK;
}

static void unsubscribe_all(struct broker *b, struct session *s)
{
	pthread_rwlock_wrlock(&b->subs_lock);
	for (uint32_t i = 0; i < s->n_subs; i++)
		topic_tree_del(b->subs, s->subs[i].filter, s->subs[i].len, s);
	pthread_rwlock_unlock(&b->subs_lock);
}

/* End a session (home worker only): out of the router, so no new delivery
 * can find it, out of the table, marked dead for deliveries already in
 * flight, and the table's reference dropped. */
void proto_session_end(struct worker *w, struct session *s)
{
	struct broker *b = w->b;
	session_expiry_stop(w, s);
	persist_session_del(w, s);
	unsubscribe_all(b, s);
	pthread_mutex_lock(&b->sessions_lock);
	session_table_del(b->sessions, s);
	pthread_mutex_unlock(&b->sessions_lock);
	atomic_store(&s->dead, true);
	session_unref(s);
}

static void publish_will(struct worker *w, struct session *s)
{
	struct msg *will = s->will;
	if (!will)
		return;
	s->will = NULL;
	if (will->retain)
		route_retain(w, will);
	route_publish(w, NULL, will);
	msg_unref(will);
}

void proto_session_detach(struct client *c)
{
	struct session *s = c->session;
	c->session = NULL;
	s->owner = NULL;
	if (c->will_on_close)
		publish_will(c->w, s); /* [MQTT-3.1.2-8] */
	else
		session_will_set(s, NULL); /* [MQTT-3.1.2-10] */
	if (!s->persistent)
		proto_session_end(c->w, s); /* [MQTT-3.1.2-6] */
	else
		session_expiry_start(c->w, s);
}

/* The session with this id, with a reference for the caller, or NULL. */
static struct session *lookup_ref(struct broker *b, const char *id, size_t len)
{
	pthread_mutex_lock(&b->sessions_lock);
	struct session *s = session_table_get(b->sessions, id, len);
	if (s)
		session_ref(s);
	pthread_mutex_unlock(&b->sessions_lock);
	return s;
}

/* A new session homed here, in the table (which holds its reference), plus
 * a reference for the caller. FM_EAGAIN if another CONNECT with the same id
 * got there first. */
static int insert_new(struct client *c, bool persistent, const char *id, size_t len, struct session **out)
{
	struct broker *b = c->w->b;
	struct session *s = session_new(id, len, persistent, c->w);
	if (!s)
		return FM_ENOMEM;
	int rc = FM_OK;
	pthread_mutex_lock(&b->sessions_lock);
	if (session_table_get(b->sessions, id, len))
		rc = FM_EAGAIN;
	else if ((rc = session_table_add(b->sessions, s)) == FM_OK)
		session_ref(s);
	pthread_mutex_unlock(&b->sessions_lock);
	if (rc != FM_OK)
		session_free(s);
	else
		*out = s;
	return rc;
}

/* persistent was set when the session was made (a resumed session is
 * always one: a clean start ends the old one first), and is never written
 * again: routing workers read it. */
static void adopt(struct client *c, struct session *s)
{
	session_expiry_clear(c->w, s);
	s->owner = c;
	c->session = s;
	session_unref(s); /* the lookup's reference; the table keeps its own */
}

/* Find or create the session for this CONNECT; close a connection that
 * holds it [MQTT-3.1.4-2]. *present tells whether state was resumed.
 * FM_EAGAIN: the session lives on another worker and has been asked for. */
static int attach_session(struct client *c, const struct mqtt_connect *ct,
			  const char *id, size_t id_len, bool *present, bool *ended_stored)
{
	struct broker *b = c->w->b;
	/* each round either finishes or lost a race to a concurrent CONNECT
	 * or session end with the same id; a few rounds always settle it */
	for (int round = 0; round < 16; round++) {
		struct session *s = lookup_ref(b, id, id_len);
		if (!s) {
			int rc = insert_new(c, !ct->clean_start, id, id_len, &s);
			if (rc == FM_EAGAIN)
				continue;
			if (rc != FM_OK)
				return rc;
			*present = false; /* [MQTT-3.2.2-1], [MQTT-3.2.2-3] */
			adopt(c, s);
			persist_session_put(c->w, s);
			return FM_OK;
		}
		struct worker *home = session_home(s);
		if (home != c->w) {
			worker_post_takeover(home, s, c); /* our reference travels */
			client_wait_handoff(c);
			return FM_EAGAIN;
		}
		if (s->owner)
			client_drain_input(s->owner); /* acks it sent before we saw the new CONNECT */
		if (s->owner)
			client_close(s->owner, "session taken over by a new connection");
		if (!atomic_load(&s->dead) && ct->clean_start) {
			*ended_stored = *ended_stored || s->persistent;
			proto_session_end(c->w, s); /* [MQTT-3.1.2-6] */
		}
		if (atomic_load(&s->dead)) {
			session_unref(s);
			continue;
		}
		*present = true; /* [MQTT-3.2.2-2] */
		adopt(c, s);
		return FM_OK;
	}
	return FM_EIO;
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
		assign_id(c->w->b, assigned, sizeof(assigned));
		id = assigned;
		id_len = strlen(assigned);
	}
	bool present = false, ended_stored = false;
	rc = attach_session(c, &ct, id, id_len, &present, &ended_stored);
	if (rc == FM_EAGAIN)
		return rc; /* run again after the handoff */
	if (rc != FM_OK || set_will(c, &ct) != FM_OK) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	c->keepalive_s = ct.keepalive_s;
	c->state = CLIENT_ACTIVE;
	c->will_on_close = true;
	c->w->stats.connects_total++;
	client_start_keepalive(c);
	/* "no session" must be true after a crash too: the stored session's
	 * removal commits before the CONNACK that says so leaves */
	if (ended_stored)
		persist_hold_output(c);
	send_connack(c, present, MQTT_CONNACK_ACCEPTED); /* [MQTT-3.2.0-1] */
	char peer[NET_ADDR_STRLEN];
	log_notice(&c->w->b->log, "client %s connected from %s (v%u, clean %d, keepalive %u%s)",
		   client_log_id(c), net_addr_format(&c->conn.peer, peer, sizeof(peer)), ct.version,
		   ct.clean_start, ct.keepalive_s,
		   present ? ", session resumed" : "");
	if (present)
		deliver_resume(c->w, c->session);
	return FM_OK;
}
