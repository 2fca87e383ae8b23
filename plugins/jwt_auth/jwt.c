/* HS256 JWT checks (jwt.h). The order matters: nothing in the claims is
 * looked at before the signature is known to be good, so every "why" after
 * that point is about a token the key holder really issued. */
#include "jwt.h"
#include "json.h"

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LEN 32                  /* HMAC-SHA256 */
#define SIG_B64_LEN 43              /* its base64url form, unpadded */

/* --- base64url (RFC 4648 section 5, no padding: RFC 7515 section 2) ------------- */

static int b64url_value(uint8_t ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/* Decode src[0, n) into out (room for n * 3 / 4 bytes); the length, or -1
 * for a length no encoding has (n % 4 == 1), a character outside the
 * alphabet, or bits left over in the last character (not the canonical
 * form of any byte string). */
static long b64url_decode(const uint8_t *src, size_t n, uint8_t *out)
{
	if (n % 4 == 1)
		return -1;
	long o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(src[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return acc == 0 ? o : -1; /* the bits after the last byte must be zero */
}

/* The three parts of a JWS in compact form: lengths of the header, the
 * payload and the signature. False if it is not three dot-separated runs of
 * base64url characters (the first two not empty). */
static bool split(const uint8_t *t, size_t len, size_t *h, size_t *p, size_t *s)
{
	size_t part[3] = { 0, 0, 0 }, k = 0;
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '.') {
			if (++k > 2)
				return false;
		} else if (b64url_value(t[i]) < 0) {
			return false;
		} else {
			part[k]++;
		}
	}
	*h = part[0];
	*p = part[1];
	*s = part[2];
	return k == 2 && *h > 0 && *p > 0;
}

/* --- the checks --------------------------------------------------------------- */

static bool str_is(const struct json_member *m, const char *want)
{
	return m->kind == JSON_STRING && want && m->str_len == strlen(want) && memcmp(m->str, want, m->str_len) == 0;
}

/* alg, crit: RFC 7515 4.1.1 and 4.1.11. */
static const char *header_problem(char *text, size_t len)
{
	struct json_member m[2] = { { .name = "alg" }, { .name = "crit" } };
	const char *why = NULL;
	if (!json_object_read(text, len, m, 2, &why))
		return "the header is not a valid JSON object";
	if (m[0].kind == JSON_ABSENT)
		return "the header has no alg";
	/* exactly HS256: "none" (an unsigned token) and every other algorithm
	 * are refused, asymmetric ones especially (alg confusion: the secret
	 * would be taken for a public key) */
	if (!str_is(&m[0], "HS256"))
		return "the header's alg is not HS256";
	if (m[1].kind != JSON_ABSENT)
		return "the header has crit (no extension is understood)";
	return NULL;
}

static const char *signature_problem(const struct jwt_rules *r, const uint8_t *token, size_t signed_len,
				     const uint8_t *sig_b64, size_t sig_b64_len)
{
	uint8_t sig[SIG_LEN + 3], mac[SIG_LEN];
	if (sig_b64_len != SIG_B64_LEN || b64url_decode(sig_b64, sig_b64_len, sig) != SIG_LEN)
		return "the signature is not an HS256 signature (32 bytes)";
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (!md || mbedtls_md_hmac(md, r->key, r->key_len, token, signed_len, mac) != 0)
		return "HMAC-SHA256 failed";
	if (mbedtls_ct_memcmp(mac, sig, SIG_LEN) != 0)
		return "bad signature";
	return NULL;
}

enum { C_EXP, C_NBF, C_ISS, C_AUD, C_USER, C_CLIENT, C_N };

/* The time claims: exp required (RFC 7519 4.1.4), nbf if present (4.1.5). */
static const char *time_problem(const struct json_member *m, const struct jwt_rules *r, int64_t now_s)
{
	if (m[C_EXP].kind == JSON_ABSENT)
		return "no exp claim";
	if (m[C_EXP].kind != JSON_INT)
		return "exp is not an integer";
	/* "the current date/time MUST be before the expiration date/time";
	 * subtracting keeps it clear of overflow (now_s and leeway are small) */
	if (now_s - r->leeway_s >= m[C_EXP].num)
		return "expired (exp has passed)";
	if (m[C_NBF].kind != JSON_ABSENT) {
		if (m[C_NBF].kind != JSON_INT)
			return "nbf is not an integer";
		if (now_s + r->leeway_s < m[C_NBF].num)
			return "not valid yet (nbf is in the future)";
	}
	return NULL;
}

static const char *claims_problem(char *text, size_t len, const struct jwt_rules *r, const char *username,
				  const char *client_id, int64_t now_s)
{
	struct json_member m[C_N] = {
		[C_EXP] = { .name = "exp" },
		[C_NBF] = { .name = "nbf" },
		[C_ISS] = { .name = "iss" },
		[C_AUD] = { .name = "aud", .want = r->audience },
		[C_USER] = { .name = r->username_claim },
		[C_CLIENT] = { .name = r->clientid_claim },
	};
	const char *why = NULL;
	if (!json_object_read(text, len, m, C_N, &why))
		return "the claims are not a flat JSON object the plugin can read";
	const char *t = time_problem(m, r, now_s);
	if (t)
		return t;
	if (r->issuer && !str_is(&m[C_ISS], r->issuer))
		return m[C_ISS].kind == JSON_ABSENT ? "no iss claim" : "wrong issuer (iss)";
	/* RFC 7519 4.1.3: a token with an aud that does not name us MUST be
	 * rejected, so one with an aud is refused when no audience is set */
	if (r->audience) {
		bool ok = str_is(&m[C_AUD], r->audience) ||
			  (m[C_AUD].kind == JSON_ARRAY && m[C_AUD].array_strings && m[C_AUD].array_has);
		if (!ok)
			return m[C_AUD].kind == JSON_ABSENT ? "no aud claim" : "wrong audience (aud)";
	} else if (m[C_AUD].kind != JSON_ABSENT) {
		return "the token has an aud claim and plugin_opt_audience is not set";
	}
	if (!username)
		return "no username in CONNECT";
	if (!str_is(&m[C_USER], username))
		return m[C_USER].kind == JSON_STRING ? "the username claim does not match the username"
						     : "no username claim (a string)";
	if (r->clientid_claim && !str_is(&m[C_CLIENT], client_id))
		return m[C_CLIENT].kind == JSON_STRING ? "the client id claim does not match the client id"
						       : "no client id claim (a string)";
	return NULL;
}

enum jwt_verdict jwt_check(const struct jwt_rules *r, const uint8_t *token, size_t len, const char *username,
			   const char *client_id, int64_t now_s, const char **why)
{
	size_t h_len, p_len, s_len;
	if (!token || !split(token, len, &h_len, &p_len, &s_len))
		return JWT_NOT_A_JWT;
	uint8_t *buf = malloc(len); /* the decoded header, then the decoded payload */
	if (!buf) {
		*why = "out of memory"; /* a JWT we cannot check is refused, never let through */
		return JWT_INVALID;
	}
	enum jwt_verdict v = JWT_INVALID;
	long hn = b64url_decode(token, h_len, buf);
	size_t skip = 0;
	while (hn > 0 && skip < (size_t)hn && (buf[skip] == ' ' || buf[skip] == '\t' || buf[skip] == '\r' ||
					       buf[skip] == '\n'))
		skip++;
	if (hn <= 0 || skip == (size_t)hn || buf[skip] != '{') {
		v = JWT_NOT_A_JWT; /* no JOSE header: a password that merely has two dots */
		goto out;
	}
	*why = header_problem((char *)buf, (size_t)hn);
	if (*why)
		goto out;
	const uint8_t *payload = token + h_len + 1;
	*why = signature_problem(r, token, h_len + 1 + p_len, payload + p_len + 1, s_len);
	if (*why)
		goto out;
	long pn = b64url_decode(payload, p_len, buf);
	if (pn < 0) {
		*why = "the payload is not base64url";
		goto out;
	}
	*why = claims_problem((char *)buf, (size_t)pn, r, username, client_id, now_s);
	if (!*why)
		v = JWT_VALID;
out:
	free(buf);
	return v;
}
