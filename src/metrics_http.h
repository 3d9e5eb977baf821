/* metrics_http.h — the observability routes of the publish listener:
 * GET /metrics (Prometheus text format 0.0.4), GET /status (JSON) and
 * GET /dashboard (www/dashboard.html: live plots drawn from /metrics).
 * They sit in the router's publish branch, so they are behind the
 * publish listener's gate (publish_secret) like /pub. */
#ifndef PG_METRICS_HTTP_H
#define PG_METRICS_HTTP_H

#include "http.h"

#include <stdbool.h>

/* Answers r when its path is /metrics, /status or /dashboard (GET or HEAD;
 * other methods get 405) and returns true; false when the path is not one
 * of these (r untouched). */
bool pg_metrics_route(struct pg_request *r);

/* The directory holding dashboard.html (the package's own www directory,
 * whatever www_root says: the dashboard belongs to pushgated, not to the
 * site). NULL or "": /dashboard answers 404. Copied. */
void pg_metrics_set_dashboard_dir(const char *dir);

#endif
