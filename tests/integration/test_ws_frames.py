#!/usr/bin/python3
"""test_ws_frames.py — RFC 6455 framing over a raw socket (frames a client
library refuses to send): ping/pong, the close handshake, 1002 for unmasked
frames, RSV bits, reserved opcodes and bad control frames, fragmentation with
interleaved control frames (published whole on /pubsub), 1007 for invalid
UTF-8 (also split across fragments), 1009 over max_message_size."""


from pgtest import *

MAX = 1024
CHAN = 'echo.frames'


def check_close(d, path, frames, want, name, timeout=3):
    """Opens path, sends frames (bytes), expects a close frame whose code is
    want (an int or a tuple of acceptable codes), then the TCP close."""
    want = want if isinstance(want, tuple) else (want,)
    with RawWS(d, path) as w:
        if w.status != 101:
            tap.ok(False, name, 'handshake answered %d' % w.status)
            return
        for f in frames:
            w.send(f)
        code, reason, got, how = w.expect_close(timeout)
        tap.ok(code in want, name, 'want close %s, got %s (%s) after frames %r'
               % (' or '.join(map(str, want)), code, how, got[:4]))
        return code


def case_ping_pong(d):
    with RawWS(d, '/sub/' + uniq('pp')) as w:
        for payload in (b'', b'x', bytes(range(125))):
            w.send_frame(OP_PING, payload)
            f = w.recv_frame(3)
            tap.ok(f is not None and (f.opcode, f.fin, f.payload) == (OP_PONG, True, payload),
                   'ping of %d bytes gets a pong with the same payload' % len(payload), repr(f))
        w.send_frame(OP_PONG, b'unsolicited')
        w.send_frame(OP_PING, b'after')
        f = w.recv_frame(3)
        tap.ok(f is not None and (f.opcode, f.payload) == (OP_PONG, b'after'),
               'an unsolicited pong is ignored', repr(f))


def case_close_handshake(d):
    for code, reason in ((1000, 'bye'), (1001, ''), (3000, 'app'), (4999, 'x' * 100)):
        with RawWS(d, '/sub/' + uniq('cl')) as w:
            w.send_frame(OP_CLOSE, close_payload(code, reason))
            got, _, frames, how = w.expect_close(3)
            tap.is_(got, code, 'client close %d is echoed with %d' % (code, code))
            tap.ok(w.wait_eof(3), 'then the server closes the TCP connection (close %d)' % code)
    with RawWS(d, '/sub/' + uniq('cl')) as w:
        w.send_frame(OP_CLOSE, b'')
        got, _, frames, how = w.expect_close(3)
        tap.ok(how == 'close' and got in (None, 1000), 'an empty close is answered with an empty close or 1000',
               '%s %s %r' % (how, got, frames[-1:]))


def case_bad_close(d):
    path = '/sub/' + uniq('bc')
    check_close(d, path, [ws_frame(OP_CLOSE, b'\x03')], 1002, 'a 1-byte close payload gets 1002')
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000):
        check_close(d, path, [ws_frame(OP_CLOSE, close_payload(code))], 1002,
                    'close with the invalid code %d gets 1002' % code)
    check_close(d, path, [ws_frame(OP_CLOSE, close_payload(1000) + b'\xff\xfe')], (1002, 1007),
                'a close reason that is not UTF-8 gets 1007 (or 1002)')


def case_protocol_errors(d):
    sub = '/sub/' + uniq('pe')
    check_close(d, sub, [ws_frame(OP_PING, b'hi', mask=False)], 1002, 'an unmasked client frame gets 1002')
    with RawWS(d, sub) as w:
        w.send_frame(OP_PING, b'x', mask=False)
        w.expect_close(3)
        tap.ok(w.wait_eof(3), 'after a 1002 the server closes the TCP connection')
    for rsv, bit in ((4, 'RSV1'), (2, 'RSV2'), (1, 'RSV3')):
        check_close(d, sub, [ws_frame(OP_PING, b'x', rsv=rsv)], 1002,
                    '%s set without an extension gets 1002' % bit)
    for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
        check_close(d, sub, [ws_frame(op, b'x')], 1002, 'reserved opcode 0x%X gets 1002' % op)
    check_close(d, sub, [ws_frame(OP_PING, b'x' * 126)], 1002, 'a ping with 126 bytes gets 1002')
    check_close(d, sub, [ws_frame(OP_PING, b'x', fin=False)], 1002, 'a fragmented ping gets 1002')
    check_close(d, sub, [ws_frame(OP_CLOSE, close_payload(1000, 'x' * 124))], 1002,
                'a close frame with 126 bytes gets 1002')
    pubsub = '/pubsub/' + CHAN
    check_close(d, pubsub, [ws_frame(OP_CONT, b'x')], 1002, 'a continuation with no message started gets 1002')
    check_close(d, pubsub, [ws_frame(OP_TEXT, b'a', fin=False), ws_frame(OP_TEXT, b'b')], 1002,
                'a new text frame inside a fragmented message gets 1002')
    check_close(d, pubsub, [ws_frame(OP_TEXT, b'a', fin=False), ws_frame(OP_BINARY, b'b')], 1002,
                'a new binary frame inside a fragmented message gets 1002')


