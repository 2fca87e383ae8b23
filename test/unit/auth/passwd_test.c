/* Password files: known vectors written by Debian's mosquitto_passwd 2.0.11
 * and by Python's hashlib, every refused line with its file:line message,
 * lines we write being read back, and lookups over 100,000 users. */
#include "auth/passwd.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct fm_errbuf eb;

/* `mosquitto_passwd -c -b FILE user password` (2.0.11, this machine):
 * alice/secret, bob/hunter2, carol/"p@ss:word with spaces", empty/"",
 * üser/pässwörd (UTF-8); dave/legacy with `-H sha512` ($6$, 1.x format). */
static const char mosquitto_file[] =
	"# written by mosquitto_passwd 2.0.11\n"
	"alice:$7$101$KeBB4/+XwRbHOjiI$jDm4k0BlMfRK3ViBfVaXkXAUuaSZ0X7mP2+2PYhVy0O8fnk/upIK00KV4Y3xxB+"
	"Etnjr/SubOQtHRnJoiD6IhQ==\n"
	"bob:$7$101$W+VxKYUHVKKnfnJP$tCQXnDCCUXpTN7W9y1uT7iRmmEAIu6FTfiUp/j3XSzHKAsz/YmSJwzg3cu9jmAQWw8AkC2Q/"
	"IWezzgl3TqQ7aQ==\n"
	"\n"
	"carol:$7$101$6PgvenIM909lehAt$U7InBqwy8qLZDCHMWGFGsVvS+LqDTJ4qoXWzDnOECZ1mKNevkBAURMfjRQdFEYXyi5Gpq"
	"l7jE7XSwqHGjWyQLA==\r\n"
	"empty:$7$101$ViP8a8zR3Yfqwqq9$Y4ydREhZoQ7CKsD0KXtzmcYmcvSUskZR8obhc83PUxm2G9Iq5O2fXZPNLmsmczLn3QRT"
	"s3PYk4a+DXSObzVfHw==\n"
	"dave:$6$9NgbDfvQnV9B+yrZ$A2s/7cWyQ3TcbDjRAfjPMXswzrhwiZ/k2ghvGVEoXMd6/+4cFCZSTmMOkyMlrevFS2rgfKJDsWnH"
	"0PXQN6vIYA==\n"
	"\xc3\xbcser:$7$101$2+EIpVO8/MJ5m4oD$xQ89s4qU6NPLhOZXiDL4DFiwcolqnBEhRj3x0l0b2/E1uZrwuX24XnGtJhcRM8Se"
	"F7zk53aRw2E/DIdQntsPZw==\n";

/* Vectors computed independently of mosquitto and mbedtls, with Python 3's
 * hashlib and base64 (salt = bytes(range(12)), "AAECAwQFBgcICQoL"):
 *   $6$: base64.b64encode(hashlib.sha512(b'correct horse' + salt).digest())
 *   $7$: base64.b64encode(hashlib.pbkdf2_hmac('sha512', b'battery staple', salt, 1000, 64)) */
#define PY6_LINE                                                                                   \
	"user6:$6$AAECAwQFBgcICQoL$5W8GCQ9GLgmhmQvoa8jmRaPnsh82mRigdSv6mQsK0sMIII/WznlQb1g+RWddfoAKTMzBJP1d" \
	"eJU+Rp/1QZ0zZg=="
#define PY7_LINE                                                                                   \
	"user7:$7$1000$AAECAwQFBgcICQoL$Bj8T029S9D77lpGDs4XcfUCdbrsFVf3novC6cQp4v2VG3CcU/YRrane0BJA+Aywq5" \
	"aXWGFXVxMvz26a9Cuf4jg=="

static bool check(const struct passwd_db *db, const char *user, const char *pw)
{
	return passwd_db_check(db, user, strlen(user), (const unsigned char *)pw, strlen(pw));
}

static struct passwd_db *parse_ok(const char *text)
{
	struct passwd_db *db = NULL;
	cr_assert_eq(passwd_db_parse("pw.txt", text, &db, &eb), FM_OK, "%s", eb.msg);
	return db;
}

static void parse_fails(const char *text, const char *expect)
{
	struct passwd_db *db = NULL;
	eb.msg[0] = '\0';
	cr_assert_eq(passwd_db_parse("pw.txt", text, &db, &eb), FM_ECONFIG, "accepted: %s", text);
	cr_assert_null(db);
	cr_assert(strstr(eb.msg, expect), "message '%s' lacks '%s'", eb.msg, expect);
}

