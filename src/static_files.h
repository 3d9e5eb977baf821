/* static_files.h — GET/HEAD of files under www_root (the browser client and
 * the demo pages). */
#ifndef PG_STATIC_FILES_H
#define PG_STATIC_FILES_H

#include "http.h"

/* Sets the directory served ("" disables static files). */
void pg_static_set_root(const char *dir);
void pg_static_serve(struct pg_request *r);

#endif
