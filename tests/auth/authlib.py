"""authlib.py — helpers shared by the subscriber/publisher authorization
tests (tests/auth/): an independent HS256 JWT minter (Python's hmac, not
our codec), WebSocket checks for "accepted then closed 1008", a small
threaded HTTP server standing in for a shop's auth_url endpoint (it counts
the checks it answers), a php-fpm started on a unix socket in a temp dir,
and TAP TODO lines for parts another module has not wired yet.

Every wait is bounded (pgtest.T); every process started here is stopped by
its PID."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
from pgtest import *  # noqa: E402,F401,F403
import pgtest  # noqa: E402

SECRET = 'k3y-for-tests-only'


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def mint(claims, secret=SECRET, alg='HS256', header=None, sign=True):
    """A compact JWS. claims: dict (exp defaults to now + 300)."""
    claims = dict(claims)
    claims.setdefault('exp', int(time.time()) + 300)
    head = header if header is not None else {'alg': alg, 'typ': 'JWT'}
    signing_input = b64url(json.dumps(head)) + '.' + b64url(json.dumps(claims))
    if not sign:
        return signing_input + '.'
    key = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + '.' + b64url(sig)


def todo(cond, name, reason):
    """A TAP line marked TODO: reported, never counted as a failure."""
    tap.n += 1
    print('%s %d - %s # TODO %s' % ('ok' if cond else 'not ok', tap.n, tap._clean(name),
                                    tap._clean(reason)))
    sys.stdout.flush()


def fallback_wired():
    """Do the SSE / long-poll transports call pg_auth_check yet?"""
    d = os.path.join(srcdir(), 'fallback')
    try:
        return any('pg_auth_check' in open(os.path.join(d, f)).read()
                   for f in os.listdir(d) if f.endswith('.c'))
    except OSError:
        return False


def ws_open(d, path, headers=None, protocols=None):
    """RawWS handshake; returns the RawWS (caller closes)."""
    return RawWS(d, path, headers=headers, protocols=protocols)


def ws_refused(d, path, headers=None, timeout=5):
    """(status, close code, reason str) of a WebSocket we expect to be
    accepted and closed at once."""
    with RawWS(d, path, headers=headers, timeout=timeout) as w:
        if w.status != 101:
            return w.status, None, w.body.decode('utf-8', 'replace')
        code, reason, _, how = w.expect_close(timeout)
        return w.status, code, reason.decode('utf-8', 'replace')


def ws_allowed(d, path, channel, headers=None, timeout=3):
    """True if the handshake gives 101 and a message published to channel
    afterwards arrives as a text frame."""
    with RawWS(d, path, headers=headers) as w:
        if w.status != 101:
            return False, 'status %d %r' % (w.status, w.body[:200])
        body = 'm-' + uniq('x')
        publish(d, channel, body)
        frames, how = w.recv_frames(timeout, until=lambda f: f.opcode == OP_TEXT)
        got = [f for f in frames if f.opcode == OP_TEXT]
        if got and got[0].payload == body.encode():
            return True, ''
        return False, 'frames %r (%s)' % (frames, how)


def http_get(d, path, headers=None, timeout=5):
    """One GET on the public listener, reading at most the head and a short
    body (an SSE stream stays open)."""
    req = ['GET %s HTTP/1.1' % path, 'Host: 127.0.0.1:%d' % d.port, 'Connection: close']
    for k, v in (headers or {}).items():
        req.append('%s: %s' % (k, v))
    raw = raw_http(d.port, ('\r\n'.join(req) + '\r\n\r\n').encode('latin-1'), timeout=timeout)
    return parse_http_response(raw)


# ---------------------------------------------------------------- auth_url server


class AuthServer:
    """A shop's session endpoint on a free loopback port. Cookie
    "session=good" -> 204; "session=slow" -> sleeps `slow_s` then 204;
    "session=long" -> 403 with a body too long to pass on; anything else ->
    403 "not logged in". Counts answers per Cookie; keeps the last request's
    headers."""

    def __init__(self, slow_s=6.0, tls_ctx=None):
        self.count = {}
        self.total = 0
        self.last = {}
        self.slow_s = slow_s
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_GET(self):
                cookie = self.headers.get('Cookie', '')
                with outer.lock:
                    outer.total += 1
                    outer.count[cookie] = outer.count.get(cookie, 0) + 1
                    outer.last = {k.lower(): v for k, v in self.headers.items()}
                    outer.last['path'] = self.path
                if 'session=slow' in cookie:
                    time.sleep(outer.slow_s)
                if 'session=good' in cookie or 'session=slow' in cookie:
                    self.send_response(204)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                body = (b'x' * 500) if 'session=long' in cookie else b'not logged in\n'
                self.send_response(403)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = S(('127.0.0.1', 0), H)
        if tls_ctx is not None:
            self.httpd.socket = tls_ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.1})
        self.thread.daemon = True

    def url(self, path='/check', scheme='http', host='127.0.0.1'):
        return '%s://%s:%d%s' % (scheme, host, self.port, path)

    def hits(self, cookie):
        with self.lock:
            return self.count.get(cookie, 0)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()
        return False


# ---------------------------------------------------------------- php-fpm


def php_fpm_binary():
    for name in ('php-fpm8.2', 'php-fpm'):
        for d in ('/usr/sbin', '/usr/bin'):
            p = os.path.join(d, name)
            if os.access(p, os.X_OK):
                return p
    return shutil.which('php-fpm8.2') or shutil.which('php-fpm')


class PhpFpm:
    """php-fpm in the foreground on a unix socket in a temp dir, with PHP
    sessions stored there and an access log that counts requests."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='pgfpm.')
        self.sock = os.path.join(self.dir, 'fpm.sock')
        self.sessions = os.path.join(self.dir, 'sessions')
        self.access_log = os.path.join(self.dir, 'access.log')
        self.error_log = os.path.join(self.dir, 'error.log')
        os.mkdir(self.sessions)
        conf = os.path.join(self.dir, 'php-fpm.conf')
        user = ''
        if os.getuid() == 0:
            user = 'user = root\ngroup = root\n'
        with open(conf, 'w') as f:
            f.write('[global]\nerror_log = %s\ndaemonize = no\npid = %s\n\n'
                    '[pgtest]\n%slisten = %s\npm = static\npm.max_children = 2\n'
                    'access.log = %s\naccess.format = "%%m %%s %%f"\n'
                    'clear_env = yes\ncatch_workers_output = yes\n'
                    'php_admin_value[session.save_path] = %s\n'
                    'php_admin_value[session.use_strict_mode] = 0\n'
                    'php_admin_flag[log_errors] = on\n'
                    % (self.error_log, os.path.join(self.dir, 'fpm.pid'), user, self.sock,
                       self.access_log, self.sessions))
        self.argv = [php_fpm_binary(), '-F', '-R', '-n', '-y', conf]
        self.proc = None

    def session(self, sid, php_serialized):
        """Writes a PHP session file (files handler format)."""
        with open(os.path.join(self.sessions, 'sess_' + sid), 'w') as f:
            f.write(php_serialized)

    def requests(self):
        try:
            with open(self.access_log) as f:
                return len([l for l in f if l.strip()])
        except OSError:
            return 0

    def start(self):
        self.err = open(os.path.join(self.dir, 'stderr'), 'wb')
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.err,
                                     stderr=self.err)
        deadline = time.monotonic() + T(10)
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.dump()
                raise RuntimeError('php-fpm did not start')
            time.sleep(0.05)
        return self

    def dump(self):
        for p in (self.error_log, os.path.join(self.dir, 'stderr')):
            try:
                tap.comment('---- %s:\n%s' % (p, open(p).read()[-3000:]))
            except OSError:
                pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(T(5))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.err.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, t, v, tb):
        if t is not None or tap.failed:
            self.dump()
        self.stop()
        if tap.failed == 0 and t is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
