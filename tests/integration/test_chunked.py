#!/usr/bin/python3
"""test_chunked.py — chunked request bodies on the publish API: a body sent
in many small pieces arrives whole (the decoder keeps its state between
reads instead of starting over), a request pipelined right after a chunked
body is answered too, chunk extensions and trailers are accepted, and a
chunked body over max_message_size gets 413."""

import socket
import time

from pgtest import *


def chunked(body, piece):
    out = b''
    for i in range(0, len(body), piece):
        part = body[i:i + piece]
        out += b'%x;ext=1\r\n' % len(part) + part + b'\r\n'
    return out + b'0\r\nX-Trailer: t\r\n\r\n'


def main():
    with Daemon(max_message_size=262144) as d:
        ch = uniq('chunk')
        body = bytes(range(256)) * 800           # 204,800 bytes, binary
        head = b'POST /pub/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' % ch.encode()
        wire = head + chunked(body, 1000)
        s = socket.create_connection(('127.0.0.1', d.pub_port), timeout=T(5))
        t0 = time.monotonic()
        for i in range(0, len(wire), 1500):       # ~140 small writes
            s.sendall(wire[i:i + 1500])
            if i % 30000 == 0:
                time.sleep(0.01)
        s.sendall(b'GET /pub/%s HTTP/1.1\r\nHost: x\r\n\r\n' % ch.encode())   # pipelined
        data = recv_replies(s, 2, T(10), settle=True)
        s.close()
        took = time.monotonic() - t0
        tap.ok(data.startswith(b'HTTP/1.1 202'), 'a chunked publish sent in ~140 pieces is accepted (202)',
               repr(data[:200]))
        tap.ok(data.count(b'HTTP/1.1 200') == 1 and b'"messages":1' in data,
               'the request pipelined after the chunked body is answered', repr(data[-300:]))
        tap.ok(took < T(5), 'in reasonable time (%.2f s)' % took)

        async def check():
            async with ws_connect(d, '/sub/%s?last_event_id=%s' % (ch, '0-0'), V1) as w:
                m = await recv_msg(w)
                if m.get('type') == 'gap':
                    m = await recv_msg(w)
                import base64
                return base64.b64decode(m['data']) if m.get('encoding') == 'base64' else m['data'].encode()
        got = run(check(), timeout=10)
        tap.ok(got == body, 'the subscriber gets the exact body (%d bytes)' % len(got))

        big = b'y' * 300000
        s = socket.create_connection(('127.0.0.1', d.pub_port), timeout=T(5))
        s.sendall(head + chunked(big, 4096))
        data = recv_replies(s, 1, T(5), settle=True)
        s.close()
        tap.ok(data.startswith(b'HTTP/1.1 413'), 'a chunked body over max_message_size gets 413',
               repr(data[:120]))
        st, _ = publish(d, ch, b'still serving')
        tap.ok(st in (201, 202), 'and the daemon still serves (%s)' % st)
    tap.done()


main()
