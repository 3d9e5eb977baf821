/* redis_script.c — the Redis store's Lua scripts, its bus payload codec and
 * its script-reply readers (see redis_script.h for the keys, the argument
 * layouts and the invariants). No I/O.
 *
 * Deliberate departures: the scripts build some key names from ARGV
 * (the age trim's streams) and are not Redis Cluster safe: one Redis (or a
 * primary with replicas) serves a pushgate cluster. Numbers cross into and
 * out of Lua as decimal strings (string.format %d), never as Lua floats
 * printed with %.14g. */
#include "redis_script.h"
#include "message.h"
#include "names.h"
#include "util.h"

#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>

/* ---- the scripts ---- */

#define LUA_PRELUDE \
    "local function fmt(n) return string.format('%d', n) end\n" \
    "local function clock(kep, kseq, cand)\n" \
    "  local ep = redis.call('GET', kep)\n" \
    "  if redis.call('EXISTS', kseq) == 0 then\n" \
    "    ep = cand\n" \
    "    redis.call('SET', kseq, '0')\n" \
    "    redis.call('SET', kep, ep)\n" \
    "  elseif not ep then\n" \
    "    ep = cand\n" \
    "    redis.call('SET', kep, ep)\n" \
    "  end\n" \
    "  return ep\n" \
    "end\n" \
    "local function now_ms()\n" \
    "  local t = redis.call('TIME')\n" \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "end\n" \
    "local function fields(f)\n" \
    "  local p, t, e, b = 0, 0, '', ''\n" \
    "  for k = 1, #f, 2 do\n" \
    "    local v = f[k + 1]\n" \
    "    if f[k] == 'p' then p = tonumber(v) elseif f[k] == 't' then t = tonumber(v)\n" \
    "    elseif f[k] == 'e' then e = v elseif f[k] == 'b' then b = v end\n" \
    "  end\n" \
    "  return p, t, e, b\n" \
    "end\n" \
    "local function idseq(id) return tonumber(string.match(id, '^%d+')) end\n"

static const char hello_lua[] = LUA_PRELUDE
    "local ep = clock(KEYS[1], KEYS[2], ARGV[1])\n"
    "local c = redis.call('GET', KEYS[2])\n"
    "if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], 'h\\n' .. ep .. '\\n' .. c) end\n"
    "return {ep, c}\n";

/* All or nothing: every key is checked before the first write. A stream
 * holding ids above the counter (the counter was lost and the epoch
 * renewed) moves the counter past them. */
static const char publish_lua[] = LUA_PRELUDE
    "local ep = clock(KEYS[1], KEYS[2], ARGV[1])\n"
    "local px = tonumber(ARGV[3])\n"
    "if px > 0 and redis.call('EXISTS', KEYS[5]) == 1 then return {ep, 'dup'} end\n"
    "for i = 6, #KEYS do\n"
    "  local ty = redis.call('TYPE', KEYS[i])['ok']\n"
    "  if ty ~= 'none' and ty ~= 'stream' then\n"
    "    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is not a stream')\n"
    "  end\n"
    "end\n"
    "local size = tonumber(ARGV[2])\n"
    "local ms = fmt(now_ms())\n"
    "local out = {ep}\n"
    "for i = 1, #KEYS - 5 do\n"
    "  local ch, ev, body = ARGV[3 * i + 2], ARGV[3 * i + 3], ARGV[3 * i + 4]\n"
    "  local key = KEYS[5 + i]\n"
    "  local seq = redis.call('INCR', KEYS[2])\n"
    "  local prev = redis.call('HGET', KEYS[3], ch) or '0'\n"
    "  if size > 0 then\n"
    "    local ok = redis.pcall('XADD', key, 'MAXLEN', ARGV[2], fmt(seq) .. '-0',\n"
    "                           'p', prev, 't', ms, 'e', ev, 'b', body)\n"
    "    if type(ok) == 'table' and ok.err then\n"
    "      local top = 0\n"
    "      local info = redis.call('XINFO', 'STREAM', key)\n"
    "      for k = 1, #info, 2 do\n"
    "        if info[k] == 'last-generated-id' then top = idseq(info[k + 1]) end\n"
    "      end\n"
    "      if top < seq then return redis.error_reply(ok.err) end\n"
    "      redis.call('SET', KEYS[2], fmt(top))\n"
    "      seq = redis.call('INCR', KEYS[2])\n"
    "      redis.call('XADD', key, 'MAXLEN', ARGV[2], fmt(seq) .. '-0',\n"
    "                 'p', prev, 't', ms, 'e', ev, 'b', body)\n"
    "    end\n"
    "    redis.call('ZADD', KEYS[4], ms, ch)\n"
    "  end\n"
    "  redis.call('HSET', KEYS[3], ch, fmt(seq))\n"
    "  redis.call('PUBLISH', ARGV[4], 'm\\n' .. ep .. '\\n' .. fmt(seq) .. '\\n' .. ms .. '\\n'\n"
    "             .. ch .. '\\n' .. ev .. '\\n' .. body)\n"
    "  out[i + 1] = fmt(seq)\n"
    "end\n"
    "if px > 0 then redis.call('SET', KEYS[5], '1', 'PX', ARGV[3]) end\n"
    "return out\n";

