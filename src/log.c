/* log.c — leveled log lines to stderr or a file, reopened on SIGHUP.
 * Lines are written with one write() so concurrent writers (worker threads,
 * logrotate's copytruncate) never interleave inside a line. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static int log_level = PG_LOG_INFO;
static const char *log_ident = "pushgated";
static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};

int pg_log_level_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return PG_LOG_WARN;
    return -1;
}

const char *pg_log_level_name(int level)
{
    if (level < 0 || level > PG_LOG_DEBUG)
        return "?";
    return level_names[level];
}

int pg_log_open(const char *path, int level)
{
    int fd = 2;
    if (path && *path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -1;
    }
    int old = log_fd;
    log_fd = fd;
    if (old != 2 && old != fd)
        close(old);
    log_level = level;
    return 0;
}

void pg_log_set_ident(const char *ident)
{
    log_ident = ident;
}

void pg_log_set_level(int level)
{
    log_level = level;
}

bool pg_log_enabled(int level)
{
    return level <= log_level;
}

void pg_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ld [%s] %s: ",
                          (long)(tv.tv_usec / 1000), pg_log_level_name(level), log_ident);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    int saved = errno;
    ssize_t w = write(log_fd, line, n);
    (void)w;
    errno = saved;
}
