/* Config life cycle: defaults, the load entry points, the embedded default
 * listener, the effective allow_anonymous of a listener, and what a SIGHUP
 * may change. Reading files and splitting lines is conf_lex.c; the options
 * themselves are conf_options.c (with conf_tls.c and conf_bridge.c).
 *
 * Invariant: every message put in an fm_errbuf while parsing starts with
 * "FILE:LINE: " (conf_error), except failures to open or read a whole file,
 * which name the file only. */
#include "config/conf_parse.h"

#include "core/log.h"
#include "fleetmq/errors.h"

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
	c->max_queued_in_memory = 1000;
	c->max_keepalive = 65535;
	c->max_topic_alias = 10;
	c->retain_available = true;
	c->persistence = true;
	c->persistence_location = strdup("./data");
	c->durability = CONF_DURABILITY_FULL;
	c->durability_interval_ms = 100;
	c->log_types = LOG_T_DEFAULT;
	c->log_dests = LOG_D_STDERR;
	c->connect_timeout_s = 10;
	c->sys_interval_s = 10;
	c->max_output_buffer = CONF_OUTPUT_BUFFER_DEFAULT;
	c->slow_consumer_timeout_s = 5;
}

void conf_fini(struct conf *c)
{
	for (size_t i = 0; i < c->n_listeners; i++) {
		free(c->listeners[i].bind_address);
		free(c->listeners[i].file);
		conf_transport_fini(&c->listeners[i]);
	}
	free(c->listeners);
	free(c->persistence_location);
	free(c->log_file);
	free(c->pid_file);
	free(c->http_address);
	free(c->http_token);
	free(c->psk_file);
	free(c->password_file);
	free(c->acl_file);
	for (size_t i = 0; i < c->n_plugins; i++) {
		for (size_t k = 0; k < c->plugins[i].n_opts; k++) {
			free(c->plugins[i].opts[k].name);
			free(c->plugins[i].opts[k].value);
		}
		free(c->plugins[i].opts);
		free(c->plugins[i].path);
	}
	free(c->plugins);
	for (size_t i = 0; i < c->n_bridges; i++)
		conf_bridge_fini(&c->bridges[i]);
	free(c->bridges);
	for (size_t i = 0; i < c->n_notices; i++)
		free(c->notices[i]);
	free(c->notices);
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

int conf_notice(struct conf_parse *px, const char *fmt, ...)
{
	char msg[400], *line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&line, "%s:%d: %s", px->file, px->line, msg) < 0)
		return conf_error(px, "out of memory");
	char **v = realloc(px->c->notices, (px->c->n_notices + 1) * sizeof(*v));
	if (!v) {
		free(line);
		return conf_error(px, "out of memory");
	}
	v[px->c->n_notices++] = line;
	px->c->notices = v;
	return FM_OK;
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
		return conf_error(px, "out of memory adding a listener");
	c->listeners = v;
	char *bind_copy = bind ? strdup(bind) : NULL;
	char *file_copy = strdup(px->file);
	if ((bind && !bind_copy) || !file_copy) {
		/* never fall back to "all interfaces" because a copy failed */
		free(bind_copy);
		free(file_copy);
		return conf_error(px, "out of memory adding a listener");
	}
	v[c->n_listeners] = (struct conf_listener){
		.port = port,
		.bind_address = bind_copy,
		.protocol = CONF_PROTO_MQTT,
		.max_connections = -1,
		.allow_anonymous = -1,
		.file = file_copy,
		.line = px->line,
	};
	px->cur = (int)c->n_listeners++;
	return FM_OK;
}

static void parse_begin(struct conf_parse *px, struct conf *c, struct fm_errbuf *eb)
{
	*px = (struct conf_parse){.c = c, .eb = eb, .file = "?", .cur = -1, .port_listener = -1, .bridge = -1};
	/* listeners loaded earlier (e.g. -p after a file) stay as they are */
}

int conf_load_file(struct conf *c, const char *path, struct fm_errbuf *eb)
{
	struct conf_parse px;
	parse_begin(&px, c, eb);
	return conf_parse_file(&px, path);
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

/* The embedded default: loopback only, so anonymous access is safe
 * unless the file said otherwise (mosquitto 2.0 does the same). */
static int add_embedded_listener(struct conf *c, struct fm_errbuf *eb)
{
	struct conf_parse px;
	parse_begin(&px, c, eb);
	px.file = "(embedded default)";
	int rc = conf_add_listener(&px, 1883, "127.0.0.1");
	if (rc == FM_OK && !c->allow_anonymous_set)
		c->listeners[0].allow_anonymous = 1;
	return rc;
}

int conf_finish(struct conf *c, struct fm_errbuf *eb)
{
	int rc = c->n_listeners > 0 ? conf_transport_check(c, eb) : add_embedded_listener(c, eb);
	return rc == FM_OK ? conf_bridges_finish(c, eb) : rc;
}

const char *conf_listener_password_file(const struct conf *c, const struct conf_listener *l)
{
	return c->per_listener_settings && l && l->password_file ? l->password_file : c->password_file;
}

const char *conf_listener_acl_file(const struct conf *c, const struct conf_listener *l)
{
	return c->per_listener_settings && l && l->acl_file ? l->acl_file : c->acl_file;
}

static void swap_strings(char **a, char **b)
{
	char *t = *a;
	*a = *b;
	*b = t;
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

void conf_apply_reloadable(struct conf *live, struct conf *fresh)
{
	live->per_listener_settings = fresh->per_listener_settings; /* says whose files apply */
	swap_strings(&live->password_file, &fresh->password_file);
	swap_strings(&live->acl_file, &fresh->acl_file);
	live->allow_anonymous = fresh->allow_anonymous;
	live->allow_anonymous_set = fresh->allow_anonymous_set;
	live->max_connections = fresh->max_connections;
	live->max_inflight_messages = fresh->max_inflight_messages;
	live->max_queued_messages = fresh->max_queued_messages;
	live->max_queued_in_memory = fresh->max_queued_in_memory;
	live->max_queued_bytes = fresh->max_queued_bytes;
	live->message_size_limit = fresh->message_size_limit;
	live->store_max_size = fresh->store_max_size;
	live->max_subscriptions = fresh->max_subscriptions;
	live->max_topic_levels = fresh->max_topic_levels;
	live->max_topic_length = fresh->max_topic_length;
	live->max_output_buffer = fresh->max_output_buffer;
	live->slow_consumer_timeout_s = fresh->slow_consumer_timeout_s;
	live->max_publish_rate = fresh->max_publish_rate;
	live->memory_limit = fresh->memory_limit;
	live->memory_limit_set = fresh->memory_limit_set;
	live->max_keepalive = fresh->max_keepalive;
	live->retain_available = fresh->retain_available;
	if (!live->log_types_fixed)
		live->log_types = fresh->log_types;
	live->connect_timeout_s = fresh->connect_timeout_s;
	swap_strings(&live->http_token, &fresh->http_token);
	live->sys_interval_s = fresh->sys_interval_s;
	/* listeners stay open; their access settings follow the new file */
	for (size_t i = 0; i < live->n_listeners; i++) {
		struct conf_listener *l = &live->listeners[i];
		struct conf_listener *f = (struct conf_listener *)find_listener(fresh, l);
		if (f) {
			l->allow_anonymous = f->allow_anonymous;
			l->max_connections = f->max_connections;
			swap_strings(&l->password_file, &f->password_file);
			swap_strings(&l->acl_file, &f->acl_file);
		}
	}
}
