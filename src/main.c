/* main.c — pushgated: command line and config, listeners, signals, the
 * shared tick, the event loop, and an orderly exit.
 *
 * Signals: SIGTERM/SIGINT stop accepting, send every WebSocket close 1001
 * and exit once every connection is gone or 5 s have passed; SIGHUP
 * reopens the logs and reloads the config (restart-only keys are kept and
 * logged; an invalid file keeps the old config and logs why).
 *
 * Workers (workers.h): this thread is worker 0. Every worker ticks its
 * own connections; worker 0's tick also runs the hub, the journal and the
 * limits. A signal is handled here; the shutdown reaches the other workers
 * through their inboxes, and their threads are joined before anything
 * shared is freed. */
#include "pg_autoconf.h"
#include "access_log.h"
#include "auth.h"
#include "config.h"
#include "conn.h"
#include "fallback.h"
#include "http.h"
#include "hub.h"
#include "journal.h"
#include "conn_limits.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "privileges.h"
#include "publish.h"
#include "server.h"
#include "spool.h"
#include "static_files.h"
#ifdef HAVE_HIREDIS
#include "store_redis.h"
#endif
#include "tls.h"
#include "util.h"
#include "workers.h"
#include "ws_deflate.h"
#include "ws_transport.h"


#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define SHUTDOWN_GRACE_MS 5000

struct pg_server pg_srv;

static struct {
    const char *config_path;     /* NULL: none */
    char **overrides;
    size_t n_overrides;
    struct event *tick_ev[PG_WORKERS_MAX];   /* per worker, on its loop */
    struct event *stop_ev;
    uint64_t stop_deadline;
    struct pg_config *cfg;
    char *www_root;
} run;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pushgated [-c FILE] [-t] [--demo] [--version] [--key=value ...]\n"
            "  -c FILE      read this config file (default: %s when installed)\n"
            "  -t           test the configuration and exit\n"
            "  --demo       open chat-* to client publishing for the demo pages\n"
            "  --version    print the version and exit\n"
            "Every config key can be given as --key=value (see pushgated(8)):\n",
            PG_CONFIG_DEFAULT_PATH);
    pg_config_help(f);
}

/* An installed pushgated runs from sbindir; anything else is a build tree. */
static bool running_installed(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return strcmp(exe, PG_SBINDIR) == 0 || strcmp(exe, PG_BINDIR) == 0;
}

static char *resolve_www_root(const char *conf)
{
    if (strcmp(conf, "auto") != 0)
        return pg_xstrdup(conf);
    struct stat st;
    if (running_installed())
        return pg_xstrdup(PG_PKGDATADIR "/www");
    char *src = pg_xstrdup(PG_SRCDIR "/www");
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode))
        return src;
    free(src);
    return pg_xstrdup(PG_PKGDATADIR "/www");
}

static struct pg_hub_limits hub_limits(const struct pg_config *c)
{
    struct pg_hub_limits l = {
        .history_size = (uint32_t)PG_MIN(c->history_size, UINT32_MAX),
        .history_ttl_ms = c->history_ttl_ms,
        .history_memory_max = c->history_memory_max,
        .max_channels = (uint32_t)PG_MIN(c->max_channels, UINT32_MAX),
    };
    return l;
}

static uint64_t tick_interval_ms(const struct pg_config *c)
{
    uint64_t t = 1000;
    uint64_t cand[] = {c->ping_interval_ms / 4, c->idle_timeout_ms / 4, c->header_timeout_ms / 4,
                       c->history_ttl_ms / 4, c->sse_heartbeat_ms / 4};
    for (size_t i = 0; i < PG_ARRAY_LEN(cand); i++)
        if (cand[i] && cand[i] < t)
            t = cand[i];
    return t < 50 ? 50 : t;
}

/* (Re)arms the calling worker's tick at the configured interval. */
static void start_tick(void *p, uint64_t discard)
{
    if (discard)
        return;
    uint64_t ms = tick_interval_ms(pg_srv.cfg);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_del(run.tick_ev[pg_worker_self]);
    event_add(run.tick_ev[pg_worker_self], &tv);
}

PG_LOCKED_EVCB(on_tick)

static void on_tick_locked(evutil_socket_t fd, short what, void *arg)
{
    uint64_t now = pg_now_ms();
    if (pg_worker_self == 0) {
        pg_hub_tick(now);
        pg_journal_tick(now);
        pg_limits_tick(now);
    }
    pg_conn_tick_all(now);
}

