// reconnect.js — www/pushgate.js in Chromium across a pushgated restart and
// a channel deletion, once per transport (WebSocket; EventSource without
// WebSocket; long-poll without either).
// Restart: SIGTERM closes WebSockets with 1001 and ends streams and polls;
// the page reconnects to the new daemon on the same ports, resuming with a
// cursor of the old epoch, so it gets a gap notice (the memory store lost
// its history) and then everything published after the restart — also what
// was published before it got back — in order, without a duplicate.
// Deletion: DELETE /pub/<channel> ends the subscription (WebSocket close
// 1000): the page reports it and never reconnects.
'use strict';
const tap = require('./tap');
const h = require('./harness');

const pw = h.requirePlaywright();

const MODES = [
  { name: 'websocket', init: [] },
  { name: 'eventsource', init: [h.INIT.noWebSocket] },
  { name: 'longpoll', init: [h.INIT.noWebSocket, h.INIT.noEventSource] },
];

let daemon;
let browser;

async function restart(mode) {
  const label = `restart ${mode.name}`;
  const ch = `r-${mode.name}`;
  const page = await h.openFixture(browser.context, daemon.base, { channels: ch, minDelay: 500 }, mode.init);
  tap.ok(await h.waitState(page, 's.transports.length > 0', 20000), `${label}: connected`);
  const want = [];
  for (let i = 1; i <= 5; i++) { want.push(`before ${i}`); await h.publish(daemon, ch, `before ${i}`); }
  tap.ok(await h.waitState(page, 's.messages.length >= 5'), `${label}: 5 messages before the restart`);

  const exit = await daemon.stop('SIGTERM');
  tap.is(exit.code, 0, `${label}: pushgated exits 0 on SIGTERM`);
  tap.ok(await h.waitState(page, 's.disconnects.length >= 1', 10000), `${label}: page sees the disconnect`);
  let s = await h.pageState(page);
  if (mode.name === 'websocket') tap.is(s.disconnects[0].code, 1001, `${label}: close code 1001 (going away)`);
  tap.is(s.disconnects[0].reconnect, true, `${label}: client will reconnect`);

  daemon = await h.startDaemon(`reconnect-${mode.name}`, { port: daemon.port, pubPort: daemon.pubPort });
  // Published while the page is still away: it must catch up on these.
  for (let i = 1; i <= 3; i++) { want.push(`after ${i}`); await h.publish(daemon, ch, `after ${i}`); }
  tap.ok(await h.waitState(page, 's.connects >= 2', 20000), `${label}: page reconnects`);
  tap.ok(await h.waitState(page, 's.messages.length >= 8', 10000), `${label}: caught up on messages published while away`);
  for (let i = 4; i <= 6; i++) { want.push(`after ${i}`); await h.publish(daemon, ch, `after ${i}`); }
  await h.waitState(page, `s.messages.length >= ${want.length}`, 15000);
  await h.sleep(300);
  s = await h.pageState(page);
  h.checkSequence(s.messages, want, label);
  tap.ok(s.gaps.length >= 1 && s.gaps[0].channels.includes(ch), `${label}: gap notice for ${ch} (new epoch)`, s.gaps);
  tap.is([...new Set(s.transports)], [mode.name], `${label}: still on ${mode.name}`);
  const epochs = [...new Set(s.messages.map((m) => m.id.split('-')[0]))];
  tap.is(epochs.length, 2, `${label}: ids of two epochs`);
  await h.screenshot(page, `reconnect-${mode.name}`);
  await page.close();
}

async function deletion(mode) {
  const label = `delete ${mode.name}`;
  const ch = `d-${mode.name}`;
  const page = await h.openFixture(browser.context, daemon.base, { channels: ch, minDelay: 300 }, mode.init);
  tap.ok(await h.waitState(page, 's.transports.length > 0', 20000), `${label}: connected`);
  await h.publish(daemon, ch, 'last words');
  tap.ok(await h.waitState(page, 's.messages.length >= 1'), `${label}: message before the deletion`);
  const res = await h.request(`${daemon.pubBase}/pub/${ch}`, { method: 'DELETE' });
  tap.ok(res.status >= 200 && res.status < 300, `${label}: DELETE /pub/${ch} answers ${res.status}`);
  tap.ok(await h.waitState(page, 's.deleted.length >= 1 && s.disconnects.length >= 1', 30000), `${label}: page told`);
  const tries = (await h.pageState(page)).connecting.length;
  await h.sleep(3000);
  const s = await h.pageState(page);
  tap.is(s.deleted, [ch], `${label}: deleted event names the channel`);
  tap.is(s.disconnects.map((d) => d.reconnect), [false], `${label}: disconnect without reconnect`);
  if (mode.name === 'websocket') tap.is(s.disconnects[0].code, 1000, `${label}: close code 1000`);
  tap.is(s.connecting.length, tries, `${label}: no reconnect attempt afterwards`);
  tap.is(await page.evaluate(() => window.__sub.state), 'closed', `${label}: subscriber closed`);
  await page.close();
}

(async () => {
  try {
    daemon = await h.startDaemon('reconnect');
    browser = await h.launch(pw);
    for (const mode of MODES) {
      for (const [what, fn] of [['restart', restart], ['delete', deletion]]) {
        try { await fn(mode); } catch (e) { tap.ok(false, `${what} ${mode.name}: threw`, e.stack); }
      }
    }
  } catch (e) {
    tap.ok(false, 'setup', e.stack);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (daemon) await daemon.stop();
    tap.done();
  }
})();
