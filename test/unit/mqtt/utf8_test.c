/* UTF-8 rules for MQTT strings (section 1.5.3). */
#include "mqtt/codec.h"

#include <criterion/criterion.h>

static bool valid(const char *s, size_t n) { return mqtt_utf8_valid(s, n); }
#define V(lit) valid((lit), sizeof(lit) - 1)

Test(utf8, well_formed_text_accepted)
{
	cr_assert(V(""));
	cr_assert(V("plain ascii/topic"));
	cr_assert(V("caf\xC3\xA9"));           /* U+00E9 */
	cr_assert(V("\xE2\x82\xAC"));           /* U+20AC */
	cr_assert(V("\xF0\x9F\x98\x80"));       /* U+1F600 */
	cr_assert(V("\xF4\x8F\xBF\xBF"));       /* U+10FFFF, the last code point */
	cr_assert(V("\xEF\xBB\xBF"));           /* U+FEFF is allowed [MQTT-1.5.3-3] */
}

Test(utf8, nul_refused_MQTT_1_5_3_2)
{
	cr_assert_not(valid("a\0b", 3));
}

Test(utf8, surrogates_refused_MQTT_1_5_3_1)
{
	cr_assert_not(V("\xED\xA0\x80")); /* U+D800 */
	cr_assert_not(V("\xED\xBF\xBF")); /* U+DFFF */
}

Test(utf8, ill_formed_sequences_refused_MQTT_1_5_3_1)
{
	cr_assert_not(V("\xC0\x80"));           /* overlong NUL */
	cr_assert_not(V("\xC1\xBF"));           /* overlong */
	cr_assert_not(V("\xE0\x80\x80"));       /* overlong 3-byte */
	cr_assert_not(V("\xF0\x80\x80\x80"));   /* overlong 4-byte */
	cr_assert_not(V("\xF4\x90\x80\x80"));   /* above U+10FFFF */
	cr_assert_not(V("\xF5\x80\x80\x80"));   /* lead byte beyond F4 */
	cr_assert_not(V("\x80"));               /* lone continuation byte */
	cr_assert_not(V("\xC3"));               /* truncated */
	cr_assert_not(V("\xE2\x82"));           /* truncated */
	cr_assert_not(V("\xE2\x28\xA1"));       /* bad continuation */
	cr_assert_not(V("\xFF"));
}

Test(utf8, boundary_code_points_accepted)
{
	cr_assert(V("\x7F"));                   /* U+007F, last 1-byte */
	cr_assert(V("\xC2\x80"));               /* U+0080, first 2-byte */
	cr_assert(V("\xDF\xBF"));               /* U+07FF, last 2-byte */
	cr_assert(V("\xE0\xA0\x80"));           /* U+0800, first 3-byte */
	cr_assert(V("\xED\x9F\xBF"));           /* U+D7FF, just below the surrogates */
	cr_assert(V("\xEE\x80\x80"));           /* U+E000, just above the surrogates */
	cr_assert(V("\xEF\xBF\xBF"));           /* U+FFFF */
	cr_assert(V("\xF0\x90\x80\x80"));       /* U+10000, first 4-byte */
	cr_assert(V("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z")); /* mixed */
}

Test(utf8, more_overlongs_refused)
{
	cr_assert_not(V("\xE0\x9F\xBF"));       /* overlong U+07FF */
	cr_assert_not(V("\xF0\x8F\xBF\xBF"));   /* overlong U+FFFF */
	cr_assert_not(V("\xC0\xAF"));           /* overlong '/' */
	cr_assert_not(V("\xE0\x80\xAF"));
	cr_assert_not(V("\xF0\x80\x80\xAF"));
}

Test(utf8, truncated_sequences_refused_at_every_length)
{
	static const char full[] = "\xF0\x9F\x98\x80";
	for (size_t n = 1; n < 4; n++)
		cr_assert_not(valid(full, n), "prefix %zu", n);
	/* truncated sequence followed by ASCII: continuation missing */
	cr_assert_not(V("\xF0\x9F\x98" "a"));
	cr_assert_not(V("\xE2\x82" "a"));
	cr_assert_not(V("\xC3" "a"));
	/* truncated at the very end of an otherwise valid string */
	cr_assert_not(V("abc\xE2"));
}

Test(utf8, lone_and_extra_continuation_bytes_refused)
{
	cr_assert_not(V("\xBF"));
	cr_assert_not(V("a\x80z"));
	cr_assert_not(V("\xC3\xA9\xA9"));       /* one continuation too many */
	cr_assert_not(V("\xF8\x88\x80\x80\x80")); /* 5-byte form */
	cr_assert_not(V("\xFC\x84\x80\x80\x80\x80")); /* 6-byte form */
	cr_assert_not(V("\xFE"));
}

Test(utf8, above_max_refused)
{
	cr_assert_not(V("\xF4\x90\x80\x80"));   /* U+110000 */
	cr_assert_not(V("\xF4\xBF\xBF\xBF"));
	cr_assert_not(V("\xF7\xBF\xBF\xBF"));   /* U+1FFFFF */
}

Test(utf8, all_surrogates_refused_MQTT_1_5_3_1)
{
	char s[3];
	for (unsigned cp = 0xD800; cp <= 0xDFFF; cp++) {
		s[0] = (char)(0xE0 | cp >> 12);
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[2] = (char)(0x80 | (cp & 0x3F));
		cr_assert_not(valid(s, 3), "U+%04X", cp);
	}
}

Test(utf8, nul_anywhere_refused_MQTT_1_5_3_2)
{
	cr_assert_not(valid("\0", 1));
	cr_assert_not(valid("abc\0", 4));
	cr_assert_not(valid("\0abc", 4));
	cr_assert(valid("abc\0", 3), "length bounds the check");
}

/* Exhaustive cross-check of every 1-, 2- and 3-byte sequence against a
 * reference decoder. */
static bool ref_valid3(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp, min;
		size_t k;
		if (c < 0x80) { cp = c; k = 0; min = 0; }
		else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; k = 1; min = 0x80; }
		else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; k = 2; min = 0x800; }
		else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; k = 3; min = 0x10000; }
		else return false;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
			return false;
		i += k + 1;
	}
	return true;
}

Test(utf8, exhaustive_short_sequences_match_reference)
{
	uint8_t s[3];
	for (unsigned a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		cr_assert_eq(valid((const char *)s, 1), ref_valid3(s, 1), "%02X", a);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			cr_assert_eq(valid((const char *)s, 2), ref_valid3(s, 2), "%02X %02X", a, b);
			if (a < 0xC0)
				continue; /* 3-byte sweep only for lead bytes */
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (uint8_t)c;
				bool want = ref_valid3(s, 3);
				if (valid((const char *)s, 3) != want)
					cr_assert_fail("%02X %02X %02X: want %d", a, b, c, want);
			}
		}
	}
}
