// The cost of one warm callHandler() round trip from Node, against the time spent inside the Rust
// call (`lastCallStats.wallClockMs`, measured on the sandbox thread). Prints a Markdown table.
//
//   node tests/node/bench/round-trip.mjs [iterations]
import { SandboxBuilder } from '@hyperlight/js-host-api';

const iterations = Number(process.argv[2] ?? 3000);
const proto = await new SandboxBuilder().build();
proto.register('h', 'echo', (x) => x);
proto.register('h', 'echoAsync', async (x) => x);
const js = await proto.loadRuntime();
js.addHandler('echo', 'function handler(e) { return e; }');
js.addHandler('hostEcho', 'import * as h from "host:h"; function handler(e) { return h.echo(e); }');
js.addHandler(
  'hostEchoAsync',
  'import * as h from "host:h"; function handler(e) { return h.echoAsync(e); }',
);
const loaded = await js.getLoadedSandbox();

const sorted = (values) => [...values].sort((a, b) => a - b);
const at = (values, q) => values[Math.min(values.length - 1, Math.floor(values.length * q))];

async function measure(name, call) {
  for (let i = 0; i < 300; i++) await call();
  const total = [];
  const inside = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await call();
    total.push(Number(process.hrtime.bigint() - start) / 1000);
    inside.push(loaded.lastCallStats.wallClockMs * 1000);
  }
  const t = sorted(total);
  const r = sorted(inside);
  const median = at(t, 0.5);
  const rust = at(r, 0.5);
  console.log(
    `| ${name} | ${median.toFixed(1)} µs | ${at(t, 0.99).toFixed(1)} µs | ${rust.toFixed(1)} µs | ${(median - rust).toFixed(1)} µs |`,
  );
}

console.log(`${iterations} calls each, after 300 warm-up calls\n`);
console.log('| call | round trip, median | p99 | inside the Rust call, median | binding + hops |');
console.log('|---|---|---|---|---|');
await measure('echo `{a:1}`, gc: false', () => loaded.callHandler('echo', { a: 1 }, { gc: false }));
await measure('echo `{a:1}`, gc: true (default)', () => loaded.callHandler('echo', { a: 1 }));
await measure('echo + 1 sync host call, gc: false', () =>
  loaded.callHandler('hostEcho', { a: 1 }, { gc: false }),
);
await measure('echo + 1 async host call, gc: false', () =>
  loaded.callHandler('hostEchoAsync', { a: 1 }, { gc: false }),
);
await loaded[Symbol.asyncDispose]();
