/* The option table: one small handler per mosquitto.conf option we
 * support, value parsers that produce "FILE:LINE: option: ..." messages, and
 * the names of mosquitto options we know but do not support yet (an error,
 * never silently ignored). Listener transport options are conf_tls.c's,
 * bridge options conf_bridge.c's; each has its own table. */
#include "config/conf_parse.h"

#include "core/log.h"
#include "fleetmq/errors.h"
#include "mqtt/mqtt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- value parsers ------------------------------------------------------- */

static int parse_u64(struct conf_parse *px, const char *opt, const char *s,
		     uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] == '-' || s[0] == '\0' || *end || errno == ERANGE)
		return conf_error(px, "option '%s': '%s' is not a number", opt, s);
	if (v < min || v > max)
		return conf_error(px, "option '%s': %s is out of range (%llu..%llu)", opt, s,
				  (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return FM_OK;
}

int conf_parse_u32(struct conf_parse *px, const char *opt, const char *s, uint32_t min, uint32_t max,
		   uint32_t *out)
{
	uint64_t v;
	int rc = parse_u64(px, opt, s, min, max, &v);
	if (rc == FM_OK)
		*out = (uint32_t)v;
	return rc;
}

/* -1 (unlimited) or a count. */
static int parse_limit(struct conf_parse *px, const char *opt, const char *s, int *out)
{
	if (strcmp(s, "-1") == 0) {
		*out = -1;
		return FM_OK;
	}
	uint32_t v;
	int rc = conf_parse_u32(px, opt, s, 0, 0x7FFFFFFF, &v);
	if (rc == FM_OK)
		*out = (int)v;
	return rc;
}

int conf_parse_bool(struct conf_parse *px, const char *opt, const char *s, bool *out)
{
	if (strcmp(s, "true") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0)
		*out = false;
	else
		return conf_error(px, "option '%s': '%s' is not true or false", opt, s);
	return FM_OK;
}

int conf_parse_word(struct conf_parse *px, const char *opt, const char *s, const char *const *names,
		    size_t count, const char *expected, uint8_t *out)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (uint8_t)i;
			return FM_OK;
		}
	}
	return conf_error(px, "option '%s': '%s' is not %s", opt, s, expected);
}

int conf_set_string(struct conf_parse *px, char **field, const char *value)
{
	char *copy = strdup(value);
	if (!copy)
		return conf_error(px, "out of memory");
	free(*field);
	*field = copy;
	return FM_OK;
}

/* --- listeners ------------------------------------------------------------ */

static int opt_listener(struct conf_parse *px, char **args, int n)
{
	uint32_t port;
	int rc = conf_parse_u32(px, "listener", args[1], 0, 65535, &port);
	if (rc != FM_OK)
		return rc;
	return conf_add_listener(px, (uint16_t)port, n > 2 ? args[2] : NULL);
}

/* The legacy default listener: `port` and `bind_address` outside sections. */
struct conf_listener *conf_port_listener(struct conf_parse *px)
{
	if (px->port_listener < 0) {
		int saved = px->cur; /* `port` does not open a section */
		if (conf_add_listener(px, 1883, NULL) != FM_OK)
			return NULL;
		px->port_listener = px->cur;
		px->cur = saved;
	}
	return &px->c->listeners[px->port_listener];
}

static int opt_port(struct conf_parse *px, char **args, int n)
{
	(void)n;
	uint32_t port;
	int rc = conf_parse_u32(px, args[0], args[1], 0, 65535, &port);
	if (rc != FM_OK)
		return rc;
	struct conf_listener *l = conf_port_listener(px);
	if (!l)
		return FM_ECONFIG; /* conf_add_listener said why */
	l->port = (uint16_t)port;
	return FM_OK;
}

static int opt_bind_address(struct conf_parse *px, char **args, int n)
{
	(void)n;
	struct conf_listener *l = conf_port_listener(px);
	return l ? conf_set_string(px, &l->bind_address, args[1]) : FM_ECONFIG;
}