static void worker_start(unsigned w)
{
    pg_metrics_thread_init(w);
    pg_conn_init(pg_worker_base(w));
    run.tick_ev[w] = event_new(pg_worker_base(w), -1, EV_PERSIST, on_tick, NULL);
    start_tick(NULL, 0);
}

/* After worker w's loop ended, on its thread: what its __thread state holds. */
static void worker_stop(unsigned w)
{
    pg_ws_deflate_thread_cleanup();
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            pg_log_warn("cannot raise the open-file limit: %s", strerror(errno));
    }
}

static bool uses_tls(const struct pg_config *c)
{
    for (size_t i = 0; i < c->listen.n; i++)
        if (strncmp(c->listen.v[i], "tls:", 4) == 0)
            return true;
    for (size_t i = 0; i < c->publish_listen.n; i++)
        if (strncmp(c->publish_listen.v[i], "tls:", 4) == 0)
            return true;
    return false;
}

/* The store key: memory (nothing to open) or Redis (store_redis.h). */
static int open_store(const struct pg_config *c, const struct pg_hub_limits *lim, char *err,
                      size_t errlen)
{
    struct pg_store_url url;
    const char *why = NULL;
    if (!pg_config_parse_store(c->store, &url, &why)) {
        snprintf(err, errlen, "store %s: %s", c->store, why);
        return -1;
    }
    if (url.kind == PG_STORE_MEMORY)
        return 0;
#ifdef HAVE_HIREDIS
    return pg_store_redis_open(&url, pg_srv.base, lim, err, errlen);
#else
    snprintf(err, errlen, "store %s: this pushgated was built without hiredis "
             "(install libhiredis-dev, then configure and make again)", c->store);
    return -1;
#endif
}

static int open_listeners(const struct pg_config *c)
{
    char err[512];
    if (uses_tls(c) && pg_tls_load(c, err, sizeof err) < 0) {
        pg_log_error("%s", err);
        return -1;
    }
    for (size_t i = 0; i < c->listen.n; i++)
        if (pg_listener_add(pg_srv.base, c->listen.v[i], PG_LISTEN_PUBLIC, "", &pg_http_handler,
                            err, sizeof err) < 0) {
            pg_log_error("listen %s", err);
            return -1;
        }
    for (size_t i = 0; i < c->publish_listen.n; i++) {
        const char *a = c->publish_listen.v[i];
        bool is_default_sock = strcmp(a, "unix:/run/pushgate/publish.sock") == 0;
        if (is_default_sock)
            mkdir("/run/pushgate", 0750);
        if (pg_listener_add(pg_srv.base, a, PG_LISTEN_PUBLISH, c->publish_socket_group,
                            &pg_http_handler, err, sizeof err) < 0) {
            if (is_default_sock) {   /* the default socket is optional */
                pg_log_notice("publish socket not opened (%s); the TCP publish listener still works", err);
                continue;
            }
            pg_log_error("publish_listen %s", err);
            return -1;
        }
    }
    return 0;
}

static void apply_config(struct pg_config *c)
{
    free(run.www_root);
    run.www_root = resolve_www_root(c->www_root);
    pg_static_set_root(run.www_root);
    char *dash = resolve_www_root("auto");   /* /dashboard: the package's own page */
    pg_metrics_set_dashboard_dir(dash);
    free(dash);
    pg_log_set_level(c->log_level);
}

