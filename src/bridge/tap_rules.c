/* tap_rules.c — parses tap rules (format in tap_rules.h) with file:line
 * errors, and evaluates them against a finished request. */
#include "bridge/tap_rules.h"
#include "bridge/conf.h"
#include "bridge/form.h"
#include "bridge/template.h"
#include "fcgi_codec.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>


void pg_tap_rules_free(struct pg_tap_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        struct pg_tap_rule *x = &r->v[i];
        free(x->name);
        free(x->method);
        free(x->path);
        free(x->channel);
        free(x->event);
        free(x->payload);
    }
    free(r->v);
    free(r);
}

static int parse_status(const char *v, int *lo, int *hi)
{
    if (strcmp(v, "*") == 0) {
        *lo = 100, *hi = 599;
        return 0;
    }
    if (strlen(v) == 3 && v[0] >= '1' && v[0] <= '5' && strcmp(v + 1, "xx") == 0) {
        *lo = (v[0] - '0') * 100, *hi = *lo + 99;
        return 0;
    }
    char *end;
    long s = strtol(v, &end, 10);
    if (*end || s < 100 || s > 599)
        return -1;
    *lo = *hi = (int)s;
    return 0;
}

static const char *set_tpl(char **field, const char *v)
{
    const char *why = pg_tpl_check(v);
    if (!why) {
        free(*field);
        *field = pg_xstrdup(v);
    }
    return why;
}

static int rule_key(struct pg_tap_rule *r, const char *k, const char *v, const char *name, int line,
                    char *err, size_t errlen)
{
    const char *why = NULL;
    if (strcmp(k, "method") == 0) {
        free(r->method);
        r->method = strcmp(v, "*") ? pg_xstrdup(v) : NULL;
    } else if (strcmp(k, "path") == 0) {
        if (v[0] != '/' && v[0] != '*')
            return pg_bridge_perr(err, errlen, name, line, "path wants a pattern starting with / (or *)");
        free(r->path);
        r->path = pg_xstrdup(v);
    } else if (strcmp(k, "status") == 0) {
        if (parse_status(v, &r->status_lo, &r->status_hi) < 0)
            return pg_bridge_perr(err, errlen, name, line, "status wants 1xx..5xx, a code like 200, or *");
    } else if (strcmp(k, "publish") == 0) {
        why = set_tpl(&r->channel, v);
    } else if (strcmp(k, "event") == 0) {
        why = set_tpl(&r->event, v);
    } else if (strcmp(k, "payload") == 0) {
        why = set_tpl(&r->payload, v);
        r->payload_json = v[0] == '{' || v[0] == '[';
    } else {
        return pg_bridge_perr(err, errlen, name, line, "unknown key '%.60s'", k);
    }
    if (why)
        return pg_bridge_perr(err, errlen, name, line, "%s template: %s", k, why);
    return 0;
}

static int check_rule(const struct pg_tap_rule *r, const char *name, char *err, size_t errlen)
{
    if (!r->path)
        return pg_bridge_perr(err, errlen, name, r->line, "rule %s has no path", r->name);
    if (!r->channel)
        return pg_bridge_perr(err, errlen, name, r->line, "rule %s has no publish line", r->name);
    return 0;
}

struct pg_tap_rules *pg_tap_rules_parse(const char *text, size_t len, const char *name, char *err,
                                        size_t errlen)
{
    struct pg_tap_rules *rs = pg_xcalloc(1, sizeof *rs);
    int line = 0, rc = 0;
    size_t i = 0;
    while (rc == 0 && i < len) {
        line++;
        const char *nl = memchr(text + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - (text + i)) : len - i;
        char *buf = pg_xstrndup(text + i, ll), *p = buf, *end = buf + ll;
        i += ll + 1;
        while (end > p && isspace((unsigned char)end[-1]))
            *--end = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (strlen(buf) != ll) {
            rc = pg_bridge_perr(err, errlen, name, line, "NUL byte in line");
        } else if (*p && *p != '#') {
            char *k = p, *v = p + strcspn(p, " \t");
            if (*v)
                *v++ = '\0';
            while (*v == ' ' || *v == '\t')
                v++;
            if (!*v) {
                rc = pg_bridge_perr(err, errlen, name, line, "'%.60s' has no value", k);
            } else if (strcmp(k, "rule") == 0) {
                if (rs->n)
                    rc = check_rule(&rs->v[rs->n - 1], name, err, errlen);
                rs->v = pg_xrealloc(rs->v, (rs->n + 1) * sizeof *rs->v);
                rs->v[rs->n] = (struct pg_tap_rule){.name = pg_xstrdup(v), .line = line,
                                                    .status_lo = 200, .status_hi = 299};
                rs->n++;
            } else if (!rs->n) {
                rc = pg_bridge_perr(err, errlen, name, line, "'%.60s' before the first rule line", k);
            } else {
                rc = rule_key(&rs->v[rs->n - 1], k, v, name, line, err, errlen);
            }
        }
        free(buf);
    }
    if (rc == 0 && rs->n)
        rc = check_rule(&rs->v[rs->n - 1], name, err, errlen);
    if (rc < 0) {
        pg_tap_rules_free(rs);
        return NULL;
    }
    return rs;
}

