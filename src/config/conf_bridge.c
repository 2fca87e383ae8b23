/* Bridges: mosquitto's `connection NAME` blocks, parsed into struct
 * conf_bridge (conf.h gives each field's meaning and default).
 *
 * `connection NAME` opens a block; the bridge options after it belong to
 * it up to the next `connection` line. As with listener sections, a block
 * goes on across include_dir files as if their lines were inline. Options
 * that are not bridge options stay global (or belong to the open listener
 * section, which a connection line does not close), as in mosquitto. A
 * bridge option with no block open, and each mosquitto bridge option we do
 * not support yet, is an error naming file, line and option.
 *
 * Parsing stores what each line says. conf_bridges_finish then derives the
 * client ids and the notification topic, which depend on lines that may
 * come later, and checks what only a whole block can tell. Nothing here
 * resolves a name or opens a file: the bridge runtime does (src/bridge/,
 * docs/BRIDGES.md).
 *
 * Sections: the current block; value parsers; address; topic; the other
 * options and the table; conf_bridges_finish; freeing. */
#include "config/conf_parse.h"

#include "mqtt/codec.h"
#include "topic/topic.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- the current block ------------------------------------------------------ */

/* Set when `connection` opens a block; conf_bridges_finish derives the
 * rest (remote_clientid, local_clientid, local_cleansession,
 * notification_topic). */
static const struct conf_bridge bridge_defaults = {
	.protocol_version = 4,
	.try_private = true,
	.notifications = true,
	.outgoing_retain = true,
	.attempt_unsubscribe = true,
	.keepalive_s = 60,
	.restart_base_s = 5,
	.restart_cap_s = 30,
	.start_type = CONF_BRIDGE_AUTOMATIC,
	.idle_timeout_s = 60,
	.threshold = 10,
};

static struct conf_bridge *current(struct conf_parse *px)
{
	return px->bridge >= 0 ? &px->c->bridges[px->bridge] : NULL;
}

static const struct conf_bridge *find_bridge(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_bridges; i++)
		if (strcmp(c->bridges[i].name, name) == 0)
			return &c->bridges[i];
	return NULL;
}

static int opt_connection(struct conf_parse *px, char **args, int n)
{
	(void)n;
	struct conf *c = px->c;
	const struct conf_bridge *same = find_bridge(c, args[1]);
	if (same)
		return conf_error(px, "option 'connection': '%s' is already the name of the connection at %s:%d",
				  args[1], same->file, same->line);
	struct conf_bridge *v = realloc(c->bridges, (c->n_bridges + 1) * sizeof(*v));
	if (!v)
		return conf_error(px, "out of memory");
	c->bridges = v;
	struct conf_bridge b = bridge_defaults;
	b.name = strdup(args[1]);
	b.file = strdup(px->file);
	b.line = px->line;
	if (!b.name || !b.file) {
		conf_bridge_fini(&b);
		return conf_error(px, "out of memory");
	}
	v[c->n_bridges] = b;
	px->bridge = (int)c->n_bridges++;
	return FM_OK;
}

/* --- value parsers ------------------------------------------------------------ */

/* mosquitto raises a value below its minimum to the minimum, with a
 * notice, instead of refusing the file; we do the same so that its files
 * load unchanged, and say so at start. */
static int parse_at_least(struct conf_parse *px, const char *opt, const char *s, uint32_t least,
			  uint32_t max, uint32_t *out)
{
	int rc = conf_parse_u32(px, opt, s, 0, max, out);
	if (rc == FM_OK && *out < least) {
		*out = least;
		rc = conf_notice(px, "%s %s is below the minimum; using %u (as mosquitto does)", opt, s, least);
	}
	return rc;
}

/* What goes on the wire as an MQTT string (client ids, user names, topics)
 * must be one: well-formed UTF-8, no U+0000, at most 65535 bytes. */
static int check_mqtt_string(struct conf_parse *px, const char *opt, const char *what, const char *s)
{
	size_t len = strlen(s);
	if (len > 65535 || !mqtt_utf8_valid(s, len))
		return conf_error(px, "option '%s': %s is not valid UTF-8 of at most 65535 bytes", opt, what);
	return FM_OK;
}

