/* bridge/main.c — pushgate-fcgi: argv and config, then pick the mode the
 * web server runs us in.
 *
 *   pushgate-fcgi [--config FILE] [--listen ADDR] [--threads N]
 *                 [--tap PHP-FPM-ADDR [--rules FILE]] [--check]
 *
 * Modes: --tap (or tap_upstream) runs the tap in front of php-fpm; with
 * --listen (or listen) a FastCGI server on that socket; otherwise CGI when
 * FCGX_IsCGI() says stdin is not a listening socket, else FastCGI on the
 * socket inherited on fd 0 (lighttpd bin-path, mod_fcgid). --check loads
 * and validates every file, then exits. Errors: one line, exit 1. */
#include "bridge/conf.h"
#include "bridge/drain.h"
#include "bridge/forward.h"
#include "bridge/hooks.h"
#include "bridge/serve.h"
#include "bridge/tap.h"
#include "log.h"
#include "util.h"

#include <fcgiapp.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef PG_SYSCONFDIR
#define PG_SYSCONFDIR "/etc"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: pushgate-fcgi [--config FILE] [--listen ADDR] [--threads N]\n"
               "                     [--tap PHP-FPM-ADDR [--rules FILE]] [--check]\n");
}

struct opts {
    const char *config, *listen, *tap, *rules;
    int threads, check;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 'n'}, {"tap", required_argument, NULL, 't'},
        {"rules", required_argument, NULL, 'r'}, {"check", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:l:n:t:r:Ch", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'n': o->threads = atoi(optarg); break;
        case 't': o->tap = optarg; break;
        case 'r': o->rules = optarg; break;
        case 'C': o->check = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc || o->threads < 0 || o->threads > 256) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static int load_conf(const struct opts *o, struct pg_bridge_conf *c, struct pg_hook_map **hooks)
{
    const char *env = getenv("PUSHGATE_FCGI_CONF");
    const char *path = o->config ? o->config : env && *env ? env : PG_SYSCONFDIR "/pushgate/fcgi.conf";
    bool missing_ok = !o->config && !(env && *env);
    char err[512];
    *hooks = NULL;
    if (pg_bridge_conf_load(path, missing_ok, c, err, sizeof err) < 0) {
        fprintf(stderr, "pushgate-fcgi: %s\n", err);
        return -1;
    }
    pg_log_set_ident("pushgate-fcgi");
    pg_log_open(NULL, c->log_level);
    if (c->webhooks && !(*hooks = pg_hook_map_load(c->webhooks, err, sizeof err))) {
        fprintf(stderr, "pushgate-fcgi: %s\n", err);
        return -1;
    }
    for (size_t i = 0; *hooks && i < (*hooks)->n; i++)
        if (!(*hooks)->routes[i].secret)
            pg_log_warn("webhook route %s has no secret: it will refuse every request",
                        (*hooks)->routes[i].name);
    if (o->listen)
        free(c->listen), c->listen = pg_xstrdup(o->listen);
    if (o->tap)
        free(c->tap_upstream), c->tap_upstream = pg_xstrdup(o->tap);
    if (o->rules)
        free(c->tap_rules), c->tap_rules = pg_xstrdup(o->rules);
    if (o->threads)
        c->threads = o->threads;
    return 0;
}

/* Web servers spawn FastCGI programs from threads with signals blocked,
 * and a blocked or ignored signal survives exec: without this, mod_fcgid's
 * and lighttpd's SIGTERM would never stop us. */
static void reset_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    reset_signals();
    struct pg_bridge_conf c;
    struct pg_hook_map *hooks;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    if (load_conf(&o, &c, &hooks) < 0) {
        pg_bridge_conf_free(&c);
        return 1;
    }
    int rc = 0;
    if (c.tap_upstream) {
        rc = pg_tap_main(&c, o.check);
    } else if (o.check) {
        printf("pushgate-fcgi: configuration ok\n");
    } else if (!c.listen && FCGX_IsCGI()) {
        struct pg_bridge_ctx ctx = {&c, hooks, pg_br_may_spool(&c, 0)};
        rc = pg_bridge_serve_cgi(&ctx);
    } else {
        char err[512];
        int fd = c.listen ? pg_bridge_listen(c.listen, err, sizeof err) : 0;
        if (fd < 0) {
            fprintf(stderr, "pushgate-fcgi: %s\n", err);
            rc = 1;
        } else {
            struct pg_bridge_ctx ctx = {&c, hooks, pg_br_may_spool(&c, 1)};
            pg_br_drain_start(&c);
            rc = pg_bridge_serve_fcgi(&ctx, fd, c.threads);
        }
    }
    pg_hook_map_free(hooks);
    pg_bridge_conf_free(&c);
    return rc;
}
