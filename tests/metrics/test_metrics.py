#!/usr/bin/python3
"""test_metrics.py — GET /metrics, /status and /dashboard on the publish
listener: the exposition passes a strict format check (promcheck.py), its
counters match what the test did (N publishes to M subscribers of each
transport give N*M deliveries; connections by transport; refusals after a
provoked 413 and a bad request; slow-consumer drops), /status has its
fields, the dashboard is served on the publish listener only, and every
one of these URLs needs the bearer secret when publish_secret is set."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *                          # noqa: E402,F401
from promcheck import check, value, values_by  # noqa: E402

FAMILIES = [
    'pushgate_build_info', 'pushgate_uptime_seconds', 'pushgate_connections',
    'pushgate_connections_accepted_total', 'pushgate_subscribes_total', 'pushgate_channels',
    'pushgate_subscriptions', 'pushgate_history_messages', 'pushgate_messages_published_total',
    'pushgate_publishes_refused_total', 'pushgate_deliveries_total',
    'pushgate_deliveries_dropped_total', 'pushgate_bytes_out_total',
    'pushgate_delivery_latency_seconds', 'pushgate_refusals_total', 'pushgate_store_up',
    'pushgate_store_info', 'pushgate_store_state',
]


def scrape(d, headers=None):
    """(reply, errors, families) of one GET /metrics."""
    r = http_request(d, 'GET', '/metrics', headers=headers)
    if r.status != 200:
        return r, ['status %d' % r.status], {}
    errors, fams = check(r.body.decode('utf-8'))
    return r, errors, fams


def metrics(d):
    """The families of a valid exposition; raises when it is not valid."""
    r, errors, fams = scrape(d)
    if errors:
        raise AssertionError('invalid exposition: %s' % '; '.join(errors[:5]))
    return fams


def delta(after, before, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


# ---- an SSE client over a plain socket (counts message events only)

class SSE:
    def __init__(self, d, ch):
        self.sock = socket.create_connection(('127.0.0.1', d.port), timeout=T(5))
        self.sock.sendall(('GET /sub/%s?transport=sse&format=json HTTP/1.1\r\nHost: t\r\n'
                           'Accept: text/event-stream\r\n\r\n' % ch).encode())
        buf = b''
        while b'\r\n\r\n' not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, self.buf = buf.partition(b'\r\n\r\n')
        self.status = int(head.split(b' ')[1]) if head.startswith(b'HTTP/1.') else 0
        self.needle = ('"channel":"%s"' % ch).encode()

    def wait(self, n, timeout=5):
        deadline = time.monotonic() + T(timeout)
        while self.buf.count(self.needle) < n and time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.buf += chunk
        return self.buf.count(self.needle)

    def close(self):
        self.sock.close()


# ---- cases

def case_format(d):
    r, errors, fams = scrape(d)
    tap.is_(r.status, 200, 'GET /metrics answers 200 on the publish listener')
    tap.ok(r.headers.get('content-type', '').startswith('text/plain; version=0.0.4'),
           'content type is the 0.0.4 text format', r.headers.get('content-type'))
    tap.is_(errors, [], 'the exposition passes the strict format check')
    missing = [f for f in FAMILIES if f not in fams]
    tap.is_(missing, [], 'every documented family is present')
    tap.is_(values_by(fams, 'pushgate_store_info', 'backend'), {'memory': 1}, 'store backend is memory')
    tap.is_(value(fams, 'pushgate_store_up'), 1, 'the memory store is up')
    h = http_request(d, 'HEAD', '/metrics')
    tap.ok(h.status == 200 and h.body == b'', 'HEAD /metrics: 200 without a body', repr(h))
    p = http_request(d, 'POST', '/metrics', body=b'x')
    tap.is_(p.status, 405, 'POST /metrics is 405')
    pub = http_request(d, 'GET', '/metrics', listener='sub')
    tap.is_(pub.status, 404, '/metrics is not on the public listener')


async def case_counts(d):
    ch, n = uniq('cnt'), 20
    before = metrics(d)
    sse = []
    async with ws_connect(d, '/sub/' + ch) as w1, ws_connect(d, '/sub/' + ch) as w2, \
            ws_connect(d, '/sub/' + ch, V1) as w3:
        sse = [SSE(d, ch), SSE(d, ch)]
        tap.is_([s.status for s in sse], [200, 200], 'two SSE subscribers connected')
        during = metrics(d)
        conns = {(l['listener'], l['transport']): v for _, l, v in
                 during['pushgate_connections'].samples}
        tap.is_((conns.get(('public', 'websocket')), conns.get(('public', 'sse'))), (3, 2),
                'connections gauge: 3 websocket, 2 sse on the public listener')
        tap.is_(value(during, 'pushgate_subscriptions'), 5, 'subscriptions gauge is 5')
        for i in range(n):
            st, _ = publish(d, ch, 'message %d' % i)
            assert st == 201, st
        for w in (w1, w2):
            got = await recv_n(w, n, 5)
            assert len(got) == n
        got = await recv_n(w3, n, 5, json_mode=True)
        assert len(got) == n
        tap.is_([s.wait(n) for s in sse], [n, n], 'each SSE subscriber got %d messages' % n)
    for s in sse:
        s.close()
    epoch = channel_info(d, ch)[1]['last_id'].rsplit('-', 1)[0]
    lp = http_request(d, 'GET', '/sub/%s?transport=longpoll&last_id=%s-0' % (ch, epoch), listener='sub')
    tap.ok(lp.status == 200 and len(lp.json() or []) == n, 'a long-poll replay got %d messages' % n,
           repr(lp))
    after = metrics(d)
    want = {'websocket': 3 * n, 'sse': 2 * n, 'longpoll': n}
    got = {t: delta(after, before, 'pushgate_deliveries_total', transport=t) for t in want}
    tap.is_(got, want, 'deliveries by transport == N*M for each transport')
    tap.is_(delta(after, before, 'pushgate_messages_published_total', origin='api'), n,
            'messages published (api) == N')
    subs = {t: delta(after, before, 'pushgate_subscribes_total', transport=t) for t in want}
    tap.is_(subs, {'websocket': 3, 'sse': 2, 'longpoll': 1}, 'subscribes by transport')
    tap.is_(delta(after, before, 'pushgate_delivery_latency_seconds_count'), 6 * n,
            'latency histogram counted every written delivery')
    lat_sum = delta(after, before, 'pushgate_delivery_latency_seconds_sum')
    tap.ok(0 <= lat_sum < 6 * n * 5, 'latency sum is plausible (%.3f s)' % lat_sum)
    drops = {k: v for k, v in values_by(after, 'pushgate_deliveries_dropped_total', 'reason').items()
             if v != values_by(before, 'pushgate_deliveries_dropped_total', 'reason')[k]}
    tap.is_(drops, {}, 'no delivery was dropped')
    tap.ok(delta(after, before, 'pushgate_connections_accepted_total', listener='public') >= 6,
           'public connections accepted counted (3 ws + 2 sse + 1 long-poll)')
    payload = sum(len('message %d' % i) for i in range(n))
    tap.ok(delta(after, before, 'pushgate_bytes_out_total') > 6 * payload, 'bytes out grew')
    gone = poll_until(lambda: value(metrics(d), 'pushgate_subscriptions') == 0, 3)
    tap.ok(gone, 'subscriptions gauge back to 0 once everyone left')
    conns = {(l['listener'], l['transport']): v for _, l, v in metrics(d)['pushgate_connections'].samples}
    tap.is_((conns.get(('public', 'websocket')), conns.get(('public', 'sse'))), (0, 0),
            'connections gauge back to 0')


async def case_client_origin(d):
    ch = uniq('cpub-')
    before = metrics(d)
    async with ws_connect(d, '/pubsub/' + ch) as w:
        await w.send('from a client')
        ok = poll_until(lambda: delta(metrics(d), before, 'pushgate_messages_published_total',
                                      origin='client') == 1, 3)
    tap.ok(ok, 'a /pubsub client publish counts as origin="client"')
    tap.is_(delta(metrics(d), before, 'pushgate_messages_published_total', origin='api'), 0,
            'and not as origin="api"')


def case_refusals(d):
    before = metrics(d)
    big = http_request(d, 'POST', '/pub/' + uniq('big'), body=b'x' * 2000)
    tap.is_(big.status, 413, 'a body over max_message_size is refused with 413')
    raw = raw_http(d.pub_port, b'NOT A REQUEST\r\n\r\n')
    tap.ok(raw.startswith(b'HTTP/1.1 400'), 'a malformed request gets 400', raw[:60])
    st, _ = publish(d, 'bad!name', 'x')
    tap.is_(st, 400, 'a bad channel name is refused with 400')
    after = metrics(d)
    tap.is_(delta(after, before, 'pushgate_refusals_total', reason='max_message_size'), 1,
            'refusals{reason="max_message_size"} +1')
    tap.is_(delta(after, before, 'pushgate_refusals_total', reason='bad_request'), 1,
            'refusals{reason="bad_request"} +1')
    tap.is_(delta(after, before, 'pushgate_publishes_refused_total', code='400'), 1,
            'publishes_refused{code="400"} +1')


def case_status(d):
    r = http_request(d, 'GET', '/status')
    j = r.json()
    tap.ok(r.status == 200 and r.headers.get('content-type', '').startswith('application/json')
           and isinstance(j, dict), 'GET /status answers a JSON object', repr(r))
    j = j or {}
    ver = os.popen(daemon_path() + ' --version').read().split()[-1]
    tap.is_((j.get('name'), j.get('version')), ('pushgated', ver), 'name and version')
    tap.is_(j.get('pid'), d.pid, 'pid is the daemon\'s')
    tap.ok(isinstance(j.get('uptime_seconds'), int) and j['uptime_seconds'] >= 0, 'uptime_seconds')
    tap.ok(isinstance(j.get('started'), str) and j['started'].endswith('Z'), 'started is a UTC time')
    tap.ok(str(j.get('cursor', '')).startswith(str(j.get('epoch')) + '-'), 'cursor is <epoch>-<seq>')
    tap.is_(j.get('store'), {'backend': 'memory', 'state': 'up'}, 'store backend and state')
    cfg = j.get('config') or {}
    tap.ok(d.keys['listen'] in cfg.get('listen', []) and d.keys['publish_listen'] in cfg.get('publish_listen', []),
           'config summary lists the listeners', repr(cfg))
    tap.is_((cfg.get('max_message_size'), cfg.get('publish_secret_set')), (1024, False),
            'config summary: max_message_size, no publish secret')
    tap.ok(not any(k in json.dumps(cfg) for k in ('token_secret"', 'publish_secret"')),
           'no secret value appears in the config summary')
    counts = j.get('counts') or {}
    fams = metrics(d)
    tap.is_(counts.get('published', {}).get('api'),
            int(value(fams, 'pushgate_messages_published_total', origin='api')),
            'counts.published.api matches /metrics')
    for k in ('connections', 'channels', 'subscriptions', 'deliveries', 'dropped', 'refused', 'bytes_out'):
        tap.ok(k in counts, 'counts has %s' % k)


def case_dashboard(d):
    r = http_request(d, 'GET', '/dashboard')
    body = r.body.decode('utf-8', 'replace')
    tap.ok(r.status == 200 and r.headers.get('content-type', '').startswith('text/html'),
           'GET /dashboard on the publish listener: an HTML page', repr(r)[:200])
    tap.ok('getContext' in body and "fetch('metrics'" in body and '<script src' not in body,
           'the page draws on canvas from /metrics, no external script')
    tap.ok("default-src 'none'" in r.headers.get('content-security-policy', ''),
           'the page comes with a restrictive Content-Security-Policy')
    for path in ('/dashboard', '/dashboard.html', '//dashboard.html'):
        p = http_request(d, 'GET', path, listener='sub')
        tap.is_(p.status, 404, 'public listener: GET %s is 404' % path)


def case_secret():
    secret = 's3cret-metrics'
    with Daemon(publish_secret=secret) as d:
        probe = http_request(d, 'GET', '/pub/x')
        if probe.status != 401:
            tap.skip('/metrics needs the publish secret', 'the publish gate is not in router.c yet')
            return
        for path in ('/metrics', '/status', '/dashboard'):
            tap.is_(http_request(d, 'GET', path).status, 401, '%s without the secret: 401' % path)
            bad = http_request(d, 'GET', path, headers={'Authorization': 'Bearer nope'})
            tap.is_(bad.status, 401, '%s with a wrong secret: 401' % path)
        r, errors, _ = scrape(d, headers={'Authorization': 'Bearer ' + secret})
        tap.ok(r.status == 200 and not errors, '/metrics with the secret: 200 and valid', errors[:3])


def case_slow_consumer():
    with Daemon(subscriber_buffer_max='64k', max_message_size='128k', history_size=4) as d:
        ch = uniq('slow')
        ws = RawWS(d, '/sub/' + ch)       # never reads
        assert ws.status == 101, ws.status
        body = b'y' * 65536
        refused = 0
        for i in range(1200):
            publish(d, ch, body)
            if i % 50 == 49:
                refused = value(metrics(d), 'pushgate_refusals_total', reason='slow_consumer')
                if refused:
                    break
        fams = metrics(d)
        tap.ok(refused >= 1, 'a subscriber that does not read is refused as a slow consumer')
        tap.ok(value(fams, 'pushgate_deliveries_dropped_total', reason='slow_consumer') >= 1,
               'dropped{reason="slow_consumer"} counted')
        ws.close()      # the server's next write fails: what it still held is unsent
        unsent = poll_until(lambda: value(metrics(d), 'pushgate_deliveries_dropped_total',
                                          reason='unsent') >= 1, 3)
        tap.ok(unsent, 'its queued, unsent messages counted as dropped{reason="unsent"}')


def case_scrape_snippet(d):
    """contrib/prometheus/pushgate.yml scrapes the path we serve."""
    try:
        import yaml
    except ImportError:
        tap.skip('the scrape snippet is valid YAML', 'python3-yaml missing')
        return
    with open(os.path.join(srcdir(), 'contrib', 'prometheus', 'pushgate.yml')) as f:
        conf = yaml.safe_load(f)
    jobs = conf.get('scrape_configs') or []
    job = jobs[0] if jobs else {}
    tap.ok(job.get('job_name') and job.get('static_configs', [{}])[0].get('targets'),
           'the scrape snippet has a job with targets', repr(conf)[:200])
    r, errors, _ = scrape(d) if job.get('metrics_path', '/metrics') == '/metrics' else (None, ['path'], {})
    tap.ok(r is not None and r.status == 200 and not errors, 'its metrics_path serves a valid exposition')


def main():
    require_websockets()
    with Daemon(max_message_size=1024, history_size=100, client_publish='cpub-*') as d:
        tap.run(case_format, d)
        tap.run(case_counts, d)
        tap.run(case_client_origin, d)
        tap.run(case_refusals, d)
        tap.run(case_status, d)
        tap.run(case_dashboard, d)
        tap.run(case_scrape_snippet, d)
    tap.run(case_secret)
    tap.run(case_slow_consumer, timeout=60)
    tap.done()


main()
