/* fcgi_codec.c — FastCGI records and CGI response heads (see fcgi_codec.h).
 *
 * Invariant: the decoder consumes every byte it is given exactly once and
 * reports stream content without copying it; control content is gathered
 * in d->ctl (bounded) and reported once whole.
 * Departure: a record with a version other than 1 kills the stream (the
 * spec has no other version); unknown record types are reported like
 * stream records, so the caller can answer UNKNOWN_TYPE. */
#include "fcgi_codec.h"

#include <string.h>

const char *pg_fcgi_strerror(int err)
{
    switch (err) {
    case PG_FCGI_OK: return "ok";
    case PG_FCGI_E_VERSION: return "FastCGI record with an unknown version";
    case PG_FCGI_E_CONTROL: return "FastCGI control record of a bad size";
    case PG_FCGI_E_NV: return "malformed FastCGI name-value pairs";
    case PG_FCGI_E_HEAD: return "malformed CGI response head";
    case PG_FCGI_E_STOPPED: return "stopped by the caller";
    case PG_FCGI_E_INCOMPLETE: return "incomplete";
    default: return "unknown FastCGI error";
    }
}

static bool is_control(uint8_t type)
{
    return type == PG_FCGI_BEGIN_REQUEST || type == PG_FCGI_ABORT_REQUEST ||
           type == PG_FCGI_END_REQUEST || type == PG_FCGI_GET_VALUES ||
           type == PG_FCGI_GET_VALUES_RESULT || type == PG_FCGI_UNKNOWN_TYPE;
}

void pg_fcgi_decoder_init(struct pg_fcgi_decoder *d)
{
    memset(d, 0, sizeof *d);
}

bool pg_fcgi_decoder_idle(const struct pg_fcgi_decoder *d)
{
    return !d->in_record && d->hdr_have == 0;
}

/* Header complete: set up the record. */
static int start_record(struct pg_fcgi_decoder *d)
{
    if (d->hdr[0] != 1)
        return PG_FCGI_E_VERSION;
    d->type = d->hdr[1];
    d->id = (uint16_t)(d->hdr[2] << 8 | d->hdr[3]);
    d->content_len = d->content_left = (size_t)(d->hdr[4] << 8 | d->hdr[5]);
    d->pad_left = d->hdr[6];
    d->in_record = true;
    d->first_sent = false;
    d->ctl_have = 0;
    d->hdr_have = 0;
    if (is_control(d->type) && d->content_len > PG_FCGI_CONTROL_MAX)
        return PG_FCGI_E_CONTROL;
    return 0;
}

long pg_fcgi_decode(struct pg_fcgi_decoder *d, const uint8_t *p, size_t n, pg_fcgi_record_cb cb,
                    void *ud, bool *stopped)
{
    size_t i = 0;
    *stopped = false;
    while (i < n) {
        if (!d->in_record) {
            size_t take = PG_FCGI_HEADER_LEN - d->hdr_have;
            take = take < n - i ? take : n - i;
            memcpy(d->hdr + d->hdr_have, p + i, take);
            d->hdr_have += take;
            i += take;
            if (d->hdr_have < PG_FCGI_HEADER_LEN)
                break;
            int rc = start_record(d);
            if (rc < 0)
                return rc;
        }
        size_t take = d->content_left < n - i ? d->content_left : n - i;
        int stop = 0;
        if (is_control(d->type)) {
            memcpy(d->ctl + d->ctl_have, p + i, take);
            d->ctl_have += take;
            d->content_left -= take;
            i += take;
            if (d->content_left == 0 && !d->first_sent) {
                d->first_sent = true;
                stop = cb(ud, d->type, d->id, d->ctl, d->ctl_have, PG_FCGI_FIRST | PG_FCGI_LAST);
            }
        } else if (take > 0 || !d->first_sent) {
            int flags = d->first_sent ? 0 : PG_FCGI_FIRST;
            d->content_left -= take;
            if (d->content_left == 0)
                flags |= PG_FCGI_LAST;
            d->first_sent = true;
            stop = cb(ud, d->type, d->id, p + i, take, flags);
            i += take;
        }
        size_t pad = d->pad_left < n - i ? d->pad_left : n - i;
        if (d->content_left == 0) {
            d->pad_left -= pad;
            i += pad;
            if (d->pad_left == 0)
                d->in_record = false;
        }
        if (stop) {
            *stopped = true;
            d->consumed += i;
            return (long)i;
        }
    }
    d->consumed += i;
    return (long)i;
}

