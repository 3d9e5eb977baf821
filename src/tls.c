/* tls.c — the OpenSSL server context for tls: listeners.
 *
 * Departure from the design card: connections do not use libevent's
 * bufferevent_openssl, because conn.c does not use bufferevents at all
 * (see its header); conn.c calls SSL_read/SSL_write on its own non-blocking
 * socket instead. TLS 1.2 is the minimum; the cipher list is OpenSSL's
 * default for TLS 1.3 and a forward-secret AEAD list for 1.2;
 * SSL_OP_IGNORE_UNEXPECTED_EOF makes a peer's missing close_notify an
 * ordinary EOF (OpenSSL 3 reports it as an error otherwise);
 * SSL_MODE_RELEASE_BUFFERS frees an idle connection's record buffers. */
#include "tls.h"
#include "config.h"
#include "log.h"

#include <openssl/err.h>
#include <stdio.h>

static SSL_CTX *ctx;

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s %s: %s", what, path, e ? buf : "failed");
    ERR_clear_error();
}

int pg_tls_load(const struct pg_config *c, char *err, size_t errlen)
{
    if (!*c->tls_cert || !*c->tls_key) {
        snprintf(err, errlen, "a tls: listener needs tls_cert and tls_key");
        return -1;
    }
    SSL_CTX *n = SSL_CTX_new(TLS_server_method());
    if (!n) {
        ssl_error(err, errlen, "TLS", "context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(n, TLS1_2_VERSION);
    SSL_CTX_set_options(n, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(n, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_cipher_list(n, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!DSS");
    SSL_CTX_set_session_cache_mode(n, SSL_SESS_CACHE_SERVER);
    if (SSL_CTX_use_certificate_chain_file(n, c->tls_cert) != 1) {
        ssl_error(err, errlen, "tls_cert", c->tls_cert);
        goto fail;
    }
    if (*c->tls_chain && SSL_CTX_load_verify_locations(n, c->tls_chain, NULL) != 1) {
        ssl_error(err, errlen, "tls_chain", c->tls_chain);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(n, c->tls_key, SSL_FILETYPE_PEM) != 1) {
        ssl_error(err, errlen, "tls_key", c->tls_key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(n) != 1) {
        ssl_error(err, errlen, "tls_key", "does not match tls_cert");
        goto fail;
    }
    if (*c->tls_chain)
        SSL_CTX_build_cert_chain(n, SSL_BUILD_CHAIN_FLAG_CHECK | SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR);
    SSL_CTX_free(ctx);
    ctx = n;
    return 0;
fail:
    SSL_CTX_free(n);
    return -1;
}

bool pg_tls_ready(void)
{
    return ctx != NULL;
}

SSL *pg_tls_new(int fd)
{
    if (!ctx)
        return NULL;
    SSL *s = SSL_new(ctx);
    if (!s)
        return NULL;
    SSL_set_fd(s, fd);
    SSL_set_accept_state(s);
    return s;
}

void pg_tls_free_ctx(void)
{
    SSL_CTX_free(ctx);
    ctx = NULL;
}
