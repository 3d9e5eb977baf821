/* names.h — validation of channel names, channel lists and event names
 * (the API contract's alphabets), shared by publish, subscribe and the
 * bridge. Pure functions, no allocation. */
#ifndef PG_NAMES_H
#define PG_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define PG_CHANNEL_MAX 128
#define PG_EVENT_MAX 64
#define PG_CHANNEL_RULE "channel names are 1-128 bytes of A-Z a-z 0-9 _ . : @ -"
#define PG_EVENT_RULE "event names are 1-64 bytes of A-Z a-z 0-9 _ . : -, not starting with 'pushgate.'"

bool pg_channel_name_valid(const char *s, size_t n);
/* Event name alphabet and length, and not in the reserved pushgate. space. */
bool pg_event_name_valid(const char *s, size_t n);

/* Splits a comma-separated channel list into views. Returns the count, or
 * -1 when a name is invalid or empty (with *why), or when more than max. */
int pg_channel_list_split(const char *s, size_t n, const char **names, size_t *lens,
                          size_t max, const char **why);

#endif
