/* The accept path of every listener socket: new connections checked
 * against memory_limit and max_connections, then handed on (PROXY header,
 * WebSocket upgrade, TLS or plain client); and what a worker does when
 * accept itself fails for want of descriptors or memory. */
#ifndef FM_PROTO_ACCEPT_H
#define FM_PROTO_ACCEPT_H

#include "proto/broker.h"

/* Watch l's socket for connections on its worker's loop. FM_OK or an
 * fm_err. */
int listener_watch(struct listener_rt *l);
/* Stop watching (and any pending resume); the socket stays open. */
void listener_unwatch(struct listener_rt *l);

#endif