static int opt_protocol(struct conf_parse *px, char **args, int n)
{
	(void)n;
	struct conf_listener *l = conf_cur_listener(px);
	if (!l)
		return conf_error(px, "option 'protocol' must follow a listener line");
	if (strcmp(args[1], "mqtt") == 0) {
		l->protocol = CONF_PROTO_MQTT;
		return FM_OK;
	}
	if (strcmp(args[1], "websockets") == 0) {
		l->protocol = CONF_PROTO_WEBSOCKETS;
		return FM_OK;
	}
	return conf_error(px, "option 'protocol': '%s' is not mqtt or websockets", args[1]);
}

static int opt_max_connections(struct conf_parse *px, char **args, int n)
{
	(void)n;
	struct conf_listener *l = conf_cur_listener(px);
	int *field = l ? &l->max_connections : &px->c->max_connections;
	return parse_limit(px, "max_connections", args[1], field);
}

/* --- access ------------------------------------------------------------------ */

static int opt_per_listener_settings(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_bool(px, args[0], args[1], &px->c->per_listener_settings);
}

static int opt_allow_anonymous(struct conf_parse *px, char **args, int n)
{
	(void)n;
	bool v = false;
	int rc = conf_parse_bool(px, args[0], args[1], &v);
	if (rc != FM_OK)
		return rc;
	struct conf_listener *l = conf_cur_listener(px);
	if (px->c->per_listener_settings && l) {
		l->allow_anonymous = v;
	} else {
		px->c->allow_anonymous = v;
		px->c->allow_anonymous_set = true;
	}
	return FM_OK;
}

/* --- limits -------------------------------------------------------------------- */

static int opt_max_inflight_messages(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, 65535, &px->c->max_inflight_messages);
}

static int opt_max_queued_messages(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, UINT32_MAX, &px->c->max_queued_messages);
}

static int opt_max_queued_in_memory(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, UINT32_MAX, &px->c->max_queued_in_memory);
}

static int opt_max_queued_bytes(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return parse_u64(px, args[0], args[1], 0, UINT64_MAX, &px->c->max_queued_bytes);
}

static int opt_message_size_limit(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, MQTT_MAX_REMAINING_LENGTH, &px->c->message_size_limit);
}

/* mosquitto's max_packet_size (and bridge_max_packet_size): 0 (no limit)
 * or at least 20 bytes, so a CONNECT still fits. */
int conf_parse_packet_size(struct conf_parse *px, const char *opt, const char *s, uint32_t *out)
{
	uint32_t v;
	int rc = conf_parse_u32(px, opt, s, 0, MQTT_MAX_REMAINING_LENGTH + 5, &v);
	if (rc == FM_OK && v != 0 && v < 20)
		return conf_error(px, "option '%s': %s must be 0 or at least 20", opt, s);
	if (rc == FM_OK)
		*out = v;
	return rc;
}

static int opt_max_packet_size(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_packet_size(px, args[0], args[1], &px->c->max_packet_size);
}

static int opt_max_topic_alias(struct conf_parse *px, char **args, int n)
{
	(void)n;
	uint32_t v = 0;
	int rc = conf_parse_u32(px, args[0], args[1], 0, 65535, &v);
	px->c->max_topic_alias = (uint16_t)v;
	return rc;
}

static int opt_max_subscriptions(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, UINT32_MAX, &px->c->max_subscriptions);
}

static int opt_memory_limit(struct conf_parse *px, char **args, int n)
{
	(void)n;
	px->c->memory_limit_set = true;
	return parse_u64(px, args[0], args[1], 0, UINT64_MAX, &px->c->memory_limit);
}

static int opt_max_publish_rate(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, 1000000, &px->c->max_publish_rate);
}

/* mosquitto's sys_interval: seconds between $SYS updates, 0 = none. A day
 * at most: beyond that the load averages would say nothing. */
static int opt_sys_interval(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, 86400, &px->c->sys_interval_s);
}

static int opt_max_topic_levels(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, 65535, &px->c->max_topic_levels);
}

