/* fleetmq_passwd: manage password files; the command line of
 * mosquitto_passwd 2.0, and files either tool writes work with both
 * brokers.
 *
 *   fleetmq_passwd [-c | -D] [-I ITER] passwordfile username
 *   fleetmq_passwd [-c] [-I ITER] -b passwordfile username password
 *   fleetmq_passwd [-I ITER] -U passwordfile
 *
 * Without -b the password is asked for twice: on a terminal with echo
 * off, otherwise as two lines on standard input (for scripts). Lines are
 * written as "user:$7$ITER$SALT$HASH" (PBKDF2-SHA512, 101 iterations
 * unless -I). Every other line of the file, comments included, is kept;
 * the file is replaced atomically. -U hashes each plain "user:password"
 * line, the password with blanks around it dropped as mosquitto_passwd -U
 * does. Two differences from it, both to keep users able to log in: a line
 * that already holds a $6$ or $7$ hash is left alone (mosquitto_passwd
 * hashes the hash), and a password holding ':' is refused (mosquitto_passwd
 * silently keeps only the part before it). */
#include "auth/passwd.h"
#include "pwfile.h"

#include <errno.h>
#include <limits.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define MAX_PASSWORD 65535  /* MQTT binary data is at most 65535 bytes */
#define LINE_CAP (MAX_PASSWORD + 256)

enum mode { MODE_SET, MODE_DELETE, MODE_UPGRADE };

struct opts {
	enum mode mode;
	bool create;         /* -c: start from an empty file */
	bool batch;          /* -b: password on the command line */
	unsigned iterations; /* -I; 0 = default */
	const char *file, *user, *password;
};

static void usage(FILE *to)
{
	fputs("fleetmq_passwd manages password files for fleetmq (and mosquitto).\n\n"
	      "Usage: fleetmq_passwd [-c | -D] [-I iterations] passwordfile username\n"
	      "       fleetmq_passwd [-c] [-I iterations] -b passwordfile username password\n"
	      "       fleetmq_passwd [-I iterations] -U passwordfile\n"
	      " -b : batch mode: the password is given on the command line.\n"
	      " -c : create a new password file, replacing any existing one.\n"
	      " -D : delete the username instead of setting its password.\n"
	      " -H : hash algorithm; only sha512-pbkdf2 (the default) is written.\n"
	      " -I : PBKDF2 iterations (default 101, as mosquitto_passwd).\n"
	      " -U : hash every plain-text user:password line of a file in place.\n",
	      to);
}

