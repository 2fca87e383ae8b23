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
#include "core/clock.h"
#include "mqtt/props.h"
#include "proto/access.h"
#include "proto/alias.h"
#include "proto/ext_auth.h"
#include "proto/expiry.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/subs.h"
#include "proto/will.h"
#include "proto/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a CONNECT asked for beyond 3.1.1 (5.0 properties, with the spec's
 * defaults when absent), and what the CONNACK answers. */
struct connect_opts {
	uint32_t session_expiry;   /* 0: the session ends with the connection */
	uint16_t receive_max;      /* 0: none declared (3.1.1) */
	uint32_t max_packet;       /* 0: none declared */
	uint16_t alias_max;        /* the client's Topic Alias Maximum (0: takes none) */
	bool problem_info;
	uint16_t server_keepalive; /* 0: the client's keepalive stands */
	const char *assigned_id;   /* NULL: the client chose its id */
};

static void send_connack(struct client *c, bool session_present, uint8_t rc, struct mqtt_bin props)
{
	struct mqtt_connack ack = { .session_present = session_present, .reason = rc, .props = props };
	if (mqtt_encode_connack(&c->out, c->version, &ack) == FM_OK)
		client_mark_dirty(c);
}

/* The 3.1.1 return code for a 5.0 refusal reason (3.2.2.3 table). */
static uint8_t v3_return_code(uint8_t rc5)
{
	switch (rc5) {
	case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION: return MQTT_CONNACK_BAD_PROTOCOL;
	case MQTT_RC_CLIENT_ID_NOT_VALID: return MQTT_CONNACK_ID_REJECTED;
	case MQTT_RC_BAD_USERNAME_OR_PASSWORD: return MQTT_CONNACK_BAD_CREDENTIALS;
	case MQTT_RC_NOT_AUTHORIZED: case MQTT_RC_BAD_AUTH_METHOD: return MQTT_CONNACK_NOT_AUTHORIZED;
	default: return MQTT_CONNACK_UNAVAILABLE;
	}
}

