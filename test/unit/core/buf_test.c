/* Byte buffer: growth, consumption, compaction and idle shrink. */
#include "core/buf.h"
#include "fleetmq/errors.h"

#include <criterion/criterion.h>
#include <string.h>

Test(buf, starts_empty_without_allocation)
{
	struct buf b;
	buf_init(&b);
	cr_assert_null(b.data);
	cr_assert_eq(buf_used(&b), 0);
	buf_fini(&b);
}

Test(buf, append_and_consume_keep_order)
{
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(buf_append_u16(&b, (uint16_t)i), FM_OK);
	cr_assert_eq(buf_used(&b), 2000);
	buf_consume(&b, 1998);
	cr_assert_eq(buf_head(&b)[0], 999 >> 8);
	cr_assert_eq(buf_head(&b)[1], 999 & 0xff);
	buf_consume(&b, 2);
	cr_assert_eq(buf_used(&b), 0);
	buf_shrink_if_empty(&b);
	cr_assert_null(b.data);
	buf_fini(&b);
}

Test(buf, reserve_compacts_consumed_front_before_growing)
{
	struct buf b;
	buf_init(&b);
	uint8_t chunk[200];
	memset(chunk, 7, sizeof(chunk));
	cr_assert_eq(buf_append(&b, chunk, sizeof(chunk)), FM_OK);
	size_t cap = b.cap;
	buf_consume(&b, 150);
	cr_assert_eq(buf_append(&b, chunk, 100), FM_OK);
	cr_assert_eq(b.cap, cap, "consumed space should be reused, not grown");
	cr_assert_eq(buf_used(&b), 150);
	buf_fini(&b);
}

Test(buf, big_endian_integers)
{
	struct buf b;
	buf_init(&b);
	buf_append_u32(&b, 0x01020304u);
	cr_assert_eq(memcmp(buf_head(&b), "\x01\x02\x03\x04", 4), 0);
	buf_fini(&b);
}

/* A packet put back in front of what is left to read (5.0 enhanced
 * authentication re-runs the CONNECT it held), with and without room in
 * the consumed front, and into an empty buffer. */
Test(buf, prepend_puts_bytes_before_the_unconsumed_ones)
{
	struct buf b;
	buf_init(&b);
	cr_assert_eq(buf_prepend(&b, "cd", 2), FM_OK);
	cr_assert_eq(buf_used(&b), 2);
	cr_assert_eq(buf_prepend(&b, "ab", 2), FM_OK); /* no consumed front: moves the rest */
	cr_assert_eq(memcmp(buf_head(&b), "abcd", 4), 0);
	cr_assert_eq(buf_append(&b, "efgh", 4), FM_OK);
	buf_consume(&b, 5);
	cr_assert_eq(buf_prepend(&b, "XYZ", 3), FM_OK); /* fits in the consumed front */
	cr_assert_eq(buf_used(&b), 6);
	cr_assert_eq(memcmp(buf_head(&b), "XYZfgh", 6), 0);
	uint8_t big[1000];
	memset(big, 'q', sizeof(big));
	cr_assert_eq(buf_prepend(&b, big, sizeof(big)), FM_OK); /* grows */
	cr_assert_eq(buf_used(&b), 1006);
	cr_assert_eq(memcmp(buf_head(&b) + 1000, "XYZfgh", 6), 0);
	cr_assert_eq(buf_head(&b)[999], 'q');
	buf_fini(&b);
}
