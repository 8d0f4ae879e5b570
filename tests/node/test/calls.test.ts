import {
  type CallStats,
  type CancelledError,
  ERR_CANCELLED,
  ERR_CONSUMED,
  ERR_HANDLER,
  ERR_INVALID_ARG,
  ERR_POISONED,
  type HandlerError,
  isHyperlightError,
} from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { ECHO, expectRejectCode, loadedSandbox, SPIN, stopWhenRunning } from './helpers';

describe('callHandler', () => {
  it('passes any JSON value in and out', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    const values = [
      { name: 'World', nested: { list: [1, 'two', null, true, { deep: [] }] } },
      [1, 2, 3],
      'a string with "quotes" and ünïcödé ✓',
      42.5,
      true,
      null,
    ];
    for (const value of values) expect(await loaded.callHandler('echo', value)).toEqual(value);
    // undefined is not JSON: it crosses as null.
    expect(await loaded.callHandler('echo', undefined)).toBeNull();
    await loaded[Symbol.asyncDispose]();
  });

  it('runs the spec quick start handler', async () => {
    const loaded = await loadedSandbox({
      greet: `function handler(event) {
        event.message = 'Hello, ' + event.name + '!';
        return event;
      }`,
    });
    expect(await loaded.callHandler('greet', { name: 'World' })).toEqual({
      name: 'World',
      message: 'Hello, World!',
    });
    await loaded[Symbol.asyncDispose]();
  });

  it('keeps handler state between calls, whether or not gc runs', async () => {
    const loaded = await loadedSandbox({
      count: 'let n = 0; function handler() { return ++n; }',
    });
    expect(await loaded.callHandler('count', {})).toBe(1);
    expect(await loaded.callHandler('count', {}, { gc: false })).toBe(2);
    expect(await loaded.callHandler('count', {}, { gc: true })).toBe(3);
    await loaded[Symbol.asyncDispose]();
  });

  it('collects garbage cycles after a call by default, and not with gc: false', async () => {
    // A self-referencing object is freed only by the cycle collector (reference counting alone
    // keeps it), so whether a WeakRef to it still derefs says whether the collector ran. It holds
    // 1 MiB: the collector runs only once the heap grew by 64 KiB since the last collection.
    const loaded = await loadedSandbox({
      cycle: `let ref;
        function handler(event) {
          if (event.make) { const o = { big: new Uint8Array(1 << 20) }; o.self = o; ref = new WeakRef(o); }
          return ref.deref() === undefined ? 'collected' : 'alive';
        }`,
    });
    expect(await loaded.callHandler('cycle', { make: true }, { gc: false })).toBe('alive');
    expect(await loaded.callHandler('cycle', {}, { gc: false })).toBe('alive');
    // This call still sees it (the collector runs after the call), the next one does not.
    expect(await loaded.callHandler('cycle', {})).toBe('alive');
    expect(await loaded.callHandler('cycle', {}, { gc: false })).toBe('collected');
    await loaded[Symbol.asyncDispose]();
  });

  it('rejects a thrown exception with ERR_HANDLER and the guest error name, message and stack', async () => {
    const loaded = await loadedSandbox({
      throws: `function handler(event) {
        if (event.kind === 'type') throw new TypeError('bad type: ' + event.value);
        throw 'a plain string';
      }`,
    });
    const error = (await expectRejectCode(
      loaded.callHandler('throws', { kind: 'type', value: 7 }),
      ERR_HANDLER,
    )) as unknown as HandlerError;
    expect(error.guestName).toBe('TypeError');
    expect(error.guestMessage).toBe('bad type: 7');
    expect(error.guestStack).toContain('handler');
    expect(error.message).toContain('bad type: 7');
    expect(isHyperlightError(error, ERR_HANDLER)).toBe(true);
    const plain = await expectRejectCode(loaded.callHandler('throws', {}), ERR_HANDLER);
    expect(plain.guestMessage).toContain('a plain string');
    // A throwing handler does not poison the sandbox.
    expect(loaded.poisoned).toBe(false);
    await loaded[Symbol.asyncDispose]();
  });

  it('rejects bad arguments with ERR_INVALID_ARG', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    const call = loaded.callHandler.bind(loaded) as (...args: unknown[]) => Promise<unknown>;
    await expectRejectCode(call('', {}), ERR_INVALID_ARG);
    await expectRejectCode(call(42, {}), ERR_INVALID_ARG);
    await expectRejectCode(call('nope', {}), ERR_INVALID_ARG);
    await expectRejectCode(call('echo', { big: 1n }), ERR_INVALID_ARG);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expectRejectCode(call('echo', cyclic), ERR_INVALID_ARG);
    await expectRejectCode(call('echo', {}, 'fast'), ERR_INVALID_ARG);
    for (const bad of [0, -1, 1.5, 3_600_001, Number.NaN, Number.POSITIVE_INFINITY, '100']) {
      await expectRejectCode(call('echo', {}, { wallClockTimeoutMs: bad }), ERR_INVALID_ARG);
      await expectRejectCode(call('echo', {}, { cpuTimeoutMs: bad }), ERR_INVALID_ARG);
    }
    await expectRejectCode(call('echo', {}, { gc: 'yes' }), ERR_INVALID_ARG);
    // The limits themselves are accepted.
    expect(await call('echo', 1, { wallClockTimeoutMs: 3_600_000, cpuTimeoutMs: 3_600_000 })).toBe(
      1,
    );
    expect(await call('echo', 2, { wallClockTimeoutMs: 1000, cpuTimeoutMs: 1000 })).toBe(2);
    expect(await call('echo', 3, null)).toBe(3);
    await loaded[Symbol.asyncDispose]();
  });

  it('rejects an event larger than the input buffer with ERR_INVALID_ARG', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    await expectRejectCode(
      // The default input buffer holds 16 MiB.
      loaded.callHandler('echo', 'x'.repeat(17 * 1024 * 1024)),
      ERR_INVALID_ARG,
    );
    expect(await loaded.callHandler('echo', 'still fine')).toBe('still fine');
    await loaded[Symbol.asyncDispose]();
  });
});

