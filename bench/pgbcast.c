/* pgbcast.c — the broadcast collector of the multi-node bench
 * (bench/redis-multinode.sh): holds N WebSocket subscribers of one
 * channel on one pushgated node and counts, per subscriber, which
 * broadcast messages arrive: unique, duplicated, out of order, lost, and
 * the publish-to-receive latency. pgload counts only what it published
 * itself; this tool counts what anyone published, as long as the body is
 * "bc:<k>:<CLOCK_REALTIME ns at publish>" with 0 <= k < --messages.
 *
 * Invariants: loopback targets only (127.0.0.0/8); every phase is bounded
 * (--connect-timeout, --timeout, --drain); at most --conn-inflight
 * handshakes at once; one JSON line on stdout at the end. When every
 * subscriber is connected (or has failed) the tool creates --ready-file,
 * so a script knows when to publish.
 *
 * Deliberate departures: raw-mode subscribers (no subprotocol), so the
 * frame payload is the body; server frames are expected unfragmented
 * (pushgated never fragments); pings are answered, other control frames
 * end the subscriber. Build: cc -O2 -o pgbcast pgbcast.c -levent */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGES 64

struct sub {
    struct bufferevent *bev;
    uint64_t seen;                /* bit k: message k arrived */
    int highest;                  /* highest k seen, -1 */
    bool ready, done, failed;
};

static struct {
    const char *host, *path, *ready_file, *label;
    int port, subs, messages, inflight_max, src_addrs, src_first;
    double connect_timeout, timeout, drain;
    struct event_base *base;
    struct sub *s;
    int started, inflight, ready, failed, closed;
    uint64_t received, dup, ooo, foreign;
    uint64_t *lat_ns;             /* one per unique delivery */
    uint64_t first_ns, last_ns, t0_ns;
    uint64_t k_count[MAX_MESSAGES], k_pub_ns[MAX_MESSAGES], k_last_ns[MAX_MESSAGES];
    bool ready_announced;
    struct event *tick;
} G;

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *msg)
{
    fprintf(stderr, "pgbcast: %s\n", msg);
    exit(2);
}

static void start_more(void);

static void sub_end(struct sub *s, bool failed)
{
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
    if (!s->ready) {
        G.inflight--;
        G.failed++;
        s->failed = true;
        start_more();
    } else if (!s->done) {
        G.closed++;
    }
    s->done = true;
    (void)failed;
}

static void on_payload(struct sub *s, const unsigned char *p, size_t n)
{
    unsigned k;
    unsigned long long ns;
    char tmp[64];
    if (n >= sizeof tmp || n < 3 || memcmp(p, "bc:", 3) != 0) {
        G.foreign++;
        return;
    }
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (sscanf(tmp, "bc:%u:%llu", &k, &ns) != 2 || (int)k >= G.messages) {
        G.foreign++;
        return;
    }
    if (s->seen & (1ull << k)) {
        G.dup++;
        return;
    }
    if ((int)k < s->highest)
        G.ooo++;
    else
        s->highest = (int)k;
    s->seen |= 1ull << k;
    uint64_t t = now_ns(CLOCK_REALTIME);
    G.lat_ns[G.received++] = t > ns ? t - ns : 0;
    G.k_count[k]++;
    G.k_pub_ns[k] = ns;
    G.k_last_ns[k] = t;
    if (!G.first_ns)
        G.first_ns = t;
    G.last_ns = t;
}

static void pong(struct sub *s, const unsigned char *p, size_t n)
{
    unsigned char head[6] = {0x8A, (unsigned char)(0x80 | n), 0, 0, 0, 0};
    if (n > 125)
        return;
    bufferevent_write(s->bev, head, sizeof head);   /* mask key 0: payload as is */
    bufferevent_write(s->bev, p, n);
}