static void reload(void)
{
    char err[512];
    struct pg_config *fresh = pg_config_load(run.config_path, run.overrides, run.n_overrides,
                                             err, sizeof err);
    if (pg_log_open(pg_srv.cfg->log_file, pg_srv.cfg->log_level) < 0)
        pg_log_error("cannot reopen log %s: %s", pg_srv.cfg->log_file, strerror(errno));
    if (pg_access_log_open(fresh ? fresh->access_log : pg_srv.cfg->access_log) < 0)
        pg_log_error("cannot open access_log: %s (keeping the previous one)", strerror(errno));
    if (!fresh) {
        pg_log_error("reload failed, keeping the running configuration: %s", err);
        return;
    }
    char changed[512];
    if (pg_config_restart_keys_changed(run.cfg, fresh, changed, sizeof changed))
        pg_log_warn("reload: %s changed and need a restart; keeping the running values", changed);
    pg_config_keep_restart_keys(fresh, run.cfg);
    if (pg_auth_check_publish_listen(fresh, err, sizeof err) < 0) {
        pg_log_error("reload refused: %s", err);
        pg_config_free(fresh);
        return;
    }
    if (pg_log_open(fresh->log_file, fresh->log_level) < 0)
        pg_log_error("cannot open log %s: %s", fresh->log_file, strerror(errno));
    if (uses_tls(fresh) && pg_tls_load(fresh, err, sizeof err) < 0)
        pg_log_error("reload: keeping the running certificates: %s", err);
    struct pg_config *old = run.cfg;
    run.cfg = fresh;
    pg_srv.cfg = fresh;
    apply_config(fresh);
    struct pg_hub_limits lim = hub_limits(fresh);
    pg_hub_set_limits(&lim);
    pg_limits_configure(fresh);
    if (pg_n_workers == 1)
        start_tick(NULL, 0);
    else
        pg_worker_post_all(start_tick, NULL, 0);
    pg_config_free(old);
    pg_log_notice("configuration reloaded");
}

PG_LOCKED_EVCB(on_stop_check)

static void on_stop_check_locked(evutil_socket_t fd, short what, void *arg)
{
    if (pg_conn_count() == 0 || pg_now_ms() >= run.stop_deadline)
        event_base_loopbreak(pg_srv.base);
}

static void close_http(struct pg_conn *c, void *arg)
{
    if (c->h == &pg_http_handler && !(c->flags & PG_CONN_HTTP_MID) && c->q_len == 0)
        pg_conn_close(c);
}

/* On each worker (the listeners are closed already): WebSocket close 1001,
 * idle HTTP connections closed. */
static void stop_worker(void *p, uint64_t discard)
{
    if (discard)
        return;
    pg_hub_shutdown();
    pg_conn_foreach(close_http, NULL);
}

static void begin_shutdown(int sig)
{
    if (pg_srv.stopping) {
        event_base_loopbreak(pg_srv.base);
        return;
    }
    pg_srv.stopping = true;
    pg_log_notice("signal %d: shutting down (%zu connections)", sig, pg_conn_count());
    pg_listener_close_all();
    if (pg_n_workers == 1)
        stop_worker(NULL, 0);
    else
        pg_worker_post_all(stop_worker, NULL, 0);
    run.stop_deadline = pg_now_ms() + SHUTDOWN_GRACE_MS;
    struct timeval tv = {0, 50000};
    run.stop_ev = event_new(pg_srv.base, -1, EV_PERSIST, on_stop_check, NULL);
    event_add(run.stop_ev, &tv);
}

PG_LOCKED_EVCB(on_signal)

static void on_signal_locked(evutil_socket_t sig, short what, void *arg)
{
    if (sig == SIGHUP)
        reload();
    else
        begin_shutdown((int)sig);
}

static int parse_args(int argc, char **argv, bool *test_only)
{
    run.overrides = pg_xcalloc((size_t)argc + 1, sizeof *run.overrides);
    bool explicit_config = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            run.config_path = argv[++i];
            explicit_config = true;
        } else if (strncmp(a, "--config=", 9) == 0) {
            run.config_path = a + 9;
            explicit_config = true;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--test") == 0) {
            *test_only = true;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("pushgated %s\n", PACKAGE_VERSION);
            exit(0);
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strncmp(a, "--", 2) == 0 && (pg_config_is_key(a) || strchr(a, '='))) {
            /* unknown --key=value too: the loader names it in its error */
            run.overrides[run.n_overrides++] = argv[i];
        } else {
            fprintf(stderr, "pushgated: unknown argument '%s' (see pushgated --help)\n", a);
            return -1;
        }
    }
    if (!explicit_config && running_installed() && access(PG_CONFIG_DEFAULT_PATH, R_OK) == 0)
        run.config_path = PG_CONFIG_DEFAULT_PATH;
    return 0;
}

