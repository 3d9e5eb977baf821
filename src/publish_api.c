/* publish_api.c — POST (publish), GET (channel info) and DELETE on
 * /pub/<channels>, answering with the JSON shapes of the API contract. */
#include "publish_api.h"
#include "buf.h"
#include "hub.h"
#include "names.h"
#include "publish.h"
#include "router.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

#define JSON "application/json"

static void do_publish(struct pg_request *r, const char *rest)
{
    char event[PG_EVENT_MAX * 3 + 1];
    const char *ev = NULL;
    size_t ev_len = 0;
    const struct pg_http_header *h = pg_http_header_find(r->head, "X-Event");
    if (h) {
        ev = h->value;
        ev_len = h->value_len;
    } else {
        ssize_t n = pg_req_query(r, "event", event, sizeof event);
        if (n == -2 || n == 0) {
            pg_req_error(r, 400, PG_EVENT_RULE);
            return;
        }
        if (n > 0) {
            ev = event;
            ev_len = (size_t)n;
        }
    }
    if (h && ev_len == 0) {
        pg_req_error(r, 400, PG_EVENT_RULE);
        return;
    }
    /* a bridge draining its spool from another host names each entry */
    char dedup[128];
    const struct pg_http_header *dk = pg_http_header_find(r->head, "X-Pushgate-Dedup-Key");
    if (dk && (dk->value_len == 0 || dk->value_len >= sizeof dedup)) {
        pg_req_error(r, 400, "X-Pushgate-Dedup-Key must be 1-127 bytes");
        return;
    }
    if (dk) {
        memcpy(dedup, dk->value, dk->value_len);
        dedup[dk->value_len] = '\0';
    }
    struct pg_publish_req req = {
        .dedup_key = dk ? dedup : NULL,
        .channels = rest, .channels_len = strlen(rest),
        .event = ev, .event_len = ev_len,
        .body = r->body, .body_len = r->body_len,
        .origin = PG_PUB_ORIGIN_API,
    };
    char *reply = NULL;
    int status = pg_publish(&req, &reply);
    pg_req_respond(r, status, JSON, "Cache-Control: no-store\r\n", reply, strlen(reply));
    free(reply);
}

static void do_info(struct pg_request *r, const char *rest)
{
    size_t len = strlen(rest);
    if (!pg_channel_name_valid(rest, len)) {
        pg_req_error(r, 400, PG_CHANNEL_RULE " (GET takes one channel)");
        return;
    }
    struct pg_channel_info info;
    if (!pg_hub_channel_info(rest, len, &info)) {
        const char *store_err = pg_hub_store_error();
        pg_req_error(r, store_err ? 503 : 404, store_err ? store_err : "no such channel");
        return;
    }
    struct pg_buf b = {0};
    pg_buf_adds(&b, "{\"channel\":");
    pg_buf_json_str(&b, rest, len);
    pg_buf_addf(&b, ",\"messages\":%llu,\"subscribers\":%llu,\"last_id\":",
                (unsigned long long)info.messages, (unsigned long long)info.subscribers);
    if (info.last_id[0])
        pg_buf_json_str(&b, info.last_id, strlen(info.last_id));
    else
        pg_buf_adds(&b, "null");
    pg_buf_adds(&b, "}\n");
    pg_req_respond(r, 200, JSON, "Cache-Control: no-store\r\n", b.p, b.len);
    pg_buf_free(&b);
}

static void do_delete(struct pg_request *r, const char *rest)
{
    const char *names[PG_SUB_MAX_CHANNELS];
    size_t lens[PG_SUB_MAX_CHANNELS];
    const char *why = NULL;
    int n = pg_channel_list_split(rest, strlen(rest), names, lens, PG_SUB_MAX_CHANNELS, &why);
    if (n < 0) {
        pg_req_error(r, 400, why);
        return;
    }
    int found = 0;
    for (int i = 0; i < n; i++)
        found += pg_hub_delete(names[i], lens[i]);
    if (!found) {
        const char *store_err = pg_hub_store_error();
        pg_req_error(r, store_err ? 503 : 404, store_err ? store_err : "no such channel");
        return;
    }
    pg_req_respond(r, 204, NULL, NULL, NULL, 0);
}

void pg_publish_api(struct pg_request *r, const char *rest)
{
    const char *m = r->head->method;
    size_t ml = r->head->method_len;
    if (pg_view_eq(m, ml, "POST") || pg_view_eq(m, ml, "PUT"))
        do_publish(r, rest);
    else if (pg_view_eq(m, ml, "GET") || pg_view_eq(m, ml, "HEAD"))
        do_info(r, rest);
    else if (pg_view_eq(m, ml, "DELETE"))
        do_delete(r, rest);
    else
        pg_req_respond(r, 405, "application/json", "Allow: GET, POST, DELETE\r\n",
                       "{\"error\":\"use POST, GET or DELETE\"}\n", 35);
}
