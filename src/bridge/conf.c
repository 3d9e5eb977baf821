/* conf.c — parses fcgi.conf into struct pg_bridge_conf.
 *
 * Format: one "key value" per line; '#' starts a comment line; blank lines
 * are skipped; the value is the rest of the line with surrounding blanks
 * removed. bridge_allow may repeat and takes several networks per line.
 * Unknown keys and bad values are errors naming file and line: a typo in a
 * security setting must not silently fall back to a default. */
#include "bridge/conf.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void pg_bridge_conf_defaults(struct pg_bridge_conf *c)
{
    memset(c, 0, sizeof *c);
    c->daemon = pg_xstrdup("unix:/run/pushgate/publish.sock");
    c->spool_dir = pg_xstrdup("/var/spool/pushgate");
    c->spool = true;
    c->max_message_size = 256 * 1024;
    c->daemon_timeout_ms = 5000;
    c->threads = 4;
    c->tap_body_max = 1024 * 1024;
    c->tap_timeout_ms = 300000;
    c->log_level = PG_LOG_NOTICE;
    c->allow = pg_xcalloc(2, sizeof *c->allow);
    const char *why;
    pg_config_parse_cidr("127.0.0.0/8", &c->allow[0], &why);
    pg_config_parse_cidr("::1", &c->allow[1], &why);
    c->nallow = 2;
}

void pg_bridge_conf_free(struct pg_bridge_conf *c)
{
    free(c->daemon);
    free(c->publish_secret);
    free(c->allow);
    free(c->bridge_secret);
    free(c->spool_dir);
    free(c->url_prefix);
    free(c->webhooks);
    free(c->listen);
    free(c->tap_upstream);
    free(c->tap_rules);
    memset(c, 0, sizeof *c);
}

bool pg_bridge_conf_allows(const struct pg_bridge_conf *c, const char *addr)
{
    uint8_t a[16];
    int family;
    if (!addr)
        return false;
    if (inet_pton(AF_INET, addr, a) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, addr, a) == 1)
        family = AF_INET6;
    else
        return false;
    for (size_t i = 0; i < c->nallow; i++)
        if (pg_cidr_contains(&c->allow[i], family, a))   /* v4-mapped v6 matches v4 blocks */
            return true;
    return false;
}

int pg_bridge_perr(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%d: %s", name, line, msg);
    return -1;
}

/* Parses a size with an optional k/m suffix (binary). */
static int parse_size(const char *v, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno || *v == '-')
        return -1;
    if (*end == 'k' || *end == 'K')
        n *= 1024, end++;
    else if (*end == 'm' || *end == 'M')
        n *= 1024 * 1024, end++;
    if (*end || n < min || n > max)
        return -1;
    *out = (size_t)n;
    return 0;
}

/* Parses a duration in ms, with an optional ms/s suffix (bare = ms). */
static int parse_ms(const char *v, int *out)
{
    size_t n;
    char buf[32];
    size_t len = strlen(v);
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, v, len + 1);
    unsigned mul = 1;
    if (len > 2 && strcmp(buf + len - 2, "ms") == 0)
        buf[len - 2] = '\0';
    else if (len > 1 && buf[len - 1] == 's')
        buf[len - 1] = '\0', mul = 1000;
    if (parse_size(buf, 1, 86400000u / mul, &n) < 0)
        return -1;
    *out = (int)(n * mul);
    return 0;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = pg_xstrdup(v);
}

static int parse_allow(struct pg_bridge_conf *c, char *v, bool *first)
{
    if (*first) {
        c->nallow = 0;
        *first = false;
    }
    for (char *tok = strtok(v, " \t,"); tok; tok = strtok(NULL, " \t,")) {
        struct pg_cidr cidr;
        const char *cwhy;
        if (strcmp(tok, "none") == 0)
            continue;
        if (!pg_config_parse_cidr(tok, &cidr, &cwhy))
            return -1;
        c->allow = pg_xrealloc(c->allow, (c->nallow + 1) * sizeof *c->allow);
        c->allow[c->nallow++] = cidr;
    }
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return -1;
    return 0;
}

