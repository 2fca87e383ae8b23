/* Internal to src/auth: what the password-file and ACL-file parsers share.
 * Reading a whole file into memory (a file holding a NUL byte is refused:
 * the parsers work on C strings), walking its lines with their numbers so
 * every error can say "FILE:LINE: ...", and a small open-addressing index
 * from names (usernames) to array positions. */
#ifndef FM_AUTH_AUTH_TEXT_H
#define FM_AUTH_AUTH_TEXT_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read path into a NUL-terminated malloc'ed *text (caller frees; for a
 * password file, zeroize first). what names the file's role in messages
 * ("password_file"). FM_OK, or FM_ECONFIG with eb set. */
int auth_read_file(const char *path, const char *what, char **text, size_t *len,
		   struct fm_errbuf *eb);

/* Splits a writable buffer into lines in place. Each line comes back with
 * trailing blanks and '\r' removed and leading blanks skipped; blank lines
 * and '#' comments are skipped, while the line number keeps counting. */
struct auth_lines {
	char *next;     /* start of the next unread line, NULL at the end */
	unsigned no;    /* number of the line last returned (1-based) */
};
void auth_lines_init(struct auth_lines *it, char *text);
/* The next line with content, or NULL at the end. */
char *auth_lines_next(struct auth_lines *it);

/* Blanks are spaces and tabs; a word ends at one. */
bool auth_is_blank(char c);
/* Remove trailing blanks from s in place; return s. */
char *auth_trim_end(char *s);
/* s advanced past leading blanks. */
char *auth_skip_blanks(char *s);

/* --- name index ---------------------------------------------------------
 * Maps a byte string to a uint32_t position in the owner's array. The
 * owner keeps the names; the index keeps only their hashes, so finding
 * asks the owner (eq) whether a candidate position holds the name. The
 * table is built once from a file and only read afterwards, so concurrent
 * lookups from worker threads need no lock. Load factor stays <= 1/2. */
struct name_slot {
	uint32_t hash;  /* name_hash() of the name */
	uint32_t pos1;  /* position + 1; 0 marks an empty slot */
};
struct name_index {
	struct name_slot *slots;  /* cap entries, cap a power of two (or NULL) */
	uint32_t cap;
	uint32_t count;           /* names added */
};

typedef bool name_eq_fn(const void *owner, uint32_t pos, const char *name, size_t len);

uint32_t name_hash(const char *name, size_t len);
/* The position holding name, or UINT32_MAX. No allocation. */
uint32_t name_index_find(const struct name_index *ix, const char *name, size_t len, name_eq_fn *eq,
			 const void *owner);
/* Record that pos holds name (the caller has checked it is not there yet).
 * FM_OK or FM_ENOMEM (index unchanged). */
int name_index_add(struct name_index *ix, const char *name, size_t len, uint32_t pos);
void name_index_fini(struct name_index *ix);

#endif
