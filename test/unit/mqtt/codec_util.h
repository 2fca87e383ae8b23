/* Helpers shared by the codec unit tests: frame one packet from bytes. */
#ifndef FM_TEST_CODEC_UTIL_H
#define FM_TEST_CODEC_UTIL_H

#include "fleetmq/errors.h"
#include "mqtt/codec.h"

#include <criterion/criterion.h>
#include <string.h>

/* Frame exactly one whole packet from p[0, n); asserts it frames. */
static inline struct mqtt_frame frame_of(const uint8_t *p, size_t n)
{
	struct mqtt_frame f;
	size_t used = 0;
	uint8_t reason = 0;
	cr_assert_eq(mqtt_frame_parse(p, n, 0, &f, &used, &reason), FM_OK, "packet does not frame");
	cr_assert_eq(used, n, "trailing bytes after the packet");
	return f;
}

/* Assert that buf b holds exactly the given bytes. */
#define ASSERT_BYTES(b, ...)                                                             \
	do {                                                                             \
		const uint8_t want_[] = {__VA_ARGS__};                                   \
		cr_assert_eq(buf_used(b), sizeof(want_), "%zu bytes", buf_used(b));      \
		cr_assert(memcmp(buf_head(b), want_, sizeof(want_)) == 0, "bytes differ"); \
	} while (0)

#define FRAME(...) frame_of((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

#endif