/* One key; returns 0, -1 bad value (msg filled), -2 unknown key. */
static int apply(struct pg_bridge_conf *c, const char *k, char *v, bool *allow_first,
                 const char **msg)
{
    static const char *const str_keys[] = {"daemon", "publish_secret", "bridge_secret", "spool_dir",
                                           "url_prefix", "webhooks", "listen", "tap_upstream",
                                           "tap_rules"};
    char **str_fields[] = {&c->daemon, &c->publish_secret, &c->bridge_secret, &c->spool_dir,
                           &c->url_prefix, &c->webhooks, &c->listen, &c->tap_upstream,
                           &c->tap_rules};
    for (size_t i = 0; i < PG_ARRAY_LEN(str_keys); i++) {
        if (strcmp(k, str_keys[i]) == 0) {
            set_str(str_fields[i], v);
            return 0;
        }
    }
    size_t n;
    *msg = "bad value";
    if (strcmp(k, "bridge_allow") == 0) {
        *msg = "bridge_allow wants addresses or networks (127.0.0.1, 10.0.0.0/8, ::1, none)";
        return parse_allow(c, v, allow_first);
    }
    if (strcmp(k, "spool") == 0) {
        *msg = "spool wants on or off";
        return parse_bool(v, &c->spool);
    }
    if (strcmp(k, "spool_drainer") == 0) {
        *msg = "spool_drainer wants auto, daemon or bridge";
        c->spool_drainer = !strcmp(v, "auto") ? PG_DRAINER_AUTO : !strcmp(v, "daemon") ? PG_DRAINER_DAEMON
                         : !strcmp(v, "bridge") ? PG_DRAINER_BRIDGE : -1;
        return c->spool_drainer < 0 ? -1 : 0;
    }
    if (strcmp(k, "max_message_size") == 0 || strcmp(k, "tap_body_max") == 0) {
        *msg = "wants a size between 1 and 64m (suffix k or m)";
        if (parse_size(v, 1, 64u << 20, &n) < 0)
            return -1;
        *(k[0] == 'm' ? &c->max_message_size : &c->tap_body_max) = n;
        return 0;
    }
    if (strcmp(k, "daemon_timeout") == 0 || strcmp(k, "tap_timeout") == 0) {
        *msg = "wants a duration (e.g. 5s or 500ms)";
        return parse_ms(v, k[0] == 'd' ? &c->daemon_timeout_ms : &c->tap_timeout_ms);
    }
    if (strcmp(k, "threads") == 0) {
        *msg = "threads wants a number from 1 to 256";
        if (parse_size(v, 1, 256, &n) < 0)
            return -1;
        c->threads = (int)n;
        return 0;
    }
    if (strcmp(k, "log_level") == 0) {
        *msg = "log_level wants error, warn, notice, info or debug";
        int l = pg_log_level_parse(v);
        if (l < 0)
            return -1;
        c->log_level = l;
        return 0;
    }
    return -2;
}

int pg_bridge_conf_parse(const char *text, size_t len, const char *name,
                         struct pg_bridge_conf *c, char *err, size_t errlen)
{
    bool allow_first = true;
    int lineno = 0;
    size_t i = 0;
    while (i < len) {
        lineno++;
        const char *nl = memchr(text + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - (text + i)) : len - i;
        char *line = pg_xstrndup(text + i, ll);
        i += ll + (nl ? 1 : 0);
        if (strlen(line) != ll) {
            free(line);
            return pg_bridge_perr(err, errlen, name, lineno, "NUL byte in line");
        }
        char *p = line, *end = line + ll;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#') {
            free(line);
            continue;
        }
        char *k = p;
        p += strcspn(p, " \t=");
        if (*p)
            *p++ = '\0';
        while (*p == ' ' || *p == '\t' || *p == '=')
            p++;
        if (*p == '\0') {
            int rc = pg_bridge_perr(err, errlen, name, lineno, "'%s' has no value", k);
            free(line);
            return rc;
        }
        const char *msg = NULL;
        int r = apply(c, k, p, &allow_first, &msg);
        if (r == -2)
            r = pg_bridge_perr(err, errlen, name, lineno, "unknown key '%.60s'", k);
        else if (r == -1)
            r = pg_bridge_perr(err, errlen, name, lineno, "%s: %s", k, msg);
        free(line);
        if (r < 0)
            return -1;
    }
    return 0;
}

char *pg_bridge_read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = pg_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                free(buf);
                close(fd);
                errno = EFBIG;
                return NULL;
            }
            cap *= 2;
            buf = pg_xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

int pg_bridge_conf_load(const char *path, bool missing_ok, struct pg_bridge_conf *c,
                        char *err, size_t errlen)
{
    pg_bridge_conf_defaults(c);
    size_t len;
    char *text = pg_bridge_read_file(path, 1u << 20, &len);
    if (!text) {
        if (errno == ENOENT && missing_ok)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = pg_bridge_conf_parse(text, len, path, c, err, errlen);
    free(text);
    return rc;
}
