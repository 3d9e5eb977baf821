/* auth.c — applies the authorization rule (auth.h) to a live request:
 * finds the token, decides per channel whether it is public, granted by
 * the token, or needs the shop's session check, and asks the cache or
 * starts that check (auth_wait.c parks the connection meanwhile). Also the
 * publish listener's Bearer gate and the JSONP rule.
 *
 * Invariants: a decision reads only the request and the config in force;
 * the token is looked for at most once per request and only when some
 * channel needs authorization; nothing here logs a token, a cookie or an
 * Authorization header (jwt.c's reasons never contain token bytes).
 *
 * Deliberate departures: a token that is present but invalid is ignored on
 * channels that a session rule covers (the session check decides there);
 * the connection's life is limited by the token only when the token granted
 * one of its channels. */
#include "auth.h"
#include "auth_wait.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "jwt.h"
#include "log.h"
#include "names.h"
#include "server.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define TOKEN_COOKIE "pushgate_token"

enum { MODE_SUB = 1, MODE_PUB = 2 };

/* ---- small helpers ---- */

/* Copies the first header called name into out ("" when absent). */
static void header_copy(const struct pg_request *r, const char *name, char *out, size_t cap)
{
    const struct pg_http_header *h = pg_http_header_find(r->head, name);
    snprintf(out, cap, "%.*s", h ? (int)h->value_len : 0, h ? h->value : "");
}

/* Every Cookie header, "; "-joined (HTTP/2 proxies may split them). */
static void cookies(const struct pg_request *r, struct pg_buf *out)
{
    pg_buf_adds(out, "");
    for (size_t i = 0; i < r->head->num_headers; i++) {
        const struct pg_http_header *h = &r->head->headers[i];
        if (!pg_view_eq_ci(h->name, h->name_len, "Cookie") || !h->value_len)
            continue;
        if (out->len)
            pg_buf_adds(out, "; ");
        pg_buf_add(out, h->value, h->value_len);
    }
}

static int deny(struct pg_auth_result *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int deny(struct pg_auth_result *res, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->why, sizeof res->why, fmt, ap);
    va_end(ap);
    res->status = status;
    return PG_AUTH_DENY;
}

/* ---- tokens ---- */

struct token {
    int state;           /* 0 none, 1 valid, -1 present but not valid */
    const char *why;
    struct pg_jwt jwt;
};

static bool cookie_token(const struct pg_request *r, const char **p, size_t *n)
{
    for (size_t i = 0; i < r->head->num_headers; i++) {
        const struct pg_http_header *h = &r->head->headers[i];
        if (pg_view_eq_ci(h->name, h->name_len, "Cookie") &&
            pg_auth_cookie(h->value, h->value_len, TOKEN_COOKIE, p, n))
            return true;
    }
    return false;
}

/* The first of: Authorization: Bearer, ?token=, cookie pushgate_token. */
static void token_load(const struct pg_request *r, struct token *tk)
{
    static char qbuf[PG_JWT_MAX_LEN + 2];
    const char *p = NULL;
    size_t n = 0;
    const struct pg_http_header *h = pg_http_header_find(r->head, "Authorization");
    if (!(h && pg_auth_bearer(h->value, h->value_len, &p, &n))) {
        ssize_t q = pg_req_query(r, "token", qbuf, sizeof qbuf);
        if (q == -2) {
            tk->state = -1;
            tk->why = "malformed or overlong ?token=";
            return;
        }
        if (q >= 0) {
            p = qbuf;
            n = (size_t)q;
        } else if (!cookie_token(r, &p, &n)) {
            return;
        }
    }
    const char *key = pg_srv.cfg->token_secret;
    int rc = pg_jwt_verify(p, n, key, strlen(key), (int64_t)(pg_wall_ms() / 1000),
                           PG_JWT_DEFAULT_LEEWAY, &tk->jwt, &tk->why);
    tk->state = rc == PG_JWT_OK ? 1 : -1;
    if (!*key)
        tk->why = "tokens are not accepted here (no token_secret is set)";
}

