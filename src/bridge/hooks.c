/* hooks.c — serves POST <script>/hooks/<route>: verifies the sender's
 * HMAC-SHA256 signature, answers WooCommerce's unsigned save-time ping
 * (webhook_id=N) with exactly 200, maps the JSON body to channels, events
 * and a payload of chosen fields, and publishes through forward.c.
 *
 * Answers: 404 unknown route; 403 route without a secret; 401 missing or
 * bad signature; 400 body not JSON; otherwise 200 {"published":N,...}
 * when every publish was accepted (or spooled), else the first refusal's
 * status and body from pushgated. A publish whose template names a field
 * the body lacks is skipped and logged, never sent half-built. */
#include "bridge/conf.h"
#include "bridge/form.h"
#include "bridge/forward.h"
#include "bridge/hooks.h"
#include "bridge/template.h"
#include "buf.h"
#include "json_read.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static void json_write(struct pg_buf *b, const struct pg_json *v)
{
    switch (v->type) {
    case PG_JSON_NULL: pg_buf_add(b, "null", 4); break;
    case PG_JSON_TRUE: pg_buf_add(b, "true", 4); break;
    case PG_JSON_FALSE: pg_buf_add(b, "false", 5); break;
    case PG_JSON_NUMBER: pg_buf_add(b, v->str, v->len); break;
    case PG_JSON_STRING: pg_buf_json_str(b, v->str, v->len); break;
    case PG_JSON_ARRAY:
    case PG_JSON_OBJECT:
        pg_buf_add(b, v->type == PG_JSON_ARRAY ? "[" : "{", 1);
        for (const struct pg_json *c = v->child; c; c = c->next) {
            if (c != v->child)
                pg_buf_add(b, ",", 1);
            if (v->type == PG_JSON_OBJECT) {
                pg_buf_json_str(b, c->key, c->key_len);
                pg_buf_add(b, ":", 1);
            }
            json_write(b, c);
        }
        pg_buf_add(b, v->type == PG_JSON_ARRAY ? "]" : "}", 1);
        break;
    }
}

/* Follows "a.b.0.c" from root; NULL when absent. */
static const struct pg_json *json_path(const struct pg_json *v, const char *path, size_t n)
{
    size_t i = 0;
    while (v && i <= n) {
        size_t sl = 0;
        while (i + sl < n && path[i + sl] != '.')
            sl++;
        const struct pg_json *c = v->child, *hit = NULL;
        for (size_t idx = 0; c && !hit; c = c->next, idx++) {
            if (v->type == PG_JSON_OBJECT && c->key_len == sl && memcmp(c->key, path + i, sl) == 0)
                hit = c;
            else if (v->type == PG_JSON_ARRAY && sl && sl < 10 && strspn(path + i, "0123456789") >= sl &&
                     strtoul(path + i, NULL, 10) == idx)
                hit = c;
        }
        v = hit;
        i += sl + 1;
        if (i > n)
            return v;
    }
    return v;
}

struct lookup_ctx {
    const struct pg_json *root;
    const struct pg_br_io *io;
    char *tmp;          /* last header name built, freed by the caller */
};

static const char *lookup(void *ud, const char *name, size_t n, size_t *len)
{
    struct lookup_ctx *lc = ud;
    if (n > 7 && memcmp(name, "header.", 7) == 0) {
        free(lc->tmp);
        lc->tmp = pg_xasprintf("HTTP_%.*s", (int)(n - 7), name + 7);
        for (char *p = lc->tmp + 5; *p; p++)
            *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        const char *v = lc->io->param(lc->io->ud, lc->tmp);
        if (v)
            *len = strlen(v);
        return v;
    }
    const struct pg_json *v = json_path(lc->root, name, n);
    if (!v || v->type == PG_JSON_ARRAY || v->type == PG_JSON_OBJECT)
        return NULL;
    if (v->type == PG_JSON_STRING || v->type == PG_JSON_NUMBER) {
        *len = v->len;
        return v->str;
    }
    *len = v->type == PG_JSON_FALSE ? 5 : 4;
    return v->type == PG_JSON_NULL ? "null" : v->type == PG_JSON_TRUE ? "true" : "false";
}

static bool signature_ok(const struct pg_hook_route *r, const char *got, const char *body, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (!got)
        return false;
    if (r->sig_prefix) {
        size_t pl = strlen(r->sig_prefix);
        if (strncmp(got, r->sig_prefix, pl) != 0)
            return false;
        got += pl;
    }
    if (!HMAC(EVP_sha256(), r->secret, (int)strlen(r->secret), (const unsigned char *)body, len,
              mac, &ml))
        return false;
    char want[2 * EVP_MAX_MD_SIZE + 8];
    if (r->sig_enc == PG_HOOK_BASE64) {
        EVP_EncodeBlock((unsigned char *)want, mac, (int)ml);
    } else {
        for (unsigned i = 0; i < ml; i++)
            sprintf(want + 2 * i, "%02x", mac[i]);
        /* hex senders differ in case: compare lower-case */
        char low[2 * EVP_MAX_MD_SIZE + 8];
        size_t gl = strlen(got);
        if (gl >= sizeof low)
            return false;
        for (size_t i = 0; i <= gl; i++)
            low[i] = (char)tolower((unsigned char)got[i]);
        return pg_secret_eq(want, low, gl);
    }
    return pg_secret_eq(want, got, strlen(got));
}

