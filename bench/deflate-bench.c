/* deflate-bench.c — measures what permessage-deflate costs and saves in
 * pushgated: bytes on the wire and server CPU per delivery for a 2 KB JSON
 * order update broadcast to N WebSocket subscribers, and the idle memory of
 * N subscribers. The shared load generator (pgload) speaks no deflate,
 * hence this tool.
 *
 *   deflate-bench --daemon ./pushgated [--subs N] [--messages M]
 *       the whole comparison: for each figure a fresh daemon (free loopback
 *       ports, access log off, pinned to CPU 0; the tool pins itself to CPU
 *       1): idle plain, idle deflate, then fan-out plain and deflate, raw
 *       and pushgate.v1+json. One line per run.
 *   deflate-bench --pid PID --port P [--pub-port Q] [--mode plain|deflate]
 *                 [--subs N] [--messages M] [--json] [--idle]
 *       one run against a daemon you started (max_connections_per_ip 0).
 *
 * idle: connects N subscribers, reads the daemon's VmRSS before, after the
 *   handshakes and after each subscriber sent one 300-byte client message
 *   (compressed in deflate mode: the server inflates it, then must free its
 *   inflate state), and prints bytes per connection.
 * fan-out: connects N subscribers to one channel, publishes M messages
 *   closed-loop (message i+1 once every subscriber has message i), and
 *   prints wire bytes and server CPU (summed over
 *   /proc/PID/task/TID/schedstat, nanoseconds) per delivery. The first
 *   subscriber's frames are checked: RSV1 as negotiated, and the payload
 *   (inflated with zlib) equals the body. In deflate mode it also times
 *   what a subscriber pays to inflate one message.
 *
 * One thread, epoll, blocking publishes over one keep-alive connection. Not
 * part of the daemon: it exits on the first unexpected answer. One file of
 * ~700 lines on purpose: a standalone tool that needs only zlib and libc. Figures
 * measured with it are in the closing report of the deflate work and in the
 * header of src/ws_deflate.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

struct sub {
    int fd;
    bool upgraded;
    uint8_t hbuf[16];     /* partial frame header */
    size_t hlen;
    uint64_t remaining;   /* payload bytes of the current frame */
    uint8_t rsv, opcode, fin;
    uint64_t msgs;        /* complete data messages received */
    char head[1024];      /* handshake reply being read */
    size_t head_len;
    uint8_t *keep;        /* sub 0: the payload of the current message */
    size_t keep_len;
};

static struct {
    int pid, port, pub_port, subs, messages;
    bool deflate, json, idle;
    const char *channel;
    const char *daemon;   /* --daemon: start a fresh one per run */
} opt = {.subs = 1000, .messages = 500, .channel = "bench.orders"};

static struct sub *subs;
static int ep, pub_fd;
static uint64_t wire_bytes, payload_bytes, frames_rsv1, frames_total;
static bool checked_ok = true;
static char body[4096];
static size_t body_len;
static uint8_t sample[8192];   /* one compressed payload, for the client's inflate cost */
static size_t sample_len;
static int upgraded_count;

static void die(const char *what)
{
    fprintf(stderr, "deflate-bench: %s: %s\n", what, errno ? strerror(errno) : "unexpected");
    exit(1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the daemon's CPU and memory ------------------------------------- */

static uint64_t server_cpu_ns(void)
{
    char path[64], line[256];
    uint64_t total = 0;
    snprintf(path, sizeof path, "/proc/%d/task", opt.pid);
    DIR *d = opendir(path);
    if (!d)
        die("no such daemon pid");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[300];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", opt.pid, e->d_name);
        FILE *f = fopen(p, "r");
        if (f && fgets(line, sizeof line, f))
            total += strtoull(line, NULL, 10);
        if (f)
            fclose(f);
    }
    closedir(d);
    return total;
}

static long server_rss_kb(void)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", opt.pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read the daemon's status");
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* ---- the 2 KB JSON order update -------------------------------------- */

