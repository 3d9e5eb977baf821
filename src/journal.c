/* journal.c — the history journal's files: open, lock, replay into the
 * hub, group commit, compaction (record format and scan rules:
 * journal_format.h).
 *
 * Why a plain length+CRC32C-framed log and not LMDB: the memory store
 * already holds the live state, so the journal only has to append and,
 * at start-up, be read once front to back. A log does that with one
 * write() and one fdatasync() per loop iteration whatever the number of
 * publishes in it (group commit), its torn tail is recognisable, and its
 * size is bounded by rewriting the retained history now and then. LMDB
 * would add a second copy of every message in a B-tree, a commit per
 * write transaction, and a file that never shrinks without a copy.
 *
 * Files: <path> (the journal), <path>.tmp (a compaction in progress;
 * renamed over <path> once complete and fdatasync'd, then the directory is
 * fsync'd) and <path>.lock (flock'd while a pushgated owns the journal).
 *
 * Compaction writes a snapshot: HEAD (epoch, id counter, gap floor), one
 * CHANNEL record per channel that remembers an eviction, the remembered
 * dedup keys, then every retained message in seq order; at run time the
 * records appended meanwhile are copied after it before the rename. It
 * runs in 1 MiB steps on a timer so a large history does not stall the
 * loop; meanwhile the snapshot holds a reference to the messages it has
 * still to write (memory beyond history_memory_max for that while).
 *
 * Invariants:
 * - Nothing is written to a socket before the records of what it carries
 *   are durable: conn.c calls pg_journal_sync before every write.
 * - hub.seq after replay is at least every seq ever acknowledged.
 * - The file always ends with a complete commit group, or a torn one that
 *   nobody was told about (dropped by the next start-up).
 *
 * Departures: a failed write or fdatasync ends the process (see
 * journal.h); replayed messages are not re-encoded, so history_memory_max
 * may retain a little more after a restart than before it (never less).
 * Run-time compaction needs the directory writable by the user pushgated
 * runs as; if it is not, the journal keeps growing and says so. The file
 * is past 600 lines on purpose: replay, commit and compaction all work on
 * one file state (fd, size, nonce, dedup ring) under the invariants above,
 * and splitting them would expose that state in a private header. */
#define _GNU_SOURCE
#include "journal.h"
#include "buf.h"
#include "hub.h"
#include "journal_format.h"
#include "log.h"
#include "message.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEDUP_KEEP 4096                   /* as many as publish.c remembers */
#define COMPACT_MIN ((uint64_t)4 << 20)
#define STEP_BYTES ((size_t)1 << 20)
#define GROUP_MAX ((size_t)1 << 30)       /* keeps gdelta within u32 */
#define RETRY_MS 60000

struct snap {
    int fd;                     /* <path>.tmp */
    struct pg_buf buf;          /* encoded, not yet written */
    struct pg_message **msgs;   /* retained messages (references held) */
    size_t n_msgs, next;
    uint64_t written;
    uint64_t tail_from;         /* live file offset at which the snapshot was taken */
    uint64_t began_ms;
};

static struct {
    bool on, replaying;
    char *path, *tmp_path, *lock_path, *dir;
    int fd, lock_fd;
    uint32_t nonce;
    uint64_t size;              /* bytes written to the live file */
    uint64_t snap_size;         /* size right after the last compaction */
    struct pg_buf pend;         /* the open commit group */
    size_t last_rec;            /* offset in pend of its last record */
    bool urgent;
    uint64_t ttl_ms;
    char *dedup[DEDUP_KEEP];    /* ring, oldest at dedup_next */
    size_t dedup_next;
    struct snap *cp;            /* run-time compaction in progress */
    struct event *cp_ev;
    uint64_t retry_ms;
    struct pg_journal_stats st;
} jr = {.fd = -1, .lock_fd = -1};

bool pg_journal_on(void)
{
    return jr.on;
}

/* ---- small file helpers ---- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(void)
{
    int fd = open(jr.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---- dedup keys ---- */