static bool token_grants(const struct token *tk, const char *channel, int mode)
{
    if (tk->state != 1)
        return false;
    if ((mode & MODE_SUB) &&
        !pg_jwt_grants((const char *const *)tk->jwt.channels, tk->jwt.n_channels, channel))
        return false;
    if ((mode & MODE_PUB) &&
        !pg_jwt_grants((const char *const *)tk->jwt.publish, tk->jwt.n_publish, channel))
        return false;
    return true;
}

/* pg_now_ms() time at which the token stops verifying. */
static uint64_t token_expiry_ms(const struct token *tk)
{
    int64_t end_ms = (tk->jwt.exp + PG_JWT_DEFAULT_LEEWAY) * 1000;
    int64_t left = end_ms - (int64_t)pg_wall_ms();
    return pg_now_ms() + (uint64_t)(left > 0 ? left : 0);
}

static int token_refusal(const struct token *tk, const char *channel, int mode,
                         struct pg_auth_result *res)
{
    if (tk->state == 0)
        return deny(res, 401, "channel %s needs a token", channel);
    if (tk->state < 0)
        return deny(res, 401, "%s", tk->why);
    const char *what = mode == MODE_PUB ? "publishing to" :
                       mode == MODE_SUB ? "subscribing to" : "subscribing and publishing to";
    return deny(res, 403, "the token does not allow %s channel %s", what, channel);
}

/* ---- which checks a request needs ---- */

static int mode_of(const struct pg_request *r, const struct pg_sub_target *t)
{
    if (!t->pubsub)
        return MODE_SUB;
    if (pg_view_eq(r->head->method, r->head->method_len, "POST"))
        return MODE_PUB;
    if (r->head->upgrade_websocket || pg_http_header_find(r->head, "Upgrade") ||
        pg_http_header_find(r->head, "Sec-WebSocket-Key"))
        return MODE_SUB | MODE_PUB;
    return MODE_SUB;
}

/* The channels of one request that one rule must vouch for. */
struct group {
    const struct pg_rule *rule;
    bool fastcgi;
    struct pg_buf names;     /* ","-joined */
};

static void group_add(struct group *g, size_t *ng, const struct pg_rule *rule, bool fastcgi,
                      const char *name)
{
    size_t i = 0;
    while (i < *ng && g[i].rule != rule)
        i++;
    if (i == *ng) {
        g[i].rule = rule;
        g[i].fastcgi = fastcgi;
        (*ng)++;
    }
    if (g[i].names.len)
        pg_buf_adds(&g[i].names, ",");
    pg_buf_adds(&g[i].names, name);
}

static void group_key(const struct group *g, const char *cookie, const char *origin,
                      uint8_t key[PG_AUTH_KEY_LEN])
{
    const char *parts[] = {
        g->fastcgi ? "fastcgi" : "url", g->rule->glob, g->rule->target,
        g->rule->script ? g->rule->script : "", cookie, origin, g->names.p,
    };
    pg_auth_cache_key(key, parts, PG_ARRAY_LEN(parts));
}

/* Runs the session checks of groups[0..n): cached or already granted ones
 * pass; the first other one is started. */
static int session_checks(struct pg_request *r, struct group *g, size_t n, struct pg_auth_grants *carry,
                          struct pg_auth_result *res)
{
    struct pg_buf cookie = {0};
    cookies(r, &cookie);
    char origin[512], host[256], ua[512], peer[64];
    header_copy(r, "Origin", origin, sizeof origin);
    header_copy(r, "Host", host, sizeof host);
    header_copy(r, "User-Agent", ua, sizeof ua);
    pg_conn_peer(r->c, peer, sizeof peer);
    int verdict = PG_AUTH_ALLOW;
    uint64_t now = pg_now_ms();
    for (size_t i = 0; i < n && verdict == PG_AUTH_ALLOW; i++) {
        uint8_t key[PG_AUTH_KEY_LEN];
        group_key(&g[i], cookie.p, origin, key);
        if (pg_auth_grants_has(carry, key))
            continue;
        if (pg_srv.cfg->auth_cache_ttl_ms && pg_auth_cache_get(key, now))
            continue;
        struct pg_session_query q = {
            .cookie = cookie.p, .origin = origin, .host = host, .user_agent = ua,
            .peer = peer, .channels = g[i].names.p,
        };
        verdict = pg_auth_wait_start(r, g[i].rule, g[i].fastcgi, g[i].names.p, key, &q, carry,
                                     res);
    }
    pg_buf_free(&cookie);
    return verdict;
}

