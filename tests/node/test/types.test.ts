import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as esm from '@hyperlight/js-host-api';
import {
  type CancelledError,
  ERR_CANCELLED,
  ERR_HANDLER,
  ERR_INVALID_ARG,
  ERR_NO_NATIVE_BINDING,
  ErrorCodes,
  type HandlerError,
  type HyperlightError,
  isHyperlightError,
  type JsonValue,
  NativeBindingError,
  SandboxBuilder,
} from '@hyperlight/js-host-api';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ECHO, loadedSandbox, SPIN } from './helpers';

const cjs = createRequire(import.meta.url)('@hyperlight/js-host-api') as typeof esm;

describe('typed calls', () => {
  it('callHandler resolves to unknown, or to the type argument the caller gives', async () => {
    const loaded = await loadedSandbox({ echo: ECHO });
    const plain = loaded.callHandler('echo', { n: 1 });
    expectTypeOf(plain).toEqualTypeOf<Promise<unknown>>();
    const typed = await loaded.callHandler<{ n: number }>('echo', { n: 2 });
    expectTypeOf(typed).toEqualTypeOf<{ n: number }>();
    expect(typed.n).toBe(2);
    expect(await plain).toEqual({ n: 1 });
    // dispose() is part of the types.
    expectTypeOf(loaded.dispose).returns.toEqualTypeOf<Promise<void>>();
    await loaded.dispose();
  });

  it('host functions receive JSON values and may declare narrower parameters', async () => {
    const loaded = await loadedSandbox(
      {
        h: `import * as m from "host:m";
            function handler() { return [m.add(2, 3), m.describe({ a: [1, null] }), m.none()]; }`,
      },
      (proto) => {
        proto.register('m', 'add', (a: number, b: number) => a + b);
        proto.register('m', 'describe', (value) => {
          expectTypeOf(value).toEqualTypeOf<JsonValue | undefined>();
          return JSON.stringify(value);
        });
        proto.register('m', 'none', (missing?: string) => missing ?? 'nothing passed');
      },
    );
    expect(await loaded.callHandler('h', {})).toEqual([5, '{"a":[1,null]}', 'nothing passed']);
    await loaded.dispose();
  });

  it('the public API report has no `any`', () => {
    const report = readFileSync(
      new URL('../../../packages/js-host-api/etc/js-host-api.api.md', import.meta.url),
      'utf8',
    );
    expect(report).not.toMatch(/\bany\b/);
  });
});

describe('errors users can program against', () => {
  it('isHyperlightError narrows ERR_HANDLER and ERR_CANCELLED to their error types', async () => {
    const loaded = await loadedSandbox({
      throws: 'function handler() { throw new TypeError("nope"); }',
      spin: SPIN,
    });
    const thrown: unknown = await loaded.callHandler('throws', {}).catch((e: unknown) => e);
    if (!isHyperlightError(thrown, ERR_HANDLER)) throw new Error('expected ERR_HANDLER');
    expectTypeOf(thrown).toEqualTypeOf<HandlerError>();
    expect(thrown.guestName).toBe('TypeError');
    expect(thrown.guestMessage).toBe('nope');

    const cancelled: unknown = await loaded
      .callHandler('spin', {}, { wallClockTimeoutMs: 20 })
      .catch((e: unknown) => e);
    if (!isHyperlightError(cancelled, ERR_CANCELLED)) throw new Error('expected ERR_CANCELLED');
    expectTypeOf(cancelled).toEqualTypeOf<CancelledError>();
    expect(cancelled.terminatedBy).toBe('wall-clock');

    const caught: unknown = cancelled;
    if (!isHyperlightError(caught)) throw new Error('expected a hyperlight error');
    expectTypeOf(caught.code).toEqualTypeOf<esm.ErrorCode>();
    await loaded.dispose();
  });

  it('isHyperlightError is false for anything else', () => {
    expect(isHyperlightError(new Error('x'))).toBe(false);
    expect(isHyperlightError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isHyperlightError({ code: ERR_HANDLER, message: 'not an Error' })).toBe(false);
    expect(isHyperlightError(ERR_HANDLER)).toBe(false);
    expect(isHyperlightError(undefined)).toBe(false);
    const invalid = Object.assign(new Error('x'), { code: ERR_INVALID_ARG });
    expect(isHyperlightError(invalid)).toBe(true);
    expect(isHyperlightError(invalid, ERR_INVALID_ARG)).toBe(true);
    expect(isHyperlightError(invalid, ERR_HANDLER)).toBe(false);
    expect(Object.values(ErrorCodes)).toEqual([
      'ERR_INVALID_ARG',
      'ERR_CONSUMED',
      'ERR_POISONED',
      'ERR_CANCELLED',
      'ERR_GUEST_ABORT',
      'ERR_HANDLER',
      'ERR_NO_HYPERVISOR',
      'ERR_INTERNAL',
      'ERR_NO_NATIVE_BINDING',
    ]);
    expect(Object.isFrozen(ErrorCodes)).toBe(true);
  });

  it('a rejection carries the JavaScript stack of the code that made the call', async () => {
    const loaded = await loadedSandbox({ throws: 'function handler() { throw new Error("x"); }' });
    async function callerOfTheSandbox(): Promise<unknown> {
      return await loaded.callHandler('throws', {});
    }
    const error = (await callerOfTheSandbox().catch((e: unknown) => e)) as HyperlightError;
    expect(error.code).toBe(ERR_HANDLER);
    expect(error.stack?.split('\n')[0]).toBe(`Error: ${error.message}`);
    expect(error.stack).toContain('callerOfTheSandbox');
    expect(error.stack).toContain('types.test.ts');
    // Rejections found before any work was queued carry it as well.
    const early = (await loaded
      .callHandler('nope', {})
      .catch((e: unknown) => e)) as HyperlightError;
    expect(early.stack).toContain('types.test.ts');
    await loaded.dispose();
  });

  it('errors and classes are the same across the ESM and the CJS build', async () => {
    expect(cjs.NativeBindingError).not.toBe(NativeBindingError);
    const fromCjs = new cjs.NativeBindingError('x', {
      triple: 'linux-x64-gnu',
      packageName: null,
      attempts: [],
    });
    expect(fromCjs).toBeInstanceOf(NativeBindingError);
    expect(
      new NativeBindingError('y', { triple: 't', packageName: null, attempts: [] }),
    ).toBeInstanceOf(cjs.NativeBindingError);
    expect(new Error('z')).not.toBeInstanceOf(NativeBindingError);
    expect(isHyperlightError(fromCjs, ERR_NO_NATIVE_BINDING)).toBe(true);
    expect(cjs.isHyperlightError(fromCjs, ERR_NO_NATIVE_BINDING)).toBe(true);

    const proto = await new cjs.SandboxBuilder().build();
    expect(proto).toBeInstanceOf(esm.ProtoJSSandbox);
    expect(proto).toBeInstanceOf(cjs.ProtoJSSandbox);
    await proto.dispose();
    const builder = new SandboxBuilder();
    expect(builder).toBeInstanceOf(cjs.SandboxBuilder);
  });
});