struct pg_tap_rules *pg_tap_rules_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = pg_bridge_read_file(path, 1u << 20, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read tap rules %s: %s", path, strerror(errno));
        return NULL;
    }
    struct pg_tap_rules *r = pg_tap_rules_parse(text, len, path, err, errlen);
    free(text);
    return r;
}

/* ---- evaluation ---- */

struct lookup {
    const struct pg_tap_view *v;
    char *owned[16];    /* decoded values kept until the rule is done */
    int nowned;
    char status[8];
};

static const char *keep(struct lookup *l, char *s, size_t *len, size_t n)
{
    if (!s)
        return NULL;
    if (l->nowned == (int)PG_ARRAY_LEN(l->owned)) {
        free(s);
        return NULL;
    }
    l->owned[l->nowned++] = s;
    *len = n;
    return s;
}

static const char *lookup(void *ud, const char *name, size_t n, size_t *len)
{
    struct lookup *l = ud;
    const struct pg_tap_view *v = l->v;
    char key[128];
    bool bad;
    size_t vl;
    if (n == 6 && memcmp(name, "status", 6) == 0) {
        *len = (size_t)snprintf(l->status, sizeof l->status, "%d", v->status);
        return l->status;
    }
    const char *dot = memchr(name, '.', n);
    if (!dot || (size_t)(name + n - dot - 1) >= sizeof key || dot + 1 == name + n)
        return NULL;
    size_t kl = (size_t)(name + n - dot - 1);
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    size_t pl = (size_t)(dot - name);
    if (pl == 4 && memcmp(name, "form", 4) == 0) {
        if (!v->form)
            return NULL;
        char *s = pg_form_get(v->form, v->form_len, key, &vl, &bad);
        return keep(l, s, len, vl);
    }
    if (pl == 5 && memcmp(name, "query", 5) == 0) {
        char *s = pg_form_get(v->query, strlen(v->query), key, &vl, &bad);
        return keep(l, s, len, vl);
    }
    if (pl == 5 && memcmp(name, "param", 5) == 0) {
        const char *s = v->param(v->param_ud, key);
        if (s)
            *len = strlen(s);
        return s;
    }
    if (pl == 6 && memcmp(name, "header", 6) == 0) {
        for (size_t i = 0; i < v->nheaders; i++) {
            if (pg_view_eq_ci(v->headers[i].name, v->headers[i].name_len, key)) {
                *len = v->headers[i].value_len;
                return v->headers[i].value;
            }
        }
    }
    return NULL;
}

static bool matches(const struct pg_tap_rule *r, const struct pg_tap_view *v)
{
    if (v->status < r->status_lo || v->status > r->status_hi)
        return false;
    if (r->method && (!v->method || strcmp(r->method, v->method) != 0))
        return false;
    return fnmatch(r->path, v->path ? v->path : "", 0) == 0;
}

static void fire(const struct pg_tap_rule *r, const struct pg_tap_view *v, pg_tap_emit emit, void *ud)
{
    struct lookup l = {.v = v};
    char *missing = NULL;
    char *chan = pg_tpl_expand(r->channel, PG_TPL_RAW, lookup, &l, &missing);
    char *ev = chan && r->event ? pg_tpl_expand(r->event, PG_TPL_RAW, lookup, &l, &missing) : NULL;
    char *pay = chan && (!r->event || ev) && r->payload
                    ? pg_tpl_expand(r->payload, r->payload_json ? PG_TPL_JSON : PG_TPL_RAW, lookup, &l, &missing)
                    : NULL;
    if (missing || !chan || !*chan || strpbrk(chan, "/\r\n") || (ev && strpbrk(ev, "\r\n")))
        pg_log_warn("tap rule %s did not fire for %s: %s%s%s", r->name, v->path,
                    missing ? "no value for {" : "the channel is empty or has '/'",
                    missing ? missing : "", missing ? "}" : "");
    else
        emit(ud, r->name, chan, ev, pay ? pay : "");
    free(missing);
    free(chan);
    free(ev);
    free(pay);
    for (int i = 0; i < l.nowned; i++)
        free(l.owned[i]);
}

void pg_tap_rules_eval(const struct pg_tap_rules *r, const struct pg_tap_view *v, pg_tap_emit emit,
                       void *ud)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (matches(&r->v[i], v))
            fire(&r->v[i], v, emit, ud);
}
