/* notice.c — JSON text of the gap and deleted notices (see notice.h). */
#include "notice.h"

#include <string.h>

void pg_notice_gap(struct pg_buf *b, bool typed, const char *const *channels, size_t n,
                   const char *cursor)
{
    pg_buf_adds(b, typed ? "{\"type\":\"gap\",\"channels\":[" : "{\"channels\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            pg_buf_adds(b, ",");
        pg_buf_json_str(b, channels[i], strlen(channels[i]));
    }
    pg_buf_adds(b, "],\"id\":");
    pg_buf_json_str(b, cursor, strlen(cursor));
    pg_buf_adds(b, "}");
}

void pg_notice_deleted(struct pg_buf *b, const char *channel)
{
    pg_buf_adds(b, "{\"type\":\"deleted\",\"channel\":");
    pg_buf_json_str(b, channel, strlen(channel));
    pg_buf_adds(b, "}");
}