async def case_fragmented_publish(d):
    ch = CHAN
    before = (channel_info(d, ch)[1] or {}).get('messages') or 0
    async with ws_connect(d, '/sub/' + ch) as sub:
        with RawWS(d, '/pubsub/' + ch) as w:
            tap.is_(w.status, 101, 'raw-socket /pubsub upgraded')
            w.send(ws_frame(OP_TEXT, b'hel', fin=False) + ws_frame(OP_PING, b'p1')
                   + ws_frame(OP_CONT, b'lo ', fin=False) + ws_frame(OP_PING, b'p2')
                   + ws_frame(OP_CONT, b'w', fin=False) + ws_frame(OP_CONT, b'', fin=False)
                   + ws_frame(OP_CONT, b'orld'))
            frames, how = w.recv_frames(3, until=lambda f: f.opcode in (OP_TEXT, OP_BINARY))
            pongs = [f.payload for f in frames if f.opcode == OP_PONG]
            data = [(f.opcode, f.payload) for f in frames if f.opcode in (OP_TEXT, OP_BINARY)]
            tap.is_(pongs, [b'p1', b'p2'], 'pings between fragments get their pongs in order')
            tap.is_(data, [(OP_TEXT, b'hello world')], 'the sender gets the whole message back as one text frame')
            tap.is_(await recv(sub), 'hello world', 'a subscriber gets the fragmented message whole')
            w.send(ws_frame(OP_BINARY, b'\x00\xff', fin=False) + ws_frame(OP_CONT, b'\xfe'))
            f = w.recv_frame(3)
            tap.ok(f is not None and (f.opcode, f.payload) == (OP_BINARY, b'\x00\xff\xfe'),
                   'a fragmented binary message comes back whole', repr(f))
            tap.is_(await recv(sub), b'\x00\xff\xfe', 'and reaches the subscriber as binary')
            euro = '\u20ac'.encode()
            w.send(ws_frame(OP_TEXT, b'a' + euro[:1], fin=False) + ws_frame(OP_CONT, euro[1:2], fin=False)
                   + ws_frame(OP_CONT, euro[2:] + b'z'))
            f = w.recv_frame(3)
            tap.ok(f is not None and (f.opcode, f.payload) == (OP_TEXT, b'a' + euro + b'z'),
                   'a character split across fragments is valid UTF-8', repr(f))
            tap.is_(await recv(sub), 'a\u20acz', 'and reaches the subscriber')
            w.send(ws_frame(OP_TEXT, b'x' * MAX))
            f = w.recv_frame(3)
            tap.ok(f is not None and len(f.payload) == MAX, 'a message of exactly max_message_size is published',
                   repr(f))
            await recv(sub)
    after = (channel_info(d, ch)[1] or {}).get('messages')
    tap.is_(after, before + 4, 'each message was published once')


def case_utf8(d):
    p = '/pubsub/' + CHAN
    check_close(d, p, [ws_frame(OP_TEXT, b'ok\xff')], 1007, 'invalid UTF-8 in a text frame gets 1007')
    check_close(d, p, [ws_frame(OP_TEXT, b'\xed\xa0\x80')], 1007, 'a UTF-16 surrogate gets 1007')
    check_close(d, p, [ws_frame(OP_TEXT, b'\xc0\xaf')], 1007, 'an overlong encoding gets 1007')
    check_close(d, p, [ws_frame(OP_TEXT, b'\xf4\x90\x80\x80')], 1007, 'a code point above U+10FFFF gets 1007')
    check_close(d, p, [ws_frame(OP_TEXT, b'ok\xe2\x82')], 1007, 'a message ending inside a character gets 1007')
    check_close(d, p, [ws_frame(OP_TEXT, b'ok\xf0\x9f', fin=False), ws_frame(OP_CONT, b'A')], 1007,
                'invalid UTF-8 split across fragments gets 1007')
    check_close(d, p, [ws_frame(OP_TEXT, b'ok', fin=False), ws_frame(OP_CONT, b'\xe2\x82', fin=False),
                       ws_frame(OP_CONT, b'')], 1007, 'a fragmented message ending inside a character gets 1007')
    v = '/sub/' + uniq('u8')
    with RawWS(d, v, protocols=[V1]) as w:
        w.send_frame(OP_TEXT, b'{"type":"ping"\xff}')
        code, _, _, _ = w.expect_close(3)
        tap.is_(code, 1007, 'invalid UTF-8 on a v1+json /sub connection gets 1007')


def case_too_big(d):
    p = '/pubsub/' + CHAN
    check_close(d, p, [ws_frame(OP_TEXT, b'x' * (MAX + 1))], 1009, 'a frame of max_message_size + 1 gets 1009')
    check_close(d, p, [ws_frame(OP_BINARY, b'x' * 600, fin=False), ws_frame(OP_CONT, b'x' * 600)], 1009,
                'fragments adding up past max_message_size get 1009')
    check_close(d, p, [ws_frame(OP_BINARY, b'', length=1 << 62)], 1009,
                'a frame header announcing 2^62 bytes gets 1009 without the payload')
    check_close(d, p, [ws_frame(OP_BINARY, b'', length=(1 << 63) + 5)], (1002, 1009),
                'a 64-bit length with the high bit set gets 1002 (or 1009)')
    check_close(d, '/sub/' + uniq('tb'), [ws_frame(OP_BINARY, b'', length=1 << 40)], (1009, 1003, 1008),
                'a huge frame on /sub is refused (1009)')


def main():
    require_websockets()
    with Daemon(max_message_size=MAX, client_publish='echo.*', history_size=100) as d:
        for case in (case_ping_pong, case_close_handshake, case_bad_close, case_protocol_errors,
                     case_fragmented_publish, case_utf8, case_too_big):
            tap.run(case, d)
        st, _ = publish(d, uniq('alive'), b'x')
        tap.ok(st in (201, 202), 'the daemon still works after all the bad frames', 'status %s' % st)
    tap.done()


main()
