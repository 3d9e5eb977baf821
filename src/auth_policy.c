/* auth_policy.c — the pure decisions of authorization (see auth_policy.h):
 * which rule covers a channel, token carriers in header values, secrets
 * compared in constant time, redaction of tokens in log text, and the
 * publish-listen start-up rule. Strings in, answers out; no I/O.
 *
 * Invariants: nothing here keeps a pointer to its inputs past the call;
 * every view handed back points into the caller's buffer.
 *
 * Deliberate departures: redaction decodes parameter names the way the
 * query lookup does ("%74oken" is "token"), so a token cannot reach a log
 * line by spelling its key differently; "localhost" counts as loopback for
 * the publish-listen rule (the listener resolves it through /etc/hosts). */
#include "auth_policy.h"
#include "config.h"
#include "http_parse.h"
#include "jwt.h"
#include "util.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <strings.h>

#define REDACTED "[redacted]"

static const struct pg_rule *rule_match(const struct pg_rulelist *l, const char *channel)
{
    for (size_t i = 0; i < l->n; i++)
        if (fnmatch(l->v[i].glob, channel, 0) == 0)
            return &l->v[i];
    return NULL;
}

int pg_auth_need(const struct pg_config *c, const char *channel, const struct pg_rule **rule,
                 bool *fastcgi)
{
    if (pg_jwt_grants((const char *const *)c->token_channels.v, c->token_channels.n, channel))
        return PG_NEED_TOKEN;
    const struct pg_rule *r = rule_match(&c->auth_url, channel);
    bool fcgi = false;
    if (!r) {
        r = rule_match(&c->auth_fastcgi, channel);
        fcgi = r != NULL;
    }
    if (!r)
        return PG_NEED_NONE;
    if (rule)
        *rule = r;
    if (fastcgi)
        *fastcgi = fcgi;
    return PG_NEED_SESSION;
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

bool pg_auth_bearer(const char *value, size_t len, const char **tok, size_t *tok_len)
{
    if (len < 7 || strncasecmp(value, "Bearer", 6) != 0 || !blank(value[6]))
        return false;
    size_t s = 7, e = len;
    while (s < e && blank(value[s]))
        s++;
    while (e > s && blank(value[e - 1]))
        e--;
    if (s == e)
        return false;
    *tok = value + s;
    *tok_len = e - s;
    return true;
}

bool pg_auth_cookie(const char *value, size_t len, const char *name, const char **val,
                    size_t *val_len)
{
    size_t nl = strlen(name), i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && value[end] != ';')
            end++;
        size_t s = i, e = end;
        while (s < e && blank(value[s]))
            s++;
        while (e > s && blank(value[e - 1]))
            e--;
        if (e - s > nl && memcmp(value + s, name, nl) == 0 && value[s + nl] == '=') {
            s += nl + 1;
            if (e - s >= 2 && value[s] == '"' && value[e - 1] == '"') {
                s++;
                e--;
            }
            *val = value + s;
            *val_len = e - s;
            return true;
        }
        i = end + 1;
    }
    return false;
}

static void sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int ol = 32;
    if (!EVP_Digest(p, n, out, &ol, EVP_sha256(), NULL))
        memset(out, 0, 32);
}

bool pg_auth_secret_eq(const char *given, size_t len, const char *secret)
{
    if (!secret || !*secret)
        return false;
    unsigned char a[32], b[32];
    sha256(given, len, a);
    sha256(secret, strlen(secret), b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

bool pg_auth_addr_is_local(const char *addr)
{
    struct pg_addr a;
    const char *why = NULL;
    if (!pg_config_parse_addr(addr, &a, &why))
        return false;
    if (a.is_unix)
        return true;
    if (strcasecmp(a.host, "localhost") == 0)
        return true;
    unsigned char b[16];
    if (inet_pton(AF_INET, a.host, b) == 1)
        return b[0] == 127;
    if (inet_pton(AF_INET6, a.host, b) == 1) {
        static const unsigned char lo[16] = {[15] = 1};
        static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
        return memcmp(b, lo, 16) == 0 || (memcmp(b, mapped, 12) == 0 && b[12] == 127);
    }
    return false;
}

int pg_auth_check_publish_listen(const struct pg_config *c, char *err, size_t errlen)
{
    if (*c->publish_secret)
        return 0;
    for (size_t i = 0; i < c->publish_listen.n; i++) {
        if (pg_auth_addr_is_local(c->publish_listen.v[i]))
            continue;
        snprintf(err, errlen,
                 "publish_listen %s is reachable from other hosts: set publish_secret "
                 "(publishers then send Authorization: Bearer <secret>) or listen on "
                 "loopback or a unix socket",
                 c->publish_listen.v[i]);
        return -1;
    }
    return 0;
}

/* Is the raw (still encoded) parameter name k[0..n) "token" once decoded? */
static bool is_token_key(const char *k, size_t n)
{
    char dec[32];
    if (n >= sizeof dec)
        return false;
    ssize_t dl = pg_url_decode(k, n, dec, sizeof dec, true);
    return dl == 5 && memcmp(dec, "token", 5) == 0;
}

struct out {
    char *p;
    size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->cap == 0)
        return;
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

size_t pg_auth_redact(const char *in, size_t len, char *out, size_t cap)
{
    struct out o = {out, cap, 0};
    const char *q = memchr(in, '?', len);
    size_t i = q ? (size_t)(q - in) + 1 : len;
    put(&o, in, i);
    while (i < len) {
        size_t end = i;
        while (end < len && in[end] != '&' && in[end] != ';' && in[end] != '#')
            end++;
        const char *eq = memchr(in + i, '=', end - i);
        if (eq && is_token_key(in + i, (size_t)(eq - (in + i)))) {
            put(&o, in + i, (size_t)(eq - (in + i)) + 1);
            put(&o, REDACTED, strlen(REDACTED));
        } else {
            put(&o, in + i, end - i);
        }
        if (end < len && in[end] == '#') {
            put(&o, in + end, len - end);
            break;
        }
        if (end < len)
            put(&o, in + end, 1);
        i = end + 1;
    }
    if (cap)
        out[o.len] = '\0';
    return o.len;
}
