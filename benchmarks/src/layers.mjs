// The SDK layers against the binding they are built on, measured in the same run:
// - cold start: @hyperlight/sandbox's createSandbox (build, load, snapshot) → first result, against
//   the binding's own path (build → loadRuntime → addHandler → getLoadedSandbox) → first result;
// - one warm call through sandbox.call (monitors wrapper, reset policy) against callHandler;
// - aggregate calls/s of createPool({ size: 8 }) against 8 bare sandboxes driven directly.
// Measurements alternate between the two sides so machine noise hits both alike.
import { createPool, createSandbox } from '@hyperlight/sandbox';
import * as hyperlight from './engines/hyperlight.mjs';
import { nowMs, summarize } from './stats.mjs';
import { ECHO, EVENT } from './workloads.mjs';

const definition = { handlers: { h: ECHO } };

/** Cold start of both paths, alternating, in µs. */
export async function coldStarts(n) {
  const binding = [];
  const sdk = [];
  for (let i = 0; i < n; i++) {
    let t = nowMs();
    const s = await hyperlight.create(ECHO);
    await s.call(EVENT);
    binding.push((nowMs() - t) * 1000);
    await s.dispose();
    t = nowMs();
    const sandbox = await createSandbox(definition);
    await sandbox.call('h', EVENT, { gc: false });
    sdk.push((nowMs() - t) * 1000);
    await sandbox.close();
  }
  return { binding: summarize(binding), sdk: summarize(sdk) };
}

/** One warm echo call each way, alternating, in µs. */
export async function warmCalls(n) {
  const bare = await hyperlight.create(ECHO);
  const sandbox = await createSandbox(definition);
  for (let i = 0; i < 200; i++) {
    await bare.call(EVENT);
    await sandbox.call('h', EVENT, { gc: false });
  }
  const binding = [];
  const sdk = [];
  for (let i = 0; i < n; i++) {
    let t = nowMs();
    await bare.call(EVENT);
    binding.push((nowMs() - t) * 1000);
    t = nowMs();
    await sandbox.call('h', EVENT, { gc: false });
    sdk.push((nowMs() - t) * 1000);
  }
  await bare.dispose();
  await sandbox.close();
  return { binding: summarize(binding), sdk: summarize(sdk) };
}

async function drive(callers, call, ms) {
  const end = nowMs() + ms;
  let calls = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      while (nowMs() < end) {
        await call(i);
        calls++;
      }
    }),
  );
  return calls / (ms / 1000);
}

/** Aggregate calls/s: 8 bare sandboxes (one caller each) vs a pool of 8 (8 and 32 callers). */
export async function throughput(ms, rounds) {
  const bare = [];
  for (let i = 0; i < 8; i++) bare.push(await hyperlight.create(ECHO));
  const pool = await createPool(definition, { size: 8 });
  const out = { bare: [], pool8: [], pool32: [] };
  for (let r = 0; r < rounds; r++) {
    out.bare.push(await drive(8, (i) => bare[i].call(EVENT), ms));
    out.pool8.push(await drive(8, () => pool.call('h', EVENT, { gc: false }), ms));
    out.pool32.push(await drive(32, () => pool.call('h', EVENT, { gc: false }), ms));
  }
  for (const s of bare) await s.dispose();
  await pool.close();
  return {
    bare: summarize(out.bare),
    pool8: summarize(out.pool8),
    pool32: summarize(out.pool32),
  };
}

/** All layer measures; `quick` takes fewer samples. */
export async function measureLayers(quick) {
  return {
    cold: await coldStarts(quick ? 5 : 30),
    warm: await warmCalls(quick ? 300 : 3000),
    throughput: await throughput(quick ? 500 : 2000, quick ? 1 : 3),
  };
}

const f = (x, d = 1) => Number(x).toFixed(d);

/** The markdown table of the layer measures. */
export function renderLayers(m) {
  const { cold, warm, throughput: t } = m;
  return [
    '## SDK layers: @hyperlight/sandbox against the binding',
    '',
    '| measure | binding (@hyperlight/js-host-api) | @hyperlight/sandbox | ratio |',
    '|---|---|---|---|',
    `| cold start → first result (createSandbox incl. its snapshot) | ${f(cold.binding.median)} µs (p99 ${f(cold.binding.p99)}), n=${cold.binding.n} | ${f(cold.sdk.median)} µs (p99 ${f(cold.sdk.p99)}), n=${cold.sdk.n} | ${f(cold.sdk.median / cold.binding.median, 2)}× |`,
    `| warm echo call (callHandler vs sandbox.call) | ${f(warm.binding.median)} µs (p99 ${f(warm.binding.p99)}), n=${warm.binding.n} | ${f(warm.sdk.median)} µs (p99 ${f(warm.sdk.p99)}), n=${warm.sdk.n} | ${f(warm.sdk.median / warm.binding.median, 2)}× |`,
    `| aggregate calls/s, 8 sandboxes, 8 callers (bare vs createPool size 8) | ${f(t.bare.median, 0)} calls/s, rounds=${t.bare.n} | ${f(t.pool8.median, 0)} calls/s | ${f(t.pool8.median / t.bare.median, 2)}× |`,
    `| aggregate calls/s, pool of 8, 32 callers (queue in use) | | ${f(t.pool32.median, 0)} calls/s | ${f(t.pool32.median / t.bare.median, 2)}× |`,
    '',
  ].join('\n');
}
