/* privileges.h — dropping root after the listeners, certificates and journal
 * are open. */
#ifndef PG_PRIVILEGES_H
#define PG_PRIVILEGES_H

#include <stddef.h>

/* As root with user set: switch to user (and group, or the user's primary
 * group), with the user's supplementary groups. Not root, or user empty:
 * nothing. Returns 0, or -1 with one line in err. */
int pg_drop_privileges(const char *user, const char *group, char *err, size_t errlen);

#endif
