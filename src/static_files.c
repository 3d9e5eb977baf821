/* static_files.c — serves regular files below www_root for GET and HEAD.
 * Paths are already percent-decoded; any segment starting with '.' (so
 * "..", and hidden files) is refused, symlinks are not followed out of the
 * root (O_NOFOLLOW on the last component, and no ".." can appear), and a
 * file is read whole (bounded: these are small pages and scripts). */
#include "static_files.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX (8u << 20)

static char *root;

void pg_static_set_root(const char *dir)
{
    free(root);
    root = dir && *dir ? pg_xstrdup(dir) : NULL;
}

static const char *mime_type(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "application/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
        {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"}, {".md", "text/plain; charset=utf-8"},
        {".sh", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < PG_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static bool path_safe(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p; *s; s++) {
        if (*s == '/' && s[1] == '.')
            return false;
        if (*s == '\\')
            return false;
    }
    return true;
}

void pg_static_serve(struct pg_request *r)
{
    if (!root) {
        pg_req_error(r, 404, "no such resource (static files are disabled: www_root is empty)");
        return;
    }
    if (!path_safe(r->path)) {
        pg_req_error(r, 404, "no such resource");
        return;
    }
    const char *rel = r->path_len == 1 ? "/index.html" : r->path;
    char *full = pg_xasprintf("%s%s", root, rel);
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        char *idx = pg_xasprintf("%s/index.html", full);
        free(full);
        full = idx;
        fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > STATIC_MAX) {
        if (fd >= 0)
            close(fd);
        free(full);
        pg_req_error(r, 404, "no such resource");
        return;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *data = pg_xmalloc(size + 1);
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    pg_req_respond(r, 200, mime_type(full), "Cache-Control: no-cache\r\n", data, got);
    free(data);
    free(full);
}