/* Gap rules per channel: another epoch; the first entry after the cursor
 * names a previous seq above it (trimmed); an entry skipped for its age;
 * no entry after the cursor although the channel's last seq is above it.
 * 'd': deleted after the cursor. Entries above upto are left to the bus. */
static const char replay_lua[] = LUA_PRELUDE
    "local ep = clock(KEYS[1], KEYS[2], ARGV[1])\n"
    "local counter = tonumber(redis.call('GET', KEYS[2]))\n"
    "local other = ep ~= ARGV[2]\n"
    "local after = 0\n"
    "if not other then after = tonumber(ARGV[3]) end\n"
    "local upto = counter\n"
    "if ARGV[4] ~= '' then upto = tonumber(ARGV[4]) end\n"
    "local oldest = now_ms() - tonumber(ARGV[5])\n"
    "local out = {ep, fmt(counter), ''}\n"
    "local flags = {}\n"
    "for i = 1, #KEYS - 4 do\n"
    "  local ch = ARGV[5 + i]\n"
    "  local gap = other\n"
    "  local rows = redis.call('XRANGE', KEYS[4 + i], '(' .. fmt(after) .. '-0', '+')\n"
    "  if #rows == 0 and tonumber(redis.call('HGET', KEYS[3], ch) or '0') > after then gap = true end\n"
    "  for j, r in ipairs(rows) do\n"
    "    local seq = idseq(r[1])\n"
    "    local p, t, e, b = fields(r[2])\n"
    "    if j == 1 and p > after then gap = true end\n"
    "    if seq > upto then break end\n"
    "    if t < oldest then gap = true\n"
    "    else\n"
    "      local n = #out\n"
    "      out[n + 1] = i\n"
    "      out[n + 2] = fmt(seq)\n"
    "      out[n + 3] = fmt(t)\n"
    "      out[n + 4] = e\n"
    "      out[n + 5] = b\n"
    "    end\n"
    "  end\n"
    "  local del = tonumber(redis.call('HGET', KEYS[4], ch) or '0')\n"
    "  if del > after then flags[i] = 'd' elseif gap then flags[i] = '1' else flags[i] = '0' end\n"
    "end\n"
    "out[3] = table.concat(flags)\n"
    "return out\n";

static const char delete_lua[] = LUA_PRELUDE
    "local ep = clock(KEYS[1], KEYS[2], ARGV[1])\n"
    "local existed = redis.call('XLEN', KEYS[5]) > 0\n"
    "local d = redis.call('INCR', KEYS[2])\n"
    "redis.call('DEL', KEYS[5])\n"
    "redis.call('ZREM', KEYS[4], ARGV[3])\n"
    "redis.call('HSET', KEYS[3], ARGV[3], fmt(d))\n"
    "redis.call('PUBLISH', ARGV[2], 'd\\n' .. ep .. '\\n' .. fmt(d) .. '\\n' .. ARGV[3])\n"
    "if existed then return {ep, 1} end\n"
    "return {ep, 0}\n";

