"""stack.py — the whole legacy stack for the web-server tests: pushgated
(pgtest.Daemon), php-fpm with the demo shop, the tap in front of it, the
bridge on a unix socket, and the checks every web server must pass when
its contrib/ config sits in front of them:

  - an unchanged PHP form behind the tap publishes, and a WebSocket, an SSE
    and a long-poll subscriber all connected THROUGH the web server receive
    the notification;
  - publishes through each bridge mount (FastCGI socket, spawned FastCGI,
    CGI) arrive, with the bridge secret passed through (Authorization) and
    refused without it.

Everything lives in one world-readable work directory (the web servers run
as www-data), including a copy of pushgate-fcgi.
"""
import asyncio
import json
import os
import shutil
import socket
import threading
import time

from bridgeutil import SRCDIR, T, prog, tmpdir
import pgtest
from pgtest import Daemon, V1, websockets
from servers import Bridge, PhpFpm

SECRET = 'br1dge-s3cret'


class Stack:
    def __init__(self, tap=True):
        self.dir = tmpdir('pgweb-')
        os.chmod(self.dir, 0o755)
        self.www = os.path.join(self.dir, 'www')
        shutil.copytree(os.path.join(SRCDIR, 'contrib', 'php', 'demo'), self.www)
        for f in ('pushgate.js',):
            src = os.path.join(SRCDIR, 'www', f)
            if os.path.exists(src):
                shutil.copy(src, self.www)
        self.binary = os.path.join(self.dir, 'pushgate-fcgi')
        shutil.copy(prog('pushgate-fcgi'), self.binary)
        os.chmod(self.binary, 0o755)
        self.fcgi_sock = os.path.join(self.dir, 'fcgi.sock')
        self.tap_sock = os.path.join(self.dir, 'tap.sock')
        self.conf = os.path.join(self.dir, 'fcgi.conf')
        self.rules = os.path.join(SRCDIR, 'contrib', 'php', 'tap.rules')
        os.environ['PUSHGATE_DEMO_DB'] = os.path.join(self.dir, 'orders.json')
        self.closers = []

    def start(self, url_prefix='/pushgate/'):
        self.daemon = Daemon().start()
        self.closers.append(self.daemon.stop)
        body = ('daemon 127.0.0.1:%d\nspool off\nbridge_allow none\nbridge_secret %s\n'
                'max_message_size 1m\nlog_level debug\n' % (self.daemon.pub_port, SECRET))
        with open(self.conf, 'w') as f:
            f.write(body)
        os.chmod(self.conf, 0o644)
        self.bridge = Bridge(self.dir, body + 'url_prefix %s\n' % url_prefix, unix=self.fcgi_sock).start()
        self.closers.append(self.bridge.stop)
        self.fpm = PhpFpm(self.dir).start()
        self.closers.append(self.fpm.stop)
        self.tap = Bridge(self.dir, body + 'tap_upstream unix:%s\ntap_rules %s\n' % (self.fpm.sock, self.rules),
                          unix=self.tap_sock).start()
        self.closers.append(self.tap.stop)
        for s in (self.fcgi_sock, self.tap_sock):
            os.chmod(s, 0o666)
        return self

    def stop(self):
        for c in reversed(self.closers):
            try:
                c()
            except Exception as e:  # keep stopping the others
                pgtest.tap.comment('stop: %s' % e)
        self.closers = []


# ---------------------------------------------------------------- clients

def http(port, method, path, body=None, headers=None, timeout=10):
    import http.client
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=T(timeout))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


class SSEReader(threading.Thread):
    """Reads an event stream through the proxy and keeps its data: lines
    until one contains `want` (or 10 s pass)."""

    def __init__(self, port, path, want):
        super().__init__(daemon=True)
        self.port, self.path, self.want = port, path, want
        self.data, self.status, self.error = [], None, None
        self.ready = threading.Event()

    def run(self):
        try:
            s = socket.create_connection(('127.0.0.1', self.port), T(10))
            s.settimeout(T(10))
            s.sendall(('GET %s HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n'
                       'Cache-Control: no-cache\r\n\r\n' % self.path).encode())
            buf = b''
            while b'\r\n\r\n' not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            head, _, buf = buf.partition(b'\r\n\r\n')
            self.status = int(head.split(b' ')[1]) if head.startswith(b'HTTP/') else 0
            self.ready.set()
            end = time.time() + T(10)
            while time.time() < end:
                self.data = [line[5:].strip().decode('utf-8', 'replace')
                             for line in buf.split(b'\n') if line.startswith(b'data:')]
                if any(self.want in d for d in self.data):
                    break
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            s.close()
        except Exception as e:
            self.error = repr(e)
            self.ready.set()


