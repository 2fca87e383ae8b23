/* The two password hashes mosquitto uses, on mbedtls, and strict base64. */
#include "auth/pw_digest.h"
#include "auth/passwd.h"

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/sha512.h>

static int digest_sha512(const struct pw_params *p, const unsigned char *pw, size_t pw_len,
			 unsigned char *out)
{
	/* mosquitto 1.x: one SHA-512 over the password followed by the salt */
	mbedtls_sha512_context ctx;
	mbedtls_sha512_init(&ctx);
	int rc = mbedtls_sha512_starts_ret(&ctx, 0);
	if (rc == 0)
		rc = mbedtls_sha512_update_ret(&ctx, pw, pw_len);
	if (rc == 0)
		rc = mbedtls_sha512_update_ret(&ctx, p->salt, p->salt_len);
	if (rc == 0)
		rc = mbedtls_sha512_finish_ret(&ctx, out);
	mbedtls_sha512_free(&ctx);
	return rc;
}

static int digest_pbkdf2(const struct pw_params *p, const unsigned char *pw, size_t pw_len,
			 unsigned char *out)
{
	mbedtls_md_context_t md;
	mbedtls_md_init(&md);
	int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA512), 1 /* HMAC */);
	if (rc == 0)
		rc = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pw_len, p->salt, p->salt_len, p->iterations,
					       PASSWD_HASH_LEN, out);
	mbedtls_md_free(&md);
	return rc;
}

int pw_digest(const struct pw_params *p, const unsigned char *pw, size_t pw_len, unsigned char *out)
{
	static const unsigned char none[1] = { 0 };
	if (!pw) /* mbedtls wants a pointer even for zero bytes */
		pw = none;
	return p->type == PW_SHA512 ? digest_sha512(p, pw, pw_len, out) : digest_pbkdf2(p, pw, pw_len, out);
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

/* mbedtls_base64_decode skips whitespace and line breaks; a password file
 * field never holds them, so check the shape first. */
size_t pw_base64_decoded_len(const char *src, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return SIZE_MAX;
	size_t pad = src[len - 1] == '=' ? (src[len - 2] == '=' ? 2 : 1) : 0;
	for (size_t i = 0; i < len - pad; i++)
		if (!b64_char(src[i]))
			return SIZE_MAX;
	return len / 4 * 3 - pad;
}

bool pw_base64_decode(const char *src, size_t len, unsigned char *out, size_t want)
{
	if (pw_base64_decoded_len(src, len) != want)
		return false;
	size_t got = 0;
	int rc = mbedtls_base64_decode(out, want, &got, (const unsigned char *)src, len);
	return rc == 0 && got == want;
}
