// The time from `controller.abort()` (or `interruptHandle.kill()`) to the rejection of the call it
// stops, measured on the main thread. Prints a Markdown table (median, p99, max).
//
//   polite: a spinning guest stopped by the engine's interrupt (sandbox not poisoned);
//   forced: a guest blocked in a host function (it cannot see the interrupt) killed after
//           abortGracePeriodMs: 0, so the figure is the kill's own latency (add the grace period
//           for the time a user waits);
//   kill(): interruptHandle.kill() on a spinning guest, for comparison (poisoned).
//
// Each guest first calls the host function `started`, so the stop is sent while it runs.
//
//   node tests/node/bench/abort-latency.mjs [iterations]
import { SandboxBuilder } from '@hyperlight/js-host-api';

const iterations = Number(process.argv[2] ?? 200);
let started = () => {};
const proto = await new SandboxBuilder().build();
proto.register('io', 'started', () => started());
proto.register('io', 'forever', () => new Promise(() => {}));
const js = await proto.loadRuntime();
js.addHandler(
  'spin',
  'import * as io from "host:io"; function handler() { io.started(); for (;;) {} }',
);
js.addHandler(
  'blocked',
  'import * as io from "host:io"; function handler() { io.started(); return io.forever(); }',
);
const loaded = await js.getLoadedSandbox();
const snapshot = await loaded.snapshot();

const sorted = (values) => [...values].sort((a, b) => a - b);
const at = (values, q) => values[Math.min(values.length - 1, Math.floor(values.length * q))];
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One call of `handler`, stopped by `stop` 2 ms after the guest said it started; µs to reject. */
async function once(handler, options, stop) {
  const running = new Promise((resolve) => {
    started = resolve;
  });
  const call = loaded.callHandler(handler, {}, options).then(
    () => {
      throw new Error('the call was not stopped');
    },
    (error) => {
      if (error.code !== 'ERR_CANCELLED') throw error;
      return process.hrtime.bigint();
    },
  );
  await running;
  await pause(2);
  const t0 = process.hrtime.bigint();
  stop();
  const t1 = await call;
  if (loaded.poisoned) await loaded.restore(snapshot);
  return Number(t1 - t0) / 1000;
}

async function measure(name, run) {
  for (let i = 0; i < 10; i++) await run();
  const samples = [];
  for (let i = 0; i < iterations; i++) samples.push(await run());
  const s = sorted(samples);
  console.log(
    `| ${name} | ${at(s, 0.5).toFixed(0)} µs | ${at(s, 0.99).toFixed(0)} µs | ${s[s.length - 1].toFixed(0)} µs |`,
  );
}

console.log(`${iterations} stops each, after 10 warm-up stops\n`);
console.log('| stop | abort → rejection, median | p99 | max |');
console.log('|---|---|---|---|');
await measure('AbortSignal, polite (spinning guest)', () => {
  const c = new AbortController();
  return once('spin', { signal: c.signal, abortGracePeriodMs: 60_000 }, () => c.abort());
});
await measure('AbortSignal, forced (guest blocked in a host call, grace 0)', () => {
  const c = new AbortController();
  return once('blocked', { signal: c.signal, abortGracePeriodMs: 0 }, () => c.abort());
});
await measure('interruptHandle.kill() (spinning guest)', () =>
  once('spin', {}, () => loaded.interruptHandle.kill()),
);
await loaded[Symbol.asyncDispose]();
