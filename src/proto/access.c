/* The access decisions of access.h: plugins first (the first that does
 * not defer decides), then the password and ACL files. */
#include "proto/access.h"
#include "proto/auth_rules.h"
#include "proto/client.h"
#include "proto/worker.h"
#include "auth/acl.h"
#include "auth/passwd.h"
#include "auth/plugin_host.h"

#include <string.h>

/* A bridge's connection (no listener) is the operator's own, configured
 * in fleetmq.conf: the ACL file does not restrict it, as in mosquitto;
 * plugins still decide for it. */
static const struct acl *acl_of(const struct client *c)
{
	return c->listener ? auth_rules_acl(c->w->lim.auth, c->listener->index) : NULL;
}

static const struct plugin_host *plugins_of(const struct client *c)
{
	return c->w->b->plugins;
}

void access_client_view(const struct client *c, const char *client_id, struct access_view *v)
{
	v->client = (struct fm_client){
		.client_id = client_id ? client_id : client_log_id(c),
		.username = c->username,
		.peer = net_addr_format(&c->conn.peer, v->peer, sizeof(v->peer)),
		.tls_identity = conn_identity(&c->conn),
		.listener_port = c->listener ? (uint16_t)c->listener->port : 0,
		.protocol_version = c->version,
	};
}

int access_authenticate(const struct client *c, const struct mqtt_connect *ct, const char *client_id)
{
	if (!plugin_host_wants(plugins_of(c), FM_EVENT_BASIC_AUTH))
		return FM_PLUGIN_DEFER;
	struct access_view v;
	access_client_view(c, client_id, &v);
	char user[65536];
	if (ct->has_username) {
		memcpy(user, ct->username.p, ct->username.len);
		user[ct->username.len] = '\0';
		v.client.username = user;
	}
	struct fm_basic_auth a = {
		.client = &v.client,
		.username = ct->has_username ? user : NULL,
		.password = ct->has_password ? ct->password.p : NULL,
		.password_len = ct->has_password ? ct->password.len : 0,
	};
	return plugin_host_decide(plugins_of(c), FM_EVENT_BASIC_AUTH, &a);
}

bool access_wants_ext_auth(const struct client *c)
{
	return plugin_host_wants(plugins_of(c), FM_EVENT_EXT_AUTH);
}

int access_ext_auth(const struct client *c, const struct access_who *who, const char *method, struct mqtt_bin data,
		    unsigned step, struct plugin_ext_auth *pa)
{
	struct access_view v;
	access_client_view(c, who ? who->client_id : NULL, &v);
	if (who)
		v.client.username = who->username;
	plugin_ext_auth_init(pa, &v.client, method, data.p, data.len, step);
	int r = plugin_host_decide(plugins_of(c), FM_EVENT_EXT_AUTH, &pa->a);
	pa->a.client = NULL; /* v is gone after this call */
	return r;
}

bool access_has_passwords(const struct client *c)
{
	return c->listener && auth_rules_passwd(c->w->lim.auth, c->listener->index) != NULL;
}

bool access_password_ok(const struct client *c, const struct mqtt_connect *ct)
{
	const struct passwd_db *pw = c->listener ? auth_rules_passwd(c->w->lim.auth, c->listener->index) : NULL;
	if (!pw)
		return true;
	return passwd_db_check(pw, ct->username.p, ct->username.len, ct->has_password ? ct->password.p : NULL,
			       ct->has_password ? ct->password.len : 0);
}

/* A plugin's verdict on an access, if any plugin has one. */
static int plugin_acl(const struct client *c, const char *client_id, enum fm_acl_access access, const char *topic,
		      size_t len, uint8_t qos, bool retain)
{
	if (!plugin_host_wants(plugins_of(c), FM_EVENT_ACL_CHECK))
		return FM_PLUGIN_DEFER;
	struct access_view v;
	access_client_view(c, client_id, &v);
	struct fm_acl_check a = { .client = &v.client, .access = access, .topic = topic, .topic_len = len,
				  .qos = qos, .retain = retain };
	return plugin_host_decide(plugins_of(c), FM_EVENT_ACL_CHECK, &a);
}

static bool file_allows(const struct client *c, const char *client_id, const char *topic, size_t len,
			enum acl_access access)
{
	const struct acl *a = acl_of(c);
	return !a || acl_check(a, client_id, c->username, topic, len, access);
}

bool access_may_publish(const struct client *c, const char *client_id, const char *topic, size_t len, uint8_t qos,
			bool retain)
{
	int r = plugin_acl(c, client_id, FM_ACL_WRITE, topic, len, qos, retain);
	if (r != FM_PLUGIN_DEFER)
		return r == FM_PLUGIN_ALLOW;
	return file_allows(c, client_id ? client_id : client_log_id(c), topic, len, ACL_WRITE);
}

bool access_may_subscribe(const struct client *c, const char *filter, size_t len, uint8_t qos)
{
	int r = plugin_acl(c, NULL, FM_ACL_SUBSCRIBE, filter, len, qos, false);
	if (r != FM_PLUGIN_DEFER)
		return r == FM_PLUGIN_ALLOW;
	return file_allows(c, client_log_id(c), filter, len, ACL_SUBSCRIBE);
}

bool access_may_read(const struct client *c, const struct msg *m)
{
	int r = plugin_acl(c, NULL, FM_ACL_READ, m->topic, m->topic_len, m->qos, m->retain);
	if (r != FM_PLUGIN_DEFER)
		return r == FM_PLUGIN_ALLOW;
	return file_allows(c, client_log_id(c), m->topic, m->topic_len, ACL_READ);
}

int access_message(const struct client *c, struct plugin_message *pm, const struct mqtt_publish *pub)
{
	if (!plugin_host_wants(plugins_of(c), FM_EVENT_MESSAGE))
		return FM_PLUGIN_DEFER;
	struct access_view v;
	access_client_view(c, NULL, &v);
	/* the plugins see a NUL-terminated topic */
	char topic[65536];
	memcpy(topic, pub->topic.p, pub->topic.len);
	topic[pub->topic.len] = '\0';
	plugin_message_init(pm, &v.client, topic, pub->topic.len, pub->payload.p, pub->payload.len, pub->qos,
			    pub->retain);
	int r = plugin_host_message(plugins_of(c), &pm->m);
	if (!pm->topic_owned && r != FM_PLUGIN_DROP) {
		/* keep the topic past this frame: the caller routes it */
		pm->topic_owned = strndup(topic, pub->topic.len);
		pm->m.topic = pm->topic_owned;
		if (!pm->topic_owned)
			return FM_PLUGIN_DROP; /* out of memory: not routed */
	}
	pm->m.client = NULL; /* v is gone after this call */
	return r;
}

void access_notify(const struct client *c, enum fm_plugin_event ev, const char *reason)
{
	if (!plugin_host_wants(plugins_of(c), ev))
		return;
	struct access_view v;
	access_client_view(c, NULL, &v);
	struct fm_client_event e = { .client = &v.client, .reason = reason };
	plugin_host_notify(plugins_of(c), ev, &e);
}