static int opt_max_topic_length(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, 65535, &px->c->max_topic_length);
}

/* At least twice the 1 MiB at which the publishers feeding a client pause
 * (FM_OUT_HIGH), so that they pause before its QoS 0 is dropped. */
static int opt_max_output_buffer(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], CONF_OUTPUT_BUFFER_MIN, 1u << 30, &px->c->max_output_buffer);
}

static int opt_slow_consumer_timeout(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 1, 3600, &px->c->slow_consumer_timeout_s);
}

/* 0 means "no limit" in mosquitto; our broker compares keepalive against the
 * limit, so no limit is stored as the largest keepalive MQTT can express. */
static int opt_max_keepalive(struct conf_parse *px, char **args, int n)
{
	(void)n;
	uint32_t v;
	int rc = conf_parse_u32(px, args[0], args[1], 0, 65535, &v);
	if (rc == FM_OK)
		px->c->max_keepalive = v == 0 ? 65535 : (uint16_t)v;
	return rc;
}

static int opt_retain_available(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_bool(px, args[0], args[1], &px->c->retain_available);
}

static int opt_connect_timeout(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 1, 3600, &px->c->connect_timeout_s);
}

static int opt_workers(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 0, 256, &px->c->workers);
}

/* http_listener PORT [ADDRESS]: the HTTP stats server (one; loopback
 * unless an address says otherwise). */
static int opt_http_listener(struct conf_parse *px, char **args, int n)
{
	uint32_t port;
	int rc = conf_parse_u32(px, args[0], args[1], 1, 65535, &port);
	if (rc != FM_OK)
		return rc;
	if (px->c->http_port)
		return conf_error(px, "option 'http_listener' given twice (one HTTP listener only)");
	px->c->http_port = (uint16_t)port;
	return conf_set_string(px, &px->c->http_address, n > 2 ? args[2] : "127.0.0.1");
}

/* http_token TOKEN: what the HTTP API's clients send as "Authorization:
 * Bearer TOKEN". Printable ASCII without blanks, long enough to guess
 * at no better than by chance. */
static int opt_http_token(struct conf_parse *px, char **args, int n)
{
	(void)n;
	size_t len = strlen(args[1]);
	if (len < 16 || len > 256)
		return conf_error(px, "option 'http_token': between 16 and 256 characters, please (it is %zu)", len);
	for (size_t i = 0; i < len; i++)
		if (args[1][i] <= ' ' || args[1][i] > '~')
			return conf_error(px, "option 'http_token': printable ASCII without blanks only");
	return conf_set_string(px, &px->c->http_token, args[1]);
}

/* --- state, files ------------------------------------------------------------ */

static int opt_persistence(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_bool(px, args[0], args[1], &px->c->persistence);
}

static int opt_persistence_location(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_set_string(px, &px->c->persistence_location, args[1]);
}

/* mosquitto's duration: an integer and a unit, h d w m y (hour, day, week,
 * month of 30 days, year of 365); fleetmq also takes s (seconds). */
static int opt_persistent_client_expiration(struct conf_parse *px, char **args, int n)
{
	(void)n;
	static const struct { char unit; uint64_t seconds; } units[] = {
		{'s', 1}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}, {'m', 30 * 86400}, {'y', 365 * 86400},
	};
	const char *v = args[1];
	size_t len = strlen(v);
	char number[32];
	if (len < 2 || len >= sizeof(number))
		return conf_error(px, "option '%s': '%s' is not a number followed by s, h, d, w, m or y", args[0], v);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (v[len - 1] != units[i].unit)
			continue;
		memcpy(number, v, len - 1);
		number[len - 1] = '\0';
		uint64_t count;
		int rc = parse_u64(px, args[0], number, 1, UINT64_MAX / 1000 / units[i].seconds, &count);
		if (rc == FM_OK)
			px->c->persistent_client_expiration_s = count * units[i].seconds;
		return rc;
	}
	return conf_error(px, "option '%s': '%s' is not a number followed by s, h, d, w, m or y", args[0], v);
}

