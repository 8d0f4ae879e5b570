import { getEventListeners } from 'node:events';
import { ERR_CANCELLED, ERR_INVALID_ARG, ERR_POISONED } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { ECHO, expectRejectCode, loadedSandbox, SPIN, stopWhenRunning } from './helpers';

const COUNT = 'let n = 0; function handler() { return ++n; }';

/** A handler blocked in a host function that never settles: the engine cannot see an interrupt. */
const BLOCKED = `
  import * as io from "host:io";
  function handler() { return io.forever(); }`;

/** Aborts `controller` once the sandbox's call is running (polled through `requestInterrupt`-free means). */
function abortAfter(controller: AbortController, ms: number, reason?: unknown): NodeJS.Timeout {
  return setTimeout(() => controller.abort(reason), ms);
}

describe('callHandler options are checked', () => {
  it('rejects an unknown key with ERR_INVALID_ARG naming it', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    const call = loaded.callHandler.bind(loaded) as (...args: unknown[]) => Promise<unknown>;
    for (const key of ['wallClockTimeout', 'timeout', 'signall', 'cpuTimeMs']) {
      const error = await expectRejectCode(call('echo', {}, { [key]: 1 }), ERR_INVALID_ARG);
      expect(error.message).toContain(`"${key}"`);
      expect(error.message).toContain('wallClockTimeoutMs');
    }
    // Symbol keys and inherited keys are not options; undefined values take the default.
    const inherited = Object.create({ typo: 1 }) as object;
    expect(await call('echo', 1, inherited)).toBe(1);
    expect(await call('echo', 2, { [Symbol('x')]: 1, wallClockTimeoutMs: undefined })).toBe(2);
    await loaded[Symbol.asyncDispose]();
  });

  it('rejects a signal that is not an AbortSignal, and a bad abortGracePeriodMs', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    const call = loaded.callHandler.bind(loaded) as (...args: unknown[]) => Promise<unknown>;
    for (const signal of [true, 'abort', {}, { aborted: false }]) {
      const error = await expectRejectCode(call('echo', {}, { signal }), ERR_INVALID_ARG);
      expect(error.message).toContain('AbortSignal');
    }
    for (const bad of [-1, 1.5, 3_600_001, Number.NaN, '10']) {
      await expectRejectCode(call('echo', {}, { abortGracePeriodMs: bad }), ERR_INVALID_ARG);
    }
    const signal = new AbortController().signal;
    expect(await call('echo', 3, { signal, abortGracePeriodMs: 0 })).toBe(3);
    // The listener is gone once the call settled.
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('callHandler with an AbortSignal', () => {
  it('rejects at once, without running the handler, when the signal is already aborted', async () => {
    const loaded = await loadedSandbox({ count: COUNT });
    const reason = new Error('the user left');
    const error = await expectRejectCode(
      loaded.callHandler('count', {}, { signal: AbortSignal.abort(reason) }),
      ERR_CANCELLED,
    );
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBe(reason);
    expect(loaded.lastCallStats).toBeNull();
    // The handler never ran.
    expect(await loaded.callHandler('count', {})).toBe(1);
    await loaded[Symbol.asyncDispose]();
  });

  it('stops a running handler politely: ERR_CANCELLED, terminatedBy abort, not poisoned', async () => {
    const loaded = await loadedSandbox({ spin: SPIN, count: COUNT });
    const controller = new AbortController();
    const reason = { why: 'deadline' };
    const timer = abortAfter(controller, 50, reason);
    const error = await expectRejectCode(
      loaded.callHandler('spin', {}, { signal: controller.signal, abortGracePeriodMs: 60_000 }),
      ERR_CANCELLED,
    );
    clearTimeout(timer);
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBe(reason);
    expect(error.message).toContain('still usable');
    expect(loaded.poisoned).toBe(false);
    expect(loaded.lastCallStats?.terminatedBy).toBe('abort');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // The sandbox goes on with its state intact.
    expect(await loaded.callHandler('count', {})).toBe(1);
    expect(await loaded.callHandler('count', {})).toBe(2);
    await loaded[Symbol.asyncDispose]();
  });

  it('kills a guest that cannot see the interrupt after the grace period: poisoned', async () => {
    const loaded = await loadedSandbox({ blocked: BLOCKED }, (proto) =>
      proto.register('io', 'forever', () => new Promise(() => {})),
    );
    const controller = new AbortController();
    const timer = abortAfter(controller, 30);
    const error = await expectRejectCode(
      loaded.callHandler('blocked', {}, { signal: controller.signal, abortGracePeriodMs: 20 }),
      ERR_CANCELLED,
    );
    clearTimeout(timer);
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBeInstanceOf(DOMException);
    expect((error.cause as DOMException).name).toBe('AbortError');
    expect(error.message).toContain('poisoned');
    expect(loaded.poisoned).toBe(true);
    expect(loaded.lastCallStats?.terminatedBy).toBe('abort');
    await expectRejectCode(loaded.callHandler('blocked', {}), ERR_POISONED);
    await loaded[Symbol.asyncDispose]();
  });

  it('rejects a queued call at once when its signal aborts; the handler never runs', async () => {
    const loaded = await loadedSandbox({ spin: SPIN, count: COUNT });
    const running = loaded.callHandler('spin', { ms: 300 });
    const controller = new AbortController();
    const queued = loaded.callHandler('count', {}, { signal: controller.signal });
    controller.abort();
    const error = await expectRejectCode(queued, ERR_CANCELLED);
    expect(error.terminatedBy).toBe('abort');
    // The running call was not touched.
    expect(await running).toEqual({ done: true });
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('count', {})).toBe(1);
    await loaded[Symbol.asyncDispose]();
  });

  it('an abort after the call settled changes nothing, and one signal serves many calls', async () => {
    const loaded = await loadedSandbox({ count: COUNT });
    const controller = new AbortController();
    const { signal } = controller;
    for (let i = 1; i <= 5; i++) expect(await loaded.callHandler('count', {}, { signal })).toBe(i);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    controller.abort();
    expect(loaded.poisoned).toBe(false);
    await expectRejectCode(loaded.callHandler('count', {}, { signal }), ERR_CANCELLED);
    expect(await loaded.callHandler('count', {})).toBe(6);
    await loaded[Symbol.asyncDispose]();
  });

  it('works beside the monitors: the first to act ends the call', async () => {
    const loaded = await loadedSandbox({ spin: SPIN });
    const wall = await expectRejectCode(
      loaded.callHandler(
        'spin',
        {},
        { signal: new AbortController().signal, wallClockTimeoutMs: 30 },
      ),
      ERR_CANCELLED,
    );
    expect(wall.terminatedBy).toBe('wall-clock');
    await loaded[Symbol.asyncDispose]();
  });
});

describe('InterruptHandle', () => {
  it('kill() and requestInterrupt() return whether a call was running', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    const handle = loaded.interruptHandle;
    expect(handle.kill()).toBe(false);
    expect(handle.requestInterrupt()).toBe(false);
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('echo', 5)).toBe(5);
    await loaded[Symbol.asyncDispose]();
  });

  it('requestInterrupt() stops a running handler without poisoning the sandbox', async () => {
    const loaded = await loadedSandbox({ spin: SPIN, count: COUNT });
    const stop = stopWhenRunning(loaded.interruptHandle, { how: 'interrupt' });
    const error = await expectRejectCode(loaded.callHandler('spin', {}), ERR_CANCELLED);
    stop();
    expect(error.terminatedBy).toBeNull();
    expect(error.message).toContain('still usable');
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('count', {})).toBe(1);
    await loaded[Symbol.asyncDispose]();
  });
});
