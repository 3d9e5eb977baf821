/* message.c — the refcounted immutable message and its encoding cache
 * (see message.h for the invariants). One allocation holds the struct, the
 * id, channel, event and body; each encoding is one more. */
#include "message.h"
#include "buf.h"
#include "utf8.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

#define PG_ID_MAX 48

static struct {
    const char *name;
    pg_format_encode_fn encode;
} formats[PG_FORMAT_MAX];
static int n_formats;
uint64_t pg_messages_alive;

int pg_format_register(const char *name, pg_format_encode_fn encode)
{
    for (int i = 0; i < n_formats; i++)
        if (strcmp(formats[i].name, name) == 0)
            return i;
    if (n_formats == PG_FORMAT_MAX)
        abort();
    formats[n_formats].name = name;
    formats[n_formats].encode = encode;
    return n_formats++;
}

const char *pg_format_name(int fmt)
{
    return fmt >= 0 && fmt < n_formats ? formats[fmt].name : "?";
}

struct pg_message *pg_message_new(const char *channel, size_t channel_len,
                                  const char *event, size_t event_len,
                                  const void *body, size_t body_len)
{
    size_t size = sizeof(struct pg_message) + PG_ID_MAX + channel_len + 1 + event_len + 1 + body_len + 1;
    struct pg_message *m = pg_xmalloc(size);
    memset(m, 0, sizeof *m);
    char *p = (char *)(m + 1);
    m->refs = 1;
    m->id = p;
    p[0] = '\0';
    p += PG_ID_MAX;
    memcpy(p, channel, channel_len);
    p[channel_len] = '\0';
    m->channel = p;
    m->channel_len = (uint16_t)channel_len;
    p += channel_len + 1;
    if (event && event_len) {
        memcpy(p, event, event_len);
        p[event_len] = '\0';
        m->event = p;
        m->event_len = (uint8_t)event_len;
        p += event_len + 1;
    }
    if (body_len)
        memcpy(p, body, body_len);
    p[body_len] = '\0';
    m->body = p;
    m->body_len = body_len;
    m->binary = !pg_utf8_valid(m->body, body_len);
    m->created_ms = pg_now_ms();
    m->created_wall_ns = pg_wall_ms() * 1000000u;
    m->mem = size;
    __atomic_add_fetch(&pg_messages_alive, 1, __ATOMIC_RELAXED);
    return m;
}

void pg_message_set_id(struct pg_message *m, const char *epoch, uint64_t seq)
{
    m->seq = seq;
    /* "<epoch>-<seq>" without snprintf: once per published message */
    char *id = (char *)m->id, d[20];
    size_t el = strnlen(epoch, PG_ID_MAX - 22), nd = 0;
    memcpy(id, epoch, el);
    id[el] = '-';
    do {
        d[sizeof d - ++nd] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq);
    memcpy(id + el + 1, d + sizeof d - nd, nd);
    id[el + 1 + nd] = '\0';
    m->id_len = (uint8_t)(el + 1 + nd);
}

void pg_message_unref(struct pg_message *m)
{
    if (pg_threaded ? __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) : --m->refs)
        return;
    for (int i = 0; i < PG_FORMAT_MAX; i++)
        free(m->enc[i].data);
    free(m->dedup_key);
    __atomic_sub_fetch(&pg_messages_alive, 1, __ATOMIC_RELAXED);
    free(m);
}

const struct pg_encoding *pg_message_encode(struct pg_message *m, int fmt)
{
    struct pg_encoding *e = &m->enc[fmt];
    if (e->data)
        return e;
    struct pg_buf b = {0};
    formats[fmt].encode(m, &b);
    size_t len;
    e->data = pg_buf_steal(&b, &len);
    e->len = (uint32_t)len;
    m->mem += len;
    return e;
}

void pg_message_json_envelope(const struct pg_message *m, struct pg_buf *out)
{
    pg_buf_reserve(out, m->body_len + m->body_len / 3 + 128);
    pg_buf_adds(out, "{\"id\":");
    pg_buf_json_str(out, m->id, m->id_len);
    pg_buf_adds(out, ",\"channel\":");
    pg_buf_json_str(out, m->channel, m->channel_len);
    pg_buf_adds(out, ",\"event\":");
    if (m->event)
        pg_buf_json_str(out, m->event, m->event_len);
    else
        pg_buf_adds(out, "null");
    pg_buf_adds(out, ",\"data\":");
    if (m->binary) {
        pg_buf_adds(out, "\"");
        pg_buf_base64(out, m->body, m->body_len);
        pg_buf_adds(out, "\",\"encoding\":\"base64\"}");
    } else {
        pg_buf_json_str(out, m->body, m->body_len);
        pg_buf_adds(out, "}");
    }
}
