/* Password file: parsing into a table indexed by username, and checking.
 *
 * Sections: the table (entries, arena, index) -- parsing one line --
 * parsing a file -- checking. Entries keep their variable-length parts
 * (username, salt) in one arena addressed by offset, so 100,000 users
 * cost about 100 bytes each plus their names. */
#include "auth/passwd.h"
#include "auth/auth_text.h"
#include "auth/pw_digest.h"

#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_USER_LEN 65535u  /* MQTT strings are at most 65535 bytes */
#define MAX_SALT_LEN 64u

struct pw_entry {
	uint32_t user_off;     /* username in the arena (not NUL-terminated) */
	uint32_t salt_off;     /* salt bytes in the arena */
	uint16_t user_len;
	uint8_t salt_len;
	uint8_t type;          /* enum pw_type */
	uint32_t iterations;   /* $7$ only */
	uint32_t line;         /* where it was defined, for duplicate messages */
	unsigned char hash[PASSWD_HASH_LEN];
};

struct passwd_db {
	struct pw_entry *v;      /* entries in file order */
	uint32_t n, cap;
	char *arena;             /* usernames and salts */
	size_t arena_len, arena_cap;
	struct name_index index; /* username -> entry */
	struct pw_entry dummy;   /* what an unknown user is hashed against */
	unsigned char dummy_salt[MAX_SALT_LEN];
};

/* --- the table -------------------------------------------------------------- */

static int arena_put(struct passwd_db *db, const void *p, size_t len, uint32_t *off)
{
	if (db->arena_len + len > UINT32_MAX)
		return FM_ENOMEM;
	if (db->arena_len + len > db->arena_cap) {
		size_t want = db->arena_cap ? db->arena_cap * 2 : 4096;
		while (want < db->arena_len + len)
			want *= 2;
		char *grown = realloc(db->arena, want);
		if (!grown)
			return FM_ENOMEM;
		db->arena = grown;
		db->arena_cap = want;
	}
	memcpy(db->arena + db->arena_len, p, len);
	*off = (uint32_t)db->arena_len;
	db->arena_len += len;
	return FM_OK;
}

static bool entry_is(const void *owner, uint32_t pos, const char *name, size_t len)
{
	const struct passwd_db *db = owner;
	const struct pw_entry *e = &db->v[pos];
	return e->user_len == len && memcmp(db->arena + e->user_off, name, len) == 0;
}

static const struct pw_entry *find(const struct passwd_db *db, const char *user, size_t len)
{
	uint32_t pos = name_index_find(&db->index, user, len, entry_is, db);
	return pos == UINT32_MAX ? NULL : &db->v[pos];
}

/* Append e (user and salt still outside the arena) and index it. */
static int add_entry(struct passwd_db *db, struct pw_entry *e, const char *user, const unsigned char *salt)
{
	if (db->n == db->cap) {
		uint32_t cap = db->cap ? db->cap * 2 : 64;
		struct pw_entry *grown = realloc(db->v, cap * sizeof(*grown));
		if (!grown)
			return FM_ENOMEM;
		db->v = grown;
		db->cap = cap;
	}
	int rc = arena_put(db, user, e->user_len, &e->user_off);
	if (rc == FM_OK)
		rc = arena_put(db, salt, e->salt_len, &e->salt_off);
	if (rc == FM_OK)
		rc = name_index_add(&db->index, user, e->user_len, db->n);
	if (rc == FM_OK)
		db->v[db->n++] = *e;
	return rc;
}

/* --- parsing one line ------------------------------------------------------- */

/* What one line says, before it joins the table. */
struct pw_line {
	struct pw_entry e;
	unsigned char salt[MAX_SALT_LEN];
};

/* Split "$6$A$B" or "$7$I$A$B" at '$' into at most max fields after the
 * type; returns how many, or max + 1 when there are more. */
static unsigned split_dollar(char *s, char **fields, unsigned max)
{
	unsigned n = 0;
	while (s) {
		if (n == max)
			return max + 1;
		fields[n++] = s;
		s = strchr(s, '$');
		if (s)
			*s++ = '\0';
	}
	return n;
}