static void make_body(void)
{
    size_t n = (size_t)snprintf(body, sizeof body,
        "{\"type\":\"order.updated\",\"order_id\":\"ORD-2024-0047113\",\"status\":\"shipped\","
        "\"carrier\":\"DHL\",\"tracking\":\"JD014600006281230811\",\"customer\":{\"id\":48213,"
        "\"name\":\"Ana Lopez\",\"email\":\"ana.lopez@example.com\"},\"items\":[");
    for (int i = 0; n < 1950; i++)
        n += (size_t)snprintf(body + n, sizeof body - n,
                              "%s{\"sku\":\"SKU-%05d\",\"name\":\"Cotton T-shirt size %c\",\"qty\":%d,"
                              "\"unit_price\":\"%d.99\",\"total\":\"%d.98\"}",
                              i ? "," : "", 10000 + i * 37, "SMLX"[i % 4], 1 + i % 3, 9 + i * 3, 19 + i * 6);
    n += (size_t)snprintf(body + n, sizeof body - n, "],\"updated_at\":\"2024-05-17T10:42:13Z\"}");
    body_len = n;
}

/* ---- sockets ----------------------------------------------------------- */

static int connect_to(int port, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nonblock)
        fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EAGAIN) {
            usleep(100);
            continue;
        }
        if (w <= 0)
            die("write");
        c += w;
        n -= (size_t)w;
    }
}

