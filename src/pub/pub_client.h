/* pub_client.h — a small blocking HTTP/1.1 client for pushgated's publish
 * listener, shared by pushgate-pub and pushgate-fcgi (both are plain
 * blocking programs: one request per call, one connection per request).
 *
 * Error style: start-up style (an error buffer and -1). A return of 0 means
 * "pushgated answered" whatever the status; -1 means no answer (connect
 * refused, socket missing, timeout, garbled reply), which callers treat as
 * "daemon away" (the bridge spools, pushgate-pub exits 3). */
#ifndef PG_PUB_CLIENT_H
#define PG_PUB_CLIENT_H

#include <stddef.h>
#include <stdbool.h>

/* Where pushgated listens: "unix:/path", "/path", "host:port",
 * "[v6addr]:port" or "http://host:port". */
struct pg_pub_target {
    bool is_unix;
    char *path;         /* unix socket path (is_unix) */
    char *host;         /* host name or address, without brackets */
    char *port;
};

/* Parses spec into *t (owned strings; free with pg_pub_target_free).
 * Returns 0 or -1 with a sentence in err. */
int pg_pub_target_parse(const char *spec, struct pg_pub_target *t, char *err, size_t errlen);
void pg_pub_target_free(struct pg_pub_target *t);
/* True when the target is on this host (unix socket or a loopback host). */
bool pg_pub_target_is_local(const struct pg_pub_target *t);

struct pg_pub_msg {
    const char *channels;   /* comma-separated; percent-encoded by the client */
    const char *event;      /* X-Event, or NULL */
    const char *secret;     /* Authorization: Bearer, or NULL */
    const char *dedup_key;  /* X-Pushgate-Dedup-Key, or NULL */
    const void *body;
    size_t body_len;
};

struct pg_pub_reply {
    int status;             /* HTTP status */
    char *body;             /* NUL-terminated reply body (owned) */
    size_t body_len;
    char *content_type;     /* owned, or NULL */
};

/* POSTs msg to /pub/<channels>. Waits at most timeout_ms in total.
 * Returns 0 with *reply filled (free with pg_pub_reply_free), or -1 with a
 * sentence in err when no HTTP answer arrived. */
int pg_pub_post(const struct pg_pub_target *t, const struct pg_pub_msg *msg,
                int timeout_ms, struct pg_pub_reply *reply, char *err, size_t errlen);
void pg_pub_reply_free(struct pg_pub_reply *r);

/* Percent-encodes a channel list for a URL path: unreserved characters and
 * ',' stay, everything else becomes %XX. Returns a heap string. */
char *pg_pub_encode_channels(const char *channels);

#endif