/* mosquitto ends `address` and `topic` lines at a word starting with '#'
 * (a trailing comment); no host, direction, QoS or prefix can start with
 * one. Returns how many words come before it, from word `from` on. */
static int words_before_comment(char **args, int n, int from)
{
	for (int i = from; i < n; i++)
		if (args[i][0] == '#')
			return i;
	return n;
}

/* --- address ------------------------------------------------------------------ */

static int parse_port(struct conf_parse *px, const char *word, const char *s, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || v < 1 || v > 65535)
		return conf_error(px, "option 'address': '%s': the port is not 1..65535", word);
	*out = (uint16_t)v;
	return FM_OK;
}

/* A bare IPv6 address has no port; mosquitto would have taken the part
 * after its last ':' for one, so a file written for mosquitto may mean
 * something else: say how we read it. */
static int note_bare_ipv6(struct conf_parse *px, const char *word)
{
	const char *last = strrchr(word, ':') + 1;
	if (!*last || strspn(last, "0123456789") != strlen(last))
		return FM_OK; /* mosquitto could not have read a port there either */
	return conf_notice(px, "address '%s' is read as the IPv6 address %s, port 1883 (mosquitto would take "
			       "'%s' for the port); write [ADDRESS]:PORT to give a port", word, word, last);
}

/* host, host:port, [IPv6], [IPv6]:port, or a bare IPv6 address (two or
 * more ':', no brackets) on the default port. */
static int parse_address(struct conf_parse *px, const char *word, struct conf_bridge_address *out)
{
	const char *host = word, *port = NULL, *colon = strchr(word, ':');
	size_t host_len = strlen(word);
	int rc = FM_OK;
	if (word[0] == '[') {
		const char *close = strchr(word, ']');
		if (!close || (close[1] && close[1] != ':'))
			return conf_error(px, "option 'address': '%s' is not [IPv6] or [IPv6]:PORT", word);
		host = word + 1;
		host_len = (size_t)(close - host);
		port = close[1] ? close + 2 : NULL;
	} else if (colon && colon != strrchr(word, ':')) {
		rc = note_bare_ipv6(px, word);
	} else if (colon) {
		port = colon + 1;
		host_len = (size_t)(colon - word);
	}
	if (host_len == 0)
		return conf_error(px, "option 'address': '%s' has no host", word);
	out->port = 1883;
	if (rc == FM_OK && port)
		rc = parse_port(px, word, port, &out->port);
	if (rc != FM_OK)
		return rc;
	out->host = strndup(host, host_len);
	return out->host ? FM_OK : conf_error(px, "out of memory");
}

/* address HOST[:PORT] [HOST[:PORT] ...] (and its alias addresses); each
 * line adds to those before it. */
static int opt_address(struct conf_parse *px, char **args, int n)
{
	struct conf_bridge *b = current(px);
	n = words_before_comment(args, n, 1);
	if (n < 2)
		return conf_error(px, "option '%s' needs a value", args[0]);
	struct conf_bridge_address *v = realloc(b->addresses, (b->n_addresses + (size_t)n - 1) * sizeof(*v));
	if (!v)
		return conf_error(px, "out of memory");
	b->addresses = v;
	for (int i = 1; i < n; i++) {
		int rc = parse_address(px, args[i], &v[b->n_addresses]);
		if (rc != FM_OK)
			return rc;
		b->n_addresses++;
	}
	return FM_OK;
}

/* --- topic ---------------------------------------------------------------------- */

/* The config language has no quoting; mosquitto's topic line alone reads
 * the word "" as the empty string. */
static const char *unquote(const char *word)
{
	return strcmp(word, "\"\"") == 0 ? "" : word;
}

/* prefix + pattern must be a topic filter: it is what the bridge
 * subscribes to on one side. */
