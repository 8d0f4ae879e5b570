import { type LoadedJSSandbox, SandboxBuilder } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { ECHO, loadedSandbox } from './helpers';

describe('concurrency', () => {
  it('keeps 100 sandboxes alive at once, each with its own state', async () => {
    const count = 100;
    const sandboxes: LoadedJSSandbox[] = [];
    for (let i = 0; i < count; i++) {
      sandboxes.push(
        await loadedSandbox({
          id: `const id = ${i}; let calls = 0; function handler(e) { calls++; return { id, calls, e }; }`,
        }),
      );
    }
    const results = await Promise.all(sandboxes.map((s, i) => s.callHandler('id', i * 2)));
    expect(results).toEqual(sandboxes.map((_, i) => ({ id: i, calls: 1, e: i * 2 })));
    const again = await Promise.all(sandboxes.map((s) => s.callHandler('id', null)));
    expect(again).toEqual(sandboxes.map((_, i) => ({ id: i, calls: 2, e: null })));
    await Promise.all(sandboxes.map((s) => s[Symbol.asyncDispose]()));
  }, 120_000);

  it('runs calls on different sandboxes in parallel: one blocked sandbox does not hold up another', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const blocked = await loadedSandbox(
      { handler: 'import * as io from "host:io"; function handler() { return io.wait(); }' },
      (proto) => proto.register('io', 'wait', () => gate.then(() => 'released')),
    );
    const spinner = await loadedSandbox({
      handler:
        'function handler(e) { const t = Date.now(); while (Date.now() - t < e.ms) {} return "spun"; }',
    });
    const free = await loadedSandbox({ echo: ECHO });

    const waiting = blocked.callHandler('handler', {});
    const spinning = spinner.callHandler('handler', { ms: 200 });
    // While one sandbox waits on a host Promise and another computes, a third answers many calls.
    for (let i = 0; i < 20; i++) expect(await free.callHandler('echo', i)).toBe(i);
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(false);
    release?.();
    expect(await waiting).toBe('released');
    expect(await spinning).toBe('spun');
    for (const s of [blocked, spinner, free]) await s[Symbol.asyncDispose]();
  });

  it('queues overlapping calls on one sandbox in order, never interleaving them', async () => {
    const log: string[] = [];
    const loaded = await loadedSandbox(
      {
        handler: `
          import * as io from "host:io";
          let running = false;
          function handler(e) {
            if (running) throw new Error('interleaved');
            running = true;
            io.enter(e.n);
            const out = io.work(e.n);
            io.leave(e.n);
            running = false;
            return out;
          }`,
      },
      (proto) => {
        proto.register('io', 'enter', (n: number) => log.push(`enter ${n}`));
        proto.register('io', 'work', async (n: number) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return n * 10;
        });
        proto.register('io', 'leave', (n: number) => log.push(`leave ${n}`));
      },
    );
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => loaded.callHandler('handler', { n })),
    );
    expect(results).toEqual([10, 20, 30, 40, 50]);
    expect(log).toEqual([1, 2, 3, 4, 5].flatMap((n) => [`enter ${n}`, `leave ${n}`]));
    await loaded[Symbol.asyncDispose]();
  });

  it('queues a snapshot and a restore behind running calls', async () => {
    const loaded = await loadedSandbox({ count: 'let n = 0; function handler() { return ++n; }' });
    const first = loaded.callHandler('count', {});
    const snapshot = loaded.snapshot();
    const second = loaded.callHandler('count', {});
    const restored = snapshot.then((s) => loaded.restore(s));
    const third = restored.then(() => loaded.callHandler('count', {}));
    expect(await Promise.all([first, second, third])).toEqual([1, 2, 2]);
    await loaded[Symbol.asyncDispose]();
  });

  it('lets the process exit with sandboxes alive and nothing pending', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = `
      const { SandboxBuilder } = require('@hyperlight/js-host-api');
      (async () => {
        const proto = await new SandboxBuilder().build();
        const js = await proto.loadRuntime();
        js.addHandler('echo', 'function handler(e) { return e; }');
        globalThis.keep = await js.getLoadedSandbox();
        console.log(JSON.stringify(await globalThis.keep.callHandler('echo', { ok: true })));
      })();
    `;
    const run = spawnSync(process.execPath, ['-e', script], {
      cwd: new URL('..', import.meta.url),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('{"ok":true}');
    expect(run.status).toBe(0);
  });

  // HYPERLIGHT_JS_EVENT_LOOP_SPIN_US: the event loop's idle handle never keeps a process alive, is
  // closed with a worker's environment, and a bad value is ignored with a warning.
  it.each([
    ['10000', ''],
    ['0', ''],
    ['soon', 'HYPERLIGHT_JS_EVENT_LOOP_SPIN_US must be a whole number'],
  ])(
    'exits cleanly, in a worker too, with HYPERLIGHT_JS_EVENT_LOOP_SPIN_US=%s',
    async (value, warning) => {
      const { spawnSync } = await import('node:child_process');
      const body = `
      const { Worker, isMainThread, parentPort } = require('node:worker_threads');
      const { SandboxBuilder } = require('@hyperlight/js-host-api');
      async function echo(value) {
        const proto = await new SandboxBuilder().build();
        const js = await proto.loadRuntime();
        js.addHandler('echo', 'function handler(e) { return e; }');
        globalThis.keep = await js.getLoadedSandbox();
        return globalThis.keep.callHandler('echo', value);
      }
      if (isMainThread) {
        echo({ main: true }).then((r) => {
          console.log(JSON.stringify(r));
          const worker = new Worker(process.env.SCRIPT, { eval: true });
          worker.on('message', (m) => console.log(JSON.stringify(m)));
          worker.on('exit', (code) => console.log('worker exit', code));
        });
      } else {
        echo({ worker: true }).then((r) => parentPort.postMessage(r));
      }
    `;
      const run = spawnSync(process.execPath, ['-e', body], {
        cwd: new URL('..', import.meta.url),
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, SCRIPT: body, HYPERLIGHT_JS_EVENT_LOOP_SPIN_US: value },
      });
      if (warning) {
        expect(run.stderr).toContain(warning);
      } else {
        expect(run.stderr).toBe('');
      }
      expect(run.stdout.trim().split('\n')).toEqual([
        '{"main":true}',
        '{"worker":true}',
        'worker exit 0',
      ]);
      expect(run.status).toBe(0);
    },
  );

  it('builds sandboxes concurrently: each is its own working micro-VM', async () => {
    // Built, loaded and called all at once: every one answers with its own state, and a host
    // function registered on one proto is called on that one only.
    const seen: number[] = [];
    const protos = await Promise.all(Array.from({ length: 8 }, () => new SandboxBuilder().build()));
    expect(new Set(protos).size).toBe(8);
    const loaded = await Promise.all(
      protos.map(async (proto, i) => {
        proto.register('me', 'id', () => {
          seen.push(i);
          return i;
        });
        const js = await proto.loadRuntime();
        js.addHandler(
          'who',
          `import { id } from 'host:me'; let calls = 0; function handler(e) { calls++; return { id: id(), e, calls }; }`,
        );
        return js.getLoadedSandbox();
      }),
    );
    const results = await Promise.all(loaded.map((l, i) => l.callHandler('who', i * 10)));
    expect(results).toEqual(loaded.map((_, i) => ({ id: i, e: i * 10, calls: 1 })));
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await Promise.all(loaded.map((l) => l[Symbol.asyncDispose]()));
  });
});
