/* router.c — dispatch a complete HTTP request by listener, method and path
 * (see router.h). Only routing lives here; each handler is in its module. */
#include "router.h"
#include "access_log.h"
#include "auth.h"
#include "config.h"
#include "metrics_http.h"
#include "fallback.h"
#include "names.h"
#include "publish.h"
#include "publish_api.h"
#include "server.h"
#include "static_files.h"
#include "ws_transport.h"

#include "util.h"

#include <stdio.h>

static pg_route_fn fallback_subscribe, fallback_pubsub_post;

void pg_router_set_fallback(pg_route_fn subscribe, pg_route_fn pubsub_post)
{
    fallback_subscribe = subscribe;
    fallback_pubsub_post = pubsub_post;
}

static bool prefix(const struct pg_request *r, const char *p, const char **rest)
{
    size_t n = strlen(p);
    if (r->path_len < n || memcmp(r->path, p, n) != 0)
        return false;
    *rest = r->path + n;
    return true;
}

static bool is_method(const struct pg_request *r, const char *m)
{
    return pg_view_eq(r->head->method, r->head->method_len, m);
}

/* Parses /sub/<list> or /pubsub/<one>; answers 400/403 itself. */
static bool parse_target(struct pg_request *r, const char *rest, bool pubsub, struct pg_sub_target *t)
{
    const char *why = NULL;
    size_t max = pg_srv.cfg->max_channels_per_subscription;
    if (max == 0 || max > PG_SUB_MAX_CHANNELS)
        max = PG_SUB_MAX_CHANNELS;
    int n = pg_channel_list_split(rest, strlen(rest), t->names, t->lens, max, &why);
    if (n < 0) {
        pg_req_error(r, 400, why);
        return false;
    }
    t->n = (size_t)n;
    t->pubsub = pubsub;
    if (pubsub && n != 1) {
        pg_req_error(r, 400, "/pubsub takes exactly one channel");
        return false;
    }
    return true;
}

static void route_public(struct pg_request *r)
{
    const char *rest;
    struct pg_sub_target t;
    bool pubsub = false;
    if (prefix(r, "/sub/", &rest) || (pubsub = prefix(r, "/pubsub/", &rest))) {
        if (!parse_target(r, rest, pubsub, &t))
            return;
        if (is_method(r, "OPTIONS")) {
            pg_fallback_options(r);
            return;
        }
        if (pubsub) {
            char name[PG_CHANNEL_MAX + 1];
            snprintf(name, sizeof name, "%.*s", (int)t.lens[0], t.names[0]);
            if (!pg_client_publish_allowed(name)) {
                pg_req_error(r, 403, "client publishing is not enabled for this channel (client_publish)");
                return;
            }
        }
        if (r->head->upgrade_websocket || pg_http_header_find(r->head, "Upgrade") ||
            pg_http_header_find(r->head, "Sec-WebSocket-Key")) {
            pg_ws_accept(r, &t);
            return;
        }
        if (pubsub && is_method(r, "POST")) {
            if (fallback_pubsub_post)
                fallback_pubsub_post(r, &t);
            else
                pg_req_error(r, 405, "publishing over POST /pubsub is not available in this build");
            return;
        }
        if (!is_method(r, "GET") && !is_method(r, "HEAD")) {
            pg_req_error(r, 405, "subscribe with GET");
            return;
        }
        if (fallback_subscribe)
            fallback_subscribe(r, &t);
        else
            pg_req_error(r, 406, "only WebSocket subscriptions are available: SSE and long-poll are not in this build");
        return;
    }
    if (is_method(r, "GET") || is_method(r, "HEAD")) {
        if (strcmp(r->path + strspn(r->path, "/"), "dashboard.html") == 0)
            pg_req_error(r, 404, "no such resource");   /* publish listener only */
        else
            pg_static_serve(r);
        return;
    }
    pg_req_error(r, 404, "no such resource");
}

static void route_publish(struct pg_request *r)
{
    const char *rest;
    if (!pg_auth_publish_gate(r))
        return;              /* publish_secret: answered 401 */
    if (prefix(r, "/pub/", &rest)) {
        pg_publish_api(r, rest);
        return;
    }
    if (pg_metrics_route(r))
        return;              /* /metrics, /status, /dashboard */
    pg_req_error(r, 404, "no such resource: the publish API is POST/GET/DELETE /pub/<channel>");
}

void pg_route(struct pg_request *r)
{
    struct pg_access_mark mark;
    pg_access_begin(r, &mark);
    if (r->c->flags & PG_CONN_PUBLISH)
        route_publish(r);
    else
        route_public(r);
    pg_access_end(r, &mark);
}
