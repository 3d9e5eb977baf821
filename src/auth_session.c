/* auth_session.c — one session check against the shop (see
 * auth_session.h): an HTTP GET with libevent's evhttp client (outgoing
 * only) for auth_url, or a FastCGI RESPONDER request through the shared
 * fcgi_client.c for auth_fastcgi.
 *
 * Invariants: a check ends exactly once, in finish(), which records the
 * outcome and activates done_ev; the user callback runs from done_ev,
 * never from inside a libevent or fcgi callback (evhttp may call back
 * synchronously from evhttp_make_request on a refused connect, and must not
 * see its connection freed under it), and the check is freed after it.
 * Only the first PG_SESSION_BODY_MAX bytes of an answer are kept.
 *
 * Deliberate departures: https:// verifies the server against the system
 * trust store (OpenSSL's default paths, so SSL_CERT_FILE works) and its
 * name; a host name is resolved with evdns (with /etc/hosts) rather than a
 * blocking getaddrinfo in the event loop; a FastCGI failure that happens
 * once the time limit has passed is reported as a timeout. */
#include "auth_session.h"
#include "config.h"
#include "fcgi_client.h"
#include "fcgi_codec.h"
#include "log.h"
#include "utf8.h"
#include "util.h"
#include "workers.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define FCGI_OUT_MAX (16 * 1024)
#define MAX_HEADERS_SIZE (16 * 1024)
#define MAX_BODY_SIZE (64 * 1024)

struct pg_auth_session {
    struct event *done_ev;
    pg_session_cb cb;
    void *ud;
    bool finished;
    int outcome, status;
    char body[PG_SESSION_BODY_MAX];
    size_t body_len;
    char err[200];
    uint64_t started_ms;
    int timeout_ms;
    /* auth_url */
    struct evhttp_connection *evcon;
    bool tls;
    int http_error;                 /* enum evhttp_request_error + 1, 0 = none */
    /* auth_fastcgi */
    struct pg_fcgi_call *fcall;
    char *out;                      /* STDOUT so far (head and start of body) */
    size_t out_len;
};

static struct evdns_base *dns_of[PG_WORKERS_MAX];   /* one per worker: its base */
static SSL_CTX *ssl_ctx;

/* ---- ending ---- */

static void finish(struct pg_auth_session *s, int outcome, int status, const char *body, size_t len,
                   const char *err)
{
    if (s->finished)
        return;
    s->finished = true;
    s->outcome = outcome;
    s->status = status;
    s->body_len = PG_MIN(len, sizeof s->body);
    if (s->body_len)
        memcpy(s->body, body, s->body_len);
    snprintf(s->err, sizeof s->err, "%s", err ? err : "");
    event_active(s->done_ev, EV_TIMEOUT, 1);
}

static void session_free(struct pg_auth_session *s)
{
    if (s->evcon)
        evhttp_connection_free(s->evcon);
    if (s->fcall)
        pg_fcgi_call_abort(s->fcall);
    event_free(s->done_ev);
    free(s->out);
    free(s);
}

PG_LOCKED_EVCB(on_done)

static void on_done_locked(evutil_socket_t fd, short what, void *arg)
{
    struct pg_auth_session *s = arg;
    s->cb(s->ud, s->outcome, s->status, s->body, s->body_len, s->err);
    session_free(s);
}

void pg_auth_session_cancel(struct pg_auth_session *s)
{
    if (s)
        session_free(s);
}

static bool timed_out(const struct pg_auth_session *s)
{
    return s->timeout_ms > 0 && pg_now_ms() - s->started_ms + 50 >= (uint64_t)s->timeout_ms;
}

/* ---- auth_url: evhttp ---- */

static struct evdns_base *get_dns(struct event_base *base)
{
    struct evdns_base **dns = &dns_of[pg_worker_self];
    if (!*dns) {
        *dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (*dns)
            evdns_base_load_hosts(*dns, NULL);
    }
    return *dns;
}

static SSL *new_ssl(const char *host)
{
    if (!ssl_ctx) {
        ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!ssl_ctx)
            return NULL;
        SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
        SSL_CTX_set_default_verify_paths(ssl_ctx);
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
    SSL *ssl = SSL_new(ssl_ctx);
    if (!ssl)
        return NULL;
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    } else {
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set1_host(ssl, host);
    }
    return ssl;
}

static const char *http_error_text(struct pg_auth_session *s)
{
    switch (s->http_error - 1) {
    case EVREQ_HTTP_TIMEOUT: return "the auth_url server did not answer in time";
    case EVREQ_HTTP_EOF: return "the auth_url server closed the connection without an answer";
    case EVREQ_HTTP_INVALID_HEADER: return "malformed answer from the auth_url server";
    case EVREQ_HTTP_DATA_TOO_LONG: return "the auth_url server's answer is too long";
    case EVREQ_HTTP_BUFFER_ERROR: return "connection to the auth_url server failed";
    default: return "could not reach the auth_url server";
    }
}

static void http_on_error_locked(enum evhttp_request_error e, void *arg);
static void http_on_error(enum evhttp_request_error e, void *arg)
{
    pg_lock();
    http_on_error_locked(e, arg);
    pg_unlock();
}

