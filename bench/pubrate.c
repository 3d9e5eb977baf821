/* pubrate.c — a tiny closed-loop publish load client for
 * bench/journal-rate.sh: C keep-alive connections to a loopback publish
 * listener, each POSTing /pub/<prefix><n % channels> as soon as its
 * previous reply is read, for S seconds. Prints one line:
 *   acked=N errors=E seconds=S rate=R/s p50_us=.. p99_us=.. max_us=..
 *
 * Invariants: loopback only (127.0.0.0/8); a publish counts when its whole
 * 2xx reply (head and Content-Length body) was read; one epoll loop, no
 * threads, so the client costs little next to the daemon it measures.
 *
 * usage: pubrate PORT CONNS SECONDS [BODY_BYTES [CHANNELS [PREFIX]]] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define LAT_BUCKETS 4096   /* 25 us buckets up to ~100 ms, last = overflow */

struct conn {
    int fd;
    char req[512 + 65536];
    size_t req_len, sent;
    char in[8192];
    size_t in_len;
    uint64_t t_sent;
    long n;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long acked, errors;
static uint64_t lat_max, lat_hist[LAT_BUCKETS];
static int port, channels = 1, body_len = 200;
static const char *prefix = "bench";

static void build_req(struct conn *c)
{
    static char body[65536];
    if (!body[0])
        memset(body, 'x', sizeof body);
    int h = snprintf(c->req, 512,
                     "POST /pub/%s%ld HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\n\r\n", prefix, c->n % channels, body_len);
    memcpy(c->req + h, body, (size_t)body_len);
    c->req_len = (size_t)h + (size_t)body_len;
    c->sent = 0;
    c->t_sent = now_us();
}

static int open_conn(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        perror("pubrate: connect");
        exit(1);
    }
    return fd;
}

/* A whole reply in c->in? Returns its length, 0 if incomplete, -1 if bad;
 * *status gets the HTTP status. */
static long reply_len(struct conn *c, int *status)
{
    c->in[c->in_len < sizeof c->in ? c->in_len : sizeof c->in - 1] = '\0';
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end)
        return c->in_len >= sizeof c->in - 1 ? -1 : 0;
    if (sscanf(c->in, "HTTP/1.%*d %d", status) != 1)
        return -1;
    char *cl = strcasestr(c->in, "\r\nContent-Length:");
    long body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
    long total = (end + 4 - c->in) + body;
    return (long)c->in_len >= total ? total : 0;
}

static void on_reply(struct conn *c, int status)
{
    uint64_t dt = now_us() - c->t_sent;
    if (status >= 200 && status < 300) {
        acked++;
        lat_hist[dt / 25 < LAT_BUCKETS ? dt / 25 : LAT_BUCKETS - 1]++;
        if (dt > lat_max)
            lat_max = dt;
    } else {
        errors++;
    }
}

static int pump_write(struct conn *c)
{
    while (c->sent < c->req_len) {
        ssize_t w = write(c->fd, c->req + c->sent, c->req_len - c->sent);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        c->sent += (size_t)w;
    }
    return 0;
}

static int pump_read(struct conn *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
        if (r == 0)
            return -1;
        if (r < 0)
            return errno == EAGAIN ? 0 : -1;
        c->in_len += (size_t)r;
        int status = 0;
        long n;
        while ((n = reply_len(c, &status)) > 0) {
            on_reply(c, status);
            memmove(c->in, c->in + n, c->in_len - (size_t)n);
            c->in_len -= (size_t)n;
            c->n++;
            build_req(c);
            if (pump_write(c) < 0)
                return -1;
        }
        if (n < 0)
            return -1;
    }
}

static uint64_t percentile(double p)
{
    long want = (long)(p * (double)acked), seen = 0;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        seen += (long)lat_hist[i];
        if (seen > want)
            return (uint64_t)(i + 1) * 25;
    }
    return lat_max;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: pubrate PORT CONNS SECONDS [BODY_BYTES [CHANNELS [PREFIX]]]\n");
        return 2;
    }
    port = atoi(argv[1]);
    int n = atoi(argv[2]);
    double secs = atof(argv[3]);
    if (argc > 4)
        body_len = atoi(argv[4]);
    if (argc > 5)
        channels = atoi(argv[5]);
    if (argc > 6)
        prefix = argv[6];
    if (n < 1 || n > MAX_CONNS || body_len < 0 || body_len > 65536 || channels < 1 || secs <= 0) {
        fprintf(stderr, "pubrate: bad arguments\n");
        return 2;
    }
    static struct conn conns[MAX_CONNS];
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        c->fd = open_conn();
        c->n = i;
        build_req(c);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    uint64_t t0 = now_us(), end = t0 + (uint64_t)(secs * 1e6);
    while (now_us() < end) {
        struct epoll_event evs[MAX_CONNS];
        int k = epoll_wait(ep, evs, MAX_CONNS, 50);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            if (((evs[i].events & EPOLLOUT) && pump_write(c) < 0) ||
                ((evs[i].events & EPOLLIN) && pump_read(c) < 0) || (evs[i].events & EPOLLERR)) {
                fprintf(stderr, "pubrate: connection lost (errors so far %ld)\n", errors);
                return 1;
            }
        }
    }
    double took = (double)(now_us() - t0) / 1e6;
    printf("acked=%ld errors=%ld seconds=%.2f rate=%.0f/s p50_us=%llu p99_us=%llu max_us=%llu\n",
           acked, errors, took, (double)acked / took, (unsigned long long)percentile(0.5),
           (unsigned long long)percentile(0.99), (unsigned long long)lat_max);
    return errors ? 1 : 0;
}
