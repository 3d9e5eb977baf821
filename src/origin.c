/* origin.c — the Origin rule and CORS headers (see origin.h for the rule).
 *
 * Invariants: the decision reads only its inputs (pg_origin_decide is pure);
 * an Origin is echoed into Access-Control-Allow-Origin only after it was
 * allowed, and header values never hold CR or LF (the HTTP codec refuses
 * them), so echoing cannot split a response.
 *
 * Deliberate departures: a peer on a unix socket counts as a trusted proxy
 * (only a local process can connect there, in practice the front web
 * server). Origins of schemes other than http and https are never "same
 * host"; they pass only when listed (compared case-insensitively as
 * written) or with "*". */
#include "origin.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "server.h"
#include "util.h"

#include <stdint.h>
#include <strings.h>
#include <sys/socket.h>

/* A parsed scheme://host[:port] or host[:port]. Views into the input. */
struct hostport {
    const char *scheme; size_t scheme_len;   /* NULL for a Host header */
    const char *host; size_t host_len;       /* "[v6]" keeps its brackets */
    int port;                                /* -1: none given */
};

static bool is_ci(const char *p, size_t n, const char *lit)
{
    return pg_view_eq_ci(p, n, lit);
}

static int default_port(const char *scheme, size_t n)
{
    if (is_ci(scheme, n, "http"))
        return 80;
    if (is_ci(scheme, n, "https"))
        return 443;
    return -1;
}

/* host[:port]; false when malformed. */
static bool parse_host(const char *s, size_t n, struct hostport *hp)
{
    size_t end = n;
    hp->port = -1;
    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return false;
        end = (size_t)(rb - s) + 1;
        if (end < n && s[end] != ':')
            return false;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon)
            end = (size_t)(colon - s);
        for (size_t i = 0; i < end; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c <= ' ' || c == '/' || c == '@' || c == '?' || c == '#' || c == '\\' || c >= 0x7f)
                return false;
        }
    }
    if (end == 0)
        return false;
    hp->host = s;
    hp->host_len = end;
    if (end < n) {
        size_t digits = n - end - 1;
        if (digits == 0 || digits > 5)
            return false;
        int port = 0;
        for (size_t i = end + 1; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            port = port * 10 + (s[i] - '0');
        }
        if (port == 0 || port > 65535)
            return false;
        hp->port = port;
    }
    return true;
}

/* scheme://host[:port] with nothing after; false when malformed. */
static bool parse_origin(const char *s, size_t n, struct hostport *hp)
{
    size_t i = 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (i && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))))
        i++;
    if (i == 0 || n - i < 4 || memcmp(s + i, "://", 3) != 0)
        return false;
    hp->scheme = s;
    hp->scheme_len = i;
    return parse_host(s + i + 3, n - i - 3, hp);
}

/* The first element of a comma-separated header value, trimmed. */
static void first_elem(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n, i = 0;
    while (i < len && p[i] != ',')
        i++;
    size_t a = 0, b = i;
    while (a < b && (p[a] == ' ' || p[a] == '\t'))
        a++;
    while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
        b--;
    *s = p + a;
    *n = b - a;
}

static int effective_port(const struct hostport *o)
{
    return o->port >= 0 ? o->port : default_port(o->scheme, o->scheme_len);
}

/* Same host as the request (see origin.h for the port rule)? */
static bool same_host(const struct hostport *o, const struct pg_origin_in *in)
{
    const char *h = in->host, *proto = NULL;
    size_t hl = in->host_len, pl = 0;
    if (default_port(o->scheme, o->scheme_len) < 0)
        return false;
    if (in->via_trusted_proxy && in->xf_host && in->xf_host_len) {
        h = in->xf_host;
        hl = in->xf_host_len;
        first_elem(&h, &hl);
    }
    if (in->via_trusted_proxy && in->xf_proto && in->xf_proto_len) {
        proto = in->xf_proto;
        pl = in->xf_proto_len;
        first_elem(&proto, &pl);
    }
    struct hostport rh;
    if (!h || !parse_host(h, hl, &rh))
        return false;
    if (proto && !(o->scheme_len == pl && strncasecmp(o->scheme, proto, pl) == 0))
        return false;
    if (rh.host_len != o->host_len || strncasecmp(rh.host, o->host, o->host_len) != 0)
        return false;
    int want = rh.port;
    if (want < 0 && proto)
        want = default_port(proto, pl);
    if (want < 0 && !in->via_trusted_proxy)
        want = default_port(o->scheme, o->scheme_len);
    return want < 0 || want == effective_port(o);
}

