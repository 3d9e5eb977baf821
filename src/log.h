/* log.h — leveled log lines to stderr or a file, reopened on SIGHUP.
 * Every line: ISO-8601 time, level, message. Never logs secrets: callers
 * pass already-redacted text (see pg_auth_redact in auth.h). */
#ifndef PG_LOG_H
#define PG_LOG_H

#include <stdbool.h>

enum pg_log_level { PG_LOG_ERROR, PG_LOG_WARN, PG_LOG_NOTICE, PG_LOG_INFO, PG_LOG_DEBUG };

/* "error", "warn", "notice", "info", "debug" -> level, or -1. */
int pg_log_level_parse(const char *name);
const char *pg_log_level_name(int level);

/* Open (or reopen) the log: path NULL or "" means stderr. Returns 0, or -1
 * with errno set (the previous destination stays in use). */
int pg_log_open(const char *path, int level);
void pg_log_set_level(int level);
/* The program name on each line (default "pushgated"); a static string. */
void pg_log_set_ident(const char *ident);
bool pg_log_enabled(int level);
void pg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pg_log_error(...)  pg_log(PG_LOG_ERROR, __VA_ARGS__)
#define pg_log_warn(...)   pg_log(PG_LOG_WARN, __VA_ARGS__)
#define pg_log_notice(...) pg_log(PG_LOG_NOTICE, __VA_ARGS__)
#define pg_log_info(...)   pg_log(PG_LOG_INFO, __VA_ARGS__)
#define pg_log_debug(...)  do { if (pg_log_enabled(PG_LOG_DEBUG)) pg_log(PG_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
