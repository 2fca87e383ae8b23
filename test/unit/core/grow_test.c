/* fm_grow: the geometric growth every growable array uses. */
#include "core/grow.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(grow, starts_at_first_and_doubles_until_the_need_fits)
{
	int *v = NULL;
	uint32_t cap = 0;
	cr_assert_eq(fm_grow((void **)&v, &cap, 1, sizeof(*v), 4), FM_OK);
	cr_assert_eq(cap, 4);
	cr_assert_eq(fm_grow((void **)&v, &cap, 5, sizeof(*v), 4), FM_OK);
	cr_assert_eq(cap, 8);
	cr_assert_eq(fm_grow((void **)&v, &cap, 100, sizeof(*v), 4), FM_OK);
	cr_assert_eq(cap, 128);
	for (int i = 0; i < 100; i++)
		v[i] = i; /* the memory is there (ASan would say otherwise) */
	free(v);
}

Test(grow, a_need_within_capacity_changes_nothing)
{
	int *v = malloc(8 * sizeof(*v));
	int *before = v;
	uint32_t cap = 8;
	cr_assert_eq(fm_grow((void **)&v, &cap, 8, sizeof(*v), 4), FM_OK);
	cr_assert_eq(v, before);
	cr_assert_eq(cap, 8);
	free(v);
}

Test(grow, a_capacity_past_32_bits_is_refused_and_leaves_the_array_alone)
{
	char *v = NULL;
	uint32_t cap = 0x80000000u;
	cr_assert_eq(fm_grow((void **)&v, &cap, 0x80000001u, 1, 4), FM_ENOMEM);
	cr_assert_null(v);
	cr_assert_eq(cap, 0x80000000u);
}
