/* Growing an array geometrically: the one rule for every growable array of
 * fixed-size elements (session arrays, store batches, waiter lists ...). */
#ifndef FM_CORE_GROW_H
#define FM_CORE_GROW_H

#include <stddef.h>
#include <stdint.h>

/* Make *arr hold at least need elements of elem bytes: if *cap is short,
 * double it (starting from first) until it fits and realloc. *arr and *cap
 * are unchanged on failure. FM_OK or FM_ENOMEM. */
int fm_grow(void **arr, uint32_t *cap, uint32_t need, size_t elem, uint32_t first);

#endif
