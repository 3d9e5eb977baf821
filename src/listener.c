/* listener.c — listening sockets and the accept loop.
 *
 * On EMFILE/ENFILE every listener pauses for a short back-off and one line
 * is logged per pause period, never per failed accept: the kernel keeps
 * the pending connections in the backlog meanwhile. */
#include "listener.h"
#include "conn.h"
#include "conn_limits.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTENERS 32
#define ACCEPT_BATCH 64
#define EMFILE_PAUSE_MS 200

struct listener {
    struct event ev;
    int fd;
    enum pg_listener_kind kind;
    const struct pg_conn_handler *h;
    bool tls;
    char *unix_path;
    char *name;
};

static struct listener *listeners[MAX_LISTENERS];
static int n_listeners;
static struct event *resume_ev;
static uint64_t emfile_count, emfile_logged_at;
static uint32_t in_flight[PG_WORKERS_MAX];   /* handed off, not adopted yet */

PG_LOCKED_EVCB(resume_all)
PG_LOCKED_EVCB(on_accept)

static void pause_all(void)
{
    for (int i = 0; i < n_listeners; i++)
        event_del(&listeners[i]->ev);
    struct timeval tv = {0, EMFILE_PAUSE_MS * 1000};
    evtimer_add(resume_ev, &tv);
}

static void resume_all_locked(evutil_socket_t fd, short what, void *arg)
{
    for (int i = 0; i < n_listeners; i++)
        if (listeners[i]->fd >= 0)
            event_add(&listeners[i]->ev, NULL);
}

/* Takes a connection slot for the peer, or answers 503 and closes. */
static bool admit(int cfd, const struct sockaddr_storage *ss)
{
    uint8_t addr[16] = {0};
    if (ss->ss_family == AF_INET)
        memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    else if (ss->ss_family == AF_INET6)
        memcpy(addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    if (pg_limits_acquire(ss->ss_family, addr, true))
        return true;
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                               "Content-Length: 43\r\nConnection: close\r\n\r\n"
                               "{\"error\":\"too many connections, try later\"}";
    ssize_t w = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(cfd);
    return false;
}

/* ---- handing a connection to a worker (workers.h) ---- */

struct handoff {
    int fd;
    unsigned worker;
    socklen_t sl;
    uint16_t flags;
    const struct pg_conn_handler *h;
    struct sockaddr_storage ss;
};

static void release_slot(const struct sockaddr_storage *ss)
{
    uint8_t addr[16] = {0};
    if (ss->ss_family == AF_INET)
        memcpy(addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    else if (ss->ss_family == AF_INET6)
        memcpy(addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    pg_limits_release(ss->ss_family, addr, true);
}

/* On the chosen worker's thread: the connection becomes its own. A server
 * stopping meanwhile closes it, as the kernel would a queued connection. */
static void adopt(void *p, uint64_t discard)
{
    struct handoff *a = p;
    in_flight[a->worker]--;
    if (discard || pg_srv.stopping) {
        close(a->fd);
        release_slot(&a->ss);
    } else {
        pg_conn_new(a->fd, (struct sockaddr *)&a->ss, a->sl, a->h, a->flags);
    }
    free(a);
}

/* The worker with the fewest connections, counting those on their way. */
static unsigned pick_worker(void)
{
    unsigned best = 0;
    size_t best_n = SIZE_MAX;
    for (unsigned w = 0; w < pg_n_workers; w++) {
        size_t n = pg_conn_count_worker(w) + in_flight[w];
        if (n < best_n) {
            best = w;
            best_n = n;
        }
    }
    return best;
}

static void hand_off(int cfd, const struct sockaddr_storage *ss, socklen_t sl,
                     const struct pg_conn_handler *h, uint16_t flags)
{
    unsigned w = pg_n_workers == 1 ? 0 : pick_worker();
    if (w == pg_worker_self) {
        pg_conn_new(cfd, (const struct sockaddr *)ss, sl, h, flags);
        return;
    }
    struct handoff *a = pg_xmalloc(sizeof *a);
    *a = (struct handoff){.fd = cfd, .worker = w, .sl = sl, .flags = flags, .h = h, .ss = *ss};
    in_flight[w]++;
    pg_worker_post(w, adopt, a, 0);
}

static void on_accept_locked(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                emfile_count++;
                pg_limits_count(PG_REFUSE_EMFILE);
                uint64_t now = pg_now_ms();
                if (now - emfile_logged_at > 10000) {
                    pg_log_warn("out of file descriptors (%llu refusals so far): pausing accept for %d ms",
                                (unsigned long long)emfile_count, EMFILE_PAUSE_MS);
                    emfile_logged_at = now;
                }
                pause_all();
            }
            return;     /* EAGAIN, ECONNABORTED, ... */
        }
        if (ss.ss_family == AF_UNIX)
            sl = sizeof(sa_family_t);
        if (!admit(cfd, &ss))
            continue;
        hand_off(cfd, &ss, sl, l->h,
                 (uint16_t)((l->kind == PG_LISTEN_PUBLISH ? PG_CONN_PUBLISH : 0) |
                            (l->tls ? PG_CONN_TLS : 0)));
    }
}

