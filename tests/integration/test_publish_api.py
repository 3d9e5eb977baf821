#!/usr/bin/python3
"""test_publish_api.py — the publish API on the publish listener: reply JSON
and ids, 201 vs 202 and subscriber counts, 413, event and channel name
validation, multi-channel publish (all or nothing), GET and DELETE of a
channel, and that the public listener does not publish."""

import os
import re
import shutil
import tempfile

from pgtest import *

ID_RE = re.compile(r'^[0-9A-Za-z]+-[0-9]+$')
MAX = 1024


def case_reply_shape(d):
    ch = uniq('shape')
    st, j = publish(d, ch, b'hello')
    tap.is_(st, 202, 'publish with no subscriber answers 202')
    tap.ok(isinstance(j, dict) and set(j) >= {'id', 'channel', 'subscribers'},
           'reply JSON has id, channel, subscribers', repr(j))
    j = j or {}
    tap.ok(isinstance(j.get('id'), str) and ID_RE.match(j['id']), 'id is <epoch>-<seq>', repr(j.get('id')))
    tap.is_(j.get('channel'), ch, 'reply names the channel')
    tap.is_(j.get('subscribers'), 0, 'reply counts 0 subscribers')


def case_one_seq_counter(d):
    a, b = uniq('seqa'), uniq('seqb')
    ids = [publish(d, c, b'x')[1]['id'] for c in (a, b, a, b, b)]
    seqs = [seq_of(i) for i in ids]
    tap.ok(all(x < y for x, y in zip(seqs, seqs[1:])),
           'ids strictly increase across channels (one seq counter)', repr(ids))
    tap.is_(len({epoch_of(i) for i in ids}), 1, 'one epoch for all ids')


async def case_201_and_counts(d):
    ch = uniq('cnt')
    async with ws_connect(d, '/sub/' + ch) as w1, ws_connect(d, '/sub/' + ch, V1) as w2:
        st, j = publish(d, ch, b'one')
        tap.is_(st, 201, 'publish with subscribers answers 201')
        tap.is_((j or {}).get('subscribers'), 2, 'reply counts both subscribers')
        await recv(w1)
        await recv(w2)
        st, info = channel_info(d, ch)
        tap.is_(st, 200, 'GET /pub/<channel> answers 200')
        tap.ok(isinstance(info, dict) and set(info) >= {'channel', 'messages', 'subscribers', 'last_id'},
               'channel info has channel, messages, subscribers, last_id', repr(info))
        info = info or {}
        tap.is_((info.get('channel'), info.get('messages'), info.get('subscribers'), info.get('last_id')),
                (ch, 1, 2, j.get('id')), 'channel info values')
    # both closed: the count must drop to 0 (bounded wait for the server to notice)
    got = poll_until(lambda: (channel_info(d, ch)[1] or {}).get('subscribers') == 0, 3)
    tap.ok(got, 'subscriber count drops to 0 after the clients close', repr(channel_info(d, ch)))
    st, j = publish(d, ch, b'two')
    tap.is_((st, (j or {}).get('subscribers')), (202, 0), 'publish after they left answers 202 with 0')


async def case_subscriber_only_channel(d):
    ch = uniq('subonly')
    async with ws_connect(d, '/sub/' + ch):
        st, info = channel_info(d, ch)
        tap.is_((st, (info or {}).get('subscribers'), (info or {}).get('messages')), (200, 1, 0),
                'GET of a channel with a subscriber and no message: 200, subscribers 1, messages 0')


def case_unknown_channel(d):
    st, _ = channel_info(d, uniq('never'))
    tap.is_(st, 404, 'GET of an unknown channel answers 404')