/* Is the listed entry the same origin as o (raw: the Origin as sent)? */
static bool listed_match(const char *entry, const struct hostport *o, bool o_ok, const char *raw, size_t rl)
{
    size_t el = strlen(entry);
    struct hostport e;
    if (!o_ok || !parse_origin(entry, el, &e) || default_port(e.scheme, e.scheme_len) < 0)
        return el == rl && strncasecmp(entry, raw, rl) == 0;
    return e.scheme_len == o->scheme_len && strncasecmp(e.scheme, o->scheme, e.scheme_len) == 0 &&
           e.host_len == o->host_len && strncasecmp(e.host, o->host, e.host_len) == 0 &&
           effective_port(&e) == effective_port(o);
}

int pg_origin_decide(const struct pg_origin_in *in, const struct pg_strlist *allowed, const char **why)
{
    if (!in->origin)
        return PG_ORIGIN_NONE;
    struct hostport o;
    bool ok = parse_origin(in->origin, in->origin_len, &o);
    bool any = false;
    for (size_t i = 0; allowed && i < allowed->n; i++) {
        if (strcmp(allowed->v[i], "*") == 0)
            any = true;
        else if (listed_match(allowed->v[i], &o, ok, in->origin, in->origin_len))
            return PG_ORIGIN_LISTED;
    }
    if (ok && same_host(&o, in))
        return PG_ORIGIN_SAME;
    if (any)
        return PG_ORIGIN_ANY;
    *why = ok ? "Origin not allowed: it is not this server's host and not in allowed_origins"
              : "Origin not allowed: malformed or opaque Origin (list it in allowed_origins to allow it)";
    return PG_ORIGIN_REFUSED;
}

bool pg_origin_peer_trusted(const struct pg_request *r)
{
    const struct pg_conn *c = r->c;
    if (c->family == AF_UNIX)
        return true;
    const struct pg_strlist *l = &pg_srv.cfg->trusted_proxies;
    for (size_t i = 0; i < l->n; i++) {
        struct pg_cidr cidr;
        const char *why = NULL;
        if (pg_config_parse_cidr(l->v[i], &cidr, &why) && pg_cidr_contains(&cidr, c->family, c->addr))
            return true;
    }
    return false;
}

static void view_of(const struct pg_request *r, const char *name, const char **v, size_t *n)
{
    const struct pg_http_header *h = pg_http_header_find(r->head, name);
    *v = h ? h->value : NULL;
    *n = h ? h->value_len : 0;
}

int pg_origin_check(const struct pg_request *r, const char **why)
{
    struct pg_origin_in in = {0};
    view_of(r, "Origin", &in.origin, &in.origin_len);
    if (!in.origin)
        return PG_ORIGIN_NONE;
    view_of(r, "Host", &in.host, &in.host_len);
    view_of(r, "X-Forwarded-Host", &in.xf_host, &in.xf_host_len);
    view_of(r, "X-Forwarded-Proto", &in.xf_proto, &in.xf_proto_len);
    in.via_trusted_proxy = pg_origin_peer_trusted(r);
    return pg_origin_decide(&in, &pg_srv.cfg->allowed_origins, why);
}

bool pg_origin_allowed(const struct pg_request *r, const char **why)
{
    const char *w = NULL;
    bool ok = pg_origin_check(r, &w) != PG_ORIGIN_REFUSED;
    if (why)
        *why = ok ? NULL : w;
    return ok;
}

void pg_origin_cors_headers(const struct pg_request *r, int verdict, const char *vary_more,
                            struct pg_buf *out)
{
    pg_buf_adds(out, "Vary: Origin");
    if (vary_more) {
        pg_buf_adds(out, ", ");
        pg_buf_adds(out, vary_more);
    }
    pg_buf_adds(out, "\r\n");
    const struct pg_http_header *h = pg_http_header_find(r->head, "Origin");
    if (!h || verdict <= PG_ORIGIN_NONE)
        return;
    pg_buf_adds(out, "Access-Control-Allow-Origin: ");
    pg_buf_add(out, h->value, h->value_len);
    pg_buf_adds(out, "\r\nAccess-Control-Expose-Headers: X-Last-Id, X-Gap\r\n");
    if (verdict == PG_ORIGIN_LISTED)
        pg_buf_adds(out, "Access-Control-Allow-Credentials: true\r\n");
}
