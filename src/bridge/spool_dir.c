/* spool_dir.c — spool entries on disk: write durably, list in order,
 * parse, remove, reject. See spool_dir.h for the layout and format.
 *
 * Invariant: a ".msg" name is only ever created by rename() of a file that
 * was completely written and fsync'd, and the directory is fsync'd after
 * every rename or unlink, so a crash leaves either the whole entry or none.
 * Departure: .seq is not fsync'd; if it is lost, the wall-clock term of
 * seq keeps new names sorting after the old ones. */
#define _GNU_SOURCE
#include "bridge/spool_dir.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Next sequence number, under flock(<dir>/.lock). Returns 0 or -1. */
static int next_seq(const char *dir, uint64_t *seq)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.seq", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    char buf[32] = {0};
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    uint64_t last = r > 0 ? strtoull(buf, NULL, 10) : 0;
    uint64_t s = PG_MAX(last + 1, wall_us());
    int n = snprintf(buf, sizeof buf, "%020llu\n", (unsigned long long)s);
    int rc = pwrite(fd, buf, (size_t)n, 0) == n ? 0 : -1;
    close(fd);  /* releases the lock */
    *seq = s;
    return rc;
}

static bool field_ok(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

int pg_spool_write(const char *dir, const char *channels, const char *event,
                   const void *body, size_t len, char *key, char *err, size_t errlen)
{
    if (!field_ok(channels) || !*channels || (event && !field_ok(event))) {
        snprintf(err, errlen, "channel or event contains a line break");
        return -1;
    }
    if (mkdir(dir, 02770) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    uint64_t seq;
    uint32_t rnd = 0;
    if (next_seq(dir, &seq) < 0) {
        snprintf(err, errlen, "cannot lock %s/.seq: %s", dir, strerror(errno));
        return -1;
    }
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint32_t)wall_us();
    snprintf(key, PG_SPOOL_KEY_MAX, "%020llu-%d-%08x", (unsigned long long)seq, (int)getpid(), rnd);
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, key);
    snprintf(final, sizeof final, "%s/%s.msg", dir, key);
    char *head = pg_xasprintf("PGSPOOL1\nchannels %s\n%s%s%slength %zu\n\n", channels,
                              event ? "event " : "", event ? event : "", event ? "\n" : "", len);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    int ok = fd >= 0 && fchmod(fd, 0640) == 0 && write_all(fd, head, strlen(head)) == 0 &&
             write_all(fd, body, len) == 0 && fsync(fd) == 0;
    int e = errno;
    free(head);
    if (fd >= 0 && close(fd) < 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, final) < 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        snprintf(err, errlen, "cannot write spool entry in %s: %s", dir, strerror(e));
        return -1;
    }
    if (fsync_dir(dir) < 0) {
        snprintf(err, errlen, "cannot fsync spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static bool is_entry(const char *name, size_t *keylen)
{
    size_t n = strlen(name);
    if (n < 5 || n - 4 >= PG_SPOOL_KEY_MAX || name[0] == '.' || strcmp(name + n - 4, ".msg") != 0)
        return false;
    *keylen = n - 4;
    return true;
}

bool pg_spool_nonempty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *de;
    size_t kl;
    bool found = false;
    while (!found && (de = readdir(d)))
        found = is_entry(de->d_name, &kl);
    closedir(d);
    return found;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long pg_spool_list(const char *dir, size_t max, char ***keys, char *err, size_t errlen)
{
    *keys = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t n = 0, cap = 0, kl;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_entry(de->d_name, &kl))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = pg_xrealloc(v, cap * sizeof *v);
        }
        v[n++] = pg_xstrndup(de->d_name, kl);
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = max; i < n; i++)
        free(v[i]);
    *keys = v;
    return (long)PG_MIN(n, max);
}