static int check_joined(struct conf_parse *px, const char *side, const char *prefix, const char *pattern)
{
	if (strpbrk(prefix, "+#"))
		return conf_error(px, "option 'topic': the %s prefix '%s' contains a wildcard", side, prefix);
	char *joined;
	if (asprintf(&joined, "%s%s", prefix, pattern) < 0)
		return conf_error(px, "out of memory");
	bool ok = topic_filter_valid(joined, strlen(joined));
	free(joined);
	if (!ok)
		return conf_error(px, "option 'topic': the %s prefix '%s' and pattern '%s' do not make a valid "
				      "topic filter", side, prefix, pattern);
	char what[32];
	snprintf(what, sizeof(what), "the %s prefix", side);
	return check_mqtt_string(px, "topic", what, prefix);
}

/* mosquitto.conf(5)'s table: a pattern, or "" with both prefixes given
 * (one local topic mapped to one remote topic). */
static int check_topic(struct conf_parse *px, const char *pattern, const char *local, const char *remote)
{
	if (!*pattern && (!*local || !*remote))
		return conf_error(px, "option 'topic': an empty pattern (\"\") needs both a local and a remote prefix");
	if (*pattern && !topic_filter_valid(pattern, strlen(pattern)))
		return conf_error(px, "option 'topic': '%s' is not a valid topic filter", pattern);
	int rc = check_mqtt_string(px, "topic", "the pattern", pattern);
	if (rc == FM_OK)
		rc = check_joined(px, "local", local, pattern);
	if (rc == FM_OK)
		rc = check_joined(px, "remote", remote, pattern);
	return rc;
}

static bool same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* An identical earlier line of the same bridge, or NULL. */
static const struct conf_bridge_topic *find_topic(const struct conf_bridge *b, const struct conf_bridge_topic *t)
{
	for (size_t i = 0; i < b->n_topics; i++) {
		const struct conf_bridge_topic *o = &b->topics[i];
		if (o->direction == t->direction && o->qos == t->qos && same_text(o->pattern, t->pattern) &&
		    same_text(o->local_prefix, t->local_prefix) && same_text(o->remote_prefix, t->remote_prefix))
			return o;
	}
	return NULL;
}

static void topic_free(struct conf_bridge_topic *t)
{
	free(t->pattern);
	free(t->local_prefix);
	free(t->remote_prefix);
}

/* Copy the checked words into t (an empty prefix is stored as NULL). */
static int topic_fill(struct conf_parse *px, struct conf_bridge_topic *t, const char *pattern,
		      const char *local, const char *remote)
{
	t->pattern = strdup(pattern);
	t->local_prefix = *local ? strdup(local) : NULL;
	t->remote_prefix = *remote ? strdup(remote) : NULL;
	if (!t->pattern || (*local && !t->local_prefix) || (*remote && !t->remote_prefix)) {
		topic_free(t);
		return conf_error(px, "out of memory");
	}
	return FM_OK;
}

/* Append t unless an identical line came before (mosquitto skips those). */
static int topic_add(struct conf_parse *px, struct conf_bridge *b, struct conf_bridge_topic *t)
{
	const struct conf_bridge_topic *dup = find_topic(b, t);
	if (dup) {
		topic_free(t);
		return conf_notice(px, "topic line ignored: the same as line %d", dup->line);
	}
	struct conf_bridge_topic *v = realloc(b->topics, (b->n_topics + 1) * sizeof(*v));
	if (!v) {
		topic_free(t);
		return conf_error(px, "out of memory");
	}
	b->topics = v;
	v[b->n_topics++] = *t;
	return FM_OK;
}

static int parse_direction(struct conf_parse *px, const char *s, uint8_t *out)
{
	static const struct { const char *name; uint8_t dir; } dirs[] = {
		{"in", CONF_BRIDGE_IN}, {"out", CONF_BRIDGE_OUT}, {"both", CONF_BRIDGE_BOTH},
	};
	for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
		if (strcasecmp(s, dirs[i].name) == 0) { /* any case, as mosquitto */
			*out = dirs[i].dir;
			return FM_OK;
		}
	}
	return conf_error(px, "option 'topic': direction '%s' is not in, out or both", s);
}

static int parse_qos(struct conf_parse *px, const char *s, uint8_t *out)
{
	if (s[0] < '0' || s[0] > '2' || s[1])
		return conf_error(px, "option 'topic': QoS '%s' is not 0, 1 or 2", s);
	*out = (uint8_t)(s[0] - '0');
	return FM_OK;
}

