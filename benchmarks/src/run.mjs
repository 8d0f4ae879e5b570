// Side-by-side benchmarks: hyperlight-js against isolated-vm,
// quickjs-emscripten (RELEASE_SYNC) and node:vm, measured in one run on
// this machine, plus the raw KVM exit floor measured by the VM layer's own
// benchmark in the same run. Prints markdown and writes docs/benchmarks.md.
//
// Run from the repository root: pnpm --filter @hyperlight/benchmarks bench
// (the README names the command). Quick mode: BENCH_QUICK=1. Only the SDK layers' lines
// (@hyperlight/sandbox against the binding): BENCH_ONLY=layers.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as hyperlight from './engines/hyperlight.mjs';
import * as ivm from './engines/isolated-vm.mjs';
import * as nodevm from './engines/node-vm.mjs';
import * as quickjs from './engines/quickjs-emscripten.mjs';
import { measureLayers, renderLayers } from './layers.mjs';
import { nativeFib } from './native.mjs';
import { nowMs, pss, summarize, timeEach } from './stats.mjs';
import { ECHO, EVENT, FIB, HOST_CALLS, SMALL, SPIN } from './workloads.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const QUICK = process.env.BENCH_QUICK === '1';
const N = (full, quick) => (QUICK ? quick : full);
const ENGINES = [hyperlight, ivm, quickjs, nodevm];

const log = (...a) => console.error('[bench]', ...a);
const fmt = (x, digits = 1) => (x === undefined || x === null ? 'n/a' : Number(x).toFixed(digits));

/** results[measure][engine] = { median, p99, n, unit } */
const results = {};
function record(measure, engine, values, unit) {
  results[measure] ??= {};
  results[measure][engine] = { ...summarize(values), unit };
}

async function coldStart(e) {
  const times = [];
  for (let i = 0; i < N(30, 5); i++) {
    const t = nowMs();
    const s = await e.create(ECHO);
    await s.call(EVENT);
    times.push((nowMs() - t) * 1000);
    // Tearing the sandbox down is not part of its cold start.
    await s.dispose();
  }
  record('cold start (create → first result)', e.name, times, 'µs');
}

async function warm(e) {
  const s = await e.create(ECHO);
  for (let i = 0; i < 200; i++) await s.call(EVENT);
  record('warm echo call', e.name, await timeEach(N(3000, 300), () => s.call(EVENT)), 'µs');
  await s.dispose();
  const f = await e.create(FIB);
  record('fib(25)', e.name, await timeEach(N(10, 3), () => f.call({ n: 25 })), 'µs');
  await f.dispose();
  const h = await e.create(HOST_CALLS, { host: true });
  await h.call({ n: 10 });
  const per = (await timeEach(N(10, 3), () => h.call({ n: 1000 }))).map((t) => t / 1000);
  record('one host call (1000 per handler)', e.name, per, 'µs');
  // One host call inside a warm call: the round trip a user sees (handler + host function).
  const one = await timeEach(N(3000, 300), () => h.call({ n: 1 }));
  record('warm call with one host call', e.name, one, 'µs');
  await h.dispose();
}

async function snapshots(e) {
  if (e !== hyperlight) return;
  const s = await e.create(SMALL);
  await s.call(EVENT);
  record('snapshot', e.name, await timeEach(N(50, 10), () => s.snapshot()), 'µs');
  const snap = await s.snapshot();
  const restores = [];
  for (let i = 0; i < N(500, 50); i++) {
    await s.call(EVENT);
    const t = nowMs();
    await s.restore(snap);
    restores.push((nowMs() - t) * 1000);
  }
  record('restore after a small handler', e.name, restores, 'µs');
  await s.dispose();
}

