#!/usr/bin/python3
"""test_access_log.py — access_log: off by default and nothing written when
off; when set, one Combined-Log-Format-plus-duration line per request
(publish, channel info, WebSocket, SSE and long-poll subscribes, a held
long-poll written when answered, a 404) with the token redacted, and one
key=value line per closed connection (duration, transport, bytes out,
reason); reopened on SIGHUP (log rotation); an unopenable path stops the
start-up with a clear message."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import *      # noqa: E402,F401

CLF = re.compile(
    r'^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<method>[A-Z]+) (?P<target>(?:[^"\\]|\\.)*) HTTP/1\.[01]" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)" (?P<duration>\d+\.\d{6})$')
KV = re.compile(r'\s*([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_kv(line):
    """A key=value line -> dict (quoted values unescaped), or None."""
    out, pos = {}, 0
    while pos < len(line):
        m = KV.match(line, pos)
        if not m or m.end() == pos:
            return None
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out[m.group(1)] = v
        pos = m.end()
    return out


def read_lines(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8').splitlines()
    except OSError:
        return []


def classify(lines):
    """(request lines as dicts, close lines as dicts, unparsable lines)."""
    reqs, closes, bad = [], [], []
    for line in lines:
        m = CLF.match(line)
        if m:
            reqs.append(m.groupdict())
            continue
        kv = parse_kv(line) if line.startswith('ts=') else None
        if kv and kv.get('event') == 'close':
            closes.append(kv)
        else:
            bad.append(line)
    return reqs, closes, bad


def find(reqs, method, prefix):
    return [r for r in reqs if r['method'] == method and r['target'].startswith(prefix)]


def longpoll_in_thread(d, path, out):
    out.append(http_request(d, 'GET', path, listener='sub', timeout=10))


async def case_lines(d, path):
    ch = uniq('alog')
    st, _ = publish(d, ch, 'one')
    tap.is_(st, 202, 'publish (no subscriber yet)')
    channel_info(d, ch)
    http_request(d, 'GET', '/no/such/thing', listener='sub', headers={'User-Agent': 'agent "x" \\ y'})
    async with ws_connect(d, '/sub/%s?token=sekrit-abc' % ch) as w:
        held = []
        t = threading.Thread(target=longpoll_in_thread,
                             args=(d, '/sub/%s?transport=longpoll' % ch, held))
        t.start()
        time.sleep(T(0.4))               # the poll is held meanwhile
        with socket.create_connection(('127.0.0.1', d.port), timeout=T(3)) as s:
            s.sendall(('GET /sub/%s?transport=sse HTTP/1.1\r\nHost: t\r\nReferer: http://shop/p?token=abc\r\n'
                       'Accept: text/event-stream\r\n\r\n' % ch).encode())
            s.recv(4096)
            publish(d, ch, 'two')
            await recv(w)
            t.join(T(5))
        tap.ok(held and held[0].status == 200, 'the held long-poll was answered 200', held)
    want = 'POST /pub/%s' % ch
    lines = poll_until(lambda: [x for x in read_lines(path) if 'transport=websocket' in x], 4)
    lines = read_lines(path)
    reqs, closes, bad = classify(lines)
    tap.is_(bad, [], 'every access log line is a request line or a close line')
    pubs = find(reqs, 'POST', '/pub/' + ch)
    tap.ok(len(pubs) == 2 and {p['status'] for p in pubs} == {'201', '202'},
           'two publish lines with statuses 202 and 201', pubs)
    tap.ok(all(p['bytes'] != '-' and int(p['bytes']) > 0 for p in pubs), 'publish lines count body bytes')
    tap.ok(all(p['host'] == '127.0.0.1' and p['ident'] == '-' and p['user'] == '-' for p in pubs),
           'host is the peer, ident and user are "-"')
    tap.ok(find(reqs, 'GET', '/pub/' + ch) and find(reqs, 'GET', '/pub/' + ch)[0]['status'] == '200',
           'channel info line (200)')
    nf = find(reqs, 'GET', '/no/such/thing')
    tap.ok(nf and nf[0]['status'] == '404' and nf[0]['ua'] == 'agent \\"x\\" \\\\ y',
           '404 line with the user agent escaped', nf)
    ws = find(reqs, 'GET', '/sub/%s?token=' % ch)
    tap.ok(ws and ws[0]['status'] == '101', 'WebSocket subscribe line with status 101', ws)
    tap.ok(ws and ws[0]['target'] == '/sub/%s?token=[redacted]' % ch and 'sekrit' not in '\n'.join(lines),
           'the token is redacted and appears nowhere in the log', ws)
    sse = find(reqs, 'GET', '/sub/%s?transport=sse' % ch)
    tap.ok(sse and sse[0]['status'] == '200' and sse[0]['referer'] == 'http://shop/p?token=[redacted]',
           'SSE subscribe line (200), referer redacted', sse)
    lp = find(reqs, 'GET', '/sub/%s?transport=longpoll' % ch)
    tap.ok(lp and lp[0]['status'] == '200' and float(lp[0]['duration']) >= 0.3,
           'held long-poll line written when answered, with the hold in its duration', lp)
    tap.ok(all(float(r['duration']) < 30 for r in reqs), 'durations are seconds')
    by_transport = {}
    for c in closes:
        by_transport.setdefault(c.get('transport'), []).append(c)
    for tr in ('websocket', 'sse', 'longpoll', 'http'):
        tap.ok(tr in by_transport, 'a close line for a %s connection' % tr, sorted(by_transport))
    keys = {'ts', 'event', 'conn', 'listener', 'peer', 'transport', 'duration', 'bytes_out', 'reason'}
    tap.ok(all(keys <= set(c) for c in closes), 'close lines carry %s' % ', '.join(sorted(keys)))
    tap.ok(all(re.match(r'^\d+\.\d{3}$', c['duration']) and c['bytes_out'].isdigit() and c['reason']
               for c in closes), 'duration in seconds, bytes_out a number, a reason')
    wsc = by_transport.get('websocket', [{}])[0]
    tap.ok(int(wsc.get('bytes_out', 0)) > 100 and wsc.get('listener') == 'public'
           and wsc.get('reason') == 'client close', 'WebSocket close line: bytes out, public, client close', wsc)
    ids = [c['conn'] for c in closes]
    tap.is_(len(ids), len(set(ids)), 'one close line per connection')
    tap.ok(any(c['listener'] == 'publish' for c in closes), 'publish-listener connections get close lines')


def case_reopen(d, path):
    os.rename(path, path + '.1')
    reloads = d.log_text().count('configuration reloaded')
    d.signal(signal.SIGHUP)
    tap.ok(poll_until(lambda: d.log_text().count('configuration reloaded') > reloads, 4),
           'SIGHUP handled')
    ch = uniq('rot')
    ok = poll_until(lambda: publish(d, ch, 'x') and any(ch in x for x in read_lines(path)), 4, step=0.3)
    tap.ok(ok, 'after SIGHUP the access log is reopened at its path')
    tap.ok(not any(ch in x for x in read_lines(path + '.1')), 'the rotated file gets no new line')


def case_off():
    with Daemon(access_log='off') as d:
        ch = uniq('off')
        publish(d, ch, 'x')
        http_request(d, 'GET', '/pub/' + ch)
        time.sleep(T(1.3))
        written = []
        for root, _, files in os.walk(d.tmpdir):
            for f in files:
                with open(os.path.join(root, f), 'rb') as fh:
                    text = fh.read().decode('utf-8', 'replace')
                if re.search(r'"(GET|POST) /pub/', text) or 'event=close' in text:
                    written.append(f)
        tap.is_(written, [], 'access_log off: no access line in any file the daemon wrote')


def case_default_off():
    with Daemon() as d:
        st = http_request(d, 'GET', '/status').json() or {}
        tap.is_((st.get('config') or {}).get('access_log'), False, 'the access log is off by default')


def case_bad_path():
    bad = '/nonexistent-dir-%d/access.log' % os.getpid()
    p = subprocess.run([daemon_path(), '--listen=127.0.0.1:%d' % free_port(),
                        '--publish_listen=127.0.0.1:%d' % free_port(), '--access_log=' + bad],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=T(10))
    tap.is_(p.returncode, 2, 'an unopenable access_log path stops the start-up (exit 2)')
    tap.ok(b'access_log' in p.stderr and bad.encode() in p.stderr, 'with a message naming the path',
           p.stderr[-300:])


def main():
    require_websockets()
    tmp = os.path.join('/tmp', 'pg-alog-%d' % os.getpid())
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, 'access.log')
    with Daemon(access_log=path, longpoll_hold='5s') as d:
        tap.run(case_lines, d, path)
        tap.run(case_reopen, d, path)
    tap.run(case_off)
    tap.run(case_default_off)
    tap.run(case_bad_path)
    if not tap.failed:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    tap.done()


main()
