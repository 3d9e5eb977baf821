/* publish.h — the publish API: validate, append to the store (which assigns
 * ids), fan out, answer. One entry point shared by the HTTP publish
 * listener, /pubsub client publishing and the spool drain, so every path
 * applies the same validation and the same all-or-nothing rule. */
#ifndef PG_PUBLISH_H
#define PG_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_publish_req {
    const char *channels;   /* comma-separated channel list (already percent-decoded) */
    size_t channels_len;
    const char *event;      /* event name or NULL */
    size_t event_len;
    const void *body;
    size_t body_len;
    const char *dedup_key;  /* NUL-terminated unique key (spool entries) or NULL:
                               a publish whose key was already applied is a no-op
                               answered like the first one */
    int origin;             /* PG_PUB_ORIGIN_*: who publishes (for metrics/logs) */
};

enum { PG_PUB_ORIGIN_API = 0, PG_PUB_ORIGIN_CLIENT = 1, PG_PUB_ORIGIN_SPOOL = 2 };

/* Publishes req. Returns the HTTP status (201 when any copy reached a
 * subscriber, 202 when none; 400/413/503 on refusal) and, in *reply, a
 * heap-allocated JSON body (success: the contract's reply; refusal:
 * {"error":"..."}) the caller frees. Nothing is appended when the
 * status is not 2xx (all or nothing). */
int pg_publish(const struct pg_publish_req *req, char **reply);

/* Marks a dedup key as applied (the journal's replay refills the set). */
void pg_publish_dedup_remember(const char *key, void *arg);

/* True when client_publish has a glob matching channel (NUL-terminated). */
bool pg_client_publish_allowed(const char *channel);

#endif
