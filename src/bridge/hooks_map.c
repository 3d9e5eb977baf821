/* hooks_map.c — parses the webhook mapping file (format in hooks.h) with
 * "file:line: problem" errors. Every template is syntax-checked here, so a
 * request can only fail on data (a missing field), never on the file. */
#include "bridge/conf.h"
#include "bridge/hooks.h"
#include "bridge/template.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct parse {
    struct pg_hook_map *m;
    const char *name;
    int line;
    char *err;
    size_t errlen;
};

static int perr(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parse *ps, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->name, ps->line, msg);
    return -1;
}

static void route_free(struct pg_hook_route *r)
{
    free(r->name);
    free(r->secret);
    free(r->sig_header);
    free(r->sig_prefix);
    free(r->event);
    for (size_t i = 0; i < r->npubs; i++) {
        free(r->pubs[i].channel);
        free(r->pubs[i].event);
    }
    free(r->pubs);
    for (size_t i = 0; i < r->nfields; i++) {
        free(r->fields[i].name);
        free(r->fields[i].path);
    }
    free(r->fields);
}

void pg_hook_map_free(struct pg_hook_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        route_free(&m->routes[i]);
    free(m->routes);
    free(m);
}

const struct pg_hook_route *pg_hook_map_find(const struct pg_hook_map *m, const char *name)
{
    for (size_t i = 0; m && i < m->n; i++)
        if (strcmp(m->routes[i].name, name) == 0)
            return &m->routes[i];
    return NULL;
}

/* "X-WC-Webhook-Signature" -> "HTTP_X_WC_WEBHOOK_SIGNATURE" */
static char *cgi_header_name(const char *h)
{
    char *out = pg_xasprintf("HTTP_%s", h);
    for (char *p = out + 5; *p; p++)
        *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    return out;
}

static bool name_chars_ok(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return false;
    return true;
}

static int check_tpl(struct parse *ps, const char *what, const char *t)
{
    const char *why = pg_tpl_check(t);
    return why ? perr(ps, "%s template '%.80s': %s", what, t, why) : 0;
}

static int read_secret_file(struct parse *ps, struct pg_hook_route *r, const char *path)
{
    size_t len;
    char *s = pg_bridge_read_file(path, 4096, &len);
    if (!s)
        return perr(ps, "cannot read secret_file %s: %s", path, strerror(errno));
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        s[--len] = '\0';
    if (!len || strlen(s) != len) {
        free(s);
        return perr(ps, "secret_file %s is empty or binary", path);
    }
    free(r->secret);
    r->secret = s;
    return 0;
}

/* Splits "a b" into a and the rest (b may be NULL). */
static char *split2(char *v)
{
    char *sp = v + strcspn(v, " \t");
    if (!*sp)
        return NULL;
    *sp++ = '\0';
    while (*sp == ' ' || *sp == '\t')
        sp++;
    return *sp ? sp : NULL;
}

static int route_key(struct parse *ps, struct pg_hook_route *r, const char *k, char *v)
{
    if (strcmp(k, "type") == 0) {
        if (strcmp(v, "woocommerce") == 0)
            r->type = PG_HOOK_WOOCOMMERCE;
        else if (strcmp(v, "hmac") == 0)
            r->type = PG_HOOK_HMAC;
        else
            return perr(ps, "type wants woocommerce or hmac (Shopware 6 app webhooks are not supported)");
    } else if (strcmp(k, "secret") == 0) {
        free(r->secret);
        r->secret = pg_xstrdup(v);
    } else if (strcmp(k, "secret_file") == 0) {
        return read_secret_file(ps, r, v);
    } else if (strcmp(k, "signature_header") == 0) {
        if (!name_chars_ok(v, "-_"))
            return perr(ps, "signature_header '%.60s' is not a header name", v);
        free(r->sig_header);
        r->sig_header = cgi_header_name(v);
    } else if (strcmp(k, "signature_encoding") == 0) {
        if (strcmp(v, "hex") && strcmp(v, "base64"))
            return perr(ps, "signature_encoding wants hex or base64");
        r->sig_enc = v[0] == 'h' ? PG_HOOK_HEX : PG_HOOK_BASE64;
    } else if (strcmp(k, "signature_prefix") == 0) {
        free(r->sig_prefix);
        r->sig_prefix = pg_xstrdup(v);
    } else if (strcmp(k, "event") == 0) {
        if (check_tpl(ps, "event", v) < 0)
            return -1;
        free(r->event);
        r->event = pg_xstrdup(v);
    } else if (strcmp(k, "publish") == 0) {
        char *ev = split2(v);
        if (check_tpl(ps, "channel", v) < 0 || (ev && check_tpl(ps, "event", ev) < 0))
            return -1;
        if (ev && split2(ev))
            return perr(ps, "publish wants CHANNEL [EVENT]");
        r->pubs = pg_xrealloc(r->pubs, (r->npubs + 1) * sizeof *r->pubs);
        r->pubs[r->npubs++] = (struct pg_hook_pub){pg_xstrdup(v), ev ? pg_xstrdup(ev) : NULL};
    } else if (strcmp(k, "field") == 0) {
        char *path = split2(v);
        if ((path && split2(path)) || !name_chars_ok(path ? path : v, "_-."))
            return perr(ps, "field wants NAME [JSON.PATH] (letters, digits, _ - .)");
        r->fields = pg_xrealloc(r->fields, (r->nfields + 1) * sizeof *r->fields);
        r->fields[r->nfields++] = (struct pg_hook_field){pg_xstrdup(v), pg_xstrdup(path ? path : v)};
    } else if (strcmp(k, "payload") == 0) {
        if (strcmp(v, "all") && strcmp(v, "fields"))
            return perr(ps, "payload wants fields or all");
        r->payload_all = v[0] == 'a';
    } else {
        return perr(ps, "unknown key '%.60s'", k);
    }
    return 0;
}