void pg_spool_keys_free(char **keys, long n)
{
    for (long i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

/* Takes "<word> <value>\n" at *p; returns the value view or NULL. */
static const char *head_line(const char **p, const char *end, const char *word, size_t *vlen)
{
    size_t wl = strlen(word);
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) <= wl || memcmp(*p, word, wl) != 0 || (*p)[wl] != ' ')
        return NULL;
    const char *v = *p + wl + 1;
    *vlen = (size_t)(nl - v);
    *p = nl + 1;
    return v;
}

int pg_spool_parse(const char *p, size_t n, size_t max_body, struct pg_spool_entry *e,
                   const char **why)
{
    memset(e, 0, sizeof *e);
    const char *end = p + n, *v;
    size_t vl;
    *why = "not a spool entry (bad head)";
    if (n < 9 || memcmp(p, "PGSPOOL1\n", 9) != 0)
        return PG_SPOOL_MALFORMED;
    p += 9;
    const char *ch = head_line(&p, end, "channels", &vl);
    if (!ch || vl == 0 || memchr(ch, '\0', vl))
        return PG_SPOOL_MALFORMED;
    size_t chl = vl, evl = 0;
    const char *ev = head_line(&p, end, "event", &evl);
    if (ev && memchr(ev, '\0', evl))
        return PG_SPOOL_MALFORMED;
    v = head_line(&p, end, "length", &vl);
    if (!v || vl == 0 || vl > 12 || p >= end || *p != '\n')
        return PG_SPOOL_MALFORMED;
    unsigned long long blen = 0;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
            return PG_SPOOL_MALFORMED;
        blen = blen * 10 + (unsigned)(v[i] - '0');
    }
    p++;
    if ((unsigned long long)(end - p) != blen) {
        *why = "spool entry is truncated or has trailing bytes";
        return PG_SPOOL_MALFORMED;
    }
    if (blen > max_body) {
        *why = "spool entry is larger than max_message_size";
        return PG_SPOOL_TOO_LARGE;
    }
    e->channels = pg_xstrndup(ch, chl);
    e->event = ev ? pg_xstrndup(ev, evl) : NULL;
    e->body = pg_xstrndup(p, (size_t)blen);
    e->body_len = (size_t)blen;
    *why = NULL;
    return 0;
}

int pg_spool_read(const char *dir, const char *key, size_t max_body, struct pg_spool_entry *e,
                  char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.msg", dir, key);
    memset(e, 0, sizeof *e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size;
    if (cap > max_body + 4096) {
        close(fd);
        snprintf(err, errlen, "%s: spool entry is larger than max_message_size", path);
        return PG_SPOOL_TOO_LARGE;
    }
    char *buf = pg_xmalloc(cap + 1);
    ssize_t r = pread(fd, buf, cap + 1, 0);
    close(fd);
    if (r < 0) {
        free(buf);
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    const char *why;
    int rc = pg_spool_parse(buf, (size_t)r, max_body, e, &why);
    free(buf);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

void pg_spool_entry_free(struct pg_spool_entry *e)
{
    free(e->channels);
    free(e->event);
    free(e->body);
    memset(e, 0, sizeof *e);
}

int pg_spool_remove(const char *dir, const char *key)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.msg", dir, key);
    if (unlink(path) < 0 && errno != ENOENT)
        return -1;
    return fsync_dir(dir);
}

int pg_spool_reject(const char *dir, const char *key, const char *why)
{
    char rdir[4096], from[4096], to[4200], wpath[4200];
    snprintf(rdir, sizeof rdir, "%s/rejected", dir);
    if (mkdir(rdir, 02770) < 0 && errno != EEXIST)
        return -1;
    snprintf(from, sizeof from, "%s/%s.msg", dir, key);
    snprintf(to, sizeof to, "%s/%s.msg", rdir, key);
    snprintf(wpath, sizeof wpath, "%s/%s.why", rdir, key);
    int fd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd >= 0) {
        write_all(fd, why, strlen(why));
        write_all(fd, "\n", 1);
        close(fd);
    }
    if (rename(from, to) < 0)
        return -1;
    return fsync_dir(dir);
}
