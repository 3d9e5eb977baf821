/* spool_dir.h — the spool directory: durable hand-off of publishes from
 * pushgate-fcgi to pushgated. Plain files and syscalls, no event loop, so
 * the bridge (writer, and drainer when pushgated is remote) and the daemon
 * (src/spool.c, drainer) share one definition of the format.
 *
 * Layout: <dir>/<key>.msg, key = "<seq:020>-<pid>-<rand:08x>". seq is
 * max(last seq + 1, wall clock in µs), taken under flock(<dir>/.lock), so
 * names sort in the order accepted, across processes and clock steps.
 * An entry appears atomically (written as .tmp-<key>, fsync'd, renamed,
 * directory fsync'd) and is complete once its name ends in ".msg".
 * <dir>/rejected/ holds entries pushgated refused (4xx), never retried.
 *
 * Entry format (text head, raw body):
 *     PGSPOOL1\n channels <list>\n [event <name>\n] length <n>\n \n <n bytes>
 * The key is the entry's identity: the daemon passes it as the publish's
 * dedup key, so re-applying an entry after a crash is a no-op. */
#ifndef PG_SPOOL_DIR_H
#define PG_SPOOL_DIR_H

#include <stdbool.h>
#include <stddef.h>

#define PG_SPOOL_KEY_MAX 64

struct pg_spool_entry {
    char *channels;
    char *event;        /* or NULL */
    char *body;         /* NUL-terminated for convenience; body_len is exact */
    size_t body_len;
};

enum pg_spool_err { PG_SPOOL_IO = -1, PG_SPOOL_MALFORMED = -2, PG_SPOOL_TOO_LARGE = -3 };

/* Writes one entry durably; the key goes to key (PG_SPOOL_KEY_MAX bytes).
 * Creates dir if missing (mode 02770). Returns 0, or -1 with err. */
int pg_spool_write(const char *dir, const char *channels, const char *event,
                   const void *body, size_t len, char *key, char *err, size_t errlen);

/* True when dir holds at least one entry (.msg file). */
bool pg_spool_nonempty(const char *dir);

/* Sorted keys of up to max entries (oldest first); *keys is a heap array
 * of heap strings (free with pg_spool_keys_free). Returns the count, or -1
 * with err (a missing directory is 0 entries). */
long pg_spool_list(const char *dir, size_t max, char ***keys, char *err, size_t errlen);
void pg_spool_keys_free(char **keys, long n);

/* Parses one entry's bytes (codec, no I/O). Returns 0 or an enum
 * pg_spool_err with *why a static reason. */
int pg_spool_parse(const char *p, size_t n, size_t max_body, struct pg_spool_entry *e,
                   const char **why);
/* Reads and parses entry key. Returns 0, -1 on I/O error (err filled), or a
 * parse error (err filled): the caller rejects unparsable entries. */
int pg_spool_read(const char *dir, const char *key, size_t max_body, struct pg_spool_entry *e,
                  char *err, size_t errlen);
void pg_spool_entry_free(struct pg_spool_entry *e);

/* Removes entry key (and fsyncs the directory). Returns 0 or -1. */
int pg_spool_remove(const char *dir, const char *key);
/* Moves entry key into <dir>/rejected/ with a .why file beside it. */
int pg_spool_reject(const char *dir, const char *key, const char *why);

#endif
