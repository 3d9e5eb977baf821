/* serve.c — runs handler.c as a CGI program or as a threaded FastCGI
 * application on libfcgi.
 *
 * CGI mode reads environ, stdin and stdout directly: FCGX_Accept_r does
 * not work on a pipe. FastCGI mode runs nthreads threads, each looping on
 * FCGX_Accept_r with its own FCGX_Request, so one slow request (a daemon
 * that takes its time, a slow client body) never blocks the others.
 * Output always goes through FCGX_PutStr: libfcgi's printf-style output
 * truncates some formats (%zu) in FastCGI mode. */
#define _GNU_SOURCE
#include "bridge/serve.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CGI ---- */

static const char *cgi_param(void *ud, const char *name)
{
    return getenv(name);
}

static ssize_t cgi_read(void *ud, char *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(0, buf, n);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

static int cgi_write(void *ud, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(1, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int pg_bridge_serve_cgi(const struct pg_bridge_ctx *ctx)
{
    struct pg_br_io io = {cgi_param, cgi_read, cgi_write, NULL, 0};
    pg_bridge_handle(ctx, &io);
    return 0;
}

/* ---- FastCGI ---- */

static const char *fcgi_param(void *ud, const char *name)
{
    FCGX_Request *r = ud;
    return FCGX_GetParam(name, r->envp);
}

static ssize_t fcgi_read(void *ud, char *buf, size_t n)
{
    FCGX_Request *r = ud;
    int want = (int)PG_MIN(n, (size_t)(1 << 20));
    int got = FCGX_GetStr(buf, want, r->in);
    if (got < want && FCGX_GetError(r->in) != 0)
        return -1;
    return got;
}

static int fcgi_write(void *ud, const char *p, size_t n)
{
    FCGX_Request *r = ud;
    while (n) {
        int chunk = (int)PG_MIN(n, (size_t)(1 << 20));
        if (FCGX_PutStr(p, chunk, r->out) != chunk)
            return -1;
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

struct worker {
    const struct pg_bridge_ctx *ctx;
    int fd;
};

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, w->fd, 0) != 0)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&accept_lock);
        int rc = FCGX_Accept_r(&req);
        pthread_mutex_unlock(&accept_lock);
        if (rc < 0) {
            if (rc == -EINTR || rc == -EAGAIN)
                continue;
            pg_log_error("FastCGI accept failed (%d): stopping this thread", rc);
            break;
        }
        struct pg_br_io io = {fcgi_param, fcgi_read, fcgi_write, &req, 1};
        pg_bridge_handle(w->ctx, &io);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

int pg_bridge_serve_fcgi(const struct pg_bridge_ctx *ctx, int listen_fd, int nthreads)
{
    if (FCGX_Init() != 0) {
        pg_log_error("FCGX_Init failed");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct worker w = {ctx, listen_fd};
    pthread_t *t = pg_xcalloc((size_t)nthreads, sizeof *t);
    int started = 0;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, worker_main, &w) == 0)
            started++;
    if (!started) {
        pg_log_error("cannot start FastCGI threads");
        free(t);
        return 1;
    }
    pg_log_info("serving FastCGI with %d threads", started);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    free(t);
    return 1;
}

int pg_bridge_listen(const char *spec, char *err, size_t errlen)
{
    const char *path = strncmp(spec, "unix:", 5) == 0 ? spec + 5 : spec;
    bool is_unix = path[0] == '/';
    if (is_unix)
        unlink(path);   /* a stale socket from a previous run */
    mode_t old = umask(is_unix ? 0007 : 0022);
    int fd = FCGX_OpenSocket(path, 128);
    umask(old);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", spec, strerror(errno));
        return -1;
    }
    return fd;
}
