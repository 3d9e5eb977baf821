"""pgtest.py — the shared harness of pushgated's integration tests.

Job: start the real daemon on free loopback ports with --key=value settings,
give tests small independent clients (the publish API over http.client, raw
HTTP over a socket, hand-made WebSocket frames over a socket, and the
`websockets` library for well-behaved clients), and print TAP.

Invariants:
- Every wait is bounded in count and in time; every time limit goes through
  T(), which scales it by $PG_TIME_FACTOR (default 1; sanitizer and valgrind
  builds set 3-10). A per-file watchdog (SIGALRM) ends a hung test file.
- A daemon is always stopped by its PID (SIGTERM, then SIGKILL after 5 s),
  also when the test raises; any failure while it ran dumps the tail of its
  log file and of its stderr (where sanitizers report) as TAP comments.
- The only place protocol bytes are written by hand is RawWS / ws_frame(),
  for frames a correct client library refuses to send.

Use:
    from pgtest import *
    with Daemon(history_size=10) as d:
        tap.run(case_something, d)     # a function or a coroutine function
    tap.done()

The API others call:
  T(s)                      s scaled by PG_TIME_FACTOR
  tap.ok(cond, name, diag=None) / tap.is_(got, want, name) / tap.skip(name, why)
  tap.comment(text) / tap.run(fn, *args, timeout=30) / tap.done() / tap.skip_all(why)
  require_websockets()      fail under CI=true, else skip, without python3-websockets
  free_port() -> int
  Daemon(args=(), check_exit=True, env=None, **keys)  context manager; keys become
      --key=value (lists: one argument each; True: --key); defaults listen and
      publish_listen on free 127.0.0.1 ports, www_root=$PG_SRCDIR/www,
      log_level=debug, log_file=<tmp>/pushgated.log. publish_listen='unix:/path'
      makes the publish helpers use that socket.
      .start() .stop(check=None) -> status .restart(**changed_keys) .signal(sig)
      .wait(timeout) -> status or None .pid .port .pub_port .pub_unix .tmpdir
      .sub_url(path) 'ws://..' .http_url(path) .pub_url(path) .log_text() .dump(why)
  http_request(d, method, path, body=None, headers=None, listener='pub'|'sub') -> Reply
      Reply.status .headers (lower-case names) .body .json()
  publish(d, channels, body, event=None, event_in='header'|'query') -> (status, json)
  channel_info(d, channel) -> (status, json) ; delete_channel(d, channel) -> status
  raw_http(port, bytes, timeout=3, unix=None) -> reply bytes ; parse_http_response(bytes)
  RawWS(d, path, protocols=None, headers=None, key=..., version='13', request=None)
      .status .headers .body .send(bytes) .send_frame(op, payload, fin, rsv, mask, length)
      .recv_frame(timeout) -> Frame|None .recv_frames(timeout, until) .expect_close(timeout)
      -> (code, reason, frames, how) .wait_eof(timeout)
  ws_frame(op, payload, fin=True, rsv=0, mask=True, length=None) -> bytes ; close_payload(code, reason)
  ws_connect(d, path, proto=None, **websockets_kw)   async context manager (V1 = the
      'pushgate.v1+json' subprotocol); recv / recv_json / recv_msg (skips JSON pings) /
      recv_n / silence / wait_close -> (code, reason, messages)
  run(coro, timeout=30) ; poll_until(fn, timeout=3) ; uniq(prefix) ; seq_of(id) ; epoch_of(id)
"""

import asyncio
import base64
import hashlib
import http.client
import inspect
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import websockets
    import websockets.exceptions
except ImportError:  # only /usr/bin/python3 has Debian's python3-websockets
    websockets = None

