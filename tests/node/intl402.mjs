// A local test262 intl402 runner through the Node binding, used until the repository's
// test262 runner (crates/test262-runner, `--intl402`) landed. Usage, from the repository root,
// after building the binding and unpacking the suite:
//   tar -xJf ../shared/conformance/test262/test262.tar.xz -C /tmp/t262 test/intl402 harness
//   node tests/node/intl402.mjs [path prefix under test/intl402]
// Prints the pass rate per constructor; writes every result to $INTL262_OUT (default
// /tmp/intl402-results.json). Scripts run with indirect eval in a loaded sandbox restored to a
// snapshot before each test; $262.createRealm is absent.

import fs from 'node:fs';
import path from 'node:path';
import { SandboxBuilder } from '@hyperlight/js-host-api';

const ROOT = process.env.TEST262_DIR || '/tmp/t262';
const files = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith('.js') && !p.includes('_FIXTURE')) files.push(p);
  }
};
walk(path.join(ROOT, 'test/intl402'));
files.sort();
const harness = (n) => fs.readFileSync(path.join(ROOT, 'harness', n), 'utf8');
const meta = (src) => {
  const m = /\/\*---([\s\S]*?)---\*\//.exec(src);
  const y = m ? m[1] : '';
  const list = (k) => {
    const r = new RegExp(`${k}:\\s*\\[([^\\]]*)\\]`).exec(y);
    if (r)
      return r[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    const r2 = new RegExp(`${k}:\\s*\\n((?:\\s+-\\s*.*\\n)+)`).exec(y);
    return r2
      ? r2[1]
          .split('\n')
          .map((s) => s.replace(/^\s*-\s*/, '').trim())
          .filter(Boolean)
      : [];
  };
  const neg = /negative:\s*\n\s*phase:\s*(\w+)\s*\n\s*type:\s*(\w+)/.exec(y);
  return {
    includes: list('includes'),
    flags: list('flags'),
    features: list('features'),
    negative: neg ? { phase: neg[1], type: neg[2] } : null,
  };
};
const HANDLER = `async function handler(e) {
  let done; const p = new Promise((r) => (done = r));
  globalThis.$DONE = (err) => done(err === undefined ? 'ok' : 'fail: ' + (err && err.message ? err.name + ': ' + err.message : String(err)));
  globalThis.$262 = { global: globalThis, gc() {}, evalScript(s) { return (0, eval)(s); }, detachArrayBuffer() { throw new Test262Error('no detach'); } };
  try { (0, eval)(e.src); } catch (x) { return { ok: false, name: x && x.name, msg: String(x && x.message).slice(0, 200) }; }
  if (e.async) { const r = await Promise.race([p, new Promise((r) => setTimeout(() => r('fail: async timeout'), 2000))]); return r === 'ok' ? { ok: true } : { ok: false, name: 'async', msg: r.slice(0, 200) }; }
  return { ok: true };
}`;
const proto = await new SandboxBuilder()
  .setHeapSize(64 << 20)
  .setInputBufferSize(4 << 20)
  .build();
const sb = await proto.loadRuntime();
sb.addHandler('run', HANDLER);
const loaded = await sb.getLoadedSandbox();
const snap = await loaded.snapshot();
const results = [];
const filter = process.argv[2];
for (const f of files) {
  const rel = path.relative(path.join(ROOT, 'test/intl402'), f);
  if (filter && !rel.startsWith(filter)) continue;
  const src = fs.readFileSync(f, 'utf8');
  const m = meta(src);
  let status,
    why = '';
  if (m.flags.includes('raw')) {
    status = 'skip';
    why = 'raw';
  } else if (m.features.includes('Temporal') || rel.startsWith('Temporal/')) {
    status = 'skip';
    why = 'Temporal: not in the engine';
  } else {
    let code =
      harness('assert.js') +
      harness('sta.js') +
      (m.flags.includes('async') ? harness('doneprintHandle.js') : '');
    for (const i of m.includes) code += harness(i);
    code = `${(m.flags.includes('onlyStrict') ? '"use strict";\n' : '') + code}\n${src}`;
    try {
      const r = await loaded.callHandler(
        'run',
        { src: code, async: m.flags.includes('async') },
        { wallClockTimeoutMs: 5000 },
      );
      if (m.negative) {
        status = !r.ok && r.name === m.negative.type ? 'pass' : 'fail';
        why = r.ok ? 'did not throw' : `${r.name}: ${r.msg}`;
      } else {
        status = r.ok ? 'pass' : 'fail';
        why = r.ok ? '' : `${r.name}: ${r.msg}`;
      }
    } catch (e) {
      status = 'fail';
      why = `host: ${e.code}: ${String(e.message).slice(0, 150)}`;
    }
    await loaded.restore(snap);
  }
  results.push({ rel, status, why, features: m.features });
}
fs.writeFileSync(
  process.env.INTL262_OUT || '/tmp/intl402-results.json',
  JSON.stringify(results, null, 1),
);
const by = {};
for (const r of results) {
  const k = r.rel.split('/')[0];
  by[k] ??= { pass: 0, fail: 0, skip: 0 };
  by[k][r.status]++;
}
let tp = 0,
  tf = 0;
for (const [k, v] of Object.entries(by)) {
  tp += v.pass;
  tf += v.fail;
  console.log(
    `${k.padEnd(22)} ${v.pass}/${v.pass + v.fail} ${((100 * v.pass) / Math.max(1, v.pass + v.fail)).toFixed(1)}%`,
  );
}
console.log(`total ${tp}/${tp + tf} ${((100 * tp) / (tp + tf)).toFixed(1)}%`);
