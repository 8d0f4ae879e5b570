import type { ProtoJSSandbox } from '@hyperlight/js-host-api';
import { anyOf, cpuTime, hostCallBudget, monitor, wallClock } from '@hyperlight/monitors';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  type CallEvent,
  createSandbox,
  defineSandbox,
  ERR_CLOSED,
  type HostModuleLike,
  isSandboxError,
  type ResetEvent,
  type SandboxTerminationEvent,
} from '../src/index';
import { COUNTER, ECHO, FLAKY, HOG, rejection, SPIN, sleep, thrown } from './helpers';

interface Handlers {
  greet(event: { name: string }): { message: string };
  count(event: Record<string, never>): { count: number };
}

const greeter = defineSandbox<Handlers>({
  handlers: {
    greet: `
      import { prefix } from 'user:words';
      import { shout } from 'text:case';
      import * as host from 'host:util';
      function handler(event) { return { message: shout(prefix + event.name) + host.suffix() }; }`,
    count: COUNTER,
  },
  modules: {
    words: 'export const prefix = "hello, ";',
    'text:case': 'export const shout = (s) => s.toUpperCase();',
  },
  hostFunctions: { util: { suffix: () => '!' } },
  limits: anyOf(wallClock(10_000), cpuTime(5_000)),
});

describe('createSandbox', () => {
  it('makes a loaded sandbox from a definition; calls are typed', async () => {
    await using sandbox = await createSandbox(greeter);
    const result = await sandbox.call('greet', { name: 'World' });
    expectTypeOf(result).toEqualTypeOf<{ message: string }>();
    expect(result).toEqual({ message: 'HELLO, WORLD!' });
    expect(sandbox.lastCallStats).toMatchObject({
      handler: 'greet',
      ok: true,
      terminatedBy: null,
      hostCalls: 1,
    });
    expect(sandbox.resetPolicy).toBe('on-poison');
    // @ts-expect-error: 'nope' is not a handler of the map.
    const unknown = rejection(sandbox.call('nope', {}));
    expect((await unknown).code).toBe('ERR_INVALID_ARG');
    // @ts-expect-error: greet takes { name: string }.
    await sandbox.call('greet', { name: 42 });
  });

  it('an untyped definition takes its routing keys, any event, and returns unknown', async () => {
    await using sandbox = await createSandbox({ handlers: { echo: ECHO } });
    const result = await sandbox.call('echo', [1, 'two']);
    expectTypeOf(result).toBeUnknown();
    expect(result).toEqual([1, 'two']);
  });

  it('installs host modules (HostModuleLike) through the observer, so budgets count them', async () => {
    const installed: string[] = [];
    const kv: HostModuleLike = {
      name: 'kv',
      install(proto: ProtoJSSandbox) {
        installed.push(this.name);
        proto.hostModule('kv').register('get', (k: string) => `v:${k}`);
      },
    };
    await using sandbox = await createSandbox({
      handlers: {
        many: `import * as kv from 'host:kv';
               function handler(e) { const out = []; for (let i = 0; i < e.n; i++) out.push(kv.get(String(i))); return out; }`,
      },
      hostModules: [kv],
      limits: hostCallBudget(3),
    });
    expect(installed).toEqual(['kv']);
    expect(await sandbox.call('many', { n: 3 })).toEqual(['v:0', 'v:1', 'v:2']);
    const error = await rejection(sandbox.call('many', { n: 4 }));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('host-call-budget');
    // Reset on poison: the next call works.
    expect(await sandbox.call('many', { n: 1 })).toEqual(['v:0']);
  });

  it('a load failure rejects with the binding error and leaves nothing behind', async () => {
    const error = await rejection(createSandbox({ handlers: { bad: 'function handler( {' } }));
    expect(isSandboxError(error)).toBe(true);
    const missing = await rejection(
      createSandbox({
        handlers: { bad: "import { x } from 'user:nope'; function handler() { return x; }" },
      }),
    );
    expect(isSandboxError(missing)).toBe(true);
  });
});

