/* Internal to src/auth: the two password hashes and strict base64. */
#ifndef FM_AUTH_PW_DIGEST_H
#define FM_AUTH_PW_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pw_type {
	PW_SHA512 = 6,        /* "$6$": SHA-512(password || salt) */
	PW_PBKDF2_SHA512 = 7, /* "$7$": PBKDF2-HMAC-SHA512 */
};

/* The parameters of one stored hash. */
struct pw_params {
	enum pw_type type;
	uint32_t iterations;          /* PBKDF2 only */
	const unsigned char *salt;
	size_t salt_len;
};

/* out receives PASSWD_HASH_LEN bytes. 0, or an mbedtls error. */
int pw_digest(const struct pw_params *p, const unsigned char *pw, size_t pw_len, unsigned char *out);

/* Standard base64 (RFC 4648 alphabet, '=' padding required) of exactly
 * want bytes, in src[0..len). Strict: no whitespace, no missing padding.
 * true with out filled, else false. */
bool pw_base64_decode(const char *src, size_t len, unsigned char *out, size_t want);
/* Decoded size of a strictly valid base64 text, or SIZE_MAX if invalid. */
size_t pw_base64_decoded_len(const char *src, size_t len);

#endif
