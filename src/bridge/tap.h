/* tap.h — tap mode: pushgate-fcgi between the web server and php-fpm,
 * publishing on rules and on X-Pushgate-Publish answers. */
#ifndef PG_BRIDGE_TAP_H
#define PG_BRIDGE_TAP_H

struct pg_bridge_conf;

/* Runs the tap until SIGTERM (check: validate the rules and return).
 * Returns the exit status. */
int pg_tap_main(const struct pg_bridge_conf *c, int check);

#endif