int pg_fcgi_parse_begin(const uint8_t *c, size_t len, uint16_t *role, uint8_t *flags)
{
    if (len != 8)
        return PG_FCGI_E_CONTROL;
    *role = (uint16_t)(c[0] << 8 | c[1]);
    *flags = c[2];
    return 0;
}

int pg_fcgi_parse_end(const uint8_t *c, size_t len, uint32_t *app_status, uint8_t *proto_status)
{
    if (len != 8)
        return PG_FCGI_E_CONTROL;
    *app_status = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
    *proto_status = c[4];
    return 0;
}

/* Reads one length (1 byte, or 4 with the high bit set). */
static int nv_len(const uint8_t *p, size_t n, size_t *i, size_t *out)
{
    if (*i >= n)
        return -1;
    if (!(p[*i] & 0x80)) {
        *out = p[(*i)++];
        return 0;
    }
    if (n - *i < 4)
        return -1;
    *out = (size_t)(p[*i] & 0x7f) << 24 | (size_t)p[*i + 1] << 16 | (size_t)p[*i + 2] << 8 | p[*i + 3];
    *i += 4;
    return 0;
}

int pg_fcgi_parse_nv(const uint8_t *p, size_t n, pg_fcgi_nv_cb cb, void *ud)
{
    size_t i = 0;
    while (i < n) {
        size_t nl, vl;
        if (nv_len(p, n, &i, &nl) < 0 || nv_len(p, n, &i, &vl) < 0)
            return PG_FCGI_E_NV;
        if (nl > n - i || vl > n - i - nl)
            return PG_FCGI_E_NV;
        if (cb && cb(ud, p + i, nl, p + i + nl, vl))
            return PG_FCGI_E_STOPPED;
        i += nl + vl;
    }
    return 0;
}

void pg_fcgi_put_header(uint8_t *out, uint8_t type, uint16_t id, uint16_t len, uint8_t pad)
{
    out[0] = 1;
    out[1] = type;
    out[2] = (uint8_t)(id >> 8);
    out[3] = (uint8_t)id;
    out[4] = (uint8_t)(len >> 8);
    out[5] = (uint8_t)len;
    out[6] = pad;
    out[7] = 0;
}

void pg_fcgi_put_begin(uint8_t *out, uint16_t id, uint16_t role, uint8_t flags)
{
    pg_fcgi_put_header(out, PG_FCGI_BEGIN_REQUEST, id, 8, 0);
    memset(out + 8, 0, 8);
    out[8] = (uint8_t)(role >> 8);
    out[9] = (uint8_t)role;
    out[10] = flags;
}

void pg_fcgi_put_end(uint8_t *out, uint16_t id, uint32_t app_status, uint8_t proto_status)
{
    pg_fcgi_put_header(out, PG_FCGI_END_REQUEST, id, 8, 0);
    out[8] = (uint8_t)(app_status >> 24);
    out[9] = (uint8_t)(app_status >> 16);
    out[10] = (uint8_t)(app_status >> 8);
    out[11] = (uint8_t)app_status;
    out[12] = proto_status;
    out[13] = out[14] = out[15] = 0;
}

void pg_fcgi_put_abort(uint8_t *out, uint16_t id)
{
    pg_fcgi_put_header(out, PG_FCGI_ABORT_REQUEST, id, 0, 0);
}

void pg_fcgi_put_unknown_type(uint8_t *out, uint8_t type)
{
    pg_fcgi_put_header(out, PG_FCGI_UNKNOWN_TYPE, 0, 8, 0);
    memset(out + 8, 0, 8);
    out[8] = type;
}

