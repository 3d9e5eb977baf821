/* pub/main.c — pushgate-pub: publish one message from a shell script or a
 * cron job.
 *
 *   pushgate-pub [-s socket|host:port] [-e event] [-k secret] [-t seconds] [-q]
 *                CHANNEL[,CHANNEL...] [MESSAGE | -]
 *
 * The message is MESSAGE, or standard input when MESSAGE is "-" or absent.
 * The secret may come from PUSHGATE_PUBLISH_SECRET and the address from
 * PUSHGATE_PUBLISH (default unix:/run/pushgate/publish.sock). On success the
 * daemon's JSON reply goes to stdout (unless -q). Exit status: 0 published,
 * 1 refused by pushgated (its error on stderr), 2 usage, 3 pushgated not
 * reachable. Every failure is one line on stderr. */
#include "pub/pub_client.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DEFAULT_TARGET "unix:/run/pushgate/publish.sock"
#define MAX_STDIN (64u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: pushgate-pub [-s socket|host:port] [-e event] [-k secret] [-t seconds] [-q]\n"
               "                    CHANNEL[,CHANNEL...] [MESSAGE | -]\n");
}

static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = pg_xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_STDIN) {
                free(buf);
                return NULL;
            }
            cap *= 2;
            buf = pg_xrealloc(buf, cap);
        }
        ssize_t r = read(0, buf + n, cap - n);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            return NULL;
        }
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

/* Pulls "error" out of a {"error":"..."} body for the one-line message. */
static void print_refusal(const struct pg_pub_reply *r)
{
    const char *e = r->body ? strstr(r->body, "\"error\"") : NULL;
    if (e && (e = strchr(e + 7, '"'))) {
        const char *end = e + 1;
        while (*end && *end != '"')
            end += (*end == '\\' && end[1]) ? 2 : 1;
        fprintf(stderr, "pushgate-pub: refused (%d): %.*s\n", r->status, (int)(end - e - 1), e + 1);
    } else {
        fprintf(stderr, "pushgate-pub: refused (%d): %.*s\n", r->status,
                (int)strcspn(r->body ? r->body : "", "\r\n"), r->body ? r->body : "");
    }
}

int main(int argc, char **argv)
{
    const char *target = getenv("PUSHGATE_PUBLISH");
    const char *secret = getenv("PUSHGATE_PUBLISH_SECRET");
    const char *event = NULL;
    int timeout_s = 10, quiet = 0, c;
    if (!target || !*target)
        target = DEFAULT_TARGET;
    if (secret && !*secret)
        secret = NULL;
    while ((c = getopt(argc, argv, "s:e:k:t:qh")) != -1) {
        switch (c) {
        case 's': target = optarg; break;
        case 'e': event = optarg; break;
        case 'k': secret = optarg; break;
        case 't': timeout_s = atoi(optarg); break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc || argc - optind > 2 || timeout_s <= 0) {
        usage(stderr);
        return 2;
    }
    const char *channel = argv[optind];
    const char *message = optind + 1 < argc ? argv[optind + 1] : "-";
    if (!*channel) {
        fprintf(stderr, "pushgate-pub: empty channel name\n");
        return 2;
    }
    struct pg_pub_target t;
    char err[256];
    if (pg_pub_target_parse(target, &t, err, sizeof err) < 0) {
        fprintf(stderr, "pushgate-pub: %s\n", err);
        return 2;
    }
    size_t len;
    char *body;
    if (strcmp(message, "-") == 0) {
        body = read_stdin(&len);
        if (!body) {
            fprintf(stderr, "pushgate-pub: cannot read the message from standard input\n");
            pg_pub_target_free(&t);
            return 2;
        }
    } else {
        body = pg_xstrdup(message);
        len = strlen(body);
    }
    struct pg_pub_msg m = {.channels = channel, .event = event, .secret = secret,
                           .body = body, .body_len = len};
    struct pg_pub_reply r;
    int rc = pg_pub_post(&t, &m, timeout_s * 1000, &r, err, sizeof err);
    free(body);
    pg_pub_target_free(&t);
    if (rc < 0) {
        fprintf(stderr, "pushgate-pub: %s\n", err);
        return 3;
    }
    int status = r.status;
    if (status >= 200 && status < 300) {
        if (!quiet)
            printf("%s%s", r.body, r.body_len && r.body[r.body_len - 1] == '\n' ? "" : "\n");
    } else {
        print_refusal(&r);
    }
    pg_pub_reply_free(&r);
    return status >= 200 && status < 300 ? 0 : 1;
}
