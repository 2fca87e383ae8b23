/* max_publish_rate (our option): PUBLISH packets a client may send per
 * second. A token bucket per client (as many tokens as the rate: a
 * second's burst), refilled as time passes. A PUBLISH that finds it empty
 * is not read yet: the client is paused (its packet stays unconsumed, the
 * socket unread, so TCP slows the client down) until a token is due. A
 * device that misbehaves costs its own throughput, nobody else's, and
 * nothing is dropped. */
#ifndef FM_PROTO_RATE_H
#define FM_PROTO_RATE_H

#include <stdbool.h>

struct client;

/* May c publish now? true: a token was taken. false: c is paused and will
 * be resumed when one is due (the PUBLISH must stay unconsumed: return
 * FM_EAGAIN from the handler). Always true without a limit. */
bool rate_admit(struct client *c);
/* Stop the resume timer (closing). */
void rate_stop(struct client *c);
void rate_free(struct client *c);

#endif