/* topic PATTERN [in|out|both [QOS [LOCAL_PREFIX [REMOTE_PREFIX]]]]. A
 * missing remote prefix is read as "", as mosquitto reads it. */
static int opt_topic(struct conf_parse *px, char **args, int n)
{
	n = words_before_comment(args, n, 2);
	if (n > 6)
		return conf_error(px, "option 'topic': too many values");
	struct conf_bridge_topic t = {.direction = CONF_BRIDGE_OUT, .line = px->line};
	int rc = n > 2 ? parse_direction(px, args[2], &t.direction) : FM_OK;
	if (rc == FM_OK && n > 3)
		rc = parse_qos(px, args[3], &t.qos);
	const char *pattern = unquote(args[1]);
	const char *local = n > 4 ? unquote(args[4]) : "";
	const char *remote = n > 5 ? unquote(args[5]) : "";
	if (rc == FM_OK)
		rc = check_topic(px, pattern, local, remote);
	if (rc == FM_OK)
		rc = topic_fill(px, &t, pattern, local, remote);
	return rc == FM_OK ? topic_add(px, current(px), &t) : rc;
}

/* --- the other options --------------------------------------------------------- */

static int opt_protocol_version(struct conf_parse *px, char **args, int n)
{
	(void)n;
	static const char *const names[] = {"mqttv31", "mqttv311", "mqttv50"};
	uint8_t i = 0;
	int rc = conf_parse_word(px, args[0], args[1], names, ARRAY_LEN(names), "mqttv31, mqttv311 or mqttv50", &i);
	if (rc == FM_OK)
		current(px)->protocol_version = (uint8_t)(3 + i); /* MQTT's protocol level: 3, 4, 5 */
	return rc;
}

static int opt_start_type(struct conf_parse *px, char **args, int n)
{
	(void)n;
	static const char *const names[] = {
		[CONF_BRIDGE_AUTOMATIC] = "automatic",
		[CONF_BRIDGE_LAZY] = "lazy",
		[CONF_BRIDGE_ONCE] = "once",
	};
	if (strcmp(args[1], "manual") == 0)
		return conf_error(px, "option 'start_type': manual is not supported (nor is it in mosquitto)");
	return conf_parse_word(px, args[0], args[1], names, ARRAY_LEN(names), "automatic, lazy or once",
			  &current(px)->start_type);
}

/* The floor is mosquitto's: a bridge must send PINGREQ, so no 0. */
static int opt_keepalive_interval(struct conf_parse *px, char **args, int n)
{
	(void)n;
	uint32_t v;
	int rc = parse_at_least(px, args[0], args[1], 5, 65535, &v);
	if (rc == FM_OK)
		current(px)->keepalive_s = (uint16_t)v;
	return rc;
}

/* restart_timeout BASE [CAP]: one value is a constant delay, two are
 * mosquitto's backoff (a random delay between BASE and a growing bound
 * of at most CAP). */
static int opt_restart_timeout(struct conf_parse *px, char **args, int n)
{
	struct conf_bridge *b = current(px);
	uint32_t base, cap;
	int rc = parse_at_least(px, args[0], args[1], 1, INT32_MAX, &base);
	if (rc != FM_OK)
		return rc;
	cap = base;
	if (n > 2 && (rc = conf_parse_u32(px, args[0], args[2], 1, INT32_MAX, &cap)) != FM_OK)
		return rc;
	if (cap < base)
		return conf_error(px, "option 'restart_timeout': the cap %s is below the base %s", args[2], args[1]);
	b->restart_base_s = base;
	b->restart_cap_s = cap;
	return FM_OK;
}

static int opt_idle_timeout(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return parse_at_least(px, args[0], args[1], 1, INT32_MAX, &current(px)->idle_timeout_s);
}

static int opt_threshold(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return parse_at_least(px, args[0], args[1], 1, INT32_MAX, &current(px)->threshold);
}

static int opt_max_packet_size(struct conf_parse *px, char **args, int n)
{
	(void)n;
	return conf_parse_packet_size(px, args[0], args[1], &current(px)->max_packet_size);
}