/* Frames in the input buffer; false when the subscriber must end. */
static bool read_frames(struct sub *s, struct evbuffer *in)
{
    for (;;) {
        size_t have = evbuffer_get_length(in);
        unsigned char h[10];
        if (have < 2)
            return true;
        evbuffer_copyout(in, h, have < 10 ? have : 10);
        uint64_t n = h[1] & 0x7f;
        size_t hl = 2;
        if (n == 126) {
            if (have < 4)
                return true;
            n = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (n == 127) {
            if (have < 10)
                return true;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | h[2 + i];
            hl = 10;
        }
        if (n > 1 << 20)
            return false;
        if (have < hl + n)
            return true;
        evbuffer_drain(in, hl);
        unsigned char *p = evbuffer_pullup(in, (ssize_t)n);
        int op = h[0] & 0x0f;
        if (op == 1 || op == 2)
            on_payload(s, p, n);
        else if (op == 9)
            pong(s, p, n);
        else if (op == 8)
            return false;
        evbuffer_drain(in, n);
    }
}

static void maybe_announce(void)
{
    if (G.ready_announced || G.ready + G.failed < G.subs)
        return;
    G.ready_announced = true;
    if (G.ready_file) {
        FILE *f = fopen(G.ready_file, "w");
        if (f) {
            fprintf(f, "%d %d\n", G.ready, G.failed);
            fclose(f);
        }
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct sub *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!s->ready) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0)
            return;
        char line[16] = {0};
        evbuffer_copyout(in, line, sizeof line - 1);
        if (strncmp(line, "HTTP/1.1 101", 12) != 0) {
            sub_end(s, true);
            return;
        }
        evbuffer_drain(in, (size_t)end.pos + 4);
        s->ready = true;
        G.ready++;
        G.inflight--;
        start_more();
        maybe_announce();
    }
    if (!read_frames(s, in))
        sub_end(s, false);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct sub *s = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    sub_end(s, true);
}

static void start_one(int i)
{
    struct sub *s = &G.s[i];
    s->highest = -1;
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(G.src_first + i % G.src_addrs));
    dst.sin_port = htons((uint16_t)G.port);
    inet_pton(AF_INET, G.host, &dst.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* the port is chosen at connect() for the whole 4-tuple, not at bind() */
    if (fd >= 0)
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        if (fd >= 0)
            close(fd);
        G.failed++;
        s->failed = s->done = true;
        return;
    }
    G.inflight++;
    s->bev = bufferevent_socket_new(G.base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    bufferevent_socket_connect(s->bev, (struct sockaddr *)&dst, sizeof dst);
    evbuffer_add_printf(bufferevent_get_output(s->bev),
                        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                        G.path, G.host, G.port);
}

static void start_more(void)
{
    while (G.started < G.subs && G.inflight < G.inflight_max)
        start_one(G.started++);
    maybe_announce();
}

static bool all_received(void)
{
    uint64_t want = G.messages >= 64 ? UINT64_MAX : (1ull << G.messages) - 1;
    for (int i = 0; i < G.subs; i++)
        if (G.s[i].ready && !G.s[i].done && G.s[i].seen != want)
            return false;
    return G.ready_announced;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    double t = (double)(now_ns(CLOCK_MONOTONIC) - G.t0_ns) / 1e9;
    double idle = G.last_ns ? (double)(now_ns(CLOCK_REALTIME) - G.last_ns) / 1e9 : 0;
    if (!G.ready_announced && t > G.connect_timeout) {
        int started = G.started;
        G.started = G.subs;         /* start no more */
        for (int i = 0; i < started; i++)
            if (!G.s[i].ready && !G.s[i].done)
                sub_end(&G.s[i], true);
        for (int i = started; i < G.subs; i++) {
            G.s[i].failed = G.s[i].done = true;
            G.failed++;
        }
        maybe_announce();
    }
    if (t > G.timeout || (G.received && all_received()) || (G.received && idle > G.drain))
        event_base_loopbreak(G.base);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    if (!G.received)
        return -1;
    size_t i = (size_t)(p * (double)(G.received - 1));
    return (double)G.lat_ns[i] / 1e6;
}

