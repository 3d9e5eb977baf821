"""test_pub.py — pushgate-pub against a stand-in publish listener: what it
sends, what it prints, and its exit status for every outcome."""
import json
import os

from bridgeutil import Tap, prog, run, tmpdir
from fakepub import FakePub

t = Tap()
PUB = prog('pushgate-pub')
if not os.access(PUB, os.X_OK):
    t.skip_all('pushgate-pub not built')
d = tmpdir()


def refuse(req, n):
    if req.channel == 'bad':
        return 400, {"error": "channel name 'bad' is not allowed here"}
    if req.channel == 'down':
        return 503, {"error": "store unavailable"}
    return 201, {"id": "7-%d" % n, "channel": req.channel, "subscribers": 2}


with FakePub(d, refuse) as fp:
    rc, out, err = run([PUB, '-s', 'unix:' + fp.unix_path, '-e', 'status', 'order-42', 'shipped'])
    t.eq(rc, 0, 'publish over unix socket exits 0')
    r = fp.requests[-1]
    t.eq((r.method, r.path, r.body), ('POST', '/pub/order-42', b'shipped'), 'request line and body')
    t.eq(r.headers.get('x-event'), 'status', 'X-Event sent')
    t.ok('authorization' not in r.headers, 'no Authorization without a secret')
    t.eq(json.loads(out)['channel'], 'order-42', 'daemon reply printed on stdout')

    rc, out, err = run([PUB, '-s', fp.tcp, '-k', 's3cret', 'a,b'], input=b'from\nstdin\x00bin')
    t.eq(rc, 0, 'publish over TCP from stdin exits 0')
    r = fp.requests[-1]
    t.eq((r.path, r.body), ('/pub/a,b', b'from\nstdin\x00bin'), 'multi-channel, binary body from stdin')
    t.eq(r.headers.get('authorization'), 'Bearer s3cret', 'secret sent as Bearer')

    rc, out, err = run([PUB, '-s', fp.tcp, '-q', 'c', '-'], input=b'x',
                       env={'PUSHGATE_PUBLISH_SECRET': 'envsecret'})
    t.eq((rc, out), (0, b''), '-q prints nothing')
    t.eq(fp.requests[-1].headers.get('authorization'), 'Bearer envsecret', 'secret from PUSHGATE_PUBLISH_SECRET')

    rc, out, err = run([PUB, '-q', 'c', 'm'], env={'PUSHGATE_PUBLISH': 'unix:' + fp.unix_path})
    t.eq(rc, 0, 'address from PUSHGATE_PUBLISH')

    rc, out, err = run([PUB, '-s', fp.tcp, 'caf\u00e9 x', 'm'])
    t.eq(fp.requests[-1].path, '/pub/caf%C3%A9%20x', 'channel percent-encoded in the URL')

    rc, out, err = run([PUB, '-s', fp.tcp, 'bad', 'm'])
    t.eq(rc, 1, '4xx refusal exits 1')
    t.ok(b"channel name 'bad' is not allowed here" in err and err.count(b'\n') == 1,
         'refusal is one line with the daemon error', err)
    rc, out, err = run([PUB, '-s', fp.tcp, 'down', 'm'])
    t.eq(rc, 1, '503 exits 1')

rc, out, err = run([PUB, '-s', 'unix:' + os.path.join(d, 'nope.sock'), 'c', 'm'])
t.eq(rc, 3, 'missing socket exits 3')
t.ok(err.startswith(b'pushgate-pub: cannot connect') and err.count(b'\n') == 1, 'one clear line', err)
rc, out, err = run([PUB, '-s', '127.0.0.1:1', 'c', 'm'])
t.eq(rc, 3, 'refused TCP exits 3')
rc, out, err = run([PUB])
t.eq(rc, 2, 'no channel is a usage error')
rc, out, err = run([PUB, '-s', 'nonsense', 'c', 'm'])
t.eq(rc, 2, 'bad address is a usage error')
t.ok(b'bad address' in err, 'bad address explained', err)
rc, out, err = run([PUB, '-e', 'a\nb', '-s', '127.0.0.1:1', 'c', 'm'])
t.ok(rc != 0, 'event with a newline refused')


def hang(req, n):
    return None, None


with FakePub(d, hang) as fp:
    rc, out, err = run([PUB, '-t', '1', '-s', fp.tcp, 'c', 'm'])
    t.eq(rc, 3, 'a daemon that never answers times out (exit 3)')
t.done()
