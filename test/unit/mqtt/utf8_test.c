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
