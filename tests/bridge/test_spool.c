/* test_spool.c — the spool format (bridge/spool_dir.c) and pushgated's drain
 * (spool.c) against a scripted pg_publish: order, dedup keys, 4xx moved to
 * rejected/, 503 retried in place, malformed entries, every split point of
 * the entry parser. */
#include "bridge/spool_dir.h"
#include "publish.h"
#include "spool.h"
#include "util.h"
#include "../unit/tap.h"

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- scripted pg_publish ---- */
static char got[64][128];
static char keys_seen[64][PG_SPOOL_KEY_MAX];
static int ngot;
static int fail_503_left;   /* answer 503 this many times first */

int pg_publish(const struct pg_publish_req *req, char **reply)
{
    if (fail_503_left > 0) {
        fail_503_left--;
        *reply = pg_xstrdup("{\"error\":\"store unavailable\"}");
        return 503;
    }
    if (memcmp(req->channels, "bad", 3) == 0) {
        *reply = pg_xstrdup("{\"error\":\"bad channel\"}");
        return 400;
    }
    if (ngot < 64) {
        snprintf(got[ngot], sizeof got[ngot], "%.*s|%.*s|%.*s", (int)req->channels_len,
                 req->channels, (int)req->event_len, req->event ? req->event : "",
                 (int)req->body_len, (const char *)req->body);
        snprintf(keys_seen[ngot], sizeof keys_seen[ngot], "%s", req->dedup_key ? req->dedup_key : "");
        ok(req->origin == PG_PUB_ORIGIN_SPOOL, "origin is spool");
        ngot++;
    }
    *reply = pg_xstrdup("{\"id\":\"1-1\"}");
    return 202;
}

