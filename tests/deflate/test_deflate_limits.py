#!/usr/bin/python3
"""test_deflate_limits.py — permessage-deflate refusals and limits: a
compressed client message inflating past max_message_size (a "zip bomb"
crafted with zlib and sent over a raw socket) gets 1009 and is not
published, on /pubsub and on /sub; a message of exactly max_message_size
inflated is published; corrupt compressed data, compressed text that is not
UTF-8 and a message cut inside a deflate block get 1007; RSV1 on a
continuation frame, on a control frame or without the extension gets 1002;
`websocket_deflate off` and an offer with server_max_window_bits below 15
are declined, and websockets then talks without compression."""

import zlib

from pgtest import *
from deflate_util import *

MAX = 65536


def bomb(n):
    """n zero bytes, compressed: about n / 1000 bytes."""
    return compress(b'\x00' * n, 9)


def expect_close(w, frames_bytes, want, name):
    w.send(frames_bytes)
    code, reason, _, how = w.expect_close(5)
    tap.ok(code in (want if isinstance(want, tuple) else (want,)),
           '%s (close %s %r)' % (name, code, reason), 'closed by %s' % how)
    return code


def case_zip_bomb(d):
    ch = 'chat.' + uniq('bomb')
    z = bomb(64 * MAX)
    tap.ok(len(z) < MAX // 8, 'the bomb: %d compressed bytes, %d inflated' % (len(z), 64 * MAX))
    with RawDeflate(d, '/pubsub/' + ch) as w:
        tap.ok('permessage-deflate' in w.headers.get('sec-websocket-extensions', ''), 'deflate negotiated')
        expect_close(w, ws_frame(OP_BINARY, z, rsv=4), 1009,
                     'a compressed message inflating to 64 x max_message_size gets 1009')
        tap.ok(w.wait_eof(5), 'and the connection ends')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        z1 = bomb(MAX + 1)
        k = len(z1) // 2
        expect_close(w, ws_frame(OP_BINARY, z1[:k], fin=False, rsv=4) + ws_frame(OP_CONT, z1[k:]), 1009,
                     'max_message_size + 1 inflated bytes in two fragments get 1009')
    st, info = channel_info(d, ch)
    tap.is_((info or {}).get('messages', 0), 0, 'nothing of either was published')
    with RawDeflate(d, '/sub/' + uniq('bomb')) as w:
        expect_close(w, ws_frame(OP_TEXT, bomb(4 * MAX), rsv=4), 1009,
                     'a zip bomb on /sub (where messages are not published) gets 1009 too')
    with RawDeflate(d, '/pubsub/' + ch) as w, RawWS(d, '/sub/' + ch) as sub:
        w.send_frame(OP_BINARY, bomb(MAX), rsv=4)
        f = sub.recv_frame(5)
        tap.ok(f and len(f.payload) == MAX, 'exactly max_message_size once inflated is published', repr(f))
    tap.ok(d.proc.poll() is None, 'the daemon is still running')


def case_bad_data(d):
    ch = 'chat.' + uniq('bad')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        expect_close(w, ws_frame(OP_TEXT, b'\xff\xff\xff\xff\xff', rsv=4), 1007,
                     'corrupt compressed data gets 1007')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        expect_close(w, ws_frame(OP_TEXT, compress(b'abc\xc0\xafdef' * 20), rsv=4), 1007,
                     'compressed text that is not UTF-8 gets 1007')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        expect_close(w, ws_frame(OP_TEXT, compress('caf\u00e9'.encode()[:-1]), rsv=4), 1007,
                     'compressed text ending inside a UTF-8 sequence gets 1007')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        c = compress(b'hello hello hello hello hello hello')
        expect_close(w, ws_frame(OP_TEXT, c[:len(c) - 2], rsv=4), 1007,
                     'a compressed message cut inside its deflate block gets 1007')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = c.compress(b'one') + c.flush(zlib.Z_FINISH) + b'\x00'
        expect_close(w, ws_frame(OP_TEXT, data, rsv=4), 1007, 'bytes after a final deflate block get 1007')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        expect_close(w, ws_frame(OP_TEXT, compress(b'ab' * 50), fin=False, rsv=4) +
                     ws_frame(OP_CONT, b'x', rsv=4), 1002, 'RSV1 on a continuation frame gets 1002')
    with RawDeflate(d, '/pubsub/' + ch) as w:
        expect_close(w, ws_frame(OP_PING, b'x', rsv=4), 1002, 'RSV1 on a ping gets 1002')
    with RawWS(d, '/pubsub/' + ch) as w:
        expect_close(w, ws_frame(OP_TEXT, compress(b'hi there'), rsv=4), 1002,
                     'RSV1 on a connection that did not negotiate deflate gets 1002')
    st, info = channel_info(d, ch)
    tap.is_((info or {}).get('messages', 0), 0, 'none of them was published')
    # a v1+json client keeps its connection after a refused (but well-formed) message
    with RawDeflate(d, '/pubsub/' + ch, protocols=[V1]) as w:
        w.send_frame(OP_TEXT, compress(b'this is not json at all, not at all'), rsv=4)
        f = w.recv_frame(5)
        body = inflate(f.payload) if f and f.rsv & 4 else (f.payload if f else b'')
        tap.ok(f and b'"type":"error"' in body, 'v1+json: compressed non-JSON gets an error frame', repr(f))


def offer_declined(d, offer, name):
    with RawDeflate(d, '/sub/' + uniq('dec'), offer=offer) as w:
        tap.ok(w.status == 101 and 'sec-websocket-extensions' not in w.headers,
               '%s: 101 without Sec-WebSocket-Extensions' % name, repr(w.headers))
        expect_close(w, ws_frame(OP_PING, b'x', rsv=4), 1002, '%s: RSV1 then gets 1002' % name)


async def websockets_declined(d, name, **kw):
    ch = uniq('wd')
    async with ws_deflate(d, '/sub/' + ch, **kw) as ws:
        tap.ok(pmd_of(ws) is None, '%s: websockets ends up without the extension' % name, repr(ws.extensions))
        publish(d, ch, '{"order":"ORD-1","status":"shipped"}' * 20)
        m = await recv(ws, 5)
        tap.ok(isinstance(m, str) and m.startswith('{"order"'), '%s: and gets messages uncompressed' % name)


async def case_small_window_declined(d):
    offer_declined(d, 'permessage-deflate; server_max_window_bits=10', 'server_max_window_bits=10')
    offer_declined(d, 'permessage-deflate; server_max_window_bits=14', 'server_max_window_bits=14')
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    await websockets_declined(d, 'websockets asking server_max_window_bits=10', compression=None,
                              extensions=[ClientPerMessageDeflateFactory(server_max_window_bits=10)])
    with RawDeflate(d, '/sub/' + uniq('dec'),
                    offer='permessage-deflate; server_max_window_bits=10, permessage-deflate') as w:
        tap.ok(w.headers.get('sec-websocket-extensions', '').startswith('permessage-deflate'),
               'a fallback offer after the small-window one is accepted', repr(w.headers))
    async with ws_connect(d, '/sub/' + uniq('cw'), compression=None,
                          extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=9)]) as ws:
        tap.ok(pmd_of(ws) is not None, 'client_max_window_bits=9 is accepted (we inflate any window)')


async def case_deflate_off(dd):
    with Daemon(websocket_deflate='off') as d:
        offer_declined(d, OFFER, 'websocket_deflate off')
        await websockets_declined(d, 'websocket_deflate off')


def main():
    require_websockets()
    with Daemon(client_publish=['chat.*'], max_message_size=MAX, history_size=100,
                pubsub_rate_limit=0) as d:
        for case in (case_zip_bomb, case_bad_data, case_small_window_declined, case_deflate_off):
            tap.run(case, d, timeout=60)
    tap.done()


main()
