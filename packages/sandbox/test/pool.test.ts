import { wallClock } from '@hyperlight/monitors';
import { describe, expect, it } from 'vitest';
import {
  createPool,
  defineSandbox,
  ERR_CLOSED,
  ERR_QUEUE_FULL,
  ERR_QUEUE_TIMEOUT,
  type ReplaceEvent,
  type ResetEvent,
} from '../src/index';
import { COUNTER, ECHO, rejection, SPIN, thrown } from './helpers';

interface Handlers {
  echo(event: { i: number }): { i: number };
  count(event: object): { count: number };
  spin(event: { ms?: number }): { done: true };
  work(event: { i: number }): { i: number; by: number };
}

/** Counts, per pool, how many calls really started in a guest (through a host function). */
function definition(started: number[] = []) {
  return defineSandbox<Handlers>({
    handlers: {
      echo: ECHO,
      count: COUNTER,
      spin: SPIN,
      work: `import * as t from 'host:trace';
             function handler(e) { t.started(e.i); const s = Date.now(); while (Date.now() - s < 2) {} return { i: e.i, by: 1 }; }`,
    },
    hostFunctions: { trace: { started: (i: number) => void started.push(i) } },
    limits: wallClock(20_000),
  });
}

describe('createPool', () => {
  it('100 concurrent calls on a pool of 4: every call answered, at most 4 at a time', async () => {
    const started: number[] = [];
    let maxBusy = 0;
    await using pool = await createPool(definition(started), {
      size: 4,
      hooks: {
        onCall: () => {
          maxBusy = Math.max(maxBusy, pool.stats.busy);
        },
      },
    });
    expect(pool.stats).toMatchObject({ size: 4, idle: 4, busy: 0, queued: 0, calls: 0 });
    const calls = Array.from({ length: 100 }, (_, i) => pool.call('work', { i }));
    expect(pool.stats.busy).toBe(4);
    expect(pool.stats.queued).toBe(96);
    const results = await Promise.all(calls);
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => ({ i, by: 1 })));
    expect(started.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(maxBusy).toBe(4);
    await pool.drain();
    expect(pool.stats).toMatchObject({ calls: 100, failures: 0, busy: 0, queued: 0, idle: 4 });
  });

  it('stats: busy drops before the call resolves; calls counts only dispatched calls', async () => {
    await using pool = await createPool(definition(), { size: 1, maxQueue: 0 });
    const running = pool.call('spin', { ms: 50 });
    expect(pool.stats).toMatchObject({ busy: 1, idle: 0, resetting: 0 });
    expect((await rejection(pool.call('echo', { i: 1 }))).code).toBe(ERR_QUEUE_FULL);
    expect(pool.stats).toMatchObject({ calls: 0, rejected: 1, rejectedQueueFull: 1 });
    await running;
    // Seen right where the caller resumes: no reset to do, so the sandbox is idle again.
    expect(pool.stats).toMatchObject({ busy: 0, idle: 1, resetting: 0, calls: 1, rejected: 1 });
    expect(await pool.call('echo', { i: 2 })).toEqual({ i: 2 });
    expect(pool.stats).toMatchObject({ busy: 0, idle: 1, calls: 2, failures: 0, rejected: 1 });
    await pool.close();
    expect((await rejection(pool.call('echo', { i: 3 }))).code).toBe(ERR_CLOSED);
    expect(pool.stats).toMatchObject({ calls: 2, rejected: 2 });
  });

  it("stats under reset 'always': the call's sandbox is resetting, not busy, when it resolves", async () => {
    await using pool = await createPool(definition(), { size: 2, reset: 'always' });
    await pool.call('count', {});
    const stats = pool.stats;
    expect(stats.busy).toBe(0);
    expect(stats.busy + stats.idle + stats.resetting).toBe(2);
    await pool.drain();
    expect(pool.stats).toMatchObject({ busy: 0, idle: 2, resetting: 0, calls: 1, resets: 1 });
  });

  it('the queue is FIFO', async () => {
    const started: number[] = [];
    await using pool = await createPool(definition(started), { size: 1 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => pool.call('work', { i })));
    expect(started).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('a full queue rejects with ERR_QUEUE_FULL; the call does not run', async () => {
    const started: number[] = [];
    await using pool = await createPool(definition(started), { size: 1, maxQueue: 2 });
    const running = pool.call('spin', { ms: 100 });
    const queued = [pool.call('work', { i: 1 }), pool.call('work', { i: 2 })];
    const error = await rejection(pool.call('work', { i: 3 }));
    expect(error.code).toBe(ERR_QUEUE_FULL);
    expect(error.maxQueue).toBe(2);
    await running;
    await Promise.all(queued);
    expect(started).toEqual([1, 2]);
    expect(pool.stats.rejectedQueueFull).toBe(1);
  });

  it('maxQueue 0: a call gets an idle sandbox or is rejected', async () => {
    await using pool = await createPool(definition(), { size: 1, maxQueue: 0 });
    const running = pool.call('spin', { ms: 50 });
    expect((await rejection(pool.call('echo', { i: 1 }))).code).toBe(ERR_QUEUE_FULL);
    await running;
    expect(await pool.call('echo', { i: 2 })).toEqual({ i: 2 });
  });

  it('a call that waits longer than queueTimeoutMs rejects with ERR_QUEUE_TIMEOUT and never runs', async () => {
    const started: number[] = [];
    await using pool = await createPool(definition(started), { size: 1, queueTimeoutMs: 30 });
    const running = pool.call('spin', { ms: 300 });
    const error = await rejection(pool.call('work', { i: 9 }));
    expect(error.code).toBe(ERR_QUEUE_TIMEOUT);
    expect(error.queueTimeoutMs).toBe(30);
    expect(pool.stats.queued).toBe(0);
    await running;
    expect(started).toEqual([]);
    expect(pool.stats.rejectedQueueTimeout).toBe(1);
  });

  it('a signal that aborts while the call waits removes it from the queue', async () => {
    const started: number[] = [];
    await using pool = await createPool(definition(started), { size: 1 });
    const running = pool.call('spin', { ms: 200 });
    const controller = new AbortController();
    const waiting = pool.call('work', { i: 5 }, { signal: controller.signal });
    controller.abort(new Error('client left'));
    const error = await rejection(waiting);
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    expect(error.handlerStarted).toBe(false);
    expect(error.poisoned).toBe(false);
    await running;
    expect(started).toEqual([]);
  });

  it('a poisoned sandbox is restored before it serves again; other calls are unaffected', async () => {
    const resets: ResetEvent[] = [];
    await using pool = await createPool(definition(), {
      size: 2,
      hooks: { onReset: (e) => resets.push(e) },
    });
    const bad = pool.call('spin', {}, { monitors: wallClock(50) });
    const good = Array.from({ length: 20 }, (_, i) => pool.call('echo', { i }));
    const error = await rejection(bad);
    expect(error.terminatedBy).toBe('wall-clock');
    expect(await Promise.all(good)).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
    // Every sandbox serves again, with its post-load state.
    const counts = await Promise.all([pool.call('count', {}), pool.call('count', {})]);
    expect(counts.every((c) => c.count >= 1)).toBe(true);
    await pool.drain();
    expect(resets.map((r) => r.reason)).toEqual(['poisoned']);
    expect(pool.stats).toMatchObject({ failures: 1, resets: 1, replacements: 0, idle: 2 });
  });

  it("reset 'always': every call in the pool sees fresh state", async () => {
    await using pool = await createPool(definition(), { size: 2, reset: 'always' });
    const results = await Promise.all(Array.from({ length: 10 }, () => pool.call('count', {})));
    expect(results.every((r) => r.count === 1)).toBe(true);
  });

  it('maxCallsPerSandbox replaces a sandbox by a fresh one', async () => {
    const replaced: ReplaceEvent[] = [];
    await using pool = await createPool(definition(), {
      size: 1,
      maxCallsPerSandbox: 2,
      hooks: { onReplace: (e) => replaced.push(e) },
    });
    const counts = [];
    for (let i = 0; i < 5; i++) counts.push((await pool.call('count', {})).count);
    // Calls queue behind the replacement, never fail.
    expect(counts).toEqual([1, 2, 1, 2, 1]);
    expect(replaced.map((r) => [r.reason, r.sandboxId])).toEqual([
      ['max-calls', 0],
      ['max-calls', 0],
    ]);
    expect(pool.stats.replacements).toBe(2);
  });

  it('drain() finishes queued calls, then takes no more', async () => {
    const started: number[] = [];
    const pool = await createPool(definition(started), { size: 1 });
    const calls = Array.from({ length: 5 }, (_, i) => pool.call('work', { i }));
    await pool.drain();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(await Promise.all(calls)).toHaveLength(5);
    expect(pool.closed).toBe(true);
    expect((await rejection(pool.call('echo', { i: 0 }))).code).toBe(ERR_CLOSED);
    await pool.close();
  });

  it('close() rejects queued calls with ERR_CLOSED, lets running ones finish', async () => {
    const started: number[] = [];
    const pool = await createPool(definition(started), { size: 1 });
    const running = pool.call('spin', { ms: 50 });
    const queued = rejection(pool.call('work', { i: 1 }));
    await pool.close();
    expect(await running).toEqual({ done: true });
    expect((await queued).code).toBe(ERR_CLOSED);
    expect(started).toEqual([]);
    expect(pool.stats).toMatchObject({ idle: 0, busy: 0 });
    await pool.close();
  });

  it('bad options are ERR_INVALID_ARG', async () => {
    for (const options of [
      { size: 0 },
      { size: 1.5 },
      { maxQueue: -1 },
      { queueTimeoutMs: 0 },
      { reset: 'never' },
      { maxCallsPerSandbox: 0 },
      { hooks: { onReplace: 1 } },
      { sise: 2 },
    ]) {
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
      const error = await rejection(createPool(definition(), options as any));
      expect(error.code, JSON.stringify(options)).toBe('ERR_INVALID_ARG');
    }
    await using pool = await createPool(definition(), { size: 1 });
    // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
    const bad = await rejection(pool.call('echo', { i: 1 }, { queueTimeoutMs: 5 } as any));
    expect(bad.code).toBe('ERR_INVALID_ARG');
    expect(pool.stats.calls).toBe(0);
    expect(thrown(() => defineSandbox({ handlers: { a: ECHO }, limits: 5 as never })).code).toBe(
      'ERR_INVALID_ARG',
    );
  });

  it('a pool that cannot load rejects and releases the sandboxes it made', async () => {
    const error = await rejection(createPool({ handlers: { bad: 'syntax error (' } }, { size: 3 }));
    // The handler's source does not parse: the guest's SyntaxError, as for a single sandbox.
    expect(error.code).toBe('ERR_HANDLER');
    expect(error.guestName).toBe('SyntaxError');
  });
});