static int parse_iterations(const char *s, uint32_t *out)
{
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -1;
	unsigned long v = strtoul(s, NULL, 10);
	if (v < 1 || v > PASSWD_MAX_ITERATIONS)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int decode_salt_and_hash(const char *name, unsigned no, const char *user, const char *salt_b64,
				const char *hash_b64, struct pw_line *out, struct fm_errbuf *eb)
{
	size_t salt_len = pw_base64_decoded_len(salt_b64, strlen(salt_b64));
	if (salt_len == SIZE_MAX)
		return fm_errbuf_set(eb, "%s:%u: the salt of user '%s' is not base64", name, no, user);
	/* mosquitto accepts exactly these two salt lengths */
	if (salt_len != PASSWD_SALT_LEN && salt_len != MAX_SALT_LEN)
		return fm_errbuf_set(eb, "%s:%u: the salt of user '%s' is %zu bytes, not 12 (or 64)", name, no, user,
				salt_len);
	pw_base64_decode(salt_b64, strlen(salt_b64), out->salt, salt_len);
	out->e.salt_len = (uint8_t)salt_len;
	size_t hash_len = pw_base64_decoded_len(hash_b64, strlen(hash_b64));
	if (hash_len == SIZE_MAX)
		return fm_errbuf_set(eb, "%s:%u: the hash of user '%s' is not base64", name, no, user);
	if (hash_len != PASSWD_HASH_LEN)
		return fm_errbuf_set(eb, "%s:%u: the hash of user '%s' is %zu bytes, not 64", name, no, user, hash_len);
	pw_base64_decode(hash_b64, strlen(hash_b64), out->e.hash, PASSWD_HASH_LEN);
	return FM_OK;
}

/* field is the text after "user:", starting with '$'; modified in place. */
static int parse_hash_field(const char *name, unsigned no, const char *user, char *field,
			    struct pw_line *out, struct fm_errbuf *eb)
{
	char *f[5];
	unsigned n = split_dollar(field + 1, f, 4);
	if (strcmp(f[0], "7") == 0) {
		if (n != 4)
			return fm_errbuf_set(eb, "%s:%u: the hash of user '%s' is not $7$iterations$salt$hash", name,
					no, user);
		out->e.type = PW_PBKDF2_SHA512;
		if (parse_iterations(f[1], &out->e.iterations) != 0)
			return fm_errbuf_set(eb, "%s:%u: the iteration count of user '%s' is not 1 to %u", name, no,
					user, PASSWD_MAX_ITERATIONS);
		return decode_salt_and_hash(name, no, user, f[2], f[3], out, eb);
	}
	if (strcmp(f[0], "6") == 0) {
		if (n != 3)
			return fm_errbuf_set(eb, "%s:%u: the hash of user '%s' is not $6$salt$hash", name, no, user);
		out->e.type = PW_SHA512;
		return decode_salt_and_hash(name, no, user, f[1], f[2], out, eb);
	}
	return fm_errbuf_set(eb, "%s:%u: user '%s' has an unknown hash type '$%.8s$' (fleetmq reads $7$, "
			"PBKDF2-SHA512, and $6$, SHA-512)",
			name, no, user, f[0]);
}

static int parse_line(const char *name, unsigned no, char *line, struct pw_line *out,
		      struct fm_errbuf *eb)
{
	char *colon = strchr(line, ':');
	if (!colon)
		return fm_errbuf_set(eb, "%s:%u: not 'username:password-hash' (no ':')", name, no);
	*colon = '\0';
	char *user = auth_trim_end(line);
	char *field = auth_skip_blanks(colon + 1);
	if (user[0] == '\0')
		return fm_errbuf_set(eb, "%s:%u: empty username", name, no);
	size_t user_len = strlen(user);
	if (user_len > MAX_USER_LEN)
		return fm_errbuf_set(eb, "%s:%u: username longer than 65535 bytes", name, no);
	if (field[0] == '\0')
		return fm_errbuf_set(eb, "%s:%u: user '%s' has no password hash", name, no, user);
	if (field[0] != '$')
		return fm_errbuf_set(eb, "%s:%u: user '%s' has a plain-text password; hash the file first with "
				"'fleetmq_passwd -U FILE' (or mosquitto_passwd -U)",
				name, no, user);
	*out = (struct pw_line){ .e = { .user_len = (uint16_t)user_len, .line = no } };
	return parse_hash_field(name, no, user, field, out, eb);
}

/* --- parsing a file ----------------------------------------------------------- */

static int add_line(struct passwd_db *db, const char *name, unsigned no, char *line,
		    struct fm_errbuf *eb)
{
	struct pw_line pl;
	int rc = parse_line(name, no, line, &pl, eb);
	if (rc != FM_OK)
		return rc;
	/* parse_line cut the line at the colon: line is the trimmed username */
	const struct pw_entry *dup = find(db, line, pl.e.user_len);
	if (dup)
		rc = fm_errbuf_set(eb, "%s:%u: user '%s' appears twice (first on line %u)", name, no, line, dup->line);
	else if (add_entry(db, &pl.e, line, pl.salt) != FM_OK)
		rc = fm_errbuf_set(eb, "out of memory reading %s", name);
	mbedtls_platform_zeroize(&pl, sizeof(pl));
	return rc;
}

/* Unknown users are hashed against an entry shaped like the file's first
 * one (type, iterations, salt length), so that their cost matches a
 * typical wrong password; with no entries, mosquitto's defaults. */
static void set_dummy(struct passwd_db *db)
{
	struct pw_entry *d = &db->dummy;
	if (db->n > 0) {
		*d = db->v[0];
	} else {
		*d = (struct pw_entry){ .type = PW_PBKDF2_SHA512, .iterations = PASSWD_DEFAULT_ITERATIONS,
					.salt_len = PASSWD_SALT_LEN };
	}
	memset(d->hash, 0, sizeof(d->hash));
	memset(db->dummy_salt, 0x5a, sizeof(db->dummy_salt));
}

int passwd_db_parse(const char *name, const char *text, struct passwd_db **out, struct fm_errbuf *eb)
{
	struct passwd_db *db = calloc(1, sizeof(*db));
	char *copy = strdup(text);
	if (!db || !copy) {
		free(db);
		free(copy);
		return fm_errbuf_set(eb, "out of memory reading %s", name);
	}
	size_t copy_len = strlen(copy);
	int rc = FM_OK;
	struct auth_lines it;
	auth_lines_init(&it, copy);
	for (char *line; rc == FM_OK && (line = auth_lines_next(&it)) != NULL;)
		rc = add_line(db, name, it.no, line, eb);
	mbedtls_platform_zeroize(copy, copy_len);
	free(copy);
	if (rc != FM_OK) {
		passwd_db_free(db);
		return FM_ECONFIG;
	}
	set_dummy(db);
	*out = db;
	return FM_OK;
}

int passwd_db_load(const char *path, struct passwd_db **out, struct fm_errbuf *eb)
{
	char *text;
	size_t len;
	int rc = auth_read_file(path, "password_file", &text, &len, eb);
	if (rc != FM_OK)
		return rc;
	rc = passwd_db_parse(path, text, out, eb);
	mbedtls_platform_zeroize(text, len);
	free(text);
	return rc;
}

void passwd_db_free(struct passwd_db *db)
{
	if (!db)
		return;
	if (db->v)
		mbedtls_platform_zeroize(db->v, db->cap * sizeof(*db->v));
	free(db->v);
	free(db->arena);
	name_index_fini(&db->index);
	free(db);
}

/* --- checking --------------------------------------------------------------- */

bool passwd_db_check(const struct passwd_db *db, const char *user, size_t user_len,
		     const unsigned char *pw, size_t pw_len)
{
	const struct pw_entry *e = find(db, user, user_len);
	const struct pw_entry *use = e ? e : &db->dummy;
	struct pw_params p = {
		.type = (enum pw_type)use->type,
		.iterations = use->iterations,
		.salt = e ? (const unsigned char *)db->arena + e->salt_off : db->dummy_salt,
		.salt_len = use->salt_len,
	};
	unsigned char got[PASSWD_HASH_LEN];
	int rc = pw_digest(&p, pw, pw ? pw_len : 0, got);
	bool same = rc == 0 && mbedtls_ct_memcmp(got, use->hash, PASSWD_HASH_LEN) == 0;
	mbedtls_platform_zeroize(got, sizeof(got));
	/* the hash ran whatever e and pw were, so the answer's timing says nothing */
	return same && e != NULL && pw != NULL;
}

bool passwd_db_has_user(const struct passwd_db *db, const char *user, size_t user_len)
{
	return find(db, user, user_len) != NULL;
}

size_t passwd_db_count(const struct passwd_db *db)
{
	return db->n;
}
