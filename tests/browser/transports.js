// transports.js — www/pushgate.js in Debian's Chromium against the real
// pushgated, once per browser kind: all transports (WebSocket), no
// WebSocket (EventSource), neither (XHR long-poll), and an old browser
// across origins without CORS (JSONP). Each receives N published messages
// on two channels in publish order, with no duplicate, with event names and
// a binary body, and reports the expected transport; a screenshot of each
// lands in $PG_BUILDDIR/tests/browser-output/. Then two fallback stories:
// a proxy that eats the WebSocket upgrade (EventSource, then the probe moves
// back to WebSocket mid-stream without a hole or a duplicate), and a
// buffering proxy that never flushes SSE (long-poll after openTimeout).
'use strict';
const tap = require('./tap');
const h = require('./harness');

const pw = h.requirePlaywright();
const N = 20;
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);

const MODES = [
  { name: 'all-transports', expect: 'websocket', init: [] },
  { name: 'no-websocket', expect: 'eventsource', init: [h.INIT.noWebSocket] },
  { name: 'no-websocket-no-eventsource', expect: 'longpoll', init: [h.INIT.noWebSocket, h.INIT.noEventSource] },
  { name: 'old-browser-cross-origin', expect: 'jsonp', crossOrigin: true,
    init: [h.INIT.noWebSocket, h.INIT.noEventSource, h.INIT.noCors] },
];

// A WebSocket that reaches a closed port (a proxy eating the upgrade)
// until the test sets window.__allowWs.
const BLOCK_WS = `(function () {
  var Real = window.WebSocket;
  window.__allowWs = false;
  function Blocked(url, protocols) { return new Real(window.__allowWs ? url : 'ws://127.0.0.1:9/', protocols); }
  Blocked.prototype = Real.prototype;
  Blocked.CONNECTING = 0; Blocked.OPEN = 1; Blocked.CLOSING = 2; Blocked.CLOSED = 3;
  window.WebSocket = Blocked;
})();`;

let daemon;
let browser;

async function oneMode(mode) {
  const ch = [`t-${mode.name}-a`, `t-${mode.name}-b`];
  const origin = mode.crossOrigin ? `http://localhost:${daemon.port}` : daemon.base;
  const url = `${mode.crossOrigin ? daemon.base : ''}/sub/${ch.join(',')}`;
  const page = await h.openFixture(browser.context, origin, { url }, mode.init);
  const label = mode.name;
  tap.ok(await h.waitState(page, 's.transports.length > 0', 20000), `${label}: connected`,
    JSON.stringify(await h.pageState(page)));
  const want = [];
  const events = [];
  for (let i = 1; i <= N; i++) {
    const body = `${label} message ${i}`;
    const event = i % 5 === 0 ? 'status' : null;
    await h.publish(daemon, ch[i % 2], body, event);
    want.push(body);
    events.push([ch[i % 2], event || 'message']);
  }
  await h.publish(daemon, ch[0], BINARY);
  want.push('hex:' + BINARY.toString('hex'));
  events.push([ch[0], 'message']);
  const all = await h.waitState(page, `s.messages.length >= ${want.length}`, 20000);
  await h.sleep(300); // a late duplicate would land here
  const s = await h.pageState(page);
  tap.ok(all, `${label}: received ${s.messages.length} of ${want.length}`);
  h.checkSequence(s.messages, want, label);
  tap.is(s.messages.map((m) => [m.channel, m.event]), events, `${label}: channel and event of each message`);
  tap.is([...new Set(s.messages.map((m) => m.transport))], [mode.expect], `${label}: every message came over ${mode.expect}`);
  tap.is(s.transports, [mode.expect], `${label}: page reports ${mode.expect}`);
  tap.is(s.errors, [], `${label}: no error events`);
  await h.screenshot(page, `transports-${label}`);
  await page.close();
}

