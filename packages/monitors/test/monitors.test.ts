import { SandboxBuilder } from '@hyperlight/js-host-api';
import { describe, expect, it, vi } from 'vitest';
import {
  anyOf,
  cpuTime,
  createCallObserver,
  ERR_MONITOR_START,
  hostCallBudget,
  isMonitor,
  isMonitorSet,
  MonitorStartError,
  monitor,
  monitorSandbox,
  signal,
  type TerminationEvent,
  wallClock,
} from '../src/index';
import { ECHO, observedSandbox, rejection, thrown } from './helpers';

// Every spinning call also has a generous wall clock, so a monitor that failed to fire ends the
// test with a failure instead of a micro-VM spinning forever.
const BACKSTOP = wallClock(20_000);

describe('built-in monitors', () => {
  it('wallClock is the native wall-clock monitor: cancelled, named, poisoned', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const error = await rejection(m.call('spin', {}, { monitors: wallClock(50) }));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('wall-clock');
    expect(error.handlerStarted).toBe(true);
    expect(loaded.poisoned).toBe(true);
    expect(m.lastCallStats?.terminatedBy).toBe('wall-clock');
    expect(m.lastCallStats?.wallClockMs).toBeGreaterThanOrEqual(50);
    await loaded[Symbol.asyncDispose]();
  });

  it('cpuTime is the native cpu-time monitor', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const error = await rejection(m.call('spin', {}, { monitors: anyOf(cpuTime(30), BACKSTOP) }));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('cpu-time');
    expect(m.lastCallStats?.cpuTimeMs).toBeGreaterThanOrEqual(30);
    await loaded[Symbol.asyncDispose]();
  });

  it('a call within its limits returns its result, terminatedBy null', async () => {
    const { loaded, observer } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const monitors = anyOf(wallClock(5000), cpuTime(1000), hostCallBudget(10));
    expect(await m.call('echo', { a: 1 }, { monitors })).toEqual({ a: 1 });
    expect(m.lastCallStats).toMatchObject({ terminatedBy: null, hostCalls: 0, outputBytes: 0 });
    await loaded[Symbol.asyncDispose]();
  });

  it('hostCallBudget(n) lets n host calls run and kills the call at the next one', async () => {
    const { loaded, observer, ran } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    expect(await m.call('hosts', { n: 3 }, { monitors: hostCallBudget(3) })).toEqual({ got: 3 });
    expect(ran.count).toBe(3);
    expect(m.lastCallStats?.hostCalls).toBe(3);
    ran.count = 0;
    const error = await rejection(
      m.call('hosts', { n: 1000 }, { monitors: anyOf(hostCallBudget(3), BACKSTOP) }),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('host-call-budget');
    // The fourth host function never ran.
    expect(ran.count).toBe(3);
    expect(m.lastCallStats?.hostCalls).toBe(4);
    expect(loaded.poisoned).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });

  it('hostCallBudget(0) allows no host call at all', async () => {
    const { loaded, observer, ran } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const error = await rejection(m.call('hosts', { n: 1 }, { monitors: hostCallBudget(0) }));
    expect(error.terminatedBy).toBe('host-call-budget');
    expect(ran.count).toBe(0);
    await loaded[Symbol.asyncDispose]();
  });

  it('signal() stops a running call politely: ERR_CANCELLED, abort, reason as cause, not poisoned', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const controller = new AbortController();
    const reason = new Error('client went away');
    setTimeout(() => controller.abort(reason), 30);
    const error = await rejection(
      m.call('spin', {}, { monitors: anyOf(signal(controller.signal), BACKSTOP) }),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBe(reason);
    expect(error.handlerStarted).toBe(true);
    expect(error.poisoned).toBe(false);
    expect(error.message).toMatch(/still usable/);
    expect(m.lastCallStats?.terminatedBy).toBe('abort');
    // The engine's interrupt unwound the guest: the next call needs no restore.
    expect(loaded.poisoned).toBe(false);
    expect(await m.call('echo', { again: true })).toEqual({ again: true });
    await loaded[Symbol.asyncDispose]();
  });

  it('signal() kills a guest that cannot stop (waiting on the host) after gracePeriodMs: poisoned', async () => {
    const observer = createCallObserver();
    const proto = observer.instrument(await new SandboxBuilder().build());
    // The host function returns only when the test lets it: the call can end only by the kill.
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    proto.hostModule('slow').register('wait', () => gate.then(() => 'late'));
    const js = await proto.loadRuntime();
    js.addHandler(
      'wait',
      `import { wait } from 'host:slow'; function handler() { return wait(); }`,
    );
    const loaded = await js.getLoadedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const controller = new AbortController();
    setTimeout(() => controller.abort('stop'), 30);
    const error = await rejection(
      m.call(
        'wait',
        {},
        {
          monitors: anyOf(signal(controller.signal, { gracePeriodMs: 20 }), BACKSTOP),
        },
      ),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBe('stop');
    expect(error.poisoned).toBe(true);
    expect(error.message).toMatch(/poisoned/);
    expect(loaded.poisoned).toBe(true);
    release?.();
    await loaded[Symbol.asyncDispose]();
  });

  it('a signal that aborts just after the call was submitted still ends it', async () => {
    // The abort lands before, while or just after the binding starts the call on the sandbox's
    // thread; each time the call must end by the signal, never run on to the backstop.
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const snapshot = await loaded.snapshot();
    for (let ticks = 0; ticks < 12; ticks++) {
      const controller = new AbortController();
      const call = m.call('spin', {}, { monitors: anyOf(signal(controller.signal), BACKSTOP) });
      for (let i = 0; i < ticks; i++) await null;
      controller.abort();
      const error = await rejection(call);
      expect(error.code, `after ${ticks} microtasks`).toBe('ERR_CANCELLED');
      expect(error.terminatedBy, `after ${ticks} microtasks`).toBe('abort');
      expect(error.poisoned, `after ${ticks} microtasks`).toBe(loaded.poisoned);
      if (loaded.poisoned) await loaded.restore(snapshot);
    }
    await loaded[Symbol.asyncDispose]();
  });

  it('an already aborted signal keeps the handler from running; not poisoned', async () => {
    const { loaded, observer, ran } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const error = await rejection(
      m.call('hosts', { n: 1 }, { monitors: signal(AbortSignal.abort('early'), 'request') }),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('request');
    expect(error.handlerStarted).toBe(false);
    expect(error.cause).toBe('early');
    expect(ran.count).toBe(0);
    expect(loaded.poisoned).toBe(false);
    expect(await m.call('echo', 1)).toBe(1);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('custom monitors', () => {
  it('see elapsed time and kill; cleanup runs and the context signal aborts', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const seen: { cleanup: boolean; signal?: AbortSignal } = { cleanup: false };
    const deadline = monitor('deadline-40', (ctx) => {
      seen.signal = ctx.signal;
      expect(ctx.handler).toBe('spin');
      expect(ctx.monitor).toBe('deadline-40');
      const timer = setInterval(() => {
        if (ctx.elapsedMs() >= 40) ctx.kill();
      }, 5);
      return () => {
        clearInterval(timer);
        seen.cleanup = true;
      };
    });
    const error = await rejection(m.call('spin', {}, { monitors: anyOf(deadline, BACKSTOP) }));
    expect(error.terminatedBy).toBe('deadline-40');
    expect(seen.cleanup).toBe(true);
    expect(seen.signal?.aborted).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });

  it('observe every host call with its module, function and count', async () => {
    const { loaded, observer } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const events: unknown[] = [];
    const watch = monitor('watch', (ctx) => {
      ctx.onHostCall((e) => events.push({ module: e.module, fn: e.function, count: e.count }));
    });
    await m.call('hosts', { n: 2 }, { monitors: watch });
    expect(events).toEqual([
      { module: 'db', fn: 'get', count: 1 },
      { module: 'db', fn: 'get', count: 2 },
    ]);
    await loaded[Symbol.asyncDispose]();
  });

  it('observe output volume fed through the observer', async () => {
    // The print sink calls observer.output(); here a host function does, during the call.
    const observer = createCallObserver();
    const proto = observer.instrument(await new SandboxBuilder().build());
    const lines: string[] = [];
    const sink = observer.printSink((line) => lines.push(line));
    proto.register('log', 'line', (text: string) => sink(text, 'info'));
    const js = await proto.loadRuntime();
    js.addHandler(
      'chatty',
      `import * as log from 'host:log';
       function handler(event) { for (let i = 0; i < event.n; i++) log.line('é'.repeat(10)); return 1; }`,
    );
    const loaded = await js.getLoadedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const quota = monitor('output-quota', (ctx) => {
      ctx.onOutput((line) => {
        if (line.totalBytes > 100) ctx.kill();
      });
    });
    expect(await m.call('chatty', { n: 5 }, { monitors: quota })).toBe(1);
    expect(m.lastCallStats?.outputBytes).toBe(100);
    expect(lines).toHaveLength(5);
    const error = await rejection(m.call('chatty', { n: 6 }, { monitors: quota }));
    expect(error.terminatedBy).toBe('output-quota');
    await loaded[Symbol.asyncDispose]();
  });

  it('a listener that throws ends the call in its monitor’s name (fail closed)', async () => {
    const { loaded, observer, ran } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const broken = monitor('broken', (ctx) => {
      ctx.onHostCall(() => {
        throw new Error('bug in the monitor');
      });
    });
    const error = await rejection(m.call('hosts', { n: 3 }, { monitors: broken }));
    expect(error.terminatedBy).toBe('broken');
    expect((error.cause as Error).message).toBe('bug in the monitor');
    expect(ran.count).toBe(0);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('anyOf: the first monitor to fire wins', () => {
  it('a host-call budget beats a long wall clock', async () => {
    const { loaded, observer } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const error = await rejection(
      m.call('hosts', { n: 100 }, { monitors: anyOf(wallClock(10_000), hostCallBudget(5)) }),
    );
    expect(error.terminatedBy).toBe('host-call-budget');
    await loaded[Symbol.asyncDispose]();
  });

  it('a native wall clock beats a slow custom monitor', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const slow = monitor('slow', (ctx) => {
      const timer = setTimeout(() => ctx.kill(), 5_000);
      return () => clearTimeout(timer);
    });
    const error = await rejection(m.call('spin', {}, { monitors: anyOf(slow, wallClock(40)) }));
    expect(error.terminatedBy).toBe('wall-clock');
    await loaded[Symbol.asyncDispose]();
  });

  it('cpu-time beats wall-clock on a spinning handler; the smallest limit of a kind applies', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const monitors = anyOf(
      anyOf(wallClock(20_000), cpuTime(5_000)),
      cpuTime(30),
      wallClock(15_000),
    );
    // What reaches the binding is one limit of each kind, the smallest: the 30 ms CPU budget is
    // the one that can fire (a 5 s one reaching it instead would let the call spin 5 s).
    const callHandler = vi.spyOn(loaded, 'callHandler');
    const error = await rejection(m.call('spin', {}, { monitors }));
    expect(error.terminatedBy).toBe('cpu-time');
    expect(callHandler).toHaveBeenCalledTimes(1);
    expect(callHandler.mock.calls[0]?.[2]).toMatchObject({
      cpuTimeoutMs: 30,
      wallClockTimeoutMs: 15_000,
    });
    callHandler.mockRestore();
    await loaded[Symbol.asyncDispose]();
  });

  it('a custom kill beats a long native wall clock', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const quick = monitor('quick', (ctx) => {
      const timer = setTimeout(() => ctx.kill(), 20);
      return () => clearTimeout(timer);
    });
    const error = await rejection(
      m.call('spin', {}, { monitors: anyOf(wallClock(10_000), quick) }),
    );
    expect(error.terminatedBy).toBe('quick');
    expect(m.lastCallStats?.terminatedBy).toBe('quick');
    await loaded[Symbol.asyncDispose]();
  });
});

describe('anyOf with signals: the first to fire wins', () => {
  it('a custom monitor that fired first keeps its name when a signal aborts before the call settles', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const controller = new AbortController();
    const first = monitor('first', (ctx) => {
      const timer = setTimeout(() => {
        ctx.kill('first fired');
        // Same tick: the binding sees the abort before the killed call settles.
        controller.abort('second');
      }, 30);
      return () => clearTimeout(timer);
    });
    const error = await rejection(
      m.call('spin', {}, { monitors: anyOf(signal(controller.signal), first, BACKSTOP) }),
    );
    expect(error.terminatedBy).toBe('first');
    expect(error.cause).toBe('first fired');
    expect(m.lastCallStats?.terminatedBy).toBe('first');
    await loaded[Symbol.asyncDispose]();
  });

  it('a signal that aborted first wins over a later custom kill, which no longer hard-kills', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const controller = new AbortController();
    const late = monitor('late', (ctx) => {
      const timer = setTimeout(() => {
        controller.abort('first');
        ctx.kill('too late');
      }, 30);
      return () => clearTimeout(timer);
    });
    const error = await rejection(
      m.call('spin', {}, { monitors: anyOf(late, signal(controller.signal), BACKSTOP) }),
    );
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBe('first');
    // The polite stop did its work: no kill reached the VM.
    expect(error.poisoned).toBe(false);
    expect(loaded.poisoned).toBe(false);
    await loaded[Symbol.asyncDispose]();
  });

  it('native wall clock vs signal: whichever fires first names the call', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const snapshot = await loaded.snapshot();
    const slow = new AbortController();
    const timer = setTimeout(() => slow.abort(), 10_000);
    const byClock = await rejection(
      m.call('spin', {}, { monitors: anyOf(signal(slow.signal), wallClock(40)) }),
    );
    clearTimeout(timer);
    expect(byClock.terminatedBy).toBe('wall-clock');
    expect(byClock.poisoned).toBe(true);
    await loaded.restore(snapshot);
    const quick = new AbortController();
    setTimeout(() => quick.abort(), 30);
    const bySignal = await rejection(
      m.call('spin', {}, { monitors: anyOf(wallClock(10_000), signal(quick.signal)) }),
    );
    expect(bySignal.terminatedBy).toBe('abort');
    expect(bySignal.poisoned).toBe(false);
    await loaded[Symbol.asyncDispose]();
  });

  it('several signals: the call names the one that aborted', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const client = new AbortController();
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort('shutting down'), 30);
    const error = await rejection(
      m.call(
        'spin',
        {},
        {
          monitors: anyOf(
            signal(client.signal, 'client'),
            signal(shutdown.signal, { name: 'shutdown', gracePeriodMs: 50 }),
            BACKSTOP,
          ),
        },
      ),
    );
    expect(error.terminatedBy).toBe('shutdown');
    expect(error.cause).toBe('shutting down');
    expect(error.poisoned).toBe(false);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('fail closed', () => {
  it('a start that throws keeps the handler from running; not poisoned; others cleaned up', async () => {
    const { loaded, observer, ran } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    let cleaned = false;
    const ok = monitor('ok', () => () => {
      cleaned = true;
    });
    const bad = monitor('bad', () => {
      throw new Error('no metrics backend');
    });
    const error = await rejection(m.call('hosts', { n: 2 }, { monitors: anyOf(ok, bad) }));
    expect(error).toBeInstanceOf(MonitorStartError);
    expect(error.code).toBe(ERR_MONITOR_START);
    expect(error.monitorName).toBe('bad');
    expect((error.cause as Error).message).toBe('no metrics backend');
    expect(ran.count).toBe(0);
    expect(cleaned).toBe(true);
    expect(loaded.poisoned).toBe(false);
    expect(await m.call('hosts', { n: 2 })).toEqual({ got: 2 });
    await loaded[Symbol.asyncDispose]();
  });

  it('a start that returns a Promise fails closed too', async () => {
    const { loaded, ran, observer } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    // biome-ignore lint/suspicious/noExplicitAny: deliberately breaking the contract.
    const asyncStart = monitor('async', (async () => {}) as any);
    const error = await rejection(m.call('hosts', { n: 1 }, { monitors: asyncStart }));
    expect(error.code).toBe(ERR_MONITOR_START);
    expect(ran.count).toBe(0);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('termination hook', () => {
  it('reports the monitor, handler and elapsed time of every termination', async () => {
    const { loaded, observer } = await observedSandbox();
    const events: TerminationEvent[] = [];
    const m = monitorSandbox(loaded, { observer, onTermination: (e) => events.push(e) });
    const snapshot = await loaded.snapshot();
    await rejection(m.call('spin', {}, { monitors: wallClock(30) }));
    await loaded.restore(snapshot);
    await rejection(m.call('hosts', { n: 9 }, { monitors: hostCallBudget(1) }));
    await loaded.restore(snapshot);
    await m.call('echo', {}, { monitors: wallClock(1000) });
    expect(events.map((e) => [e.monitor, e.handler, e.handlerStarted])).toEqual([
      ['wall-clock', 'spin', true],
      ['host-call-budget', 'hosts', true],
    ]);
    expect(events[0]?.elapsedMs).toBeGreaterThanOrEqual(30);
    await loaded[Symbol.asyncDispose]();
  });

  it('a hook that throws does not change the outcome', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded, {
      onTermination: () => {
        throw new Error('hook bug');
      },
    });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const error = await rejection(m.call('spin', {}, { monitors: wallClock(20) }));
      expect(error.terminatedBy).toBe('wall-clock');
      expect(String(warn.mock.calls[0]?.[0])).toContain('hook bug');
    } finally {
      warn.mockRestore();
    }
    await loaded[Symbol.asyncDispose]();
  });
});

describe('arguments', () => {
  it('bad limits, names and inputs are ERR_INVALID_ARG', () => {
    for (const f of [
      () => wallClock(0),
      () => wallClock(1.5),
      () => cpuTime(3_600_001),
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
      () => cpuTime('10' as any),
      () => hostCallBudget(-1),
      () => monitor('', () => {}),
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
      () => monitor('x', 42 as any),
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
      () => signal({} as any),
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
      () => anyOf([wallClock(1)] as any),
    ]) {
      expect(thrown(f).code).toBe('ERR_INVALID_ARG');
    }
  });

  it('monitors are frozen, branded values; sets flatten', () => {
    const set = anyOf(wallClock(5), anyOf(cpuTime(6), null), undefined);
    expect(isMonitorSet(set)).toBe(true);
    expect(set.monitors.map((m) => m.name)).toEqual(['wall-clock', 'cpu-time']);
    expect(isMonitor(set.monitors[0])).toBe(true);
    expect(Object.isFrozen(set.monitors[0])).toBe(true);
    expect(isMonitor({ name: 'x', kind: 'custom' })).toBe(false);
  });

  it('a call with something that is not a monitor rejects with ERR_INVALID_ARG', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
    const error = await rejection(m.call('echo', {}, { monitors: { timeoutMs: 5 } as any }));
    expect(error.code).toBe('ERR_INVALID_ARG');
    await loaded[Symbol.asyncDispose]();
  });

  it('one observer serves one sandbox', async () => {
    const { observer, loaded } = await observedSandbox();
    monitorSandbox(loaded, { observer });
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    js.addHandler('echo', ECHO);
    const other = await js.getLoadedSandbox();
    expect(thrown(() => monitorSandbox(other, { observer })).code).toBe('ERR_INVALID_ARG');
    await other[Symbol.asyncDispose]();
    await loaded[Symbol.asyncDispose]();
  });
});

describe('serialised calls', () => {
  it('a kill fired around the end of one call never reaches another call', async () => {
    const { loaded } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const snapshot = await loaded.snapshot();
    // Kills about when a 1 ms call ends: before, during, or after the binding finished it.
    const late = monitor('late', (ctx) => {
      const timer = setTimeout(() => ctx.kill(), 1);
      return () => clearTimeout(timer);
    });
    const outcomes = { ok: 0, cancelled: 0 };
    for (let i = 0; i < 40; i++) {
      // Two calls queued back to back: the second must never be killed by the first's monitor.
      const first = m.call('spin', { ms: 1 }, { monitors: anyOf(late, BACKSTOP) });
      const second = m.call('echo', { i });
      const [a, b] = await Promise.allSettled([first, second]);
      if (a.status === 'fulfilled') {
        outcomes.ok++;
        expect(a.value).toEqual({ done: true });
        expect(b).toEqual({ status: 'fulfilled', value: { i } });
      } else {
        outcomes.cancelled++;
        expect(a.reason.terminatedBy).toBe('late');
        // The echo ran on the poisoned sandbox: ERR_POISONED, never ERR_CANCELLED.
        expect(b.status === 'rejected' && b.reason.code).toBe('ERR_POISONED');
        await loaded.restore(snapshot);
      }
    }
    expect(outcomes.ok + outcomes.cancelled).toBe(40);
    await loaded[Symbol.asyncDispose]();
  });
});