static void http_on_error_locked(enum evhttp_request_error e, void *arg)
{
    struct pg_auth_session *s = arg;
    s->http_error = (int)e + 1;
    if (s->tls && s->evcon) {
        unsigned long ssl_err = bufferevent_get_openssl_error(evhttp_connection_get_bufferevent(s->evcon));
        if (ssl_err) {
            char buf[160];
            ERR_error_string_n(ssl_err, buf, sizeof buf);
            snprintf(s->err, sizeof s->err, "TLS with the auth_url server failed: %s", buf);
        }
    }
}

static void http_on_done_locked(struct evhttp_request *req, void *arg);
static void http_on_done(struct evhttp_request *req, void *arg)
{
    pg_lock();
    http_on_done_locked(req, arg);
    pg_unlock();
}

static void http_on_done_locked(struct evhttp_request *req, void *arg)
{
    struct pg_auth_session *s = arg;
    if (s->finished)
        return;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code <= 0) {
        bool tmo = s->http_error - 1 == EVREQ_HTTP_TIMEOUT || timed_out(s);
        const char *why = s->err[0] ? s->err : http_error_text(s);
        char copy[sizeof s->err];
        snprintf(copy, sizeof copy, "%s", why);
        finish(s, tmo ? PG_SESSION_TIMEOUT : PG_SESSION_FAILED, 0, NULL, 0, copy);
        return;
    }
    char body[PG_SESSION_BODY_MAX];
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    ev_ssize_t n = in ? evbuffer_copyout(in, body, sizeof body) : 0;
    finish(s, PG_SESSION_ANSWER, code, body, n > 0 ? (size_t)n : 0, NULL);
}

static void add(struct evkeyvalq *h, const char *name, const char *value)
{
    if (value && *value)
        evhttp_add_header(h, name, value);   /* refuses CR/LF itself */
}

static void http_headers(struct evhttp_request *req, const char *host,
                         int port, bool default_port, const struct pg_session_query *q)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    if (default_port)
        snprintf(hostport, sizeof hostport, "%s", host);
    else
        snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Connection", "close");
    evhttp_add_header(h, "X-Pushgate-Channels", q->channels);
    add(h, "Cookie", q->cookie);
    add(h, "Origin", q->origin);
    add(h, "User-Agent", q->user_agent);
    add(h, "X-Forwarded-For", q->peer);
    add(h, "X-Forwarded-Host", q->host);
}

static void http_start(struct pg_auth_session *s, struct event_base *base, const char *url,
                       const struct pg_session_query *q)
{
    struct evhttp_uri *u = evhttp_uri_parse(url);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    if (!scheme || !host || !*host) {
        if (u)
            evhttp_uri_free(u);
        finish(s, PG_SESSION_FAILED, 0, NULL, 0, "auth_url is not a usable http(s) URL");
        return;
    }
    s->tls = strcasecmp(scheme, "https") == 0;
    int port = evhttp_uri_get_port(u);
    bool default_port = port < 0;
    if (port < 0)
        port = s->tls ? 443 : 80;
    char chost[256];   /* without the brackets of an IPv6 literal */
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']')
        snprintf(chost, sizeof chost, "%.*s", (int)(hl - 2), host + 1);
    else
        snprintf(chost, sizeof chost, "%s", host);
    unsigned char ip[16];
    bool numeric = inet_pton(AF_INET, chost, ip) == 1 || inet_pton(AF_INET6, chost, ip) == 1;
    struct bufferevent *bev = NULL;
    if (s->tls) {
        SSL *ssl = new_ssl(chost);
        if (ssl)
            bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
            if (ssl)
                SSL_free(ssl);
            evhttp_uri_free(u);
            finish(s, PG_SESSION_FAILED, 0, NULL, 0, "cannot set up TLS for auth_url");
            return;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    s->evcon = evhttp_connection_base_bufferevent_new(base, numeric ? NULL : get_dns(base), bev,
                                                      chost, (unsigned short)port);
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(s->evcon, &tv);
    evhttp_connection_set_retries(s->evcon, 0);
    evhttp_connection_set_max_headers_size(s->evcon, MAX_HEADERS_SIZE);
    evhttp_connection_set_max_body_size(s->evcon, MAX_BODY_SIZE);
    struct evhttp_request *req = evhttp_request_new(http_on_done, s);
    evhttp_request_set_error_cb(req, http_on_error);
    http_headers(req, host, port, default_port, q);
    const char *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
    char *target = pg_xasprintf("%s%s%s", path && *path ? path : "/", query ? "?" : "",
                                query ? query : "");
    if (evhttp_make_request(s->evcon, req, EVHTTP_REQ_GET, target) != 0)
        finish(s, PG_SESSION_FAILED, 0, NULL, 0, "could not start the auth_url request");
    free(target);
    evhttp_uri_free(u);
}

/* ---- auth_fastcgi: fcgi_client ---- */

