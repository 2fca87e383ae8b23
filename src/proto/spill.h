/* Long queues live in the store, not in memory (max_queued_in_memory): a
 * persistent session keeps at most that many queued messages in memory;
 * entries past it stay only in the store (marked spilled there), after the
 * in-memory ones, and are read back in order as the memory part drains.
 * An offline session with a million queued messages costs the broker its
 * first max_queued_in_memory of them. */
#ifndef FM_PROTO_SPILL_H
#define FM_PROTO_SPILL_H

#include "proto/broker.h"
#include "store/store.h"

/* m, for s at qos, is about to be queued in memory: keep it only in the
 * store instead when the memory part is full (or entries already wait in
 * the store: order). True if so. */
bool spill_entry(struct worker *w, struct session *s, struct msg *m);
/* s's memory part drained below half: ask the store for the next spilled
 * entries (at most one read in flight per session). */
void spill_refill(struct worker *w, struct session *s);
/* A read back of asked entries came home: n rows (spans in sb), or
 * failed. The worker that asked; s may have ended or moved meanwhile. */
void spill_read_done(struct worker *w, struct session *s, uint32_t seq, uint32_t asked, const struct store_batch *sb,
		     const struct store_row *rows, uint32_t n, bool failed);

#endif