def case_413(d):
    ch = uniq('big')
    st, _ = publish(d, ch, b'a' * MAX)
    tap.is_(st, 202, 'body of exactly max_message_size is accepted')
    st, j = publish(d, ch, b'a' * (MAX + 1))
    tap.is_(st, 413, 'body of max_message_size + 1 answers 413')
    big = 4 * 1024 * 1024
    head = ('POST /pub/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % (ch, big)).encode()
    raw = raw_http(d.pub_port, head + b'b' * big, timeout=5)
    tap.is_(parse_http_response(raw)[0], 413, 'a 4 MiB body answers 413')
    st, info = channel_info(d, ch)
    tap.is_((info or {}).get('messages'), 1, 'refused bodies were not stored')


def case_any_bytes(d):
    ch = uniq('bytes')
    for body, what in ((bytes(range(256)), 'all 256 byte values'), (b'', 'an empty body'),
                       (b'\x00\x00', 'NUL bytes')):
        st, j = publish(d, ch, body)
        tap.ok(st in (201, 202) and j and j.get('id'), 'publish of %s is accepted' % what, '%s %r' % (st, j))


def case_event_names(d):
    ch = uniq('ev')
    good = ['a', 'A' * 64, 'order:created-v1.2_x', 'pushgate', 'pushgatex.y', 'x.pushgate.y']
    for ev in good:
        st, _ = publish(d, ch, b'x', event=ev)
        tap.ok(st in (201, 202), 'event name %r accepted (X-Event)' % ev[:20], 'status %s' % st)
    st, _ = publish(d, ch, b'x', event='ok-name', event_in='query')
    tap.ok(st in (201, 202), 'event name accepted in ?event=', 'status %s' % st)
    bad = ['A' * 65, 'has space', 'slash/x', 'semi;x', 'pushgate.foo', 'pushgate.', 'caf\u00e9']
    st0 = (channel_info(d, ch)[1] or {}).get('messages')
    for ev in bad:
        r = http_request(d, 'POST', '/pub/' + ch, body=b'x',
                         headers={'X-Event': ev.encode('utf-8')})
        tap.is_(r.status, 400, 'event name %r refused with 400 (X-Event)' % ev[:20])
    for q in ('pushgate.x', 'a%20b', 'A' * 65):
        r = http_request(d, 'POST', '/pub/%s?event=%s' % (ch, q), body=b'x')
        tap.is_(r.status, 400, 'event name %r refused with 400 (?event=)' % q[:20])
    tap.is_((channel_info(d, ch)[1] or {}).get('messages'), st0, 'refused events stored nothing')


def case_channel_names(d):
    for name in ('a', 'A' * 128, 'Az09_.:@-', 'user@example.com', 'shop:order.42'):
        st, j = publish(d, name, b'x')
        tap.ok(st in (201, 202) and (j or {}).get('channel') == name,
               'channel name %r accepted' % name[:24], '%s %r' % (st, j))
    for path in ('A' * 129, 'a%20b', 'a!b', 'a*', 'caf%C3%A9', 'a+b', 'a~b', 'a%2Fb'):
        r = http_request(d, 'POST', '/pub/' + path, body=b'x')
        tap.is_(r.status, 400, 'channel name %r refused with 400' % path[:24])
        if path == 'a!b':
            text = r.body.decode('utf-8', 'replace')
            tap.ok('128' in text or 'a-z' in text.lower(),
                   'the 400 body says what a channel name may be', repr(text[:200]))
    r = http_request(d, 'POST', '/pub/', body=b'x')
    tap.is_(r.status, 400, 'empty channel name refused with 400')


def case_multi_publish(d):
    a, b, c = uniq('ma'), uniq('mb'), uniq('mc')
    st, j = publish(d, [a, b, c], b'multi')
    tap.is_(st, 202, 'multi-channel publish with no subscriber answers 202')
    msgs = (j or {}).get('messages')
    tap.ok(isinstance(msgs, list) and len(msgs) == 3, 'reply has one element per channel', repr(j))
    msgs = msgs or []
    tap.is_([m.get('channel') for m in msgs], [a, b, c], 'elements name the channels in order')
    ids = [m.get('id') for m in msgs]
    tap.ok(len(set(ids)) == 3 and all(isinstance(i, str) and ID_RE.match(i) for i in ids),
           'each copy has its own id', repr(ids))
    tap.is_([m.get('subscribers') for m in msgs], [0, 0, 0], 'each copy counts its subscribers')
    for ch, i in zip((a, b, c), ids):
        info = channel_info(d, ch)[1] or {}
        tap.is_((info.get('messages'), info.get('last_id')), (1, i), 'channel %s holds its copy' % ch)
    # all or nothing: one bad name stores nothing anywhere
    x, y = uniq('mx'), uniq('my')
    r = http_request(d, 'POST', '/pub/%s,bad!name,%s' % (x, y), body=b'no')
    tap.is_(r.status, 400, 'a list with one bad name answers 400')
    r2 = http_request(d, 'POST', '/pub/%s,,%s' % (x, y), body=b'no')
    tap.is_(r2.status, 400, 'a list with an empty name answers 400')
    tap.is_((channel_info(d, x)[0], channel_info(d, y)[0]), (404, 404),
            'nothing was published to the valid names of a refused list')
    st, _ = publish(d, [a, b], b'ev', event='pushgate.no')
    tap.is_(st, 400, 'a reserved event on a list answers 400')
    tap.is_((channel_info(d, a)[1] or {}).get('messages'), 1, 'and stores nothing')


async def case_multi_publish_201(d):
    a, b = uniq('m2a'), uniq('m2b')
    async with ws_connect(d, '/sub/' + b) as w:
        st, j = publish(d, [a, b], b'hi')
        tap.is_(st, 201, 'multi-channel publish reaching one subscriber answers 201')
        msgs = (j or {}).get('messages') or [{}, {}]
        tap.is_([m.get('subscribers') for m in msgs], [0, 1], 'per-copy subscriber counts')
        tap.is_(await recv(w), 'hi', 'the subscriber of one channel gets its copy')


async def case_delete(d):
    ch = uniq('del')
    last = publish(d, ch, b'before')[1]['id']
    async with ws_connect(d, '/sub/' + ch) as w:
        st = delete_channel(d, ch)
        tap.is_(st, 204, 'DELETE /pub/<channel> answers 204')
        code, _, _ = await wait_close(w, 3)
        tap.is_(code, 1000, 'its single-channel subscriber is closed with 1000')
    tap.is_(channel_info(d, ch)[0], 404, 'GET after DELETE answers 404')
    st, j = publish(d, ch, b'after')
    tap.ok(st == 202 and seq_of(j['id']) > seq_of(last),
           'publishing again works and the seq counter was not reset', '%s %r' % (st, j))


def case_public_listener_does_not_publish(d):
    ch = uniq('pubpub')
    r = http_request(d, 'POST', '/pub/' + ch, body=b'x', listener='sub')
    tap.ok(not 200 <= r.status < 300, 'POST /pub on the public listener is refused', repr(r))
    tap.is_(channel_info(d, ch)[0], 404, 'and publishes nothing')
    r = http_request(d, 'GET', '/pub/' + ch, listener='sub')
    tap.ok(not 200 <= r.status < 300, 'GET /pub on the public listener is refused', repr(r))


async def case_unix_publish_listener(d):
    ch = uniq('unix')
    async with ws_connect(d, '/sub/' + ch) as w:
        st, j = publish(d, ch, 'over a unix socket')
        tap.is_((st, (j or {}).get('subscribers')), (201, 1), 'publish over a unix-socket publish listener')
        tap.is_(await recv(w), 'over a unix socket', 'reaches the subscriber')
    tap.is_(channel_info(d, ch)[0], 200, 'GET over the unix socket')


def main():
    require_websockets()
    sockdir = tempfile.mkdtemp(prefix='pgtest-unix.')
    with Daemon(publish_listen='unix:' + os.path.join(sockdir, 'pub.sock')) as d:
        tap.run(case_unix_publish_listener, d)
    shutil.rmtree(sockdir, ignore_errors=True)
    with Daemon(max_message_size=MAX, history_size=100) as d:
        for case in (case_reply_shape, case_one_seq_counter, case_201_and_counts,
                     case_subscriber_only_channel, case_unknown_channel, case_413,
                     case_any_bytes, case_event_names, case_channel_names,
                     case_multi_publish, case_multi_publish_201, case_delete,
                     case_public_listener_does_not_publish):
            tap.run(case, d)
    tap.done()


main()
