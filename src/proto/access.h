/* Who may do what: the plugins first (the first that does not defer
 * decides), then the listener's password and ACL files (the worker's
 * current auth_rules): the password of a CONNECT, and the ACL on
 * publish (write), subscribe (the filter must be readable as a whole) and
 * every delivery (read, checked again when the message is sent, so a
 * reload or a queue held while offline cannot leak a topic). Without the
 * files, everything is allowed as in mosquitto. */
#ifndef FM_PROTO_ACCESS_H
#define FM_PROTO_ACCESS_H

#include "mqtt/codec.h"
#include "session/msg.h"

#include <stdbool.h>
#include <stddef.h>

#include "fleetmq/plugin.h"
#include "net/conn.h"

struct client;

/* How plugins see a client, with the storage its strings need. */
struct access_view {
	struct fm_client client;
	char peer[NET_ADDR_STRLEN];
};
/* client_id: the one CONNECT names before a session exists (NULL: c's). */
void access_client_view(const struct client *c, const char *client_id, struct access_view *v);

/* A CONNECT as the plugins judge it (BASIC_AUTH): FM_PLUGIN_ALLOW,
 * FM_PLUGIN_DENY, or FM_PLUGIN_DEFER (no plugin decides: the files and
 * allow_anonymous do). */
int access_authenticate(const struct client *c, const struct mqtt_connect *ct, const char *client_id);
/* Whether a plugin takes part in 5.0 enhanced authentication. */
bool access_wants_ext_auth(const struct client *c);
/* Who a client is before its CONNECT is accepted: what the CONNECT says
 * (NUL-terminated; username NULL: none). */
struct access_who {
	const char *client_id;
	const char *username;
};
/* One step of a 5.0 enhanced authentication (EXT_AUTH): FM_PLUGIN_ALLOW,
 * _CONTINUE, _DENY or _DEFER (no plugin takes the method). who: NULL for
 * a client whose CONNECT was accepted (a re-authentication). pa holds the
 * Authentication Data a plugin set: plugin_ext_auth_fini it. */
struct plugin_ext_auth;
int access_ext_auth(const struct client *c, const struct access_who *who, const char *method, struct mqtt_bin data,
		    unsigned step, struct plugin_ext_auth *pa);
/* Whether the listener has a password_file. */
bool access_has_passwords(const struct client *c);
/* The password of a CONNECT that names a user, against the listener's
 * password_file (none: any password). */
bool access_password_ok(const struct client *c, const struct mqtt_connect *ct);
/* client_id: the one CONNECT names (patterns with %c) before a session
 * exists; NULL: c's own. */
bool access_may_publish(const struct client *c, const char *client_id, const char *topic, size_t len, uint8_t qos,
			bool retain);
/* A filter, without its "$share/NAME/" part for a shared subscription. */
bool access_may_subscribe(const struct client *c, const char *filter, size_t len, uint8_t qos);
bool access_may_read(const struct client *c, const struct msg *m);

/* The MESSAGE plugins on a PUBLISH about to be routed: FM_PLUGIN_DROP
 * (do not route), or FM_PLUGIN_DEFER with pm holding the message as the
 * plugins left it (topic and payload; plugin_message_fini it after
 * routing). Without MESSAGE plugins pm is untouched (DEFER). */
struct plugin_message;
int access_message(const struct client *c, struct plugin_message *pm, const struct mqtt_publish *pub);
/* FM_EVENT_CONNECT / FM_EVENT_DISCONNECT to the plugins that listen. */
void access_notify(const struct client *c, enum fm_plugin_event ev, const char *reason);

#endif