static void open_subs(void)
{
    char req[512];
    subs = calloc((size_t)opt.subs, sizeof *subs);
    ep = epoll_create1(0);
    for (int i = 0; i < opt.subs; i++) {
        struct sub *s = &subs[i];
        s->fd = connect_to(opt.port, true);
        int n = snprintf(req, sizeof req,
                         "GET /sub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n%s%s\r\n",
                         opt.channel,
                         opt.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "",
                         opt.json ? "Sec-WebSocket-Protocol: pushgate.v1+json\r\n" : "");
        write_all(s->fd, req, (size_t)n);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
}

/* ---- reading frames ---------------------------------------------------- */

static void message_done(struct sub *s, int idx)
{
    s->msgs++;
    if (idx != 0 || opt.idle)
        return;
    /* the first subscriber checks what it got */
    uint8_t out[8192];
    size_t got = s->keep_len;
    const uint8_t *p = s->keep;
    if ((s->rsv & 4) && !sample_len && s->keep_len <= sizeof sample) {
        memcpy(sample, s->keep, s->keep_len);
        sample_len = s->keep_len;
    }
    if (s->rsv & 4) {
        z_stream z = {0};
        inflateInit2(&z, -15);
        uint8_t *in = malloc(s->keep_len + 4);
        memcpy(in, s->keep, s->keep_len);
        memcpy(in + s->keep_len, "\x00\x00\xff\xff", 4);
        z.next_in = in;
        z.avail_in = (uInt)s->keep_len + 4;
        z.next_out = out;
        z.avail_out = sizeof out;
        inflate(&z, Z_SYNC_FLUSH);
        got = sizeof out - z.avail_out;
        inflateEnd(&z);
        free(in);
        p = out;
    }
    bool want_rsv1 = opt.deflate;
    bool ok = ((s->rsv & 4) != 0) == want_rsv1;
    if (!opt.json)
        ok &= got == body_len && memcmp(p, body, body_len) == 0;
    else
        ok &= got > body_len && memmem(p, got, "ORD-2024-0047113", 16) != NULL;
    if (!ok)
        checked_ok = false;
    s->keep_len = 0;
}

/* Consumes n bytes of frames (after the handshake). */
static void frames_in(struct sub *s, int idx, const uint8_t *p, size_t n)
{
    wire_bytes += n;
    while (n) {
        if (s->remaining == 0 && s->hlen < 2) {
            s->hbuf[s->hlen++] = *p++;
            n--;
            continue;
        }
        if (s->remaining == 0) {
            size_t need = (s->hbuf[1] & 0x7F) == 126 ? 4 : (s->hbuf[1] & 0x7F) == 127 ? 10 : 2;
            if (s->hlen < need) {
                s->hbuf[s->hlen++] = *p++;
                n--;
                if (s->hlen < need)
                    continue;
            }
            uint64_t len = s->hbuf[1] & 0x7F;
            if (len == 126)
                len = (uint64_t)s->hbuf[2] << 8 | s->hbuf[3];
            else if (len == 127) {
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = len << 8 | s->hbuf[2 + i];
            }
            uint8_t op = s->hbuf[0] & 0x0F;
            if (op != 0)
                s->opcode = op, s->rsv = (s->hbuf[0] >> 4) & 7;
            s->fin = s->hbuf[0] >> 7;
            s->hlen = 0;
            s->remaining = len;
            if (op < 8) {
                frames_total++;
                frames_rsv1 += (s->hbuf[0] & 0x40) != 0;
            }
            if (len == 0 && s->fin && s->opcode < 8 && op < 8)
                message_done(s, idx);
            continue;
        }
        size_t k = n < s->remaining ? n : (size_t)s->remaining;
        if (s->opcode < 8) {
            payload_bytes += k;
            if (idx == 0) {
                s->keep = realloc(s->keep, s->keep_len + k);
                memcpy(s->keep + s->keep_len, p, k);
                s->keep_len += k;
            }
        }
        s->remaining -= k;
        p += k;
        n -= k;
        if (s->remaining == 0 && s->fin && s->opcode < 8)
            message_done(s, idx);
    }
}

static void handshake_in(struct sub *s, int idx, const uint8_t *p, size_t n)
{
    size_t room = sizeof s->head - 1 - s->head_len;
    size_t k = n < room ? n : room;
    memcpy(s->head + s->head_len, p, k);
    s->head_len += k;
    s->head[s->head_len] = '\0';
    char *end = strstr(s->head, "\r\n\r\n");
    if (!end)
        return;
    if (strncmp(s->head, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "deflate-bench: handshake refused: %.200s\n", s->head);
        exit(1);
    }
    bool ext = strcasestr(s->head, "permessage-deflate") != NULL;
    if (ext != opt.deflate) {
        fprintf(stderr, "deflate-bench: deflate %s negotiated\n", ext ? "unexpectedly" : "not");
        exit(1);
    }
    s->upgraded = true;
    upgraded_count++;
    size_t used = (size_t)(end + 4 - s->head) - (s->head_len - k);
    if (used < n)
        frames_in(s, idx, p + used, n - used);
}

/* Reads whatever is ready, for up to ms milliseconds. */
static void pump(int ms)
{
    struct epoll_event evs[256];
    uint8_t buf[65536];
    int n = epoll_wait(ep, evs, 256, ms);
    for (int i = 0; i < n; i++) {
        int idx = (int)evs[i].data.u32;
        struct sub *s = &subs[idx];
        for (;;) {
            ssize_t r = read(s->fd, buf, sizeof buf);
            if (r == 0) {
                fprintf(stderr, "deflate-bench: subscriber %d: connection closed by the server\n", idx);
                exit(1);
            }
            if (r < 0)
                break;
            if (s->upgraded)
                frames_in(s, idx, buf, (size_t)r);
            else
                handshake_in(s, idx, buf, (size_t)r);
        }
    }
}

/* ---- publishing --------------------------------------------------------- */

static void publish(void)
{
    char head[256], reply[2048];
    int hn = snprintf(head, sizeof head,
                      "POST /pub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", opt.channel, body_len);
    write_all(pub_fd, head, (size_t)hn);
    write_all(pub_fd, body, body_len);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(pub_fd, reply + got, sizeof reply - 1 - got);
        if (r <= 0)
            die("publish reply");
        got += (size_t)r;
        reply[got] = '\0';
        char *end = strstr(reply, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(reply, "content-length:");
        size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
        if (got >= (size_t)(end + 4 - reply) + blen)
            break;
    }
    if (strncmp(reply, "HTTP/1.1 20", 11) != 0) {
        fprintf(stderr, "deflate-bench: publish refused: %.200s\n", reply);
        exit(1);
    }
}

/* ---- runs ---------------------------------------------------------------- */

static void wait_upgraded(void)
{
    double deadline = now_s() + 30;
    while (upgraded_count < opt.subs && now_s() < deadline)
        pump(100);
    if (upgraded_count < opt.subs) {
        fprintf(stderr, "deflate-bench: only %d of %d subscribers upgraded\n", upgraded_count, opt.subs);
        exit(1);
    }
}

static uint64_t min_msgs(void)
{
    uint64_t m = UINT64_MAX;
    for (int i = 0; i < opt.subs; i++)
        if (subs[i].msgs < m)
            m = subs[i].msgs;
    return m;
}

static void settle(double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end)
        pump(50);
}

/* Each subscriber sends one 300-byte client message (compressed in deflate
 * mode); /sub ignores it after inflating. */
