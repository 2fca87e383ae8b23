/* 5.0 Topic Aliases a client sets on its PUBLISH packets (section
 * 3.3.2.3.4): per connection, never part of the session [MQTT-3.3.2-7]. */
#ifndef FM_PROTO_ALIAS_H
#define FM_PROTO_ALIAS_H

#include "mqtt/codec.h"
#include "proto/client.h"

/* Resolve pub->topic with Topic Alias alias (0: none), max being the Topic
 * Alias Maximum we announced: a topic with an alias sets the alias, an
 * empty topic takes the alias's topic. FM_OK, or FM_EPROTO with
 * c->close_rc and *why set: an alias above max [MQTT-3.3.2-9] (0x94), an
 * empty topic without an alias or with one never set (0x82), or
 * FM_ENOMEM. */
int alias_resolve(struct client *c, uint16_t max, uint16_t alias, struct mqtt_publish *pub,
		  const char **why);
/* Forget them all (connection closing). */
void alias_free(struct client *c);

#endif