static int fail(const char *fmt, const char *arg)
{
	fputs("fleetmq_passwd: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static int parse_iterations(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || v < 1 || v > PASSWD_MAX_ITERATIONS)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_flags(int argc, char **argv, struct opts *o)
{
	int c;
	while ((c = getopt(argc, argv, "bcDUH:I:h")) != -1) {
		switch (c) {
		case 'b': o->batch = true; break;
		case 'c': o->create = true; break;
		case 'D': o->mode = MODE_DELETE; break;
		case 'U': o->mode = MODE_UPGRADE; break;
		case 'H':
			if (strcmp(optarg, "sha512-pbkdf2") != 0)
				return fail("-H %s: only sha512-pbkdf2 is written (fleetmq still reads $6$ "
					    "sha512 lines)", optarg);
			break;
		case 'I':
			if (parse_iterations(optarg, &o->iterations) != 0)
				return fail("-I %s: iterations must be 1 to 10000000", optarg);
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 1;
		}
	}
	return 0;
}

/* Flags, then the positional arguments each mode needs. 0 or 1. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	if (parse_flags(argc, argv, o) != 0)
		return 1;
	int left = argc - optind;
	char **pos = argv + optind;
	bool bad = (o->create && o->mode != MODE_SET) || (o->batch && o->mode != MODE_SET);
	int want = o->mode == MODE_UPGRADE ? 1 : o->batch ? 3 : 2;
	if (bad || left != want) {
		usage(stderr);
		return 1;
	}
	o->file = pos[0];
	o->user = left > 1 ? pos[1] : NULL;
	o->password = left > 2 ? pos[2] : NULL;
	if (o->user && !passwd_user_valid(o->user))
		return fail("invalid username '%s': it must be 1 to 65535 bytes without ':', control "
			    "characters or blanks at either end", o->user);
	return 0;
}

/* --- reading a password ------------------------------------------------------ */

/* One line from stdin (echo off on a terminal) into buf. 0, or -1 at end of
 * input or when the line is too long. */
static int read_secret(const char *prompt, char *buf, size_t cap)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	int rc = fgets(buf, (int)cap, stdin) ? 0 : -1;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (rc != 0)
		return -1;
	size_t len = strlen(buf);
	if (len == cap - 1 && buf[len - 1] != '\n')
		return -1;
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return 0;
}

/* Ask twice; both answers must agree. 0, or 1 after saying why. */
static int ask_password(char *pw, size_t cap)
{
	char *again = malloc(cap);
	if (!again)
		return fail("%s", "out of memory");
	int rc = 0;
	if (read_secret("Password: ", pw, cap) != 0 || read_secret("Reenter password: ", again, cap) != 0)
		rc = fail("%s", "no password read (or longer than 65535 bytes)");
	else if (strcmp(pw, again) != 0)
		rc = fail("%s", "passwords do not match");
	else if (pw[0] == '\0')
		rc = fail("%s", "empty password (use -b to set one on purpose)");
	mbedtls_platform_zeroize(again, cap);
	free(again);
	return rc;
}

/* --- editing ---------------------------------------------------------------- */

static int hash_into(const char *user, const char *pw, unsigned iterations, char *line)
{
	int rc = passwd_hash_line(user, (const unsigned char *)pw, strlen(pw), iterations, line, LINE_CAP);
	if (rc == FM_EIO)
		return fail("%s", "no entropy for a salt");
	if (rc != FM_OK)
		return fail("cannot hash the password of '%s'", user);
	return 0;
}

/* Set user's line to line: the first line of that user is replaced, any
 * later ones (which the broker would refuse) dropped; else appended. */
static int set_user(struct pwfile *f, const char *user, const char *line)
{
	bool done = false;
	char name[LINE_CAP];
	const char *field;
	for (size_t i = 0; i < f->n;) {
		if (!pwfile_entry(f, i, name, sizeof(name), &field) || strcmp(name, user) != 0) {
			i++;
		} else if (done) {
			pwfile_remove(f, i);
		} else {
			if (pwfile_set(f, i, line) != 0)
				return fail("%s", "out of memory");
			done = true;
			i++;
		}
	}
	if (!done && pwfile_append(f, line) != 0)
		return fail("%s", "out of memory");
	return 0;
}

static int delete_user(struct pwfile *f, const char *user)
{
	bool found = false;
	char name[LINE_CAP];
	const char *field;
	for (size_t i = 0; i < f->n;) {
		if (pwfile_entry(f, i, name, sizeof(name), &field) && strcmp(name, user) == 0) {
			pwfile_remove(f, i);
			found = true;
		} else {
			i++;
		}
	}
	return found ? 0 : fail("user '%s' not found", user);
}

/* Hash one plain "user:password" line in place (line i). */
static int upgrade_line(struct pwfile *f, size_t i, const struct opts *o, char *line)
{
	char name[LINE_CAP];
	const char *field;
	if (!pwfile_entry(f, i, name, sizeof(name), &field))
		return 0;
	if (!field) {
		fprintf(stderr, "fleetmq_passwd: %s:%zu: not 'username:password'\n", o->file, i + 1);
		return 1;
	}
	const char *trimmed = field;
	while (*trimmed == ' ' || *trimmed == '\t')
		trimmed++;
	if (passwd_field_is_hash(trimmed))
		return 0;
	if (!passwd_user_valid(name)) {
		fprintf(stderr, "fleetmq_passwd: %s:%zu: invalid username '%s'\n", o->file, i + 1, name);
		return 1;
	}
	if (strchr(trimmed, ':')) {
		fprintf(stderr, "fleetmq_passwd: %s:%zu: the password of '%s' holds ':'; mosquitto would "
				"use only the part before it, so say which you mean\n",
			o->file, i + 1, name);
		return 1;
	}
	char *pw = strdup(trimmed);
	if (!pw)
		return fail("%s", "out of memory");
	size_t len = strlen(pw);
	while (len && (pw[len - 1] == '\r' || pw[len - 1] == ' ' || pw[len - 1] == '\t'))
		pw[--len] = '\0';
	int rc = hash_into(name, pw, o->iterations, line);
	mbedtls_platform_zeroize(pw, len);
	free(pw);
	if (rc == 0 && pwfile_set(f, i, line) != 0)
		rc = fail("%s", "out of memory");
	return rc;
}

static int upgrade_all(struct pwfile *f, const struct opts *o, char *line)
{
	for (size_t i = 0; i < f->n; i++)
		if (upgrade_line(f, i, o, line) != 0)
			return 1;
	return 0;
}

/* --- main ------------------------------------------------------------------ */

static int set_password(struct pwfile *f, const struct opts *o, char *line)
{
	char *pw = malloc(MAX_PASSWORD + 2);
	if (!pw)
		return fail("%s", "out of memory");
	int rc = 0;
	if (o->batch) {
		if (strlen(o->password) > MAX_PASSWORD)
			rc = fail("%s", "password longer than 65535 bytes");
		else
			snprintf(pw, MAX_PASSWORD + 2, "%s", o->password);
	} else {
		rc = ask_password(pw, MAX_PASSWORD + 2);
	}
	if (rc == 0)
		rc = hash_into(o->user, pw, o->iterations, line);
	mbedtls_platform_zeroize(pw, MAX_PASSWORD + 2);
	free(pw);
	return rc == 0 ? set_user(f, o->user, line) : rc;
}

int main(int argc, char **argv)
{
	struct opts o = { .mode = MODE_SET };
	if (parse_args(argc, argv, &o) != 0)
		return 1;
	struct pwfile f = { 0 };
	if (!o.create && pwfile_read(&f, o.file, false) != 0)
		return 1;
	char *line = malloc(LINE_CAP);
	int rc = line ? 0 : fail("%s", "out of memory");
	if (rc == 0) {
		if (o.mode == MODE_DELETE)
			rc = delete_user(&f, o.user);
		else if (o.mode == MODE_UPGRADE)
			rc = upgrade_all(&f, &o, line);
		else
			rc = set_password(&f, &o, line);
	}
	if (rc == 0 && pwfile_write(&f, o.file) != 0)
		rc = 1;
	if (line)
		mbedtls_platform_zeroize(line, LINE_CAP);
	free(line);
	pwfile_free(&f);
	return rc;
}
