/* publish_api.h — the HTTP publish API on the publish listener:
 * POST / GET / DELETE /pub/<channels>. */
#ifndef PG_PUBLISH_API_H
#define PG_PUBLISH_API_H

#include "http.h"

/* rest: the decoded path after "/pub/". */
void pg_publish_api(struct pg_request *r, const char *rest);

#endif
