/* Structural validation of topic names and topic filters (MQTT 4.7).
 *
 * Only the wildcard and length rules live here. UTF-8 well-formedness and the
 * U+0000 ban belong to the codec, but NUL bytes are rejected here as well so
 * that a name built inside the broker (config, bridge, $SYS) cannot smuggle
 * one past a codec that never saw it.
 *
 * Both checks are single passes over the bytes; neither allocates. */
#include "topic/topic.h"

#include <string.h>

/* MQTT strings carry a 16-bit length prefix, so nothing longer can be sent. */
#define TOPIC_MAX_LEN 65535u

static bool length_ok(size_t len)
{
	/* [MQTT-4.7.3-1] at least one character; the wire limit caps the rest */
	return len >= 1 && len <= TOPIC_MAX_LEN;
}

bool topic_name_valid(const char *name, size_t len)
{
	if (!length_ok(len))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		/* [MQTT-4.7.1-1] wildcards are for filters only; NUL see above */
		if (c == '+' || c == '#' || c == '\0')
			return false;
	}
	return true;
}

/* Is position i the first byte of a level? */
static bool level_starts_at(const char *t, size_t i)
{
	return i == 0 || t[i - 1] == '/';
}

/* Is position i the last byte of a level? */
static bool level_ends_at(const char *t, size_t len, size_t i)
{
	return i + 1 == len || t[i + 1] == '/';
}

bool topic_filter_valid(const char *filter, size_t len)
{
	if (!length_ok(len))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = filter[i];
		if (c == '\0')
			return false;
		/* [MQTT-4.7.1-3] '+' must occupy an entire level */
		if (c == '+' && !(level_starts_at(filter, i) && level_ends_at(filter, len, i)))
			return false;
		/* [MQTT-4.7.1-2] '#' must be alone in the last level */
		if (c == '#' && !(level_starts_at(filter, i) && i + 1 == len))
			return false;
	}
	return true;
}

unsigned topic_levels(const char *t, size_t len)
{
	unsigned n = 1;
	for (const char *p = t, *end = t + len; (p = memchr(p, '/', (size_t)(end - p))); p++)
		n++;
	return n;
}