async function fallbackAndProbe() {
  const label = 'websocket-blocked-then-probe';
  const ch = 'probe-a';
  const page = await h.openFixture(browser.context, daemon.base,
    { channels: ch, probeInterval: 2000, proveTime: 500 }, [BLOCK_WS]);
  tap.ok(await h.waitState(page, 's.transports.length > 0', 20000), `${label}: connected`);
  let s = await h.pageState(page);
  tap.is(s.transports, ['eventsource'], `${label}: falls back to eventsource when the upgrade fails`);
  tap.is(s.connecting.slice(0, 2).map((c) => c.name), ['websocket', 'eventsource'], `${label}: tried websocket first`);
  const want = [];
  let n = 0;
  const pub = async () => { n++; want.push(`p${n}`); await h.publish(daemon, ch, `p${n}`); };
  for (let i = 0; i < 10; i++) await pub();
  await page.evaluate(() => { window.__allowWs = true; });
  // Keep publishing while the probe replaces the stream.
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    await pub();
    await h.sleep(50);
    if ((await h.pageState(page)).transports.includes('websocket')) break;
  }
  for (let i = 0; i < 10; i++) await pub();
  await h.waitState(page, `s.messages.length >= ${want.length}`, 15000);
  await h.sleep(300);
  s = await h.pageState(page);
  tap.is(s.transports, ['eventsource', 'websocket'], `${label}: probe moves back to websocket`);
  h.checkSequence(s.messages, want, `${label} (${want.length} across the switch)`);
  tap.is(s.messages[s.messages.length - 1].transport, 'websocket', `${label}: the last ones came over websocket`);
  tap.is(s.disconnects, [], `${label}: the switch is not a disconnect`);
  await h.screenshot(page, `transports-${label}`);
  await page.close();
}

async function bufferingProxy() {
  const label = 'sse-buffered-by-proxy';
  const ch = 'buffered-a';
  const page = await browser.context.newPage();
  // A buffering proxy: the SSE request is sent and never answered.
  await page.route(/[?&]transport=sse/, () => {});
  await page.addInitScript(h.INIT.noWebSocket);
  await page.goto(`${daemon.base}${h.TEST_PAGE}?channels=${ch}&openTimeout=2000`);
  tap.ok(await h.waitState(page, 's.transports.length > 0', 20000), `${label}: connected`);
  let s = await h.pageState(page);
  tap.is(s.connecting.slice(0, 2).map((c) => c.name), ['eventsource', 'longpoll'], `${label}: eventsource tried, then long-poll`);
  tap.is(s.transports, ['longpoll'], `${label}: reports longpoll`);
  const gapMs = s.connecting[1].at - s.connecting[0].at;
  tap.ok(gapMs >= 1900 && gapMs < 6000, `${label}: gave up on SSE after openTimeout (${gapMs} ms)`);
  const want = [];
  for (let i = 1; i <= 5; i++) { want.push(`b${i}`); await h.publish(daemon, ch, `b${i}`); }
  await h.waitState(page, `s.messages.length >= ${want.length}`, 15000);
  s = await h.pageState(page);
  h.checkSequence(s.messages, want, label);
  await page.close();
}

(async () => {
  try {
    daemon = await h.startDaemon('transports');
    browser = await h.launch(pw);
    const js = await h.request(`${daemon.base}/pushgate.js`);
    tap.ok(js.status === 200 && /PushgateSubscriber/.test(js.body), 'pushgated serves /pushgate.js from www/');
    for (const mode of MODES) {
      try { await oneMode(mode); } catch (e) { tap.ok(false, `${mode.name}: threw`, e.stack); }
    }
    for (const [name, fn] of [['fallback and probe', fallbackAndProbe], ['buffering proxy', bufferingProxy]]) {
      try { await fn(); } catch (e) { tap.ok(false, `${name}: threw`, e.stack); }
    }
  } catch (e) {
    tap.ok(false, 'setup', e.stack);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (daemon) {
      const res = await daemon.stop();
      tap.is(res.code, 0, 'pushgated exits 0 on SIGTERM');
    }
    tap.done();
  }
})();
