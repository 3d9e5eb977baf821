/* spool.h — pushgated's side of the spool: drains the directory that
 * pushgate-fcgi fills while the daemon is away (format: bridge/spool_dir.h),
 * at start and while running. */
#ifndef PG_SPOOL_H
#define PG_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Starts draining dir every poll_ms (and at once when an entry appears,
 * where inotify is available). dir NULL or "" disables the spool and
 * returns 0. The directory is created (mode 02770) when missing; when it
 * cannot be, a warning is logged and it is drained once it appears. Returns
 * 0, or -1 with a sentence in err (dir exists but is not a directory, or
 * the daemon cannot read and remove entries in it).
 * The first drain runs from the event loop right after start. */
int pg_spool_start(struct event_base *base, const char *dir, uint64_t poll_ms, char *err,
                   size_t errlen);

/* Stops draining and frees everything (idempotent). Entries left stay on
 * disk for the next start. */
void pg_spool_stop(void);

#endif
