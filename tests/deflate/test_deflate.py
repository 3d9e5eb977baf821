#!/usr/bin/python3
"""test_deflate.py — permessage-deflate (RFC 7692) with a well-behaved
client (Python websockets 10.4, which offers it by default) and a raw
socket: the extension is negotiated with server_no_context_takeover and
client_no_context_takeover; messages of many sizes, text and binary, reach
deflate, v1+json deflate and plain subscribers intact; large messages go out
compressed (RSV1) and every deflate subscriber gets the same bytes, small
ones go out plain; compressed client messages on /pubsub (whole, fragmented,
binary, from websockets and hand-made) are inflated and published, and a
compressed v1+json ping gets its pong."""

import json
import os
import random

from pgtest import *
from deflate_util import *

MAX = 300000
SIZES = [0, 1, 5, 63, 64, 65, 125, 126, 1000, 2048, 16384, 65535, 65536, 200000]


def text_of(n, seed):
    """n bytes of JSON-ish UTF-8 text (compressible, with 2-byte letters)."""
    rnd = random.Random(seed)
    words = ['"sku"', '"qty"', '"price"', '19.99', 'caf\u00e9', 'na\u00efve', '{', '}', ',', ':']
    out = []
    size = 0
    while size < n:
        w = rnd.choice(words)
        out.append(w)
        size += len(w.encode())
    s = ''.join(out).encode()[:n]
    return s.decode('utf-8', 'ignore').encode()


async def case_negotiated(d):
    async with ws_deflate(d, '/sub/' + uniq('neg')) as ws:
        e = pmd_of(ws)
        tap.ok(e is not None, 'websockets negotiates permessage-deflate by default', repr(ws.extensions))
        if e is not None:
            tap.ok(e.remote_no_context_takeover, 'with server_no_context_takeover')
            tap.ok(e.local_no_context_takeover, 'and client_no_context_takeover')
    with RawDeflate(d, '/sub/' + uniq('neg')) as w:
        ext = w.headers.get('sec-websocket-extensions', '')
        tap.is_(ext, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
                'the exact Sec-WebSocket-Extensions answer to a browser-like offer')
    with RawDeflate(d, '/sub/' + uniq('neg'), offer='permessage-deflate; server_max_window_bits=15') as w:
        tap.ok('server_max_window_bits=15' in w.headers.get('sec-websocket-extensions', ''),
               'server_max_window_bits=15 is accepted and echoed', repr(w.headers))
    with RawDeflate(d, '/sub/' + uniq('neg'), offer='x-webkit-deflate-frame, permessage-deflate') as w:
        tap.ok(w.headers.get('sec-websocket-extensions', '').startswith('permessage-deflate'),
               'an unknown extension before it is skipped', repr(w.headers))


async def case_sizes(d):
    ch = uniq('sz')
    async with ws_deflate(d, '/sub/' + ch) as z, ws_deflate(d, '/sub/' + ch, V1) as zj, \
            ws_connect(d, '/sub/' + ch) as plain:
        sent = []
        for i, n in enumerate(SIZES):
            body = text_of(n, i)
            sent.append(body.decode())
            st, _ = publish(d, ch, body)
            if st not in (200, 201, 202):
                tap.ok(False, 'publish of %d bytes answered %s' % (n, st))
        rnd = random.Random(7)
        binaries = [bytes(rnd.getrandbits(8) for _ in range(n)) + b'\xff' for n in (0, 100, 5000)]
        binaries.append(b'\xff\xfe' + b'\x00' * 70000)
        for b in binaries:
            publish(d, ch, b)
        want = sent + binaries
        got_z = await recv_n(z, len(want), timeout=20)
        got_p = await recv_n(plain, len(want), timeout=20)
        got_j = await recv_n(zj, len(want), timeout=20, json_mode=True)
    tap.ok(got_z == want, 'deflate subscriber: %d text sizes (0..200000) and 4 binaries intact, in order'
           % len(SIZES), [(len(a), len(b)) for a, b in zip(got_z, want) if a != b][:5])
    tap.ok(got_p == want, 'a plain subscriber of the same channel gets the same messages')
    ok_j = len(got_j) == len(want)
    for m, w in zip(got_j, want):
        if isinstance(w, bytes):
            import base64
            ok_j &= m.get('encoding') == 'base64' and base64.b64decode(m.get('data', '')) == w
        else:
            ok_j &= m.get('data') == w
    tap.ok(ok_j, 'v1+json deflate subscriber: every envelope intact (binaries in base64)')


