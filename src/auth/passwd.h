/* Password files as mosquitto_passwd writes them, read unchanged.
 *
 * One user a line, "username:hash", where hash is one of
 *   $7$ITERATIONS$SALT$HASH  PBKDF2-HMAC-SHA512 (mosquitto 2.0's default:
 *                            101 iterations, 12-byte salt, 64-byte key)
 *   $6$SALT$HASH             SHA-512 over the password then the salt
 *                            (mosquitto 1.x; `mosquitto_passwd -H sha512`)
 * SALT and HASH are standard base64 with padding; salts are 12 bytes (or
 * 64, which mosquitto also accepts), hashes 64 bytes. Blank lines and lines
 * whose first non-blank character is '#' are skipped; blanks around the
 * username and the hash are ignored, as mosquitto does.
 *
 * Where we are stricter than mosquitto 2.0, which logs a bad entry and
 * drops that user: any bad line is a startup error naming file and line
 * (no ':', unknown hash type, bad base64, wrong lengths, 0 iterations, the
 * same user twice). A plain-text "user:password" line, which mosquitto
 * only reads when built without TLS, is refused with a pointer to
 * `fleetmq_passwd -U`, which hashes such a file in place.
 *
 * A loaded database is immutable: any number of threads may call
 * passwd_db_check at once. */
#ifndef FM_AUTH_PASSWD_H
#define FM_AUTH_PASSWD_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

struct passwd_db;

/* mosquitto_passwd 2.0's PBKDF2 iteration count, and our upper bound: a
 * check runs on a broker worker thread, so a file asking for more than this
 * per CONNECT is refused rather than allowed to stall a worker. */
#define PASSWD_DEFAULT_ITERATIONS 101u
#define PASSWD_MAX_ITERATIONS 10000000u
#define PASSWD_SALT_LEN 12u   /* salt length we write */
#define PASSWD_HASH_LEN 64u   /* SHA-512 output, both formats */

/* Parse the password file at path into *out (caller passwd_db_free()s).
 * FM_OK, or FM_ECONFIG with eb set: "FILE:LINE: what is wrong" for a bad
 * line, or why the file could not be read. */
int passwd_db_load(const char *path, struct passwd_db **out, struct fm_errbuf *eb);
/* The same from NUL-terminated text; name stands for the file in messages. */
int passwd_db_parse(const char *name, const char *text, struct passwd_db **out, struct fm_errbuf *eb);
/* Accepts NULL. */
void passwd_db_free(struct passwd_db *db);

/* Does user (user_len bytes, need not be NUL-terminated) exist with this
 * password? pw NULL means the client sent no password (always false);
 * pw_len 0 with pw non-NULL is an empty password. All bytes of the
 * password count, NUL bytes included.
 *
 * Cost: one PBKDF2 run on the calling worker thread, about 300 us at 101
 * iterations (mbedtls' SHA-512 on a current x86 core); fine once per
 * CONNECT, not for hot paths (it also allocates mbedtls' HMAC context).
 * An unknown user or a missing password costs the same as a wrong
 * password, a hash against a dummy entry shaped like the file's first
 * entry, so usernames cannot be probed by timing; the comparison is
 * constant-time. */
bool passwd_db_check(const struct passwd_db *db, const char *user, size_t user_len,
		     const unsigned char *pw, size_t pw_len);
/* Is user in the file? Fast (hash lookup), not timing-safe. */
bool passwd_db_has_user(const struct passwd_db *db, const char *user, size_t user_len);
size_t passwd_db_count(const struct passwd_db *db);

/* --- writing (fleetmq_passwd) --------------------------------------------- */

/* Is user usable as a password-file username? Not empty, no ':' (the
 * field separator), no control characters, no leading or trailing blanks
 * (the reader trims them), valid UTF-8 of at most 65535 bytes (what a
 * CONNECT can carry). */
bool passwd_user_valid(const char *user);

/* Write the line "user:$7$ITER$SALT$HASH" (no newline) for password pw
 * into out, with a fresh random 12-byte salt (mbedtls CTR_DRBG seeded from
 * the system's entropy). iterations 0 means PASSWD_DEFAULT_ITERATIONS.
 * FM_OK; FM_EINVAL (invalid user, iterations above the maximum); FM_ETOOBIG
 * (out too small: 200 bytes plus the username always suffice); FM_EIO (no
 * entropy). */
int passwd_hash_line(const char *user, const unsigned char *pw, size_t pw_len, unsigned iterations,
		     char *out, size_t out_len);
/* The same with a given salt (tests compare against known vectors). */
int passwd_hash_line_salted(const char *user, const unsigned char *pw, size_t pw_len,
			    unsigned iterations, const unsigned char *salt, size_t salt_len,
			    char *out, size_t out_len);
/* Does this text after "user:" look like a hash we read ($6$ or $7$ with
 * the right shape)? fleetmq_passwd -U leaves such lines alone. */
bool passwd_field_is_hash(const char *field);

#endif
