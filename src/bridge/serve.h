/* serve.h — the ways pushgate-fcgi runs: one CGI request, or FastCGI
 * accept threads, each serving requests through handler.c. */
#ifndef PG_BRIDGE_SERVE_H
#define PG_BRIDGE_SERVE_H

#include "bridge/handler.h"

/* Serves the one CGI request in environ/stdin/stdout. Returns 0. */
int pg_bridge_serve_cgi(const struct pg_bridge_ctx *ctx);

/* Serves FastCGI requests on listen_fd (0 = inherited from the web server)
 * with nthreads FCGX_Accept_r threads until SIGTERM. Returns 0 or 1. */
int pg_bridge_serve_fcgi(const struct pg_bridge_ctx *ctx, int listen_fd, int nthreads);

/* Opens a FastCGI listening socket from "unix:/path", "/path", ":port" or
 * "host:port". Returns the fd, or -1 with err. */
int pg_bridge_listen(const char *spec, char *err, size_t errlen);

#endif
