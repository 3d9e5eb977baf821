/* publish.c — the one publish path: validate (names, event, size), then
 * all-or-nothing append and fan-out through the hub, then the reply JSON.
 * Shared by the HTTP publish API, /pubsub clients and the spool drain.
 *
 * Spool entries carry a unique key; the keys of recently applied entries
 * are remembered (a bounded FIFO set) so re-applying an entry after a
 * crash between "appended" and "entry removed" is a no-op. */
#include "publish.h"
#include "buf.h"
#include "config.h"
#include "hub.h"
#include "message.h"
#include "metrics.h"
#include "names.h"
#include "router.h"
#include "server.h"
#include "util.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>

#define DEDUP_KEYS 4096

static struct {
    char *keys[DEDUP_KEYS];
    size_t next;
} dedup;

static bool dedup_seen(const char *key)
{
    for (size_t i = 0; i < DEDUP_KEYS; i++)
        if (dedup.keys[i] && strcmp(dedup.keys[i], key) == 0)
            return true;
    return false;
}

static void dedup_add(const char *key)
{
    free(dedup.keys[dedup.next]);
    dedup.keys[dedup.next] = pg_xstrdup(key);
    dedup.next = (dedup.next + 1) % DEDUP_KEYS;
}

void pg_publish_dedup_remember(const char *key, void *arg)
{
    dedup_add(key);
}

bool pg_client_publish_allowed(const char *channel)
{
    const struct pg_strlist *g = &pg_srv.cfg->client_publish;
    for (size_t i = 0; i < g->n; i++)
        if (fnmatch(g->v[i], channel, 0) == 0)
            return true;
    return false;
}

static int refuse(int status, const char *why, char **reply)
{
    struct pg_buf b = {0};
    pg_buf_adds(&b, "{\"error\":");
    pg_buf_json_str(&b, why, strlen(why));
    pg_buf_adds(&b, "}\n");
    *reply = pg_buf_steal(&b, NULL);
    pg_metrics_publish_refused(status);
    return status;
}

static void reply_item(struct pg_buf *b, const struct pg_message *m, uint32_t subs)
{
    pg_buf_adds(b, "{\"id\":");
    pg_buf_json_str(b, m->id, m->id_len);
    pg_buf_adds(b, ",\"channel\":");
    pg_buf_json_str(b, m->channel, m->channel_len);
    pg_buf_adds(b, ",\"subscribers\":");
    pg_buf_add_u64(b, subs);
    pg_buf_adds(b, "}");
}

int pg_publish(const struct pg_publish_req *req, char **reply)
{
    const char *names[PG_SUB_MAX_CHANNELS];
    size_t lens[PG_SUB_MAX_CHANNELS];
    const char *why = NULL;
    int n = pg_channel_list_split(req->channels, req->channels_len, names, lens,
                                  PG_SUB_MAX_CHANNELS, &why);
    if (n < 0)
        return refuse(400, why, reply);
    if (req->event && !pg_event_name_valid(req->event, req->event_len))
        return refuse(400, PG_EVENT_RULE, reply);
    if (req->body_len > pg_srv.cfg->max_message_size)
        return refuse(413, "the message is larger than max_message_size", reply);
    if (req->dedup_key && dedup_seen(req->dedup_key)) {
        *reply = pg_xstrdup("{\"duplicate\":true}\n");
        return 200;
    }
    struct pg_message *msgs[PG_SUB_MAX_CHANNELS];
    uint32_t counts[PG_SUB_MAX_CHANNELS];
    for (int i = 0; i < n; i++) {
        msgs[i] = pg_message_new(names[i], lens[i], req->event, req->event ? req->event_len : 0,
                                 req->body, req->body_len);
        if (req->dedup_key)
            msgs[i]->dedup_key = pg_xstrdup(req->dedup_key);
        pg_message_ref(msgs[i]);   /* ours, for the reply */
    }
    int rc = pg_hub_publish(msgs, (size_t)n, counts, &why);
    if (rc != 0) {
        for (int i = 0; i < n; i++) {
            pg_message_unref(msgs[i]);
            pg_message_unref(msgs[i]);
        }
        if (rc == PG_HUB_DUPLICATE) {   /* shared store: applied before, maybe by another node */
            *reply = pg_xstrdup("{\"duplicate\":true}\n");
            return 200;
        }
        return refuse(503, why, reply);
    }
    if (req->dedup_key)
        dedup_add(req->dedup_key);
    pg_metrics_published(req->origin, (uint64_t)n);
    struct pg_buf b = {0};
    uint64_t total = 0;
    if (n == 1) {
        reply_item(&b, msgs[0], counts[0]);
        total = counts[0];
    } else {
        pg_buf_adds(&b, "{\"messages\":[");
        for (int i = 0; i < n; i++) {
            if (i)
                pg_buf_adds(&b, ",");
            reply_item(&b, msgs[i], counts[i]);
            total += counts[i];
        }
        pg_buf_adds(&b, "]}");
    }
    pg_buf_adds(&b, "\n");
    for (int i = 0; i < n; i++)
        pg_message_unref(msgs[i]);
    *reply = pg_buf_steal(&b, NULL);
    return total ? 201 : 202;
}
