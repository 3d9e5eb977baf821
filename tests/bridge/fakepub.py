"""fakepub.py — a stand-in for pushgated's publish listener, for bridge tests.

It speaks just enough of the publish contract (POST /pub/<channels>, X-Event,
Authorization: Bearer, 201/202 JSON replies, {"error":...} refusals) to check
what pushgate-pub and pushgate-fcgi send and that they pass answers through.
It records every request; `answer` (a function of the request) chooses the
reply, so a test can make it answer 400/413/503 or hang. Tests of delivery to
real subscribers use the real daemon (pgtest.Daemon) instead.
"""
import json
import os
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler


class Req:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    @property
    def channel(self):
        from urllib.parse import unquote
        return unquote(self.path[len('/pub/'):]) if self.path.startswith('/pub/') else None


def default_answer(req, n):
    return 202, {"id": "1-%d" % n, "channel": req.channel, "subscribers": 0}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *a):
        pass

    def address_string(self):
        return 'fake'

    def _serve(self):
        fp = self.server.fake
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else b''
        req = Req(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with fp.lock:
            fp.requests.append(req)
            count = len(fp.requests)
        status, obj = fp.answer(req, count)
        if status is None:          # hang: never answer
            time.sleep(30)
            return
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_POST = _serve
    do_GET = _serve


class _Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Tcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakePub:
    """with FakePub(tmpdir) as fp: fp.unix_path, fp.tcp ('127.0.0.1:port')"""

    def __init__(self, tmpdir, answer=default_answer):
        self.unix_path = os.path.join(tmpdir, 'fakepub.sock')
        self.answer = answer
        self.requests = []
        self.lock = threading.Lock()

    def __enter__(self):
        if os.path.exists(self.unix_path):
            os.unlink(self.unix_path)
        self.servers = [_Unix(self.unix_path, _Handler), _Tcp(('127.0.0.1', 0), _Handler)]
        os.chmod(self.unix_path, 0o777)
        self.tcp = '127.0.0.1:%d' % self.servers[1].server_address[1]
        for s in self.servers:
            s.fake = self
            threading.Thread(target=s.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *a):
        for s in self.servers:
            s.shutdown()
            s.server_close()

    def wait_requests(self, n, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.requests) >= n:
                    return True
            time.sleep(0.02)
        return False


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p
