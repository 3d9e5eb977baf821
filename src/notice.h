/* notice.h — the JSON text of the control notices every transport sends
 * (gap, deleted), so WebSocket, SSE and long-poll say exactly the same. */
#ifndef PG_NOTICE_H
#define PG_NOTICE_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

/* {"type":"gap","channels":[...],"id":"<cursor>"}; without "type" when
 * typed is false (SSE names the event instead). */
void pg_notice_gap(struct pg_buf *b, bool typed, const char *const *channels, size_t n,
                   const char *cursor);
/* {"type":"deleted","channel":"..."} */
void pg_notice_deleted(struct pg_buf *b, const char *channel);

#endif
