/* privileges.c — drops root for the configured user and group once
 * everything that needs root is open (listeners on low ports, the publish
 * socket in /run, certificates, the journal). Order matters: groups first,
 * then the gid, then the uid, and a check that root cannot be regained. */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pg_drop_privileges(const char *user, const char *group, char *err, size_t errlen)
{
    if (!user || !*user || geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "user '%s' does not exist (create it with useradd --system "
                 "--user-group --no-create-home %s, or set user in the config)", user, user);
        return -1;
    }
    gid_t gid = pw->pw_gid;
    if (group && *group) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            snprintf(err, errlen, "group '%s' does not exist", group);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (initgroups(pw->pw_name, gid) < 0 || setgid(gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "cannot switch to user '%s': %s", user, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        snprintf(err, errlen, "root privileges could be regained after switching to '%s'", user);
        return -1;
    }
    return 0;
}
