/* handler.c — one bridge request: find the path below the script, check who
 * may publish, read the bounded body, decode a form, and hand the publish
 * to forward.c (or the webhook to hooks.c); answer with one CGI response.
 *
 * Paths: "<script>/<ch>[,<ch>...]" publishes; "<script>/" with a form body
 * names the channel in the form; "<script>/hooks/<route>" is a webhook
 * (no channel name contains '/', so the two never collide). The path comes
 * from url_prefix when configured, else PATH_INFO, else REQUEST_URI
 * relative to SCRIPT_NAME (Apache ProxyPass fcgi:// leaves PATH_INFO
 * unset). Bodies are read to EOF when CONTENT_LENGTH is missing (chunked
 * POSTs), bounded by max_message_size either way. */
#include "buf.h"
#include "bridge/handler.h"
#include "bridge/conf.h"
#include "bridge/form.h"
#include "bridge/forward.h"
#include "bridge/hooks.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *status_text(int s)
{
    switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

void pg_br_reply(const struct pg_br_io *io, int status, const char *ctype,
                 const char *extra, const char *body, size_t len)
{
    char *head = pg_xasprintf("Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "Cache-Control: no-store\r\n%s\r\n",
                              status, status_text(status), ctype ? ctype : "application/json",
                              len, extra ? extra : "");
    io->write(io->ud, head, strlen(head));
    if (len)
        io->write(io->ud, body, len);
    free(head);
}

char *pg_br_json_escape(const char *s, size_t n)
{
    struct pg_buf b = {0};
    pg_buf_json_escaped(&b, s, n);
    return pg_buf_steal(&b, NULL);
}

void pg_br_reply_error(const struct pg_br_io *io, int status, const char *msg)
{
    char *e = pg_br_json_escape(msg, strlen(msg));
    char *body = pg_xasprintf("{\"error\":\"%s\"}\n", e);
    pg_br_reply(io, status, "application/json", NULL, body, strlen(body));
    free(e);
    free(body);
}

static const char *param(const struct pg_br_io *io, const char *name)
{
    const char *v = io->param(io->ud, name);
    return v && *v ? v : NULL;
}

/* The request path below the bridge's mount point, percent-decoded, or
 * NULL when REQUEST_URI is outside url_prefix. */
static char *below_script(const struct pg_bridge_conf *c, const struct pg_br_io *io)
{
    const char *uri = param(io, "REQUEST_URI");
    const char *script = param(io, "SCRIPT_NAME");
    const char *pi = param(io, "PATH_INFO");
    size_t ul = uri ? strcspn(uri, "?") : 0;
    if (c->url_prefix) {
        size_t pl = strlen(c->url_prefix);
        if (!uri || ul < pl || memcmp(uri, c->url_prefix, pl) != 0)
            return NULL;
        return pg_form_decode(uri + pl, ul - pl, false, NULL);
    }
    if (pi)
        return pg_xstrdup(pi);
    if (uri && script) {
        size_t sl = strlen(script);
        if (ul >= sl && memcmp(uri, script, sl) == 0)
            return pg_form_decode(uri + sl, ul - sl, false, NULL);
    }
    return pg_xstrdup("");
}

static bool publisher_allowed(const struct pg_bridge_conf *c, const struct pg_br_io *io)
{
    const char *auth = param(io, "HTTP_AUTHORIZATION");
    if (c->bridge_secret && auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *tok = auth + 7;
        while (*tok == ' ')
            tok++;
        if (pg_secret_eq(c->bridge_secret, tok, strlen(tok)))
            return true;
    }
    return pg_bridge_conf_allows(c, param(io, "REMOTE_ADDR"));
}

/* Reads the body, at most max bytes. Returns 0, or the HTTP status to
 * answer (413 too large, 400 unreadable). */
static int read_body(const struct pg_br_io *io, size_t max, char **out, size_t *len)
{
    const char *cl = param(io, "CONTENT_LENGTH");
    *out = NULL;
    *len = 0;
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end || *cl == '-')
            return 400;
        if (n > max)
            return 413;
    }
    size_t cap = 8192, have = 0;
    char *buf = pg_xmalloc(cap + 1);
    for (;;) {
        if (have == cap) {
            if (cap > max)
                break;
            cap = PG_MIN(cap * 2, max + 1);
            buf = pg_xrealloc(buf, cap + 1);
        }
        ssize_t r = io->read(io->ud, buf + have, cap - have);
        if (r < 0) {
            free(buf);
            return 400;
        }
        if (r == 0)
            break;
        have += (size_t)r;
    }
    if (have > max) {
        free(buf);
        return 413;
    }
    buf[have] = '\0';
    *out = buf;
    *len = have;
    return 0;
}