static const char info_lua[] = LUA_PRELUDE
    "local ep = clock(KEYS[1], KEYS[2], ARGV[1])\n"
    "local oldest = now_ms() - tonumber(ARGV[2])\n"
    "local n = redis.call('XLEN', KEYS[4])\n"
    "if n > 0 then\n"
    "  local first = redis.call('XRANGE', KEYS[4], '-', '+', 'COUNT', 1)\n"
    "  local p, t = fields(first[1][2])\n"
    "  if t < oldest then\n"
    "    n = 0\n"
    "    for _, r in ipairs(redis.call('XRANGE', KEYS[4], '-', '+')) do\n"
    "      local p2, t2 = fields(r[2])\n"
    "      if t2 >= oldest then n = n + 1 end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {ep, n, redis.call('HGET', KEYS[3], ARGV[3]) or '0'}\n";

/* Drops whole streams whose newest entry has expired (a channel still in
 * use keeps at most history_size entries; its expired ones are skipped
 * when read). One node per round: the lock outlives no round. */
static const char trim_lua[] = LUA_PRELUDE
    "if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', 5000) then return -1 end\n"
    "local cutoff = now_ms() - tonumber(ARGV[1])\n"
    "local chans = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. fmt(cutoff), 'LIMIT', 0, 5000)\n"
    "for _, ch in ipairs(chans) do\n"
    "  redis.call('DEL', ARGV[3] .. ch)\n"
    "  redis.call('ZREM', KEYS[1], ch)\n"
    "end\n"
    "return #chans\n";

static const struct {
    const char *name, *text;
} scripts[PG_RS_COUNT] = {
    [PG_RS_HELLO] = {"hello", hello_lua},
    [PG_RS_PUBLISH] = {"publish", publish_lua},
    [PG_RS_REPLAY] = {"replay", replay_lua},
    [PG_RS_DELETE] = {"delete", delete_lua},
    [PG_RS_INFO] = {"info", info_lua},
    [PG_RS_TRIM] = {"trim", trim_lua},
};

const char *pg_redis_script_text(enum pg_redis_script which)
{
    return scripts[which].text;
}

const char *pg_redis_script_name(enum pg_redis_script which)
{
    return scripts[which].name;
}

/* ---- the bus codec ---- */

bool pg_redis_epoch_valid(const char *s, size_t n)
{
    if (n == 0 || n >= PG_REDIS_EPOCH_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* The next '\n'-terminated field of [*p, end): its view; false when none. */
static bool next_field(const char **p, const char *end, const char **f, size_t *n)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return false;
    *f = *p;
    *n = (size_t)(nl - *p);
    *p = nl + 1;
    return true;
}

static int bad(const char **why, const char *what)
{
    *why = what;
    return PG_BUS_EBAD;
}

static int decode_message(const char *p, const char *end, struct pg_bus_msg *out, const char **why)
{
    const char *f;
    size_t n;
    if (!next_field(&p, end, &f, &n) || !parse_u64(f, n, &out->ms))
        return bad(why, "bus message: bad publish time");
    if (!next_field(&p, end, &out->channel, &out->channel_len) ||
        !pg_channel_name_valid(out->channel, out->channel_len))
        return bad(why, "bus message: bad channel name");
    if (!next_field(&p, end, &out->event, &out->event_len) ||
        (out->event_len && !pg_event_name_valid(out->event, out->event_len)))
        return bad(why, "bus message: bad event name");
    out->body = p;
    out->body_len = (size_t)(end - p);
    return PG_BUS_OK;
}

int pg_bus_decode(const char *p, size_t len, struct pg_bus_msg *out, const char **why)
{
    const char *end = p + len, *f;
    size_t n;
    memset(out, 0, sizeof *out);
    if (len < 2 || p[1] != '\n' || (p[0] != 'm' && p[0] != 'd' && p[0] != 'h'))
        return bad(why, "bus: unknown payload kind");
    out->kind = p[0];
    p += 2;
    if (!next_field(&p, end, &out->epoch, &out->epoch_len) ||
        !pg_redis_epoch_valid(out->epoch, out->epoch_len))
        return bad(why, "bus: bad epoch");
    bool last = out->kind == PG_BUS_BEAT;
    if (last) {
        f = p;
        n = (size_t)(end - p);
    } else if (!next_field(&p, end, &f, &n)) {
        return bad(why, "bus: truncated");
    }
    if (!parse_u64(f, n, &out->seq))
        return bad(why, "bus: bad seq");
    if (out->kind == PG_BUS_MESSAGE)
        return decode_message(p, end, out, why);
    if (out->kind == PG_BUS_DELETE) {
        out->channel = p;
        out->channel_len = (size_t)(end - p);
        if (!pg_channel_name_valid(out->channel, out->channel_len))
            return bad(why, "bus delete: bad channel name");
    }
    return PG_BUS_OK;
}

char *pg_bus_encode_message(const char *epoch, uint64_t seq, uint64_t ms, const char *channel,
                            const char *event, const char *body, size_t body_len, size_t *outlen)
{
    char *head = pg_xasprintf("m\n%s\n%llu\n%llu\n%s\n%s\n", epoch, (unsigned long long)seq,
                              (unsigned long long)ms, channel, event ? event : "");
    size_t hl = strlen(head);
    char *out = pg_xmalloc(hl + body_len + 1);
    memcpy(out, head, hl);
    if (body_len)
        memcpy(out + hl, body, body_len);
    out[hl + body_len] = '\0';
    free(head);
    *outlen = hl + body_len;
    return out;
}

struct pg_message *pg_bus_message(const char *epoch, uint64_t seq, uint64_t ms,
                                  const char *channel, size_t channel_len,
                                  const char *event, size_t event_len,
                                  const char *body, size_t body_len)
{
    struct pg_message *m = pg_message_new(channel, channel_len, event_len ? event : NULL,
                                          event_len, body, body_len);
    pg_message_set_id(m, epoch, seq);
    m->created_wall_ns = ms * 1000000u;
    return m;
}

/* ---- reply readers ---- */

bool pg_redis_reply_epoch(const redisReply *r, char *out)
{
    if (r->type != REDIS_REPLY_STRING || !pg_redis_epoch_valid(r->str, r->len))
        return false;
    memcpy(out, r->str, r->len);
    out[r->len] = '\0';
    return true;
}

bool pg_redis_reply_u64(const redisReply *r, uint64_t *v)
{
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        *v = (uint64_t)r->integer;
        return true;
    }
    return r->type == REDIS_REPLY_STRING && parse_u64(r->str, r->len, v);
}