/* WooCommerce's ping when a webhook is saved: "webhook_id=N", unsigned. */
static bool is_woo_ping(const struct pg_br_io *io, const char *body, size_t len)
{
    const char *ct = io->param(io->ud, "CONTENT_TYPE");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return false;
    return len > 11 && len < 40 && memcmp(body, "webhook_id=", 11) == 0 &&
           strspn(body + 11, "0123456789") == len - 11;
}

static char *build_payload(const struct pg_hook_route *r, const struct pg_json *root)
{
    struct pg_buf b = {0};
    pg_buf_add(&b, "{", 1);
    bool first = true;
    for (size_t i = 0; i < r->nfields; i++) {
        const struct pg_json *v = json_path(root, r->fields[i].path, strlen(r->fields[i].path));
        if (!v)
            continue;
        if (!first)
            pg_buf_add(&b, ",", 1);
        first = false;
        pg_buf_json_str(&b, r->fields[i].name, strlen(r->fields[i].name));
        pg_buf_add(&b, ":", 1);
        json_write(&b, v);
    }
    pg_buf_add(&b, "}", 1);
    return pg_buf_steal(&b, NULL);
}

struct outcome {
    int published, spooled, skipped;
    struct pg_br_answer fail;   /* first refusal, status 0 if none */
};

static void publish_one(const struct pg_bridge_ctx *ctx, const struct pg_hook_route *r,
                        const struct pg_hook_pub *p, struct lookup_ctx *lc, const char *payload,
                        size_t plen, struct outcome *o)
{
    char *missing = NULL;
    char *chan = pg_tpl_expand(p->channel, PG_TPL_RAW, lookup, lc, &missing);
    const char *etpl = p->event ? p->event : r->event;
    char *ev = chan && etpl ? pg_tpl_expand(etpl, PG_TPL_RAW, lookup, lc, &missing) : NULL;
    if (!chan || (etpl && !ev) || !*chan || strpbrk(chan, "/\r\n") || (ev && strpbrk(ev, "\r\n"))) {
        pg_log_warn("webhook %s: publish to '%s' skipped: %s%s", r->name, p->channel,
                    missing ? "the body has no field " : "the channel is empty or has '/'",
                    missing ? missing : "");
        o->skipped++;
    } else {
        struct pg_br_answer a;
        pg_br_forward(ctx->conf, ctx->may_spool, chan, ev, payload, plen, &a);
        if (a.status >= 200 && a.status < 300) {
            o->published++;
            o->spooled += a.spooled;
            pg_br_answer_free(&a);
        } else if (o->fail.status) {
            pg_br_answer_free(&a);
        } else {
            o->fail = a;
        }
    }
    free(missing);
    free(chan);
    free(ev);
}

static void map_and_publish(const struct pg_bridge_ctx *ctx, const struct pg_br_io *io,
                            const struct pg_hook_route *r, const char *body, size_t len)
{
    struct pg_json *root = NULL;
    const char *why = NULL;
    if (pg_json_parse(body, len, ctx->conf->max_message_size, 64, &root, &why) != PG_JSON_OK) {
        char *msg = pg_xasprintf("the webhook body is not JSON: %s", why);
        pg_br_reply_error(io, 400, msg);
        free(msg);
        return;
    }
    char *payload = r->payload_all ? NULL : build_payload(r, root);
    struct lookup_ctx lc = {root, io, NULL};
    struct outcome o = {0};
    for (size_t i = 0; i < r->npubs; i++)
        publish_one(ctx, r, &r->pubs[i], &lc, payload ? payload : body,
                    payload ? strlen(payload) : len, &o);
    if (o.fail.status) {
        pg_br_reply(io, o.fail.status, o.fail.ctype, NULL, o.fail.body, o.fail.body_len);
        pg_br_answer_free(&o.fail);
    } else {
        char *res = pg_xasprintf("{\"published\":%d,\"spooled\":%d,\"skipped\":%d}\n",
                                 o.published, o.spooled, o.skipped);
        pg_br_reply(io, 200, "application/json", NULL, res, strlen(res));
        free(res);
    }
    free(lc.tmp);
    free(payload);
    pg_json_free(root);
}

void pg_br_hook_handle(const struct pg_bridge_ctx *ctx, const struct pg_br_io *io,
                       const char *route, const char *body, size_t len)
{
    const struct pg_hook_route *r = pg_hook_map_find(ctx->hooks, route);
    if (!r) {
        pg_br_reply_error(io, 404, "no webhook route by that name");
        return;
    }
    if (!r->secret) {
        pg_log_warn("webhook %s refused: the route has no secret configured", r->name);
        pg_br_reply_error(io, 403, "this webhook route has no secret configured");
        return;
    }
    const char *sig = io->param(io->ud, r->sig_header);
    if (r->type == PG_HOOK_WOOCOMMERCE && !sig && is_woo_ping(io, body, len)) {
        pg_br_reply(io, 200, "application/json", NULL, "{\"ping\":true}\n", 14);
        return;
    }
    if (!signature_ok(r, sig, body, len)) {
        pg_log_notice("webhook %s: %s signature", r->name, sig ? "bad" : "missing");
        pg_br_reply_error(io, 401, sig ? "the webhook signature does not match"
                                       : "the webhook signature header is missing");
        return;
    }
    map_and_publish(ctx, io, r, body, len);
}
