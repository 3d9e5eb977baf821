#!/usr/bin/python3
"""test_pubsub.py — GET /pubsub/<channel>: clients publish every complete
message they send (raw: the frame payload; pushgate.v1+json: {"event",
"data"}) to channels matching client_publish and get their own message back;
refused messages get an error frame (v1+json) or close 1009 (raw, too big);
v1+json ping/pong and error frames on /sub."""

import json

from pgtest import *

MAX = 2048


async def case_raw_echo(d):
    ch = 'chat.' + uniq('raw')
    async with ws_connect(d, '/pubsub/' + ch) as a, ws_connect(d, '/pubsub/' + ch) as b, \
            ws_connect(d, '/sub/' + ch) as sub:
        await a.send('hello from a')
        tap.is_(await recv(a), 'hello from a', 'raw sender gets its own text message back')
        tap.is_(await recv(b), 'hello from a', 'another /pubsub client gets it')
        tap.is_(await recv(sub), 'hello from a', 'a /sub subscriber gets it')
        await b.send(b'\x00\xffbin')
        for w, who in ((a, 'other pubsub'), (b, 'sender'), (sub, 'subscriber')):
            tap.is_(await recv(w), b'\x00\xffbin', 'binary message reaches the %s as binary' % who)
        await a.send(['frag', 'mented ', 'by the library'])
        tap.is_(await recv(sub), 'fragmented by the library', 'a fragmented message is published whole')
        await recv(a)
        await recv(b)
        for w in (a, b, sub):
            tap.is_(await silence(w), None, 'no duplicate delivered')
    st, info = channel_info(d, ch)
    tap.is_((info or {}).get('messages'), 3, 'the channel holds the 3 published messages')


async def case_json_echo(d):
    ch = 'chat.' + uniq('js')
    async with ws_connect(d, '/pubsub/' + ch, V1) as a, ws_connect(d, '/sub/' + ch, V1) as sub:
        tap.is_(a.subprotocol, V1, '/pubsub selects pushgate.v1+json')
        await a.send(json.dumps({'event': 'chat.msg', 'data': 'hi \u00e9 "q"'}))
        m = await recv_msg(a)
        tap.is_({k: m.get(k) for k in ('channel', 'event', 'data')},
                {'channel': ch, 'event': 'chat.msg', 'data': 'hi \u00e9 "q"'},
                'v1+json sender gets its message back with channel, event, data')
        s = await recv_msg(sub)
        tap.is_(s, m, 'the subscriber gets the same message')
        st, info = channel_info(d, ch)
        tap.is_((info or {}).get('last_id'), m.get('id'), 'the message id is the channel last_id')
        await a.send(json.dumps({'data': 'no event'}))
        m = await recv_msg(a)
        tap.ok(m.get('data') == 'no event' and m.get('event') is None,
               'a message without event has event null or absent', repr(m))
        await recv_msg(sub)


async def case_json_refused(d):
    ch = 'chat.' + uniq('ref')
    async with ws_connect(d, '/pubsub/' + ch, V1) as a:
        bad = [('not json', 'text that is not JSON'),
               (json.dumps({'event': 'pushgate.x', 'data': 'y'}), 'a reserved event name'),
               (json.dumps({'event': 'bad name!', 'data': 'y'}), 'an invalid event name'),
               (json.dumps({'event': 'e' * 65, 'data': 'y'}), 'a 65-byte event name'),
               (json.dumps(['data']), 'a JSON array')]
        for text, what in bad:
            await a.send(text)
            m = await recv_msg(a)
            tap.ok(m.get('type') == 'error' and isinstance(m.get('code'), int) and isinstance(m.get('reason'), str),
                   'v1+json %s gets {"type":"error","code":N,"reason":...}' % what, repr(m))
        await a.send(json.dumps({'event': 'ok', 'data': 'after errors'}))
        m = await recv_msg(a)
        tap.is_(m.get('data'), 'after errors', 'the connection stays open and publishes after errors')
    st, info = channel_info(d, ch)
    tap.is_((info or {}).get('messages'), 1, 'refused messages were not published')


async def case_raw_too_big(d):
    ch = 'chat.' + uniq('big')
    async with ws_connect(d, '/pubsub/' + ch) as a:
        await a.send('x' * MAX)
        tap.is_(len(await recv(a)), MAX, 'a message of max_message_size is published')
        await a.send('x' * (MAX + 1))
        code, _, _ = await wait_close(a)
        tap.is_(code, 1009, 'raw: a message over max_message_size closes with 1009')
    tap.is_((channel_info(d, ch)[1] or {}).get('messages'), 1, 'the big message was not published')


def case_refused_channels(d):
    w = RawWS(d, '/pubsub/secret.x')
    tap.is_(w.status, 403, '/pubsub on a channel not matching client_publish answers 403')
    w.close()
    w = RawWS(d, '/pubsub/chat.a,chat.b')
    tap.is_(w.status, 400, '/pubsub with a channel list answers 400')
    w.close()
    w = RawWS(d, '/pubsub/chat.bad!')
    tap.is_(w.status, 400, '/pubsub with a bad channel name answers 400')
    w.close()


async def case_json_ping_and_errors_on_sub(d):
    ch = uniq('jp')
    async with ws_connect(d, '/sub/' + ch, V1) as w:
        await w.send(json.dumps({'type': 'ping'}))
        tap.is_(await recv_msg(w), {'type': 'pong'}, 'v1+json {"type":"ping"} gets {"type":"pong"}')
        await w.send(json.dumps({'event': 'x', 'data': 'publish attempt'}))
        m = await recv_msg(w)
        tap.ok(m.get('type') == 'error' and isinstance(m.get('code'), int),
               'a publish attempt on /sub gets an error frame', repr(m))
        await w.send('garbage')
        m = await recv_msg(w)
        tap.ok(m.get('type') == 'error', 'text that is not JSON on /sub gets an error frame', repr(m))
        await w.send(json.dumps({'type': 'ping'}))
        tap.is_(await recv_msg(w), {'type': 'pong'}, 'and the connection stays open')
        tap.is_(channel_info(d, ch)[1].get('messages'), 0, 'nothing was published from /sub')
    async with ws_connect(d, '/pubsub/chat.' + ch, V1) as w:
        await w.send(json.dumps({'type': 'ping'}))
        tap.is_(await recv_msg(w), {'type': 'pong'}, 'v1+json ping works on /pubsub too (not published)')
        tap.is_((channel_info(d, 'chat.' + ch)[1] or {}).get('messages', 0), 0, 'the ping was not published')


def main():
    require_websockets()
    with Daemon(client_publish=['chat.*'], max_message_size=MAX, history_size=100) as d:
        for case in (case_raw_echo, case_json_echo, case_json_refused, case_raw_too_big,
                     case_refused_channels, case_json_ping_and_errors_on_sub):
            tap.run(case, d)
    tap.done()


main()
