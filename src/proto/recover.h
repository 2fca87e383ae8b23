/* Rebuild sessions, subscriptions, queues and retained messages from the
 * durable store at start (recover.c). */
#ifndef FM_PROTO_RECOVER_H
#define FM_PROTO_RECOVER_H

#include "proto/broker.h"

/* Load everything from b->store into b (before the workers start); logs
 * the counts and the time taken. FM_OK or an error described in eb. */
int broker_recover(struct broker *b, struct fm_errbuf *eb);

#endif
