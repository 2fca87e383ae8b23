/* New connections on a listener with enable_proxy_protocol wait here for
 * the PROXY header (bounded by connect_timeout) before they become clients
 * (or WebSocket connections) with the address it names. */
#ifndef FM_PROTO_PROXY_WAIT_H
#define FM_PROTO_PROXY_WAIT_H

#include "proto/broker.h"
#include "net/conn.h"

/* Take over fd (closed on failure). */
int proxy_wait_start(struct worker *w, struct listener_rt *l, int fd, const struct net_addr *peer);
/* Hand a connection whose real address is known on to the listener's
 * transport (plain, TLS or WebSocket). */
int listener_hand_on(struct listener_rt *l, int fd, const struct net_addr *peer);

#endif
