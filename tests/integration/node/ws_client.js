// ws_client.js — an independent WebSocket client (Node `ws`) driven by
// test_node_ws.py: it subscribes in raw and pushgate.v1+json mode, publishes
// through the HTTP API with Node's own http module, echoes through /pubsub,
// pings and closes, and prints what it observed as one JSON line.
// Usage: node ws_client.js WS_BASE PUB_BASE CHANNEL PUBSUB_CHANNEL
// Exit 3 with {"missing_ws":true} when `ws` is not on NODE_PATH.
// Every wait is bounded: the whole run ends after 20 s (x PG_TIME_FACTOR).
'use strict';

let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  process.stdout.write(JSON.stringify({ missing_ws: true, error: String(e.message) }) + '\n');
  process.exit(3);
}
const http = require('http');

const [wsBase, pubBase, channel, pubsubChannel] = process.argv.slice(2);
const factor = Number(process.env.PG_TIME_FACTOR || 1);
const report = { steps: [] };
const N = 20;

setTimeout(() => {
  report.error = 'timed out';
  finish(1);
}, 20000 * factor).unref();

function finish(code) {
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(code);
}

function open(path, protocol) {
  return new Promise((resolve, reject) => {
    const ws = protocol ? new WebSocket(wsBase + path, protocol) : new WebSocket(wsBase + path);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function post(path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(pubBase + path, { method: 'POST' }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function collect(ws, n) {
  return new Promise((resolve) => {
    const got = [];
    ws.on('message', (data, isBinary) => {
      got.push({ binary: isBinary, text: isBinary ? data.toString('hex') : data.toString('utf8') });
      if (got.length === n) resolve(got);
    });
  });
}

function once(ws, event) {
  return new Promise((resolve) => ws.once(event, (...args) => resolve(args)));
}

async function main() {
  const raw = await open('/sub/' + channel);
  const json = await open('/sub/' + channel, 'pushgate.v1+json');
  report.protocol = json.protocol;
  const rawGot = collect(raw, N + 1);
  const jsonGot = collect(json, N + 1);
  report.statuses = [];
  for (let i = 0; i < N; i++) {
    report.statuses.push((await post('/pub/' + channel, 'n' + i)).status);
  }
  report.statuses.push((await post('/pub/' + channel, Buffer.from([0xff, 0x00]))).status);
  report.raw = await rawGot;
  report.json = (await jsonGot).map((m) => JSON.parse(m.text));

  const ps = await open('/pubsub/' + pubsubChannel);
  const echo = once(ps, 'message');
  ps.send('from node');
  const [data, isBinary] = await echo;
  report.echo = { binary: isBinary, text: data.toString('utf8') };

  const pong = once(raw, 'pong');
  raw.ping(Buffer.from('node-ping'));
  report.pong = (await pong)[0].toString('utf8');

  const closed = once(raw, 'close');
  raw.close(4000, 'node done');
  const [code, reason] = await closed;
  report.close = { code, reason: reason.toString('utf8') };
  json.terminate();
  ps.terminate();
  finish(0);
}

main().catch((e) => {
  report.error = String(e && e.stack || e);
  finish(1);
});
