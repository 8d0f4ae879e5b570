// The exit-less warm path (docs/warm-path.md): back-to-back calls are posted by the JavaScript
// thread into the guest's mailbox while the sandbox's thread lets the guest poll. Everything a
// call can do must behave exactly as on the usual path: results, module state, host functions,
// timeouts, kills, statistics, snapshots. The warm path only engages when the CPU is not
// oversubscribed (`/proc/pressure/cpu`); these tests turn that check off so that they exercise
// it on a busy machine too, and one test runs a child process with the warm path switched off.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CallStats, LoadedJSSandbox } from '@hyperlight/js-host-api';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ECHO, expectRejectCode, loadedSandbox, SPIN, stopWhenRunning } from './helpers';

const COUNTER = `
  let n = 0;
  function handler(event) { n += 1; return { n, event }; }
`;

beforeAll(() => {
  process.env.HYPERLIGHT_JS_IGNORE_CPU_PRESSURE = '1';
});

const open: LoadedJSSandbox[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.dispose()));
});

async function sandbox(...args: Parameters<typeof loadedSandbox>): Promise<LoadedJSSandbox> {
  const s = await loadedSandbox(...args);
  open.push(s);
  return s;
}

describe('the warm path', () => {
  it('answers back-to-back calls with the right results and keeps module state', async () => {
    const s = await sandbox({ count: COUNTER });
    for (let i = 1; i <= 500; i++) {
      expect(await s.callHandler('count', { i })).toEqual({ n: i, event: { i } });
    }
    // Without the garbage collector, and with every kind of JSON value.
    const event = { a: [1, 'two', null, true, { b: -0.5 }], s: 'é€😀' };
    for (let i = 501; i <= 600; i++) {
      expect(await s.callHandler('count', event, { gc: false })).toEqual({ n: i, event });
    }
  });

  it('runs host functions in the middle of a burst', async () => {
    const s = await sandbox(
      { h: 'import { add } from "host:math"; function handler(e) { return add(e.a, e.b); }' },
      (proto) => proto.hostModule('math').register('add', (a: number, b: number) => a + b),
    );
    for (let i = 0; i < 200; i++) expect(await s.callHandler('h', { a: i, b: 1 })).toBe(i + 1);
  });

  it('reports handler errors, and unknown handlers, as on the usual path', async () => {
    const s = await sandbox({
      echo: ECHO,
      bad: 'function handler(e) { if (e.throw) throw new TypeError("nope " + e.i); return e.i; }',
    });
    for (let i = 0; i < 50; i++) {
      await s.callHandler('echo', i);
      const e = await expectRejectCode(s.callHandler('bad', { throw: true, i }), 'ERR_HANDLER');
      expect(e.guestName).toBe('TypeError');
      expect(e.guestMessage).toBe(`nope ${i}`);
      await expectRejectCode(s.callHandler('missing', i), 'ERR_INVALID_ARG');
      expect(await s.callHandler('bad', { i })).toBe(i);
    }
    expect(s.poisoned).toBe(false);
  });

  it('applies timeouts to calls made during a burst, names the monitor and poisons', async () => {
    for (const [option, monitor] of [
      ['wallClockTimeoutMs', 'wall-clock'],
      ['cpuTimeoutMs', 'cpu-time'],
    ] as const) {
      const s = await sandbox({ echo: ECHO, spin: SPIN });
      const snapshot = await s.snapshot();
      for (let i = 0; i < 100; i++) await s.callHandler('echo', i, { [option]: 1000 });
      const e = await expectRejectCode(
        s.callHandler('spin', {}, { [option]: 50 }),
        'ERR_CANCELLED',
      );
      expect(e.terminatedBy).toBe(monitor);
      expect((s.lastCallStats as CallStats).terminatedBy).toBe(monitor);
      expect(s.poisoned).toBe(true);
      await expectRejectCode(s.callHandler('echo', 1), 'ERR_POISONED');
      await s.restore(snapshot);
      expect(s.poisoned).toBe(false);
      expect(await s.callHandler('echo', 'back')).toBe('back');
    }
  });

  it('lets kill() stop a call made right after a burst', async () => {
    const s = await sandbox({ echo: ECHO, spin: SPIN });
    for (let i = 0; i < 100; i++) await s.callHandler('echo', i);
    const stop = stopWhenRunning(s.interruptHandle);
    const e = await expectRejectCode(s.callHandler('spin', {}), 'ERR_CANCELLED');
    stop();
    expect(e.terminatedBy).toBeNull();
    expect(s.poisoned).toBe(true);
  });

  it('publishes statistics for every call', async () => {
    const s = await sandbox({ echo: ECHO, spin: SPIN });
    await s.callHandler('echo', 0);
    for (let i = 0; i < 20; i++) {
      await s.callHandler('spin', { ms: 2 });
      const stats = s.lastCallStats as CallStats;
      expect(stats.wallClockMs).toBeGreaterThan(0);
      expect(stats.terminatedBy).toBeNull();
      await s.callHandler('echo', i);
    }
  });

  it('interleaves with snapshots and restores', async () => {
    const s = await sandbox({ count: COUNTER });
    for (let i = 0; i < 10; i++) await s.callHandler('count', i);
    const snapshot = await s.snapshot();
    for (let i = 0; i < 10; i++) await s.callHandler('count', i);
    await s.restore(snapshot);
    expect(await s.callHandler('count', 'x')).toEqual({ n: 11, event: 'x' });
    // Overlapping calls queue in order, warm or not.
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => s.callHandler('count', i)));
    expect(all.map((r) => (r as { n: number }).n)).toEqual(
      Array.from({ length: 20 }, (_, i) => 12 + i),
    );
  });

  it('can be switched off (HYPERLIGHT_JS_WARM_WINDOW_US=0) and calls still work', () => {
    const script = fileURLToPath(new URL('./fixtures/warm-off.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [script], {
      env: { ...process.env, HYPERLIGHT_JS_WARM_WINDOW_US: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(JSON.parse(out)).toEqual({ last: { n: 300, event: 299 } });
  });
});
