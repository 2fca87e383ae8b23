/* fleetmq_passwd's view of a password file: its lines as text, kept in
 * order so that comments and other users survive an edit, and written back
 * atomically. */
#ifndef FM_TOOLS_PWFILE_H
#define FM_TOOLS_PWFILE_H

#include <stdbool.h>
#include <stddef.h>

struct pwfile {
	char **lines;      /* each without its line ending */
	size_t n, cap;
};

/* Read path into f (f zeroed first). A missing file is an error unless
 * missing_ok. 0, or -1 after printing why. */
int pwfile_read(struct pwfile *f, const char *path, bool missing_ok);
/* Replace path with f's lines: a temporary file in the same directory
 * with the old file's mode and owner (0600 for a new file), fsync'ed, then
 * renamed over it, so a reader sees the old file or the new, never half.
 * A symbolic link is followed, not replaced. 0, or -1 after printing why. */
int pwfile_write(const struct pwfile *f, const char *path);
void pwfile_free(struct pwfile *f);

/* Append a copy of line. 0 or -1 (out of memory). */
int pwfile_append(struct pwfile *f, const char *line);
/* Replace line i by a copy of line. 0 or -1. */
int pwfile_set(struct pwfile *f, size_t i, const char *line);
void pwfile_remove(struct pwfile *f, size_t i);

/* Is line i a "user:..." line (not blank, not a comment)? If so, its
 * username as the broker reads it (blanks around it dropped) is copied into
 * user (truncated to cap) and *field points at what follows the ':'. */
bool pwfile_entry(const struct pwfile *f, size_t i, char *user, size_t cap, const char **field);

#endif
