/* Load averages (loadavg.h). */
#include "core/loadavg.h"

#include <math.h>

static const double windows_s[LOADAVG_N] = { 60.0, 300.0, 900.0 };

double loadavg_decay(double prev, double rate_per_min, double dt_s, double window_s)
{
	double keep = exp(-dt_s / window_s);
	return rate_per_min + keep * (prev - rate_per_min);
}

void loadavg_update(struct loadavg *l, uint64_t events, double dt_s)
{
	if (dt_s <= 0.0)
		return;
	double rate = (double)events * 60.0 / dt_s;
	for (int i = 0; i < LOADAVG_N; i++)
		l->per_min[i] = loadavg_decay(l->per_min[i], rate, dt_s, windows_s[i]);
}