static void fcgi_on_stdout(void *ud, const uint8_t *p, size_t n)
{
    struct pg_auth_session *s = ud;
    size_t room = FCGI_OUT_MAX - s->out_len;
    if (n > room)
        n = room;
    if (!n)
        return;
    if (!s->out)
        s->out = pg_xmalloc(FCGI_OUT_MAX);
    memcpy(s->out + s->out_len, p, n);
    s->out_len += n;
}

static void fcgi_on_stderr(void *ud, const uint8_t *p, size_t n)
{
    char line[201];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof line - 1; i++)
        line[k++] = p[i] < 0x20 || p[i] == 0x7f ? ' ' : (char)p[i];
    k = pg_utf8_valid_prefix(line, k);
    pg_log_info("auth_fastcgi: the application wrote to stderr: %.*s", (int)k, line);
}

static void fcgi_on_end(void *ud, int err, uint32_t app_status, uint8_t proto_status, const char *why)
{
    struct pg_auth_session *s = ud;
    s->fcall = NULL;    /* the library frees the call after this returns */
    if (err < 0) {
        finish(s, timed_out(s) ? PG_SESSION_TIMEOUT : PG_SESSION_FAILED, 0, NULL, 0, why);
        return;
    }
    if (proto_status != PG_FCGI_REQUEST_COMPLETE) {
        finish(s, PG_SESSION_FAILED, 0, NULL, 0, "the FastCGI application refused the request (overloaded?)");
        return;
    }
    int status = 0;
    struct pg_cgi_header h[64];
    size_t nh = PG_ARRAY_LEN(h);
    long hl = s->out_len ? pg_cgi_parse_head(s->out, s->out_len, &status, h, &nh) : PG_FCGI_E_HEAD;
    if (hl < 0) {
        finish(s, PG_SESSION_FAILED, 0, NULL, 0,
               s->out_len ? "malformed CGI answer from the FastCGI application"
                          : "empty answer from the FastCGI application");
        return;
    }
    finish(s, PG_SESSION_ANSWER, status, s->out + hl, s->out_len - (size_t)hl, NULL);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash != path ? pg_xstrndup(path, (size_t)(slash - path)) : pg_xstrdup("/");
}

static void fcgi_start(struct pg_auth_session *s, struct event_base *base, const struct pg_rule *rule,
                       const struct pg_session_query *q)
{
    static const struct pg_fcgi_call_cb cbs = {
        .on_stdout = fcgi_on_stdout, .on_stderr = fcgi_on_stderr, .on_end = fcgi_on_end,
    };
    const char *script = rule->script, *base_name = strrchr(script, '/');
    char *doc_root = dir_of(script);
    const char *pairs[][2] = {
        {"GATEWAY_INTERFACE", "CGI/1.1"}, {"SERVER_SOFTWARE", "pushgate"},
        {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_METHOD", "GET"},
        {"SCRIPT_FILENAME", script}, {"SCRIPT_NAME", base_name}, {"REQUEST_URI", base_name},
        {"DOCUMENT_ROOT", doc_root}, {"QUERY_STRING", ""}, {"CONTENT_LENGTH", "0"},
        {"REMOTE_ADDR", q->peer}, {"HTTP_HOST", q->host}, {"HTTP_COOKIE", q->cookie},
        {"HTTP_ORIGIN", q->origin}, {"HTTP_USER_AGENT", q->user_agent},
        {"PUSHGATE_CHANNELS", q->channels}, {"HTTP_X_PUSHGATE_CHANNELS", q->channels},
    };
    uint8_t *params = NULL;
    size_t plen = 0;
    for (size_t i = 0; i < PG_ARRAY_LEN(pairs); i++)
        if (*pairs[i][1] || strcmp(pairs[i][0], "QUERY_STRING") == 0)
            pg_fcgi_params_add(&params, &plen, pairs[i][0], pairs[i][1]);
    s->fcall = pg_fcgi_call_start(base, rule->target, params, plen, &cbs, s, s->timeout_ms);
    pg_fcgi_call_stdin(s->fcall, NULL, 0);
    free(params);
    free(doc_root);
}

/* ---- entry points ---- */

struct pg_auth_session *pg_auth_session_start(struct event_base *base, const struct pg_rule *rule,
                                              bool fastcgi, const struct pg_session_query *q,
                                              int timeout_ms, pg_session_cb cb, void *ud)
{
    struct pg_auth_session *s = pg_xcalloc(1, sizeof *s);
    s->done_ev = event_new(base, -1, 0, on_done, s);
    s->cb = cb;
    s->ud = ud;
    s->started_ms = pg_now_ms();
    s->timeout_ms = timeout_ms;
    if (fastcgi)
        fcgi_start(s, base, rule, q);
    else
        http_start(s, base, rule->target, q);
    return s;
}

void pg_auth_session_free_all(void)
{
    for (unsigned i = 0; i < PG_WORKERS_MAX; i++)
        if (dns_of[i]) {
            evdns_base_free(dns_of[i], 0);
            dns_of[i] = NULL;
        }
    if (ssl_ctx) {
        SSL_CTX_free(ssl_ctx);
        ssl_ctx = NULL;
    }
}
