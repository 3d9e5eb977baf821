/* tap.c — tap mode: accept the web server's FastCGI connections (on
 * --listen, or the socket inherited on fd 0 from lighttpd bin-path or
 * mod_fcgid), hand each to tap_conn.c, and publish what the rules and the
 * X-Pushgate-Publish headers ask for from one publisher thread.
 *
 * The event loop never waits on pushgated: publishes go through a queue to
 * a thread that calls forward.c (which spools when pushgated is away), in
 * the order they were queued. The queue is bounded (PUBQ_MAX); past it a
 * publish is dropped and logged rather than growing without limit. */
#include "bridge/conf.h"
#include "bridge/drain.h"
#include "bridge/forward.h"
#include "bridge/serve.h"
#include "bridge/tap.h"
#include "bridge/tap_int.h"
#include "bridge/tap_rules.h"
#include "log.h"
#include "util.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define PUBQ_MAX 10000

struct pubjob {
    struct pubjob *next;
    char *why, *channel, *event, *payload;
    size_t len;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pubjob *head, *tail;
    size_t n;
    bool stop;
    const struct pg_bridge_conf *conf;
} pq = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void pg_tap_publish(struct pg_tap *t, const char *why, const char *channel, const char *event,
                    const char *payload, size_t len)
{
    struct pubjob *j = pg_xcalloc(1, sizeof *j);
    j->why = pg_xstrdup(why);
    j->channel = pg_xstrdup(channel);
    j->event = event ? pg_xstrdup(event) : NULL;
    j->payload = pg_xstrndup(payload, len);
    j->len = len;
    pthread_mutex_lock(&pq.lock);
    if (pq.n >= PUBQ_MAX) {
        pthread_mutex_unlock(&pq.lock);
        pg_log_error("tap: publish queue full, dropping the publish to %s (%s)", channel, why);
        free(j->why), free(j->channel), free(j->event), free(j->payload), free(j);
        return;
    }
    if (pq.tail)
        pq.tail->next = j;
    else
        pq.head = j;
    pq.tail = j;
    pq.n++;
    pthread_cond_signal(&pq.cond);
    pthread_mutex_unlock(&pq.lock);
}

static void *publisher(void *arg)
{
    for (;;) {
        pthread_mutex_lock(&pq.lock);
        while (!pq.head && !pq.stop)
            pthread_cond_wait(&pq.cond, &pq.lock);
        struct pubjob *j = pq.head;
        if (j) {
            pq.head = j->next;
            if (!pq.head)
                pq.tail = NULL;
            pq.n--;
        }
        pthread_mutex_unlock(&pq.lock);
        if (!j)
            return NULL;
        struct pg_br_answer a;
        pg_br_forward(pq.conf, pg_br_may_spool(pq.conf, 1), j->channel, j->event, j->payload, j->len, &a);
        if (a.status >= 200 && a.status < 300)
            pg_log_info("tap: %s published to %s%s", j->why, j->channel, a.spooled ? " (spooled)" : "");
        else
            pg_log_warn("tap: %s: publish to %s refused (%d): %.*s", j->why, j->channel, a.status,
                        (int)strcspn(a.body ? a.body : "", "\n"), a.body ? a.body : "");
        pg_br_answer_free(&a);
        free(j->why), free(j->channel), free(j->event), free(j->payload), free(j);
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    pg_tap_conn_new(arg, fd);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    pg_log_notice("tap: signal %d: stopping", (int)sig);
    event_base_loopexit(arg, NULL);
}

static int listen_fd(const struct pg_bridge_conf *c)
{
    char err[512];
    if (!c->listen)
        return 0;   /* inherited from the web server */
    int fd = pg_bridge_listen(c->listen, err, sizeof err);
    if (fd < 0)
        fprintf(stderr, "pushgate-fcgi: %s\n", err);
    return fd;
}

static int run(struct pg_tap *t, int fd)
{
    t->base = event_base_new();
    evutil_make_socket_nonblocking(fd);
    struct evconnlistener *l = evconnlistener_new(t->base, on_accept, t, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (!l) {
        fprintf(stderr, "pushgate-fcgi: cannot accept on the tap socket (fd %d)\n", fd);
        event_base_free(t->base);
        return 1;
    }
    struct event *sigs[2] = {evsignal_new(t->base, SIGTERM, on_signal, t->base),
                             evsignal_new(t->base, SIGINT, on_signal, t->base)};
    event_add(sigs[0], NULL);
    event_add(sigs[1], NULL);
    pthread_t th;
    pq.conf = t->conf;
    pthread_create(&th, NULL, publisher, NULL);
    pg_br_drain_start(t->conf);
    pg_log_notice("tap: forwarding to %s (%zu rules)", t->conf->tap_upstream, t->rules ? t->rules->n : 0);
    event_base_dispatch(t->base);
    pthread_mutex_lock(&pq.lock);
    pq.stop = true;     /* the thread finishes the queued publishes, then exits */
    pthread_cond_signal(&pq.cond);
    pthread_mutex_unlock(&pq.lock);
    pthread_join(th, NULL);
    evconnlistener_free(l);
    event_free(sigs[0]);
    event_free(sigs[1]);
    event_base_free(t->base);
    return 0;
}

int pg_tap_main(const struct pg_bridge_conf *c, int check)
{
    struct pg_tap t = {.conf = c};
    char err[512];
    if (c->tap_rules && !(t.rules = pg_tap_rules_load(c->tap_rules, err, sizeof err))) {
        fprintf(stderr, "pushgate-fcgi: %s\n", err);
        return 1;
    }
    if (check) {
        printf("pushgate-fcgi: configuration ok (%zu tap rules)\n", t.rules ? t.rules->n : 0);
        pg_tap_rules_free(t.rules);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    int fd = listen_fd(c);
    int rc = fd < 0 ? 1 : run(&t, fd);
    pg_tap_rules_free(t.rules);
    return rc;
}
