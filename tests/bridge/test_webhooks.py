"""test_webhooks.py — shop webhooks through pushgate-fcgi (CGI mode) with the
fixture requests in fixtures/: each lands on the right channels with the
right event and only the mapped fields; a bad or missing signature is 401;
WooCommerce's save-time ping is answered exactly 200 and publishes nothing;
unknown routes, routes without a secret, non-JSON bodies and templates
naming absent fields are handled cleanly; mapping-file errors name file and
line; the sample mappings in contrib/webhooks/ parse."""
import json
import os
import re
import subprocess

from bridgeutil import HERE, SRCDIR, Tap, cgi_env, prog, run, run_cgi, tmpdir, write
from fakepub import FakePub

t = Tap()
BR = prog('pushgate-fcgi')
if not os.access(BR, os.X_OK):
    t.skip_all('pushgate-fcgi not built')
FX = os.path.join(HERE, 'fixtures')
SIG = json.load(open(os.path.join(FX, 'signatures.json')))
d = tmpdir()
mapping = write(os.path.join(d, 'hooks.map'),
                open(os.path.join(FX, 'fixtures.map')).read().replace('@FIXTURES@', FX))


def fixture(name):
    with open(os.path.join(FX, name), 'rb') as f:
        return f.read()


def hook(route, body, headers=None, ctype='application/json', remote='198.51.100.20'):
    extra = {'HTTP_' + k.upper().replace('-', '_'): v for k, v in (headers or {}).items()}
    env = cgi_env(uri='/pg/hooks/' + route, length=len(body), ctype=ctype, remote=remote, extra=extra)
    return run_cgi(BR, env, body, conf)


with FakePub(d) as fp:
    conf = write(os.path.join(d, 'fcgi.conf'), 'daemon unix:%s\nspool off\nwebhooks %s\n' % (fp.unix_path, mapping))

    body = fixture('woo-order-created.json')
    st, h, out, err = hook('woo-orders', body, {'X-WC-Webhook-Signature': SIG['woo-order-created.json'],
                                                'X-WC-Webhook-Topic': 'order.created',
                                                'X-WC-Webhook-Source': 'https://shop.example/'})
    t.eq(st, 200, 'WooCommerce order.created accepted from a remote address (the signature is the key)')
    t.eq(json.loads(out), {'published': 2, 'spooled': 0, 'skipped': 0}, 'reply counts the publishes')
    chans = [(r.channel, r.headers.get('x-event')) for r in fp.requests]
    t.eq(chans, [('order-727', 'order.created'), ('customer-12', 'order.created')],
         'published to order-{id} and customer-{customer_id} with the topic as event')
    payload = json.loads(fp.requests[0].body)
    t.eq(payload, {'id': 727, 'number': '727', 'status': 'processing', 'total': '24.90', 'currency': 'EUR',
                   'date_modified': '2024-03-11T10:21:34', 'customer_id': 12}, 'only the mapped fields are forwarded')
    t.ok(b'Mustermann' not in fp.requests[0].body and b'billing' not in fp.requests[0].body,
         'no address data leaves the shop')

    n = len(fp.requests)
    st, h, out, err = hook('woo-orders', body, {'X-WC-Webhook-Signature': SIG['woo-product-updated.json'],
                                                'X-WC-Webhook-Topic': 'order.created'})
    t.eq(st, 401, 'a bad signature is 401')
    st, h, out, err = hook('woo-orders', body, {'X-WC-Webhook-Topic': 'order.created'})
    t.eq(st, 401, 'a missing signature is 401')
    t.ok(b'missing' in out, 'with a sentence saying so', out)
    st, h, out, err = hook('woo-orders', body + b' ', {'X-WC-Webhook-Signature': SIG['woo-order-created.json']})
    t.eq(st, 401, 'a body changed by one byte is 401')
    t.eq(len(fp.requests), n, 'nothing published for refused webhooks')

    st, h, out, err = hook('woo-orders', fixture('woo-ping.form'), ctype='application/x-www-form-urlencoded')
    t.eq((st, len(fp.requests)), (200, n), "WooCommerce's webhook_id ping: exactly 200, nothing published")

    st, h, out, err = hook('woo-products', fixture('woo-product-updated.json'),
                           {'X-WC-Webhook-Signature': SIG['woo-product-updated.json'],
                            'X-WC-Webhook-Topic': 'product.updated'})
    r = fp.requests[-1]
    t.eq((st, r.channel, r.headers.get('x-event')), (200, 'product-88', 'product.updated'), 'product webhook')
    t.eq(json.loads(r.body), {'id': 88, 'name': 'Espresso cup', 'price': '8.40', 'stock_status': 'instock',
                              'stock_quantity': 3}, 'product fields')

    n = len(fp.requests)
    st, h, out, err = hook('deliveries', fixture('generic-delivery.json'),
                           {'X-Signature-256': SIG['generic-delivery.json']})
    got = [(r.channel, r.headers.get('x-event'), json.loads(r.body)) for r in fp.requests[n:]]
    want_payload = {'shipment_id': 'SHP-9001', 'order_id': 727, 'state': 'in transit', 'eta': '2024-03-13'}
    t.eq((st, got), (200, [('shipment-SHP-9001', 'in_transit', want_payload),
                           ('order-727', 'shipment.in_transit', want_payload)]),
         'generic HMAC (hex, sha256= prefix) webhook: channels, events and renamed nested fields')
    st, h, out, err = hook('deliveries', fixture('generic-delivery.json'),
                           {'X-Signature-256': SIG['generic-delivery.json'].upper().replace('SHA256=', 'sha256=')})
    t.eq(st, 200, 'hex signatures compare case-insensitively')
    st, h, out, err = hook('deliveries', fixture('generic-delivery.json'),
                           {'X-Signature-256': SIG['generic-delivery.json'][7:]})
    t.eq(st, 401, 'a signature without the configured prefix is 401')

    n = len(fp.requests)
    st, h, out, err = hook('missingfield', fixture('generic-delivery.json'),
                           {'X-Signature-256': SIG['generic-delivery.json']})
    t.eq((st, json.loads(out)['skipped'], fp.requests[-1].channel), (200, 1, 'a-SHP-9001'),
         'a publish naming an absent field is skipped, the others go out')
    t.eq(fp.requests[-1].body, fixture('generic-delivery.json'), 'payload all forwards the body unchanged')
    t.ok(b'nonexistent' in err, 'the skip is logged', err)

    st, h, out, err = hook('nosecret', b'{}', {'X-Sig': 'x'})
    t.eq(st, 403, 'a route without a secret refuses every request')
    st, h, out, err = hook('nosuch', b'{}')
    t.eq(st, 404, 'an unknown route is 404')
    import hmac as _h, hashlib
    junk = b'not json {'
    sig = 'sha256=' + _h.new(open(os.path.join(FX, 'secret.txt'), 'rb').read(), junk, hashlib.sha256).hexdigest()
    st, h, out, err = hook('deliveries', junk, {'X-Signature-256': sig})
    t.eq(st, 400, 'a signed body that is not JSON is 400')

