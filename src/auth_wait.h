/* auth_wait.h — private to auth.c and auth_wait.c: parking a connection
 * while its session check runs, and handing the answer to the replayed
 * request (see auth_wait.c). Not for other modules: they use auth.h. */
#ifndef PG_AUTH_WAIT_H
#define PG_AUTH_WAIT_H

#include "auth.h"
#include "auth_session.h"

/* Keys of the session checks one request has already passed. */
struct pg_auth_grants {
    uint8_t (*k)[PG_AUTH_KEY_LEN];
    size_t n;
};

bool pg_auth_grants_has(const struct pg_auth_grants *g, const uint8_t *key);

/* The answer handed to the replay of a request. */
struct pg_auth_replay {
    bool deny;                       /* answer status / why at once */
    int status;
    char why[PG_AUTH_WHY_MAX];
    struct pg_auth_grants granted;   /* else: checks passed so far */
};

/* The answer for the request being replayed on c, once: NULL when c is not
 * being replayed or the answer was taken. Valid until the replay returns;
 * pg_auth_wait_start may take over its grants. */
struct pg_auth_replay *pg_auth_replay_take(const struct pg_conn *c);

/* Parks r's connection in the waiting handler and starts the check of
 * rule for channels (","-joined) under key. carry (may be NULL): grants so
 * far, taken over. Returns PG_AUTH_PENDING, or PG_AUTH_DENY with res filled
 * (503) when too many checks are pending. */
int pg_auth_wait_start(struct pg_request *r, const struct pg_rule *rule, bool fastcgi,
                       const char *channels, const uint8_t *key, const struct pg_session_query *q,
                       struct pg_auth_grants *carry, struct pg_auth_result *res);

/* One refusal: logged at debug, and summarized at info at most once per
 * 10 s (count and the latest one). */
void pg_auth_log_refusal(const struct pg_conn *c, const char *what, int status, const char *why);

#endif
