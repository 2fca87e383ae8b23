/* Making password-file lines (for fleetmq_passwd): "user:$7$ITER$SALT$HASH"
 * with a fresh random salt, as mosquitto_passwd 2.0 writes them. */
#include "auth/passwd.h"
#include "auth/pw_digest.h"
#include "mqtt/codec.h"

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <string.h>

bool passwd_user_valid(const char *user)
{
	size_t len = strlen(user);
	if (len == 0 || len > 65535 || user[0] == ' ' || user[0] == '\t' || user[len - 1] == ' ' ||
	    user[len - 1] == '\t')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c == ':' || c < 0x20 || c == 0x7f)
			return false;
	}
	/* a CONNECT's username is UTF-8 [MQTT-3.1.3-11]: any other name could
	 * never log in */
	return mqtt_utf8_valid(user, len);
}

static int random_salt(unsigned char *salt, size_t len)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	static const char who[] = "fleetmq_passwd salt";
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)who,
				       sizeof(who) - 1);
	if (rc == 0)
		rc = mbedtls_ctr_drbg_random(&drbg, salt, len);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return rc == 0 ? FM_OK : FM_EIO;
}

int passwd_hash_line(const char *user, const unsigned char *pw, size_t pw_len, unsigned iterations,
		     char *out, size_t out_len)
{
	unsigned char salt[PASSWD_SALT_LEN];
	int rc = random_salt(salt, sizeof(salt));
	if (rc == FM_OK)
		rc = passwd_hash_line_salted(user, pw, pw_len, iterations, salt, sizeof(salt), out, out_len);
	return rc;
}

static int b64(const unsigned char *in, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	if (mbedtls_base64_encode((unsigned char *)out, cap, &n, in, len) != 0)
		return FM_ETOOBIG;
	return FM_OK;
}

int passwd_hash_line_salted(const char *user, const unsigned char *pw, size_t pw_len,
			    unsigned iterations, const unsigned char *salt, size_t salt_len,
			    char *out, size_t out_len)
{
	if (iterations == 0)
		iterations = PASSWD_DEFAULT_ITERATIONS;
	if (!passwd_user_valid(user) || iterations > PASSWD_MAX_ITERATIONS ||
	    (salt_len != PASSWD_SALT_LEN && salt_len != 64))
		return FM_EINVAL;
	struct pw_params p = { .type = PW_PBKDF2_SHA512, .iterations = iterations, .salt = salt,
			       .salt_len = salt_len };
	unsigned char hash[PASSWD_HASH_LEN];
	char salt_b64[96], hash_b64[96];
	int rc = pw_digest(&p, pw, pw_len, hash) == 0 ? FM_OK : FM_EIO;
	if (rc == FM_OK)
		rc = b64(salt, salt_len, salt_b64, sizeof(salt_b64));
	if (rc == FM_OK)
		rc = b64(hash, sizeof(hash), hash_b64, sizeof(hash_b64));
	if (rc == FM_OK) {
		int n = snprintf(out, out_len, "%s:$7$%u$%s$%s", user, iterations, salt_b64, hash_b64);
		if (n < 0 || (size_t)n >= out_len)
			rc = FM_ETOOBIG;
	}
	mbedtls_platform_zeroize(hash, sizeof(hash));
	return rc;
}

/* The same shape rules passwd.c enforces, without building an entry. */
static bool b64_of(const char *s, size_t len, size_t want1, size_t want2)
{
	size_t n = pw_base64_decoded_len(s, len);
	return n == want1 || n == want2;
}

bool passwd_field_is_hash(const char *field)
{
	const char *s = field;
	unsigned type;
	if (strncmp(s, "$7$", 3) == 0)
		type = 7;
	else if (strncmp(s, "$6$", 3) == 0)
		type = 6;
	else
		return false;
	s += 3;
	if (type == 7) {
		size_t digits = strspn(s, "0123456789");
		if (digits == 0 || s[digits] != '$')
			return false;
		s += digits + 1;
	}
	const char *d = strchr(s, '$');
	if (!d || !b64_of(s, (size_t)(d - s), PASSWD_SALT_LEN, 64))
		return false;
	const char *h = d + 1;
	return strchr(h, '$') == NULL && b64_of(h, strlen(h), PASSWD_HASH_LEN, PASSWD_HASH_LEN);
}