static int bind_unix(const char *path, const char *group, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "unix:%s: path too long", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "unix:%s: socket: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);   /* stale socket of an earlier run */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    chmod(path, 0660);
    if (group && *group) {
        struct group *g = getgrnam(group);
        if (!g || chown(path, (uid_t)-1, g->gr_gid) < 0)
            pg_log_warn("unix:%s: cannot set group '%s'", path, group);
    }
    return fd;
}

static int split_host_port(const char *addr, char *host, size_t hostcap, char *port, size_t portcap)
{
    const char *colon;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        snprintf(host, hostcap, "%.*s", (int)(close - addr - 1), addr + 1);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -1;
        snprintf(host, hostcap, "%.*s", (int)(colon - addr), addr);
    }
    snprintf(port, portcap, "%s", colon + 1);
    return port[0] ? 0 : -1;
}

static int bind_tcp(const char *addr, char *err, size_t errlen)
{
    char host[256], port[16];
    if (split_host_port(addr, host, sizeof host, port, sizeof port) < 0) {
        snprintf(err, errlen, "%s: expected host:port, [v6]:port or unix:/path", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int gai = getaddrinfo(host[0] && strcmp(host, "*") ? host : NULL, port, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "%s: %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", addr, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        snprintf(err, errlen, "%s: %s", addr, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

int pg_listener_add(struct event_base *base, const char *addr, enum pg_listener_kind kind,
                    const char *group, const struct pg_conn_handler *h, char *err, size_t errlen)
{
    if (n_listeners == MAX_LISTENERS) {
        snprintf(err, errlen, "%s: too many listeners", addr);
        return -1;
    }
    const char *a = addr;
    bool tls = strncmp(a, "tls:", 4) == 0;
    if (tls) {
        a += 4;
        if (!pg_tls_ready()) {
            snprintf(err, errlen, "%s: a tls: listener needs tls_cert and tls_key", addr);
            return -1;
        }
    }
    bool is_unix = strncmp(a, "unix:", 5) == 0;
    int fd = is_unix ? bind_unix(a + 5, group, err, errlen) : bind_tcp(a, err, errlen);
    if (fd < 0)
        return -1;
    if (!resume_ev)
        resume_ev = evtimer_new(base, resume_all, NULL);
    struct listener *l = pg_xcalloc(1, sizeof *l);
    l->fd = fd;
    l->kind = kind;
    l->h = h;
    l->tls = tls;
    l->name = pg_xstrdup(addr);
    l->unix_path = is_unix ? pg_xstrdup(a + 5) : NULL;
    event_assign(&l->ev, base, fd, EV_READ | EV_PERSIST, on_accept, l);
    event_add(&l->ev, NULL);
    listeners[n_listeners++] = l;
    pg_log_info("listening on %s (%s)", addr, kind == PG_LISTEN_PUBLISH ? "publish" : "subscribers");
    return 0;
}

void pg_listener_close_all(void)
{
    for (int i = 0; i < n_listeners; i++) {
        struct listener *l = listeners[i];
        event_del(&l->ev);
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        if (l->unix_path)
            unlink(l->unix_path);
        free(l->unix_path);
        free(l->name);
        free(l);
    }
    n_listeners = 0;
    if (resume_ev) {
        event_free(resume_ev);
        resume_ev = NULL;
    }
}

int pg_listener_count(void)
{
    return n_listeners;
}
