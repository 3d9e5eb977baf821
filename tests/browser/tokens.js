// tokens.js — www/pushgate.js's tokenProvider in Chromium against pushgated
// with token_secret / token_channels, once per transport: the first token
// is refused (WebSocket: accepted, then close 1008; SSE and long-poll: an
// HTTP 401/403), the client asks tokenProvider for a fresh one and retries
// the same transport, which then delivers.
'use strict';
const crypto = require('crypto');
const tap = require('./tap');
const h = require('./harness');

const pw = h.requirePlaywright();
const SECRET = 'browser-test-secret';

const b64url = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
function jwt(claims, secret) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = b64url(crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}

const MODES = [
  { name: 'websocket', init: [] },
  { name: 'eventsource', init: [h.INIT.noWebSocket] },
  { name: 'longpoll', init: [h.INIT.noWebSocket, h.INIT.noEventSource] },
];

let daemon;
let browser;

async function oneMode(mode) {
  const label = `token ${mode.name}`;
  const ch = `secure-${mode.name}`;
  const page = await browser.context.newPage();
  for (const s of mode.init) await page.addInitScript(s);
  let minted = 0;
  // First a token signed with the wrong key, then good ones.
  await page.exposeFunction('mintToken', () => {
    minted++;
    const claims = { exp: Math.floor(Date.now() / 1000) + 3600, channels: ['secure-*'], sub: 'test' };
    return jwt(claims, minted === 1 ? 'wrong-secret' : SECRET);
  });
  await page.goto(`${daemon.base}/diagnose.html?channels=public-${mode.name}`);
  await page.evaluate((url) => {
    var t = window.__tok = { messages: [], transports: [], errors: [], connecting: [] };
    var sub = new PushgateSubscriber(url, {
      tokenProvider: function (cb) { window.mintToken().then(function (tok) { cb(null, tok); }, cb); },
    });
    sub.on('message', function (d) { t.messages.push(d); });
    sub.on('transport', function (n) { t.transports.push(n); });
    sub.on('connecting', function (n) { t.connecting.push(n); });
    sub.on('error', function (e) { t.errors.push({ code: e.code, status: e.status }); });
    sub.start();
  }, `/sub/${ch}`);
  let ok = true;
  try {
    await page.waitForFunction(() => window.__tok.transports.length > 0, null, { timeout: 20000 });
  } catch (e) { ok = false; }
  tap.ok(ok, `${label}: connected`, JSON.stringify(await page.evaluate(() => window.__tok)));
  for (let i = 1; i <= 3; i++) await h.publish(daemon, ch, `secret ${i}`);
  await page.waitForFunction(() => window.__tok.messages.length >= 3, null, { timeout: 15000 }).catch(() => {});
  const t = await page.evaluate(() => window.__tok);
  tap.is(t.messages, ['secret 1', 'secret 2', 'secret 3'], `${label}: messages arrive with the fresh token`);
  tap.is(minted, 2, `${label}: tokenProvider asked twice (start, after the refusal)`);
  tap.is(t.connecting, [mode.name, mode.name], `${label}: retried the same transport`);
  tap.is(t.transports, [mode.name], `${label}: reports ${mode.name}`);
  if (mode.name !== 'eventsource') {
    tap.ok(t.errors.some((e) => e.code === 'auth'), `${label}: auth error reported`, t.errors);
  }
  await page.close();
}

(async () => {
  try {
    daemon = await h.startDaemon('tokens', {}, [`--token-secret=${SECRET}`, '--token-channels=secure-*']);
    browser = await h.launch(pw);
    for (const mode of MODES) {
      try { await oneMode(mode); } catch (e) { tap.ok(false, `${mode.name}: threw`, e.stack); }
    }
  } catch (e) {
    tap.ok(false, 'setup', e.stack);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (daemon) await daemon.stop();
    tap.done();
  }
})();