static int cmp_seq(const void *a, const void *b)
{
    const struct pg_message *x = *(struct pg_message *const *)a, *y = *(struct pg_message *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void free_msgs(struct pg_message **msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pg_message_unref(msgs[i]);
    free(msgs);
}

/* One (index seq t event body) row into a message; NULL when malformed. */
static struct pg_message *read_row(redisReply **e, char *epoch, const char *const *names,
                                   const size_t *lens, size_t n)
{
    uint64_t idx, seq, ms;
    if (!pg_redis_reply_u64(e[0], &idx) || idx < 1 || idx > n || !pg_redis_reply_u64(e[1], &seq) ||
        !pg_redis_reply_u64(e[2], &ms) || e[3]->type != REDIS_REPLY_STRING ||
        e[4]->type != REDIS_REPLY_STRING)
        return NULL;
    if (e[3]->len && !pg_event_name_valid(e[3]->str, e[3]->len))
        return NULL;
    return pg_bus_message(epoch, seq, ms, names[idx - 1], lens[idx - 1], e[3]->str, e[3]->len,
                          e[4]->str, e[4]->len);
}

int pg_redis_read_replay(const redisReply *r, const char *const *names, const size_t *lens,
                         size_t n, char *epoch, uint64_t *counter, char *flags,
                         struct pg_message ***msgs, size_t *n_msgs, const char **why)
{
    *msgs = NULL;
    *n_msgs = 0;
    *why = "redis: malformed replay reply";
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || (r->elements - 3) % 5 != 0 ||
        !pg_redis_reply_epoch(r->element[0], epoch) || !pg_redis_reply_u64(r->element[1], counter) ||
        r->element[2]->type != REDIS_REPLY_STRING || r->element[2]->len != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char f = r->element[2]->str[i];
        if (f != '0' && f != '1' && f != 'd')
            return -1;
        flags[i] = f;
    }
    size_t rows = (r->elements - 3) / 5;
    struct pg_message **out = pg_xmalloc((rows ? rows : 1) * sizeof *out);
    for (size_t i = 0; i < rows; i++) {
        out[i] = read_row(r->element + 3 + i * 5, epoch, names, lens, n);
        if (!out[i]) {
            free_msgs(out, i);
            return -1;
        }
    }
    qsort(out, rows, sizeof *out, cmp_seq);
    *msgs = out;
    *n_msgs = rows;
    return 0;
}
