/* auth_wait.c — parks a connection while the shop's session check runs,
 * then re-dispatches the saved request with pg_http_replay (auth_wait.h).
 *
 * The waiting handler buffers whatever else the client sends (bounded by
 * max_header_size + max_message_size), closes when the client goes away
 * (which cancels the check), and answers 503 when the check outlives its
 * time (header_timeout, at most 10 s). At most MAX_PENDING checks run at
 * once; past that a subscriber gets 503 at once.
 *
 * Replay: the answer is handed to the one pg_auth_check call that the
 * replayed request makes (`replay`, set only during pg_http_replay): a
 * grant for the checked key (so it works with auth_cache_ttl 0), or the
 * refusal itself (a refusal is never cached, and so cannot loop). Channels
 * under several rules are checked one rule at a time; the grants collected
 * so far travel with each replay.
 *
 * Invariants: a connection is in the waiting handler exactly while its
 * `struct wait` exists and c->proto points to it; n_pending counts the
 * checks started and not yet answered or cancelled. Refusals and failed
 * checks are logged at debug each and summarized once per RATELOG_MS;
 * nothing logs a cookie.
 *
 * Deliberate departure: no key of its own bounds a check; header_timeout
 * does (capped at 10 s), since the client's request is not answered until
 * the check is. */
#include "conn_limits.h"
#include "auth_wait.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "names.h"
#include "server.h"
#include "utf8.h"
#include "util.h"
#include "workers.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_PENDING 1024
#define TIMEOUT_MAX_MS 10000
#define RATELOG_MS 10000
#define SHORT_BODY 120

struct wait {
    struct pg_conn *c;
    char *raw;                       /* the saved request */
    size_t raw_len;
    struct pg_auth_session *sess;    /* NULL once answered */
    uint8_t key[PG_AUTH_KEY_LEN];
    uint64_t deadline_ms;
    struct pg_auth_grants granted;
    char label[PG_CHANNEL_MAX + 16]; /* "auth_url order-*": for logs */
};

static struct {
    struct pg_conn *c;               /* the connection being replayed, or NULL */
    bool taken;
    struct pg_auth_replay answer;
} replay;

static size_t n_pending;

/* Counts events and says when one line should summarize them. */
struct ratelog {
    uint64_t count, since_ms;
};

static struct ratelog refusals, failures;

/* ---- grants, replay, logs ---- */

bool pg_auth_grants_has(const struct pg_auth_grants *g, const uint8_t *key)
{
    for (size_t i = 0; g && i < g->n; i++)
        if (memcmp(g->k[i], key, PG_AUTH_KEY_LEN) == 0)
            return true;
    return false;
}

static void grants_add(struct pg_auth_grants *g, const uint8_t *key)
{
    g->k = pg_xrealloc(g->k, (g->n + 1) * sizeof *g->k);
    memcpy(g->k[g->n++], key, PG_AUTH_KEY_LEN);
}

static void grants_free(struct pg_auth_grants *g)
{
    free(g->k);
    g->k = NULL;
    g->n = 0;
}

struct pg_auth_replay *pg_auth_replay_take(const struct pg_conn *c)
{
    if (replay.c != c || replay.taken)
        return NULL;
    replay.taken = true;
    return &replay.answer;
}

/* Counts one event; true (with *n, the events since the last line) when
 * a line is due: the first event, then at most one per RATELOG_MS. */
static bool ratelog_due(struct ratelog *rl, uint64_t *n)
{
    uint64_t now = pg_now_ms();
    rl->count++;
    if (rl->since_ms && now - rl->since_ms < RATELOG_MS)
        return false;
    *n = rl->count;
    rl->count = 0;
    rl->since_ms = now;
    return true;
}

void pg_auth_log_refusal(const struct pg_conn *c, const char *what, int status, const char *why)
{
    pg_limits_count(PG_REFUSE_AUTH);
    char peer[64];
    uint64_t n;
    pg_conn_peer(c, peer, sizeof peer);
    pg_log_debug("conn %llu: %s from %s refused (%d): %s", (unsigned long long)c->id, what, peer,
                 status, why);
    if (ratelog_due(&refusals, &n))
        pg_log_info("auth: %llu refusal(s) since the last report; latest: %s from %s, %d %s",
                    (unsigned long long)n, what, peer, status, why);
}

static void log_failure(const char *label, const char *what, const char *err)
{
    uint64_t n;
    pg_log_debug("auth: session check (%s) %s: %s", label, what, err);
    if (ratelog_due(&failures, &n))
        pg_log_warn("auth: %llu session check(s) failed since the last report; latest (%s) %s: %s",
                    (unsigned long long)n, label, what, err);
}

/* ---- the waiting handler ---- */

static void wait_resolve(struct wait *w, bool refused, int status, const char *why);
static uint64_t check_timeout_ms(void);

static size_t wait_on_data(struct pg_conn *c, uint8_t *data, size_t len)
{
    const struct pg_config *cfg = pg_srv.cfg;
    if (len > cfg->max_header_size + cfg->max_message_size) {
        pg_log_info("conn %llu: too much input while its session check runs, closing",
                    (unsigned long long)c->id);
        pg_conn_close(c);
        return len;
    }
    return 0;    /* keep it: it is replayed after the request */
}

static void wait_on_tick(struct pg_conn *c, uint64_t now)
{
    struct wait *w = c->proto;
    if (!w || now < w->deadline_ms)
        return;
    char err[64];
    snprintf(err, sizeof err, "no answer within %llu ms", (unsigned long long)check_timeout_ms());
    log_failure(w->label, "timed out", err);
    pg_auth_session_cancel(w->sess);
    w->sess = NULL;
    n_pending--;
    wait_resolve(w, true, 503, "session check timed out");
}