/* mosquitto also takes tlsv1 and tlsv1.1; mbedtls here speaks neither. */
static int opt_tls_version(struct conf_parse *px, char **args, int n)
{
	(void)n;
	if (strcmp(args[1], "tlsv1.2") != 0 && strcmp(args[1], "tlsv1.3") != 0)
		return conf_error(px, "option 'bridge_tls_version': '%s' is not tlsv1.2 or tlsv1.3", args[1]);
	return conf_set_string(px, &current(px)->tls_version, args[1]);
}

/* Kept apart from the field table: conf_bridges_finish must know whether
 * the file said it, to copy cleansession otherwise. */
static int opt_local_cleansession(struct conf_parse *px, char **args, int n)
{
	(void)n;
	struct conf_bridge *b = current(px);
	b->local_cleansession_set = true;
	return conf_parse_bool(px, args[0], args[1], &b->local_cleansession);
}

/* mosquitto logs its bridge in to itself with local_username and
 * local_password; ours runs inside the broker and is never asked for a
 * password; local_username is the name plugins see for it (the ACL
 * file does not restrict bridges, as in mosquitto). */
static int opt_local_password(struct conf_parse *px, char **args, int n)
{
	(void)args;
	(void)n;
	return conf_notice(px, "local_password is not needed: fleetmq does not authenticate its own bridges "
			       "(local_username is the name plugins see for it)");
}

static const struct conf_option bridge_options[] = {
	{"address", 1, CONF_MAX_ARGS - 1, opt_address},
	{"addresses", 1, CONF_MAX_ARGS - 1, opt_address},
	{"bridge_max_packet_size", 1, 1, opt_max_packet_size},
	{"bridge_protocol_version", 1, 1, opt_protocol_version},
	{"bridge_tls_version", 1, 1, opt_tls_version},
	{"connection", 1, 1, opt_connection},
	{"idle_timeout", 1, 1, opt_idle_timeout},
	{"keepalive_interval", 1, 1, opt_keepalive_interval},
	{"local_cleansession", 1, 1, opt_local_cleansession},
	{"local_password", 1, 1, opt_local_password},
	{"restart_timeout", 1, 2, opt_restart_timeout},
	{"start_type", 1, 1, opt_start_type},
	{"threshold", 1, 1, opt_threshold},
	{"topic", 1, CONF_MAX_ARGS - 1, opt_topic},
};

/* Options that set one field from one value. An MQTT string is checked as
 * one (it goes on the wire); text (paths, passwords) is taken as it is. */
enum field_kind { FIELD_TEXT, FIELD_MQTT_STRING, FIELD_FLAG };

static const struct {
	const char *name;
	size_t offset;
	enum field_kind kind;
} fields[] = {
	{"bridge_attempt_unsubscribe", offsetof(struct conf_bridge, attempt_unsubscribe), FIELD_FLAG},
	{"bridge_cafile", offsetof(struct conf_bridge, cafile), FIELD_TEXT},
	{"bridge_capath", offsetof(struct conf_bridge, capath), FIELD_TEXT},
	{"bridge_certfile", offsetof(struct conf_bridge, certfile), FIELD_TEXT},
	{"bridge_insecure", offsetof(struct conf_bridge, insecure), FIELD_FLAG},
	{"bridge_keyfile", offsetof(struct conf_bridge, keyfile), FIELD_TEXT},
	{"bridge_outgoing_retain", offsetof(struct conf_bridge, outgoing_retain), FIELD_FLAG},
	{"cleansession", offsetof(struct conf_bridge, cleansession), FIELD_FLAG},
	{"clientid", offsetof(struct conf_bridge, remote_clientid), FIELD_MQTT_STRING}, /* old name */
	{"local_clientid", offsetof(struct conf_bridge, local_clientid), FIELD_MQTT_STRING},
	{"local_username", offsetof(struct conf_bridge, local_username), FIELD_MQTT_STRING},
	{"notification_topic", offsetof(struct conf_bridge, notification_topic), FIELD_MQTT_STRING},
	{"notifications", offsetof(struct conf_bridge, notifications), FIELD_FLAG},
	{"notifications_local_only", offsetof(struct conf_bridge, notifications_local_only), FIELD_FLAG},
	{"password", offsetof(struct conf_bridge, remote_password), FIELD_TEXT}, /* old name */
	{"remote_clientid", offsetof(struct conf_bridge, remote_clientid), FIELD_MQTT_STRING},
	{"remote_password", offsetof(struct conf_bridge, remote_password), FIELD_TEXT},
	{"remote_username", offsetof(struct conf_bridge, remote_username), FIELD_MQTT_STRING},
	{"round_robin", offsetof(struct conf_bridge, round_robin), FIELD_FLAG},
	{"try_private", offsetof(struct conf_bridge, try_private), FIELD_FLAG},
	{"username", offsetof(struct conf_bridge, remote_username), FIELD_MQTT_STRING}, /* old name */
};

