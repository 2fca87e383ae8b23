/* The client end of a bridge's connection: CONNECT (with the remote
 * notification as its will), CONNACK and what the remote says in it,
 * SUBSCRIBE for the in topics, PINGREQ on keepalive, the notifications,
 * and the hooks proto calls for this connection (bridge_hooks). */
#include "bridge/bridge_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "mqtt/codec.h"
#include "mqtt/props.h"
#include "proto/client.h"
#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/subs.h"
#include "proto/sys_topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mqtt_str str_of(const char *s)
{
	return (struct mqtt_str){ .p = s, .len = (uint16_t)strlen(s) };
}

static bool remote_notifications(const struct conf_bridge *cb)
{
	return cb->notifications && !cb->notifications_local_only;
}

/* The state as "1" (connected) or "0" on the local notification topic,
 * retained, as mosquitto does. */
static void notify_local(struct bridge *br, bool up)
{
	if (br->conf->notifications && !br->stopping)
		sys_publish_text(br->w, br->conf->notification_topic, up ? "1" : "0");
}

static int encode_connect(struct bridge *br, struct client *c)
{
	const struct conf_bridge *cb = br->conf;
	struct mqtt_connect ct = {
		.version = cb->protocol_version,
		.bridge = cb->try_private,
		.clean_start = cb->cleansession,
		.keepalive_s = cb->keepalive_s,
		.client_id = str_of(cb->remote_clientid),
	};
	if (cb->remote_username) {
		ct.has_username = true;
		ct.username = str_of(cb->remote_username);
	}
	if (cb->remote_password) {
		ct.has_password = true;
		ct.password = (struct mqtt_bin){ .p = (const uint8_t *)cb->remote_password,
						 .len = (uint32_t)strlen(cb->remote_password) };
	}
	if (remote_notifications(cb)) {
		/* the remote says "0" for us when the link dies */
		ct.will_flag = true;
		ct.will_qos = 1;
		ct.will_retain = true;
		ct.will_topic = str_of(cb->notification_topic);
		ct.will_payload = (struct mqtt_bin){ .p = (const uint8_t *)"0", .len = 1 };
	}
	struct buf props;
	buf_init(&props);
	/* 5.0: a session kept (as 3.1.1 clean session 0 means) never expires */
	bool v5 = cb->protocol_version == MQTT_V5;
	/* 5.0: the largest packet we take, as clients are told it in CONNACK;
	 * the remote must not send more [MQTT-3.1.2-24] */
	uint32_t max_packet = br->w->lim.max_packet_size;
	if ((v5 && !cb->cleansession && mqtt_prop_put_u32(&props, MQTT_PROP_SESSION_EXPIRY, UINT32_MAX) != FM_OK) ||
	    (v5 && max_packet && mqtt_prop_put_u32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE, max_packet) != FM_OK)) {
		buf_fini(&props);
		return FM_ENOMEM;
	}
	ct.props = mqtt_props_of(&props);
	int rc = mqtt_encode_connect(&c->out, &ct);
	buf_fini(&props);
	return rc;
}

void bridge_proto_open(struct bridge *br, int fd, const struct net_addr *peer)
{
	struct client *c;
	const char *host = br->conf->addresses[br->addr_idx].host;
	if (client_open_outgoing(br->w, fd, peer, br->tls, host, &c) != FM_OK) {
		bridge_set_error(br, "out of memory");
		bridge_link_down(br, false);
		return;
	}
	br->c = c;
	/* the name plugins see for it (the ACL file does not restrict bridges) */
	if (br->conf->local_username && (c->username = strdup(br->conf->local_username)) == NULL) {
		client_close(c, "out of memory");
		return;
	}
	c->version = br->conf->protocol_version;
	c->keepalive_s = br->conf->keepalive_s;
	bridge_set_state(br, BRIDGE_HANDSHAKE);
	if (encode_connect(br, c) != FM_OK) {
		client_close(c, "out of memory");
		return;
	}
	client_mark_dirty(c);
}

/* A packet id for SUBSCRIBE (from 65535) or UNSUBSCRIBE (from 65534,
 * so the two never share one [MQTT-2.2.1-3]) that no PUBLISH of ours
 * holds: counting down from the top, where the session's ids (counting
 * up) come last. */
static uint16_t free_packet_id(struct session *s, uint16_t from)
{
	for (int id = from; id > 0; id -= 2)
		if (!session_inflight_find(s, (uint16_t)id))
			return (uint16_t)id;
	return 1; /* 32767 in flight: cannot be, the window is smaller */
}

