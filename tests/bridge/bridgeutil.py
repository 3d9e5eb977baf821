"""bridgeutil.py — helpers shared by the bridge tests (on top of pgtest): paths
to the built programs, running a command with a bound, and small waits.

Every wait is bounded; every process a test starts is stopped by PID.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# realpath: in a VPATH build abs_top_srcdir is ".../build/../src", and
# php-fpm's path-info walk does not resolve "..".
BUILDDIR = os.path.realpath(os.environ.get('PG_BUILDDIR') or os.getcwd())
SRCDIR = os.path.realpath(os.environ.get('PG_SRCDIR') or os.path.join(os.path.dirname(__file__), '..', '..'))
HERE = os.path.dirname(os.path.abspath(__file__))


def prog(name):
    return os.path.join(BUILDDIR, name)


sys.path.insert(0, os.path.join(SRCDIR, 'tests', 'integration'))
import pgtest  # noqa: E402  (the shared harness: TAP, Daemon, publish helpers)
from pgtest import T  # noqa: E402,F401


def _eq(self, got, want, name):
    return self.is_(got, want, name)


pgtest.Tap.eq = _eq


def Tap():
    """The one TAP emitter of this test file (pgtest's, so Daemon checks and
    ours share the numbering)."""
    return pgtest.tap


def watchdog(seconds):
    """Extends pgtest's per-file watchdog for tests that start web servers."""
    signal.alarm(int(T(seconds)))


def run(argv, input=None, env=None, timeout=20):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, host='127.0.0.1'):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_path(path, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def wait_until(fn, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def stop(proc, timeout=10.0):
    """Stops a Popen by PID: SIGTERM, then SIGKILL after timeout."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


_tmpdirs = []


def _cleanup():
    if pgtest.tap.failed == 0:
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir(prefix='pgbridge-'):
    """A fresh world-readable directory, removed at exit when every test
    passed (kept for a look otherwise)."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    _tmpdirs.append(d)
    return d


def http(method, url_or_port, path='/', body=None, headers=None, timeout=10, unix=None):
    """One HTTP/1.1 request with http.client; returns (status, headers, body)."""
    import http.client
    if unix:
        class UConn(http.client.HTTPConnection):
            def connect(self):
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(timeout)
                self.sock.connect(unix)
        c = UConn('localhost', timeout=timeout)
    else:
        c = http.client.HTTPConnection('127.0.0.1', url_or_port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def parse_cgi(out):
    """Splits a CGI response (Status: line, headers, blank line, body)."""
    head, sep, body = out.partition(b'\r\n\r\n')
    if not sep:
        head, sep, body = out.partition(b'\n\n')
    status, headers = 200, {}
    for line in head.decode('latin-1').splitlines():
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    if 'status' in headers:
        status = int(headers['status'].split()[0])
    return status, headers, body


def cgi_env(method='POST', uri='/pg/chan', script='/pg', path_info=None, remote='127.0.0.1',
            ctype=None, length=None, extra=None):
    env = {'GATEWAY_INTERFACE': 'CGI/1.1', 'REQUEST_METHOD': method, 'REQUEST_URI': uri,
           'SCRIPT_NAME': script, 'REMOTE_ADDR': remote, 'SERVER_PROTOCOL': 'HTTP/1.1'}
    if path_info is not None:
        env['PATH_INFO'] = path_info
    if ctype:
        env['CONTENT_TYPE'] = ctype
    if length is not None:
        env['CONTENT_LENGTH'] = str(length)
    if extra:
        env.update(extra)
    return env


def run_cgi(binary, env, body=b'', conf=None, timeout=20):
    """Runs the bridge as a CGI program with a clean environment."""
    e = {'PATH': '/usr/bin:/bin'}
    e.update(env)
    if conf:
        e['PUSHGATE_FCGI_CONF'] = conf
    p = subprocess.run([binary], input=body, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=timeout)
    return parse_cgi(p.stdout) + (p.stderr,)


def run_fcgi(addr, env, body=b'', timeout=20):
    """One request through cgi-fcgi (libfcgi-bin) to a FastCGI socket."""
    e = {'PATH': '/usr/bin:/bin'}
    e.update(env)
    p = subprocess.run(['cgi-fcgi', '-bind', '-connect', addr], input=body,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=timeout)
    return parse_cgi(p.stdout) + (p.stderr,)


def write(path, text, mode=0o644):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    return path