def case_wire(d):
    """On the wire: RSV1 on big messages, identical frames for two deflate
    subscribers, small messages plain, server frames unmasked and FIN."""
    ch = uniq('wire')
    a = RawDeflate(d, '/sub/' + ch)
    b = RawDeflate(d, '/sub/' + ch)
    p = RawWS(d, '/sub/' + ch)
    order = json.dumps({'order': 'ORD-1', 'items': [{'sku': 'SKU-%05d' % i, 'qty': i % 3 + 1,
                                                      'price': '%d.99' % i} for i in range(40)]})
    publish(d, ch, order)
    publish(d, ch, 'tiny')
    fa = a.recv_frame(5), a.recv_frame(5)
    fb = b.recv_frame(5), b.recv_frame(5)
    fp = p.recv_frame(5), p.recv_frame(5)
    big, small = fa
    tap.ok(big and big.rsv == 4 and big.fin and not big.masked and big.opcode == OP_TEXT,
           'a %d-byte JSON message goes to a deflate subscriber as one FIN text frame with RSV1'
           % len(order), repr(big))
    tap.is_(inflate(big.payload).decode() if big else None, order, 'which inflates to the message')
    tap.ok(big and len(big.payload) * 3 < len(order), '%d bytes on the wire instead of %d'
           % (len(big.payload) if big else -1, len(order)))
    tap.ok(fb[0] and fb[0].payload == big.payload, 'a second deflate subscriber gets the very same bytes')
    tap.ok(small and small.rsv == 0 and small.payload == b'tiny', 'a 4-byte message goes plain (RSV1 clear)',
           repr(small))
    tap.ok(fp[0] and fp[0].rsv == 0 and fp[0].payload == order.encode(),
           'a subscriber that did not offer deflate gets it plain')
    for w in (a, b, p):
        w.close()


async def case_client_publish(d):
    ch = 'chat.' + uniq('cp')
    async with ws_deflate(d, '/pubsub/' + ch) as pub, ws_connect(d, '/sub/' + ch) as plain, \
            ws_deflate(d, '/sub/' + ch) as z:
        tap.ok(pmd_of(pub) is not None, '/pubsub negotiates deflate too')
        long_text = text_of(50000, 99).decode()
        for msg, what in ((long_text, 'a 50 KB text message'), ('short one', 'a short text message'),
                          (b'\x00\x01\xff' * 1000, 'a 3 KB binary message'),
                          (['frag ' * 100, 'mented ' * 100, 'end'], 'a fragmented compressed message')):
            await pub.send(msg)
            want = ''.join(msg) if isinstance(msg, list) else msg
            tap.is_(await recv(plain, 5), want, '%s compressed by websockets is inflated and published' % what)
            tap.is_(await recv(z, 5), want, 'a deflate subscriber gets it too')
            tap.is_(await recv(pub, 5), want, 'and the sender gets its own message back')
    st, info = channel_info(d, ch)
    tap.is_((info or {}).get('messages'), 4, 'the channel holds the 4 messages')


def case_raw_compressed_publish(d):
    """Hand-made compressed frames: a message split over three frames (RSV1
    on the first only), an empty compressed message, a BFINAL message."""
    ch = 'chat.' + uniq('rc')
    with RawDeflate(d, '/pubsub/' + ch) as w, RawWS(d, '/sub/' + ch) as sub:
        body = ('{"stock":17,"sku":"SKU-10037"}' * 50).encode()
        c = compress(body)
        k = len(c) // 3
        w.send(ws_frame(OP_TEXT, c[:k], fin=False, rsv=4) + ws_frame(OP_CONT, c[k:2 * k], fin=False) +
               ws_frame(OP_CONT, c[2 * k:]))
        f = sub.recv_frame(5)
        tap.ok(f and f.payload == body, 'a compressed message in 3 frames is published whole', repr(f))
        w.send_frame(OP_TEXT, compress(b'x'), rsv=4)
        f = sub.recv_frame(5)
        tap.ok(f and f.payload == b'x', 'a 1-byte compressed message is published', repr(f))
        w.send_frame(OP_BINARY, zlib_final(b'final block \xff message'), rsv=4)
        f = sub.recv_frame(5)
        tap.ok(f and f.payload == b'final block \xff message' and f.opcode == OP_BINARY,
               'a binary message ending with a final (BFINAL) block is published', repr(f))
        w.send_frame(OP_TEXT, b'uncompressed', rsv=0)
        f = sub.recv_frame(5)
        tap.ok(f and f.payload == b'uncompressed', 'an uncompressed message on a deflate connection is fine',
               repr(f))


def zlib_final(data):
    import zlib
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH)


async def case_json_ping(d):
    async with ws_deflate(d, '/sub/' + uniq('jp'), V1) as ws:
        # websockets compresses every message it sends once deflate is on
        await ws.send(json.dumps({'type': 'ping'}))
        tap.is_(await recv_msg(ws), {'type': 'pong'}, 'a compressed v1+json ping gets a pong')
        await ws.send(json.dumps({'type': 'ping', 'pad': 'x' * 200}))
        m = await recv_msg(ws)
        tap.ok(m.get('type') == 'error', 'a compressed 200-byte message on /sub gets an error frame', repr(m))
        await ws.send(json.dumps({'type': 'ping'}))
        tap.is_(await recv_msg(ws), {'type': 'pong'}, 'and the connection goes on')
    ch = 'chat.' + uniq('jp')
    async with ws_deflate(d, '/pubsub/' + ch, V1) as ws:
        await ws.send(json.dumps({'event': 'stock', 'data': 'caf\u00e9 ' * 100}))
        m = await recv_msg(ws)
        tap.ok(m.get('event') == 'stock' and m.get('data') == 'caf\u00e9 ' * 100,
               'a compressed v1+json publish comes back as an envelope', repr(m)[:200])


def main():
    require_websockets()
    with Daemon(client_publish=['chat.*'], max_message_size=MAX, history_size=100,
                pubsub_rate_limit=0) as d:
        for case in (case_negotiated, case_sizes, case_wire, case_client_publish,
                     case_raw_compressed_publish, case_json_ping):
            tap.run(case, d, timeout=60)
    tap.done()


main()