/* ---- entry points ---- */

static int decide(struct pg_request *r, const struct pg_sub_target *t, struct pg_auth_grants *carry,
                  struct pg_auth_result *res)
{
    const struct pg_config *cfg = pg_srv.cfg;
    int mode = mode_of(r, t), verdict = PG_AUTH_ALLOW;
    struct token tk = {0};
    bool loaded = false, used_token = false;
    struct group *groups = pg_xcalloc(t->n ? t->n : 1, sizeof *groups);
    size_t ng = 0;
    for (size_t i = 0; i < t->n && verdict == PG_AUTH_ALLOW; i++) {
        char name[PG_CHANNEL_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)t->lens[i], t->names[i]);
        const struct pg_rule *rule = NULL;
        bool fastcgi = false;
        int need = pg_auth_need(cfg, name, &rule, &fastcgi);
        if (need == PG_NEED_NONE)
            continue;
        if (!loaded) {
            token_load(r, &tk);
            loaded = true;
        }
        if (token_grants(&tk, name, mode))
            used_token = true;
        else if (need == PG_NEED_TOKEN)
            verdict = token_refusal(&tk, name, mode, res);
        else
            group_add(groups, &ng, rule, fastcgi, name);
    }
    if (verdict == PG_AUTH_ALLOW && ng)
        verdict = session_checks(r, groups, ng, carry, res);
    if (verdict == PG_AUTH_ALLOW && used_token)
        res->expires_ms = token_expiry_ms(&tk);
    for (size_t i = 0; i < ng; i++)
        pg_buf_free(&groups[i].names);
    free(groups);
    pg_jwt_free(&tk.jwt);
    return verdict;
}

int pg_auth_check(struct pg_request *r, const struct pg_sub_target *t, struct pg_auth_result *res)
{
    memset(res, 0, sizeof *res);
    const struct pg_config *cfg = pg_srv.cfg;
    if (!cfg->token_channels.n && !cfg->auth_url.n && !cfg->auth_fastcgi.n)
        return PG_AUTH_ALLOW;
    struct pg_auth_grants *carry = NULL;
    struct pg_auth_replay *rp = pg_auth_replay_take(r->c);
    if (rp) {
        if (rp->deny) {
            deny(res, rp->status, "%s", rp->why);
            pg_auth_log_refusal(r->c, "subscription", res->status, res->why);
            return PG_AUTH_DENY;
        }
        carry = &rp->granted;
    }
    int verdict = decide(r, t, carry, res);
    if (verdict == PG_AUTH_DENY)
        pg_auth_log_refusal(r->c, t->pubsub ? "client publish" : "subscription", res->status, res->why);
    return verdict;
}

bool pg_auth_channel_public(const char *channel)
{
    return pg_auth_need(pg_srv.cfg, channel, NULL, NULL) == PG_NEED_NONE;
}

bool pg_auth_publish_gate(const struct pg_request *r)
{
    const char *secret = pg_srv.cfg->publish_secret;
    if (!*secret)
        return true;
    const struct pg_http_header *h = pg_http_header_find(r->head, "Authorization");
    const char *tok;
    size_t tl;
    if (h && pg_auth_bearer(h->value, h->value_len, &tok, &tl) && pg_auth_secret_eq(tok, tl, secret))
        return true;
    const char *why = h ? "wrong publish secret" : "the publish API needs Authorization: Bearer <publish_secret>";
    pg_auth_log_refusal(r->c, "publish API request", 401, why);
    struct pg_buf b = {0};
    pg_buf_adds(&b, "{\"error\":");
    pg_buf_json_str(&b, why, strlen(why));
    pg_buf_adds(&b, "}\n");
    pg_req_respond(r, 401, "application/json", "WWW-Authenticate: Bearer realm=\"pushgate publish\"\r\n",
                   b.p, b.len);
    pg_buf_free(&b);
    return false;
}

void pg_auth_free(void)
{
    pg_auth_cache_clear();
    pg_auth_session_free_all();
}
