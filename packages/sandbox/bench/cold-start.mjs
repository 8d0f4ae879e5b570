// Cold start of @hyperlight/sandbox's createSandbox against the binding's own path, measured in one
// run with the variants interleaved (so machine noise hits all alike):
//   node packages/sandbox/bench/cold-start.mjs [runs=100]   (after ./scripts/setup.sh)
// Each variant makes a sandbox with one echo handler ("ready"), then makes one call ("first
// result"), then releases it. Prints the median and p99 in milliseconds, the ratios against the
// binding's path, and the load average. Timings vary with the machine's load: read the ratios.
import { loadavg } from 'node:os';
import { SandboxBuilder } from '@hyperlight/js-host-api';
import { anyOf, cpuTime, signal, wallClock } from '@hyperlight/monitors';
import { createSandbox, defineSandbox } from '@hyperlight/sandbox';

const RUNS = Number(process.argv[2] ?? 100);
const ECHO = 'function handler(event) { return event; }';
const EVENT = { hello: 'world' };

/** The binding's four steps to a loaded sandbox (no snapshot). */
async function binding(withSnapshot) {
  const proto = await new SandboxBuilder().build();
  const js = await proto.loadRuntime();
  js.addHandler('h', ECHO);
  const loaded = await js.getLoadedSandbox();
  if (withSnapshot) await loaded.snapshot();
  return {
    call: () => loaded.callHandler('h', EVENT, { gc: false }),
    close: () => loaded[Symbol.asyncDispose](),
  };
}

const plain = defineSandbox({ handlers: { h: ECHO } });
const never = new AbortController();
const limited = defineSandbox({
  handlers: { h: ECHO },
  loadLimits: anyOf(wallClock(10_000), cpuTime(10_000), signal(never.signal)),
  printSink: () => {},
});

async function sdk(definition, options) {
  const sandbox = await createSandbox(definition, options);
  return {
    call: () => sandbox.call('h', EVENT, { gc: false }),
    close: () => sandbox.close(),
  };
}

const variants = {
  'binding: build → loadRuntime → addHandler → getLoadedSandbox': () => binding(false),
  'binding: the same + snapshot()': () => binding(true),
  'createSandbox(definition)': () => sdk(plain),
  'createSandbox, loadLimits (wall, cpu, signal) + printSink + { signal }': () =>
    sdk(limited, { signal: never.signal }),
};

const now = () => Number(process.hrtime.bigint()) / 1e6;
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, { ready: [], first: [] }]));

// Warm-up: the first sandboxes of a process pay for the binding's load and thread start.
for (const make of Object.values(variants)) {
  const s = await make();
  await s.call();
  await s.close();
}
const load = loadavg()[0];
for (let i = 0; i < RUNS; i++) {
  for (const [name, make] of Object.entries(variants)) {
    const t = now();
    const s = await make();
    const ready = now();
    await s.call();
    const first = now();
    await s.close();
    times[name].ready.push(ready - t);
    times[name].first.push(first - t);
  }
}

const stat = (values) => {
  const v = [...values].sort((a, b) => a - b);
  const at = (q) => v[Math.min(v.length - 1, Math.round((v.length - 1) * q))];
  return { median: at(0.5), p99: at(0.99) };
};
const base = Object.keys(variants)[0];
const baseReady = stat(times[base].ready).median;
const baseFirst = stat(times[base].first).median;
const f = (x) => x.toFixed(2);
console.log(
  `cold start, ${RUNS} runs per variant, interleaved; load average ${loadavg()[0].toFixed(1)} (${load.toFixed(1)} at start)\n`,
);
console.log(
  '| variant | ready: median (p99) ms | × binding | first result: median (p99) ms | × binding |',
);
console.log('|---|---|---|---|---|');
for (const [name, t] of Object.entries(times)) {
  const r = stat(t.ready);
  const q = stat(t.first);
  console.log(
    `| ${name} | ${f(r.median)} (${f(r.p99)}) | ${f(r.median / baseReady)}× | ${f(q.median)} (${f(q.p99)}) | ${f(q.median / baseFirst)}× |`,
  );
}
