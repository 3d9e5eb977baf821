// demo-pages.js — the demo pages of www/ in Chromium against the real
// pushgated, as a newcomer would use them: index.html links the demos;
// order.html and catalog.html (this one forced to long-poll) move while
// www/demo-publish.sh runs; two chat.html windows (customer over WebSocket,
// agent forced to SSE, so publishing over POST /pubsub) talk to each other.
// Screenshots land in $PG_BUILDDIR/tests/browser-output/.
'use strict';
const path = require('path');
const { execFile } = require('child_process');
const tap = require('./tap');
const h = require('./harness');

const pw = h.requirePlaywright();

let daemon;
let browser;

function runScript(args) {
  return new Promise((resolve) => {
    execFile('sh', [path.join(h.SRCDIR, 'www', 'demo-publish.sh'), ...args], { timeout: 60000 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code || 1) : 0, stdout, stderr }));
  });
}

async function open(url) {
  const page = await browser.context.newPage();
  page.on('pageerror', (e) => tap.diag(`page error on ${url}: ${e.message}`));
  await page.goto(`${daemon.base}${url}`);
  return page;
}

async function badgeSays(page, text, label) {
  try {
    await page.waitForFunction((t) => document.getElementById('live').textContent === t, text, { timeout: 20000 });
    tap.ok(true, `${label}: badge says "${text}"`);
    return true;
  } catch (e) {
    const got = await page.evaluate(() => document.getElementById('live').textContent);
    return tap.ok(false, `${label}: badge says "${text}"`, `badge: ${got}`);
  }
}

async function index() {
  const page = await open('/');
  const links = await page.evaluate(() => Array.from(document.querySelectorAll('a')).map((a) => a.getAttribute('href')));
  for (const want of ['order.html?order=42', 'catalog.html', 'chat.html?role=customer&room=1', 'chat.html?role=agent&room=1', 'diagnose.html']) {
    tap.ok(links.includes(want), `index.html links ${want}`);
  }
  await h.screenshot(page, 'demo-index');
  await page.close();
}

async function orderAndCatalog() {
  const order = page => page.evaluate(() => ({
    done: Array.from(document.querySelectorAll('#timeline li')).map((li) => li.className),
    status: document.getElementById('status').textContent,
    note: document.getElementById('note').textContent,
  }));
  const orderPage = await open('/order.html?order=7');
  const catalog = await open('/catalog.html?transports=longpoll');
  await badgeSays(orderPage, 'live via WebSocket', 'order.html');
  await badgeSays(catalog, 'live via long-poll', 'catalog.html?transports=longpoll');
  const res = await runScript(['-u', daemon.pubBase, '-o', '7', '-d', '0.2']);
  tap.is(res.code, 0, 'demo-publish.sh succeeds', res.stderr);
  tap.ok(/order-7/.test(res.stdout) && /done/.test(res.stdout), 'demo-publish.sh says what it publishes');
  try {
    await orderPage.waitForFunction(() => document.getElementById('status').textContent === 'Delivered', null, { timeout: 15000 });
  } catch (e) { /* checked below */ }
  const o = await order(orderPage);
  tap.is(o.done, ['done', 'done', 'done', 'done current'], 'order.html: timeline at delivered, every step done');
  tap.is(o.note, 'Left with your neighbour at no. 12.', 'order.html: shows the note of the last step');
  const want = {
    'mug-blue': ['€ 12.90', 'sold out'], 'tee-m': ['€ 17.90', '40'], 'cap-red': ['€ 15.00', 'only 2 left'],
    'socks-3': ['€ 8.50', '24'], 'bag-tote': ['€ 7.90', '30'],
  };
  const read = () => catalog.evaluate(() => {
    const out = {};
    for (const tr of document.querySelectorAll('#products tr')) {
      out[tr.id.slice(2)] = [tr.querySelector('.price').textContent, tr.querySelector('.stock').textContent];
    }
    return out;
  });
  const deadline = Date.now() + 15000;
  let got = await read();
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) { await h.sleep(100); got = await read(); }
  tap.is(got, want, 'catalog.html: prices and stock after the demo script');
  tap.ok(await catalog.evaluate(() => document.querySelector('#p-mug-blue button').disabled), 'catalog.html: sold-out product cannot be added');
  // A plain status word works too.
  await h.publish(daemon, 'order-7', 'shipped', 'status');
  await orderPage.waitForFunction(() => document.getElementById('status').textContent === 'On its way', null, { timeout: 10000 })
    .then(() => tap.ok(true, 'order.html: a plain "shipped" body moves the timeline back'),
      () => tap.ok(false, 'order.html: a plain "shipped" body moves the timeline back'));
  await h.publish(daemon, 'order-7', '{"status":"delivered","note":"Left with your neighbour at no. 12."}', 'status');
  await h.sleep(500);
  await h.screenshot(orderPage, 'demo-order');
  await h.screenshot(catalog, 'demo-catalog-longpoll');
  await orderPage.close();
  await catalog.close();
}

