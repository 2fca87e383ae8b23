/* Reference matcher: does one topic filter match one topic name?
 *
 * The subscription and retained trees do their own matching level by level;
 * this function is the simple, obviously-correct definition they are tested
 * against, and what callers use for one-off checks (ACLs, bridges).
 *
 * Rules implemented (MQTT 4.7.1, 4.7.2):
 *  - levels compare byte for byte; empty levels are ordinary levels, so
 *    "+/+" matches "/finance" and "+" matches "" level-wise;
 *  - '+' matches exactly one level, whatever its content (also empty);
 *  - '#' matches the remaining levels, and also the parent level itself:
 *    "sport/#" matches "sport" [MQTT-4.7.1-2];
 *  - a filter whose first character is a wildcard never matches a name
 *    starting with '$' [MQTT-4.7.2-1].
 * No allocation; O(flen + nlen). Inputs are assumed validated; invalid input
 * gives some answer but never reads out of bounds. */
#include "topic/topic.h"

#include <string.h>

/* End (exclusive) of the level starting at pos: the next '/' or len. */
static size_t level_end(const char *t, size_t len, size_t pos)
{
	const char *slash = memchr(t + pos, '/', len - pos);
	return slash ? (size_t)(slash - t) : len;
}

static bool is_level(const char *t, size_t start, size_t end, char wildcard)
{
	return end - start == 1 && t[start] == wildcard;
}

/* [MQTT-4.7.2-1] "#" and "+/..." must not reach "$SYS/..." and friends. */
static bool dollar_excluded(const char *filter, size_t flen, const char *name, size_t nlen)
{
	return nlen > 0 && name[0] == '$' && flen > 0 && (filter[0] == '#' || filter[0] == '+');
}

/* The name ran out of levels while the filter has more, starting at the '/'
 * at position fe. Only a trailing "/#" still matches: it covers the parent
 * level too ("sport/#" matches "sport"). */
static bool only_hash_left(const char *filter, size_t flen, size_t fe)
{
	return flen - fe == 2 && filter[fe + 1] == '#';
}

bool topic_match(const char *filter, size_t flen, const char *name, size_t nlen)
{
	if (dollar_excluded(filter, flen, name, nlen))
		return false;
	size_t f = 0, n = 0;
	for (;;) {
		size_t fe = level_end(filter, flen, f);
		size_t ne = level_end(name, nlen, n);
		if (is_level(filter, f, fe, '#'))
			return true;
		if (!is_level(filter, f, fe, '+') &&
		    (fe - f != ne - n || memcmp(filter + f, name + n, fe - f) != 0))
			return false;
		bool f_last = fe == flen, n_last = ne == nlen;
		if (n_last)
			return f_last || only_hash_left(filter, flen, fe);
		if (f_last)
			return false;
		f = fe + 1;
		n = ne + 1;
	}
}