async function kills(e) {
  const s = await e.create(SPIN);
  const snap = s.snapshot ? await s.snapshot() : undefined;
  const late = [];
  for (let i = 0; i < N(10, 3); i++) {
    const t = nowMs();
    await s.callWithWallClock(EVENT, 100).then(
      () => {
        throw new Error(`${e.name}: the spinning handler returned`);
      },
      () => {},
    );
    late.push(nowMs() - t - 100);
    if (snap) await s.restore(snap);
  }
  record('wall-clock kill at 100 ms: returned after the deadline', e.name, late, 'ms');
  if (s.callWithCpu) {
    const over = [];
    for (let i = 0; i < N(10, 3); i++) {
      const cpu = await s.callWithCpu(EVENT, 100);
      over.push(cpu - 100);
      if (snap) await s.restore(snap);
    }
    record('CPU-time limit 100 ms: CPU used past the limit', e.name, over, 'ms');
  }
  await s.dispose();
}

async function density(e, n) {
  const before = pss();
  const t = nowMs();
  const all = [];
  for (let i = 0; i < n; i++) {
    const s = await e.create(ECHO);
    await s.call(EVENT);
    all.push(s);
  }
  const took = nowMs() - t;
  const per = (pss() - before) / n / (1024 * 1024);
  results[`PSS per loaded sandbox, ${n} alive`] ??= {};
  results[`PSS per loaded sandbox, ${n} alive`][e.name] = {
    median: per,
    p99: undefined,
    n,
    unit: 'MiB',
    note: `${(took / 1000).toFixed(1)} s to create`,
  };
  for (const s of all) await s.dispose();
}

async function throughput(e, label = 'aggregate calls/s, 8 sandboxes, both cores') {
  const sandboxes = [];
  for (let i = 0; i < 8; i++) sandboxes.push(await e.create(ECHO));
  const ms = N(2000, 500);
  const end = nowMs() + ms;
  let calls = 0;
  await Promise.all(
    sandboxes.map(async (s) => {
      while (nowMs() < end) {
        await s.call(EVENT);
        calls++;
      }
    }),
  );
  results[label] ??= {};
  results[label][e.name] = {
    median: calls / (ms / 1000),
    n: calls,
    unit: 'calls/s',
  };
  for (const s of sandboxes) await s.dispose();
}

/**
 * The same warm calls while two CPU-bound processes run (one per core of this 2-core machine):
 * what a busy host does to each engine, measured in the same run.
 */