int proto_refuse_connect(struct client *c, uint8_t rc5, const char *why_text, const char **why)
{
	uint8_t rc = c->version == MQTT_V5 ? rc5 : v3_return_code(rc5);
	send_connack(c, false, rc, (struct mqtt_bin){0});
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

/* use_identity_as_username / use_subject_as_username: the TLS identity is
 * the username, whatever CONNECT says (as in mosquitto). */
static bool uses_tls_identity(const struct client *c)
{
	const struct conf_tls *t = &c->listener->conf->tls; /* fixed after start */
	return t->use_identity_as_username || t->use_subject_as_username;
}

/* The name the client goes by, as text for the log; false if none: its
 * TLS identity where the listener says so, else the name the plugin that
 * let it in gave it, else its CONNECT's. */
static bool username_of(const struct client *c, const struct mqtt_connect *ct, struct mqtt_str *out)
{
	const char *identity = conn_identity(&c->conn);
	if (uses_tls_identity(c) && identity) {
		*out = (struct mqtt_str){ .p = identity, .len = (uint16_t)strlen(identity) };
		return true;
	}
	const char *given = ext_auth_username(c);
	if (given && !uses_tls_identity(c)) {
		*out = (struct mqtt_str){ .p = given, .len = (uint16_t)strlen(given) };
		return true;
	}
	*out = ct->username;
	return ct->has_username && !uses_tls_identity(c);
}

/* A plugin's verdict first (BASIC_AUTH), else the password_file for a
 * client with a username and allow_anonymous for one without. */
static int check_password(struct client *c, const struct mqtt_connect *ct, const char **why)
{
	char *id = strndup(ct->client_id.p, ct->client_id.len);
	if (!id) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	int verdict = access_authenticate(c, ct, id);
	free(id);
	if (verdict == FM_PLUGIN_ALLOW)
		return FM_OK;
	uint8_t bad_user = ct->has_username ? MQTT_RC_BAD_USERNAME_OR_PASSWORD : MQTT_RC_NOT_AUTHORIZED;
	if (verdict == FM_PLUGIN_DENY)
		return proto_refuse_connect(c, bad_user, "refused by a plugin", why);
	if (ct->has_username && access_has_passwords(c))
		return access_password_ok(c, ct) ? FM_OK : proto_refuse_connect(c, bad_user, "bad username or password", why);
	/* nothing to check a username against: it proves nothing, so it is
	 * as good as none (mosquitto 2.0 refuses it too) */
	if (!anonymous_allowed(c))
		return proto_refuse_connect(c, MQTT_RC_NOT_AUTHORIZED,
					    ct->has_username ? "no password_file to check the username against"
							     : "anonymous access refused", why);
	return FM_OK;
}

/* Who the client is: its TLS identity where the listener says so (the
 * certificate is the credential), else CONNECT's username, checked against
 * the password_file when there is one, else nobody (allow_anonymous). The
 * name is kept on the connection for the ACL. */
static int check_credentials(struct client *c, const struct mqtt_connect *ct, bool ext_auth_granted,
			     const char **why)
{
	if (uses_tls_identity(c)) {
		if (!conn_identity(&c->conn))
			return proto_refuse_connect(c, MQTT_RC_NOT_AUTHORIZED, "no TLS identity to use as username", why);
	} else if (!ext_auth_granted) { /* a plugin's enhanced authentication replaces the password */
		int rc = check_password(c, ct, why);
		if (rc != FM_OK)
			return rc;
	}
	struct mqtt_str user;
	if (!username_of(c, ct, &user))
		return FM_OK;
	free(c->username);
	c->username = strndup(user.p, user.len);
	if (!c->username) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	return FM_OK;
}

/* The will is published as the client: its topic needs write access.
 * Refused at once, so the client learns it (mosquitto 2.0 accepts the
 * CONNECT and drops the will later); checked again when the will goes. */
static int check_will_access(struct client *c, const struct mqtt_connect *ct, const char **why)
{
	if (!ct->will_flag)
		return FM_OK;
	char *id = strndup(ct->client_id.p, ct->client_id.len);
	if (!id) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	bool ok = access_may_publish(c, id, ct->will_topic.p, ct->will_topic.len, ct->will_qos, ct->will_retain);
	free(id);
	return ok ? FM_OK : proto_refuse_connect(c, MQTT_RC_NOT_AUTHORIZED, "will topic not authorized", why);
}

/* 5.0 CONNECT properties, read with the spec's defaults (3.1.2.11). A
 * 3.x CONNECT: its clean session flag decides, and
 * persistent_client_expiration is the session's expiry. */
static void read_connect_opts(struct client *c, const struct mqtt_connect *ct, struct connect_opts *o)
{
	*o = (struct connect_opts){ .problem_info = true };
	if (ct->version != MQTT_V5) {
		uint64_t conf_s = c->w->lim.session_expiry_s;
		o->session_expiry = ct->clean_start ? 0 : conf_s == 0 || conf_s > UINT32_MAX ? UINT32_MAX : (uint32_t)conf_s;
		return;
	}
	struct mqtt_props p;
	mqtt_props_read(ct->props, &p);
	o->session_expiry = mqtt_props_num(&p, MQTT_PROP_SESSION_EXPIRY, 0);
	o->receive_max = (uint16_t)mqtt_props_num(&p, MQTT_PROP_RECEIVE_MAXIMUM, 65535);
	o->max_packet = mqtt_props_num(&p, MQTT_PROP_MAXIMUM_PACKET_SIZE, 0);
	o->alias_max = (uint16_t)mqtt_props_num(&p, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, 0);
	o->problem_info = mqtt_props_num(&p, MQTT_PROP_REQUEST_PROBLEM_INFO, 1) != 0;
}

/* Keepalive above max_keepalive: a 5.0 client is told the one to use
 * (Server Keep Alive [MQTT-3.2.2-21]), and so is one asking for none while
 * there is a limit; a 3.x client is refused, as mosquitto does. */
static int check_keepalive(struct client *c, const struct mqtt_connect *ct, struct connect_opts *o,
			   const char **why)
{
	uint16_t max = c->w->lim.max_keepalive;
	bool over = ct->keepalive_s > max || (ct->keepalive_s == 0 && max < 65535);
	if (!over)
		return FM_OK;
	if (ct->version == MQTT_V5) {
		o->server_keepalive = max;
		return FM_OK;
	}
	if (ct->keepalive_s <= max)
		return FM_OK; /* 3.x keepalive 0 stays allowed */
	return proto_refuse_connect(c, MQTT_RC_CLIENT_ID_NOT_VALID, "keepalive above max_keepalive", why);
}

/* A will whose Payload Format Indicator says UTF-8 must be UTF-8:
 * 3.1.3.2.3 lets the server refuse it with 0x99. */
static bool will_payload_valid(const struct mqtt_props *wp, const struct mqtt_connect *ct)
{
	return mqtt_props_num(wp, MQTT_PROP_PAYLOAD_FORMAT, 0) == 0 ||
	       mqtt_utf8_valid((const char *)ct->will_payload.p, ct->will_payload.len);
}

/* A will's Response Topic is a topic name: no wildcards (3.1.3.2.5). */
static bool will_response_topic_valid(const struct mqtt_props *wp)
{
	struct mqtt_bin t = wp->data[MQTT_PROP_RESPONSE_TOPIC];
	return !mqtt_props_has(wp, MQTT_PROP_RESPONSE_TOPIC) || topic_name_valid((const char *)t.p, t.len);
}

static int check_will_props(struct client *c, const struct mqtt_connect *ct, const char **why)
{
	if (!ct->will_flag || ct->version != MQTT_V5)
		return FM_OK;
	struct mqtt_props wp;
	mqtt_props_read(ct->will_props, &wp);
	if (!will_payload_valid(&wp, ct))
		return proto_refuse_connect(c, MQTT_RC_PAYLOAD_FORMAT_INVALID, "will payload is not UTF-8 as its format says", why);
	if (!will_response_topic_valid(&wp))
		return proto_refuse_connect(c, MQTT_RC_PROTOCOL_ERROR, "will response topic is not a valid topic name", why);
	return FM_OK;
}

/* An Authentication Method: the EXT_AUTH plugins decide (ext_auth.h), and
 * the exchange may have to wait for the client's AUTH (*waiting). */
static int check_identity(struct client *c, const struct mqtt_frame *f, const struct mqtt_connect *ct,
			  bool *waiting, const char **why)
{
	enum ext_auth_outcome auth;
	uint8_t auth_rc = 0;
	const char *auth_text = NULL;
	if (ext_auth_on_connect(c, f, ct, &auth, &auth_rc, &auth_text) != FM_OK) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	if (auth == EXT_AUTH_REFUSED)
		return proto_refuse_connect(c, auth_rc, auth_text, why);
	*waiting = auth == EXT_AUTH_WAITING;
	return *waiting ? FM_OK : check_credentials(c, ct, auth == EXT_AUTH_GRANTED, why);
}

/* A bridge's local_clientid belongs to its bridge: a client taking it
 * would take the session that holds what waits for the remote (the config
 * is fixed for bridges, so it is read without the lock). */
static bool bridge_client_id(const struct broker *b, const struct mqtt_str *id)
{
	for (size_t i = 0; i < b->conf.n_bridges; i++) {
		const char *own = b->conf.bridges[i].local_clientid;
		if (strlen(own) == id->len && memcmp(own, id->p, id->len) == 0)
			return true;
	}
	return false;
}

static int check_connect(struct client *c, const struct mqtt_frame *f, const struct mqtt_connect *ct,
			 struct connect_opts *o, bool *auth_waiting, const char **why)
{
	const struct worker_limits *lim = &c->w->lim;
	if (bridge_client_id(c->w->b, &ct->client_id))
		return proto_refuse_connect(c, MQTT_RC_CLIENT_ID_NOT_VALID, "client id reserved for a bridge", why);
	/* 5.0 lets the server assign an id whatever Clean Start says (3.1.3.1) */
	if (ct->client_id.len == 0 && ct->version != MQTT_V5 && (!ct->clean_start || ct->version == MQTT_V31))
		return proto_refuse_connect(c, MQTT_RC_CLIENT_ID_NOT_VALID,
			      "empty client id without clean session", why); /* [MQTT-3.1.3-8] */
	if (check_keepalive(c, ct, o, why) != FM_OK)
		return FM_EPROTO;
	int rc = check_identity(c, f, ct, auth_waiting, why);
	if (rc != FM_OK || *auth_waiting)
		return rc;
	if (ct->will_flag && !lim->retain_available && ct->will_retain) /* [MQTT-3.2.2-12] */
		return proto_refuse_connect(c, MQTT_RC_RETAIN_NOT_SUPPORTED, "retained will but retain_available false", why);
	return check_will_props(c, ct, why);
}

static void unsubscribe_all(struct broker *b, struct session *s)
{
	pthread_rwlock_wrlock(&b->subs_lock);
	for (uint32_t i = 0; i < s->n_subs; i++)
		subs_del(b, s, s->subs[i].filter, s->subs[i].len);
	pthread_rwlock_unlock(&b->subs_lock);
}

/* End a session (home worker only): out of the router, so no new delivery
 * can find it, out of the table, marked dead for deliveries already in
 * flight, and the table's reference dropped. */
void proto_session_end(struct worker *w, struct session *s)
{
	struct broker *b = w->b;
	session_expiry_stop(w, s);
	will_publish_pending(w, s); /* a delayed will goes when its session does [MQTT-3.1.3-9] */
	persist_session_del(w, s);
	unsubscribe_all(b, s);
	pthread_mutex_lock(&b->sessions_lock);
	session_table_del(b->sessions, s);
	pthread_mutex_unlock(&b->sessions_lock);
	atomic_store(&s->dead, true);
	session_unref(s);
}

void proto_session_detach(struct client *c)
{
	struct session *s = c->session;
	c->session = NULL;
	s->owner = NULL;
	atomic_store_explicit(&s->online, false, memory_order_relaxed);
	s->since_s = broker_uptime_s(c->w->b);
	/* a 5.0 client may have set its Session Expiry Interval to 0 by
	 * DISCONNECT: the session ends now [MQTT-3.1.2-23] */
	bool ends = !s->persistent || s->expiry_interval == 0;
	/* the will goes out as the client: its write access is checked again
	 * now, against the rules in force (a reload may have taken it away) */
	if (c->will_on_close && s->will &&
	    !access_may_publish(c, NULL, s->will->topic, s->will->topic_len, s->will->qos, s->will->retain)) {
		log_notice(&c->w->b->log, "client %s: will on '%s' dropped: no write access", s->client_id, s->will->topic);
		c->will_on_close = false;
	}
	if (c->will_on_close)
		will_on_close(c->w, s, ends); /* [MQTT-3.1.2-8], delayed [MQTT-3.1.3-9] */
	else
		session_will_set(s, NULL); /* [MQTT-3.1.2-10] */
	if (ends)
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
 * again: routing workers read it. The expiry interval is this CONNECT's
 * from here on, also in the store before anything else writes the session
 * (a crash while the client is online must not keep an old interval). */
static void adopt(struct client *c, struct session *s, uint32_t expiry_interval)
{
	bool interval_changed = s->expiry_interval != expiry_interval;
	s->expiry_interval = expiry_interval;
	will_cancel(c->w, s); /* back within the will delay: no will [MQTT-3.1.3-9] */
	bool had_deadline = s->expiry != NULL;
	session_expiry_clear(c->w, s); /* writes the session when it had a deadline */
	if (interval_changed && !had_deadline)
		persist_session_put(c->w, s);
	s->owner = c;
	atomic_store_explicit(&s->online, true, memory_order_relaxed);
	s->since_s = broker_uptime_s(c->w->b);
	c->session = s;
	session_unref(s); /* the lookup's reference; the table keeps its own */
}

/* Find or create the session for this CONNECT; close a connection that
 * holds it [MQTT-3.1.4-2]. *present tells whether state was resumed.
 * FM_EAGAIN: the session lives on another worker and has been asked for. */
static int attach_session(struct client *c, const struct mqtt_connect *ct, const struct connect_opts *o,
			  const char *id, size_t id_len, bool *present, bool *ended_stored)
{
	struct broker *b = c->w->b;
	/* each round either finishes or lost a race to a concurrent CONNECT
	 * or session end with the same id; a few rounds always settle it */
	for (int round = 0; round < 16; round++) {
		struct session *s = lookup_ref(b, id, id_len);
		if (!s) {
			int rc = insert_new(c, o->session_expiry > 0, id, id_len, &s);
			if (rc == FM_EAGAIN)
				continue;
			if (rc != FM_OK)
				return rc;
			*present = false; /* [MQTT-3.2.2-1], [MQTT-3.2.2-3] */
			adopt(c, s, o->session_expiry); /* stores it, with its interval */
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
			client_close_rc(s->owner, MQTT_RC_SESSION_TAKEN_OVER, "session taken over by a new connection");
		/* a session that ends with its connection (expiry 0) cannot be
		 * resumed either: it ended when the old connection closed */
		if (!atomic_load(&s->dead) && ct->clean_start) {
			*ended_stored = *ended_stored || s->persistent;
			proto_session_end(c->w, s); /* [MQTT-3.1.2-6] */
		}
		if (atomic_load(&s->dead)) {
			session_unref(s);
			continue;
		}
		*present = true; /* [MQTT-3.2.2-2] */
		adopt(c, s, o->session_expiry);
		return FM_OK;
	}
	return FM_EIO;
}

/* The will as a message, with its 5.0 will properties as they came: the
 * Will Delay Interval and Message Expiry Interval among them are read when
 * it is published (publish_will), which is rare, so no session pays for
 * fields to hold them. */
static int set_will(struct client *c, const struct mqtt_connect *ct)
{
	if (!ct->will_flag) {
		session_will_set(c->session, NULL);
		return FM_OK;
	}
	struct msg_spec sp = { .topic = ct->will_topic.p, .topic_len = ct->will_topic.len,
			       .payload = ct->will_payload.p, .payload_len = ct->will_payload.len,
			       .qos = ct->will_qos, .retain = ct->will_retain };
	if (ct->version == MQTT_V5) {
		sp.props = ct->will_props.p;
		sp.props_len = ct->will_props.len;
	}
	struct msg *will = msg_make(&sp);
	if (!will)
		return FM_ENOMEM;
	session_will_set(c->session, will);
	return FM_OK;
}

/* CONNACK properties (3.2.2.3): what this broker supports and limits,
 * said only where it differs from the spec's default. */
static int connack_props(struct client *c, const struct connect_opts *o, struct buf *b)
{
	const struct worker_limits *lim = &c->w->lim;
	int rc = FM_OK;
	if (o->assigned_id)
		rc |= mqtt_prop_put_data(b, MQTT_PROP_ASSIGNED_CLIENT_ID, o->assigned_id,
					 (uint16_t)strlen(o->assigned_id)); /* [MQTT-3.2.2-16] */
	if (o->server_keepalive)
		rc |= mqtt_prop_put_u16(b, MQTT_PROP_SERVER_KEEP_ALIVE, o->server_keepalive);
	/* kept per connection: a reload must not hold the client to less
	 * than it was told */
	c->receive_max_in = lim->session.max_inflight < 65535 ? (uint16_t)lim->session.max_inflight : 0;
	if (c->receive_max_in)
		rc |= mqtt_prop_put_u16(b, MQTT_PROP_RECEIVE_MAXIMUM, c->receive_max_in);
	if (lim->max_packet_size)
		rc |= mqtt_prop_put_u32(b, MQTT_PROP_MAXIMUM_PACKET_SIZE, lim->max_packet_size);
	if (lim->max_topic_alias)
		rc |= mqtt_prop_put_u16(b, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, lim->max_topic_alias);
	if (!lim->retain_available)
		rc |= mqtt_prop_put_byte(b, MQTT_PROP_RETAIN_AVAILABLE, 0);
	rc |= ext_auth_connack_props(c, b);
	return rc == FM_OK ? FM_OK : FM_ENOMEM;
}

/* Whether the successful CONNACK would exceed the 5.0 client's Maximum
 * Packet Size [MQTT-3.1.2-24] (an enhanced authentication's answer can
 * make it large). */
static bool connack_too_large(struct client *c, const struct connect_opts *o)
{
	if (c->version != MQTT_V5 || !o->max_packet)
		return false;
	struct buf props;
	buf_init(&props);
	bool too_large = false;
	if (connack_props(c, o, &props) == FM_OK) {
		size_t n = buf_used(&props);
		size_t rem = 2 + mqtt_varint_size((uint32_t)n) + n;
		too_large = 1 + mqtt_varint_size((uint32_t)rem) + rem > o->max_packet;
	}
	buf_fini(&props);
	return too_large;
}

static void accept_connect(struct client *c, const struct connect_opts *o, bool present)
{
	struct buf props;
	buf_init(&props);
	if (c->version == MQTT_V5 && connack_props(c, o, &props) != FM_OK)
		props.off = props.len = 0; /* out of memory: a bare CONNACK still tells the truth */
	send_connack(c, present, MQTT_RC_SUCCESS, mqtt_props_of(&props)); /* [MQTT-3.2.0-1] */
	buf_fini(&props);
	ext_auth_accepted(c);
}

/* The 5.0 options that live with the session and the connection. FM_OK
 * or FM_ENOMEM. */
static int apply_connect_opts(struct client *c, const struct connect_opts *o)
{
	c->problem_info = o->problem_info;
	if (o->max_packet || (o->receive_max && o->receive_max < 65535)) {
		struct client_v5 *v5 = client_v5_get(c);
		if (!v5)
			return FM_ENOMEM;
		v5->max_packet_out = o->max_packet;
		v5->receive_max = o->receive_max < 65535 ? o->receive_max : 0;
	}
	if (o->server_keepalive)
		c->keepalive_s = o->server_keepalive;
	return alias_out_init(c, o->alias_max);
}

int proto_on_connect(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_connect ct;
	uint8_t reason = 0;
	int rc = mqtt_decode_connect(f, &ct, &reason);
	if (rc != FM_OK) {
		if (reason == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION) {
			c->version = MQTT_V311; /* answer in a format any 3.x client reads */
			return proto_refuse_connect(c, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION, "unsupported protocol level",
						    why); /* [MQTT-3.1.2-2] */
		}
		if (ct.version == MQTT_V5) { /* told why, as 4.13.1 allows: 0x81 or 0x82 */
			c->version = MQTT_V5;
			return proto_refuse_connect(c, reason, "malformed CONNECT", why);
		}
		c->close_rc = reason;
		*why = "malformed CONNECT";
		return rc;
	}
	c->version = ct.version;
	c->peer_bridge = ct.bridge;
	struct connect_opts o;
	read_connect_opts(c, &ct, &o);
	bool auth_waiting = false;
	if ((rc = check_connect(c, f, &ct, &o, &auth_waiting, why)) != FM_OK || auth_waiting)
		return rc; /* waiting: the CONNECT runs again once the AUTH exchange allows it */
	/* an invalid will topic: 5.0 has a CONNACK code for it, 3.1.1 only
	 * closes [MQTT-4.7.3-1] */
	if (ct.will_flag && !topic_name_valid(ct.will_topic.p, ct.will_topic.len)) {
		if (ct.version == MQTT_V5)
			return proto_refuse_connect(c, MQTT_RC_TOPIC_NAME_INVALID, "invalid will topic", why);
		*why = "invalid will topic";
		return FM_EPROTO;
	}
	if ((rc = check_will_access(c, &ct, why)) != FM_OK)
		return rc;

	char assigned[64];
	const char *id = ct.client_id.p;
	size_t id_len = ct.client_id.len;
	if (id_len == 0) {
		assign_id(c->w->b, assigned, sizeof(assigned));
		id = assigned;
		id_len = strlen(assigned);
		if (ct.version == MQTT_V5)
			o.assigned_id = assigned;
	}
	if (connack_too_large(c, &o))
		return proto_refuse_connect(c, MQTT_RC_PACKET_TOO_LARGE, "CONNACK larger than the client's Maximum Packet Size",
					    why);
	bool present = false, ended_stored = false;
	rc = attach_session(c, &ct, &o, id, id_len, &present, &ended_stored);
	if (rc == FM_EAGAIN)
		return rc; /* run again after the handoff */
	if (rc != FM_OK || set_will(c, &ct) != FM_OK) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	c->keepalive_s = ct.keepalive_s;
	if (apply_connect_opts(c, &o) != FM_OK) {
		*why = "out of memory";
		return FM_ENOMEM;
	}
	c->state = CLIENT_ACTIVE;
	c->will_on_close = true;
	counter_inc(&c->w->stats.connects_total);
	counter_inc(stats_connects_of(&c->w->stats, ct.version));
	client_start_keepalive(c);
	/* "no session" must be true after a crash too: the stored session's
	 * removal commits before the CONNACK that says so leaves */
	if (ended_stored)
		persist_hold_output(c);
	accept_connect(c, &o, present);
	char peer[NET_ADDR_STRLEN];
	log_notice(&c->w->b->log, "client %s connected from %s (v%u, clean %d, keepalive %u%s%s%s)",
		   client_log_id(c), net_addr_format(&c->conn.peer, peer, sizeof(peer)), ct.version,
		   ct.clean_start, c->keepalive_s, present ? ", session resumed" : "",
		   c->username ? ", user " : "", c->username ? c->username : "");
	access_notify(c, FM_EVENT_CONNECT, NULL);
	if (present)
		deliver_resume(c->w, c->session);
	return FM_OK;
}

int proto_attach_outgoing(struct client *c, struct session *s)
{
	if (atomic_load(&s->dead) || session_home(s) != c->w)
		return FM_EAGAIN; /* ended or moved: not the bridge's to take */
	if (s->owner)
		client_close_rc(s->owner, MQTT_RC_SESSION_TAKEN_OVER, "session taken over by its bridge's new connection");
	session_ref(s); /* adopt drops a lookup's reference */
	adopt(c, s, UINT32_MAX);
	c->state = CLIENT_ACTIVE;
	counter_inc(&c->w->stats.connects_total);
	client_start_keepalive(c);
	access_notify(c, FM_EVENT_CONNECT, NULL);
	return FM_OK;
}
