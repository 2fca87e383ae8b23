/* Password file lines in memory, and the atomic write back. */
#include "pwfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pwfile_append(struct pwfile *f, const char *line)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 32;
		char **grown = realloc(f->lines, cap * sizeof(*grown));
		if (!grown)
			return -1;
		f->lines = grown;
		f->cap = cap;
	}
	char *copy = strdup(line);
	if (!copy)
		return -1;
	f->lines[f->n++] = copy;
	return 0;
}

int pwfile_set(struct pwfile *f, size_t i, const char *line)
{
	char *copy = strdup(line);
	if (!copy)
		return -1;
	free(f->lines[i]);
	f->lines[i] = copy;
	return 0;
}

void pwfile_remove(struct pwfile *f, size_t i)
{
	free(f->lines[i]);
	memmove(&f->lines[i], &f->lines[i + 1], (f->n - i - 1) * sizeof(*f->lines));
	f->n--;
}

void pwfile_free(struct pwfile *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->lines[i]);
	free(f->lines);
	*f = (struct pwfile){ 0 };
}

int pwfile_read(struct pwfile *f, const char *path, bool missing_ok)
{
	*f = (struct pwfile){ 0 };
	FILE *in = fopen(path, "r");
	if (!in) {
		if (errno == ENOENT && missing_ok)
			return 0;
		fprintf(stderr, "fleetmq_passwd: cannot read '%s': %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;
	while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((size_t)len != strlen(line)) {
			fprintf(stderr, "fleetmq_passwd: '%s' is not a text file (it holds a NUL byte)\n", path);
			rc = -1;
		} else if (pwfile_append(f, line) != 0) {
			fprintf(stderr, "fleetmq_passwd: out of memory\n");
			rc = -1;
		}
	}
	if (rc == 0 && ferror(in)) {
		fprintf(stderr, "fleetmq_passwd: cannot read '%s'\n", path);
		rc = -1;
	}
	free(line);
	fclose(in);
	if (rc != 0)
		pwfile_free(f);
	return rc;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

bool pwfile_entry(const struct pwfile *f, size_t i, char *user, size_t cap, const char **field)
{
	const char *s = f->lines[i];
	while (blank(*s))
		s++;
	if (*s == '\0' || *s == '#' || *s == '\r')
		return false;
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);
	while (len && (blank(s[len - 1]) || s[len - 1] == '\r'))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(user, s, len);
	user[len] = '\0';
	*field = colon ? colon + 1 : NULL;
	return true;
}

/* --- atomic write ----------------------------------------------------------- */

static int write_all(int fd, const struct pwfile *f)
{
	for (size_t i = 0; i < f->n; i++) {
		size_t len = strlen(f->lines[i]);
		if (write(fd, f->lines[i], len) != (ssize_t)len || write(fd, "\n", 1) != 1)
			return -1;
	}
	return fsync(fd);
}

/* The directory's entry for the rename must reach the disk too. */
static void sync_dir(const char *path)
{
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int pwfile_write(const struct pwfile *f, const char *path)
{
	char target[PATH_MAX];
	/* write through a symlink to the file it names */
	if (!realpath(path, target))
		snprintf(target, sizeof(target), "%s", path);
	char tmp[PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", target);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "fleetmq_passwd: cannot create a file next to '%s': %s\n", target, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(target, &st) == 0) {
		(void)!fchown(fd, st.st_uid, st.st_gid); /* as root, keep the broker's ownership */
		fchmod(fd, st.st_mode & 07777);
	} else {
		fchmod(fd, 0600);
	}
	int rc = write_all(fd, f);
	int saved = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc == 0 && rename(tmp, target) != 0) {
		rc = -1;
		saved = errno;
	}
	if (rc != 0) {
		fprintf(stderr, "fleetmq_passwd: cannot write '%s': %s\n", target, strerror(saved));
		unlink(tmp);
		return -1;
	}
	sync_dir(target);
	return 0;
}