static void dedup_push(const char *key, size_t len)
{
    if (len == 0 || len > PG_JF_DEDUP_MAX)
        return;
    size_t last = (jr.dedup_next + DEDUP_KEEP - 1) % DEDUP_KEEP;
    if (jr.dedup[last] && strlen(jr.dedup[last]) == len && memcmp(jr.dedup[last], key, len) == 0)
        return;   /* the other channels of one publish */
    free(jr.dedup[jr.dedup_next]);
    jr.dedup[jr.dedup_next] = pg_xstrndup(key, len);
    jr.dedup_next = (jr.dedup_next + 1) % DEDUP_KEEP;
}

static void dedup_free(void)
{
    for (size_t i = 0; i < DEDUP_KEEP; i++) {
        free(jr.dedup[i]);
        jr.dedup[i] = NULL;
    }
    jr.dedup_next = 0;
}

/* ---- appending and group commit ---- */

/* Records wait in jr.pend: read without the process lock by a flush pass
 * (pg_journal_sync_if_pending), written holding it. */
static bool pending;

static void add_record(const struct pg_jrec *r)
{
    if (jr.pend.len > GROUP_MAX)
        pg_journal_sync();
    jr.last_rec = jr.pend.len;
    pg_jf_encode(&jr.pend, r, jr.nonce, 0, (uint32_t)jr.pend.len);
    jr.st.records++;
    __atomic_store_n(&pending, true, __ATOMIC_RELEASE);
}

void pg_journal_append(const struct pg_message *m)
{
    if (!jr.on || jr.replaying)
        return;
    size_t dlen = m->dedup_key ? strlen(m->dedup_key) : 0;
    if (dlen > PG_JF_DEDUP_MAX)
        dlen = 0;   /* not a spool key; never matched anyway */
    struct pg_jrec r = {
        .type = PG_JREC_MSG, .seq = m->seq, .wall_ms = m->created_wall_ns / 1000000u,
        .channel = m->channel, .channel_len = m->channel_len,
        .event = m->event, .event_len = m->event ? m->event_len : 0,
        .dedup = dlen ? m->dedup_key : NULL, .dedup_len = dlen,
        .body = (const uint8_t *)m->body, .body_len = m->body_len,
    };
    add_record(&r);
    if (dlen) {
        dedup_push(m->dedup_key, dlen);
        jr.urgent = true;
    }
}

void pg_journal_delete(const char *name, size_t len, uint64_t last_seq)
{
    if (!jr.on || jr.replaying || last_seq == 0)
        return;   /* a channel that never held a message leaves nothing to replay */
    struct pg_jrec r = {.type = PG_JREC_DELETE, .seq = last_seq, .channel = name, .channel_len = len};
    add_record(&r);
}

void pg_journal_commit_urgent(void)
{
    if (jr.urgent)
        pg_journal_sync();
}

static void maybe_compact(uint64_t now_ms);

static void fatal(const char *what)
{
    pg_log_error("journal %s: %s failed: %s; exiting before anything unsaved is acknowledged",
                 jr.path, what, strerror(errno));
    _exit(1);
}

void pg_journal_sync_if_pending(void)
{
    if (!__atomic_load_n(&pending, __ATOMIC_ACQUIRE))
        return;
    pg_lock();
    pg_journal_sync();
    pg_unlock();
}

void pg_journal_sync(void)
{
    jr.urgent = false;
    if (!jr.pend.len)
        return;
    uint64_t t0 = pg_now_ns();
    pg_jf_mark_commit((uint8_t *)jr.pend.p + jr.last_rec, jr.nonce);
    if (write_all(jr.fd, jr.pend.p, jr.pend.len) < 0)
        fatal("write");
    if (fdatasync(jr.fd) < 0)
        fatal("fdatasync");
    __atomic_store_n(&pending, false, __ATOMIC_RELEASE);   /* only once durable */
    jr.size += jr.pend.len;
    if (jr.pend.cap > STEP_BYTES) {
        pg_buf_free(&jr.pend);
    } else {
        jr.pend.len = 0;
        jr.pend.p[0] = '\0';
    }
    uint64_t dt = pg_now_ns() - t0;
    jr.st.syncs++;
    jr.st.sync_ns_total += dt;
    if (dt > jr.st.sync_ns_max)
        jr.st.sync_ns_max = dt;
    if (jr.size - jr.snap_size > COMPACT_MIN)
        maybe_compact(pg_now_ms());
}