static void report(void)
{
    qsort(G.lat_ns, G.received, sizeof *G.lat_ns, cmp_u64);
    uint64_t expected = (uint64_t)G.ready * (uint64_t)G.messages;
    printf("{\"label\":\"%s\",\"subs\":%d,\"ready\":%d,\"failed\":%d,\"closed\":%d,\"messages\":%d,"
           "\"expected\":%llu,\"received\":%llu,\"lost\":%lld,\"duplicated\":%llu,\"out_of_order\":%llu,"
           "\"foreign\":%llu,\"latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
           "\"first_recv_ns\":%llu,\"last_recv_ns\":%llu,\"per_message\":[",
           G.label, G.subs, G.ready, G.failed, G.closed, G.messages, (unsigned long long)expected,
           (unsigned long long)G.received, (long long)expected - (long long)G.received,
           (unsigned long long)G.dup, (unsigned long long)G.ooo, (unsigned long long)G.foreign, pct(0.5),
           pct(0.99), G.received ? (double)G.lat_ns[G.received - 1] / 1e6 : -1,
           (unsigned long long)G.first_ns, (unsigned long long)G.last_ns);
    for (int k = 0; k < G.messages; k++)   /* [received, publish ns, last receive ns] */
        printf("%s[%llu,%llu,%llu]", k ? "," : "", (unsigned long long)G.k_count[k],
               (unsigned long long)G.k_pub_ns[k], (unsigned long long)G.k_last_ns[k]);
    printf("]}\n");
}

static void usage(void)
{
    fprintf(stderr, "usage: pgbcast --port P --path /sub/CH --subs N --messages K (<= 64)\n"
                    "  [--src-addrs A] [--src-first F] (sources 127.0.0.F .. F+A-1; default 1, 1)\n"
                    "  [--conn-inflight C] [--connect-timeout S] [--timeout S] [--drain S]\n"
                    "  [--ready-file PATH] [--label TEXT]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    G.host = "127.0.0.1";
    G.label = "";
    G.inflight_max = 256;
    G.src_addrs = G.src_first = 1;
    G.connect_timeout = 60;
    G.timeout = 120;
    G.drain = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port")) G.port = atoi(v);
        else if (!strcmp(k, "--path")) G.path = v;
        else if (!strcmp(k, "--subs")) G.subs = atoi(v);
        else if (!strcmp(k, "--messages")) G.messages = atoi(v);
        else if (!strcmp(k, "--src-addrs")) G.src_addrs = atoi(v);
        else if (!strcmp(k, "--src-first")) G.src_first = atoi(v);
        else if (!strcmp(k, "--conn-inflight")) G.inflight_max = atoi(v);
        else if (!strcmp(k, "--connect-timeout")) G.connect_timeout = atof(v);
        else if (!strcmp(k, "--timeout")) G.timeout = atof(v);
        else if (!strcmp(k, "--drain")) G.drain = atof(v);
        else if (!strcmp(k, "--ready-file")) G.ready_file = v;
        else if (!strcmp(k, "--label")) G.label = v;
        else usage();
    }
    if (!G.port || !G.path || G.subs <= 0 || G.messages <= 0 || G.messages > MAX_MESSAGES ||
        G.src_addrs < 1 || G.src_first < 1 || G.src_first + G.src_addrs > 255 || G.inflight_max < 1)
        usage();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)G.subs + 64)
            die("not enough file descriptors for --subs");
    }
    G.s = calloc((size_t)G.subs, sizeof *G.s);
    G.lat_ns = calloc((size_t)G.subs * (size_t)G.messages, sizeof *G.lat_ns);
    G.base = event_base_new();
    if (!G.s || !G.lat_ns || !G.base)
        die("out of memory");
    G.t0_ns = now_ns(CLOCK_MONOTONIC);
    G.tick = event_new(G.base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 100000};
    event_add(G.tick, &tv);
    start_more();
    event_base_dispatch(G.base);
    report();
    return 0;
}