static int finish_route(struct parse *ps, struct pg_hook_route *r)
{
    int line = ps->line;
    ps->line = r->line;
    int rc = 0;
    if (!r->type)
        rc = perr(ps, "route %s has no type (woocommerce or hmac)", r->name);
    else if (r->npubs == 0)
        rc = perr(ps, "route %s has no publish line", r->name);
    else if (r->type == PG_HOOK_HMAC && !r->sig_header)
        rc = perr(ps, "route %s (type hmac) needs signature_header", r->name);
    else if (r->type == PG_HOOK_WOOCOMMERCE && (r->sig_header || r->sig_prefix))
        rc = perr(ps, "route %s: woocommerce routes use X-WC-Webhook-Signature (base64)", r->name);
    if (r->type == PG_HOOK_WOOCOMMERCE) {
        free(r->sig_header);
        r->sig_header = pg_xstrdup("HTTP_X_WC_WEBHOOK_SIGNATURE");
        r->sig_enc = PG_HOOK_BASE64;
    }
    if (!r->sig_enc)
        r->sig_enc = PG_HOOK_HEX;
    ps->line = line;
    return rc;
}

static int parse_line(struct parse *ps, char *p)
{
    struct pg_hook_map *m = ps->m;
    char *k = p;
    char *v = split2(p);
    if (!v)
        return perr(ps, "'%.60s' has no value", k);
    if (strcmp(k, "route") == 0) {
        if (m->n && finish_route(ps, &m->routes[m->n - 1]) < 0)
            return -1;
        if (!name_chars_ok(v, "-_.") || strlen(v) > 64)
            return perr(ps, "route name '%.60s' wants letters, digits, - _ . (at most 64)", v);
        if (pg_hook_map_find(m, v))
            return perr(ps, "route %s is defined twice", v);
        m->routes = pg_xrealloc(m->routes, (m->n + 1) * sizeof *m->routes);
        memset(&m->routes[m->n], 0, sizeof *m->routes);
        m->routes[m->n].name = pg_xstrdup(v);
        m->routes[m->n].line = ps->line;
        m->n++;
        return 0;
    }
    if (!m->n)
        return perr(ps, "'%.60s' before the first route line", k);
    return route_key(ps, &m->routes[m->n - 1], k, v);
}

struct pg_hook_map *pg_hook_map_parse(const char *text, size_t len, const char *name,
                                      char *err, size_t errlen)
{
    struct parse ps = {pg_xcalloc(1, sizeof(struct pg_hook_map)), name, 0, err, errlen};
    size_t i = 0;
    int rc = 0;
    while (rc == 0 && i < len) {
        ps.line++;
        const char *nl = memchr(text + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - (text + i)) : len - i;
        char *line = pg_xstrndup(text + i, ll), *p = line, *end = line + ll;
        i += ll + 1;
        if (strlen(line) != ll) {
            rc = perr(&ps, "NUL byte in line");
        } else {
            while (end > p && isspace((unsigned char)end[-1]))
                *--end = '\0';
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p && *p != '#')
                rc = parse_line(&ps, p);
        }
        free(line);
    }
    ps.line++;
    if (rc == 0 && ps.m->n)
        rc = finish_route(&ps, &ps.m->routes[ps.m->n - 1]);
    if (rc < 0) {
        pg_hook_map_free(ps.m);
        return NULL;
    }
    return ps.m;
}

struct pg_hook_map *pg_hook_map_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = pg_bridge_read_file(path, 1u << 20, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read webhook mapping %s: %s", path, strerror(errno));
        return NULL;
    }
    struct pg_hook_map *m = pg_hook_map_parse(text, len, path, err, errlen);
    free(text);
    return m;
}
