import { cpuTime, monitor, wallClock } from '@hyperlight/monitors';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  createPool,
  createSandbox,
  ERR_QUEUE_FULL,
  ERR_QUEUE_TIMEOUT,
  isSandboxError,
  type QueueFullError,
  type SandboxCancelledError,
  type SandboxErrorCode,
} from '../src/index';
import { COUNTER, ECHO, rejection, SPIN } from './helpers';

describe('isSandboxError narrows the fields of each kind of error', () => {
  it('types: maxQueue, queueTimeoutMs, terminatedBy/poisoned, guestMessage, monitorName', () => {
    const check = (e: unknown) => {
      if (isSandboxError(e, ERR_QUEUE_FULL)) {
        expectTypeOf(e).toEqualTypeOf<QueueFullError>();
        expectTypeOf(e.maxQueue).toEqualTypeOf<number>();
      }
      if (isSandboxError(e, ERR_QUEUE_TIMEOUT)) expectTypeOf(e.queueTimeoutMs).toBeNumber();
      if (isSandboxError(e, 'ERR_CANCELLED')) {
        expectTypeOf(e).toEqualTypeOf<SandboxCancelledError>();
        expectTypeOf(e.terminatedBy).toEqualTypeOf<string | null>();
        expectTypeOf(e.poisoned).toEqualTypeOf<boolean | undefined>();
        expectTypeOf(e.handlerStarted).toEqualTypeOf<boolean | undefined>();
      }
      if (isSandboxError(e, 'ERR_HANDLER')) {
        expectTypeOf(e.guestMessage).toBeString();
        expectTypeOf(e.guestStack).toBeString();
      }
      if (isSandboxError(e, 'ERR_MONITOR_START')) expectTypeOf(e.monitorName).toBeString();
      if (isSandboxError(e, 'ERR_CLOSED')) {
        expectTypeOf(e.code).toEqualTypeOf<'ERR_CLOSED'>();
        // @ts-expect-error: an ERR_CLOSED error has no maxQueue.
        void e.maxQueue;
      }
      if (isSandboxError(e)) expectTypeOf(e.code).toEqualTypeOf<SandboxErrorCode>();
      // @ts-expect-error: not a code of this package.
      isSandboxError(e, 'ERR_NOPE');
    };
    check(new Error('x'));
    expect(isSandboxError(new Error('x'))).toBe(false);
    expect(isSandboxError(Object.assign(new Error('x'), { code: 'ERR_QUEUE_FULL' }))).toBe(true);
  });

  it('at run time, the narrowed fields are there', async () => {
    await using pool = await createPool(
      { handlers: { spin: SPIN, echo: ECHO }, limits: wallClock(20_000) },
      { size: 1, maxQueue: 0 },
    );
    const running = pool.call('spin', { ms: 50 });
    const full = await rejection(pool.call('echo', {}));
    expect(isSandboxError(full, ERR_QUEUE_FULL) && full.maxQueue).toBe(0);
    await running;
    await using sandbox = await createSandbox({
      handlers: { boom: 'function handler() { throw new TypeError("nope"); }', spin: SPIN },
    });
    const handler = await rejection(sandbox.call('boom', {}));
    expect(isSandboxError(handler, 'ERR_HANDLER') && handler.guestMessage).toBe('nope');
    const cancelled = await rejection(sandbox.call('spin', {}, { monitors: cpuTime(20) }));
    expect(isSandboxError(cancelled, 'ERR_CANCELLED')).toBe(true);
    expect(cancelled.terminatedBy).toBe('cpu-time');
    expect(cancelled.poisoned).toBe(true);
    expect(cancelled.handlerStarted).toBe(true);
  });
});

describe("messages give this package's advice for a poisoned sandbox", () => {
  it('under a restoring policy: the policy restores it; nothing says "restore a snapshot"', async () => {
    await using sandbox = await createSandbox({ handlers: { spin: SPIN, count: COUNTER } });
    const error = await rejection(sandbox.call('spin', {}, { monitors: cpuTime(20) }));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.message).not.toContain('restore a snapshot');
    expect(error.message).toContain("the reset policy ('on-poison') restores it");
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
  });

  it("under 'never': call reset(), in the cancellation and in ERR_POISONED", async () => {
    await using sandbox = await createSandbox(
      { handlers: { spin: SPIN, count: COUNTER } },
      { reset: 'never' },
    );
    const error = await rejection(sandbox.call('spin', {}, { monitors: wallClock(30) }));
    expect(error.message).not.toContain('restore a snapshot');
    expect(error.message).toContain("call the sandbox's reset()");
    const poisoned = await rejection(sandbox.call('count', {}));
    expect(poisoned.code).toBe('ERR_POISONED');
    expect(poisoned.message).not.toContain('restore a snapshot');
    expect(poisoned.message).toContain("call the sandbox's reset()");
    await sandbox.reset();
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
  });
});

describe("an output monitor needs the definition's printSink", () => {
  it('without one the call is refused before it runs; with one the monitor sees the output', async () => {
    const quota = monitor('output-quota', (ctx) => {
      ctx.onOutput((line) => {
        if (line.totalBytes > 10) ctx.kill();
      });
    });
    const chatty = 'function handler() { console.log("x".repeat(64)); return 1; }';
    await using silent = await createSandbox({ handlers: { chatty, count: COUNTER } });
    const refused = await rejection(silent.call('chatty', {}, { monitors: quota }));
    expect(refused.code).toBe('ERR_INVALID_ARG');
    expect(refused.message).toContain('give the definition a printSink');
    // Nothing ran: the counter starts at 1.
    expect(await silent.call('count', {})).toEqual({ count: 1 });
    const lines: string[] = [];
    await using heard = await createSandbox({
      handlers: { chatty },
      printSink: (line) => void lines.push(line),
    });
    // The line may arrive after the call returned (best effort): only the refusal is asserted.
    const outcome = (await heard
      .call('chatty', {}, { monitors: quota })
      .catch((e: unknown) => e)) as { code?: string; terminatedBy?: string } | number;
    expect(typeof outcome === 'number' ? outcome : outcome.code).not.toBe('ERR_INVALID_ARG');
    expect(
      outcome === 1 || (typeof outcome === 'object' && outcome.terminatedBy === 'output-quota'),
    ).toBe(true);
  });
});
