// What a validated host function costs over a plain one, per guest → host call:
//   node packages/host-modules/bench/overhead.mjs   (after ./scripts/setup.sh)
// One handler call makes CALLS host calls; each variant runs ROUNDS handler calls after a warm-up,
// interleaved with the others.
// Prints the median and p99 per host call in microseconds. Timings vary with the machine's load.
import { defineHostModule, hostFunction } from '@hyperlight/host-modules';
import { SandboxBuilder } from '@hyperlight/js-host-api';
import { z } from 'zod';

const CALLS = 200;
const ROUNDS = 60;
const user = { id: 'u1', name: 'Ada', tags: ['a', 'b'] };
const User = z.object({ id: z.string(), name: z.string(), tags: z.array(z.string()) });

const variants = {
  'binding register (no wrapper)': (proto) => proto.register('db', 'put', (u) => u.id),
  'defineHostModule, plain function': (proto) =>
    defineHostModule('db', { put: (u) => u.id }).install(proto),
  'hostFunction, zod object schema': (proto) =>
    defineHostModule('db', { put: hostFunction({ args: [User], handler: (u) => u.id }) }).install(
      proto,
    ),
  'hostFunction, zod schema + timeoutMs': (proto) =>
    defineHostModule('db', {
      put: hostFunction({ args: [User], timeoutMs: 1000, handler: (u) => u.id }),
    }).install(proto),
};

const HANDLER = `import { put } from 'host:db';
function handler(event) { for (let i = 0; i < ${CALLS}; i++) put(event.user); return ${CALLS}; }`;

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p99: at(0.99) };
}

// All variants are loaded at once and measured round-robin, so a change in the machine's load
// (it is shared) hits every variant alike.
const loadedByName = {};
for (const [name, install] of Object.entries(variants)) {
  const proto = await new SandboxBuilder().build();
  install(proto);
  const sandbox = await proto.loadRuntime();
  sandbox.addHandler('h', HANDLER);
  loadedByName[name] = await sandbox.getLoadedSandbox();
  for (let i = 0; i < 5; i++) await loadedByName[name].callHandler('h', { user });
}
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, loaded] of Object.entries(loadedByName)) {
    const start = process.hrtime.bigint();
    await loaded.callHandler('h', { user }, { gc: false });
    samples[name].push(Number(process.hrtime.bigint() - start) / 1000 / CALLS);
  }
}
const rows = [];
for (const [name, loaded] of Object.entries(loadedByName)) {
  await loaded[Symbol.asyncDispose]();
  rows.push({ name, ...stats(samples[name]) });
}
const base = rows[0].median;
console.log(`host call cost, ${CALLS} calls per handler call, ${ROUNDS} rounds\n`);
console.log('| variant | median µs/call | p99 µs/call | vs binding |');
console.log('|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.median.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.median / base).toFixed(2)}x |`,
  );
}
