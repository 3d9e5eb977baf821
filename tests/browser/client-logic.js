// client-logic.js — www/pushgate.js's decisions, tested in Node without a
// browser or a server: transport order and fallback, resume cursors across
// reconnects and switches, de-duplication, close codes, token refresh,
// backoff, probing back to a better transport, long-poll and JSONP loops,
// and the chat publisher. Uses fake-browser.js (virtual clock, scripted
// WebSocket/EventSource/XHR/<script>).
'use strict';
const { ok, is, run } = require('./tap');
const { load, record, query } = require('./fake-browser');

const env = (id, channel, data, extra) => Object.assign({ id, channel, event: 'message', data }, extra || {});
const lastWs = (b) => b.log.ws[b.log.ws.length - 1];
const lastEs = (b) => b.log.es[b.log.es.length - 1];
const lastXhr = (b) => b.log.xhr[b.log.xhr.length - 1];
const ids = (ev) => ev.messages.map((m) => m.id);
// Advance the clock in small steps until a new fake of that kind appears.
function untilNew(b, kind) {
  const n = b.log[kind].length;
  for (let t = 0; t < 120000 && b.log[kind].length === n; t += 50) b.clock.advance(50);
}

run([
  ['websocket url, subprotocol, delivery', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/order-42,user-7', { token: 't0' });
    const ev = record(sub);
    sub.start();
    const ws = lastWs(b);
    is(ws.url, 'ws://shop.example:8080/sub/order-42,user-7?token=t0', 'websocket URL is absolute ws:// with the token');
    is(ws.protocol, 'pushgate.v1+json', 'websocket asks for pushgate.v1+json');
    ws.open();
    is(ev.transports, ['websocket'], 'transport event on open');
    is(sub.state, 'open', 'state open');
    ws.message(env('e1-1', 'order-42', '{"status":"paid"}'));
    ws.message(env('e1-2', 'user-7', 'hi', { event: 'note' }));
    is(ev.messages, [
      { data: '{"status":"paid"}', id: 'e1-1', channel: 'order-42', event: 'message', transport: 'websocket' },
      { data: 'hi', id: 'e1-2', channel: 'user-7', event: 'note', transport: 'websocket' }], 'messages with meta');
    ws.message(env('e1-3', 'order-42', 'AAEC/w==', { encoding: 'base64' }));
    const bin = ev.messages[2].data;
    is(Array.from(bin), [0, 1, 2, 255], 'base64 body decoded to bytes');
    is(sub.lastEventId, 'e1-3', 'cursor is the last delivered id');
  }],

  ['de-duplication', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a');
    const ev = record(sub);
    sub.start();
    const ws = lastWs(b);
    ws.open();
    for (const id of ['7-1', '7-2', '7-2', '7-1', '7-3', '8-1', '7-4', '8-1', '8-2']) ws.message(env(id, 'a', id));
    is(ids(ev), ['7-1', '7-2', '7-3', '8-1', '7-4', '8-2'], 'repeated ids and older seqs of the same epoch are dropped, a new epoch is taken');
    const b2 = load();
    const sub2 = new b2.PushgateSubscriber('/sub/a');
    const ev2 = record(sub2);
    sub2.start();
    lastWs(b2).open();
    for (const id of ['x', 'y', 'x']) lastWs(b2).message(env(id, 'a', id));
    is(ids(ev2), ['x', 'y'], 'ids of another shape are de-duplicated exactly');
  }],

  ['1001 shutdown: reconnect and resume with jittered backoff', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a,b', { minDelay: 1000 });
    const ev = record(sub);
    sub.start();
    lastWs(b).open();
    lastWs(b).message(env('e-5', 'a', 'x'));
    lastWs(b).serverClose(1001, 'shutting down');
    is(ev.disconnects.length, 1, 'disconnect reported');
    is(ev.disconnects[0].code, 1001, 'with the close code');
    is(ev.disconnects[0].reconnect, true, 'and that it will reconnect');
    is(b.log.ws.length, 1, 'no reconnect before the delay');
    b.clock.advance(749);
    is(b.log.ws.length, 1, 'not before 750 ms (random 0.5 of the jitter)');
    b.clock.advance(1);
    is(b.log.ws.length, 2, 'reconnects');
    is(query(lastWs(b).url).last_event_id, 'e-5', 'resumes from the last delivered id');
  }],

  ['1000 (channel deleted): no reconnect', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a');
    const ev = record(sub);
    sub.start();
    lastWs(b).open();
    lastWs(b).message({ type: 'deleted', channel: 'a' });
    lastWs(b).serverClose(1000, 'deleted');
    b.clock.advance(600000);
    is(b.log.ws.length, 1, 'never reconnects');
    is(ev.deleted, ['a'], 'deleted event');
    is(sub.state, 'closed', 'state closed');
    is(ev.disconnects.length, 1, 'one disconnect');
    is(ev.disconnects[0].reconnect, false, 'which says no reconnect');
    // A bare 1000 close, without a deleted frame, ends it too.
    const b2 = load();
    const sub2 = new b2.PushgateSubscriber('/sub/a');
    sub2.start();
    lastWs(b2).open();
    const ev2 = record(sub2);
    lastWs(b2).serverClose(1000, 'channel deleted');
    b2.clock.advance(600000);
    is(b2.log.ws.length, 1, 'a 1000 close alone ends it');
    is(ev2.deleted, ['a'], 'and reports the remaining channels deleted');
  }],

  ['deleted channel is left out of the next URL', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a,b,c');
    const ev = record(sub);
    sub.start();
    lastWs(b).open();
    lastWs(b).message({ type: 'deleted', channel: 'b' });
    is(sub.state, 'open', 'still open with channels left');
    lastWs(b).serverClose(1006, '');
    b.clock.advance(2000);
    is(lastWs(b).url, 'ws://shop.example:8080/sub/a,c', 'reconnect URL lacks the deleted channel');
    is(ev.deleted, ['b'], 'deleted event');
  }],

  ['1008: fresh token, same transport', async () => {
    const b = load();
    let n = 0;
    const sub = new b.PushgateSubscriber('/sub/a', { tokenProvider: (cb) => cb(null, 'tok' + (++n)) });
    const ev = record(sub);
    sub.start();
    is(query(lastWs(b).url).token, 'tok1', 'first token from the provider');
    lastWs(b).open();
    lastWs(b).message(env('1-1', 'a', 'x'));
    lastWs(b).serverClose(1008, 'token expired');
    is(b.log.ws.length, 2, 'retried at once');
    is(query(lastWs(b).url).token, 'tok2', 'with a fresh token');
    is(query(lastWs(b).url).last_event_id, '1-1', 'and the cursor');
    is(b.log.es.length, 0, 'no fallback');
    ok(ev.errors.some((e) => e.code === 'auth'), 'auth error reported');
    // A transport that never worked: one fresh token, then fallback.
    const c = load();
    let m = 0;
    const s2 = new c.PushgateSubscriber('/sub/a', { tokenProvider: (cb) => cb(null, 'new' + (++m)) });
    s2.start();
    lastWs(c).open();
    lastWs(c).serverClose(1008, 'token refused');
    is([c.log.ws.length, query(lastWs(c).url).token], [2, 'new2'], 'first 1008: same transport, fresh token');
    lastWs(c).open();
    lastWs(c).serverClose(1008, 'token refused');
    c.clock.advance(0);
    is(c.log.es.length, 1, 'second 1008 in a row: falls back');
  }],

  ['websocket cannot open -> eventsource, resuming the cursor', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a', { lastEventId: '3-9' });
    const ev = record(sub);
    sub.start();
    lastWs(b).serverClose(1006, '');
    b.clock.advance(0);
    is(b.log.es.length, 1, 'eventsource tried next, at once');
    const q = query(lastEs(b).url);
    is([q.transport, q.format, q.last_event_id], ['sse', 'json', '3-9'], 'SSE URL: transport=sse, format=json, cursor');
    lastEs(b).event('pushgate.open', '3-9');
    is(ev.transports, ['eventsource'], 'transport eventsource');
    lastEs(b).event('message', env('3-10', 'a', 'x'));
    is(ids(ev), ['3-10'], 'delivers');
    // WebSocket hanging without opening also counts as "cannot open".
    const b2 = load();
    const s2 = new b2.PushgateSubscriber('/sub/a', { openTimeout: 5000 });
    s2.start();
    b2.clock.advance(4999);
    is(b2.log.es.length, 0, 'waits openTimeout for the upgrade');
    b2.clock.advance(1);
    is(b2.log.es.length, 1, 'then falls back');
    ok(lastWs(b2).closedByClient, 'and closes the hanging socket');
  }],

  ['buffering proxy: no pushgate.open -> longpoll', async () => {
    const b = load({ features: { WebSocket: false } });
    const sub = new b.PushgateSubscriber('/sub/a', { openTimeout: 4000 });
    const ev = record(sub);
    sub.start();
    is(b.log.es.length, 1, 'eventsource first when WebSocket is missing');
    lastEs(b).event('pushgate.ping', '');
    b.clock.advance(4000);
    ok(lastEs(b).closedByClient, 'stream without pushgate.open is closed');
    is(b.log.xhr.length, 1, 'long-poll next');
    const q = query(lastXhr(b).url);
    is(q.transport, 'longpoll', 'transport=longpoll');
    is(q.last_id, undefined, 'no cursor yet');
    is(ev.transports, [], 'no transport reported before the poll settles');
    b.clock.advance(1000);
    is(ev.transports, ['longpoll'], 'a held poll counts as connected');
  }],

  ['SSE heartbeat: dead after two missed beats', async () => {
    const b = load({ features: { WebSocket: false } });
    const sub = new b.PushgateSubscriber('/sub/a', { heartbeat: 15000 });
    const ev = record(sub);
    sub.start();
    lastEs(b).event('pushgate.open', '1-0');
    b.clock.advance(20000);
    lastEs(b).event('pushgate.ping', '');
    b.clock.advance(31000);
    is(b.log.es.length, 1, 'alive within two beats of the last ping');
    b.clock.advance(1000);
    is(ev.disconnects.length, 1, 'declared dead after 2 beats + slack');
    b.clock.advance(1000);
    is(b.log.es.length, 2, 'reconnects (eventsource has worked)');
    is(query(lastEs(b).url).last_event_id, '1-0', 'from the pushgate.open cursor');
  }],

  ['SSE control events', async () => {
    const b = load({ features: { WebSocket: false } });
    const sub = new b.PushgateSubscriber('/sub/a,b');
    const ev = record(sub);
    sub.start();
    const es = lastEs(b);
    es.event('pushgate.open', '5-1');
    es.event('pushgate.gap', { channels: ['a'], id: '5-1' });
    es.event('message', env('6-1', 'a', 'x'));
    es.event('pushgate.deleted', 'a');
    es.event('pushgate.deleted', 'b');
    is(ev.gaps.length, 1, 'gap event');
    is(ev.gaps[0].channels, ['a'], 'gap channels');
    is(ids(ev), ['6-1'], 'message');
    is(ev.deleted, ['a', 'b'], 'deleted events');
    ok(es.closedByClient, 'stream closed when no channel is left');
    es.error();
    b.clock.advance(600000);
    is(b.log.es.length, 1, 'no reconnect');
    is(sub.state, 'closed', 'closed');
  }],

  ['EventSource error is handled by the client, not by EventSource', async () => {
    const b = load({ features: { WebSocket: false } });
    const sub = new b.PushgateSubscriber('/sub/a');
    record(sub);
    sub.start();
    lastEs(b).event('pushgate.open', '1-0');
    lastEs(b).event('message', env('1-4', 'a', 'x'));
    b.clock.advance(4000);
    lastEs(b).error();
    ok(b.log.es[0].closedByClient, 'EventSource closed on error (no auto-reconnect)');
    b.clock.advance(1000);
    is(query(lastEs(b).url).last_event_id, '1-4', 'own reconnect with the cursor');
  }],

  ['long-poll loop: X-Last-Id, 204, gap elements, X-Gap', async () => {
    const b = load({ features: { WebSocket: false, EventSource: false } });
    const sub = new b.PushgateSubscriber('/sub/a,b');
    const ev = record(sub);
    sub.start();
    lastXhr(b).respond(204, '', { 'X-Last-Id': '9-3' });
    is(ev.transports, ['longpoll'], 'connected on the first answer');
    is(query(lastXhr(b).url).last_id, '9-3', 'next poll uses X-Last-Id');
    lastXhr(b).respond(200, [env('9-4', 'a', 'x'), { type: 'gap', channels: ['b'] }, env('9-6', 'b', 'y')], { 'X-Last-Id': '9-6', 'X-Gap': 'b' });
    is(ids(ev), ['9-4', '9-6'], 'messages in the array delivered');
    is(ev.gaps.length, 1, 'one gap (element and header are the same notice)');
    is(query(lastXhr(b).url).last_id, '9-6', 'cursor advanced');
    lastXhr(b).respond(200, [env('9-6', 'b', 'y'), env('9-7', 'a', 'z')], { 'X-Last-Id': '9-7' });
    is(ids(ev), ['9-4', '9-6', '9-7'], 'a repeated element is dropped');
    lastXhr(b).respond(204, '', { 'X-Last-Id': 'a-1', 'X-Gap': 'a,b' });
    is(ev.gaps.length, 2, 'X-Gap alone is a gap notice');
    is(query(lastXhr(b).url).last_id, 'a-1', 'new epoch cursor taken');
    lastXhr(b).respond(200, [{ type: 'deleted', channel: 'a' }], { 'X-Last-Id': 'a-1' });
    ok(!/sub\/a,b/.test(lastXhr(b).url) && /sub\/b\?/.test(lastXhr(b).url), 'deleted channel left out of the next poll');
  }],

  ['long-poll 401 -> fresh token, same transport; errors back off', async () => {
    const b = load({ features: { WebSocket: false, EventSource: false } });
    let n = 0;
    const sub = new b.PushgateSubscriber('/sub/a', { tokenProvider: (cb) => cb(null, 'k' + (++n)) });
    const ev = record(sub);
    sub.start();
    lastXhr(b).respond(200, [env('2-1', 'a', 'x')], { 'X-Last-Id': '2-1' });
    lastXhr(b).respond(401, 'no');
    is(b.log.xhr.length, 3, 'retried at once');
    is([query(lastXhr(b).url).token, query(lastXhr(b).url).last_id], ['k2', '2-1'], 'with a fresh token and the cursor');
    ok(ev.errors.some((e) => e.code === 'auth' && e.status === 401), 'auth error with the status');
    lastXhr(b).respond(200, [], { 'X-Last-Id': '2-1' });
    lastXhr(b).respond(502, 'bad gateway');
    is(b.log.xhr.length, 4, 'no request at once after a 502');
    b.clock.advance(750);
    is(b.log.xhr.length, 5, 'retried after the backoff');
  }],

  ['cross-origin: JSONP without CORS, and after a CORS failure', async () => {
    const b = load({ features: { WebSocket: false, EventSource: false, cors: false } });
    const sub = new b.PushgateSubscriber('http://push.example:9000/sub/a');
    const ev = record(sub);
    is([...sub.transports], ['jsonp'], 'no CORS XHR: only JSONP is usable');
    sub.start();
    const s = b.log.scripts[0];
    const q = query(s.src);
    ok(s.src.startsWith('http://push.example:9000/sub/a?'), 'script points at the other origin');
    is(q.transport, 'longpoll', 'transport=longpoll');
    ok(/^[A-Za-z_$][\w$]*$/.test(q.callback), 'callback is an identifier');
    b.jsonpAnswer(s, { messages: [env('4-1', 'a', 'x')], last_id: '4-1', gap: false });
    is(ev.transports, ['jsonp'], 'transport jsonp');
    is(ids(ev), ['4-1'], 'delivered');
    is(b.win[q.callback], undefined, 'answered callback removed');
    const s2 = b.log.scripts[1];
    is(query(s2.src).last_id, '4-1', 'next poll carries last_id');
    b.jsonpAnswer(s2, { messages: [], last_id: '5-0', gap: true });
    is(ev.gaps.length, 1, 'gap:true is a gap notice');

    const c = load({ features: { WebSocket: false, EventSource: false } });
    const sub2 = new c.PushgateSubscriber('http://push.example:9000/sub/a');
    is([...sub2.transports], ['longpoll', 'jsonp'], 'with CORS XHR: longpoll, then JSONP');
    sub2.start();
    lastXhr(c).respond(0, '');
    c.clock.advance(0);
    is(c.log.scripts.length, 1, 'a failed CORS poll falls back to JSONP');
    const same = load({ features: { WebSocket: false, EventSource: false } });
    is([...new same.PushgateSubscriber('/sub/a').transports], ['longpoll'], 'same origin: no JSONP');
  }],

  ['forced and unknown transports', async () => {
    const b = load();
    is([...new b.PushgateSubscriber('/sub/a', { transports: ['longpoll'] }).transports], ['longpoll'], 'forced longpoll');
    is([...new b.PushgateSubscriber('/sub/a', { transports: ['sse', 'bogus'] }).transports], ['eventsource'], 'sse alias, unknown ignored');
    const none = load({ features: { WebSocket: false } });
    const sub = new none.PushgateSubscriber('/sub/a', { transports: ['websocket'] });
    const ev = record(sub);
    sub.start();
    ok(ev.errors.length === 1 && ev.errors[0].code === 'no_transport', 'no usable transport is an error');
  }],

  ['all transports failing: wrap around with growing backoff', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a', { minDelay: 1000, maxDelay: 8000 });
    const ev = record(sub);
    sub.start();
    const seen = [];
    for (let round = 0; round < 5; round++) {
      lastWs(b).serverClose(1006, '');
      b.clock.advance(0);
      lastEs(b).error();
      b.clock.advance(0);
      const t0 = b.clock.now();
      lastXhr(b).respond(0, '');
      const before = b.log.ws.length;
      let waited = 0;
      while (b.log.ws.length === before && waited < 60000) { b.clock.advance(50); waited += 50; }
      seen.push(b.clock.now() - t0);
    }
    // attempts 3, 6, 9, 12, 15 -> steps 4 s, 8 s (max) ... half + 0.5*half
    is(seen, [3000, 6000, 6000, 6000, 6000], 'backoff grows to maxDelay, jittered');
    is(ev.connects, 0, 'never connected');
    lastWs(b).open();
    b.clock.advance(3000);
    lastWs(b).serverClose(1006, '');
    b.clock.advance(750);
    is(lastWs(b).readyState, 0, 'after a connection that worked the backoff starts over');
  }],

  ['a transport that worked is retried before falling back', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a', { maxRetries: 3 });
    record(sub);
    sub.start();
    lastWs(b).open();
    lastWs(b).message(env('1-1', 'a', 'x'));
    lastWs(b).serverClose(1001, '');
    for (let i = 0; i < 2; i++) {
      untilNew(b, 'ws');
      lastWs(b).serverClose(1006, '');
    }
    untilNew(b, 'ws');
    is([b.log.ws.length, b.log.es.length], [4, 0], 'websocket retried while under maxRetries');
    lastWs(b).serverClose(1006, '');
    b.clock.advance(0);
    is(b.log.es.length, 1, 'then eventsource');
    is(query(lastEs(b).url).last_event_id, '1-1', 'resuming across the switch');
  }],

  ['probe back to the better transport', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a', { probeInterval: 60000, proveTime: 3000, heartbeat: 1e9, pingInterval: 1e9 });
    const ev = record(sub);
    sub.start();
    lastWs(b).serverClose(1006, '');
    b.clock.advance(0);
    const es = lastEs(b);
    es.event('pushgate.open', '1-0');
    es.event('message', env('1-1', 'a', 'one'));
    is(ev.transports, ['eventsource'], 'on the fallback');
    b.clock.advance(59999);
    is(b.log.ws.length, 1, 'no probe before probeInterval (jittered)');
    b.clock.advance(1);
    is(b.log.ws.length, 2, 'probe of websocket');
    es.event('message', env('1-2', 'a', 'two'));
    is(query(lastWs(b).url).last_event_id, '1-1', 'probe starts from the cursor of its time');
    lastWs(b).serverClose(1006, '');
    is(ev.transports, ['eventsource'], 'failed probe changes nothing');
    ok(!es.closedByClient, 'SSE stays');
    untilNew(b, 'ws');
    const probe = lastWs(b);
    is(b.log.ws.length, 3, 'probed again later');
    is(query(probe.url).last_event_id, '1-2', 'with the newer cursor');
    probe.open();
    es.event('message', env('1-3', 'a', 'three'));
    probe.message(env('1-3', 'a', 'three'));
    is(ev.transports, ['eventsource', 'websocket'], 'switched on the first frame');
    ok(es.closedByClient, 'old SSE closed');
    probe.message(env('1-4', 'a', 'four'));
    es.event('message', env('1-5', 'a', 'late'));
    is(ids(ev), ['1-1', '1-2', '1-3', '1-4'], 'no duplicate across the switch, nothing from the closed stream');
    is(ev.disconnects.length, 0, 'no disconnect reported');
    b.clock.advance(600000);
    is(b.log.ws.length, 3, 'no more probes on the best transport');
  }],

  ['stop() and start()', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a');
    const ev = record(sub);
    sub.start();
    lastWs(b).open();
    sub.stop();
    ok(lastWs(b).closedByClient, 'socket closed');
    is(ev.disconnects.length, 1, 'disconnect on stop');
    is(sub.state, 'idle', 'idle');
    b.clock.advance(600000);
    is(b.log.ws.length, 1, 'nothing after stop');
    sub.start();
    is(b.log.ws.length, 2, 'start again');
    is(b.clock.pending() > 0, true, 'timers running');
    sub.stop();
    is(b.clock.pending(), 0, 'stop leaves no timer');
  }],

  ['websocket ping when quiet; dead without answer', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a', { pingInterval: 20000 });
    const ev = record(sub);
    sub.start();
    const ws = lastWs(b);
    ws.open();
    b.clock.advance(20000);
    is(ws.sent, ['{"type":"ping"}'], 'client ping after a quiet interval');
    ws.message({ type: 'pong' });
    b.clock.advance(20000);
    is(ev.disconnects.length, 0, 'pong keeps it alive');
    b.clock.advance(31000);
    is(ev.disconnects.length, 1, 'no answer: declared dead');
    ok(ws.closedByClient, 'and closed');
  }],

  ['server error frame, 1013', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a');
    const ev = record(sub);
    sub.start();
    lastWs(b).open();
    lastWs(b).message({ type: 'error', code: 'too_slow', reason: 'output cap' });
    is(ev.errors[0].code, 'too_slow', 'error frame reported');
    b.clock.advance(3000);
    lastWs(b).serverClose(1013, 'too slow');
    b.clock.advance(1999);
    is(b.log.ws.length, 1, '1013 waits longer than a plain reconnect');
    b.clock.advance(2000);
    is(b.log.ws.length, 2, 'then reconnects');
  }],

  ['publisher: websocket when open, else POST', async () => {
    const b = load();
    const pub = new b.PushgatePublisher('/pubsub/chat-1');
    const ws = lastWs(b);
    is(ws.url, 'ws://shop.example:8080/pubsub/chat-1', 'publisher socket URL');
    let res = null;
    pub.send('early', { event: 'chat' }, (err, info) => { res = [err, info]; });
    const x = lastXhr(b);
    is([x.method, x.url, x.body, x.reqHeaders['X-Event']], ['POST', '/pubsub/chat-1', 'early', 'chat'], 'POST before the socket is open');
    x.respond(201, '{"id":"1-1"}');
    is(res[0], null, 'callback without error');
    is(res[1].id, '1-1', 'with the id');
    ws.open();
    pub.send({ text: 'hi' }, { event: 'chat' }, (err, info) => { res = [err, info]; });
    is(JSON.parse(ws.sent[0]), { data: '{"text":"hi"}', event: 'chat' }, 'v1+json frame over the socket');
    b.clock.advance(0);
    is(res[1].transport, 'websocket', 'callback says websocket');
    const p2 = new b.PushgatePublisher('/pubsub/chat-1', { transports: ['longpoll'] });
    is(b.log.ws.length, 1, 'no socket when websocket is not allowed');
    p2.send('x', (err) => { res = [err]; });
    lastXhr(b).respond(403, '');
    ok(res[0] && res[0].message === 'HTTP 403', 'POST error reaches the callback');
    b.win.PushgateSubscriber.publish('/pubsub/chat-2', 'one-shot', () => {});
    is(lastXhr(b).url, '/pubsub/chat-2', 'PushgateSubscriber.publish posts');
    pub.close();
  }],

  ['plain ES5 (old browsers parse it)', async () => {
    const fs = require('fs');
    const path = require('path');
    for (const f of ['pushgate.js', 'demo.js']) {
      // Without comments, strings and regex-free enough for this check.
      const src = fs.readFileSync(path.join(__dirname, '..', '..', 'www', f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '')
        .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
      const found = ['=>', '`', /\blet\s/, /\bconst\s/, /\bclass\s/, /\.\.\.\w/, /\bPromise\b/, /\.forEach\(/, /\bObject\.keys\b/]
        .filter((pat) => (typeof pat === 'string' ? src.includes(pat) : pat.test(src)));
      is(found.map(String), [], `${f}: no ES2015+ syntax or ES5-only helpers old browsers lack`);
    }
  }],

  ['restart after the last channel was deleted', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a');
    const ev = record(sub);
    sub.start();
    lastWs(b).open();
    lastWs(b).serverClose(1000, 'channel deleted');
    sub.start();
    is(b.log.ws.length, 1, 'no connection to /sub/ without channels');
    is(ev.errors.map((e) => e.code), ['no_channel'], 'no_channel error');
  }],

  ['a throwing handler does not break delivery', async () => {
    const b = load();
    const sub = new b.PushgateSubscriber('/sub/a');
    const got = [];
    sub.on('message', () => { throw new Error('page bug'); });
    sub.on('message', (d) => got.push(d));
    sub.start();
    lastWs(b).open();
    lastWs(b).message(env('1-1', 'a', 'x'));
    lastWs(b).message(env('1-2', 'a', 'y'));
    is(got, ['x', 'y'], 'later handlers still run');
    let threw = 0;
    try { b.clock.advance(0); } catch (e) { threw++; }
    ok(threw === 1, 'the error is rethrown outside the client');
  }],
]);
