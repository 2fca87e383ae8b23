/* A hashed timing wheel: the loop's timer store.
 *
 * Slot i holds every armed timer whose deadline tick is congruent to i
 * modulo WHEEL_SLOTS; a timer further away than one rotation simply stays in
 * its slot until the rotation that reaches its deadline. Arming, disarming
 * and expiring are O(1) per timer, and an advance visits only the slots the
 * clock moved over, so a million idle keepalive timers cost nothing until
 * they are due. Internal to src/loop; not thread-safe. */
#ifndef FM_LOOP_WHEEL_H
#define FM_LOOP_WHEEL_H

#include "loop/loop.h"

#include <stddef.h>
#include <stdint.h>

#define WHEEL_SLOTS 1024u /* 51.2 s per rotation at 50 ms ticks */

struct wheel {
	struct list slots[WHEEL_SLOTS];
	uint64_t tick;  /* last tick processed */
	size_t armed;   /* timers currently in the wheel */
};

void wheel_init(struct wheel *w, uint64_t now_ms);
/* Arm t at absolute deadline_ms (rounded up to the next tick). */
void wheel_add(struct wheel *w, struct loop_timer *t, uint64_t deadline_ms);
void wheel_del(struct wheel *w, struct loop_timer *t);

/* Pop one timer due at now_ms, or NULL when none is left. Timers are popped
 * one at a time because a callback may re-arm or disarm any other timer. */
struct loop_timer *wheel_pop_due(struct wheel *w, uint64_t now_ms);

#endif
