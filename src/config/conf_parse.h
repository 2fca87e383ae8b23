/* Internal to src/config: the parser's state and the option table. */
#ifndef FM_CONFIG_CONF_PARSE_H
#define FM_CONFIG_CONF_PARSE_H

#include "config/conf.h"

#define CONF_MAX_ARGS 8
#define CONF_MAX_INCLUDE_DEPTH 4

struct conf_parse {
	struct conf *c;
	struct fm_errbuf *eb;
	const char *file;              /* file being read, for messages */
	int line;                      /* 1-based line in file */
	int cur;                       /* index of the listener section we are in, or -1 */
	int port_listener;             /* index of the `port` listener, or -1 */
	int bridge;                    /* index of the `connection` block we are in, or -1 */
	bool log_dest_seen;            /* the first log_dest replaces the default */
	bool log_type_seen;            /* the first log_type replaces the default */
	int depth;                     /* include_dir nesting */
};

/* Handle one option line: args[0] is the option, args[1..n-1] its values
 * (n <= CONF_MAX_ARGS). FM_OK or FM_ECONFIG with px->eb set. (conf_options.c) */
int conf_apply_option(struct conf_parse *px, char **args, int n);

/* An option table entry: a handler and how many values it takes. */
typedef int conf_option_fn(struct conf_parse *px, char **args, int n);

struct conf_option {
	const char *name;
	int min_args, max_args;        /* values after the option name */
	conf_option_fn *fn;
};

/* The entry named name in table[0..count-1], or NULL. (conf_options.c) */
const struct conf_option *conf_option_find(const struct conf_option *table, size_t count, const char *name);
/* Check the number of values against o, then run o->fn. (conf_options.c) */
int conf_option_run(struct conf_parse *px, const struct conf_option *o, char **args, int n);

/* Parse text (a whole file's contents, modified in place) named name;
 * px->file and px->line are restored afterwards. (conf_lex.c) */
int conf_parse_text(struct conf_parse *px, const char *name, char *text);

/* Read and parse the file at path. (conf_lex.c) */
int conf_parse_file(struct conf_parse *px, const char *path);

/* "FILE:LINE: " + message; returns FM_ECONFIG. */
int conf_error(struct conf_parse *px, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record a notice "FILE:LINE: message" for the broker to log at start (an
 * accepted option that changes nothing). FM_OK, or FM_ECONFIG on ENOMEM. */
int conf_notice(struct conf_parse *px, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "true"/"false" into *out, else an error naming opt. (conf_options.c) */
int conf_parse_bool(struct conf_parse *px, const char *opt, const char *s, bool *out);
/* A plain decimal number in min..max into *out, else an error naming opt.
 * (conf_options.c) */
int conf_parse_u32(struct conf_parse *px, const char *opt, const char *s, uint32_t min, uint32_t max,
		   uint32_t *out);
/* One of names[0..count-1] into *out as its index, else "option 'OPT':
 * 'S' is not EXPECTED". (conf_options.c) */
int conf_parse_word(struct conf_parse *px, const char *opt, const char *s, const char *const *names,
		    size_t count, const char *expected, uint8_t *out);
/* A packet size limit: 0 (none) or 20 bytes (a CONNECT still fits) up to
 * the largest MQTT packet. (conf_options.c) */
int conf_parse_packet_size(struct conf_parse *px, const char *opt, const char *s, uint32_t *out);
/* Replace *field with a copy of value. (conf_options.c) */
int conf_set_string(struct conf_parse *px, char **field, const char *value);

/* The listener section we are in, or NULL. */
struct conf_listener *conf_cur_listener(struct conf_parse *px);

/* The legacy default listener that `port`, `bind_address` and listener
 * options before any listener line apply to; created on first use (NULL
 * on ENOMEM, with px->eb set). (conf_options.c) */
struct conf_listener *conf_port_listener(struct conf_parse *px);

/* Listener transport options (TLS, socket_domain, bind_interface) and
 * psk_file: FM_OK, FM_ECONFIG with px->eb set, or FM_ENOTFOUND if args[0]
 * is none of them. (conf_tls.c) */
int conf_transport_option(struct conf_parse *px, char **args, int n);
/* After loading: the transport settings of every listener make sense
 * together ("FILE:LINE: listener PORT: ..." otherwise). */
int conf_transport_check(const struct conf *c, struct fm_errbuf *eb);
/* Free what conf_transport_option allocated for l. */
void conf_transport_fini(struct conf_listener *l);

/* Append a listener (port, bind address or NULL) and make it current. */
int conf_add_listener(struct conf_parse *px, uint16_t port, const char *bind);

/* Bridge options (connection, address, topic, ...; conf_bridge.c): FM_OK,
 * FM_ECONFIG with px->eb set, or FM_ENOTFOUND if args[0] is none of them. */
int conf_bridge_option(struct conf_parse *px, char **args, int n);
/* After loading: derive each bridge's client ids and notification topic,
 * then check what only a whole block can tell ("FILE:LINE: connection
 * 'NAME': ..." naming its connection line). Calling it again changes
 * nothing. */
int conf_bridges_finish(struct conf *c, struct fm_errbuf *eb);
/* Free what a bridge owns. */
void conf_bridge_fini(struct conf_bridge *b);

/* Read every *.conf file in dir in alphabetical (bytewise) order; errors
 * inside name the included file and its line. (conf_lex.c) */
int conf_include_dir(struct conf_parse *px, const char *dir);

#endif
