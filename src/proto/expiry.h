/* Session deadlines while a client is away: the session ends after its
 * expiry interval (5.0 Session Expiry Interval; for 3.1.1,
 * persistent_client_expiration), and a will waits for its Will Delay
 * Interval. Each is a timer on the session's home worker and an absolute
 * wall-clock time in the store, so the clock keeps running across
 * restarts. */
#ifndef FM_PROTO_EXPIRY_H
#define FM_PROTO_EXPIRY_H

#include "proto/broker.h"

/* The deadline the store should hold for s (wall clock ms), 0 for none. */
uint64_t session_expiry_at_ms(const struct session *s);
/* s (persistent, homed on w) just went offline: start its clock (none for
 * an interval of 0xFFFFFFFF, "never"). */
void session_expiry_start(struct worker *w, struct session *s);
/* s is leaving w (takeover by a client on another worker), or ending: its
 * timers stop here; the new home clears the deadlines when the client
 * attaches. */
void session_expiry_stop(struct worker *w, struct session *s);
/* A client attached to s on w: no deadline any more, here or on disk. */
void session_expiry_clear(struct worker *w, struct session *s);
/* s came to w offline (handed over to a client that left): its deadline,
 * if any, runs on here. */
void session_expiry_resume(struct worker *w, struct session *s);
/* At start (recovery, single-threaded): s was stored with the deadline
 * expires_at_s, not yet reached; arm it on its home. */
void session_expiry_restore(struct worker *home, struct session *s, uint32_t expires_at_s, uint64_t now_wall_ms);

/* A will to publish delay_s from now (the caller holds it in s->will):
 * returns when (wall ms), 0 on ENOMEM. */
uint64_t session_will_arm(struct worker *w, struct session *s, uint32_t delay_s);
/* Stop a waiting will's timer; false if none was waiting. */
bool session_will_disarm(struct worker *w, struct session *s);
/* At start: s's will waits until publish_at_ms (at once if passed). */
void session_will_restore(struct worker *home, struct session *s, uint64_t publish_at_ms, uint64_t now_wall_ms);

#endif
