#!/usr/bin/python3
"""test_fanout.py — delivery to subscribers: every one of several raw and
pushgate.v1+json subscribers gets each message once and in order; text vs
binary frames (one data frame per message); the v1+json message shape
(event, base64); multi-channel subscribe and publish; DELETE notices."""

import base64

from pgtest import *


async def case_order_each_once(d):
    ch = uniq('order')
    n = 50
    async with ws_connect(d, '/sub/' + ch) as r1, ws_connect(d, '/sub/' + ch) as r2, \
            ws_connect(d, '/sub/' + ch, V1) as j1, ws_connect(d, '/sub/' + ch, V1) as j2:
        tap.is_((r1.subprotocol, j1.subprotocol), (None, V1), 'raw has no subprotocol, v1+json is selected')
        ids = []
        for i in range(n):
            st, j = publish(d, ch, 'm%d' % i)
            ids.append(j['id'])
            if i == 0:
                tap.is_((st, j.get('subscribers')), (201, 4), 'first publish reaches 4 subscribers')
        want = ['m%d' % i for i in range(n)]
        for w, label in ((r1, 'raw 1'), (r2, 'raw 2')):
            got = await recv_n(w, n, 5)
            tap.is_(got, want, '%s got every message once, in order' % label)
            tap.is_(await silence(w), None, '%s got nothing more' % label)
        for w, label in ((j1, 'v1+json 1'), (j2, 'v1+json 2')):
            got = await recv_n(w, n, 5, json_mode=True)
            tap.is_([m.get('data') for m in got], want, '%s got every message once, in order' % label)
            tap.is_([m.get('id') for m in got], ids, '%s ids match the publish replies' % label)
            tap.ok(all(m.get('channel') == ch for m in got), '%s messages name the channel' % label)
            tap.is_(await silence(w, json_mode=True), None, '%s got nothing more' % label)


async def case_json_shape(d):
    ch = uniq('shape')
    async with ws_connect(d, '/sub/' + ch, V1) as w:
        st, j = publish(d, ch, 'plain')
        m = await recv_msg(w)
        tap.is_({k: m.get(k) for k in ('id', 'channel', 'data')},
                {'id': j['id'], 'channel': ch, 'data': 'plain'}, 'v1+json message has id, channel, data')
        tap.ok(m.get('event', None) is None, 'no event: event is null or absent', repr(m))
        tap.ok('encoding' not in m, 'text body has no encoding member', repr(m))
        tap.ok('type' not in m, 'a message frame has no "type" (only control frames do)', repr(m))
        publish(d, ch, 'e1', event='order:created')
        m = await recv_msg(w)
        tap.is_((m.get('event'), m.get('data')), ('order:created', 'e1'), 'X-Event becomes event')
        publish(d, ch, 'e2', event='q.ev-1_x', event_in='query')
        m = await recv_msg(w)
        tap.is_((m.get('event'), m.get('data')), ('q.ev-1_x', 'e2'), '?event= becomes event')
        tricky = '"quote" \\back\\ \n\t\r\x01\x1f </script> \u2028\u2029 \U0001F600 \x7f'
        publish(d, ch, tricky)
        m = await recv_msg(w)
        tap.is_(m.get('data'), tricky, 'data is the exact body with JSON escapes')
        binary = bytes(range(256))
        publish(d, ch, binary)
        m = await recv_msg(w)
        tap.is_(m.get('encoding'), 'base64', 'binary body has "encoding":"base64"')
        try:
            dec = base64.b64decode(m.get('data', ''), validate=True)
        except Exception as e:
            dec = e
        tap.is_(dec, binary, 'base64 data decodes to the exact body')
        publish(d, ch, b'')
        m = await recv_msg(w)
        tap.ok(m.get('data') == '' and 'encoding' not in m, 'empty body is data ""', repr(m))


TEXT = [('ascii', b'hello'), ('NUL is valid UTF-8', b'a\x00b'), ('2-byte', 'h\u00e9llo'.encode()),
        ('3-byte', '\u20ac\uffff'.encode()), ('4-byte', '\U0001F600\U0010FFFF'.encode()),
        ('empty', b'')]
BINARY = [('0xff', b'\xff'), ('overlong', b'\xc0\xaf'), ('surrogate', b'\xed\xa0\x80'),
          ('above U+10FFFF', b'\xf4\x90\x80\x80'), ('truncated', b'ok\xe2\x82'),
          ('lone continuation', b'\x80abc'), ('all bytes', bytes(range(256)))]