class LongPoll(threading.Thread):
    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.result = None

    def run(self):
        try:
            self.result = http(self.port, 'GET', self.path, timeout=20)
        except Exception as e:
            self.result = (0, {}, repr(e).encode())


def form_post(port, path, fields):
    from urllib.parse import urlencode
    return http(port, 'POST', path, urlencode(fields).encode(),
                {'Content-Type': 'application/x-www-form-urlencoded'})


# ---------------------------------------------------------------- checks

def check_subscribers_through_proxy(t, st, port, label):
    """The unchanged admin form behind the tap publishes; WebSocket, SSE and
    long-poll subscribers connected through the web server receive it."""
    ch = pgtest.uniq('order')
    order = ch.split('order', 1)[1].replace('-', '')[:9] or '1'
    ch = 'order-' + order
    status, info = pgtest.publish(st.daemon, ch, json.dumps({'order': order, 'status': 'received'}))
    cursor = info.get('id') if info else ''
    sse = SSEReader(port, '/sub/' + ch, 'shipped')
    sse.start()
    lp = LongPoll(port, '/sub/%s?last_id=%s' % (ch, cursor))
    lp.start()
    got = {}

    async def ws_side():
        async with websockets.connect('ws://127.0.0.1:%d/sub/%s' % (port, ch), subprotocols=[V1],
                                      open_timeout=T(5), ping_interval=None) as w:
            sse.ready.wait(T(5))
            await asyncio.sleep(0.5)
            r = await asyncio.get_running_loop().run_in_executor(
                None, form_post, port, '/admin/order_status.php', {'order_id': order, 'status': 'shipped'})
            got['form'] = r
            deadline = time.monotonic() + T(5)
            while time.monotonic() < deadline:
                m = json.loads(await asyncio.wait_for(w.recv(), T(5)))
                if m.get('type') != 'ping':
                    got['ws'] = m
                    return
    try:
        pgtest.run(ws_side(), timeout=20)
    except Exception as e:
        got.setdefault('ws_error', repr(e))
    form = got.get('form')
    t.ok(form and form[0] == 200 and b'is now shipped' in form[2],
         '%s: the unchanged PHP admin form answers through the tap' % label, form)
    ws = got.get('ws') or {}
    t.ok(ws.get('channel') == ch and json.loads(ws.get('data', '{}')) == {'order': order, 'status': 'shipped'}
         and ws.get('event') == 'status',
         '%s: a WebSocket subscriber through the proxy receives the tap publish' % label, got)
    sse.join(T(10))
    t.ok(sse.status == 200 and any('shipped' in d for d in sse.data),
         '%s: an SSE subscriber through the proxy receives it' % label,
         'status %s, data %r, error %s' % (sse.status, sse.data, sse.error))
    lp.join(T(15))
    r = lp.result or (0, {}, b'')
    ok = False
    try:
        arr = json.loads(r[2])
        ok = r[0] == 200 and any('shipped' in json.dumps(m) for m in arr)
    except ValueError:
        pass
    t.ok(ok, '%s: a long-poll subscriber through the proxy receives it' % label, r)


def check_bridge_mounts(t, st, port, label, mounts):
    """Publishes through each bridge mount (path prefix) arrive at pushgated;
    Authorization reaches the bridge; a large message passes."""
    chans = []
    for m in mounts:
        ch = pgtest.uniq('pub')
        chans.append(ch)
        body = b'via ' + m.encode()
        s, h, b = http(port, 'POST', m + ch, body, {'Authorization': 'Bearer ' + SECRET, 'X-Event': 'note'})
        t.ok(s in (201, 202) and json.loads(b).get('channel') == ch,
             '%s: publish through %s reaches pushgated (%d)' % (label, m, s), b[:300])
        s, h, b = http(port, 'POST', m + ch, b'x')
        t.eq(s, 403, '%s: %s without the bridge secret is refused (Authorization was passed through)' % (label, m))
        big = b'B' * (200 * 1024)
        s, h, b = http(port, 'POST', m + ch, big, {'Authorization': 'Bearer ' + SECRET})
        t.ok(s in (201, 202), '%s: a 200 KiB publish through %s passes (%d)' % (label, m, s), b[:300])
        form = 'channel=%s&event=form&data=hello' % ch
        s, h, b = http(port, 'POST', m, form.encode(), {'Authorization': 'Bearer ' + SECRET,
                                                        'Content-Type': 'application/x-www-form-urlencoded'})
        t.ok(s in (201, 202), '%s: a form-encoded publish through %s passes (%d)' % (label, m, s), b[:300])
    for ch in chans:
        s, info = pgtest.channel_info(st.daemon, ch)
        t.ok(s == 200, '%s: channel %s exists in pushgated' % (label, ch), info)