static int set_field(struct conf_parse *px, size_t i, char **args, int n)
{
	if (n != 2)
		return conf_error(px, n < 2 ? "option '%s' needs a value" : "option '%s': too many values", args[0]);
	void *field = (char *)current(px) + fields[i].offset;
	if (fields[i].kind == FIELD_FLAG)
		return conf_parse_bool(px, args[0], args[1], field);
	if (fields[i].kind == FIELD_MQTT_STRING && check_mqtt_string(px, args[0], "the value", args[1]) != FM_OK)
		return FM_ECONFIG;
	return conf_set_string(px, field, args[1]);
}

/* mosquitto's bridge options we do not support yet. */
static const char *const not_yet[] = {
	"bridge_alpn", "bridge_bind_address", "bridge_ciphers", "bridge_ciphers_tls1.3",
	"bridge_identity", "bridge_max_topic_alias", "bridge_psk", "bridge_receive_maximum",
	"bridge_reload_type", "bridge_require_ocsp", "bridge_session_expiry_interval",
	"bridge_tcp_keepalive", "bridge_tcp_user_timeout",
};

static bool is_not_yet(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(not_yet); i++)
		if (strcmp(name, not_yet[i]) == 0)
			return true;
	return false;
}

static size_t find_field(const char *name)
{
	size_t i = 0;
	while (i < ARRAY_LEN(fields) && strcmp(name, fields[i].name) != 0)
		i++;
	return i;
}

int conf_bridge_option(struct conf_parse *px, char **args, int n)
{
	const char *name = args[0];
	if (is_not_yet(name))
		return conf_error(px, "option '%s' is not supported yet", name);
	const struct conf_option *o = conf_option_find(bridge_options, ARRAY_LEN(bridge_options), name);
	size_t f = o ? ARRAY_LEN(fields) : find_field(name);
	if (!o && f == ARRAY_LEN(fields))
		return FM_ENOTFOUND;
	if (!current(px) && !(o && o->fn == opt_connection))
		return conf_error(px, "option '%s' must follow a connection line", name);
	return o ? conf_option_run(px, o, args, n) : set_field(px, f, args, n);
}

/* --- conf_bridges_finish --------------------------------------------------------- */