describe('lastCallStats', () => {
  it('is null before any call, replaced by each call that ran, failed ones too', async () => {
    const loaded = await loadedSandbox({
      echo: ECHO,
      throws: 'function handler() { throw new Error("x"); }',
    });
    expect(loaded.lastCallStats).toBeNull();
    await loaded.callHandler('echo', {});
    const first = loaded.lastCallStats as CallStats;
    expect(first.wallClockMs).toBeGreaterThan(0);
    expect(typeof first.cpuTimeMs).toBe('number');
    expect(first.terminatedBy).toBeNull();
    // The getter builds a new object on every read: compare contents, never identity.
    expect(loaded.lastCallStats).toEqual(first);
    await expectRejectCode(loaded.callHandler('throws', {}), ERR_HANDLER);
    const second = loaded.lastCallStats as CallStats;
    expect(second.terminatedBy).toBeNull();
    expect(Object.keys(second).sort()).toEqual([
      'cpuTimeMs',
      'terminatedBy',
      'vmExits',
      'wallClockMs',
    ]);
    expect(second.vmExits).toBeGreaterThanOrEqual(1);
    expect(second).not.toEqual(first);
    // A call refused before it runs (unknown handler, bad argument) leaves the statistics alone.
    await expectRejectCode(loaded.callHandler('missing', {}), ERR_INVALID_ARG);
    await expectRejectCode(loaded.callHandler('echo', {}, { cpuTimeoutMs: 0 }), ERR_INVALID_ARG);
    expect(loaded.lastCallStats).toEqual(second);
    await loaded[Symbol.asyncDispose]();
  });

  it('is left unchanged by a call refused as poisoned', async () => {
    const loaded = await loadedSandbox({ spin: SPIN, echo: ECHO });
    const stop = stopWhenRunning(loaded.interruptHandle);
    await expectRejectCode(loaded.callHandler('spin', {}), ERR_CANCELLED);
    stop();
    const killed = loaded.lastCallStats as CallStats;
    expect(killed.terminatedBy).toBeNull();
    await expectRejectCode(loaded.callHandler('echo', {}), ERR_POISONED);
    expect(loaded.lastCallStats).toEqual(killed);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('the order of the checks (as ERR_INVALID_ARG documents it)', () => {
  it('malformed argument, then consumed, then unknown handler, then poisoned, then event size', async () => {
    const loaded = await loadedSandbox({ spin: SPIN, echo: ECHO });
    const tooLarge = 'x'.repeat(17 * 1024 * 1024); // the default input buffer holds 16 MiB
    await expectRejectCode(loaded.callHandler('echo', tooLarge), ERR_INVALID_ARG);
    const stop = stopWhenRunning(loaded.interruptHandle);
    await expectRejectCode(loaded.callHandler('spin', {}), ERR_CANCELLED);
    stop();
    // Poisoned: a malformed option and an unknown handler are still ERR_INVALID_ARG...
    await expectRejectCode(loaded.callHandler('echo', {}, { cpuTimeoutMs: 0 }), ERR_INVALID_ARG);
    await expectRejectCode(loaded.callHandler('missing', {}), ERR_INVALID_ARG);
    // ...but the event's size is checked after the poisoning.
    await expectRejectCode(loaded.callHandler('echo', tooLarge), ERR_POISONED);
    await loaded[Symbol.asyncDispose]();
    // Consumed: only a malformed argument comes first.
    await expectRejectCode(loaded.callHandler('echo', {}, { cpuTimeoutMs: 0 }), ERR_INVALID_ARG);
    await expectRejectCode(loaded.callHandler('missing', {}), ERR_CONSUMED);
    await expectRejectCode(loaded.callHandler('echo', tooLarge), ERR_CONSUMED);
  });

  it('names the wall-clock monitor after a wall-clock timeout', async () => {
    const loaded = await loadedSandbox({ spin: SPIN });
    const error = (await expectRejectCode(
      loaded.callHandler('spin', {}, { wallClockTimeoutMs: 50 }),
      ERR_CANCELLED,
    )) as unknown as CancelledError;
    expect(error.terminatedBy).toBe('wall-clock');
    expect(loaded.lastCallStats?.terminatedBy).toBe('wall-clock');
    expect(loaded.poisoned).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });

  it('names the CPU-time monitor after a CPU timeout (both monitors set)', async () => {
    const loaded = await loadedSandbox({ spin: SPIN });
    const error = await expectRejectCode(
      loaded.callHandler('spin', {}, { cpuTimeoutMs: 50, wallClockTimeoutMs: 60_000 }),
      ERR_CANCELLED,
    );
    expect(error.terminatedBy).toBe('cpu-time');
    const stats = loaded.lastCallStats as CallStats;
    expect(stats.terminatedBy).toBe('cpu-time');
    expect(stats.cpuTimeMs).toBeGreaterThan(0);
    await loaded[Symbol.asyncDispose]();
  });

  it('has terminatedBy null after interruptHandle.kill()', async () => {
    const loaded = await loadedSandbox({ spin: SPIN });
    const stop = stopWhenRunning(loaded.interruptHandle, { afterMs: 50 });
    const error = await expectRejectCode(loaded.callHandler('spin', {}), ERR_CANCELLED);
    stop();
    expect(error.terminatedBy).toBeNull();
    expect(loaded.lastCallStats?.terminatedBy).toBeNull();
    await loaded[Symbol.asyncDispose]();
  });
});

describe('kill, poisoned, snapshot and restore', () => {
  it('kill() from a timer poisons the sandbox; restore() recovers it', async () => {
    const loaded = await loadedSandbox({
      spin: SPIN,
      count: 'let n = 0; function handler() { return ++n; }',
    });
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('count', {})).toBe(1);
    const snapshot = await loaded.snapshot();
    expect(await loaded.callHandler('count', {})).toBe(2);

    const stop = stopWhenRunning(loaded.interruptHandle, { afterMs: 20 });
    await expectRejectCode(loaded.callHandler('spin', {}), ERR_CANCELLED);
    stop();
    expect(loaded.poisoned).toBe(true);
    await expectRejectCode(loaded.callHandler('count', {}), ERR_POISONED);
    await expectRejectCode(loaded.snapshot(), ERR_POISONED);

    await loaded.restore(snapshot);
    expect(loaded.poisoned).toBe(false);
    // Guest state is back to the snapshot's.
    expect(await loaded.callHandler('count', {})).toBe(2);
    await loaded[Symbol.asyncDispose]();
  });

  it('a kill with no call running does nothing', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    expect(loaded.interruptHandle.kill()).toBe(false);
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('echo', 5)).toBe(5);
    await loaded[Symbol.asyncDispose]();
  });

  it('unload() recovers a poisoned sandbox', async () => {
    const loaded = await loadedSandbox({ spin: SPIN });
    await expectRejectCode(
      loaded.callHandler('spin', {}, { wallClockTimeoutMs: 20 }),
      ERR_CANCELLED,
    );
    expect(loaded.poisoned).toBe(true);
    const js = await loaded.unload();
    js.addHandler('echo', ECHO);
    const again = await js.getLoadedSandbox();
    expect(again.poisoned).toBe(false);
    expect(again.lastCallStats).toBeNull();
    expect(await again.callHandler('echo', 'ok')).toBe('ok');
    await again[Symbol.asyncDispose]();
  });

  it('restores many times, and refuses foreign snapshots and non-snapshots', async () => {
    const a = await loadedSandbox({ count: 'let n = 0; function handler() { return ++n; }' });
    const b = await loadedSandbox({ echo: ECHO });
    const snapshot = await a.snapshot();
    for (let i = 0; i < 3; i++) {
      expect(await a.callHandler('count', {})).toBe(1);
      expect(await a.callHandler('count', {})).toBe(2);
      await a.restore(snapshot);
    }
    await expectRejectCode(b.restore(snapshot), ERR_INVALID_ARG);
    const restore = b.restore.bind(b) as (s: unknown) => Promise<void>;
    await expectRejectCode(restore({}), ERR_INVALID_ARG);
    await expectRejectCode(restore(null), ERR_INVALID_ARG);
    await expectRejectCode(restore(b.interruptHandle), ERR_INVALID_ARG);
    // A snapshot is of the VM, not of one load: it restores after an
    // unload and brings back its own handlers (docs/snapshots.md).
    const js = await a.unload();
    js.addHandler('other', ECHO);
    const reloaded = await js.getLoadedSandbox();
    expect(await reloaded.callHandler('other', { x: 1 })).toEqual({ x: 1 });
    await reloaded.restore(snapshot);
    expect(await reloaded.callHandler('count', {})).toBe(1);
    await expectRejectCode(reloaded.callHandler('other', {}), ERR_INVALID_ARG);
    await expectRejectCode(a.restore(snapshot), ERR_CONSUMED);
    await reloaded[Symbol.asyncDispose]();
    await b[Symbol.asyncDispose]();
  });

  it('rejects a guest that runs out of stack or memory without taking the host down', async () => {
    const loaded = await loadedSandbox({
      recurse: 'function handler() { function f(n) { return f(n + 1) + 1; } return f(0); }',
      echo: ECHO,
    });
    // Deep recursion is a catchable RangeError in the guest, not a crash: ERR_HANDLER, and the
    // sandbox stays usable.
    const error: unknown = await loaded.callHandler('recurse', {}).catch((e: unknown) => e);
    expect(isHyperlightError(error, ERR_HANDLER)).toBe(true);
    if (!isHyperlightError(error, ERR_HANDLER)) throw error;
    // Narrowed to HandlerError: no cast needed.
    expect(error.guestName).toBe('RangeError');
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('echo', 1)).toBe(1);
    await loaded[Symbol.asyncDispose]();
  });
});
