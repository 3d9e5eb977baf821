/* config_parse.c — the configuration's line/value codec: splits a line into
 * words and turns words into numbers, durations, sizes, booleans, listen
 * addresses, CIDR blocks and store URLs. No I/O, no knowledge of keys.
 *
 * Invariants: every function accepts any bytes (hostile input gets false or a
 * negative pg_config_err, never a crash or an overread past len); numbers
 * never wrap (overflow is "malformed"); formatting a parsed value and parsing
 * it again gives the same value.
 *
 * Deliberate departures: no escapes outside quotes (a backslash there is an
 * ordinary byte, so Windows-ish paths and regex-ish secrets need no quoting);
 * inside quotes only \" and \\ are escapes, any other backslash stays as is.
 * Duration and size suffixes are single units ("1m30s" is not accepted).
 */
#include "config.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>

const char *pg_config_strerror(int err)
{
    switch (err) {
    case PG_CONFIG_OK: return "ok";
    case PG_CONFIG_EQUOTE: return "unterminated quote";
    case PG_CONFIG_EAFTERQUOTE: return "text right after a closing quote";
    case PG_CONFIG_ESTRAYQUOTE: return "stray '\"' inside a word (quote the whole value)";
    case PG_CONFIG_ECTRL: return "control character in value";
    }
    return "bad syntax";
}

/* ---------------------------------------------------------------- lists */

void pg_strlist_push(struct pg_strlist *l, const char *s)
{
    l->v = pg_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = pg_xstrdup(s);
}