static int bridge_error(struct fm_errbuf *eb, const struct conf_bridge *b, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bridge_error(struct fm_errbuf *eb, const struct conf_bridge *b, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fm_errbuf_set(eb, "%s:%d: connection '%s': %s", b->file, b->line, b->name, msg);
}

/* mosquitto's defaults: remote "HOSTNAME.NAME", local "local." + remote. */
static int derive_client_ids(struct conf_bridge *b, struct fm_errbuf *eb)
{
	if (!b->remote_clientid) {
		char host[256];
		if (gethostname(host, sizeof(host)) != 0)
			return bridge_error(eb, b, "no remote_clientid, and the host name for the default "
						   "cannot be read");
		host[sizeof(host) - 1] = '\0';
		if (asprintf(&b->remote_clientid, "%s.%s", host, b->name) < 0)
			b->remote_clientid = NULL;
	}
	if (b->remote_clientid && !b->local_clientid && asprintf(&b->local_clientid, "local.%s", b->remote_clientid) < 0)
		b->local_clientid = NULL;
	return b->remote_clientid && b->local_clientid ? FM_OK : bridge_error(eb, b, "out of memory");
}

static int derive_defaults(struct conf_bridge *b, struct fm_errbuf *eb)
{
	int rc = derive_client_ids(b, eb);
	if (rc != FM_OK)
		return rc;
	if (!b->local_cleansession_set)
		b->local_cleansession = b->cleansession;
	if (!b->notification_topic &&
	    asprintf(&b->notification_topic, "$SYS/broker/connection/%s/state", b->remote_clientid) < 0) {
		b->notification_topic = NULL;
		return bridge_error(eb, b, "out of memory");
	}
	return FM_OK;
}

/* TLS is on when bridge_cafile or bridge_capath is set; the other TLS
 * options mean nothing without it. */
static const char *tls_option_without_tls(const struct conf_bridge *b)
{
	if (b->cafile || b->capath)
		return NULL;
	if (b->certfile) return "bridge_certfile";
	if (b->keyfile) return "bridge_keyfile";
	if (b->tls_version) return "bridge_tls_version";
	if (b->insecure) return "bridge_insecure";
	return NULL;
}

static int check_bridge(const struct conf_bridge *b, struct fm_errbuf *eb)
{
	if (b->n_addresses == 0)
		return bridge_error(eb, b, "no address line");
	if (b->n_topics == 0)
		return bridge_error(eb, b, "no topic line");
	const char *opt = tls_option_without_tls(b);
	if (opt)
		return bridge_error(eb, b, "%s is set but TLS is off (it needs bridge_cafile or bridge_capath)", opt);
	if (!b->certfile != !b->keyfile)
		return bridge_error(eb, b, b->certfile ? "bridge_certfile is set but bridge_keyfile is not"
						       : "bridge_keyfile is set but bridge_certfile is not");
	/* [MQTT-3.1.2-22] in 3.1.1 (3.1 alike); 5.0 allows it */
	if (b->remote_password && !b->remote_username && b->protocol_version < 5)
		return bridge_error(eb, b, "remote_password needs remote_username before mqttv50");
	if (b->notifications && !topic_name_valid(b->notification_topic, strlen(b->notification_topic)))
		return bridge_error(eb, b, "the notification topic '%s' is not a valid topic name "
					   "(see notification_topic and remote_clientid)", b->notification_topic);
	return FM_OK;
}

/* Two bridges with one local client id would take each other's session
 * over, endlessly. */
static int check_unique_local_ids(const struct conf *c, struct fm_errbuf *eb)
{
	for (size_t i = 0; i < c->n_bridges; i++) {
		for (size_t k = 0; k < i; k++) {
			const struct conf_bridge *a = &c->bridges[k], *b = &c->bridges[i];
			if (strcmp(a->local_clientid, b->local_clientid) == 0)
				return bridge_error(eb, b, "local_clientid '%s' is also that of connection '%s' "
							   "(%s:%d); set local_clientid on one of them",
						    b->local_clientid, a->name, a->file, a->line);
		}
	}
	return FM_OK;
}

int conf_bridges_finish(struct conf *c, struct fm_errbuf *eb)
{
	for (size_t i = 0; i < c->n_bridges; i++) {
		int rc = derive_defaults(&c->bridges[i], eb);
		if (rc == FM_OK)
			rc = check_bridge(&c->bridges[i], eb);
		if (rc != FM_OK)
			return rc;
	}
	return check_unique_local_ids(c, eb);
}

/* --- freeing ---------------------------------------------------------------------- */

void conf_bridge_fini(struct conf_bridge *b)
{
	for (size_t i = 0; i < b->n_addresses; i++)
		free(b->addresses[i].host);
	free(b->addresses);
	for (size_t i = 0; i < b->n_topics; i++)
		topic_free(&b->topics[i]);
	free(b->topics);
	free(b->name);
	free(b->remote_clientid);
	free(b->local_clientid);
	free(b->remote_username);
	free(b->remote_password);
	free(b->local_username);
	free(b->notification_topic);
	free(b->cafile);
	free(b->capath);
	free(b->certfile);
	free(b->keyfile);
	free(b->tls_version);
	free(b->file);
	*b = (struct conf_bridge){0};
}
