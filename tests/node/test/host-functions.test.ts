import { ERR_CANCELLED, ERR_INVALID_ARG, SandboxBuilder } from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { expectRejectCode, expectThrowCode, loadedSandbox, stopWhenRunning } from './helpers';

describe('host functions', () => {
  it('spreads arguments and stringifies sync results (hostModule().register chains)', async () => {
    const seen: unknown[][] = [];
    const loaded = await loadedSandbox(
      {
        handler: `
          import * as math from "host:math";
          function handler(event) {
            return { result: math.add(event.a, event.b), product: math.multiply(event.a, event.b) };
          }`,
      },
      (proto) => {
        const math = proto.hostModule('math');
        expect(
          math.register('add', (...args: number[]) => {
            seen.push(args);
            return (args[0] ?? 0) + (args[1] ?? 0);
          }),
        ).toBe(math);
        math.register('multiply', (a: number, b: number) => a * b);
      },
    );
    expect(await loaded.callHandler('handler', { a: 10, b: 32 })).toEqual({
      result: 42,
      product: 320,
    });
    expect(seen).toEqual([[10, 32]]);
    await loaded[Symbol.asyncDispose]();
  });

  it('passes complex values both ways; undefined and functions become null', async () => {
    const loaded = await loadedSandbox(
      {
        handler: `
          import * as db from "host:db";
          function handler(event) {
            return {
              rows: db.query("users", { limit: 2, where: { active: true } }, [1, 2]),
              nothing: db.nothing(),
              noArgs: db.count(),
            };
          }`,
      },
      (proto) => {
        proto.register('db', 'query', (table: string, options: unknown, ids: number[]) => ({
          table,
          options,
          ids,
          rows: [
            { id: 1, name: 'Alice', tags: ['a', 'b'], meta: { score: 1.5, ok: true, none: null } },
          ],
        }));
        proto.register('db', 'nothing', () => undefined);
        proto.register('db', 'count', (...args: unknown[]) => args.length);
      },
    );
    expect(await loaded.callHandler('handler', {})).toEqual({
      rows: {
        table: 'users',
        options: { limit: 2, where: { active: true } },
        ids: [1, 2],
        rows: [
          { id: 1, name: 'Alice', tags: ['a', 'b'], meta: { score: 1.5, ok: true, none: null } },
        ],
      },
      nothing: null,
      noArgs: 0,
    });
    await loaded[Symbol.asyncDispose]();
  });

  it('awaits async callbacks and Promises', async () => {
    const loaded = await loadedSandbox(
      {
        handler: `
          import * as api from "host:api";
          function handler(event) {
            return { user: api.fetchUser(event.id), twice: api.double(21) };
          }`,
      },
      (proto) => {
        proto.hostModule('api').register('fetchUser', async (id: number) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return { id, name: 'Alice' };
        });
        proto.register('api', 'double', (n: number) => Promise.resolve(n * 2));
      },
    );
    expect(await loaded.callHandler('handler', { id: 42 })).toEqual({
      user: { id: 42, name: 'Alice' },
      twice: 42,
    });
    await loaded[Symbol.asyncDispose]();
  });

  it('turns a throw or a rejection into a catchable Error in the guest with the message', async () => {
    const loaded = await loadedSandbox(
      {
        handler: `
          import * as auth from "host:auth";
          function attempt(f) {
            try { return { value: f() }; } catch (e) { return { error: e.message, isError: e instanceof Error }; }
          }
          function handler(event) {
            return {
              sync: attempt(() => auth.validate(event.token)),
              ok: attempt(() => auth.validate('t')),
              async: attempt(() => auth.validateAsync(event.token)),
              nonError: attempt(() => auth.throwsString()),
              badResult: attempt(() => auth.bigint()),
            };
          }`,
      },
      (proto) => {
        const auth = proto.hostModule('auth');
        auth.register('validate', (token: string | undefined) => {
          if (!token) throw new Error('Token is required');
          return { valid: true };
        });
        auth.register('validateAsync', async (token: string | undefined) => {
          await Promise.resolve();
          if (!token) throw new Error('Token is required (async)');
          return { valid: true };
        });
        auth.register('throwsString', () => {
          throw 'plain string';
        });
        auth.register('bigint', () => 10n);
      },
    );
    type Outcome = { value?: unknown; error?: string; isError?: boolean };
    const result = await loaded.callHandler<Record<string, Outcome>>('handler', {});
    expect(result.sync).toEqual({ error: 'Token is required', isError: true });
    expect(result.ok).toEqual({ value: { valid: true } });
    expect(result.async).toEqual({ error: 'Token is required (async)', isError: true });
    expect(result.nonError).toEqual({ error: 'plain string', isError: true });
    expect(result.badResult?.error).toMatch(/not JSON-serialisable/);
    expect(loaded.poisoned).toBe(false);
    await loaded[Symbol.asyncDispose]();
  });

  it('validates registrations', async () => {
    const proto = await new SandboxBuilder().build();
    expectThrowCode(() => proto.hostModule(''), ERR_INVALID_ARG);
    const m = proto.hostModule('m');
    expectThrowCode(() => m.register('', () => 1), ERR_INVALID_ARG);
    const register = m.register.bind(m) as (n: unknown, f: unknown) => unknown;
    expectThrowCode(() => register('f', 'not a function'), ERR_INVALID_ARG);
    expectThrowCode(() => register(7, () => 1), ERR_INVALID_ARG);
    m.register('f', () => 1);
    expectThrowCode(() => m.register('f', () => 2), ERR_INVALID_ARG);
    expectThrowCode(() => proto.register('m', 'f', () => 3), ERR_INVALID_ARG);
    expectThrowCode(() => proto.register('', 'g', () => 3), ERR_INVALID_ARG);
    const js = await proto.loadRuntime();
    // After loadRuntime() the module builder is consumed with its sandbox.
    expect(() => m.register('g', () => 1)).toThrow(
      expect.objectContaining({ code: 'ERR_CONSUMED' }),
    );
    await js[Symbol.asyncDispose]();
  });

  it('survives snapshot/restore: host-side state lives in Node.js', async () => {
    let callCount = 0;
    const loaded = await loadedSandbox(
      {
        handler: `
          import * as stats from "host:stats";
          function handler() {
            return { count: stats.hit() };
          }`,
      },
      (proto) =>
        proto.register('stats', 'hit', () => {
          callCount++;
          return callCount;
        }),
    );
    const snapshot = await loaded.snapshot();
    expect(await loaded.callHandler('handler', {})).toEqual({ count: 1 });
    expect(await loaded.callHandler('handler', {})).toEqual({ count: 2 });
    await loaded.restore(snapshot);
    expect(await loaded.callHandler('handler', {})).toEqual({ count: 3 });
    expect(callCount).toBe(3);
    await loaded[Symbol.asyncDispose]();
  });

  it('keeps two sandboxes with same-named host functions apart', async () => {
    const handler = `
      import * as id from "host:id";
      function handler() { return id.who(); }`;
    const a = await loadedSandbox({ handler }, (p) => p.register('id', 'who', () => 'sandbox A'));
    const b = await loadedSandbox({ handler }, (p) =>
      p.register('id', 'who', async () => 'sandbox B'),
    );
    const results = await Promise.all([
      a.callHandler('handler', {}),
      b.callHandler('handler', {}),
      a.callHandler('handler', {}),
      b.callHandler('handler', {}),
    ]);
    expect(results).toEqual(['sandbox A', 'sandbox B', 'sandbox A', 'sandbox B']);
    await a[Symbol.asyncDispose]();
    await b[Symbol.asyncDispose]();
  });

  it('is callable from module top-level code during getLoadedSandbox()', async () => {
    const proto = await new SandboxBuilder().build();
    proto.register('cfg', 'get', () => ({ greeting: 'hello' }));
    const js = await proto.loadRuntime();
    js.addModule('config', 'import * as cfg from "host:cfg"; export const config = cfg.get();');
    js.addHandler(
      'h',
      "import { config } from 'user:config'; function handler() { return config.greeting; }",
    );
    const loaded = await js.getLoadedSandbox();
    expect(await loaded.callHandler('h', {})).toBe('hello');
    await loaded[Symbol.asyncDispose]();
  });

  it('a kill or timeout ends a call blocked on a host function that never settles', async () => {
    const loaded = await loadedSandbox(
      {
        handler: `
          import * as io from "host:io";
          function handler() { return io.forever(); }`,
      },
      (proto) => proto.register('io', 'forever', () => new Promise(() => {})),
    );
    const snapshot = await loaded.snapshot();
    const error = await expectRejectCode(
      loaded.callHandler('handler', {}, { wallClockTimeoutMs: 50 }),
      ERR_CANCELLED,
    );
    expect(error.terminatedBy).toBe('wall-clock');
    await loaded.restore(snapshot);
    const stop = stopWhenRunning(loaded.interruptHandle, { afterMs: 30 });
    await expectRejectCode(loaded.callHandler('handler', {}), ERR_CANCELLED);
    stop();
    expect(loaded.poisoned).toBe(true);
    await loaded[Symbol.asyncDispose]();
  });
});
