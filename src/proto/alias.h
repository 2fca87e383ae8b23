/* 5.0 Topic Aliases (section 3.3.2.3.4), both ways: per connection, never
 * part of the session [MQTT-3.3.2-7], [MQTT-3.3.2-10]. */
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

/* Server-to-client aliases (alias_out.c), for a client that declared a
 * Topic Alias Maximum of client_max (0: none, nothing allocated). */
int alias_out_init(struct client *c, uint16_t client_max);
/* The alias to send topic with, 0 for none. *known: the client has it
 * already (send an empty topic); else the PUBLISH carries the topic and
 * the alias, which (re)defines it. */
uint16_t alias_out_for(struct client *c, const char *topic, uint16_t len, bool *known);
void alias_out_free(struct client *c);

#endif