static int opt_durability(struct conf_parse *px, char **args, int n)
{
	(void)n;
	static const char *const names[] = {
		[CONF_DURABILITY_FULL] = "full",
		[CONF_DURABILITY_BATCHED] = "batched",
		[CONF_DURABILITY_MEMORY] = "memory",
	};
	return conf_parse_word(px, args[0], args[1], names, sizeof(names) / sizeof(names[0]),
			       "full, batched or memory", &px->c->durability);
}

static int opt_durability_interval(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_u32(px, args[0], args[1], 1, 60000, &px->c->durability_interval_ms);
}

/* A cap on the store file: past it, persistent QoS 1/2 is not
 * acknowledged, as on a full disk. At least 64 KiB, so the schema fits. */
static int opt_store_max_size(struct conf_parse *px, char **args, int n)
{
	(void)n;
	int rc = parse_u64(px, args[0], args[1], 0, UINT64_MAX, &px->c->store_max_size);
	if (rc == FM_OK && px->c->store_max_size != 0 && px->c->store_max_size < 65536)
		return conf_error(px, "option '%s': %s must be 0 or at least 65536", args[0], args[1]);
	return rc;
}

/* mosquitto snapshots its in-memory state every autosave_interval seconds
 * (or after so many changes); fleetmq's store writes every change as it
 * happens, so these are accepted, checked, and change nothing. */
static int opt_autosave_interval(struct conf_parse *px, char **args, int n)
{
	(void)n;
	uint32_t v;
	int rc = conf_parse_u32(px, args[0], args[1], 0, 0x7FFFFFFF, &v);
	return rc != FM_OK ? rc
			   : conf_notice(px, "%s has no effect: fleetmq writes every change to its store as it "
					     "happens (see durability)", args[0]);
}

static int opt_autosave_on_changes(struct conf_parse *px, char **args, int n)
{
	(void)n;
	bool v;
	int rc = conf_parse_bool(px, args[0], args[1], &v);
	return rc != FM_OK ? rc
			   : conf_notice(px, "autosave_on_changes has no effect: fleetmq writes every change to "
					     "its store as it happens (see durability)");
}

/* mosquitto's own file format is not ours: the store keeps its name, so a
 * mosquitto.db left in the same directory is neither read nor touched. */
static int opt_persistence_file(struct conf_parse *px, char **args, int n)
{
	(void)n;
	if (!*args[1] || strchr(args[1], '/'))
		return conf_error(px, "option 'persistence_file': '%s' is not a file name", args[1]);
	return conf_notice(px, "persistence_file '%s' is not used: fleetmq keeps its sqlite store as fleetmq.db "
			       "in persistence_location and does not read mosquitto's file", args[1]);
}

static int opt_pid_file(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_set_string(px, &px->c->pid_file, args[1]);
}

static int opt_include_dir(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_include_dir(px, args[1]);
}

/* --- logging ------------------------------------------------------------------- */

static int opt_log_dest(struct conf_parse *px, char **args, int n)
{
	static const struct { const char *name; unsigned dest; } dests[] = {
		{"stderr", LOG_D_STDERR}, {"stdout", LOG_D_STDOUT}, {"syslog", LOG_D_SYSLOG},
		{"file", LOG_D_FILE}, {"none", 0},
	};
	for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
		if (strcmp(args[1], dests[i].name) != 0)
			continue;
		if (dests[i].dest == LOG_D_FILE && n != 3)
			return conf_error(px, "option 'log_dest': file needs a path");
		if (dests[i].dest != LOG_D_FILE && n != 2)
			return conf_error(px, "option 'log_dest': too many values");
		if (!px->log_dest_seen)
			px->c->log_dests = 0; /* the first line replaces the default */
		px->log_dest_seen = true;
		px->c->log_dests |= dests[i].dest;
		return dests[i].dest == LOG_D_FILE ? conf_set_string(px, &px->c->log_file, args[2]) : FM_OK;
	}
	return conf_error(px, "option 'log_dest': unknown destination '%s'", args[1]);
}