int main(int argc, char **argv)
{
    bool test_only = false;
    if (parse_args(argc, argv, &test_only) < 0)
        return 2;
    char err[512];
    run.cfg = pg_config_load(run.config_path, run.overrides, run.n_overrides, err, sizeof err);
    if (!run.cfg) {
        fprintf(stderr, "pushgated: %s\n", err);
        return 2;
    }
    if (pg_auth_check_publish_listen(run.cfg, err, sizeof err) < 0) {
        fprintf(stderr, "pushgated: %s\n", err);
        pg_config_free(run.cfg);
        return 2;
    }
    if (test_only) {
        printf("pushgated: configuration %s OK\n", run.config_path ? run.config_path : "(built-in defaults)");
        pg_config_free(run.cfg);
        return 0;
    }
    pg_srv.cfg = run.cfg;
    if (pg_log_open(run.cfg->log_file, run.cfg->log_level) < 0) {
        fprintf(stderr, "pushgated: cannot open log %s: %s\n", run.cfg->log_file, strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    unsigned workers = pg_workers_resolve(run.cfg->workers);
    if (pg_workers_setup(workers) < 0) {
        fprintf(stderr, "pushgated: cannot create the event loops of %u workers\n", workers);
        return 1;
    }
    pg_srv.base = pg_workers_new_base();
    pg_workers_set_main_base(pg_srv.base);
    if (!pg_srv.base) {
        fprintf(stderr, "pushgated: cannot create the event loop\n");
        return 1;
    }
    pg_metrics_init();
    struct pg_hub_limits lim = hub_limits(run.cfg);
    pg_hub_init(&lim);
    struct pg_journal_opts jo = {run.cfg->history_journal, &lim, pg_srv.base,
                                pg_publish_dedup_remember, NULL};
    if (pg_journal_open(&jo, err, sizeof err) < 0) {   /* before any listener opens */
        pg_log_error("%s", err);
        return 2;
    }
    if (open_store(run.cfg, &lim, err, sizeof err) < 0) {
        pg_log_error("%s", err);
        return 2;
    }
    pg_ws_init();
    pg_fallback_init();
    pg_conn_init(pg_srv.base);
    apply_config(run.cfg);
    pg_limits_configure(run.cfg);
    if (pg_access_log_open(run.cfg->access_log) < 0) {
        pg_log_error("cannot open access_log %s: %s", run.cfg->access_log, strerror(errno));
        return 2;
    }
    if (open_listeners(run.cfg) < 0) {
        pg_listener_close_all();
        return 2;
    }
    if (pg_drop_privileges(run.cfg->user, run.cfg->group, err, sizeof err) < 0) {
        pg_log_error("%s", err);
        return 2;
    }
    if (pg_spool_start(pg_srv.base, run.cfg->spool_dir, run.cfg->spool_poll_ms, err, sizeof err) < 0) {
        pg_log_error("%s", err);
        pg_listener_close_all();
        return 2;
    }
    if (getuid() == 0)
        pg_log_warn("running as root: set user and group in the config to drop privileges");
    else if (*run.cfg->user)
        pg_log_info("running as user %s", run.cfg->user);
    pg_log_notice("pushgated %s started (epoch %s, %u worker%s, www_root %s)", PACKAGE_VERSION,
                  pg_hub_epoch(), workers, workers == 1 ? "" : "s",
                  *run.www_root ? run.www_root : "(disabled)");

    struct event *sigs[4];
    int signums[4] = {SIGTERM, SIGINT, SIGHUP, 0};
    for (int i = 0; signums[i]; i++) {
        sigs[i] = evsignal_new(pg_srv.base, signums[i], on_signal, NULL);
        event_add(sigs[i], NULL);
    }
    run.tick_ev[0] = event_new(pg_srv.base, -1, EV_PERSIST, on_tick, NULL);
    start_tick(NULL, 0);
    if (pg_workers_start(worker_start, worker_stop) < 0) {
        pg_workers_join();
        return 1;
    }
    event_base_dispatch(pg_srv.base);
    pg_workers_join();

    pg_spool_stop();
    pg_log_notice("stopped");
    pg_conn_free_all();
    pg_access_log_close();            /* after the connections' close lines */
    pg_metrics_set_dashboard_dir(NULL);
    pg_listener_close_all();
    pg_journal_close();
#ifdef HAVE_HIREDIS
    pg_store_redis_close();
#endif
    pg_hub_free();
    for (int i = 0; signums[i]; i++)
        event_free(sigs[i]);
    for (unsigned w = 0; w < pg_n_workers; w++)
        if (run.tick_ev[w])
            event_free(run.tick_ev[w]);
    if (run.stop_ev)
        event_free(run.stop_ev);
    pg_static_set_root(NULL);
    pg_tls_free_ctx();
    free(run.www_root);
    free(run.overrides);
    pg_config_free(run.cfg);
    pg_auth_free();
    pg_workers_free();
    event_base_free(pg_srv.base);
    return 0;
}
