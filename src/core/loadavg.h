/* Exponentially decayed event rates: the Unix load-average method applied
 * to counters, as mosquitto's $SYS/broker/load/... topics report them.
 *
 * Every sample turns the events counted since the previous one into a rate
 * per minute and moves each average towards it: after dt seconds a
 * fraction exp(-dt / window) of the old average remains. With a steady
 * rate r every average tends to r; the 1 min one follows changes fastest,
 * the 15 min one smooths most. Pure arithmetic, no clock: the caller
 * passes the elapsed time. */
#ifndef FM_CORE_LOADAVG_H
#define FM_CORE_LOADAVG_H

#include <stdint.h>

enum { LOADAVG_1MIN, LOADAVG_5MIN, LOADAVG_15MIN, LOADAVG_N };

struct loadavg {
	double per_min[LOADAVG_N]; /* events per minute, averaged over 1, 5, 15 min */
};

/* One average: prev moved towards rate_per_min after dt_s seconds over a
 * window of window_s seconds. */
double loadavg_decay(double prev, double rate_per_min, double dt_s, double window_s);

/* Fold events counted over the last dt_s seconds into all three averages.
 * dt_s <= 0 leaves them unchanged. */
void loadavg_update(struct loadavg *l, uint64_t events, double dt_s);

#endif