static bool is_form(const struct pg_br_io *io)
{
    const char *ct = param(io, "CONTENT_TYPE");
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
            return false;
    return true;
}

static void publish(const struct pg_bridge_ctx *ctx, const struct pg_br_io *io, const char *path,
                    char *body, size_t len)
{
    char *chan = NULL, *event = NULL, *data = NULL;
    size_t cl = 0, el = 0, dl = len;
    bool bad = false;
    const char *msg = NULL;
    if (is_form(io)) {
        chan = pg_form_get(body, len, "channel", &cl, &bad);
        bool b2, b3;
        event = pg_form_get(body, len, "event", &el, &b2);
        data = pg_form_get(body, len, "data", &dl, &b3);
        if (bad || b2 || b3)
            msg = "the form has a malformed %-escape";
        else if (!data)
            msg = "the form has no data field";
        else if (chan && *path)
            msg = "the channel is named both in the URL and in the form";
    }
    if (!msg && !chan)
        chan = pg_xstrdup(path), cl = strlen(path);
    if (!msg && !event && param(io, "HTTP_X_EVENT"))
        event = pg_xstrdup(param(io, "HTTP_X_EVENT")), el = strlen(event);
    if (!msg && !name_ok(chan, cl))
        msg = cl ? "the channel name contains a control character or '/'" : "no channel given";
    if (!msg && event && !name_ok(event, el))
        msg = "the event name contains a control character";
    if (msg) {
        pg_br_reply_error(io, 400, msg);
    } else {
        struct pg_br_answer a;
        pg_br_forward(ctx->conf, ctx->may_spool, chan, event, data ? data : body, dl, &a);
        pg_br_reply(io, a.status, a.ctype, NULL, a.body, a.body_len);
        pg_br_answer_free(&a);
    }
    free(chan);
    free(event);
    free(data);
}

/* A CGI program that answers without reading the request body makes
 * Apache's mod_cgid cut the answer short (broken pipe on the body), so
 * before an early refusal a CGI-mode bridge reads and drops the body, up
 * to a bound. libfcgi does this itself in FastCGI mode. */
static void drain_body(const struct pg_br_io *io)
{
    char buf[16384];
    size_t total = 0;
    if (io->fastcgi)
        return;
    while (total < ((size_t)8 << 20)) {
        ssize_t r = io->read(io->ud, buf, sizeof buf);
        if (r <= 0)
            break;
        total += (size_t)r;
    }
}

void pg_bridge_handle(const struct pg_bridge_ctx *ctx, const struct pg_br_io *io)
{
    const struct pg_bridge_conf *c = ctx->conf;
    char *path = below_script(c, io);
    const char *method = param(io, "REQUEST_METHOD");
    if (!path) {
        drain_body(io);
        pg_br_reply_error(io, 404, "this URL is outside the bridge's url_prefix");
        return;
    }
    pg_log_debug("%s %s (SCRIPT_NAME %s, PATH_INFO %s) -> '%s'", method ? method : "-",
                 param(io, "REQUEST_URI") ? param(io, "REQUEST_URI") : "-",
                 param(io, "SCRIPT_NAME") ? param(io, "SCRIPT_NAME") : "-",
                 param(io, "PATH_INFO") ? param(io, "PATH_INFO") : "-", path);
    const char *p = path[0] == '/' ? path + 1 : path;
    bool hook = strncmp(p, "hooks/", 6) == 0;
    bool refused = !method || strcmp(method, "POST") != 0 || (!hook && strchr(p, '/')) ||
                   (!hook && !publisher_allowed(c, io));
    if (refused)
        drain_body(io);
    if (!method || strcmp(method, "POST") != 0) {
        static const char only_post[] = "{\"error\":\"only POST publishes\"}\n";
        pg_br_reply(io, 405, "application/json", "Allow: POST\r\n", only_post,
                    sizeof only_post - 1);
    } else if (!hook && strchr(p, '/')) {
        pg_br_reply_error(io, 404, "no such path: a channel name has no '/'");
    } else if (!hook && !publisher_allowed(c, io)) {
        pg_log_notice("publish refused from %s", param(io, "REMOTE_ADDR") ? param(io, "REMOTE_ADDR") : "?");
        pg_br_reply_error(io, 403, "this address may not publish (bridge_allow), and no valid bridge_secret was given");
    } else {
        char *body;
        size_t len;
        int st = read_body(io, c->max_message_size, &body, &len);
        if (st)
            drain_body(io);
        if (st == 413)
            pg_br_reply_error(io, 413, "the message is larger than max_message_size");
        else if (st)
            pg_br_reply_error(io, 400, "the request body could not be read");
        else if (hook)
            pg_br_hook_handle(ctx, io, p + 6, body, len);
        else
            publish(ctx, io, p, body, len);
        free(body);
    }
    free(path);
}