/* --- known vectors ----------------------------------------------------------- */

Test(passwd, mosquitto_passwd_2_0_lines_check)
{
	struct passwd_db *db = parse_ok(mosquitto_file);
	cr_assert_eq(passwd_db_count(db), 6);
	cr_assert(check(db, "alice", "secret"));
	cr_assert(check(db, "bob", "hunter2"));
	cr_assert(check(db, "carol", "p@ss:word with spaces"), "a ':' in the password is fine");
	cr_assert(check(db, "empty", ""), "an empty password is a password");
	cr_assert(check(db, "\xc3\xbcser", "p\xc3\xa4ssw\xc3\xb6rd"), "UTF-8 on both sides");
	cr_assert(check(db, "dave", "legacy"), "$6$ from mosquitto_passwd -H sha512");
	passwd_db_free(db);
}

Test(passwd, wrong_passwords_unknown_users_and_missing_passwords_fail)
{
	struct passwd_db *db = parse_ok(mosquitto_file);
	cr_assert_not(check(db, "alice", "Secret"));
	cr_assert_not(check(db, "alice", "secret "));
	cr_assert_not(check(db, "alice", ""));
	cr_assert_not(check(db, "Alice", "secret"), "usernames are case-sensitive");
	cr_assert_not(check(db, "mallory", "secret"));
	cr_assert_not(check(db, "", ""));
	cr_assert_not(passwd_db_check(db, "empty", 5, NULL, 0), "no password is not the empty password");
	cr_assert_not(passwd_db_check(db, "alice", 5, (const unsigned char *)"secret\0x", 8),
		      "every byte counts, NUL included");
	cr_assert_not(check(db, "dave", "legacyx"));
	/* user_len bounds the name: "alicex" cut to 5 is alice */
	cr_assert(passwd_db_check(db, "alicex", 5, (const unsigned char *)"secret", 6));
	passwd_db_free(db);
}

Test(passwd, python_vectors_check)
{
	struct passwd_db *db = parse_ok(PY6_LINE "\n" PY7_LINE "\n");
	cr_assert(check(db, "user6", "correct horse"));
	cr_assert_not(check(db, "user6", "correct horse "));
	cr_assert(check(db, "user7", "battery staple"), "PBKDF2 with 1000 iterations");
	cr_assert_not(check(db, "user7", "battery"));
	passwd_db_free(db);
}

Test(passwd, lines_we_write_match_python_and_read_back)
{
	unsigned char salt[12];
	for (int i = 0; i < 12; i++)
		salt[i] = (unsigned char)i;
	char line[512];
	cr_assert_eq(passwd_hash_line_salted("user7", (const unsigned char *)"battery staple", 14, 1000, salt,
					     12, line, sizeof(line)),
		     FM_OK);
	cr_assert_str_eq(line, PY7_LINE, "the line we write is the one Python computes");
	char a[512], b[512], text[1100];
	cr_assert_eq(passwd_hash_line("zed", (const unsigned char *)"pw", 2, 0, a, sizeof(a)), FM_OK);
	cr_assert_eq(passwd_hash_line("zoe", (const unsigned char *)"pw", 2, 0, b, sizeof(b)), FM_OK);
	cr_assert(strncmp(a, "zed:$7$101$", 11) == 0, "%s", a);
	cr_assert_neq(strcmp(a + 4, b + 4), 0, "each line gets its own salt");
	cr_assert(passwd_field_is_hash(a + 4));
	snprintf(text, sizeof(text), "%s\n%s\n", a, b);
	struct passwd_db *db = parse_ok(text);
	cr_assert(check(db, "zed", "pw"));
	cr_assert(check(db, "zoe", "pw"));
	passwd_db_free(db);
}

