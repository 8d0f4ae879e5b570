import { getEventListeners } from 'node:events';
import { anyOf, cpuTime, hostCallBudget, monitor, signal, wallClock } from '@hyperlight/monitors';
import { describe, expect, it, vi } from 'vitest';
import {
  createPool,
  createSandbox,
  defineSandbox,
  type HostModuleCallContext,
  type HostModuleLike,
  type PrintLevel,
} from '../src/index';
import { COUNTER, ECHO, rejection, thrown } from './helpers';

// The definition's print sink and load limits, `signal` on createSandbox/createPool, and the
// host modules' per-call hooks, against real micro-VMs.

/** A handler whose module top level never returns: only a load limit or a signal ends it. */
const SPIN_AT_LOAD = `
  while (true) {}
  function handler() { return 1; }
`;

const BACKSTOP = wallClock(20_000);

describe('printSink', () => {
  it('receives every line with its level and the sandbox id; monitors see the output', async () => {
    const lines: Array<[string, PrintLevel, number]> = [];
    await using sandbox = await createSandbox({
      handlers: {
        talk: `function handler(e) {
          console.log('hello', e.name); console.warn('careful'); console.error('bad');
          print('raw');
          return 1;
        }`,
      },
      printSink: (line, level, sandboxId) => lines.push([line, level, sandboxId]),
    });
    expect(await sandbox.call('talk', { name: 'Ada' })).toBe(1);
    // The binding delivers output asynchronously: wait for the four lines.
    await vi.waitFor(() => expect(lines).toHaveLength(4), { timeout: 5000 });
    expect(lines).toEqual([
      ['hello Ada', 'info', 0],
      ['careful', 'warn', 0],
      ['bad', 'error', 0],
      ['raw', 'print', 0],
    ]);
  });

  it('an output monitor ends a guest that prints without end (the observer counts output)', async () => {
    let received = 0;
    await using sandbox = await createSandbox({
      handlers: { chatty: `function handler() { for (;;) console.log('x'.repeat(100)); }` },
      printSink: () => {
        received++;
      },
      limits: BACKSTOP,
    });
    const quiet = monitor('output-limit', (ctx) => {
      ctx.onOutput((e) => {
        if (e.totalBytes > 2000) ctx.kill();
      });
    });
    const error = await rejection(sandbox.call('chatty', {}, { monitors: quiet }));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('output-limit');
    expect(sandbox.lastCallStats?.outputBytes).toBeGreaterThan(2000);
    expect(received).toBeGreaterThan(20);
  });

  it('a pool tells its sandboxes apart; a sink that throws is a warning', async () => {
    const ids = new Set<number>();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      await using pool = await createPool(
        {
          handlers: { say: `function handler(e) { console.log('call ' + e.i); return e.i; }` },
          printSink: (_line, _level, sandboxId) => {
            ids.add(sandboxId);
            if (sandboxId === 1) throw new Error('sink broke');
          },
        },
        { size: 2 },
      );
      const slow = Array.from({ length: 8 }, (_, i) => pool.call('say', { i }));
      expect(await Promise.all(slow)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await vi.waitFor(() => expect([...ids].sort()).toEqual([0, 1]), { timeout: 5000 });
      await vi.waitFor(() => expect(warnings.join('\n')).toMatch(/printSink threw.*sink broke/));
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('loadLimits', () => {
  it('wallClock and cpuTime bound the code that runs at load time', async () => {
    const byClock = await rejection(
      createSandbox({ handlers: { h: SPIN_AT_LOAD }, loadLimits: wallClock(50) }),
    );
    expect(byClock.code).toBe('ERR_CANCELLED');
    expect(byClock.terminatedBy).toBe('wall-clock');
    const byCpu = await rejection(
      createSandbox({
        handlers: { h: SPIN_AT_LOAD },
        loadLimits: anyOf(wallClock(20_000), cpuTime(40)),
      }),
    );
    expect(byCpu.code).toBe('ERR_CANCELLED');
    expect(byCpu.terminatedBy).toBe('cpu-time');
  });

  it('a load within its limits makes a working sandbox', async () => {
    await using sandbox = await createSandbox({
      handlers: { count: COUNTER },
      loadLimits: anyOf(wallClock(20_000), cpuTime(10_000)),
    });
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
  });

  it('a signal monitor in loadLimits stops the loads, named after it', async () => {
    const shutdown = new AbortController();
    const definition = defineSandbox({
      handlers: { h: SPIN_AT_LOAD },
      loadLimits: anyOf(signal(shutdown.signal, 'shutdown'), BACKSTOP),
    });
    setTimeout(() => shutdown.abort('going down'), 50);
    const error = await rejection(createSandbox(definition));
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('shutdown');
    // Once aborted, no sandbox is made from the definition any more.
    const again = await rejection(createSandbox(definition));
    expect(again.terminatedBy).toBe('shutdown');
    expect(again.cause).toBe('going down');
  });

  it('createPool obeys them too, and releases the sandboxes it made', async () => {
    const error = await rejection(
      createPool({ handlers: { h: SPIN_AT_LOAD }, loadLimits: wallClock(50) }, { size: 2 }),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('wall-clock');
  });

  it("a pool stops replacing sandboxes once the definition's signal aborted", async () => {
    const shutdown = new AbortController();
    const replaced: Array<{ reason: string; error?: unknown }> = [];
    await using pool = await createPool(
      { handlers: { count: COUNTER }, loadLimits: signal(shutdown.signal, 'shutdown') },
      { size: 2, maxCallsPerSandbox: 1, hooks: { onReplace: (e) => replaced.push(e) } },
    );
    expect(await pool.call('count', {})).toEqual({ count: 1 });
    await vi.waitFor(() => expect(replaced).toHaveLength(1));
    expect(replaced[0]?.error).toBeUndefined();
    shutdown.abort('going down');
    // The next replacement fails, and is not retried: the other sandbox serves on.
    expect(await pool.call('count', {})).toEqual({ count: 1 });
    await vi.waitFor(() => expect(replaced).toHaveLength(2));
    expect((replaced[1]?.error as { terminatedBy?: unknown } | undefined)?.terminatedBy).toBe(
      'shutdown',
    );
    expect(await pool.call('count', {})).toEqual({ count: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1300)); // past the 1 s retry interval
    expect(replaced.length).toBe(3); // the last call's sandbox: replaced once, not retried
    expect(replaced.slice(1).every((e) => e.error !== undefined)).toBe(true);
  });

  it('only wallClock, cpuTime and signal monitors are accepted: ERR_INVALID_ARG at once', () => {
    const error = thrown(() =>
      defineSandbox({ handlers: { e: ECHO }, loadLimits: anyOf(wallClock(10), hostCallBudget(1)) }),
    );
    expect(error.code).toBe('ERR_INVALID_ARG');
    expect(error.message).toMatch(/host-call-budget/);
    expect(
      thrown(() => defineSandbox({ handlers: { e: ECHO }, loadLimits: 5 as never })).code,
    ).toBe('ERR_INVALID_ARG');
    expect(
      thrown(() => defineSandbox({ handlers: { e: ECHO }, printSink: 'stdout' as never })).code,
    ).toBe('ERR_INVALID_ARG');
  });
});

describe('signal of createSandbox and createPool', () => {
  it('an already aborted signal rejects at once with its reason', async () => {
    const error = await rejection(
      createSandbox({ handlers: { e: ECHO } }, { signal: AbortSignal.abort('no thanks') }),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBe('no thanks');
    expect(error.message).toMatch(/before it started/);
  });

  it('an abort while the micro-VM boots is seen when the boot ends', async () => {
    const controller = new AbortController();
    const making = createSandbox({ handlers: { e: ECHO } }, { signal: controller.signal });
    controller.abort('changed my mind');
    const error = await rejection(making);
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    expect(error.cause).toBe('changed my mind');
  });

  it('an abort during the load stops the guest code running at load time', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('deadline')), 50);
    const error = await rejection(
      createSandbox(
        { handlers: { h: SPIN_AT_LOAD }, loadLimits: BACKSTOP },
        { signal: controller.signal },
      ),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    expect((error.cause as Error).message).toBe('deadline');
  });

  it('createPool takes one too; bad signals are ERR_INVALID_ARG', async () => {
    const error = await rejection(
      createPool({ handlers: { h: SPIN_AT_LOAD } }, { size: 2, signal: AbortSignal.timeout(50) }),
    );
    expect(error.code).toBe('ERR_CANCELLED');
    expect(error.terminatedBy).toBe('abort');
    const bad = await rejection(
      createSandbox({ handlers: { e: ECHO } }, { signal: 'soon' as never }),
    );
    expect(bad.code).toBe('ERR_INVALID_ARG');
  });

  it('long-lived signals keep no listener once the sandboxes are made', async () => {
    const shutdown = new AbortController();
    const request = new AbortController();
    const definition = defineSandbox({
      handlers: { count: COUNTER },
      loadLimits: signal(shutdown.signal, 'shutdown'),
    });
    for (let i = 0; i < 12; i++) {
      await using sandbox = await createSandbox(definition, { signal: request.signal });
      expect(await sandbox.call('count', {})).toEqual({ count: 1 });
    }
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(request.signal, 'abort')).toHaveLength(0);
  });

  it('a signal that never aborts changes nothing', async () => {
    const controller = new AbortController();
    await using sandbox = await createSandbox(
      { handlers: { count: COUNTER } },
      { signal: controller.signal },
    );
    controller.abort();
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
  });
});

describe('host modules: per-call hooks', () => {
  /** A host module whose installations record the calls they are told about. */
  function recorder(seen: Array<HostModuleCallContext & { installation: number }>) {
    let installations = 0;
    const module: HostModuleLike = {
      name: 'rec',
      install(proto) {
        const installation = installations++;
        proto.hostModule('rec').register('last', () => seen.at(-1)?.callId ?? -1);
        return { beginCall: (call) => seen.push({ ...call, installation }) };
      },
    };
    return module;
  }

  it('beginCall runs before each call with the handler, a unique id and the sandbox id', async () => {
    const seen: Array<HostModuleCallContext & { installation: number }> = [];
    await using sandbox = await createSandbox({
      handlers: {
        ask: `import { last } from 'host:rec'; function handler() { return last(); }`,
        count: COUNTER,
      },
      hostModules: [recorder(seen)],
    });
    const first = await sandbox.call('ask', {});
    await sandbox.call('count', {});
    const third = await sandbox.call('ask', {});
    expect(seen.map((c) => [c.handler, c.sandboxId, c.installation])).toEqual([
      ['ask', 0, 0],
      ['count', 0, 0],
      ['ask', 0, 0],
    ]);
    // The guest saw its own call's id: the hook ran before the call.
    expect(first).toBe(seen[0]?.callId);
    expect(third).toBe(seen[2]?.callId);
    expect(new Set(seen.map((c) => c.callId)).size).toBe(3);
  });

  it('in a pool each sandbox calls its own installation', async () => {
    const seen: Array<HostModuleCallContext & { installation: number }> = [];
    await using pool = await createPool(
      { handlers: { echo: ECHO }, hostModules: [recorder(seen)] },
      { size: 3 },
    );
    await Promise.all(Array.from({ length: 12 }, (_, i) => pool.call('echo', i)));
    expect(seen).toHaveLength(12);
    // Sandboxes are made in parallel, so installations are numbered in any order: each one
    // serves exactly one sandbox.
    const sandboxOf = new Map<number, number>();
    for (const call of seen) {
      expect(sandboxOf.get(call.installation) ?? call.sandboxId).toBe(call.sandboxId);
      sandboxOf.set(call.installation, call.sandboxId);
    }
    expect(new Set(sandboxOf.values()).size).toBe(sandboxOf.size);
    expect(new Set(seen.map((c) => c.callId)).size).toBe(12);
  });

  it('a hook that throws rejects the call with its error; the handler does not run', async () => {
    let fail = true;
    const strict: HostModuleLike = {
      name: 'strict',
      install: () => ({
        beginCall: () => {
          if (fail) throw new RangeError('not now');
        },
      }),
    };
    await using sandbox = await createSandbox({
      handlers: { count: COUNTER },
      hostModules: [strict],
    });
    const error = await rejection(sandbox.call('count', {}));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('not now');
    fail = false;
    expect(await sandbox.call('count', {})).toEqual({ count: 1 });
    expect(sandbox.poisoned).toBe(false);
  });
});
