/* Config life cycle and the line reader: defaults, files, includes, the
 * embedded default listener, and what a SIGHUP may change. The options
 * themselves are in conf_options.c. */
#include "config/conf_parse.h"

#include "core/log.h"
#include "fleetmq/errors.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void conf_init(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_connections = -1;
	c->max_inflight_messages = 20;
	c->max_queued_messages = 1000;
	c->max_keepalive = 65535;
	c->retain_available = true;
	c->persistence = true;
	c->persistence_location = strdup("./data");
	c->log_types = LOG_T_DEFAULT;
	c->log_dests = LOG_D_STDERR;
	c->connect_timeout_s = 10;
}

void conf_fini(struct conf *c)
{
	for (size_t i = 0; i < c->n_listeners; i++) {
		free(c->listeners[i].bind_address);
		free(c->listeners[i].file);
	}
	free(c->listeners);
	free(c->persistence_location);
	free(c->log_file);
	free(c->pid_file);
	memset(c, 0, sizeof(*c));
}

int conf_error(struct conf_parse *px, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fm_errbuf_set(px->eb, "%s:%d: %s", px->file, px->line, msg);
}

struct conf_listener *conf_cur_listener(struct conf_parse *px)
{
	return px->cur >= 0 ? &px->c->listeners[px->cur] : NULL;
}

int conf_add_listener(struct conf_parse *px, uint16_t port, const char *bind)
{
	struct conf *c = px->c;
	struct conf_listener *v = realloc(c->listeners, (c->n_listeners + 1) * sizeof(*v));
	if (!v)
		return fm_errbuf_set(px->eb, "out of memory");
	c->listeners = v;
	struct conf_listener *l = &v[c->n_listeners++];
	*l = (struct conf_listener){
		.port = port,
		.bind_address = bind ? strdup(bind) : NULL,
		.protocol = CONF_PROTO_MQTT,
		.max_connections = -1,
		.allow_anonymous = -1,
		.file = strdup(px->file),
		.line = px->line,
	};
	px->cur = (int)(c->n_listeners - 1);
	return FM_OK;
}

/* Split line into whitespace-separated words in place. Returns the count,
 * or -1 if there are more than CONF_MAX_ARGS. */