Test(passwd, writing_refuses_bad_usernames_and_small_buffers)
{
	char out[512];
	const unsigned char *pw = (const unsigned char *)"x";
	cr_assert_eq(passwd_hash_line("", pw, 1, 0, out, sizeof(out)), FM_EINVAL);
	cr_assert_eq(passwd_hash_line("a:b", pw, 1, 0, out, sizeof(out)), FM_EINVAL);
	cr_assert_eq(passwd_hash_line(" a", pw, 1, 0, out, sizeof(out)), FM_EINVAL);
	cr_assert_eq(passwd_hash_line("a\n", pw, 1, 0, out, sizeof(out)), FM_EINVAL);
	cr_assert_eq(passwd_hash_line("a", pw, 1, PASSWD_MAX_ITERATIONS + 1, out, sizeof(out)), FM_EINVAL);
	cr_assert_eq(passwd_hash_line("a", pw, 1, 0, out, 40), FM_ETOOBIG);
	cr_assert_eq(passwd_hash_line("\xc3(", pw, 1, 0, out, sizeof(out)), FM_EINVAL, "not UTF-8");
	cr_assert(passwd_user_valid("d\xc3\xa9vice 7"));
}

Test(passwd, field_shape_recognises_hashes_only)
{
	cr_assert(passwd_field_is_hash("$6$9NgbDfvQnV9B+yrZ$A2s/7cWyQ3TcbDjRAfjPMXswzrhwiZ/k2ghvGVEoXMd6/+4cFCZ"
				       "STmMOkyMlrevFS2rgfKJDsWnH0PXQN6vIYA=="));
	cr_assert_not(passwd_field_is_hash("secret"));
	cr_assert_not(passwd_field_is_hash("$7$101$short$short"));
	cr_assert_not(passwd_field_is_hash("$5$abc$def"));
}

/* --- file shape --------------------------------------------------------------- */

Test(passwd, blanks_comments_and_spaces_around_fields_are_ignored)
{
	struct passwd_db *db = parse_ok(
		"\n   \n# comment\n  # indented comment\n"
		"  alice : $7$101$KeBB4/+XwRbHOjiI$jDm4k0BlMfRK3ViBfVaXkXAUuaSZ0X7mP2+2PYhVy0O8fnk/upIK00KV4Y3xxB+"
		"Etnjr/SubOQtHRnJoiD6IhQ==  \t\n");
	cr_assert(passwd_db_has_user(db, "alice", 5));
	cr_assert(check(db, "alice", "secret"));
	passwd_db_free(db);
	db = parse_ok("");
	cr_assert_eq(passwd_db_count(db), 0);
	cr_assert_not(check(db, "anyone", "x"), "an empty file knows nobody");
	passwd_db_free(db);
}

Test(passwd, bad_lines_name_file_line_and_problem)
{
	const char *ok = "alice:$7$101$KeBB4/+XwRbHOjiI$jDm4k0BlMfRK3ViBfVaXkXAUuaSZ0X7mP2+2PYhVy0O8fnk/upIK00KV4Y3"
			 "xxB+Etnjr/SubOQtHRnJoiD6IhQ==\n";
	char text[1024];
	snprintf(text, sizeof(text), "# c\n%sjust-a-name\n", ok);
	parse_fails(text, "pw.txt:3: not 'username:password-hash' (no ':')");
	parse_fails(":$7$101$x$y\n", "pw.txt:1: empty username");
	parse_fails("bob:\n", "pw.txt:1: user 'bob' has no password hash");
	parse_fails("bob:hunter2\n", "pw.txt:1: user 'bob' has a plain-text password; hash the file first with "
				     "'fleetmq_passwd -U FILE'");
	parse_fails("bob:$5$abc$def\n", "pw.txt:1: user 'bob' has an unknown hash type '$5$'");
	parse_fails("bob:$7$101$abc\n", "pw.txt:1: the hash of user 'bob' is not $7$iterations$salt$hash");
	parse_fails("bob:$6$a$b$c\n", "pw.txt:1: the hash of user 'bob' is not $6$salt$hash");
	parse_fails("bob:$7$0$KeBB4/+XwRbHOjiI$jDm4\n", "pw.txt:1: the iteration count of user 'bob' is not 1 to");
	parse_fails("bob:$7$x1$KeBB4/+XwRbHOjiI$jDm4\n", "the iteration count of user 'bob'");
	parse_fails("bob:$7$99999999999$KeBB4/+XwRbHOjiI$jDm4\n", "the iteration count of user 'bob'");
	parse_fails("bob:$7$101$KeBB4/+X wRbHOjiI$jDm4\n", "pw.txt:1: the salt of user 'bob' is not base64");
	parse_fails("bob:$7$101$KeBB4/+XwRbH$jDm4\n", "pw.txt:1: the salt of user 'bob' is 9 bytes, not 12 (or 64)");
	parse_fails("bob:$7$101$KeBB4/+XwRbHOjiI$jDm4k0Bl*\n", "pw.txt:1: the hash of user 'bob' is not base64");
	parse_fails("bob:$7$101$KeBB4/+XwRbHOjiI$jDm4k0Bl\n", "pw.txt:1: the hash of user 'bob' is 6 bytes, not 64");
	parse_fails("bob:$6$KeBB4/+XwRbHOjiI$jDm4k0BlMfRK3ViBfVaXkXAUuaSZ0X7mP2+2PYhVy0O8fnk/upIK00KV4Y3xxB+"
		    "Etnjr/SubOQtHRnJoiD6IhQ\n",
		    "the hash of user 'bob' is not base64"); /* padding is required */
	snprintf(text, sizeof(text), "%s\n#\n%s", ok, ok);
	parse_fails(text, "pw.txt:4: user 'alice' appears twice (first on line 1)");
}

