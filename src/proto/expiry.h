/* Persistent sessions whose client stays away too long end
 * (persistent_client_expiration; 5.0's session expiry interval will use
 * the same path). The deadline is a timer on the session's home worker
 * while it is offline, and an absolute wall-clock time in the store, so the
 * clock keeps running across restarts. */
#ifndef FM_PROTO_EXPIRY_H
#define FM_PROTO_EXPIRY_H

#include "proto/broker.h"

/* The deadline the store should hold for s (wall clock ms), 0 for none. */
uint64_t session_expiry_at_ms(const struct session *s);
/* s (persistent, homed on w) just went offline: start its clock. */
void session_expiry_start(struct worker *w, struct session *s);
/* s is leaving w (takeover by a client on another worker): its timer
 * stops here; the new home clears the deadline when the client attaches. */
void session_expiry_stop(struct worker *w, struct session *s);
/* A client attached to s on w: no deadline any more, here or on disk. */
void session_expiry_clear(struct worker *w, struct session *s);
/* s came to w offline (handed over to a client that left): its deadline,
 * if any, runs on here. */
void session_expiry_resume(struct worker *w, struct session *s);
/* At start (recovery, single-threaded): s was stored with the deadline
 * expires_at_s, not yet reached; arm it on its home. */
void session_expiry_restore(struct worker *home, struct session *s, uint32_t expires_at_s, uint64_t now_wall_ms);

#endif
