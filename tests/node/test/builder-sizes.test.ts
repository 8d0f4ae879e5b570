import {
  ERR_GUEST_ABORT,
  ERR_HANDLER,
  ERR_INVALID_ARG,
  ERR_POISONED,
  SandboxBuilder,
} from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { ECHO, expectRejectCode, loadedSandbox } from './helpers';

const REPEAT = 'function handler(event) { return "y".repeat(event.n); }';

async function sized(inputBytes: number, outputBytes: number) {
  const proto = await new SandboxBuilder()
    .setInputBufferSize(inputBytes)
    .setOutputBufferSize(outputBytes)
    .build();
  const js = await proto.loadRuntime();
  js.addHandler('echo', ECHO);
  js.addHandler('repeat', REPEAT);
  return js.getLoadedSandbox();
}

describe('the effect of the buffer sizes', () => {
  it('setInputBufferSize bounds the event a call can send', async () => {
    const small = await sized(64 * 1024, 64 * 1024);
    const event = 'x'.repeat(100 * 1024);
    expect(await small.callHandler('echo', 'x'.repeat(32 * 1024))).toHaveLength(32 * 1024);
    const error = await expectRejectCode(small.callHandler('echo', event), ERR_INVALID_ARG);
    // 64 KiB less the request header: what the message says is usable.
    expect(error.message).toContain('65528 bytes usable');
    expect(small.poisoned).toBe(false);
    // The same event fits the default input buffer (16 MiB).
    const roomy = await loadedSandbox({ echo: ECHO });
    expect(await roomy.callHandler('echo', event)).toHaveLength(event.length);
    await small[Symbol.asyncDispose]();
    await roomy[Symbol.asyncDispose]();
  });

  it('setOutputBufferSize bounds the result a handler can return (ERR_HANDLER, still usable)', async () => {
    const small = await sized(64 * 1024, 64 * 1024);
    expect(await small.callHandler('repeat', { n: 32 * 1024 })).toHaveLength(32 * 1024);
    const error = await expectRejectCode(
      small.callHandler('repeat', { n: 100 * 1024 }),
      ERR_HANDLER,
    );
    expect(error.guestName).toBe('ResultError');
    expect(error.message).toContain('the output buffer holds at most 65524 bytes');
    expect(small.poisoned).toBe(false);
    expect(await small.callHandler('repeat', { n: 3 })).toBe('yyy');
    // The same result fits the default output buffer (16 MiB).
    const roomy = await loadedSandbox({ repeat: REPEAT });
    expect(await roomy.callHandler('repeat', { n: 100 * 1024 })).toHaveLength(100 * 1024);
    await small[Symbol.asyncDispose]();
    await roomy[Symbol.asyncDispose]();
  });
});

describe('the effect of the scratch size', () => {
  /** How deep a plain recursive function gets before the engine's stack limit throws. */
  async function recursionDepth(scratchBytes: number): Promise<[string, number]> {
    const proto = await new SandboxBuilder().setScratchSize(scratchBytes).build();
    const js = await proto.loadRuntime();
    js.addHandler(
      'deep',
      'function handler() { let d = 0; function f() { d++; f(); } try { f(); } catch (e) { return [e.name, d]; } }',
    );
    const loaded = await js.getLoadedSandbox();
    const result = (await loaded.callHandler('deep', {})) as [string, number];
    // The overflow was caught: the sandbox is not poisoned and still answers.
    expect(loaded.poisoned).toBe(false);
    await loaded[Symbol.asyncDispose]();
    return result;
  }

  it('setScratchSize bounds how deep a handler can recurse (a catchable RangeError)', async () => {
    // The scratch is the guest stack; the engine's stack limit is set from it.
    const [smallError, small] = await recursionDepth(512 * 1024);
    const [largeError, large] = await recursionDepth(4 * 1024 * 1024);
    expect([smallError, largeError]).toEqual(['RangeError', 'RangeError']);
    expect(small).toBeGreaterThan(100);
    // Eight times the scratch: several times deeper.
    expect(large, `512 KiB: ${small} frames, 4 MiB: ${large}`).toBeGreaterThan(4 * small);
  });
});

describe('the effect of the heap size', () => {
  it('a handler that exhausts the heap is ERR_GUEST_ABORT, poisons, and restore() recovers', async () => {
    const proto = await new SandboxBuilder().setHeapSize(8 * 1024 * 1024).build();
    const js = await proto.loadRuntime();
    js.addHandler(
      'hog',
      "function handler() { const a = []; for (;;) a.push('x'.repeat(1000) + a.length); }",
    );
    js.addHandler('echo', ECHO);
    const loaded = await js.getLoadedSandbox();
    const snapshot = await loaded.snapshot();
    const error = await expectRejectCode(loaded.callHandler('hog', {}), ERR_GUEST_ABORT);
    expect(error.message).toMatch(/out of memory/i);
    expect(loaded.poisoned).toBe(true);
    await expectRejectCode(loaded.callHandler('echo', 1), ERR_POISONED);
    await loaded.restore(snapshot);
    expect(loaded.poisoned).toBe(false);
    expect(await loaded.callHandler('echo', 1)).toBe(1);
    await loaded[Symbol.asyncDispose]();
  });
});
