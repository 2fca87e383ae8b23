/* Reading config text: files, include_dir, and splitting lines into words.
 *
 * The syntax is mosquitto.conf's: one option per line, words separated by
 * spaces or tabs, a line whose first non-blank character is '#' is a
 * comment, blank lines are skipped, and a trailing '\r' (CRLF files) is
 * whitespace. There is no quoting and no comment after a value: as in
 * mosquitto, "listener 1883 # main" is a listener line with three values.
 * (mosquitto's address and topic lines are the exceptions: they end at a
 * word starting with '#', and topic reads the word "" as an empty string;
 * conf_bridge.c does both.) What each option means is conf_options.c's
 * business; nothing here knows an option name. */
#include "config/conf_parse.h"
#include "core/readfile.h"

#include "fleetmq/errors.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_MAX_PATH 4096

/* --- lines ----------------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Split line into whitespace-separated words in place. Stores at most
 * CONF_MAX_ARGS words in args and returns how many words the line has
 * (which may be more). */
static int split_words(char *line, char **args)
{
	int n = 0;
	for (char *p = line;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			return n;
		if (n < CONF_MAX_ARGS)
			args[n] = p;
		n++;
		while (*p && !is_blank(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
}

static int parse_line(struct conf_parse *px, char *line)
{
	line += strspn(line, " \t\r");
	if (*line == '\0' || *line == '#')
		return FM_OK; /* blank or comment (any length) */
	char *args[CONF_MAX_ARGS];
	int n = split_words(line, args);
	if (n > CONF_MAX_ARGS)
		return conf_error(px, "option '%s': too many values", args[0]);
	return conf_apply_option(px, args, n);
}

int conf_parse_text(struct conf_parse *px, const char *name, char *text)
{
	const char *saved_file = px->file;
	int saved_line = px->line;
	px->file = name;
	px->line = 0;
	int rc = FM_OK;
	for (char *line = text; line && rc == FM_OK;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		px->line++;
		rc = parse_line(px, line);
		line = nl ? nl + 1 : NULL;
	}
	px->file = saved_file;
	px->line = saved_line;
	return rc;
}

/* A config file is text an operator wrote: far below this. */
#define CONF_FILE_MAX (16u * 1024u * 1024u)

/* --- files ----------------------------------------------------------------- */

/* Read all of path into a NUL-terminated string the caller frees. Errors
 * name the file; they carry no line because no line has been read. */
static int read_file(struct conf_parse *px, const char *path, char **out)
{
	size_t len;
	int err_no = 0;
	int rc = fm_read_file(path, CONF_FILE_MAX, out, &len, &err_no);
	switch (rc) {
	case FM_OK: return FM_OK;
	case FM_ENOTFOUND: return fm_errbuf_set(px->eb, "cannot open config file '%s': %s", path, strerror(err_no));
	case FM_EIO: return fm_errbuf_set(px->eb, "cannot read config file '%s': %s", path, strerror(err_no));
	case FM_EPROTO: return fm_errbuf_set(px->eb, "%s: not a text file (contains NUL bytes)", path);
	case FM_ETOOBIG: return fm_errbuf_set(px->eb, "config file '%s' is larger than 16 MiB", path);
	default: return fm_errbuf_set(px->eb, "out of memory reading '%s'", path);
	}
}

int conf_parse_file(struct conf_parse *px, const char *path)
{
	char *text;
	int rc = read_file(px, path, &text);
	if (rc != FM_OK)
		return rc;
	rc = conf_parse_text(px, path, text);
	free(text);
	return rc;
}

/* --- include_dir ----------------------------------------------------------- */

struct name_list {
	char **v;
	size_t n, cap;
};

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct name_list){0};
}

static int names_add(struct name_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return FM_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return FM_ENOMEM;
	l->v[l->n++] = copy;
	return FM_OK;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "x.conf" but not ".conf" (a hidden file with nothing before the suffix). */
static bool is_conf_name(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* The *.conf names in dir, sorted bytewise (the C locale's alphabetical
 * order, so the result never depends on the environment). */
static int list_conf_files(struct conf_parse *px, const char *dir, struct name_list *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return conf_error(px, "option 'include_dir': cannot open '%s': %s", dir, strerror(errno));
	int rc = FM_OK;
	errno = 0;
	for (struct dirent *e; rc == FM_OK && (e = readdir(d)) != NULL; errno = 0) {
		if (is_conf_name(e->d_name) && names_add(out, e->d_name) != FM_OK)
			rc = conf_error(px, "option 'include_dir': out of memory reading '%s'", dir);
	}
	if (rc == FM_OK && errno != 0)
		rc = conf_error(px, "option 'include_dir': cannot read '%s': %s", dir, strerror(errno));
	closedir(d);
	if (rc == FM_OK && out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_names);
	return rc;
}

int conf_include_dir(struct conf_parse *px, const char *dir)
{
	if (px->depth >= CONF_MAX_INCLUDE_DEPTH)
		return conf_error(px, "option 'include_dir': nested more than %d deep", CONF_MAX_INCLUDE_DEPTH);
	struct name_list names = {0};
	int rc = list_conf_files(px, dir, &names);
	px->depth++;
	for (size_t i = 0; rc == FM_OK && i < names.n; i++) {
		char path[CONF_MAX_PATH];
		int len = snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
		if (len < 0 || (size_t)len >= sizeof(path))
			rc = conf_error(px, "option 'include_dir': path too long in '%s'", dir);
		else
			rc = conf_parse_file(px, path);
	}
	px->depth--;
	names_free(&names);
	return rc;
}
