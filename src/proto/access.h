/* Who may do what, from the listener's password and ACL files (the
 * worker's current auth_rules): the password of a CONNECT, and the ACL on
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

struct client;

/* The password of a CONNECT that names a user, against the listener's
 * password_file (none: any password). */
bool access_password_ok(const struct client *c, const struct mqtt_connect *ct);
/* client_id: the one CONNECT names (patterns with %c) before a session
 * exists; c's own afterwards. */
bool access_may_publish(const struct client *c, const char *client_id, const char *topic, size_t len);
/* A filter, without its "$share/NAME/" part for a shared subscription. */
bool access_may_subscribe(const struct client *c, const char *filter, size_t len);
bool access_may_read(const struct client *c, const struct msg *m);

#endif
