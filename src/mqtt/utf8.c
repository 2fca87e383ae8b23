/* UTF-8 validation for MQTT strings: section 1.5.3 of 3.1.1, 1.5.4 of 5.0.
 * The statement ids differ between the versions (3.1.1 [MQTT-1.5.3-1] is
 * 5.0 [MQTT-1.5.4-1]); both are cited. U+FEFF and non-characters are
 * allowed, as both specifications say. */
#include "mqtt/codec.h"

/* Length of the sequence starting with lead byte c, 0 if c cannot lead. */
static unsigned seq_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return 2; /* C0, C1 would be overlong */
	if (c >= 0xE0 && c <= 0xEF)
		return 3;
	if (c >= 0xF0 && c <= 0xF4)
		return 4; /* above F4 is beyond U+10FFFF */
	return 0;
}

bool mqtt_utf8_valid(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + len;
	while (p < end) {
		uint8_t c = *p;
		if (c == 0)
			return false; /* U+0000 [MQTT-1.5.3-2] / [MQTT-1.5.4-2] */
		unsigned n = seq_len(c);
		if (n == 0 || (size_t)(end - p) < n)
			return false;
		uint32_t cp = n == 1 ? c : c & (0x7F >> n);
		for (unsigned i = 1; i < n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false; /* overlong or out of range */
		if (cp >= 0xD800 && cp <= 0xDFFF)
			return false; /* surrogates [MQTT-1.5.3-1] / [MQTT-1.5.4-1] */
		p += n;
	}
	return true;
}