static size_t len_size(size_t l)
{
    return l < 128 ? 1 : 4;
}

size_t pg_fcgi_nv_size(size_t nlen, size_t vlen)
{
    if (nlen > 0x7fffffffu || vlen > 0x7fffffffu)
        return 0;
    return len_size(nlen) + len_size(vlen) + nlen + vlen;
}

static size_t put_len(uint8_t *out, size_t l)
{
    if (l < 128) {
        out[0] = (uint8_t)l;
        return 1;
    }
    out[0] = (uint8_t)(0x80 | (l >> 24));
    out[1] = (uint8_t)(l >> 16);
    out[2] = (uint8_t)(l >> 8);
    out[3] = (uint8_t)l;
    return 4;
}

size_t pg_fcgi_put_nv(uint8_t *out, const void *name, size_t nlen, const void *value, size_t vlen)
{
    size_t i = put_len(out, nlen);
    i += put_len(out + i, vlen);
    memcpy(out + i, name, nlen);
    i += nlen;
    if (vlen)
        memcpy(out + i, value, vlen);
    return i + vlen;
}

size_t pg_fcgi_stream_size(size_t len)
{
    size_t records = (len + PG_FCGI_MAX_CONTENT - 1) / PG_FCGI_MAX_CONTENT;
    return len + records * PG_FCGI_HEADER_LEN + (len == 0 ? PG_FCGI_HEADER_LEN : 0);
}

size_t pg_fcgi_put_stream(uint8_t *out, uint8_t type, uint16_t id, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t o = 0;
    if (len == 0) {
        pg_fcgi_put_header(out, type, id, 0, 0);
        return PG_FCGI_HEADER_LEN;
    }
    while (len) {
        size_t c = len < PG_FCGI_MAX_CONTENT ? len : PG_FCGI_MAX_CONTENT;
        pg_fcgi_put_header(out + o, type, id, (uint16_t)c, 0);
        memcpy(out + o + PG_FCGI_HEADER_LEN, p, c);
        o += PG_FCGI_HEADER_LEN + c;
        p += c;
        len -= c;
    }
    return o;
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool view_eq_ci(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (l != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = p[i], b = lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (char)(b + 32);
        if (a != b)
            return false;
    }
    return true;
}

static int parse_status(const char *v, size_t n)
{
    if (n < 3 || v[0] < '1' || v[0] > '5' || v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9' ||
        (n > 3 && v[3] != ' '))
        return -1;
    return (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
}

long pg_cgi_parse_head(const char *p, size_t n, int *status, struct pg_cgi_header *h,
                       size_t *nheaders)
{
    size_t max = *nheaders, count = 0, i = 0;
    int st = 0;
    bool location = false;
    for (;;) {
        const char *nl = memchr(p + i, '\n', n - i);
        if (!nl)
            return PG_FCGI_E_INCOMPLETE;
        size_t end = (size_t)(nl - p), le = end;
        if (le > i && p[le - 1] == '\r')
            le--;
        if (le == i) {
            *status = st ? st : location ? 302 : 200;
            *nheaders = count;
            return (long)end + 1;
        }
        size_t c = i;
        while (c < le && is_tchar(p[c]))
            c++;
        if (c == i || c >= le || p[c] != ':' || count == max)
            return PG_FCGI_E_HEAD;
        size_t v = c + 1;
        while (v < le && (p[v] == ' ' || p[v] == '\t'))
            v++;
        size_t ve = le;
        while (ve > v && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
            ve--;
        h[count] = (struct pg_cgi_header){p + i, c - i, p + v, ve - v};
        if (view_eq_ci(p + i, c - i, "Status")) {
            st = parse_status(p + v, ve - v);
            if (st < 0)
                return PG_FCGI_E_HEAD;
        } else if (view_eq_ci(p + i, c - i, "Location")) {
            location = true;
        }
        count++;
        i = end + 1;
    }
}
