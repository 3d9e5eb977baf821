/* forward.c — one publish to pushgated or, when it is away, to the spool.
 *
 * Rules (issue 4): a 2xx or 4xx from pushgated passes through unchanged;
 * no answer, or 503, spools the publish (fsync'd before we answer 202
 * {"spooled":true}); while the spool is not empty new publishes are spooled
 * too, so they cannot overtake older ones. Where spooling is not allowed
 * (CGI mode with a remote daemon, or spool off) the caller gets 503. */
#include "bridge/forward.h"
#include "bridge/conf.h"
#include "bridge/io.h"
#include "bridge/spool_dir.h"
#include "log.h"
#include "pub/pub_client.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

bool pg_br_daemon_drains(const struct pg_bridge_conf *c)
{
    if (c->spool_drainer != PG_DRAINER_AUTO)
        return c->spool_drainer == PG_DRAINER_DAEMON;
    struct pg_pub_target t;
    char err[200];
    if (pg_pub_target_parse(c->daemon, &t, err, sizeof err) < 0)
        return false;
    bool local = pg_pub_target_is_local(&t);
    pg_pub_target_free(&t);
    return local;
}

bool pg_br_may_spool(const struct pg_bridge_conf *c, int fastcgi)
{
    return c->spool && (fastcgi || pg_br_daemon_drains(c));
}

static void set_answer(struct pg_br_answer *a, int status, char *body)
{
    a->status = status;
    a->body = body;
    a->body_len = strlen(body);
    a->ctype = pg_xstrdup("application/json");
}

static void error_answer(struct pg_br_answer *a, int status, const char *msg)
{
    char *e = pg_br_json_escape(msg, strlen(msg));
    set_answer(a, status, pg_xasprintf("{\"error\":\"%s\"}\n", e));
    free(e);
}

static void spool(const struct pg_bridge_conf *c, const char *channels, const char *event,
                  const void *body, size_t len, const char *why, struct pg_br_answer *a)
{
    char key[PG_SPOOL_KEY_MAX], err[512];
    if (pg_spool_write(c->spool_dir, channels, event, body, len, key, err, sizeof err) < 0) {
        pg_log_error("publish to %s lost: %s (%s)", channels, err, why);
        error_answer(a, 503, "pushgated is not reachable and the spool cannot be written");
        return;
    }
    pg_log_info("spooled %s for %s (%s)", key, channels, why);
    set_answer(a, 202, pg_xstrdup("{\"spooled\":true}\n"));
    a->spooled = true;
}

void pg_br_forward(const struct pg_bridge_conf *c, bool may_spool, const char *channels,
                   const char *event, const void *body, size_t len, struct pg_br_answer *a)
{
    memset(a, 0, sizeof *a);
    if (may_spool && pg_spool_nonempty(c->spool_dir)) {
        spool(c, channels, event, body, len, "spool not empty", a);
        return;
    }
    struct pg_pub_target t;
    char err[512];
    if (pg_pub_target_parse(c->daemon, &t, err, sizeof err) < 0) {
        pg_log_error("daemon address: %s", err);
        error_answer(a, 503, "the bridge's daemon address is invalid");
        return;
    }
    struct pg_pub_msg m = {.channels = channels, .event = event, .secret = c->publish_secret,
                           .body = body, .body_len = len};
    struct pg_pub_reply r;
    int rc = pg_pub_post(&t, &m, c->daemon_timeout_ms, &r, err, sizeof err);
    pg_pub_target_free(&t);
    if (rc == 0 && r.status != 503) {
        a->status = r.status;
        a->body = r.body;
        a->body_len = r.body_len;
        a->ctype = r.content_type ? r.content_type : pg_xstrdup("application/json");
        return;
    }
    if (rc == 0) {
        snprintf(err, sizeof err, "pushgated answered 503");
        pg_pub_reply_free(&r);
    }
    if (may_spool) {
        spool(c, channels, event, body, len, err, a);
        return;
    }
    pg_log_warn("publish to %s refused: %s", channels, err);
    error_answer(a, 503, "pushgated is not reachable; try again later");
}

void pg_br_answer_free(struct pg_br_answer *a)
{
    free(a->body);
    free(a->ctype);
    memset(a, 0, sizeof *a);
}