describe('reset policies', () => {
  it("'on-poison' (default): state persists across calls and handler errors; a poisoned sandbox is restored", async () => {
    const resets: ResetEvent[] = [];
    await using sandbox = await createSandbox(
      { handlers: { flaky: FLAKY, spin: SPIN } },
      { hooks: { onReset: (e) => resets.push(e) } },
    );
    expect(await sandbox.call('flaky', {})).toEqual({ count: 1 });
    const error = await rejection(sandbox.call('flaky', { fail: true }));
    expect(error.code).toBe('ERR_HANDLER');
    expect(await sandbox.call('flaky', {})).toEqual({ count: 3 });
    const cancelled = await rejection(sandbox.call('spin', {}, { monitors: wallClock(30) }));
    expect(cancelled.terminatedBy).toBe('wall-clock');
    expect(await sandbox.call('flaky', {})).toEqual({ count: 1 });
    expect(sandbox.poisoned).toBe(false);
    expect(resets.map((r) => r.reason)).toEqual(['poisoned']);
    expect(resets[0]?.durationMs).toBeGreaterThan(0);
  });

  it("'on-error': a handler's exception resets the state too", async () => {
    await using sandbox = await createSandbox(
      { handlers: { flaky: FLAKY } },
      { reset: 'on-error' },
    );
    expect(await sandbox.call('flaky', {})).toEqual({ count: 1 });
    expect(await sandbox.call('flaky', {})).toEqual({ count: 2 });
    await rejection(sandbox.call('flaky', { fail: true }));
    expect(await sandbox.call('flaky', {})).toEqual({ count: 1 });
  });

  it("'always': every call sees the post-load state", async () => {
    const resets: string[] = [];
    await using sandbox = await createSandbox(
      { handlers: { count: COUNTER } },
      { reset: 'always', hooks: { onReset: (e) => resets.push(e.reason) } },
    );
    for (let i = 0; i < 5; i++) expect(await sandbox.call('count', {})).toEqual({ count: 1 });
    await sandbox.close();
    expect(resets).toEqual(['always', 'always', 'always', 'always', 'always']);
  });

  it("'never': a poisoned sandbox stays poisoned (ERR_POISONED) until reset()", async () => {
    await using sandbox = await createSandbox(
      { handlers: { count: COUNTER, spin: SPIN } },
      { reset: 'never' },
    );
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
    await rejection(sandbox.call('spin', {}, { monitors: cpuTime(20) }));
    expect(sandbox.poisoned).toBe(true);
    expect((await rejection(sandbox.call('count', {}))).code).toBe('ERR_POISONED');
    await sandbox.reset();
    expect(sandbox.poisoned).toBe(false);
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
  });

  it('a guest that runs out of memory (ERR_GUEST_ABORT) is restored under on-poison', async () => {
    await using sandbox = await createSandbox({
      handlers: { hog: HOG, count: COUNTER },
      sizes: { heapBytes: 4 * 1024 * 1024 },
      limits: wallClock(20_000),
    });
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
    const error = await rejection(sandbox.call('hog', {}));
    expect(error.code).toBe('ERR_GUEST_ABORT');
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
  });
});

describe('errors', () => {
  it('mapStack rewrites guestStack of ERR_HANDLER; a throwing mapStack leaves it', async () => {
    await using mapped = await createSandbox({
      handlers: { flaky: FLAKY },
      mapStack: (stack) => `mapped:${stack.length}`,
    });
    const error = await rejection(mapped.call('flaky', { fail: true }));
    expect(error.code).toBe('ERR_HANDLER');
    expect(error.guestMessage).toBe('bad event 1');
    expect(error.guestStack).toMatch(/^mapped:\d+$/);
    await using broken = await createSandbox({
      handlers: { flaky: FLAKY },
      mapStack: () => {
        throw new Error('no map');
      },
    });
    const raw = await rejection(broken.call('flaky', { fail: true }));
    expect(raw.guestStack).not.toMatch(/^mapped/);
  });

  it('a monitor that fails to start: ERR_MONITOR_START, nothing ran, not poisoned', async () => {
    await using sandbox = await createSandbox({ handlers: { count: COUNTER } });
    const bad = monitor('bad', () => {
      throw new Error('nope');
    });
    const error = await rejection(sandbox.call('count', {}, { monitors: bad }));
    expect(error.code).toBe('ERR_MONITOR_START');
    expect(isSandboxError(error, 'ERR_MONITOR_START')).toBe(true);
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
  });

  it('options.signal stops a running call politely (terminatedBy: abort, no reset needed)', async () => {
    const resets: ResetEvent[] = [];
    await using sandbox = await createSandbox(
      { handlers: { spin: SPIN, count: COUNTER }, limits: wallClock(20_000) },
      { hooks: { onReset: (e) => resets.push(e) } },
    );
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
    const error = await rejection(sandbox.call('spin', {}, { signal: AbortSignal.timeout(30) }));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    expect(error.poisoned).toBe(false);
    expect(sandbox.lastCallStats?.terminatedBy).toBe('abort');
    // Not poisoned, so the 'on-poison' policy kept the state: the counter goes on.
    expect(await sandbox.call('count', {})).toEqual({ count: 2 });
    expect(resets).toEqual([]);
  });

  it('per-call monitors tighten the definition limits, never lift them', async () => {
    await using sandbox = await createSandbox({ handlers: { spin: SPIN }, limits: wallClock(40) });
    // A handler that returns after 2 s of its own clock: the definition's 40 ms limit ends it (were
    // it lifted to the call's 20 s, the call would return { done: true }).
    const error = await rejection(
      sandbox.call('spin', { ms: 2_000 }, { monitors: wallClock(20_000) }),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('wall-clock');
    expect(sandbox.lastCallStats?.terminatedBy).toBe('wall-clock');
  });

  it('bad definitions and options are ERR_INVALID_ARG, at once', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
    const bad = (d: any) => thrown(() => defineSandbox(d)).code;
    expect(bad(null)).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: {} })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: 1 } })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, handler: {} })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, sizes: { heapBytes: 0 } })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, sizes: { heap: 1 } })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, modules: { 'host:x': '' } })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, hostFunctions: { m: { f: 1 } } })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, hostModules: [{ name: 'x' }] })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, limits: { wallClockMs: 5 } })).toBe('ERR_INVALID_ARG');
    expect(bad({ handlers: { a: ECHO }, mapStack: 'x' })).toBe('ERR_INVALID_ARG');
    // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
    const options = (o: any) => rejection(createSandbox({ handlers: { a: ECHO } }, o));
    expect((await options({ reset: 'sometimes' })).code).toBe('ERR_INVALID_ARG');
    expect((await options({ hooks: { onCal: () => {} } })).code).toBe('ERR_INVALID_ARG');
    expect((await options({ size: 2 })).code).toBe('ERR_INVALID_ARG');
    await using sandbox = await createSandbox({ handlers: { a: ECHO } });
    for (const callOptions of [{ timeoutMs: 5 }, { signal: 'x' }, { gc: 1 }, 5]) {
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
      const error = await rejection(sandbox.call('a', {}, callOptions as any));
      expect(error.code, JSON.stringify(callOptions)).toBe('ERR_INVALID_ARG');
    }
  });
});