static int split_words(char *line, char **args)
{
	int n = 0;
	for (char *p = line;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p)
			return n;
		if (n == CONF_MAX_ARGS)
			return -1;
		args[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
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
	if (n < 0)
		return conf_error(px, "too many values on one line");
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

static int read_file(struct conf_parse *px, const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fm_errbuf_set(px->eb, "cannot open config file '%s': %s", path, strerror(errno));
	size_t len = 0, cap = 4096;
	char *text = malloc(cap);
	size_t got;
	while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (cap - len - 1 == 0) {
			char *bigger = realloc(text, cap * 2);
			if (!bigger) {
				free(text);
				text = NULL;
			}
			text = bigger;
			cap *= 2;
		}
	}
	bool failed = ferror(f);
	fclose(f);
	if (!text)
		return fm_errbuf_set(px->eb, "out of memory reading '%s'", path);
	if (failed) {
		free(text);
		return fm_errbuf_set(px->eb, "cannot read config file '%s'", path);
	}
	text[len] = '\0';
	if (memchr(text, '\0', len)) {
		free(text);
		return fm_errbuf_set(px->eb, "%s: not a text file (contains NUL bytes)", path);
	}
	*out = text;
	return FM_OK;
}

static int parse_file(struct conf_parse *px, const char *path)
{
	char *text;
	int rc = read_file(px, path, &text);
	if (rc != FM_OK)
		return rc;
	rc = conf_parse_text(px, path, text);
	free(text);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_conf_name(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* Names of the *.conf files in dir, sorted; *n set. NULL on error. */
static char **list_conf_files(DIR *d, size_t *n)
{
	char **names = NULL;
	size_t cap = 0;
	*n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (!is_conf_name(e->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v)
				break;
			names = v;
		}
		names[(*n)++] = strdup(e->d_name);
	}
	if (*n)
		qsort(names, *n, sizeof(*names), cmp_names);
	return names;
}

int conf_include_dir(struct conf_parse *px, const char *dir)
{
	if (px->depth >= CONF_MAX_INCLUDE_DEPTH)
		return conf_error(px, "include_dir nested too deeply");
	DIR *d = opendir(dir);
	if (!d)
		return conf_error(px, "include_dir '%s': %s", dir, strerror(errno));
	size_t n;
	char **names = list_conf_files(d, &n);
	closedir(d);
	int rc = FM_OK;
	px->depth++;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (rc == FM_OK)
			rc = parse_file(px, path);
		free(names[i]);
	}
	px->depth--;
	free(names);
	return rc;
}

static void parse_begin(struct conf_parse *px, struct conf *c, struct fm_errbuf *eb)
{
	*px = (struct conf_parse){.c = c, .eb = eb, .file = "?", .cur = -1, .port_listener = -1};
	/* listeners loaded earlier (e.g. -p after a file) stay as they are */
}

int conf_load_file(struct conf *c, const char *path, struct fm_errbuf *eb)
{
	struct conf_parse px;
	parse_begin(&px, c, eb);
	return parse_file(&px, path);
}

int conf_load_string(struct conf *c, const char *name, const char *text, struct fm_errbuf *eb)
{
	struct conf_parse px;
	parse_begin(&px, c, eb);
	char *copy = strdup(text);
	if (!copy)
		return fm_errbuf_set(eb, "out of memory");
	int rc = conf_parse_text(&px, name, copy);
	free(copy);
	return rc;
}

int conf_finish(struct conf *c, struct fm_errbuf *eb)
{
	if (c->n_listeners > 0)
		return FM_OK;
	/* The embedded default: loopback only, so anonymous access is safe
	 * unless the file said otherwise (mosquitto 2.0 does the same). */
	struct conf_parse px;
	parse_begin(&px, c, eb);
	px.file = "(embedded default)";
	int rc = conf_add_listener(&px, 1883, "127.0.0.1");
	if (rc == FM_OK && !c->allow_anonymous_set)
		c->listeners[0].allow_anonymous = 1;
	return rc;
}

bool conf_listener_allow_anonymous(const struct conf *c, const struct conf_listener *l)
{
	if (l && l->allow_anonymous >= 0)
		return l->allow_anonymous;
	return c->allow_anonymous;
}

static const struct conf_listener *find_listener(const struct conf *c, const struct conf_listener *like)
{
	for (size_t i = 0; i < c->n_listeners; i++) {
		const struct conf_listener *l = &c->listeners[i];
		const char *a = l->bind_address ? l->bind_address : "";
		const char *b = like->bind_address ? like->bind_address : "";
		if (l->port == like->port && strcmp(a, b) == 0)
			return l;
	}
	return NULL;
}

void conf_apply_reloadable(struct conf *live, const struct conf *fresh)
{
	live->allow_anonymous = fresh->allow_anonymous;
	live->allow_anonymous_set = fresh->allow_anonymous_set;
	live->max_connections = fresh->max_connections;
	live->max_inflight_messages = fresh->max_inflight_messages;
	live->max_queued_messages = fresh->max_queued_messages;
	live->max_queued_bytes = fresh->max_queued_bytes;
	live->message_size_limit = fresh->message_size_limit;
	live->max_keepalive = fresh->max_keepalive;
	live->retain_available = fresh->retain_available;
	live->log_types = fresh->log_types;
	live->connect_timeout_s = fresh->connect_timeout_s;
	/* listeners stay open; their access settings follow the new file */
	for (size_t i = 0; i < live->n_listeners; i++) {
		struct conf_listener *l = &live->listeners[i];
		const struct conf_listener *f = find_listener(fresh, l);
		if (f) {
			l->allow_anonymous = f->allow_anonymous;
			l->max_connections = f->max_connections;
		}
	}
}