/* One SUBSCRIBE (or UNSUBSCRIBE) for the topic lines whose direction
 * matches: in/both are subscribed on the remote; with
 * bridge_attempt_unsubscribe, out-only lines are unsubscribed, so a line
 * turned from in to out stops the remote sending (as mosquitto does). */
static int send_remote_subscriptions(struct bridge *br, bool subscribe)
{
	struct client *c = br->c;
	struct mqtt_sub_entry *e = calloc(br->n_topics ? br->n_topics : 1, sizeof(*e));
	if (!e)
		return FM_ENOMEM;
	uint32_t n = 0;
	for (size_t i = 0; i < br->n_topics; i++) {
		const struct bridge_topic *t = &br->topics[i];
		bool in = t->conf->direction & CONF_BRIDGE_IN;
		if (in != subscribe)
			continue;
		uint8_t options = t->conf->qos;
		/* 5.0 says it itself: not back to us what we sent, RETAIN kept */
		if (c->version == MQTT_V5)
			options |= SUB_NO_LOCAL | SUB_RETAIN_AS_PUBLISHED;
		e[n++] = (struct mqtt_sub_entry){ .filter = str_of(t->remote_filter), .options = subscribe ? options : 0 };
	}
	int rc = FM_OK;
	uint16_t id = free_packet_id(c->session, subscribe ? 65535 : 65534);
	if (n > 0) {
		rc = subscribe ? mqtt_encode_subscribe(&c->out, c->version, id, e, n)
			       : mqtt_encode_unsubscribe(&c->out, c->version, id, e, n);
		if (rc == FM_OK)
			client_mark_dirty(c);
	}
	free(e);
	return rc;
}

/* The state on the remote's notification topic: "1" after CONNACK (the
 * will says "0" when the link dies). */
static int notify_remote(struct bridge *br, const char *state)
{
	struct client *c = br->c;
	const char *topic = br->conf->notification_topic;
	struct mqtt_publish pub = { .retain = true, .topic = str_of(topic),
				    .payload = { .p = (const uint8_t *)state, .len = (uint32_t)strlen(state) } };
	int rc = mqtt_encode_publish(&c->out, c->version, &pub);
	if (rc == FM_OK)
		client_mark_dirty(c);
	return rc;
}

/* What a 5.0 remote limits in its CONNACK: how many QoS 1/2 it takes at
 * once, packet size (with bridge_max_packet_size, the smaller), keepalive,
 * whether it takes RETAIN. */
static int apply_connack_props(struct bridge *br, struct client *c, const struct mqtt_connack *ack)
{
	uint32_t max_packet = br->conf->max_packet_size;
	br->remote_retain = true;
	if (c->version == MQTT_V5) {
		struct mqtt_props p = { .has = 0 };
		mqtt_props_read(ack->props, &p);
		uint32_t theirs = mqtt_props_num(&p, MQTT_PROP_MAXIMUM_PACKET_SIZE, 0);
		if (theirs && (!max_packet || theirs < max_packet))
			max_packet = theirs;
		uint32_t receive_max = mqtt_props_num(&p, MQTT_PROP_RECEIVE_MAXIMUM, 65535);
		if (receive_max < 65535 || max_packet) {
			struct client_v5 *v5 = client_v5_get(c);
			if (!v5)
				return FM_ENOMEM;
			v5->receive_max = receive_max < 65535 ? (uint16_t)receive_max : 0;
			v5->max_packet_out = max_packet;
		}
		if (mqtt_props_has(&p, MQTT_PROP_MAXIMUM_QOS)) {
			struct client_v5 *v5 = client_v5_get(c);
			if (!v5)
				return FM_ENOMEM;
			v5->qos_cap = (uint8_t)(1 + p.num[MQTT_PROP_MAXIMUM_QOS]); /* sent at most at that QoS */
		}
		if (mqtt_props_has(&p, MQTT_PROP_SERVER_KEEP_ALIVE))
			c->keepalive_s = (uint16_t)p.num[MQTT_PROP_SERVER_KEEP_ALIVE];
		br->remote_retain = mqtt_props_num(&p, MQTT_PROP_RETAIN_AVAILABLE, 1) != 0;
	} else if (max_packet) {
		struct client_v5 *v5 = client_v5_get(c);
		if (!v5)
			return FM_ENOMEM;
		v5->max_packet_out = max_packet;
	}
	return FM_OK;
}

/* A remote without our session (restarted without it, or another address)
 * numbers its QoS 2 messages afresh: the ids we still remember from the
 * old one would make new messages look like resends and drop them. */
static void forget_qos2_in(struct bridge *br)
{
	struct session *s = br->session;
	while (s->n_qos2_in > 0) {
		uint16_t id = s->qos2_in[s->n_qos2_in - 1];
		persist_qos2_in(br->w, s, id, false);
		session_qos2_in_del(s, id);
	}
}

