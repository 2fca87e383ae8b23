#include "core/grow.h"

#include "fleetmq/errors.h"

#include <stdlib.h>

int fm_grow(void **arr, uint32_t *cap, uint32_t need, size_t elem, uint32_t first)
{
	if (need <= *cap)
		return FM_OK;
	uint64_t ncap = *cap ? *cap : (first ? first : 1);
	while (ncap < need)
		ncap *= 2;
	if (ncap > UINT32_MAX)
		return FM_ENOMEM;
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return FM_ENOMEM;
	*arr = p;
	*cap = (uint32_t)ncap;
	return FM_OK;
}