/* ---- snapshots (compaction) ---- */

struct walk_ctx {
    struct pg_buf *out;
    uint32_t seed;
};

static void snap_channel(void *arg, const char *name, size_t len, uint64_t evicted, uint64_t last)
{
    struct walk_ctx *w = arg;
    struct pg_jrec r = {.type = PG_JREC_CHANNEL, .evicted_max_seq = evicted, .seq = last,
                        .channel = name, .channel_len = len};
    pg_jf_encode(w->out, &r, w->seed, PG_JF_COMMIT, 0);
}

/* Starts a snapshot of the hub's state into <path>.tmp. */
static struct snap *snap_begin(char *err, size_t errlen)
{
    struct snap *s = pg_xcalloc(1, sizeof *s);
    s->fd = open(jr.tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (s->fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", jr.tmp_path, strerror(errno));
        free(s);
        return NULL;
    }
    s->tail_from = jr.size;
    s->began_ms = pg_now_ms();
    const char *epoch = pg_hub_epoch();
    struct pg_jrec head = {.type = PG_JREC_HEAD, .nonce = jr.nonce, .seq = pg_hub_last_seq(),
                           .evicted_max_seq = pg_hub_gap_floor(), .wall_ms = pg_wall_ms(),
                           .epoch = epoch, .epoch_len = strlen(epoch)};
    pg_jf_encode(&s->buf, &head, 0, PG_JF_COMMIT, 0);
    struct walk_ctx w = {&s->buf, jr.nonce};
    pg_hub_walk_evicted(snap_channel, &w);
    for (size_t i = 0; i < DEDUP_KEEP; i++) {
        const char *k = jr.dedup[(jr.dedup_next + i) % DEDUP_KEEP];
        if (!k)
            continue;
        struct pg_jrec r = {.type = PG_JREC_DEDUP, .dedup = k, .dedup_len = strlen(k)};
        pg_jf_encode(&s->buf, &r, jr.nonce, PG_JF_COMMIT, 0);
    }
    s->msgs = pg_hub_retained(&s->n_msgs);
    return s;
}

static void snap_encode_msg(struct snap *s, const struct pg_message *m)
{
    struct pg_jrec r = {
        .type = PG_JREC_MSG, .seq = m->seq, .wall_ms = m->created_wall_ns / 1000000u,
        .channel = m->channel, .channel_len = m->channel_len,
        .event = m->event, .event_len = m->event ? m->event_len : 0,
        .body = (const uint8_t *)m->body, .body_len = m->body_len,
    };
    pg_jf_encode(&s->buf, &r, jr.nonce, PG_JF_COMMIT, 0);
}

/* Encodes and writes about `budget` bytes. Returns 1 when everything is
 * written, 0 when more remains, -1 on a write error (errno set). */
static int snap_step(struct snap *s, size_t budget)
{
    while (s->next < s->n_msgs && s->buf.len < budget) {
        struct pg_message *m = s->msgs[s->next++];
        snap_encode_msg(s, m);
        pg_message_unref(m);
    }
    if (s->buf.len) {
        if (write_all(s->fd, s->buf.p, s->buf.len) < 0)
            return -1;
        /* start the write-back now, so the final fdatasync is short */
        sync_file_range(s->fd, (off_t)s->written, (off_t)s->buf.len, SYNC_FILE_RANGE_WRITE);
        s->written += s->buf.len;
        s->buf.len = 0;
        s->buf.p[0] = '\0';
    }
    return s->next == s->n_msgs ? 1 : 0;
}

static void snap_free(struct snap *s, bool unlink_tmp)
{
    if (!s)
        return;
    for (size_t i = s->next; i < s->n_msgs; i++)
        pg_message_unref(s->msgs[i]);
    free(s->msgs);
    pg_buf_free(&s->buf);
    if (s->fd >= 0)
        close(s->fd);
    if (unlink_tmp)
        unlink(jr.tmp_path);
    free(s);
}

/* Copies the live file's bytes from s->tail_from on into the snapshot. */
static int snap_copy_tail(struct snap *s)
{
    char buf[65536];
    uint64_t off = s->tail_from;
    while (off < jr.size) {
        ssize_t r = pread(jr.fd, buf, (size_t)PG_MIN(sizeof buf, jr.size - off), (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        if (write_all(s->fd, buf, (size_t)r) < 0)
            return -1;
        off += (uint64_t)r;
        s->written += (uint64_t)r;
    }
    return 0;
}

/* Makes the snapshot the journal: tail, fdatasync, rename, fsync the
 * directory, then append to it from now on. */
static int snap_finish(struct snap *s, char *err, size_t errlen)
{
    uint64_t snap_bytes = s->written;
    const char *what = "copy the journal tail into";
    if (snap_copy_tail(s) < 0)
        goto fail;
    what = "fdatasync";
    if (fdatasync(s->fd) < 0)
        goto fail;
    what = "rename";
    if (rename(jr.tmp_path, jr.path) < 0)
        goto fail;
    if (fsync_dir() < 0) {
        /* the rename may not be durable: appending to the new file could
         * lose acknowledged records on a crash */
        fatal("fsync of the journal directory");
    }
    if (jr.fd >= 0)
        close(jr.fd);
    jr.fd = s->fd;
    s->fd = -1;
    jr.size = s->written;
    jr.snap_size = snap_bytes;
    snap_free(s, false);
    return 0;
fail:
    snprintf(err, errlen, "cannot %s %s: %s", what, jr.tmp_path, strerror(errno));
    snap_free(s, true);
    return -1;
}

/* ---- run-time compaction ---- */

static void compact_abort(const char *why)
{
    pg_log_warn("journal %s: compaction abandoned, retrying in %d s: %s", jr.path,
                RETRY_MS / 1000, why);
    snap_free(jr.cp, true);
    jr.cp = NULL;
    jr.retry_ms = pg_now_ms() + RETRY_MS;
}

PG_LOCKED_EVCB(compact_step)

static void compact_step_locked(evutil_socket_t fd, short what, void *arg)
{
    char err[512];
    struct timeval tv = {0, 1000};
    if (!jr.cp) {
        pg_journal_sync();   /* the snapshot starts at a commit group boundary */
        jr.cp = snap_begin(err, sizeof err);
        if (!jr.cp)
            compact_abort(err);
        else
            evtimer_add(jr.cp_ev, &tv);
        return;
    }
    int rc = snap_step(jr.cp, STEP_BYTES);
    if (rc < 0) {
        snprintf(err, sizeof err, "cannot write %s: %s", jr.tmp_path, strerror(errno));
        compact_abort(err);
        return;
    }
    if (rc == 0) {
        evtimer_add(jr.cp_ev, &tv);
        return;
    }
    pg_journal_sync();   /* the tail to copy must be whole commit groups */
    uint64_t before = jr.size;
    uint64_t t0 = pg_now_ms(), began = jr.cp->began_ms;
    struct snap *s = jr.cp;
    jr.cp = NULL;
    if (snap_finish(s, err, sizeof err) < 0) {
        compact_abort(err);
        return;
    }
    jr.st.compactions++;
    pg_log_info("journal %s: compacted %" PRIu64 " -> %" PRIu64 " bytes in %" PRIu64
                " ms (final step %" PRIu64 " ms)", jr.path, before, jr.size, pg_now_ms() - began,
                pg_now_ms() - t0);
}

/* Starts a compaction from the timer when the file has outgrown its last
 * snapshot (checked after every commit, so the file stays near the bound
 * whatever the tick interval). */
static void maybe_compact(uint64_t now_ms)
{
    if (!jr.on || jr.cp || jr.size - jr.snap_size <= PG_MAX(COMPACT_MIN, jr.snap_size) ||
        now_ms < jr.retry_ms || evtimer_pending(jr.cp_ev, NULL))
        return;
    struct timeval tv = {0, 0};
    evtimer_add(jr.cp_ev, &tv);
}

void pg_journal_tick(uint64_t now_ms)
{
    maybe_compact(now_ms);
}

/* ---- opening and replay ---- */

struct replay {
    uint64_t now_wall, now_mono;
    uint64_t messages, deletes;
};

static void replay_msg(struct replay *rp, const struct pg_jrec *r)
{
    struct pg_message *m = pg_message_new(r->channel, r->channel_len, r->event, r->event_len,
                                          r->body, r->body_len);
    uint64_t age = rp->now_wall > r->wall_ms ? rp->now_wall - r->wall_ms : 0;
    m->created_ms = rp->now_mono > age ? rp->now_mono - age : 0;
    m->created_wall_ns = r->wall_ms * 1000000u;
    pg_hub_restore_message(m, r->seq, age >= jr.ttl_ms);
    if (r->dedup)
        dedup_push(r->dedup, r->dedup_len);
    rp->messages++;
}

static void replay_record(void *arg, const struct pg_jrec *r)
{
    struct replay *rp = arg;
    char epoch[PG_JF_EPOCH_MAX + 1];
    switch (r->type) {
    case PG_JREC_HEAD:
        memcpy(epoch, r->epoch, r->epoch_len);
        epoch[r->epoch_len] = '\0';
        jr.nonce = r->nonce;
        pg_hub_restore_clock(epoch, r->seq, r->evicted_max_seq);
        break;
    case PG_JREC_MSG:
        replay_msg(rp, r);
        break;
    case PG_JREC_DELETE:
        if (!pg_hub_delete(r->channel, r->channel_len))
            pg_hub_restore_channel(r->channel, r->channel_len, r->seq, r->seq);
        rp->deletes++;
        break;
    case PG_JREC_CHANNEL:
        pg_hub_restore_channel(r->channel, r->channel_len, r->evicted_max_seq, r->seq);
        break;
    case PG_JREC_DEDUP:
        dedup_push(r->dedup, r->dedup_len);
        break;
    }
}

/* Reads and replays the existing journal (if any). */
static int replay_file(char *err, size_t errlen)
{
    int fd = open(jr.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open journal %s: %s", jr.path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "journal %s is not a regular file", jr.path);
        close(fd);
        return -1;
    }
    if (sb.st_size == 0) {
        close(fd);
        return 0;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot read journal %s: %s", jr.path, strerror(errno));
        return -1;
    }
    struct replay rp = {.now_wall = pg_wall_ms(), .now_mono = pg_now_ms()};
    struct pg_jf_scan res;
    jr.replaying = true;
    pg_jf_scan(map, (size_t)sb.st_size, replay_record, &rp, &res);
    jr.replaying = false;
    munmap(map, (size_t)sb.st_size);
    if (res.status == PG_JF_SCAN_CORRUPT) {
        snprintf(err, errlen, "journal %s is corrupt at byte %zu (%s); it holds acknowledged "
                 "messages, so pushgated will not overwrite it: move it away to start with an "
                 "empty history", jr.path, res.bad_off, res.why);
        return -1;
    }
    if (res.status == PG_JF_SCAN_TORN)
        pg_log_warn("journal %s: dropped a torn tail of %zu bytes at byte %zu (%s); it was never "
                    "acknowledged", jr.path, (size_t)sb.st_size - res.valid_len, res.bad_off, res.why);
    pg_log_notice("journal %s: replayed %" PRIu64 " records (%" PRIu64 " messages, %" PRIu64
                  " deletes), epoch %s, last seq %" PRIu64, jr.path, res.records, rp.messages,
                  rp.deletes, pg_hub_epoch(), pg_hub_last_seq());
    return 0;
}

static int lock_journal(char *err, size_t errlen)
{
    jr.lock_fd = open(jr.lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (jr.lock_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", jr.lock_path, strerror(errno));
        return -1;
    }
    if (flock(jr.lock_fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "journal %s is in use by another pushgated (%s is locked)", jr.path,
                 jr.lock_path);
        return -1;
    }
    return 0;
}

static void set_paths(const char *path)
{
    jr.path = pg_xstrdup(path);
    jr.tmp_path = pg_xasprintf("%s.tmp", path);
    jr.lock_path = pg_xasprintf("%s.lock", path);
    char *copy = pg_xstrdup(path);
    jr.dir = pg_xstrdup(dirname(copy));
    free(copy);
}

static uint32_t fresh_nonce(void)
{
    uint32_t n = 0;
    if (getrandom(&n, sizeof n, GRND_NONBLOCK) != sizeof n)
        n = (uint32_t)(pg_now_ns() ^ (uint64_t)getpid() << 16);
    return n;
}

static void give_keys(const struct pg_journal_opts *o)
{
    if (!o->dedup_key)
        return;
    for (size_t i = 0; i < DEDUP_KEEP; i++) {
        const char *k = jr.dedup[(jr.dedup_next + i) % DEDUP_KEEP];
        if (k)
            o->dedup_key(k, o->dedup_arg);
    }
}

int pg_journal_open(const struct pg_journal_opts *o, char *err, size_t errlen)
{
    if (!o->path || !*o->path)
        return 0;
    uint64_t t0 = pg_now_ms();
    set_paths(o->path);
    jr.ttl_ms = o->lim->history_ttl_ms;
    jr.nonce = fresh_nonce();
    if (lock_journal(err, errlen) < 0 || replay_file(err, errlen) < 0)
        goto fail;
    unlink(jr.tmp_path);   /* a compaction a crash interrupted */
    struct snap *s = snap_begin(err, errlen);
    if (!s)
        goto fail;
    if (snap_step(s, SIZE_MAX) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", jr.tmp_path, strerror(errno));
        snap_free(s, true);
        goto fail;
    }
    if (snap_finish(s, err, errlen) < 0)
        goto fail;
    jr.cp_ev = evtimer_new(o->base, compact_step, NULL);
    jr.on = true;
    give_keys(o);
    pg_log_notice("journal %s: compacted to %" PRIu64 " bytes; start-up took %" PRIu64 " ms",
                  jr.path, jr.size, pg_now_ms() - t0);
    return 0;
fail:
    pg_journal_close();
    return -1;
}

void pg_journal_close(void)
{
    if (jr.on) {
        pg_journal_sync();
        pg_log_notice("journal %s: %" PRIu64 " records in %" PRIu64 " commit groups, fdatasync "
                      "avg %" PRIu64 " us max %" PRIu64 " us, %" PRIu64 " run-time compactions",
                      jr.path, jr.st.records, jr.st.syncs,
                      jr.st.syncs ? jr.st.sync_ns_total / jr.st.syncs / 1000 : 0,
                      jr.st.sync_ns_max / 1000, jr.st.compactions);
    }
    jr.on = false;
    snap_free(jr.cp, true);
    jr.cp = NULL;
    if (jr.cp_ev)
        event_free(jr.cp_ev);
    jr.cp_ev = NULL;
    if (jr.fd >= 0)
        close(jr.fd);
    if (jr.lock_fd >= 0)
        close(jr.lock_fd);
    jr.fd = jr.lock_fd = -1;
    pg_buf_free(&jr.pend);
    dedup_free();
    free(jr.path);
    free(jr.tmp_path);
    free(jr.lock_path);
    free(jr.dir);
    jr.path = jr.tmp_path = jr.lock_path = jr.dir = NULL;
    jr.size = jr.snap_size = 0;
    memset(&jr.st, 0, sizeof jr.st);
}

void pg_journal_stats(struct pg_journal_stats *st)
{
    *st = jr.st;
    st->bytes = jr.size;
}