# 503 passed through when the daemon is away and spooling is off
conf = write(os.path.join(d, 'down.conf'), 'daemon unix:%s/none.sock\nspool off\nwebhooks %s\n' % (d, mapping))
st, h, out, err = hook('deliveries', fixture('generic-delivery.json'), {'X-Signature-256': SIG['generic-delivery.json']})
t.eq(st, 503, 'daemon away and no spool: 503 (the shop retries)')

# mapping files: samples parse, errors name file and line
for sample in ('woocommerce.map', 'generic.map'):
    text = open(os.path.join(SRCDIR, 'contrib', 'webhooks', sample)).read()
    text = re.sub(r'secret_file \S+', 'secret_file ' + os.path.join(FX, 'secret.txt'), text)
    m = write(os.path.join(d, sample), text)
    c = write(os.path.join(d, 'check.conf'), 'webhooks %s\n' % m)
    rc, out, err = run([BR, '--config', c, '--check'])
    t.eq(rc, 0, 'contrib/webhooks/%s parses' % sample)
bad_maps = [
    ('publish x\n', ':1: ', 'key before the first route'),
    ('route a\n  type hmac\n  signature_header X\n', ':1: route a has no publish line', 'route without publish'),
    ('route a\n  type shopware\n', ':2: type wants woocommerce or hmac', 'unknown type'),
    ('route a\n  type hmac\n  publish order-{id\n', ":3: channel template", 'unbalanced brace'),
    ('route a\n  type hmac\n  signature_header X\n  publish x\nroute a\n', ':5: route a is defined twice', 'duplicate route'),
    ('route a\n  type hmac\n  secret_file /nonexistent/s\n', ':3: cannot read secret_file', 'missing secret file'),
    ('route a\n  type hmac\n  bogus 1\n', ":3: unknown key 'bogus'", 'unknown key'),
]
for text, want, what in bad_maps:
    m = write(os.path.join(d, 'bad.map'), text)
    c = write(os.path.join(d, 'check.conf'), 'webhooks %s\n' % m)
    rc, out, err = run([BR, '--config', c, '--check'])
    t.ok(rc == 1 and (m + want).encode() in err and err.count(b'\n') == 1,
         'mapping error (%s) is one line with file:line' % what, err)
t.done()