static int count_dir(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        n += de->d_name[0] != '.' && l > sl && strcmp(de->d_name + l - sl, suffix) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static void run_for(struct event_base *b, int ms)
{
    struct timeval tv = {0, ms * 1000};
    event_base_loopexit(b, &tv);
    event_base_dispatch(b);
}

static void test_parse(void)
{
    static const char good[] = "PGSPOOL1\nchannels a,b\nevent ev\nlength 5\n\nhello";
    struct pg_spool_entry e;
    const char *why;
    int rc = pg_spool_parse(good, sizeof good - 1, 100, &e, &why);
    is_int(rc, 0, "parse a good entry");
    ok(strcmp(e.channels, "a,b") == 0 && strcmp(e.event, "ev") == 0 && e.body_len == 5 &&
       memcmp(e.body, "hello", 5) == 0, "fields parsed");
    pg_spool_entry_free(&e);
    int bad_splits = 0;
    for (size_t i = 0; i < sizeof good - 1; i++) {
        char *p = pg_xmalloc(i + 1);    /* exact size so ASan sees any overread */
        memcpy(p, good, i);
        if (pg_spool_parse(p, i, 100, &e, &why) == 0)
            bad_splits++;
        free(p);
    }
    is_int(bad_splits, 0, "every truncation is refused");
    rc = pg_spool_parse(good, sizeof good - 1, 4, &e, &why);
    is_int(rc, PG_SPOOL_TOO_LARGE, "body over max");
    static const char noev[] = "PGSPOOL1\nchannels c\nlength 0\n\n";
    rc = pg_spool_parse(noev, sizeof noev - 1, 10, &e, &why);
    is_int(rc, 0, "no event, empty body");
    ok(e.event == NULL && e.body_len == 0, "event NULL");
    pg_spool_entry_free(&e);
    static const char *const bads[] = {
        "", "PGSPOOL2\nchannels c\nlength 0\n\n", "PGSPOOL1\nchannels \nlength 0\n\n",
        "PGSPOOL1\nchannels c\nlength -1\n\n", "PGSPOOL1\nchannels c\nlength 1\n\nab",
        "PGSPOOL1\nchannels c\nlength 99999999999999\n\n", "PGSPOOL1\nlength 0\n\n",
        "PGSPOOL1\nchannels c\nlength 0\nX"};
    for (size_t i = 0; i < PG_ARRAY_LEN(bads); i++) {
        rc = pg_spool_parse(bads[i], strlen(bads[i]), 100, &e, &why);
        is_int(rc, PG_SPOOL_MALFORMED, "malformed entry refused");
    }
}

int main(void)
{
    char dir[] = "/tmp/pgspool-test-XXXXXX";
    char err[512], key[PG_SPOOL_KEY_MAX], prev[PG_SPOOL_KEY_MAX] = "";
    test_parse();
    ok(mkdtemp(dir) != NULL, "temp dir");
    ok(!pg_spool_nonempty(dir), "empty spool");
    int sorted = 1;
    for (int i = 0; i < 20; i++) {
        char body[32];
        snprintf(body, sizeof body, "m%02d", i);
        const char *ch = i == 5 ? "bad" : "orders";
        if (pg_spool_write(dir, ch, i % 2 ? "ev" : NULL, body, strlen(body), key, err, sizeof err) < 0)
            ok(0, "write: %s", err);
        sorted &= strcmp(prev, key) < 0;
        snprintf(prev, sizeof prev, "%s", key);
    }
    ok(sorted, "keys sort in the order written");
    ok(pg_spool_nonempty(dir), "spool not empty");
    ok(pg_spool_write(dir, "a\nb", NULL, "x", 1, key, err, sizeof err) < 0, "channel with newline refused");
    /* a malformed entry, and a half-written temp file that must be ignored */
    char path[600];
    snprintf(path, sizeof path, "%s/00000000000000000001-1-00000000.msg", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0640);
    ok(fd >= 0 && write(fd, "garbage", 7) == 7, "malformed entry planted");
    close(fd);
    snprintf(path, sizeof path, "%s/.tmp-00000000000000000002-1-00000000", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0640);
    close(fd);

    struct event_base *base = event_base_new();
    fail_503_left = 3;
    ok(pg_spool_start(base, dir, 50, err, sizeof err) == 0, "drain started");
    run_for(base, 120);
    is_int(ngot, 0, "nothing published while pushgated answers 503");
    is_int(count_dir(dir, ".msg"), 20, "every good entry stays (the malformed one is rejected at once)");
    run_for(base, 400);
    is_int(ngot, 19, "19 published after 503s end");
    int order = 1;
    for (int i = 0, m = 0; i < ngot; i++, m++) {
        char want[64];
        if (m == 5)
            m++;
        snprintf(want, sizeof want, "orders|%s|m%02d", m % 2 ? "ev" : "", m);
        order &= strcmp(got[i], want) == 0;
        if (i)
            order &= strcmp(keys_seen[i - 1], keys_seen[i]) < 0;
    }
    ok(order, "in order, with event, body and increasing dedup keys");
    is_int(count_dir(dir, ".msg"), 0, "spool emptied");
    char rej[600];
    snprintf(rej, sizeof rej, "%s/rejected", dir);
    is_int(count_dir(rej, ".msg"), 2, "4xx and malformed entries moved to rejected/");
    is_int(count_dir(rej, ".why"), 2, "each with a .why");
    /* new entries while running are drained promptly */
    pg_spool_write(dir, "live", NULL, "x", 1, key, err, sizeof err);
    run_for(base, 200);
    is_int(ngot, 20, "an entry written while running is drained");
    ok(strcmp(keys_seen[19], key) == 0, "with its key as dedup key");
    pg_spool_stop();
    pg_spool_stop();
    ok(pg_spool_start(base, "", 50, err, sizeof err) == 0, "empty dir disables the spool");
    ok(pg_spool_start(base, "/proc/version", 50, err, sizeof err) < 0, "a file is not a spool dir");
    ok(strstr(err, "/proc/version") != NULL, "error names it: %s", err);
    ok(pg_spool_start(base, "/proc/no/such/spool", 50, err, sizeof err) == 0,
       "a directory that cannot be created yet is a warning, not an error");
    run_for(base, 120);
    pg_spool_stop();
    event_base_free(base);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        ok(0, "cleanup");
    return done_testing();
}
