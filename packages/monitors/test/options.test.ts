import { SandboxBuilder } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import {
  createCallObserver,
  hostCallBudget,
  monitor,
  monitorSandbox,
  wallClock,
} from '../src/index';
import { ECHO, HOST_CALLS, observedSandbox, rejection, thrown } from './helpers';

describe('options are checked, never ignored', () => {
  it('an unknown key of a call is ERR_INVALID_ARG naming it and the known ones; nothing runs', async () => {
    const { loaded, ran } = await observedSandbox();
    const m = monitorSandbox(loaded);
    for (const options of [
      { monitor: wallClock(100) },
      { wallClockTimeoutMs: 300 },
      { timeout: 100 },
    ]) {
      const key = Object.keys(options)[0] as string;
      // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
      const error = await rejection(m.call('hosts', { n: 1 }, options as any));
      expect(error.code, key).toBe('ERR_INVALID_ARG');
      expect(error.message).toContain(
        `the options of call() has an unknown key ${JSON.stringify(key)}; known: monitors, gc`,
      );
    }
    // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
    const gc = await rejection(m.call('echo', {}, { gc: 'no' } as any));
    expect(gc.code).toBe('ERR_INVALID_ARG');
    expect(gc.message).toContain('gc must be a boolean');
    // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
    expect((await rejection(m.call('echo', {}, 5 as any))).code).toBe('ERR_INVALID_ARG');
    expect(ran.count).toBe(0);
    expect(m.lastCallStats).toBeNull();
    // The sandbox is fine afterwards.
    expect(await m.call('echo', { a: 1 }, { monitors: wallClock(10_000), gc: false })).toEqual({
      a: 1,
    });
    await loaded[Symbol.asyncDispose]();
  });

  it('an unknown key of monitorSandbox() is ERR_INVALID_ARG', async () => {
    const { loaded, observer } = await observedSandbox();
    // biome-ignore lint/suspicious/noExplicitAny: bad input on purpose.
    const error = thrown(() => monitorSandbox(loaded, { obsrver: observer } as any));
    expect(error.code).toBe('ERR_INVALID_ARG');
    expect(error.message).toContain('unknown key "obsrver"; known: observer, onTermination');
    await loaded[Symbol.asyncDispose]();
  });
});

describe('monitors that need an observer are refused without one', () => {
  it('hostCallBudget on a sandbox monitored without an observer: ERR_INVALID_ARG, no host call ran', async () => {
    const { loaded, ran } = await observedSandbox();
    const m = monitorSandbox(loaded);
    const error = await rejection(m.call('hosts', { n: 3 }, { monitors: hostCallBudget(1) }));
    expect(error.code).toBe('ERR_INVALID_ARG');
    expect(error.message).toContain('`host-call-budget` monitor watches host calls');
    expect(error.message).toContain('createCallObserver()');
    expect(ran.count).toBe(0);
    expect(loaded.poisoned).toBe(false);
    // A custom monitor listening for output is refused the same way.
    const quiet = monitor('output-quota', (ctx) => ctx.onOutput(() => ctx.kill()));
    const out = await rejection(m.call('echo', {}, { monitors: quiet }));
    expect(out.code).toBe('ERR_INVALID_ARG');
    expect(out.message).toContain('`output-quota` monitor watches guest output');
    // Monitors that need no observer still work.
    expect(await m.call('hosts', { n: 2 }, { monitors: wallClock(10_000) })).toEqual({ got: 2 });
    expect(ran.count).toBe(2);
    await loaded[Symbol.asyncDispose]();
  });

  it('with the observer, the budget is enforced (the 2nd host call does not run)', async () => {
    const { loaded, observer, ran } = await observedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const error = await rejection(m.call('hosts', { n: 3 }, { monitors: hostCallBudget(1) }));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('host-call-budget');
    expect(ran.count).toBe(1);
    await loaded[Symbol.asyncDispose]();
  });

  it('an output monitor whose observer is not the print sink is refused; with it, it runs', async () => {
    const observer = createCallObserver();
    const proto = observer.instrument(await new SandboxBuilder().build());
    proto.hostModule('db').register('get', () => 'v');
    const js = await proto.loadRuntime();
    js.addHandler('echo', ECHO);
    js.addHandler('hosts', HOST_CALLS);
    const loaded = await js.getLoadedSandbox();
    const m = monitorSandbox(loaded, { observer });
    const watch = monitor('output-quota', (ctx) => ctx.onOutput(() => undefined));
    const error = await rejection(m.call('echo', { a: 1 }, { monitors: watch }));
    expect(error.code).toBe('ERR_INVALID_ARG');
    expect(error.message).toContain('observer.printSink(next)');
    // A host-call monitor is fine: the host functions go through the observer.
    expect(await m.call('hosts', { n: 1 }, { monitors: hostCallBudget(5) })).toEqual({ got: 1 });
    // Once the observer makes a print sink, output monitors are accepted.
    observer.printSink();
    expect(await m.call('echo', { a: 2 }, { monitors: watch })).toEqual({ a: 2 });
    await loaded[Symbol.asyncDispose]();
  });
});
