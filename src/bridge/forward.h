/* forward.h — hands one publish to pushgated, or to the spool when
 * pushgated is away, and says what to answer. Shared by plain publishes,
 * webhooks and the tap, so all of them spool the same way. */
#ifndef PG_BRIDGE_FORWARD_H
#define PG_BRIDGE_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

struct pg_bridge_conf;

struct pg_br_answer {
    int status;
    char *body;             /* heap, JSON */
    size_t body_len;
    char *ctype;            /* heap */
    bool spooled;
};

/* Publishes (channels, event, body). may_spool says whether this process
 * may leave the publish in the spool (a same-host daemon drains it, or a
 * FastCGI-mode bridge drains it itself). Always fills *ans (free with
 * pg_br_answer_free): pushgated's answer passed through, 202
 * {"spooled":true}, or 503 {"error":...}. */
void pg_br_forward(const struct pg_bridge_conf *c, bool may_spool, const char *channels,
                   const char *event, const void *body, size_t len, struct pg_br_answer *ans);
void pg_br_answer_free(struct pg_br_answer *a);

/* True when a process in this mode may spool for the configured daemon:
 * a local daemon drains the spool; a remote one is drained by a FastCGI
 * bridge (fastcgi=1) but not by one-shot CGI processes. */
bool pg_br_may_spool(const struct pg_bridge_conf *c, int fastcgi);
/* True when pushgated drains the spool (spool_drainer, or auto and a
 * same-host daemon address). */
bool pg_br_daemon_drains(const struct pg_bridge_conf *c);

#endif
