import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NATIVE_PATH_ENV } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';

const examplesDir = fileURLToPath(new URL('..', import.meta.url));
const failingBinding = fileURLToPath(new URL('./fixtures/failing-binding.cjs', import.meta.url));

/** Runs an example the way the README does, with `node`, from the examples folder. */
function runExample(file: string, extraEnv: Record<string, string> = {}) {
  const env = { ...process.env, ...extraEnv };
  if (!(NATIVE_PATH_ENV in extraEnv)) delete env[NATIVE_PATH_ENV];
  return spawnSync(process.execPath, [file], {
    cwd: examplesDir,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** Runs an example, expects success and no stderr, and returns its stdout. */
function output(file: string): string {
  const run = runExample(file);
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout;
}

describe('examples', () => {
  it('simple.js: the quick start greets the world from a micro-VM', () => {
    expect(output('simple.js')).toBe("{ name: 'World', message: 'Hello, World!' }\n");
  });

  it('calculator.js: processes JSON events with several operations', () => {
    expect(output('calculator.js')).toBe(
      [
        'add(10, 32) = 42',
        'subtract(100, 58) = 42',
        'multiply(6, 7) = 42',
        'divide(84, 2) = 42',
        'divide(1, 0) failed: RangeError: division by zero',
        'power(2, 10) failed: TypeError: unknown operation: power',
        '',
      ].join('\n'),
    );
  });

  it('unload.js: unloading drops handlers and their state; new handlers load', () => {
    expect(output('unload.js')).toBe(
      [
        'v1: { version: 1, count: 1 }',
        'v1: { version: 1, count: 2 }',
        'v1: { version: 1, count: 3 }',
        'unloaded; the old LoadedJSSandbox is consumed',
        'calling it again: ERR_CONSUMED',
        'v2: { version: 2, count: 110 }',
        'v2: { version: 2, count: 120 }',
        '',
      ].join('\n'),
    );
  });

  it('interrupt.js: a wall-clock timeout, kill() and an AbortSignal cancel, restore() recovers', () => {
    const out = output('interrupt.js');
    expect(out).toContain('cancelled: ERR_CANCELLED, terminated by wall-clock');
    expect(out).toContain('poisoned: true');
    expect(out).toContain('restored; poisoned: false');
    expect(out).toContain('a short call works again: { sleptMs: 10 }');
    expect(out).toContain('killed by interruptHandle.kill(): ERR_CANCELLED');
    expect(out).toContain('restored again; poisoned: false');
    expect(out).toContain('aborted: ERR_CANCELLED, terminated by abort, TimeoutError');
    expect(out).toContain('after the abort; poisoned: false');
    expect(out).not.toContain('unexpected');
  });

  it('cpu-timeout.js: the CPU monitor fires first for compute-bound work', () => {
    const out = output('cpu-timeout.js');
    // The same loop run by Node: the guest's answer must be the right number, not just a number.
    let x = 0;
    for (let i = 0; i < 1000; i++) x = (x * 31 + i) % 1000003;
    expect(out).toContain(`a small computation finishes: x = ${x}\n`);
    expect(out).toContain('terminated by: null');
    expect(out).toContain('cancelled: ERR_CANCELLED, terminated by cpu-time');
    expect(out).toContain('restored; poisoned: false');
    expect(out).not.toContain('unexpected');
  });

  it('host-functions.js: sync, async and throwing host functions', () => {
    const out = output('host-functions.js');
    expect(out).toContain('sum: 42');
    expect(out).toContain('product: 320');
    expect(out).toContain("shout: 'ALICE'");
    expect(out).toContain("missing: 'no user 7'");
    expect(out).toContain('hits: 2');
    expect(out).toContain('host-side calls counted in Node.js: 2');
  });

  it('user-modules.js: dependencies, namespaces and shared module state', () => {
    expect(output('user-modules.js')).toBe(
      [
        "area: { greeting: 'hi, Ada', area: 12.56636 }",
        'writer: { count: 1 }',
        'reader: { count: 1 }',
        'writer: { count: 2 }',
        'reader: { count: 2 }',
        '',
      ].join('\n'),
    );
  });

  it('typescript-handlers/main.js: TypeScript handlers with npm deps and a typed host module', () => {
    const out = output('typescript-handlers/main.js');
    expect(out).toMatch(/^handler\s+size\s+gzip/);
    expect(out).toContain(
      'schedule(event: { start: string; steps: number }): { start: string; startsOnWeekend: boolean; dates: string[] };',
    );
    expect(out).toContain(
      'invoice(event: { customerId: string; plan: "basic" | "pro"; seats: number; issued: string }): { customer: string; totalCents: number; due: string };',
    );
    expect(out).toContain("dates: [ 'Mon 30 Nov 2026', 'Tue 1 Dec 2026', 'Wed 2 Dec 2026' ]");
    expect(out).toContain(
      "invoice: { customer: 'ACME Corp.', totalCents: 10000, due: '2026-12-29' }",
    );
    expect(out).toContain('error: unknown customer initech');
    // The frame points at the line of invoice.ts that throws.
    const source = readFileSync(
      new URL('../typescript-handlers/guest/src/handlers/invoice.ts', import.meta.url),
      'utf8',
    );
    const line =
      source.split('\n').findIndex((l) => l.includes('throw new Error(`unknown customer')) + 1;
    expect(line).toBeGreaterThan(0);
    expect(out).toContain(`\nat requireCustomer (src/handlers/invoice.ts:${line}:`);
  }, 120_000);

  it('sandbox.js: reset policies, a poisoned call restored, a pool of 4 under 100 calls, a full queue, a signal, a load limit', () => {
    expect(output('sandbox.js')).toBe(
      [
        'tenant A: { items: 1, total: 3 }',
        'tenant B: { items: 1, total: 4 }',
        'session: { items: 1, total: 3 }',
        'session: { items: 2, total: 7 }',
        'spin: ERR_CANCELLED, terminated by cpu-time',
        '  (restored after: poisoned)',
        'session after the restore: { items: 1, total: 4 }',
        'pool: 99 answered, 1 cancelled',
        'pool stats: { size: 4, calls: 100, failures: 1, resets: 1, queued: 0 }',
        'burst of 3 on 1 sandbox + 1 queue slot: ERR_QUEUE_FULL',
        'client gone: ERR_CANCELLED, terminated by abort, poisoned: false',
        'stuck load: ERR_CANCELLED, terminated by wall-clock',
        '',
      ].join('\n'),
    );
  });

  it('monitors.js: anyOf races, a custom monitor, fail closed, metrics through prom-client', () => {
    expect(output('monitors.js')).toBe(
      [
        'scan 10 rows: ok, 10',
        'scan 1000 rows: ERR_CANCELLED (terminated by host-call-budget)',
        'spin: ERR_CANCELLED (terminated by cpu-time)',
        'save: ok, 1',
        'save, read-only: ERR_CANCELLED (terminated by read-only)',
        'rows written: a',
        'a monitor that cannot start: ERR_MONITOR_START (broken)',
        'monitor_terminations_total{monitor_type="host-call-budget",handler="scan"} 1',
        'monitor_terminations_total{monitor_type="cpu-time",handler="spin"} 1',
        'monitor_terminations_total{monitor_type="read-only",handler="save"} 1',
        '',
      ].join('\n'),
    );
  });

  it('an example fails loudly when the sandbox cannot be built', () => {
    const run = runExample('simple.js', { [NATIVE_PATH_ENV]: failingBinding });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('build failed on purpose');
  });
});