static int on_connack(struct bridge *br, struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_connack ack;
	uint8_t reason = 0;
	if (f->type != MQTT_CONNACK) {
		*why = "remote sent something other than CONNACK first";
		return FM_EPROTO;
	}
	if (mqtt_decode_connack(f, c->version, &ack, &reason) != FM_OK) {
		*why = "malformed CONNACK";
		return FM_EPROTO;
	}
	if (ack.reason != 0) {
		bridge_set_error(br, "remote refused the connection: code 0x%02x", ack.reason);
		*why = "remote refused the connection";
		return FM_EPROTO;
	}
	if (apply_connack_props(br, c, &ack) != FM_OK || bridge_session_setup(br) != FM_OK ||
	    proto_attach_outgoing(c, br->session) != FM_OK) {
		*why = "local session not available (its client id in use, or out of memory)";
		return FM_EPROTO;
	}
	if (!ack.session_present)
		forget_qos2_in(br);
	atomic_fetch_add(&br->connects, 1);
	atomic_store(&br->since_ms, clock_wall_ms());
	br->since_ping_s = 0;
	br->idle_s = 0;
	bridge_set_state(br, BRIDGE_CONNECTED);
	bridge_set_error(br, "%s", "");
	log_notice(&br->b->log, "bridge %s connected to %s as %s (session %s)", br->conf->name, br->address,
		   br->conf->remote_clientid, ack.session_present ? "resumed" : "new");
	int rc = send_remote_subscriptions(br, true);
	if (rc == FM_OK && br->conf->attempt_unsubscribe)
		rc = send_remote_subscriptions(br, false);
	if (rc == FM_OK && remote_notifications(br->conf))
		rc = notify_remote(br, "1");
	if (rc != FM_OK) {
		*why = "out of memory";
		return rc;
	}
	notify_local(br, true);
	bridge_link_connected(br);
	deliver_resume(c->w, c->session); /* what waited while the remote was away */
	if (!ack.session_present)
		bridge_session_send_retained(br); /* after it: resent inflight goes first */
	return FM_OK;
}

static int on_suback(struct bridge *br, struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_suback ack;
	uint8_t reason = 0;
	if (mqtt_decode_suback(f, c->version, &ack, &reason) != FM_OK) {
		*why = "malformed SUBACK";
		return FM_EPROTO;
	}
	for (uint32_t i = 0; f->type == MQTT_SUBACK && i < ack.codes.len; i++)
		if (ack.codes.p[i] >= 0x80) {
			bridge_set_error(br, "remote refused a subscription: code 0x%02x", ack.codes.p[i]);
			log_warn(&br->b->log, "bridge %s: remote refused subscription %u (code 0x%02x)",
				    br->conf->name, i + 1, ack.codes.p[i]);
		}
	return FM_OK;
}

static int on_remote_disconnect(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct mqtt_disconnect d = { 0 };
	uint8_t reason = 0;
	if (mqtt_decode_disconnect(f, c->version, &d, &reason) != FM_OK) {
		*why = "malformed DISCONNECT from the remote";
		return FM_EPROTO;
	}
	struct bridge *br = bridge_of_client(c->w->b, c);
	if (br && d.reason)
		bridge_set_error(br, "remote sent DISCONNECT 0x%02x", d.reason);
	*why = d.reason ? "remote sent DISCONNECT with an error code" : "remote sent DISCONNECT";
	return FM_ECLOSED;
}

static int on_packet(struct client *c, const struct mqtt_frame *f, const char **why)
{
	struct bridge *br = bridge_of_client(c->w->b, c);
	if (!br) {
		*why = "bridge connection without a bridge";
		return FM_EPROTO;
	}
	if (c->state == CLIENT_NEW)
		return on_connack(br, c, f, why);
	switch (f->type) {
	case MQTT_SUBACK:
	case MQTT_UNSUBACK: return on_suback(br, c, f, why);
	case MQTT_PINGRESP: return FM_OK;
	case MQTT_DISCONNECT: return on_remote_disconnect(c, f, why);
	default:
		*why = "packet type a broker may not send";
		return FM_EPROTO;
	}
}

static bool map_in(struct client *c, struct mqtt_publish *pub)
{
	struct bridge *br = bridge_of_client(c->w->b, c);
	if (!br)
		return false;
	atomic_fetch_add_explicit(&br->received, 1, memory_order_relaxed);
	if (!bridge_map_topic_in(br, pub->topic.p, pub->topic.len, &br->topic_buf))
		return false;
	pub->topic = (struct mqtt_str){ .p = (const char *)buf_head(&br->topic_buf),
					.len = (uint16_t)buf_used(&br->topic_buf) };
	return true;
}

