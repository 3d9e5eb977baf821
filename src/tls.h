/* tls.h — OpenSSL server context: certificate load at start-up and reload
 * on SIGHUP (new connections use the new context; open ones keep theirs). */
#ifndef PG_TLS_H
#define PG_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct pg_config;

/* Builds a context from tls_cert, tls_key (and tls_chain). Returns 0, or -1
 * with one line in err (the running context, if any, stays). */
int pg_tls_load(const struct pg_config *c, char *err, size_t errlen);
bool pg_tls_ready(void);
/* A new server-side SSL for an accepted socket, or NULL. */
SSL *pg_tls_new(int fd);
void pg_tls_free_ctx(void);

#endif
