/* Log line formatting and output. One line is one write() per destination. */
#include "core/log.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *word;
	unsigned mask;
} type_words[] = {
	{ "error", LOG_T_ERROR },       { "warning", LOG_T_WARNING },
	{ "notice", LOG_T_NOTICE },     { "information", LOG_T_INFO },
	{ "debug", LOG_T_DEBUG },       { "subscribe", LOG_T_SUBSCRIBE },
	{ "unsubscribe", LOG_T_UNSUBSCRIBE }, { "websockets", LOG_T_WEBSOCKETS },
	{ "all", LOG_T_ALL },
};

unsigned log_type_parse(const char *word)
{
	for (size_t i = 0; i < sizeof(type_words) / sizeof(type_words[0]); i++)
		if (strcmp(word, type_words[i].word) == 0)
			return type_words[i].mask;
	return 0;
}

void log_init(struct log *lg, unsigned types, unsigned dests)
{
	lg->types = types;
	lg->dests = dests;
	lg->file_fd = -1;
}

int log_open_file(struct log *lg, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return fm_err_errno(errno);
	if (lg->file_fd >= 0)
		close(lg->file_fd);
	lg->file_fd = fd;
	lg->dests |= LOG_D_FILE;
	return FM_OK;
}

void log_fini(struct log *lg)
{
	if (lg->file_fd >= 0)
		close(lg->file_fd);
	lg->file_fd = -1;
}

static const char *type_name(unsigned type)
{
	switch (type) {
	case LOG_T_ERROR: return "error";
	case LOG_T_WARNING: return "warning";
	case LOG_T_NOTICE: return "notice";
	case LOG_T_INFO: return "info";
	case LOG_T_DEBUG: return "debug";
	case LOG_T_SUBSCRIBE: return "subscribe";
	case LOG_T_UNSUBSCRIBE: return "unsubscribe";
	default: return "log";
	}
}

static int syslog_priority(unsigned type)
{
	switch (type) {
	case LOG_T_ERROR: return LOG_ERR;
	case LOG_T_WARNING: return LOG_WARNING;
	case LOG_T_NOTICE: return LOG_NOTICE;
	case LOG_T_DEBUG: return LOG_DEBUG;
	default: return LOG_INFO;
	}
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report a logging failure */
		p += w;
		n -= (size_t)w;
	}
}

void log_msg(const struct log *lg, unsigned type, const char *fmt, ...)
{
	if (!log_enabled(lg, type) || !lg->dests)
		return;
	char line[2048];
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	int head = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			    tm.tm_sec, (long)(tv.tv_usec / 1000), type_name(type));
	va_list ap;
	va_start(ap, fmt);
	int body = vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
	va_end(ap);
	size_t n = (size_t)head + (body < 0 ? 0 : (size_t)body);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (lg->dests & LOG_D_STDERR)
		write_all(STDERR_FILENO, line, n);
	if (lg->dests & LOG_D_STDOUT)
		write_all(STDOUT_FILENO, line, n);
	if ((lg->dests & LOG_D_FILE) && lg->file_fd >= 0)
		write_all(lg->file_fd, line, n);
	if (lg->dests & LOG_D_SYSLOG)
		syslog(syslog_priority(type), "%.*s", (int)(n - 1 - (size_t)head), line + head);
}
