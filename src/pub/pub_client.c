/* pub_client.c — blocking HTTP/1.1 POST to pushgated's publish listener.
 *
 * One connection per request with "Connection: close"; the reply is read
 * until its Content-Length, the end of its chunked body, or EOF. Every wait
 * is bounded by one deadline (poll), so a stuck daemon costs the caller at
 * most timeout_ms. Replies over 1 MiB are treated as garbled.
 *
 * Departure: no keep-alive and no pipelining; a publish is one request and
 * the callers (cron scripts, one-shot CGI processes) are short-lived. */
#define _GNU_SOURCE
#include "pub/pub_client.h"
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <fcntl.h>

#define REPLY_MAX (1u << 20)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int pg_pub_target_parse(const char *spec, struct pg_pub_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (!spec || !*spec)
        return fail(err, errlen, "empty publish address");
    if (strncmp(spec, "unix:", 5) == 0 || spec[0] == '/') {
        const char *p = spec[0] == '/' ? spec : spec + 5;
        if (!*p || strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return fail(err, errlen, "bad unix socket path '%s'", p);
        t->is_unix = true;
        t->path = pg_xstrdup(p);
        return 0;
    }
    if (strncmp(spec, "http://", 7) == 0)
        spec += 7;
    const char *colon;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            return fail(err, errlen, "bad address '%s' (want [v6addr]:port)", spec);
        t->host = pg_xstrndup(spec + 1, (size_t)(close - spec - 1));
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || colon == spec)
            return fail(err, errlen, "bad address '%s' (want unix:/path or host:port)", spec);
        t->host = pg_xstrndup(spec, (size_t)(colon - spec));
    }
    const char *port = colon + 1;
    size_t plen = strcspn(port, "/");
    char *end;
    long pn = strtol(port, &end, 10);
    if (plen == 0 || end != port + plen || pn <= 0 || pn > 65535) {
        pg_pub_target_free(t);
        return fail(err, errlen, "bad port in '%s'", spec);
    }
    t->port = pg_xstrndup(port, plen);
    return 0;
}

void pg_pub_target_free(struct pg_pub_target *t)
{
    free(t->path);
    free(t->host);
    free(t->port);
    memset(t, 0, sizeof *t);
}

bool pg_pub_target_is_local(const struct pg_pub_target *t)
{
    if (t->is_unix)
        return true;
    return strcmp(t->host, "localhost") == 0 || strncmp(t->host, "127.", 4) == 0 ||
           strcmp(t->host, "::1") == 0;
}

char *pg_pub_encode_channels(const char *channels)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(channels);
    char *out = pg_xmalloc(3 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)channels; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~,:@", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = pg_now_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        int r = poll(&p, 1, remaining_ms(deadline));
        if (r > 0)
            return 0;
        if (r == 0)
            return -1;
        if (errno != EINTR)
            return -1;
    }
}

static int connect_addr(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -1;
    if (wait_fd(fd, POLLOUT, deadline) < 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        errno = soerr;
        return -1;
    }
    return 0;
}

static int open_unix(const struct pg_pub_target *t, uint64_t deadline, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", t->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(err, errlen, "socket: %s", strerror(errno));
    if (connect_addr(fd, (struct sockaddr *)&sun, sizeof sun, deadline) < 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "cannot connect to pushgated at unix:%s: %s", t->path, strerror(e));
    }
    return fd;
}

static int open_tcp(const struct pg_pub_target *t, uint64_t deadline, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0)
        return fail(err, errlen, "cannot resolve %s: %s", t->host, gai_strerror(rc));
    int fd = -1, e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect_addr(fd, ai->ai_addr, ai->ai_addrlen, deadline) < 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return fail(err, errlen, "cannot connect to pushgated at %s:%s: %s", t->host, t->port,
                    strerror(e));
    return fd;
}

