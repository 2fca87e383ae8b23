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
	bool log_dest_seen;            /* the first log_dest replaces the default */
	bool log_type_seen;            /* the first log_type replaces the default */
	int depth;                     /* include_dir nesting */
};

/* Handle one option line: args[0] is the option, args[1..n-1] its values
 * (n <= CONF_MAX_ARGS). FM_OK or FM_ECONFIG with px->eb set. (conf_options.c) */
int conf_apply_option(struct conf_parse *px, char **args, int n);

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

/* Read every *.conf file in dir in alphabetical (bytewise) order; errors
 * inside name the included file and its line. (conf_lex.c) */
int conf_include_dir(struct conf_parse *px, const char *dir);

#endif
