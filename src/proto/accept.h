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
/* A socket of l that is not a client yet (PROXY wait, WebSocket upgrade)
 * counts against max_connections from accept until it is one or is gone:
 * add it, and say when it is done with listener_pending_done. */
void listener_pending_add(struct listener_rt *l);
void listener_pending_done(struct broker *b, size_t listener_index);

#endif
