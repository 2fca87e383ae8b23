/* MQTT 5.0 enhanced authentication (section 4.12): the exchange a CONNECT
 * with an Authentication Method starts, carried on by AUTH packets and
 * decided step by step by the EXT_AUTH plugins, and re-authentication
 * after CONNACK.
 *
 * While the exchange runs, the CONNECT is held (a copy) and the
 * connection stays NEW, so connect_timeout bounds the exchange. When a
 * plugin allows it, reading stops, the CONNECT is put back in front of
 * whatever the client sent after its last AUTH, and it runs again from
 * the top, as after a session handoff (client.h), this time taking the
 * granted verdict instead of asking for a password. */
#ifndef FM_PROTO_EXT_AUTH_H
#define FM_PROTO_EXT_AUTH_H

#include "core/buf.h"
#include "mqtt/codec.h"

#include <stdbool.h>
#include <stdint.h>

struct client;

/* What a CONNECT's Authentication Method led to. */
enum ext_auth_outcome {
	EXT_AUTH_NONE,      /* no method: the password and allow_anonymous decide */
	EXT_AUTH_GRANTED,   /* a plugin allowed it: accept the CONNECT */
	EXT_AUTH_WAITING,   /* AUTH 0x18 sent: the CONNECT waits for the client's answer */
	EXT_AUTH_REFUSED,   /* refuse the CONNECT with *refuse_rc */
};

/* The CONNECT in frame f (decoded as ct). FM_OK with *out set (and
 * *refuse_rc, *why_text for EXT_AUTH_REFUSED), or FM_ENOMEM. */
int ext_auth_on_connect(struct client *c, const struct mqtt_frame *f, const struct mqtt_connect *ct,
			enum ext_auth_outcome *out, uint8_t *refuse_rc, const char **why_text);

/* An exchange is running before CONNACK: AUTH and DISCONNECT are the only
 * packets the client may send [MQTT-3.1.2-30]. */
bool ext_auth_waiting(const struct client *c);

/* The exchange has not reached its CONNACK yet (waiting, or granted and
 * about to run the CONNECT again). */
bool ext_auth_before_connack(const struct client *c);

/* The username the plugin that allowed the CONNECT gave the client
 * (fm_ext_auth_set_username), or NULL: the CONNECT's stands. */
const char *ext_auth_username(const struct client *c);

/* The granted CONNECT's CONNACK: its Authentication Method and Data
 * (appended to props) [MQTT-4.12.0-5]; nothing for a client without a
 * method [MQTT-4.12.0-6]. FM_OK or FM_ENOMEM. */
int ext_auth_connack_props(const struct client *c, struct buf *props);
/* The CONNACK went out: keep only the method (re-authentication). */
void ext_auth_accepted(struct client *c);

/* Free c's exchange state (at the client's free). */
void ext_auth_free(struct client *c);

#endif