async function contention() {
  const hogs = Array.from({ length: os.cpus().length }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  try {
    // Let the scheduler (and the kernel's CPU pressure average) see the load.
    await new Promise((r) => setTimeout(r, 2000));
    for (const e of ENGINES) {
      log(`${e.name}: warm calls and throughput with both cores busy`);
      const s = await e.create(ECHO);
      for (let i = 0; i < 100; i++) await s.call(EVENT);
      record(
        'warm echo call, both cores busy',
        e.name,
        await timeEach(N(2000, 300), () => s.call(EVENT)),
        'µs',
      );
      await s.dispose();
      await throughput(e, 'aggregate calls/s, 8 sandboxes, both cores busy');
    }
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
  }
}

/** The engine itself: fib(25) in the guest against the same QuickJS-ng built natively. */
function engineRatio() {
  const native = nativeFib(ROOT, N(10, 3));
  results['fib(25)'] ??= {};
  results['fib(25)'][`native QuickJS-ng ${native.version}`] = {
    ...summarize(native.times),
    unit: 'µs',
  };
  return native.version;
}

/** The raw exit floor, from the VM layer's benchmark run now. */
function exitFloor() {
  log('measuring the raw exit floor (cargo bench -p hyperlight-vm --bench vm)');
  const out = execFileSync('cargo', ['bench', '-q', '-p', 'hyperlight-vm', '--bench', 'vm'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const row = out.split('\n').find((l) => l.includes('the floor'));
  // "| … the floor | 24.7 µs | 1.35 ms | n |": each cell a number and a unit (µs or ms).
  const m = row && /\|\s*([\d.]+)\s*(µs|ms)\s*\|\s*([\d.]+)\s*(µs|ms)/.exec(row);
  if (!m) throw new Error(`could not find the floor row in the VM benchmark output:\n${out}`);
  const us = (v, unit) => Number(v) * (unit === 'ms' ? 1000 : 1);
  return { median: us(m[1], m[2]), p99: us(m[3], m[4]) };
}

let engineVersion;

async function main() {
  if (process.env.BENCH_ONLY === 'layers') {
    // Only the SDK layers' lines, printed (docs/benchmarks.md is left as it is).
    console.log(renderLayers(await measureLayers(QUICK)));
    return;
  }
  const floor = exitFloor();
  for (const e of ENGINES) {
    log(`${e.name}: cold start, warm calls, host calls`);
    await coldStart(e);
    await warm(e);
    await snapshots(e);
    log(`${e.name}: kill latency`);
    await kills(e);
    log(`${e.name}: throughput`);
    await throughput(e);
    for (const n of [100, N(1000, 200)]) {
      log(`${e.name}: density ${n}`);
      await density(e, n);
    }
  }
  log('contention: two CPU-bound processes');
  await contention();
  log('native QuickJS-ng fib(25)');
  engineVersion = engineRatio();
  log('SDK layers: createSandbox, sandbox.call, createPool');
  const layers = await measureLayers(QUICK);
  const md = `${render(floor)}\n${renderLayers(layers)}`;
  console.log(md);
  writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), md);
  log('wrote docs/benchmarks.md');
}

function render(floor) {
  const lines = [];
  const names = ENGINES.map((e) => e.name);
  const native = `native QuickJS-ng ${engineVersion}`;
  lines.push('# Benchmarks: hyperlight-js side by side');
  lines.push('');
  lines.push(
    `Generated by \`pnpm --filter @hyperlight/benchmarks bench\` on ${new Date().toISOString().slice(0, 10)}.`,
  );
  lines.push(
    `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}; Node ${process.version}${QUICK ? '; QUICK mode (few samples)' : ''}.`,
  );
  lines.push(`Isolation: ${ENGINES.map((e) => `${e.name} = ${e.isolation}`).join('; ')}.`);
  lines.push(
    `Load average when the run ended: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ', ',
      )} (1, 5, 15 min; on ${os.cpus().length} cores). Under load the spins back off (docs/warm-path.md), so the warm path only shows on a quiet machine.`,
  );
  lines.push(
    `"both cores busy": the same measures while ${os.cpus().length} CPU-bound processes run (one per core). "${native}": the QuickJS-ng sources the guest is built from, compiled natively with the guest's -O3 (benchmarks/native/fib.c).`,
  );
  lines.push(
    'PSS: proportional set size (shared pages divided among their mappings), from /proc/self/smaps_rollup.',
  );
  lines.push('');
  lines.push(
    `Raw KVM exit round trip (the floor), measured in the same run: median ${floor.median} µs, p99 ${floor.p99} µs.`,
  );
  lines.push('');
  lines.push(`| measure | ${names.join(' | ')} | ${native} | hyperlight / floor |`);
  lines.push(`|---|${names.map(() => '---').join('|')}|---|---|`);
  const cell = (r) => {
    if (!r) return 'n/a';
    const p99 = r.p99 === undefined ? '' : ` (p99 ${fmt(r.p99)})`;
    const note = r.note ? `, ${r.note}` : '';
    return `${fmt(r.median, r.unit === 'calls/s' ? 0 : r.unit === 'MiB' ? 2 : 1)} ${r.unit}${p99}, n=${r.n}${note}`;
  };
  for (const [measure, per] of Object.entries(results)) {
    const h = per['hyperlight-js'];
    const ratio = h && h.unit === 'µs' ? `${(h.median / floor.median).toFixed(2)}×` : '';
    lines.push(
      `| ${measure} | ${names.map((n) => cell(per[n])).join(' | ')} | ${per[native] ? cell(per[native]) : ''} | ${ratio} |`,
    );
  }
  lines.push('');
  lines.push(`## Budget (this machine: floor ${floor.median} µs in this run)`);
  lines.push('');
  lines.push('| line | target | measured | |');
  lines.push('|---|---|---|---|');
  const at = (m, engine = 'hyperlight-js') => results[m]?.[engine]?.median;
  const h = (m) => at(m);
  const budget = [
    [
      'warm echo through the Node API',
      '≤ 10 µs median, whatever the floor',
      h('warm echo call'),
      (v) => v <= 10,
      'µs',
    ],
    [
      'one host call',
      '≤ 10 µs median, whatever the floor',
      h('one host call (1000 per handler)'),
      (v) => v <= 10,
      'µs',
    ],
    [
      'restore after a small handler',
      `≤ 5× floor (${(5 * floor.median).toFixed(1)} µs)`,
      h('restore after a small handler'),
      (v) => v <= 5 * floor.median,
      'µs',
    ],
    [
      'cold start from Node, back to back',
      '≤ 1 ms median (pool warm)',
      h('cold start (create → first result)'),
      (v) => v <= 1000,
      'µs',
    ],
    [
      'wall-clock kill',
      '≤ 2 ms after the deadline',
      h('wall-clock kill at 100 ms: returned after the deadline'),
      (v) => v <= 2,
      'ms',
    ],
    [
      'warm echo, both cores busy',
      `≤ isolated-vm's (${fmt(at('warm echo call, both cores busy', 'isolated-vm'))} µs)`,
      h('warm echo call, both cores busy'),
      (v) => v <= (at('warm echo call, both cores busy', 'isolated-vm') ?? 0),
      'µs',
    ],
    [
      'calls/s of 8 sandboxes, both cores busy',
      `≥ isolated-vm's (${fmt(at('aggregate calls/s, 8 sandboxes, both cores busy', 'isolated-vm'), 0)} calls/s)`,
      h('aggregate calls/s, 8 sandboxes, both cores busy'),
      (v) =>
        v >= (at('aggregate calls/s, 8 sandboxes, both cores busy', 'isolated-vm') ?? Infinity),
      'calls/s',
    ],
    [
      'calls/s of 8 sandboxes, idle',
      `≥ isolated-vm's (${fmt(at('aggregate calls/s, 8 sandboxes, both cores', 'isolated-vm'), 0)} calls/s)`,
      h('aggregate calls/s, 8 sandboxes, both cores'),
      (v) => v >= (at('aggregate calls/s, 8 sandboxes, both cores', 'isolated-vm') ?? Infinity),
      'calls/s',
    ],
    [
      'fib(25) in the guest against native QuickJS-ng',
      '≤ 1.1×',
      h('fib(25)') && at('fib(25)', native) ? h('fib(25)') / at('fib(25)', native) : undefined,
      (v) => v <= 1.1,
      '×',
    ],
    [
      `PSS per loaded sandbox, ${N(1000, 200)} alive`,
      '≤ 1.0 MiB at default sizes',
      h(`PSS per loaded sandbox, ${N(1000, 200)} alive`),
      (v) => v <= 1.0,
      'MiB',
    ],
  ];
  for (const [line, target, v, ok, unit] of budget) {
    lines.push(
      `| ${line} | ${target} | ${fmt(v, 2)} ${unit} | ${v === undefined ? 'not measured' : ok(v) ? 'met' : 'not met'} |`,
    );
  }
  const thousand = results[`PSS per loaded sandbox, ${N(1000, 200)} alive`]?.['hyperlight-js'];
  lines.push(
    `| ${N(1000, 200)} loaded sandboxes in one process | ${N(1000, 200)} | ${thousand ? `${thousand.n} (${fmt(thousand.median, 2)} MiB each, ${thousand.note})` : 'not measured'} | ${thousand?.n === N(1000, 200) ? 'met' : 'not met'} |`,
  );
  lines.push('');
  return lines.join('\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
