/* server.h — process-wide state of pushgated shared by the glue modules:
 * the event base and the configuration in force (swapped on reload). */
#ifndef PG_SERVER_H
#define PG_SERVER_H

#include <event2/event.h>
#include <stdbool.h>

struct pg_config;

struct pg_server {
    struct event_base *base;
    const struct pg_config *cfg;   /* never NULL after start-up; replaced on SIGHUP */
    bool stopping;                 /* graceful shutdown in progress */
};

extern struct pg_server pg_srv;

#endif
