/* ws_handshake.h — server side of the WebSocket opening handshake (RFC 6455
 * §4.2, RFC 7692 negotiation): validates an already-parsed upgrade request,
 * computes Sec-WebSocket-Accept, picks our subprotocol and permessage-deflate
 * parameters, and writes the 101 response head. No I/O.
 */
#ifndef PG_WS_HANDSHAKE_H
#define PG_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

struct pg_http_request;

#define PG_WS_SUBPROTOCOL_JSON "pushgate.v1+json"
#define PG_WS_DEFLATE_RESPONSE "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

struct pg_ws_handshake {
    int status;        /* 101 on success; else 400, 405 (not GET) or 426 (missing or
                          bad Sec-WebSocket-Version: answer with pg_ws_handshake_error_headers) */
    const char *why;   /* static one-line reason for the error body or the log; NULL on 101 */
    char accept[29];   /* Sec-WebSocket-Accept value, NUL-terminated (only on 101) */
    bool json;         /* the client offered pushgate.v1+json (any position, any
                          Sec-WebSocket-Protocol header) */
    bool deflate;      /* permessage-deflate negotiated; we always answer
                          server_no_context_takeover and client_no_context_takeover */
    bool deflate_server_max_window_bits; /* the accepted offer had server_max_window_bits=15:
                                            RFC 7692 §7.1.2.1 wants it echoed, and we do */
};

/* Validates the upgrade request: GET, HTTP/1.1, Upgrade: websocket,
 * Connection containing Upgrade, Sec-WebSocket-Version 13, one
 * Sec-WebSocket-Key that is base64 of 16 bytes. allow_deflate: our config;
 * when false no extension is ever negotiated. Always fills *hs completely.
 * Keeps no pointer into req. */
void pg_ws_handshake_check(const struct pg_http_request *req, bool allow_deflate,
                           struct pg_ws_handshake *hs);

/* Writes the 101 response head (status line, Upgrade, Connection,
 * Sec-WebSocket-Accept, Sec-WebSocket-Protocol when json,
 * Sec-WebSocket-Extensions when deflate, then extra_headers — NULL or
 * CRLF-terminated lines — and the blank line) into out. Returns its length
 * (out is also NUL-terminated), or -1 when outcap is too small or hs->status
 * is not 101. */
int pg_ws_handshake_response(const struct pg_ws_handshake *hs, const char *extra_headers,
                             char *out, size_t outcap);

/* Header lines the error answer must carry: "Sec-WebSocket-Version: 13\r\n"
 * for 426, "Allow: GET\r\n" for 405, "" otherwise. Static storage. */
const char *pg_ws_handshake_error_headers(const struct pg_ws_handshake *hs);

#endif