void pg_strlist_clear(struct pg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

bool pg_strlist_contains(const struct pg_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ tokenizer */

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static bool is_ctrl(char c)
{
    unsigned char u = (unsigned char)c;
    return (u < 0x20 && u != '\t') || u == 0x7f;
}

/* One quoted word starting at s[*i] == '"'; appends its text to buf. */
static int split_quoted(const char *s, size_t len, size_t *i, char *buf, size_t *bn)
{
    size_t j = *i + 1;
    for (;;) {
        if (j >= len)
            return PG_CONFIG_EQUOTE;
        char c = s[j];
        if (c == '"')
            break;
        if (is_ctrl(c))
            return PG_CONFIG_ECTRL;
        if (c == '\\' && j + 1 < len && (s[j + 1] == '"' || s[j + 1] == '\\'))
            c = s[++j];
        buf[(*bn)++] = c;
        j++;
    }
    j++;
    if (j < len && !is_blank(s[j]))
        return PG_CONFIG_EAFTERQUOTE;
    *i = j;
    return 0;
}

static int split_plain(const char *s, size_t len, size_t *i, char *buf, size_t *bn)
{
    size_t j = *i;
    for (; j < len && !is_blank(s[j]); j++) {
        if (s[j] == '"')
            return PG_CONFIG_ESTRAYQUOTE;
        if (is_ctrl(s[j]))
            return PG_CONFIG_ECTRL;
        buf[(*bn)++] = s[j];
    }
    *i = j;
    return 0;
}

int pg_config_split(const char *text, size_t len, bool comments, struct pg_strlist *out)
{
    struct pg_strlist words = {0};
    char *buf = pg_xmalloc(len + 1);   /* a word is never longer than the line */
    size_t i = 0;
    int rc = 0;
    for (;;) {
        while (i < len && is_blank(text[i]))
            i++;
        if (i >= len || (comments && text[i] == '#'))
            break;
        size_t bn = 0;
        rc = text[i] == '"' ? split_quoted(text, len, &i, buf, &bn)
                            : split_plain(text, len, &i, buf, &bn);
        if (rc < 0)
            break;
        buf[bn] = '\0';
        pg_strlist_push(&words, buf);
    }
    free(buf);
    if (rc < 0) {
        pg_strlist_clear(&words);
        return rc;
    }
    for (size_t k = 0; k < words.n; k++) {
        out->v = pg_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = words.v[k];
    }
    free(words.v);
    return 0;
}

bool pg_config_needs_quotes(const char *w)
{
    if (!*w || *w == '#')
        return true;
    for (; *w; w++)
        if (is_blank(*w) || *w == '"')
            return true;
    return false;
}

char *pg_config_quote(const char *w)
{
    if (!pg_config_needs_quotes(w))
        return pg_xstrdup(w);
    char *q = pg_xmalloc(2 * strlen(w) + 3), *p = q;
    *p++ = '"';
    for (; *w; w++) {
        if (*w == '"' || *w == '\\')
            *p++ = '\\';
        *p++ = *w;
    }
    *p++ = '"';
    *p = '\0';
    return q;
}

/* --------------------------------------------------------------- values */

/* Leading decimal digits of s into *out; returns the number of digits, or
 * 0 for none or overflow. */
static size_t parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return i;
}

static bool mul_ok(uint64_t v, uint64_t m, uint64_t *out)
{
    if (m && v > UINT64_MAX / m)
        return false;
    *out = v * m;
    return true;
}

bool pg_config_parse_uint(const char *s, uint64_t *out)
{
    uint64_t v;
    size_t n = parse_digits(s, &v);
    if (!n || s[n])
        return false;
    *out = v;
    return true;
}

bool pg_config_parse_duration(const char *s, uint64_t *ms)
{
    uint64_t v;
    size_t n = parse_digits(s, &v);
    if (!n)
        return false;
    const char *u = s + n;
    uint64_t mul;
    if (!*u || strcmp(u, "s") == 0)
        mul = 1000;
    else if (strcmp(u, "ms") == 0)
        mul = 1;
    else if (strcmp(u, "m") == 0)
        mul = 60 * 1000;
    else if (strcmp(u, "h") == 0)
        mul = 3600 * 1000;
    else
        return false;
    return mul_ok(v, mul, ms);
}

bool pg_config_parse_size(const char *s, uint64_t *bytes)
{
    uint64_t v;
    size_t n = parse_digits(s, &v);
    if (!n)
        return false;
    const char *u = s + n;
    unsigned shift;
    if (!*u)
        shift = 0;
    else if (u[1])
        return false;
    else if (*u == 'k' || *u == 'K')
        shift = 10;
    else if (*u == 'm' || *u == 'M')
        shift = 20;
    else if (*u == 'g' || *u == 'G')
        shift = 30;
    else
        return false;
    return mul_ok(v, (uint64_t)1 << shift, bytes);
}

bool pg_config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < PG_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

void pg_config_format_duration(uint64_t ms, char *buf, size_t cap)
{
    if (ms && ms % 3600000 == 0)
        snprintf(buf, cap, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms && ms % 60000 == 0)
        snprintf(buf, cap, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, cap, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, cap, "%llums", (unsigned long long)ms);
}

void pg_config_format_size(uint64_t b, char *buf, size_t cap)
{
    static const char units[] = "GMk";
    for (int i = 0; i < 3; i++) {
        unsigned shift = 30 - 10 * (unsigned)i;
        uint64_t m = (uint64_t)1 << shift;
        if (b && b % m == 0) {
            snprintf(buf, cap, "%llu%c", (unsigned long long)(b >> shift), units[i]);
            return;
        }
    }
    snprintf(buf, cap, "%llu", (unsigned long long)b);
}

/* ------------------------------------------------------------ addresses */

static bool parse_port(const char *s, uint16_t *port)
{
    uint64_t v;
    if (!pg_config_parse_uint(s, &v) || v < 1 || v > 65535 || strlen(s) > 5)
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool is_hostname(const char *h)
{
    size_t n = strlen(h);
    if (!n || n > 253 || h[0] == '-' || h[0] == '.' || h[n - 1] == '-')
        return false;
    bool all_ipv4_chars = true;
    for (const char *p = h; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
        if (!isdigit((unsigned char)*p) && *p != '.')
            all_ipv4_chars = false;
        if (*p == '.' && p[1] == '.')
            return false;
    }
    if (all_ipv4_chars) {
        struct in_addr a;
        return inet_pton(AF_INET, h, &a) == 1;
    }
    return true;
}

/* "host:port" or "[v6]:port" into host (no brackets) and port. */
static bool parse_hostport(const char *s, char *host, size_t hostcap, uint16_t *port,
                           bool port_optional, uint16_t def_port, const char **why)
{
    const char *colon;
    size_t hn;
    const char *h = s;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return *why = "missing ']' after an IPv6 address", false;
        h = s + 1;
        hn = (size_t)(rb - h);
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] && !colon)
            return *why = "expected ':port' after ']'", false;
    } else {
        colon = strrchr(s, ':');
        hn = colon ? (size_t)(colon - s) : strlen(s);
        if (memchr(s, ':', hn))
            return *why = "an IPv6 address needs brackets, as in [::1]:8080", false;
    }
    if (hn == 0 || hn >= hostcap)
        return *why = "missing or overlong host", false;
    memcpy(host, h, hn);
    host[hn] = '\0';
    if (*s == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return *why = "not an IPv6 address inside [ ]", false;
    } else if (!is_hostname(host)) {
        return *why = "not a valid host name or IPv4 address", false;
    }
    if (!colon) {
        if (!port_optional)
            return *why = "missing ':port'", false;
        *port = def_port;
        return true;
    }
    if (!parse_port(colon + 1, port))
        return *why = "port must be a number from 1 to 65535", false;
    return true;
}

