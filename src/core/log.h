/* Logging with mosquitto's log types as levels.
 *
 * A struct log is created by main from the config and passed down; there is
 * no global logger. Each line is formatted into a stack buffer and written
 * with one write() per destination, so lines from different worker threads
 * never interleave. The codec, topic tree and store never log. */
#ifndef FM_CORE_LOG_H
#define FM_CORE_LOG_H

#include <stdbool.h>

enum log_type {
	LOG_T_ERROR = 1 << 0,
	LOG_T_WARNING = 1 << 1,
	LOG_T_NOTICE = 1 << 2,
	LOG_T_INFO = 1 << 3,
	LOG_T_DEBUG = 1 << 4,
	LOG_T_SUBSCRIBE = 1 << 5,
	LOG_T_UNSUBSCRIBE = 1 << 6,
	LOG_T_WEBSOCKETS = 1 << 7,
	LOG_T_ALL = 0xff,
	/* mosquitto's default: error, warning, notice, information */
	LOG_T_DEFAULT = LOG_T_ERROR | LOG_T_WARNING | LOG_T_NOTICE | LOG_T_INFO,
};

enum log_dest {
	LOG_D_STDERR = 1 << 0,
	LOG_D_STDOUT = 1 << 1,
	LOG_D_FILE = 1 << 2,
	LOG_D_SYSLOG = 1 << 3,
};

struct log {
	unsigned types;  /* enum log_type mask of what is written */
	unsigned dests;  /* enum log_dest mask; 0 means "none" */
	int file_fd;     /* open log file when LOG_D_FILE, else -1 */
};

/* Parse one mosquitto log_type word ("error", "all", ...) into a mask; 0 if unknown. */
unsigned log_type_parse(const char *word);

void log_init(struct log *lg, unsigned types, unsigned dests);
/* Open path for LOG_D_FILE (append). FM_OK or an fm_err. */
int log_open_file(struct log *lg, const char *path);
void log_fini(struct log *lg);

/* types may change at runtime (SIGHUP) while other threads log: it is
 * read and written atomically. */
static inline bool log_enabled(const struct log *lg, unsigned type)
{
	return lg && (__atomic_load_n(&lg->types, __ATOMIC_RELAXED) & type);
}
static inline void log_set_types(struct log *lg, unsigned types)
{
	__atomic_store_n(&lg->types, types, __ATOMIC_RELAXED);
}

void log_msg(const struct log *lg, unsigned type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(lg, ...) log_msg((lg), LOG_T_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_msg((lg), LOG_T_WARNING, __VA_ARGS__)
#define log_notice(lg, ...) log_msg((lg), LOG_T_NOTICE, __VA_ARGS__)
#define log_info(lg, ...) log_msg((lg), LOG_T_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_msg((lg), LOG_T_DEBUG, __VA_ARGS__)

#endif