__all__ = [
    'T', 'TIME_FACTOR', 'tap', 'Tap', 'Daemon', 'DaemonError', 'free_port',
    'builddir', 'srcdir', 'daemon_path', 'Reply', 'http_request', 'publish',
    'channel_info', 'delete_channel', 'raw_http', 'parse_http_response',
    'RawWS', 'ws_frame', 'ws_accept', 'close_payload', 'Frame',
    'OP_CONT', 'OP_TEXT', 'OP_BINARY', 'OP_CLOSE', 'OP_PING', 'OP_PONG',
    'ws_connect', 'recv', 'recv_json', 'recv_msg', 'recv_n', 'silence',
    'wait_close', 'run', 'poll_until', 'seq_of', 'epoch_of', 'uniq',
    'websockets', 'V1', 'require_websockets', 'recv_replies',
]

TIME_FACTOR = float(os.environ.get('PG_TIME_FACTOR') or 1)
V1 = 'pushgate.v1+json'


def T(seconds):
    """A time limit scaled for slow (sanitizer, valgrind) builds."""
    return seconds * TIME_FACTOR


def srcdir():
    return os.environ.get('PG_SRCDIR') or os.path.abspath(
        os.path.join(os.path.dirname(__file__), '..', '..'))


def builddir():
    return os.environ.get('PG_BUILDDIR') or srcdir()


def daemon_path():
    return os.environ.get('PUSHGATED') or os.path.join(builddir(), 'pushgated')


_counter = [0]


def uniq(prefix='ch'):
    """A channel name unique within this test process."""
    _counter[0] += 1
    return '%s%d-%d' % (prefix, os.getpid() % 100000, _counter[0])


def seq_of(msg_id):
    return int(msg_id.rsplit('-', 1)[1])


def epoch_of(msg_id):
    return msg_id.rsplit('-', 1)[0]


# ---------------------------------------------------------------- TAP


class Tap:
    """A tiny TAP emitter: numbered results, a plan at the end, comments."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    @staticmethod
    def _clean(name):
        return ' '.join(str(name).split()).replace('#', '\\#')

    def comment(self, text):
        for line in str(text).splitlines() or ['']:
            print('# ' + line)
        sys.stdout.flush()

    def ok(self, cond, name, diag=None):
        self.n += 1
        print('%s %d - %s' % ('ok' if cond else 'not ok', self.n, self._clean(name)))
        if not cond:
            self.failed += 1
            if diag is not None:
                self.comment(diag)
        sys.stdout.flush()
        return bool(cond)

    def is_(self, got, want, name):
        return self.ok(got == want, name, 'got:  %r\nwant: %r' % (got, want))

    def skip(self, name, reason, covered_elsewhere=False):
        """One skipped check. Under CI=true a skip is a failure, unless the
        check runs in another stage of tests/run-all (covered_elsewhere:
        e.g. RSS bounds, meaningless under ASan, run on the plain build)."""
        if ci_forbids_skip() and not covered_elsewhere:
            self.ok(False, '%s: cannot run under CI=true: %s' % (name, reason))
            return
        self.n += 1
        print('ok %d - %s # SKIP %s' % (self.n, self._clean(name), self._clean(reason)))
        sys.stdout.flush()

    def fail_exc(self, name):
        self.ok(False, '%s: %s' % (name, _exc_line()), _short_traceback())

    def run(self, fn, *args, timeout=30):
        """Runs one case (a function or coroutine function); an exception is
        one 'not ok' with its traceback, and the next case still runs."""
        name = fn.__name__
        try:
            if inspect.iscoroutinefunction(fn):
                run(fn(*args), timeout=timeout)
            else:
                fn(*args)
        except Exception:
            self.fail_exc(name)

    def done(self):
        print('1..%d' % self.n)
        sys.stdout.flush()
        _stop_all()
        sys.exit(1 if self.failed else 0)

    def skip_all(self, reason, opt_out=None):
        """Skips the whole file. Under CI=true a missing tool is a failure,
        never a silent skip, unless the environment variable named by
        opt_out (PG_SKIP_WEBSERVERS, PG_SKIP_BROWSER) asks for the skip."""
        if ci_forbids_skip() and not (opt_out and os.environ.get(opt_out) == '1'):
            self.ok(False, 'cannot run under CI=true: %s' % reason)
            self.done()
        print('1..0 # SKIP %s' % self._clean(reason))
        sys.stdout.flush()
        _stop_all()
        sys.exit(0)


def ci_forbids_skip():
    return os.environ.get('CI') == 'true'


def _exc_line():
    t, v, _ = sys.exc_info()
    if t is None:
        return 'no exception'
    if isinstance(v, (asyncio.TimeoutError, socket.timeout)):
        return 'timed out waiting'
    return '%s: %s' % (t.__name__, v)


def _short_traceback():
    """The current exception's frames in the test files only (not asyncio's
    or websockets' internals), then the exception line."""
    t, v, tb = sys.exc_info()
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(tb)
              if os.path.abspath(f.filename).startswith(here)
              and not (f.filename.endswith('pgtest.py') and f.name in ('run', 'bounded'))]
    return ''.join(traceback.format_list(frames)) + ''.join(traceback.format_exception_only(t, v))