static bool map_out(struct client *c, struct mqtt_publish *pub, bool sending)
{
	struct bridge *br = bridge_of_client(c->w->b, c);
	if (!br || !bridge_map_topic_out(br, pub->topic.p, pub->topic.len, &br->topic_buf))
		return false;
	if (sending)
		atomic_fetch_add_explicit(&br->sent, 1, memory_order_relaxed);
	if (!br->conf->outgoing_retain || !br->remote_retain)
		pub->retain = false;
	pub->topic = (struct mqtt_str){ .p = (const char *)buf_head(&br->topic_buf),
					.len = (uint16_t)buf_used(&br->topic_buf) };
	return true;
}

static void on_close(struct client *c, const char *reason)
{
	struct bridge *br = bridge_of_client(c->w->b, c);
	if (!br)
		return;
	bool was_connected = atomic_load(&br->state) == BRIDGE_CONNECTED;
	br->c = NULL;
	atomic_store(&br->since_ms, 0);
	/* the remote's own words (a refusal, a DISCONNECT code) stay the error */
	bool remote_said = strncmp(br->last_error, "remote ", 7) == 0;
	if (br->idle_closing) {
		log_notice(&br->b->log, "bridge %s: disconnected: %s", br->conf->name, reason);
	} else if (!br->stopping) {
		if (!remote_said)
			bridge_set_error(br, "%s: %s", was_connected ? "connection lost" : "handshake failed", reason);
		log_warn(&br->b->log, "bridge %s: %s: %s", br->conf->name,
			 was_connected ? "connection lost" : "handshake failed", reason);
	}
	br->idle_closing = false;
	if (was_connected)
		notify_local(br, false);
	bridge_link_down(br, was_connected);
}

/* Leaving on purpose, the remote's notification must still say "0": 5.0
 * asks for the will (0x04); 3.1.1 cannot, so "0" is published before a
 * plain DISCONNECT. */
void bridge_proto_leave(struct bridge *br, const char *why)
{
	struct client *c = br->c;
	int rc = FM_OK;
	if (remote_notifications(br->conf) && c->version != MQTT_V5)
		rc = notify_remote(br, "0");
	struct mqtt_disconnect d = { .reason = remote_notifications(br->conf) ? MQTT_RC_DISCONNECT_WITH_WILL : 0 };
	if (rc == FM_OK)
		rc = c->version == MQTT_V5 ? mqtt_encode_disconnect(&c->out, c->version, &d)
					   : mqtt_encode_empty(&c->out, MQTT_DISCONNECT);
	if (rc == FM_OK)
		client_mark_dirty(c);
	br->idle_closing = true;
	client_close(c, why);
}

/* Keepalive from our end: a PINGREQ every keepalive interval, so that a
 * quiet link is still proven alive; client.c closes it when nothing
 * comes back within 1.5 intervals. */
static void ping(struct bridge *br)
{
	struct client *c = br->c;
	if (++br->since_ping_s < c->keepalive_s || c->keepalive_s == 0)
		return;
	br->since_ping_s = 0;
	if (mqtt_encode_empty(&c->out, MQTT_PINGREQ) == FM_OK)
		client_mark_dirty(c);
}

/* Lazy: idle time counts seconds without a PUBLISH either way. */
static void watch_idle(struct bridge *br)
{
	uint64_t traffic = atomic_load(&br->sent) + atomic_load(&br->received);
	br->idle_s = traffic == br->seen_traffic ? br->idle_s + 1 : 0;
	br->seen_traffic = traffic;
	if (br->idle_s >= br->conf->idle_timeout_s && bridge_session_queued(br) == 0 &&
	    (!br->session || br->session->n_inflight == 0))
		bridge_proto_leave(br, "lazy bridge idle for idle_timeout");
}

void bridge_proto_tick(struct bridge *br)
{
	atomic_store(&br->queued, bridge_session_queued(br));
	atomic_store(&br->inflight, br->session ? br->session->n_inflight : 0);
	bool connected = br->c && br->c->state == CLIENT_ACTIVE;
	if (connected)
		ping(br);
	if (connected && br->conf->start_type == CONF_BRIDGE_LAZY)
		watch_idle(br);
	else if (!br->c && atomic_load(&br->state) == BRIDGE_IDLE && bridge_session_queued(br) >= br->conf->threshold)
		bridge_link_start(br);
}

const struct bridge_hooks bridge_hooks = {
	.on_packet = on_packet,
	.map_in = map_in,
	.map_out = map_out,
	.on_close = on_close,
	.worker_started = bridges_worker_started,
	.worker_stopping = bridges_worker_stopping,
};