static int write_all(int fd, const char *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads until EOF or until have_whole() says the reply is complete. */
struct rbuf {
    char *p;
    size_t len, cap;
};

static ssize_t read_some(int fd, struct rbuf *b, uint64_t deadline)
{
    if (b->cap - b->len < 4096) {
        b->cap = b->cap ? b->cap * 2 : 8192;
        b->p = pg_xrealloc(b->p, b->cap + 1);
    }
    for (;;) {
        ssize_t r = recv(fd, b->p + b->len, b->cap - b->len, 0);
        if (r >= 0) {
            b->len += (size_t)r;
            b->p[b->len] = '\0';
            return r;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        if (wait_fd(fd, POLLIN, deadline) < 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

static const char *find_header(const char *head, size_t headlen, const char *name)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', headlen);
    const char *end = head + headlen;
    while (p && p + 1 < end) {
        p++;
        if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            return p;
        }
        p = memchr(p, '\n', (size_t)(end - p));
    }
    return NULL;
}

/* Decodes a complete chunked body in place. Returns its length, -2 when
 * more bytes are needed, -1 when malformed. */
static long dechunk(char *p, size_t n, char *out)
{
    size_t i = 0, o = 0;
    for (;;) {
        char *end;
        if (i >= n || !memchr(p + i, '\n', n - i))
            return -2;
        unsigned long sz = strtoul(p + i, &end, 16);
        if (end == p + i)
            return -1;
        char *nl = memchr(p + i, '\n', n - i);
        i = (size_t)(nl - p) + 1;
        if (sz == 0)
            return (long)o;
        if (sz > REPLY_MAX || n - i < sz + 2)
            return sz > REPLY_MAX ? -1 : -2;
        memmove(out + o, p + i, sz);
        o += sz;
        i += sz + 2;
    }
}

/* Returns 1 complete (reply filled), 0 need more, -1 malformed. */
static int parse_reply(struct rbuf *b, bool eof, struct pg_pub_reply *r)
{
    char *hend = b->len ? strstr(b->p, "\r\n\r\n") : NULL;
    if (!hend)
        return eof ? -1 : 0;
    size_t headlen = (size_t)(hend - b->p) + 2;
    char *body = hend + 4;
    size_t avail = b->len - (size_t)(body - b->p);
    int status = 0;
    if (sscanf(b->p, "HTTP/1.%*d %3d", &status) != 1 || status < 100 || status > 599)
        return -1;
    const char *cl = find_header(b->p, headlen, "Content-Length");
    const char *te = find_header(b->p, headlen, "Transfer-Encoding");
    long blen;
    if (te && strncasecmp(te, "chunked", 7) == 0) {
        char *tmp = pg_xmalloc(avail + 1);
        blen = dechunk(body, avail, tmp);
        if (blen == -2) {
            free(tmp);
            return eof ? -1 : 0;
        }
        if (blen < 0) {
            free(tmp);
            return -1;
        }
        memcpy(body, tmp, (size_t)blen);
        free(tmp);
    } else if (cl) {
        blen = strtol(cl, NULL, 10);
        if (blen < 0 || (size_t)blen > REPLY_MAX)
            return -1;
        if ((size_t)blen > avail)
            return eof ? -1 : 0;
    } else {
        if (!eof)
            return 0;
        blen = (long)avail;
    }
    r->status = status;
    r->body = pg_xstrndup(body, (size_t)blen);
    r->body_len = (size_t)blen;
    const char *ct = find_header(b->p, headlen, "Content-Type");
    r->content_type = ct ? pg_xstrndup(ct, strcspn(ct, "\r\n")) : NULL;
    return 1;
}

static char *build_request(const struct pg_pub_target *t, const struct pg_pub_msg *m, size_t *len)
{
    char *chan = pg_pub_encode_channels(m->channels);
    char *ev = m->event ? pg_xasprintf("X-Event: %s\r\n", m->event) : pg_xstrdup("");
    char *auth = m->secret ? pg_xasprintf("Authorization: Bearer %s\r\n", m->secret) : pg_xstrdup("");
    char *dk = m->dedup_key ? pg_xasprintf("X-Pushgate-Dedup-Key: %s\r\n", m->dedup_key) : pg_xstrdup("");
    char *head = pg_xasprintf("POST /pub/%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                              "Content-Type: application/octet-stream\r\n"
                              "Content-Length: %zu\r\n%s%s%s\r\n",
                              chan, t->is_unix ? "localhost" : t->host, m->body_len, ev, auth, dk);
    free(chan);
    free(ev);
    free(auth);
    free(dk);
    size_t hl = strlen(head);
    char *req = pg_xmalloc(hl + m->body_len);
    memcpy(req, head, hl);
    if (m->body_len)
        memcpy(req + hl, m->body, m->body_len);
    free(head);
    *len = hl + m->body_len;
    return req;
}

static bool header_safe(const char *s)
{
    return !s || !strpbrk(s, "\r\n");
}

int pg_pub_post(const struct pg_pub_target *t, const struct pg_pub_msg *msg,
                int timeout_ms, struct pg_pub_reply *reply, char *err, size_t errlen)
{
    memset(reply, 0, sizeof *reply);
    if (!header_safe(msg->event) || !header_safe(msg->secret) || !header_safe(msg->dedup_key))
        return fail(err, errlen, "event name or secret contains a line break");
    uint64_t deadline = pg_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
    int fd = t->is_unix ? open_unix(t, deadline, err, errlen) : open_tcp(t, deadline, err, errlen);
    if (fd < 0)
        return -1;
    size_t rlen;
    char *req = build_request(t, msg, &rlen);
    int wr = write_all(fd, req, rlen, deadline);
    free(req);
    struct rbuf b = {0};
    int rc = 0;
    bool eof = false;
    while (rc == 0) {
        ssize_t n = read_some(fd, &b, deadline);
        if (n < 0) {
            rc = -2;
            break;
        }
        eof = n == 0;
        rc = parse_reply(&b, eof, reply);
        if (b.len > REPLY_MAX + 65536)
            rc = -1;
    }
    int e = errno;
    close(fd);
    free(b.p);
    if (rc == 1)
        return 0;
    if (wr < 0 && rc != 1)
        return fail(err, errlen, "pushgated closed the connection before answering");
    if (rc == -2)
        return fail(err, errlen, "no answer from pushgated: %s", strerror(e));
    return fail(err, errlen, "garbled answer from pushgated");
}

void pg_pub_reply_free(struct pg_pub_reply *r)
{
    free(r->body);
    free(r->content_type);
    memset(r, 0, sizeof *r);
}