static int opt_log_type(struct conf_parse *px, char **args, int n)
{
	(void)n;
	unsigned t;
	if (strcmp(args[1], "none") == 0)
		t = 0;
	else if ((t = log_type_parse(args[1])) == 0)
		return conf_error(px, "option 'log_type': unknown type '%s'", args[1]);
	if (!px->log_type_seen)
		px->c->log_types = 0;
	px->log_type_seen = true;
	px->c->log_types |= t;
	return FM_OK;
}

/* --- plugins ------------------------------------------------------------------- */

static int opt_plugin(struct conf_parse *px, char **args, int n)
{
	(void)n;
	struct conf *c = px->c;
	struct conf_plugin *v = realloc(c->plugins, (c->n_plugins + 1) * sizeof(*v));
	if (!v)
		return conf_error(px, "out of memory");
	c->plugins = v;
	v[c->n_plugins] = (struct conf_plugin){ .path = strdup(args[1]) };
	if (!v[c->n_plugins].path)
		return conf_error(px, "out of memory");
	c->n_plugins++;
	return FM_OK;
}

/* plugin_opt_NAME VALUE: an option of the plugin line before it (the rest
 * of the line is the value, as mosquitto reads it). */
static int opt_plugin_opt(struct conf_parse *px, char **args, int n)
{
	struct conf *c = px->c;
	if (c->n_plugins == 0)
		return conf_error(px, "option '%s' must follow a plugin line", args[0]);
	if (args[0][11] == '\0')
		return conf_error(px, "option 'plugin_opt_' needs a name");
	if (n < 2)
		return conf_error(px, "option '%s' needs a value", args[0]);
	char value[1024] = "";
	for (int i = 1; i < n; i++) {
		if (i > 1)
			strncat(value, " ", sizeof(value) - strlen(value) - 1);
		strncat(value, args[i], sizeof(value) - strlen(value) - 1);
	}
	struct conf_plugin *p = &c->plugins[c->n_plugins - 1];
	struct conf_plugin_opt *o = realloc(p->opts, (p->n_opts + 1) * sizeof(*o));
	if (!o)
		return conf_error(px, "out of memory");
	p->opts = o;
	o[p->n_opts] = (struct conf_plugin_opt){ .name = strdup(args[0] + 11), .value = strdup(value) };
	if (!o[p->n_opts].name || !o[p->n_opts].value) {
		free(o[p->n_opts].name);
		free(o[p->n_opts].value);
		return conf_error(px, "out of memory");
	}
	p->n_opts++;
	return FM_OK;
}

/* --- the table ------------------------------------------------------------------- */