def case_raw_frame_types(d):
    ch = uniq('frames')
    with RawWS(d, '/sub/' + ch) as w:
        tap.is_(w.status, 101, 'raw-socket subscriber upgraded')
        for label, body in TEXT + BINARY:
            publish(d, ch, body)
            f = w.recv_frame(3)
            want_op = OP_TEXT if (label, body) in TEXT else OP_BINARY
            tap.ok(f is not None and (f.fin, f.opcode, f.rsv, f.masked, f.payload) == (True, want_op, 0, False, body),
                   '%s body arrives as one unmasked %s frame with the exact payload'
                   % (label, 'text' if want_op == OP_TEXT else 'binary'), repr(f))
        big_text = ('\u00e9' * 100000).encode()      # 200 kB, valid UTF-8
        big_bin = b'\xff' + bytes(200000)
        for body, op, label in ((big_text, OP_TEXT, 'text'), (big_bin, OP_BINARY, 'binary')):
            publish(d, ch, body)
            f = w.recv_frame(5)
            tap.ok(f is not None and (f.fin, f.opcode, f.payload) == (True, op, body),
                   '200 kB %s body is exactly one final %s frame' % (label, label),
                   repr(f))


async def case_multi_subscribe(d):
    a, b, c = uniq('sa'), uniq('sb'), uniq('sc')
    async with ws_connect(d, '/sub/%s,%s' % (a, b)) as raw, \
            ws_connect(d, '/sub/%s,%s,%s' % (a, b, c), V1) as js:
        sent = [(a, 'to-a'), (b, 'to-b'), (c, 'to-c'), (a, 'to-a2')]
        ids = {}
        for ch, body in sent:
            ids[body] = publish(d, ch, body)[1]['id']
        got = await recv_n(raw, 3)
        tap.is_(got, ['to-a', 'to-b', 'to-a2'], 'raw /sub/a,b gets both channels in publish order')
        tap.is_(await silence(raw), None, 'and nothing of channel c')
        got = await recv_n(js, 4, json_mode=True)
        tap.is_([(m.get('channel'), m.get('data'), m.get('id')) for m in got],
                [(ch, body, ids[body]) for ch, body in sent], 'v1+json /sub/a,b,c names each channel')
        # one multi-channel publish: each copy is delivered once per channel
        st, j = publish(d, [a, b], 'both')
        tap.is_(st, 201, 'POST /pub/a,b reaching subscribers answers 201')
        tap.is_([m.get('subscribers') for m in j.get('messages', [])], [2, 2], 'each copy counts 2 subscribers')
        got = await recv_n(raw, 2)
        tap.is_(got, ['both', 'both'], 'raw subscriber of a and b gets both copies')
        got = await recv_n(js, 2, json_mode=True)
        tap.is_([(m.get('channel'), m.get('id')) for m in got],
                [(a, j['messages'][0]['id']), (b, j['messages'][1]['id'])],
                'v1+json subscriber gets each copy with its own id')
        tap.is_(await silence(js, json_mode=True), None, 'and no extra copy')
    r = RawWS(d, '/sub/%s,%s' % (a, 'bad!name'))
    tap.is_(r.status, 400, 'subscribing to a list with a bad name answers 400')
    r.close()


async def case_same_channel_twice(d):
    a = uniq('dup')
    try:
        async with ws_connect(d, '/sub/%s,%s' % (a, a)) as w:
            publish(d, a, 'once')
            got = await recv(w)
            tap.is_((got, await silence(w)), ('once', None), '/sub/a,a gets a message once')
    except websockets.exceptions.InvalidStatusCode as e:
        tap.is_(e.status_code, 400, '/sub/a,a is refused with 400 (or delivers once)')


async def case_delete_notices(d):
    a, b = uniq('da'), uniq('db')
    async with ws_connect(d, '/sub/' + a, V1) as single, \
            ws_connect(d, '/sub/%s,%s' % (a, b), V1) as multi:
        tap.is_(delete_channel(d, a), 204, 'DELETE answers 204')
        code, _, _ = await wait_close(single, 3)
        tap.is_(code, 1000, 'v1+json subscriber of that channel alone is closed with 1000')
        m = await recv_msg(multi)
        tap.is_(m, {'type': 'deleted', 'channel': a}, 'multi-channel subscriber gets the deleted notice')
        publish(d, b, 'still')
        m = await recv_msg(multi)
        tap.is_((m.get('channel'), m.get('data')), (b, 'still'), 'and stays subscribed to the rest')
        st, j = publish(d, a, 'recreated')
        tap.is_((st, j.get('subscribers')), (202, 0), 'a new channel of the deleted name has no old subscriber')
        tap.is_(await silence(multi, json_mode=True), None, 'and the old subscriber does not get it')


def main():
    require_websockets()
    with Daemon(history_size=100, max_message_size=1048576) as d:
        for case in (case_order_each_once, case_json_shape, case_raw_frame_types,
                     case_multi_subscribe, case_same_channel_twice, case_delete_notices):
            tap.run(case, d)
    tap.done()


main()