describe('hooks', () => {
  it('onCall sees every call with its stats; onTermination sees monitor kills', async () => {
    const calls: CallEvent[] = [];
    const terminations: SandboxTerminationEvent[] = [];
    await using sandbox = await createSandbox(
      { handlers: { flaky: FLAKY, spin: SPIN } },
      { hooks: { onCall: (e) => calls.push(e), onTermination: (e) => terminations.push(e) } },
    );
    await sandbox.call('flaky', {});
    await rejection(sandbox.call('flaky', { fail: true }));
    await rejection(sandbox.call('spin', {}, { monitors: wallClock(20) }));
    expect(calls.map((c) => [c.handler, c.ok, c.stats.terminatedBy])).toEqual([
      ['flaky', true, null],
      ['flaky', false, null],
      ['spin', false, 'wall-clock'],
    ]);
    expect(calls[1]?.error).toMatchObject({ code: 'ERR_HANDLER' });
    expect(terminations).toMatchObject([{ monitor: 'wall-clock', handler: 'spin', sandboxId: 0 }]);
  });
});

describe('hooks that throw', () => {
  it('are reported as warnings and change nothing', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const boom = () => {
        throw new Error('hook bug');
      };
      await using sandbox = await createSandbox(
        { handlers: { count: COUNTER, spin: SPIN } },
        { hooks: { onCall: boom, onReset: boom, onTermination: boom } },
      );
      expect(await sandbox.call('count', {})).toEqual({ count: 1 });
      await rejection(sandbox.call('spin', {}, { monitors: wallClock(20) }));
      expect(await sandbox.call('count', {})).toEqual({ count: 1 });
      const messages = warn.mock.calls.map((c) => String(c[0]));
      for (const hook of ['onCall', 'onReset', 'onTermination']) {
        expect(messages.some((m) => m.includes(hook) && m.includes('hook bug'))).toBe(true);
      }
    } finally {
      warn.mockRestore();
    }
  });
});

describe('disposal', () => {
  it('close() waits for calls already made, then calls reject with ERR_CLOSED', async () => {
    const sandbox = await createSandbox({ handlers: { spin: SPIN, echo: ECHO } });
    const running = sandbox.call('spin', { ms: 50 });
    const queued = sandbox.call('echo', 7);
    await sandbox.close();
    expect(await running).toEqual({ done: true });
    expect(await queued).toBe(7);
    expect(sandbox.closed).toBe(true);
    const error = await rejection(sandbox.call('echo', 1));
    expect(error.code).toBe(ERR_CLOSED);
    expect((await rejection(sandbox.reset())).code).toBe(ERR_CLOSED);
    await sandbox.close();
  });

  it('await using closes the sandbox at the end of the block', async () => {
    let outside: { closed: boolean } | undefined;
    {
      await using sandbox = await createSandbox({ handlers: { echo: ECHO } });
      outside = sandbox;
      expect(await sandbox.call('echo', 'x')).toBe('x');
      expect(sandbox.closed).toBe(false);
    }
    expect(outside?.closed).toBe(true);
  });

  it('calls queue in order on one sandbox', async () => {
    const counter = defineSandbox<{ count(event: object): { count: number } }>({
      handlers: { count: COUNTER },
    });
    await using sandbox = await createSandbox(counter);
    const results = await Promise.all(Array.from({ length: 10 }, () => sandbox.call('count', {})));
    expect(results.map((r) => r.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await sleep(0);
  });
});