static const struct conf_option options[] = {
	{"allow_anonymous", 1, 1, opt_allow_anonymous},
	{"autosave_interval", 1, 1, opt_autosave_interval},
	{"autosave_on_changes", 1, 1, opt_autosave_on_changes},
	{"bind_address", 1, 1, opt_bind_address},
	{"connect_timeout", 1, 1, opt_connect_timeout},
	{"durability", 1, 1, opt_durability},
	{"durability_interval", 1, 1, opt_durability_interval},
	{"store_max_size", 1, 1, opt_store_max_size},
	{"http_listener", 1, 2, opt_http_listener},
	{"http_token", 1, 1, opt_http_token},
	{"include_dir", 1, 1, opt_include_dir},
	{"listener", 1, 2, opt_listener},
	{"log_dest", 1, 2, opt_log_dest},
	{"log_type", 1, 1, opt_log_type},
	{"max_connections", 1, 1, opt_max_connections},
	{"max_inflight_messages", 1, 1, opt_max_inflight_messages},
	{"max_keepalive", 1, 1, opt_max_keepalive},
	{"max_queued_in_memory", 1, 1, opt_max_queued_in_memory},
	{"max_subscriptions", 1, 1, opt_max_subscriptions},
	{"max_topic_levels", 1, 1, opt_max_topic_levels},
	{"max_topic_length", 1, 1, opt_max_topic_length},
	{"max_output_buffer", 1, 1, opt_max_output_buffer},
	{"slow_consumer_timeout", 1, 1, opt_slow_consumer_timeout},
	{"max_publish_rate", 1, 1, opt_max_publish_rate},
	{"memory_limit", 1, 1, opt_memory_limit},
	{"max_packet_size", 1, 1, opt_max_packet_size},
	{"max_topic_alias", 1, 1, opt_max_topic_alias},
	{"max_queued_bytes", 1, 1, opt_max_queued_bytes},
	{"max_queued_messages", 1, 1, opt_max_queued_messages},
	{"message_size_limit", 1, 1, opt_message_size_limit},
	{"per_listener_settings", 1, 1, opt_per_listener_settings},
	{"persistence", 1, 1, opt_persistence},
	{"persistence_file", 1, 1, opt_persistence_file},
	{"persistent_client_expiration", 1, 1, opt_persistent_client_expiration},
	{"persistence_location", 1, 1, opt_persistence_location},
	{"pid_file", 1, 1, opt_pid_file},
	{"plugin", 1, 1, opt_plugin},
	{"port", 1, 1, opt_port},
	{"protocol", 1, 1, opt_protocol},
	{"retain_available", 1, 1, opt_retain_available},
	{"sys_interval", 1, 1, opt_sys_interval},
	{"workers", 1, 1, opt_workers},
};

/* mosquitto options that later issues implement; refused clearly until then.
 * (Bridge options, supported or not, are conf_bridge.c's.) */
static const char *const not_yet[] = {
	"allow_duplicate_messages", "allow_zero_length_clientid", "auth_opt_",
	"auth_plugin", "auth_plugin_deny_special_chars", "auto_id_prefix",
	"check_retain_source", "ciphers_tls1.3", "clientid_prefixes",
	"connection_messages", "dhparamfile", "global_plugin", "global_plugin_opt_",
	"http_dir", "log_facility", "log_timestamp", "log_timestamp_format",
	"max_inflight_bytes", "max_qos", "mount_point", "queue_qos0_messages",
	"set_tcp_nodelay", "tls_engine", "tls_engine_kpass_sha1", "tls_keyform",
	"upgrade_outgoing_qos", "use_username_as_clientid", "user",
	"websockets_log_level",
};

static bool is_not_yet(const char *name)
{
	for (size_t i = 0; i < sizeof(not_yet) / sizeof(not_yet[0]); i++) {
		size_t len = strlen(not_yet[i]);
		bool prefix = not_yet[i][len - 1] == '_';
		if (prefix ? strncmp(name, not_yet[i], len) == 0 : strcmp(name, not_yet[i]) == 0)
			return true;
	}
	return false;
}

const struct conf_option *conf_option_find(const struct conf_option *table, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(name, table[i].name) == 0)
			return &table[i];
	return NULL;
}

int conf_option_run(struct conf_parse *px, const struct conf_option *o, char **args, int n)
{
	if (n - 1 < o->min_args)
		return conf_error(px, "option '%s' needs a value", o->name);
	if (n - 1 > o->max_args)
		return conf_error(px, "option '%s': too many values", o->name);
	return o->fn(px, args, n);
}

int conf_apply_option(struct conf_parse *px, char **args, int n)
{
	const struct conf_option *o = conf_option_find(options, sizeof(options) / sizeof(options[0]), args[0]);
	if (o)
		return conf_option_run(px, o, args, n);
	int rc = conf_transport_option(px, args, n);
	if (rc == FM_ENOTFOUND)
		rc = conf_bridge_option(px, args, n);
	if (rc != FM_ENOTFOUND)
		return rc;
	if (strncmp(args[0], "plugin_opt_", 11) == 0)
		return opt_plugin_opt(px, args, n);
	if (is_not_yet(args[0]))
		return conf_error(px, "option '%s' is not supported yet", args[0]);
	return conf_error(px, "unknown option '%s'", args[0]);
}
