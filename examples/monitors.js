// Monitors as values: limits raced with anyOf (the first to fire ends the call and names it),
// a custom monitor watching host calls, fail-closed starts, and the termination hook feeding
// Prometheus metrics through prom-client (the Rust crate's monitor_terminations_total).
import { SandboxBuilder } from '@hyperlight/js-host-api';
import {
  anyOf,
  cpuTime,
  createCallObserver,
  hostCallBudget,
  monitor,
  monitorSandbox,
  wallClock,
} from '@hyperlight/monitors';
import { Counter, Histogram, Registry } from 'prom-client';

const registry = new Registry();
const terminations = new Counter({
  name: 'monitor_terminations_total',
  help: 'Handler calls ended by a monitor',
  labelNames: ['monitor_type', 'handler'],
  registers: [registry],
});
const elapsed = new Histogram({
  name: 'monitor_termination_elapsed_seconds',
  help: 'How long a call ran before a monitor ended it',
  labelNames: ['monitor_type'],
  buckets: [0.01, 0.1, 1, 10],
  registers: [registry],
});

// Host functions registered through an observer are seen by the monitors.
const observer = createCallObserver();
const proto = observer.instrument(await new SandboxBuilder().build());
const table = new Map();
proto
  .hostModule('db')
  .register('get', (key) => table.get(key) ?? null)
  .register('put', (key, value) => void table.set(key, value));
const js = await proto.loadRuntime();
js.addHandler(
  'scan',
  `import * as db from 'host:db';
   function handler(event) { const rows = []; for (let i = 0; i < event.n; i++) rows.push(db.get(i)); return rows.length; }`,
);
js.addHandler(
  'save',
  `import * as db from 'host:db';
   function handler(event) { db.put(event.key, event.value); return db.get(event.key); }`,
);
js.addHandler('spin', 'function handler() { for (;;) {} }');
const loaded = await js.getLoadedSandbox();
const snapshot = await loaded.snapshot();
const sandbox = monitorSandbox(loaded, {
  observer,
  onTermination: ({ monitor: name, handler, elapsedMs }) => {
    terminations.inc({ monitor_type: name, handler });
    elapsed.observe({ monitor_type: name }, elapsedMs / 1000);
  },
});

// A custom monitor: read-only calls; a call to db.put is killed before the write happens.
const readOnly = monitor('read-only', (ctx) => {
  ctx.onHostCall(({ module, function: fn }) => {
    if (module === 'db' && fn === 'put') ctx.kill(`${ctx.handler} tried to write`);
  });
});
const limits = anyOf(wallClock(2000), cpuTime(200), hostCallBudget(100));

const show = async (what, promise) => {
  try {
    console.log(`${what}: ok, ${await promise}`);
  } catch (error) {
    const by = error.terminatedBy ? `terminated by ${error.terminatedBy}` : error.monitorName;
    console.log(`${what}: ${error.code} (${by})`);
    if (loaded.poisoned) await loaded.restore(snapshot);
  }
};
await show('scan 10 rows', sandbox.call('scan', { n: 10 }, { monitors: limits }));
await show('scan 1000 rows', sandbox.call('scan', { n: 1000 }, { monitors: limits }));
await show('spin', sandbox.call('spin', {}, { monitors: limits }));
await show('save', sandbox.call('save', { key: 'a', value: 1 }, { monitors: limits }));
await show(
  'save, read-only',
  sandbox.call('save', { key: 'b', value: 2 }, { monitors: anyOf(limits, readOnly) }),
);
console.log(`rows written: ${[...table.keys()].join(', ')}`);
const broken = monitor('broken', () => {
  throw new Error('no metrics backend');
});
await show('a monitor that cannot start', sandbox.call('scan', { n: 1 }, { monitors: broken }));

const text = await registry.metrics();
for (const line of text.split('\n').filter((l) => l.startsWith('monitor_terminations_total'))) {
  console.log(line);
}
await loaded[Symbol.asyncDispose]();