tap = Tap()


def _excepthook(t, v, tb):
    tap.ok(False, 'uncaught %s: %s' % (t.__name__, v),
           ''.join(traceback.format_exception(t, v, tb)))
    for d in list(_live):
        d.dump('uncaught exception')
    _stop_all()
    print('1..%d' % tap.n)
    sys.stdout.flush()
    os._exit(1)


sys.excepthook = _excepthook


class Watchdog(Exception):
    pass


def _on_alarm(signum, frame):
    raise Watchdog('test file ran past its watchdog of %d s' % _watchdog_s)


_watchdog_s = int(T(float(os.environ.get('PG_TEST_WATCHDOG') or 110)))
signal.signal(signal.SIGALRM, _on_alarm)
signal.alarm(_watchdog_s)


def require_websockets():
    if websockets is None:
        msg = 'python3-websockets missing (run with /usr/bin/python3)'
        if os.environ.get('CI') == 'true':
            tap.ok(False, msg)
            tap.done()
        tap.skip_all(msg)


def run(coro, timeout=30):
    """asyncio.run with an overall bound."""
    async def bounded():
        return await asyncio.wait_for(coro, T(timeout))
    return asyncio.run(bounded())


def poll_until(fn, timeout=3, step=0.05):
    """Calls fn until it returns a truthy value or the time is up; returns
    the last value."""
    deadline = time.monotonic() + T(timeout)
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---------------------------------------------------------------- daemon


def free_port():
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class DaemonError(Exception):
    pass


_live = []


def _stop_all():
    for d in list(_live):
        try:
            d.stop(check=False)
        except Exception:
            pass


def _addr_port(value):
    m = re.match(r'^(?:tls:)?(?:\[[^\]]*\]|[^:]*):(\d+)$', value)
    return int(m.group(1)) if m else None


def _addr_unix(value):
    if value.startswith('unix:'):
        return value[5:]
    return value if value.startswith('/') else None


