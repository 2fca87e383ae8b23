/* Checking a JWT (RFC 7519) signed with HS256 (RFC 7515 JWS compact form,
 * RFC 7518 3.2) against the plugin's rules. Pure: no I/O, no logging, no
 * globals (the clock comes in as now_s), so any worker may call it at any
 * time. Allocates one buffer per call, freed before it returns. */
#ifndef JWT_AUTH_JWT_H
#define JWT_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

/* What a token must satisfy (the plugin's options; read-only once set). */
struct jwt_rules {
	const uint8_t *key;         /* the HMAC-SHA256 key */
	size_t key_len;
	const char *issuer;         /* NULL: any iss (or none) */
	const char *audience;       /* NULL: the token must carry no aud */
	const char *username_claim; /* this claim must equal the MQTT username */
	const char *clientid_claim; /* NULL: the client id is not checked; else this claim must equal it */
	int64_t leeway_s;           /* clock skew allowed on exp and nbf, seconds */
};

enum jwt_verdict {
	JWT_NOT_A_JWT,              /* not shaped like a JWS: someone else's password */
	JWT_VALID,
	JWT_INVALID,                /* a JWT, refused: *why says why */
};

/* Check token[0, len) for a client presenting username (NULL: none) and
 * client_id (NULL: none) at now_s (seconds since 1970).
 *
 * JWT_NOT_A_JWT unless the token is three dot-separated base64url parts
 * whose first decodes to a JSON object (the JOSE header). Then, in order:
 * alg exactly "HS256" (not "none", not "hs256", not RS256: the key is
 * an HMAC secret, never a public key), no "crit" header, the signature
 * (32 bytes, compared in constant time), the claims a JSON object, exp an
 * integer and now < exp + leeway, nbf (if any) an integer and
 * now >= nbf - leeway, iss, aud, the username and client id claims.
 * *why (static text, never token bytes) is set for JWT_INVALID. */
enum jwt_verdict jwt_check(const struct jwt_rules *r, const uint8_t *token, size_t len, const char *username,
			   const char *client_id, int64_t now_s, const char **why);

#endif