static void poke_all(void)
{
    char text[301];
    memset(text, 'x', 300);
    memcpy(text, "{\"type\":\"hello\",\"pad\":\"", 23);
    memcpy(text + 297, "\"}", 2);
    text[299] = ' ';
    text[300] = '\0';
    uint8_t payload[512];
    size_t plen = 300;
    uint8_t rsv1 = 0;
    if (opt.deflate) {
        z_stream z = {0};
        deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        z.next_in = (Bytef *)text;
        z.avail_in = 300;
        z.next_out = payload;
        z.avail_out = sizeof payload;
        deflate(&z, Z_SYNC_FLUSH);
        plen = sizeof payload - z.avail_out - 4;
        deflateEnd(&z);
        rsv1 = 0x40;
    } else {
        memcpy(payload, text, 300);
    }
    uint8_t frame[600];
    size_t hl = plen < 126 ? 2 : 4;
    frame[0] = (uint8_t)(0x80 | rsv1 | 1);
    if (hl == 2) {
        frame[1] = (uint8_t)(0x80 | plen);
    } else {
        frame[1] = 0x80 | 126;
        frame[2] = (uint8_t)(plen >> 8);
        frame[3] = (uint8_t)plen;
    }
    memset(frame + hl, 0, 4); /* mask key 0: payload unchanged */
    memcpy(frame + hl + 4, payload, plen);
    for (int i = 0; i < opt.subs; i++)
        write_all(subs[i].fd, frame, hl + 4 + plen);
}

static void run_idle(void)
{
    long rss0 = server_rss_kb();
    open_subs();
    wait_upgraded();
    settle(1.0);
    long rss1 = server_rss_kb();
    poke_all();
    settle(1.0);
    long rss2 = server_rss_kb();
    printf("idle %-7s %5d subscribers: VmRSS %ld kB -> %ld kB after the handshakes (%.0f bytes each) "
           "-> %ld kB after one %s 300-byte client message each (%.0f bytes each)\n",
           opt.deflate ? "deflate" : "plain", opt.subs, rss0, rss1, (rss1 - rss0) * 1024.0 / opt.subs,
           rss2, opt.deflate ? "compressed" : "plain", (rss2 - rss0) * 1024.0 / opt.subs);
}

/* What a subscriber pays to inflate one message (microseconds): a fresh
 * inflater per message, as client_no_context_takeover lets a browser do. */
static double client_inflate_us(void)
{
    uint8_t in[8196], out[16384];
    if (!sample_len)
        return 0;
    memcpy(in, sample, sample_len);
    memcpy(in + sample_len, "\x00\x00\xff\xff", 4);
    int rounds = 20000;
    double t0 = now_s();
    for (int i = 0; i < rounds; i++) {
        z_stream z = {0};
        inflateInit2(&z, -15);
        z.next_in = in;
        z.avail_in = (uInt)sample_len + 4;
        z.next_out = out;
        z.avail_out = sizeof out;
        inflate(&z, Z_SYNC_FLUSH);
        inflateEnd(&z);
    }
    return (now_s() - t0) * 1e6 / rounds;
}

static void run_fanout(void)
{
    open_subs();
    wait_upgraded();
    settle(0.5);
    pub_fd = connect_to(opt.pub_port, false);
    /* warm-up: one message */
    publish();
    while (min_msgs() < 1)
        pump(100);
    wire_bytes = payload_bytes = frames_rsv1 = frames_total = 0;
    uint64_t cpu0 = server_cpu_ns();
    double t0 = now_s();
    for (int m = 0; m < opt.messages; m++) {
        publish();
        double deadline = now_s() + 10;
        while (min_msgs() < (uint64_t)m + 2) {
            pump(100);
            if (now_s() > deadline) {
                fprintf(stderr, "deflate-bench: message %d not delivered to every subscriber\n", m);
                exit(1);
            }
        }
    }
    double secs = now_s() - t0;
    uint64_t cpu = server_cpu_ns() - cpu0;
    double deliveries = (double)opt.subs * opt.messages;
    printf("fanout %-7s %s body %zu B, %d subscribers x %d messages: %.1f wire B/delivery "
           "(payload %.1f), %.0f%% of frames RSV1, server CPU %.3f us/delivery (%.1f us/message), "
           "%.0f deliveries/s, check %s\n",
           opt.deflate ? "deflate" : "plain", opt.json ? "v1+json" : "raw", body_len, opt.subs,
           opt.messages, wire_bytes / deliveries, payload_bytes / deliveries,
           frames_total ? 100.0 * (double)frames_rsv1 / (double)frames_total : 0.0, cpu / 1e3 / deliveries,
           cpu / 1e3 / opt.messages, deliveries / secs, checked_ok ? "ok" : "FAILED");
    if (opt.deflate)
        printf("  a subscriber inflates one message in %.2f us (zlib, fresh inflater, this CPU)\n",
               client_inflate_us());
}