static bool parse_unix_path(const char *p, char *out, size_t cap, const char **why)
{
    if (*p != '/')
        return *why = "a unix socket path must be absolute", false;
    if (strlen(p) >= cap)
        return *why = "unix socket path too long", false;
    strcpy(out, p);
    return true;
}

bool pg_config_parse_addr(const char *text, struct pg_addr *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (strncmp(text, "tls:", 4) == 0) {
        out->tls = true;
        text += 4;
    }
    if (strncmp(text, "unix:", 5) == 0) {
        out->is_unix = true;
        return parse_unix_path(text + 5, out->path, sizeof out->path, why);
    }
    return parse_hostport(text, out->host, sizeof out->host, &out->port, false, 0, why);
}

bool pg_config_parse_cidr(const char *text, struct pg_cidr *out, const char **why)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t hn = slash ? (size_t)(slash - text) : strlen(text);
    memset(out, 0, sizeof *out);
    if (hn == 0 || hn >= sizeof host)
        return *why = "not an IP address", false;
    memcpy(host, text, hn);
    host[hn] = '\0';
    unsigned maxp;
    if (inet_pton(AF_INET, host, out->addr) == 1)
        out->family = AF_INET, maxp = 32;
    else if (inet_pton(AF_INET6, host, out->addr) == 1)
        out->family = AF_INET6, maxp = 128;
    else
        return *why = "not an IP address", false;
    uint64_t p = maxp;
    if (slash && (!pg_config_parse_uint(slash + 1, &p) || p > maxp || strlen(slash + 1) > 3))
        return *why = maxp == 32 ? "prefix length must be 0 to 32" : "prefix length must be 0 to 128",
               false;
    out->prefix = (unsigned)p;
    for (unsigned bit = out->prefix; bit < maxp; bit++)
        out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    return true;
}

bool pg_cidr_contains(const struct pg_cidr *c, int family, const void *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *a = addr;
    if (family == AF_INET6 && c->family == AF_INET && memcmp(a, mapped, 12) == 0) {
        family = AF_INET;
        a += 12;
    }
    if (family != c->family)
        return false;
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(a, c->addr, full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff00u >> rest);
    return (a[full] & mask) == c->addr[full];
}

static bool parse_db(const char *s, unsigned *db, const char **why)
{
    uint64_t v;
    if (!pg_config_parse_uint(s, &v) || v > 65535 || strlen(s) > 5)
        return *why = "redis db must be a number from 0 to 65535", false;
    *db = (unsigned)v;
    return true;
}

static bool parse_redis_tcp(const char *s, struct pg_store_url *out, const char **why)
{
    char hp[300];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n >= sizeof hp)
        return *why = "host too long", false;
    memcpy(hp, s, n);
    hp[n] = '\0';
    out->kind = PG_STORE_REDIS_TCP;
    if (!parse_hostport(hp, out->host, sizeof out->host, &out->port, true, 6379, why))
        return false;
    return !slash || !slash[1] || parse_db(slash + 1, &out->db, why);
}

static bool parse_redis_unix(const char *s, struct pg_store_url *out, const char **why)
{
    char path[sizeof out->path + 1];
    const char *q = strchr(s, '?');
    size_t n = q ? (size_t)(q - s) : strlen(s);
    if (n >= sizeof path)
        return *why = "unix socket path too long", false;
    memcpy(path, s, n);
    path[n] = '\0';
    out->kind = PG_STORE_REDIS_UNIX;
    if (!parse_unix_path(path, out->path, sizeof out->path, why))
        return false;
    if (!q)
        return true;
    if (strncmp(q, "?db=", 4) != 0)
        return *why = "expected '?db=N' after the socket path", false;
    return parse_db(q + 4, &out->db, why);
}

bool pg_config_parse_store(const char *text, struct pg_store_url *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (strcmp(text, "memory") == 0)
        return out->kind = PG_STORE_MEMORY, true;
    if (strncmp(text, "redis://", 8) == 0)
        return parse_redis_tcp(text + 8, out, why);
    if (strncmp(text, "redis+unix:", 11) == 0)
        return parse_redis_unix(text + 11, out, why);
    if (strncmp(text, "rediss://", 9) == 0) {
        *why = "rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS; use redis:// "
               "on a private network, redis+unix:, or a TLS tunnel";
        return false;
    }
    *why = "expected memory, redis://host:port/db or redis+unix:/path?db=N";
    return false;
}