Test(passwd, load_reads_a_file_and_names_it_in_errors)
{
	char path[] = "/tmp/fleetmq-passwd-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs(mosquitto_file, f);
	fputs("broken\n", f);
	fclose(f);
	struct passwd_db *db = NULL;
	cr_assert_eq(passwd_db_load(path, &db, &eb), FM_ECONFIG);
	char expect[128];
	snprintf(expect, sizeof(expect), "%s:9: not 'username:password-hash'", path);
	cr_assert(strstr(eb.msg, expect), "%s", eb.msg);
	f = fopen(path, "w");
	fputs(mosquitto_file, f);
	fclose(f);
	cr_assert_eq(passwd_db_load(path, &db, &eb), FM_OK, "%s", eb.msg);
	cr_assert(check(db, "bob", "hunter2"));
	passwd_db_free(db);
	f = fopen(path, "w");
	fputs("a:b\0c", f);
	fwrite("a\0b\n", 1, 4, f);
	fclose(f);
	cr_assert_eq(passwd_db_load(path, &db, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "NUL byte"), "%s", eb.msg);
	unlink(path);
	cr_assert_eq(passwd_db_load(path, &db, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "cannot read password_file"), "%s", eb.msg);
}

/* --- scale and timing -------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 100,000 users: lines share one hash (hashing each would take seconds),
 * which the parser does not mind; lookups stay O(1). */
Test(passwd, hundred_thousand_users_load_and_look_up_fast)
{
	const char *hash = "$7$101$KeBB4/+XwRbHOjiI$jDm4k0BlMfRK3ViBfVaXkXAUuaSZ0X7mP2+2PYhVy0O8fnk/upIK00KV4Y3xxB+"
			   "Etnjr/SubOQtHRnJoiD6IhQ==";
	size_t cap = 100000 * 140, len = 0;
	char *text = malloc(cap);
	for (int i = 0; i < 100000; i++)
		len += (size_t)snprintf(text + len, cap - len, "device-%06d:%s\n", i, hash);
	double t0 = now_s();
	struct passwd_db *db = parse_ok(text);
	double t1 = now_s();
	cr_assert_eq(passwd_db_count(db), 100000);
	char name[32];
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(name, sizeof(name), "device-%06d", i);
		cr_assert(passwd_db_has_user(db, name, (size_t)n));
	}
	cr_assert_not(passwd_db_has_user(db, "device-100000", 13));
	double t2 = now_s();
	cr_assert(check(db, "device-099999", "secret"));
	cr_assert(t1 - t0 < 2.0, "parse took %.3f s", t1 - t0);
	cr_assert(t2 - t1 < 1.0, "100,000 lookups took %.3f s", t2 - t1);
	passwd_db_free(db);
	free(text);
}

/* The dummy hash makes an unknown user cost what a wrong password costs.
 * Timing tests are noisy, so the bound is loose: within a factor of 3 in
 * either direction over 200 checks each. */
Test(passwd, unknown_user_costs_about_a_wrong_password)
{
	struct passwd_db *db = parse_ok(mosquitto_file);
	double t0 = now_s();
	for (int i = 0; i < 200; i++)
		check(db, "alice", "wrong");
	double t1 = now_s();
	for (int i = 0; i < 200; i++)
		check(db, "nobody-at-all", "wrong");
	double t2 = now_s();
	double known = t1 - t0, unknown = t2 - t1;
	cr_assert(unknown > known / 3 && unknown < known * 3, "known %.4f s, unknown %.4f s", known, unknown);
	passwd_db_free(db);
}