async function chat() {
  const customer = await open('/chat.html?role=customer&room=9');
  const agent = await open('/chat.html?role=agent&room=9&transports=eventsource');
  await badgeSays(customer, 'live via WebSocket', 'chat customer');
  await badgeSays(agent, 'live via Server-Sent Events', 'chat agent (forced SSE)');
  const bubbles = (page) => page.evaluate(() => Array.from(document.querySelectorAll('.bubble')).map((b) =>
    [b.className.includes('mine') ? 'mine' : 'theirs', b.lastChild.textContent]));
  // The customer's publisher socket may still be opening: wait for it.
  await customer.waitForFunction(() => true);
  await h.sleep(300);
  await customer.fill('#text', 'Hi, where is my parcel? <b>order 7</b>');
  await customer.press('#text', 'Enter');
  const waitText = (page, text) => page.waitForFunction((t) =>
    Array.from(document.querySelectorAll('.bubble')).some((b) => b.lastChild.textContent === t), text, { timeout: 10000 })
    .then(() => true, () => false);
  tap.ok(await waitText(agent, 'Hi, where is my parcel? <b>order 7</b>'), 'chat: agent window shows the customer message (as text)');
  tap.ok(await waitText(customer, 'Hi, where is my parcel? <b>order 7</b>'), 'chat: customer window shows its own message');
  await agent.fill('#text', 'It left our warehouse this morning.');
  await agent.press('#text', 'Enter');
  tap.ok(await waitText(customer, 'It left our warehouse this morning.'), 'chat: customer window shows the reply');
  await h.sleep(300);
  tap.is(await customer.evaluate(() => document.getElementById('sendstate').textContent), 'sent via WebSocket', 'chat: customer published over WebSocket');
  tap.is(await agent.evaluate(() => document.getElementById('sendstate').textContent), 'sent via POST /pubsub', 'chat: agent (no WebSocket) published with POST');
  tap.is(await bubbles(customer), [['theirs', 'Hello! How can we help you today?'],
    ['mine', 'Hi, where is my parcel? <b>order 7</b>'], ['theirs', 'It left our warehouse this morning.']], 'chat: customer conversation');
  tap.is(await bubbles(agent), [['theirs', 'Hi, where is my parcel? <b>order 7</b>'],
    ['mine', 'It left our warehouse this morning.']], 'chat: agent conversation');
  await h.screenshot(customer, 'demo-chat-customer');
  await h.screenshot(agent, 'demo-chat-agent-sse');
  await customer.close();
  await agent.close();
}

(async () => {
  try {
    daemon = await h.startDaemon('demo-pages');
    browser = await h.launch(pw);
    for (const [name, fn] of [['index', index], ['order and catalog', orderAndCatalog], ['chat', chat]]) {
      try { await fn(); } catch (e) { tap.ok(false, `${name}: threw`, e.stack); }
    }
  } catch (e) {
    tap.ok(false, 'setup', e.stack);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (daemon) await daemon.stop();
    tap.done();
  }
})();