class Daemon:
    """pushgated on free loopback ports. Keys become --key=value arguments
    (a list becomes one argument per item; True becomes --key). The
    first listen / publish_listen value is the one the helpers use."""

    def __init__(self, *, args=(), check_exit=True, env=None, **keys):
        self.tmpdir = tempfile.mkdtemp(prefix='pgtest.')
        self.log_path = os.path.join(self.tmpdir, 'pushgated.log')
        self.stderr_path = os.path.join(self.tmpdir, 'pushgated.stderr')
        self.keys = {
            'listen': '127.0.0.1:%d' % free_port(),
            'publish_listen': '127.0.0.1:%d' % free_port(),
            'www_root': os.path.join(srcdir(), 'www'),
            'log_level': 'debug',
            'log_file': self.log_path,
            # never the machine's /var/spool/pushgate: each daemon its own
            'spool_dir': os.path.join(self.tmpdir, 'spool'),
        }
        self.keys.update(keys)
        self.args = list(args)
        self.check_exit = check_exit
        self.env = env
        self.proc = None
        self.started_at = 0.0
        self._failed_at_start = 0
        self._stopping = False

    # ---- addresses
    def _first(self, key):
        v = self.keys.get(key)
        return v[0] if isinstance(v, (list, tuple)) else v

    @property
    def port(self):
        return _addr_port(self._first('listen'))

    @property
    def pub_port(self):
        return _addr_port(self._first('publish_listen'))

    @property
    def pub_unix(self):
        return _addr_unix(self._first('publish_listen'))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def sub_url(self, path):
        return 'ws://127.0.0.1:%d%s' % (self.port, path)

    def http_url(self, path):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def pub_url(self, path):
        if self.pub_unix:
            return 'http+unix://%s%s' % (self.pub_unix, path)
        return 'http://127.0.0.1:%d%s' % (self.pub_port, path)

    # ---- life cycle
    def argv(self):
        argv = [daemon_path()]
        if os.environ.get('PG_VALGRIND') == '1':
            # a leak or memory error makes the exit status 99, which the
            # "exited 0 on SIGTERM" check of stop() reports
            argv = ['valgrind', '-q', '--error-exitcode=99', '--leak-check=full',
                    '--errors-for-leak-kinds=definite', '--show-leak-kinds=definite',
                    '--log-file=%s/valgrind.%%p.log' % self.tmpdir] + argv
        for k, v in self.keys.items():
            if v is None or v is False:
                continue
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                argv.append('--%s' % k if item is True else '--%s=%s' % (k, item))
        return argv + self.args

    def start(self):
        if not os.access(daemon_path(), os.X_OK):
            raise DaemonError('no executable daemon at %s' % daemon_path())
        self._failed_at_start = tap.failed
        self._stopping = False
        err = open(self.stderr_path, 'ab')
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err, env=self.env)
        err.close()
        self.started_at = time.monotonic()
        _live.append(self)
        try:
            self._wait_ready()
        except Exception:
            self.dump('start-up failed: ' + ' '.join(self.argv()))
            self.stop(check=False)
            raise
        return self

    def _targets(self):
        out = []
        for key in ('listen', 'publish_listen'):
            v = self.keys.get(key)
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                if not item:
                    continue
                if _addr_unix(item):
                    out.append((socket.AF_UNIX, _addr_unix(item)))
                elif _addr_port(item):
                    host = item.rsplit(':', 1)[0].replace('tls:', '').strip('[]') or '127.0.0.1'
                    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
                    out.append((fam, (host, _addr_port(item))))
        return out

    def _wait_ready(self):
        deadline = time.monotonic() + T(10)
        pending = self._targets()
        while pending:
            if self.proc.poll() is not None:
                raise DaemonError('pushgated exited with status %s during start-up'
                                  % self.proc.returncode)
            if time.monotonic() > deadline:
                raise DaemonError('pushgated not accepting on %r after %.0f s'
                                  % (pending, T(10)))
            fam, addr = pending[0]
            try:
                with socket.socket(fam, socket.SOCK_STREAM) as s:
                    s.settimeout(0.5)
                    s.connect(addr)
                pending.pop(0)
            except OSError:
                time.sleep(0.05)

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """The exit status, or None if still running after timeout (s)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, check=None):
        """SIGTERM, then SIGKILL after 5 s (scaled). With check (default:
        the constructor's check_exit), one TAP line: exited 0 on SIGTERM.
        Returns the exit status."""
        if self.proc is None:
            return None
        check = self.check_exit if check is None else check
        was_running = self.proc.poll() is None
        if not was_running and check:
            tap.comment('pushgated pid %d had exited by itself, status %s'
                        % (self.proc.pid, self.proc.returncode))
        self._stopping = True
        self.signal(signal.SIGTERM)
        rc = self.wait(T(5))
        killed = rc is None
        if killed:
            self.proc.kill()
            rc = self.proc.wait()
        if self in _live:
            _live.remove(self)
        if check:
            tap.ok(was_running and not killed and rc == 0,
                   'pushgated (pid %d) was running and exited 0 on SIGTERM' % self.proc.pid,
                   'was running: %s, needed SIGKILL: %s, status: %s'
                   % (was_running, killed, rc))
        if tap.failed > self._failed_at_start:
            self.dump('failures while pushgated pid %d ran' % self.proc.pid)
            self._failed_at_start = tap.failed
        self.proc = None
        return rc

    def restart(self, **changes):
        """Stops and starts again on the same ports (new epoch with the
        memory store), optionally with changed keys."""
        self.stop()
        self.keys.update(changes)
        return self.start()

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def dump(self, why, lines=40):
        tap.comment('---- %s' % why)
        if self.proc is not None and not self._stopping and self.proc.poll() is not None:
            tap.comment('---- pushgated pid %d had exited by itself, status %s'
                        % (self.proc.pid, self.proc.returncode))
        import glob
        vg = sorted(glob.glob(os.path.join(self.tmpdir, 'valgrind.*.log')))
        for label, path in [('log', self.log_path), ('stderr', self.stderr_path)] + \
                [('valgrind', p) for p in vg]:
            try:
                with open(path, 'rb') as f:
                    tail = f.read().decode('utf-8', 'replace').splitlines()[-lines:]
            except OSError:
                continue
            if tail:
                tap.comment('---- pushgated %s (last %d lines):' % (label, len(tail)))
                tap.comment('\n'.join(tail))

    def __enter__(self):
        return self.start()

    def __exit__(self, t, v, tb):
        if t is not None and self.proc is not None:
            self.dump('exception: %s: %s' % (t.__name__, v))
        self.stop()
        if tap.failed == 0 and t is None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return False


# ---------------------------------------------------------------- HTTP


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # lower-cased names -> last value
        self.body = body

    def json(self):
        try:
            return json.loads(self.body.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            return None

    def __repr__(self):
        return 'Reply(%d, %r)' % (self.status, self.body[:300])


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__('localhost', timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def http_request(d, method, path, body=None, headers=None, listener='pub', timeout=5):
    """One request on a fresh connection to the publish ('pub') or public
    ('sub') listener. Never raises on an HTTP status."""
    if listener == 'pub' and d.pub_unix:
        conn = _UnixHTTPConnection(d.pub_unix, T(timeout))
    else:
        port = d.pub_port if listener == 'pub' else d.port
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=T(timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def _chan_path(channels):
    return channels if isinstance(channels, str) else ','.join(channels)


def publish(d, channels, body, event=None, event_in='header', headers=None):
    """POST /pub/<channels> (a name, "a,b" or a list). event goes in X-Event
    or, with event_in='query', in ?event=. Returns (status, json or None)."""
    if isinstance(body, str):
        body = body.encode('utf-8')
    path = '/pub/' + _chan_path(channels)
    h = dict(headers or {})
    if event is not None:
        if event_in == 'query':
            path += '?event=' + event
        else:
            h['X-Event'] = event
    r = http_request(d, 'POST', path, body=body, headers=h)
    return r.status, r.json()


def channel_info(d, channel):
    """GET /pub/<channel> -> (status, json or None)."""
    r = http_request(d, 'GET', '/pub/' + channel)
    return r.status, r.json()


def delete_channel(d, channel):
    """DELETE /pub/<channel> -> status."""
    return http_request(d, 'DELETE', '/pub/' + channel).status


def _read_head(sock, buf=b'', limit=65536):
    while b'\r\n\r\n' not in buf:
        if len(buf) > limit:
            raise ValueError('response head over %d bytes' % limit)
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def parse_http_response(data):
    """(status, {lower name: value}, body bytes) from raw response bytes;
    status 0 when there is no status line."""
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    m = re.match(r'HTTP/1\.[01] (\d{3})', lines[0])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    return (int(m.group(1)) if m else 0), headers, body


def recv_replies(sock, n, timeout, settle=False):
    """Reads from sock until n HTTP/1.1 status lines have arrived, the peer
    closes, or timeout seconds pass; with settle, then waits a moment for
    the rest of the last body. Returns the bytes read."""
    data, deadline = b'', time.monotonic() + timeout
    while data.count(b'HTTP/1.1 ') < n and time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    if settle:
        time.sleep(0.1)
        try:
            sock.settimeout(0.2)
            data += sock.recv(65536)
        except (socket.timeout, OSError):
            pass
    return data


def raw_http(port, data, timeout=3, read_body=True, unix=None):
    """Sends raw bytes, reads the reply until EOF, Content-Length or the
    timeout. Returns the raw reply bytes (b'' if none)."""
    fam = socket.AF_UNIX if unix else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(T(timeout))
        s.connect(unix or ('127.0.0.1', port))
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b''
        deadline = time.monotonic() + T(timeout)
        try:
            buf = _read_head(s)
            _, headers, body = parse_http_response(buf)
            want = int(headers.get('content-length', '-1') or -1) if read_body else 0
            while (want < 0 or len(body) < want) and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                body += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return buf


# ---------------------------------------------------------------- raw WebSocket

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def close_payload(code=None, reason=b''):
    if code is None:
        return b''
    if isinstance(reason, str):
        reason = reason.encode('utf-8')
    return struct.pack('!H', code) + reason


def ws_frame(opcode, payload=b'', fin=True, rsv=0, mask=True, length=None,
             mask_key=b'\x11\x22\x33\x44'):
    """One frame as bytes. rsv is the 3-bit RSV field (4 = RSV1); length
    overrides the declared payload length (the payload is sent as given)."""
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack('!BB', b0, mbit | n)
    elif n < 65536:
        head = struct.pack('!BBH', b0, mbit | 126, n)
    else:
        head = struct.pack('!BBQ', b0, mbit | 127, n)
    if not mask:
        return head + payload
    masked = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return head + mask_key + masked


class Frame:
    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    def close_code(self):
        return struct.unpack('!H', self.payload[:2])[0] if len(self.payload) >= 2 else None

    def __repr__(self):
        return 'Frame(fin=%d rsv=%d op=%d masked=%d len=%d %r)' % (
            self.fin, self.rsv, self.opcode, self.masked, len(self.payload), self.payload[:80])


class RawWS:
    """A WebSocket client over a plain socket: writes the handshake itself
    and sends whatever frames the test builds. status/headers hold the
    handshake reply; a non-101 reply keeps its body in self.body."""

    def __init__(self, d, path, protocols=None, headers=None, key='dGhlIHNhbXBsZSBub25jZQ==',
                 version='13', timeout=5, port=None, request=None):
        self.sock = socket.create_connection(('127.0.0.1', port or d.port), timeout=T(timeout))
        self.key = key
        if request is None:
            lines = ['GET %s HTTP/1.1' % path, 'Host: 127.0.0.1:%d' % (port or d.port),
                     'Upgrade: websocket', 'Connection: Upgrade']
            if key is not None:
                lines.append('Sec-WebSocket-Key: %s' % key)
            if version is not None:
                lines.append('Sec-WebSocket-Version: %s' % version)
            if protocols:
                lines.append('Sec-WebSocket-Protocol: %s' % ', '.join(protocols))
            for k, v in (headers or {}).items():
                lines.append('%s: %s' % (k, v))
            request = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
        self.sock.sendall(request)
        raw = _read_head(self.sock)
        head, sep, rest = raw.partition(b'\r\n\r\n')
        self.status, self.headers, _ = parse_http_response(head + sep)
        self.head = head
        self.buf = rest if self.status == 101 else b''
        self.body = rest if self.status != 101 else b''
        self.eof = False

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_frame(self, opcode, payload=b'', **kw):
        return self.send(ws_frame(opcode, payload, **kw))

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('no frame within the time limit')
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b''
            if not chunk:
                self.eof = True
                return False
            self.buf += chunk
        return True

    def recv_frame(self, timeout=3):
        """The next frame, or None at EOF. Raises socket.timeout."""
        deadline = time.monotonic() + T(timeout)
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, pos = b1 & 0x7F, 2
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n, pos = struct.unpack('!H', self.buf[2:4])[0], 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n, pos = struct.unpack('!Q', self.buf[2:10])[0], 10
        masked = bool(b1 & 0x80)
        key = b''
        if masked:
            if not self._fill(pos + 4, deadline):
                return None
            key, pos = self.buf[pos:pos + 4], pos + 4
        if not self._fill(pos + n, deadline):
            return None
        payload = self.buf[pos:pos + n]
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        self.buf = self.buf[pos + n:]
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload)

    def recv_frames(self, timeout=3, until=None):
        """Frames until EOF, a close frame, until(frame) or the time limit.
        Returns (frames, how) with how in 'close', 'eof', 'until', 'timeout'."""
        frames = []
        deadline = time.monotonic() + T(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return frames, 'timeout'
            try:
                f = self.recv_frame(left / TIME_FACTOR)
            except socket.timeout:
                return frames, 'timeout'
            if f is None:
                return frames, 'eof'
            frames.append(f)
            if f.opcode == OP_CLOSE:
                return frames, 'close'
            if until and until(f):
                return frames, 'until'

    def expect_close(self, timeout=3):
        """Reads until the server's close frame. Returns (code, reason,
        frames, how): code None when no close frame came (how says why)."""
        frames, how = self.recv_frames(timeout)
        if how == 'close':
            c = frames[-1]
            return c.close_code(), c.payload[2:], frames, how
        return None, b'', frames, how

    def wait_eof(self, timeout=3):
        """True if the server closes the TCP connection within the time
        (whatever it sends meanwhile is discarded)."""
        deadline = time.monotonic() + T(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                self.eof = True
                return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------- websockets helpers


def ws_connect(d, path, proto=None, **kw):
    """websockets.connect to the public listener; no client pings, no size
    limit, no compression unless asked. Use with `async with`."""
    kw.setdefault('open_timeout', T(5))
    kw.setdefault('close_timeout', T(3))
    kw.setdefault('max_size', None)
    kw.setdefault('compression', None)
    kw.setdefault('ping_interval', None)
    if proto is not None:
        kw['subprotocols'] = [proto] if isinstance(proto, str) else list(proto)
    return websockets.connect(d.sub_url(path), **kw)


async def recv(ws, timeout=3):
    """The next message (str or bytes); raises asyncio.TimeoutError."""
    return await asyncio.wait_for(ws.recv(), T(timeout))


async def recv_json(ws, timeout=3):
    """The next message, which must be a JSON text frame, decoded."""
    m = await recv(ws, timeout)
    if not isinstance(m, str):
        raise AssertionError('binary frame where a JSON text frame was expected: %r' % m[:80])
    return json.loads(m)


async def recv_msg(ws, timeout=3):
    """The next v1+json frame that is not a {"type":"ping"} keep-alive."""
    deadline = time.monotonic() + T(timeout)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError()
        m = await recv_json(ws, left / TIME_FACTOR)
        if not (isinstance(m, dict) and m.get('type') == 'ping'):
            return m


async def recv_n(ws, n, timeout=5, json_mode=False):
    """n messages within one overall limit."""
    out = []
    deadline = time.monotonic() + T(timeout)
    for _ in range(n):
        left = max(deadline - time.monotonic(), 0.001)
        if json_mode:
            out.append(await recv_msg(ws, left / TIME_FACTOR))
        else:
            out.append(await asyncio.wait_for(ws.recv(), left))
    return out


async def silence(ws, seconds=0.3, json_mode=False):
    """None if nothing (other than v1+json pings) arrives within seconds,
    else the message that did."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            m = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            return None
        except websockets.exceptions.ConnectionClosed as e:
            return 'closed: %s' % e
        if json_mode and _is_json_ping(m):
            continue
        return m


def _is_json_ping(m):
    try:
        return isinstance(m, str) and json.loads(m).get('type') == 'ping'
    except (ValueError, AttributeError):
        return False


async def wait_close(ws, timeout=3):
    """Reads until the connection closes. Returns (code, reason, messages):
    code is the server's close code (1006 when the TCP connection ended
    without one), or None if still open after timeout."""
    msgs = []
    deadline = time.monotonic() + T(timeout)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, '', msgs
        try:
            msgs.append(await asyncio.wait_for(ws.recv(), left))
        except asyncio.TimeoutError:
            return None, '', msgs
        except websockets.exceptions.ConnectionClosed as e:
            if e.rcvd is not None:
                return e.rcvd.code, e.rcvd.reason, msgs
            return 1006, '', msgs
