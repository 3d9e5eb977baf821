// tap.js — the few TAP helpers the Node tests of tests/browser share.
// Each assertion prints one "ok N - name" line; done() prints the plan and
// sets the exit code. Diagnostics go to "# " lines, which tap-driver.sh shows.
'use strict';
const util = require('util');

let count = 0;
let failed = 0;

function diag(text) {
  for (const line of String(text).split('\n')) console.log('# ' + line);
}

function ok(cond, name, detail) {
  count++;
  console.log(`${cond ? 'ok' : 'not ok'} ${count} - ${name}`);
  if (!cond) {
    failed++;
    if (detail !== undefined) diag(typeof detail === 'string' ? detail : util.inspect(detail, { depth: 6 }));
  }
  return !!cond;
}

function is(got, want, name) {
  const same = util.isDeepStrictEqual(got, want);
  return ok(same, name, same ? undefined :
    `got:  ${util.inspect(got, { depth: 6 })}\nwant: ${util.inspect(want, { depth: 6 })}`);
}

function skip(name, reason) {
  count++;
  console.log(`ok ${count} - ${name} # SKIP ${reason}`);
}

function skipAll(reason) {
  console.log(`1..0 # SKIP ${reason}`);
  process.exit(0);
}

function bail(reason) {
  console.log(`Bail out! ${reason}`);
  process.exit(1);
}

function done() {
  console.log(`1..${count}`);
  process.exitCode = failed ? 1 : 0;
}

// Run async sections in order; a section that throws is one failure, the rest still run.
async function run(sections) {
  for (const [name, fn] of sections) {
    try {
      await fn();
    } catch (err) {
      ok(false, `${name}: threw`, err && err.stack ? err.stack : String(err));
    }
  }
  done();
}

module.exports = { ok, is, skip, skipAll, bail, done, diag, run };