static void wait_on_eof(struct pg_conn *c)
{
    pg_conn_close(c);
}

static void wait_on_free(struct pg_conn *c)
{
    struct wait *w = c->proto;
    if (!w)
        return;
    if (w->sess) {
        pg_auth_session_cancel(w->sess);
        n_pending--;
    }
    grants_free(&w->granted);
    free(w->raw);
    free(w);
    c->proto = NULL;
}

static const struct pg_conn_handler wait_handler = {
    .name = "auth-wait",
    .on_data = wait_on_data,
    .on_tick = wait_on_tick,
    .on_eof = wait_on_eof,
    .on_free = wait_on_free,
};

/* Hands the verdict to the replayed request and replays it. */
static void wait_resolve(struct wait *w, bool refused, int status, const char *why)
{
    struct pg_conn *c = w->c;
    char *raw = w->raw;
    size_t len = w->raw_len;
    replay.c = c;
    replay.taken = false;
    replay.answer.deny = refused;
    replay.answer.status = status;
    snprintf(replay.answer.why, sizeof replay.answer.why, "%s", why ? why : "");
    replay.answer.granted = w->granted;
    if (!refused)
        grants_add(&replay.answer.granted, w->key);
    c->proto = NULL;
    free(w);
    pg_http_replay(c, raw, len);
    grants_free(&replay.answer.granted);
    replay.c = NULL;
}

/* The refusal sentence for a non-2xx answer: its body when short and
 * printable, else a generic one. */
static void answer_why(int status, const char *body, size_t len, char *out, size_t cap)
{
    while (len && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' '))
        len--;
    while (len && (body[0] == ' ' || body[0] == '\n' || body[0] == '\r')) {
        body++;
        len--;
    }
    bool ok = len > 0 && len <= SHORT_BODY && pg_utf8_valid(body, len);
    for (size_t i = 0; ok && i < len; i++)
        if ((unsigned char)body[i] < 0x20 || body[i] == 0x7f)
            ok = false;
    if (ok)
        snprintf(out, cap, "%.*s", (int)len, body);
    else
        snprintf(out, cap, "the session check refused (HTTP %d)", status);
}

static int refusal_status(int status)
{
    if (status >= 300 && status < 400)
        return 403;      /* a redirect to a login page: not logged in */
    if (status >= 400 && status < 600 && strcmp(pg_http_reason(status), "Unknown") != 0)
        return status;
    return status >= 400 && status < 500 ? 403 : 502;
}

static void on_answer(void *ud, int outcome, int status, const char *body, size_t len,
                      const char *err)
{
    struct wait *w = ud;
    w->sess = NULL;
    n_pending--;
    if (w->c->flags & PG_CONN_CLOSING)
        return;                  /* wait_on_free cleans up */
    char why[PG_AUTH_WHY_MAX];
    if (pg_srv.stopping) {
        wait_resolve(w, true, 503, "server shutting down");
        return;
    }
    if (outcome == PG_SESSION_ANSWER && status >= 200 && status < 300) {
        uint64_t now = pg_now_ms(), ttl = pg_srv.cfg->auth_cache_ttl_ms;
        if (ttl)
            pg_auth_cache_put(w->key, now + ttl, now);
        wait_resolve(w, false, 0, NULL);
        return;
    }
    if (outcome == PG_SESSION_ANSWER) {
        answer_why(status, body, len, why, sizeof why);
        wait_resolve(w, true, refusal_status(status), why);
    } else if (outcome == PG_SESSION_TIMEOUT) {
        log_failure(w->label, "timed out", err);
        wait_resolve(w, true, 503, "session check timed out");
    } else {
        log_failure(w->label, "failed", err);
        wait_resolve(w, true, 502, "the session check could not be made");
    }
}

static uint64_t check_timeout_ms(void)
{
    uint64_t t = pg_srv.cfg->header_timeout_ms;
    return t > TIMEOUT_MAX_MS ? TIMEOUT_MAX_MS : t < 100 ? 100 : t;
}

int pg_auth_wait_start(struct pg_request *r, const struct pg_rule *rule, bool fastcgi,
                       const char *channels, const uint8_t *key, const struct pg_session_query *q,
                       struct pg_auth_grants *carry, struct pg_auth_result *res)
{
    if (n_pending >= MAX_PENDING) {
        res->status = 503;
        snprintf(res->why, sizeof res->why, "too many session checks in progress: retry later");
        return PG_AUTH_DENY;
    }
    struct wait *w = pg_xcalloc(1, sizeof *w);
    w->c = r->c;
    w->raw = pg_xmalloc(r->raw_len ? r->raw_len : 1);
    memcpy(w->raw, r->raw, r->raw_len);
    w->raw_len = r->raw_len;
    memcpy(w->key, key, PG_AUTH_KEY_LEN);
    snprintf(w->label, sizeof w->label, "%s %s", fastcgi ? "auth_fastcgi" : "auth_url", rule->glob);
    if (carry) {
        w->granted = *carry;
        carry->k = NULL;
        carry->n = 0;
    }
    uint64_t tmo = check_timeout_ms();
    w->deadline_ms = pg_now_ms() + tmo;
    n_pending++;
    r->c->h = &wait_handler;
    r->c->proto = w;
    w->sess = pg_auth_session_start(pg_loop(), rule, fastcgi, q, (int)tmo, on_answer, w);
    pg_log_debug("conn %llu: session check (%s) for %s", (unsigned long long)r->c->id, w->label,
                 channels);
    return PG_AUTH_PENDING;
}