/* ---- a fresh daemon per run (--daemon) ------------------------------ */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("free port");
    close(fd);
    return ntohs(a.sin_port);
}

static void pin(pid_t pid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof set, &set); /* best effort (one CPU: no pinning) */
}

static void daemon_start(void)
{
    char listen[64], publish[64];
    opt.port = free_port();
    opt.pub_port = free_port();
    snprintf(listen, sizeof listen, "--listen=127.0.0.1:%d", opt.port);
    snprintf(publish, sizeof publish, "--publish_listen=127.0.0.1:%d", opt.pub_port);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        pin(0, 0);
        execl(opt.daemon, opt.daemon, listen, publish, "--max_connections_per_ip=0", "--log_level=warn",
              "--log_file=/dev/null", "--access_log=off", "--history_size=1", "--www_root=",
              "--websocket_deflate=on", (char *)NULL);
        _exit(127);
    }
    opt.pid = pid;
    for (int i = 0; i < 200; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.pub_port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0)
            return;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        usleep(50000);
    }
    fprintf(stderr, "deflate-bench: %s did not start\n", opt.daemon);
    exit(1);
}

static void daemon_stop(void)
{
    kill(opt.pid, SIGTERM);
    waitpid(opt.pid, NULL, 0);
}

/* Forgets the subscribers and counters of the previous run. */
static void reset(void)
{
    for (int i = 0; subs && i < opt.subs; i++) {
        close(subs[i].fd);
        free(subs[i].keep);
    }
    free(subs);
    subs = NULL;
    if (ep > 0)
        close(ep);
    if (pub_fd > 0)
        close(pub_fd);
    ep = pub_fd = 0;
    wire_bytes = payload_bytes = frames_rsv1 = frames_total = 0;
    upgraded_count = 0;
    sample_len = 0;
}

static void run_all(void)
{
    static const struct {
        bool idle, json, deflate;
    } runs[] = {
        {true, false, false}, {true, false, true},
        {false, false, false}, {false, false, true},
        {false, true, false}, {false, true, true},
    };
    pin(0, 1);
    printf("# %d subscribers, %d messages; daemon pinned to CPU 0, this tool to CPU 1, access log off\n",
           opt.subs, opt.messages);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        opt.idle = runs[i].idle;
        opt.json = runs[i].json;
        opt.deflate = runs[i].deflate;
        daemon_start();
        if (opt.idle)
            run_idle();
        else
            run_fanout();
        fflush(stdout);
        reset();
        daemon_stop();
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: deflate-bench --daemon PATH [--subs N] [--messages M]\n"
                    "       deflate-bench --pid PID --port P [--pub-port Q] [--mode plain|deflate] "
                    "[--subs N] [--messages M] [--json] [--idle] [--channel NAME]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            opt.json = true;
        else if (!strcmp(a, "--idle"))
            opt.idle = true;
        else if (!v)
            usage();
        else if (!strcmp(a, "--pid"))
            opt.pid = atoi(v), i++;
        else if (!strcmp(a, "--port"))
            opt.port = atoi(v), i++;
        else if (!strcmp(a, "--pub-port"))
            opt.pub_port = atoi(v), i++;
        else if (!strcmp(a, "--subs"))
            opt.subs = atoi(v), i++;
        else if (!strcmp(a, "--messages"))
            opt.messages = atoi(v), i++;
        else if (!strcmp(a, "--channel"))
            opt.channel = v, i++;
        else if (!strcmp(a, "--daemon"))
            opt.daemon = v, i++;
        else if (!strcmp(a, "--mode"))
            opt.deflate = !strcmp(v, "deflate"), i++;
        else
            usage();
    }
    if (opt.subs < 1 || opt.messages < 1)
        usage();
    make_body();
    signal(SIGPIPE, SIG_IGN);
    if (opt.daemon)
        run_all();
    else if (!opt.pid || !opt.port || (!opt.idle && !opt.pub_port))
        usage();
    else if (opt.idle)
        run_idle();
    else
        run_fanout();
    return checked_ok ? 0 : 1;
}
