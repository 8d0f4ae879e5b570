// `LoadedJSSandbox.evalScript()`: classic scripts in the sandbox's realm (docs/scripts.md), the
// Node face of the Rust `LoadedJSSandbox::eval_script`.
import {
  ERR_CANCELLED,
  ERR_CONSUMED,
  ERR_HANDLER,
  ERR_INVALID_ARG,
  ERR_POISONED,
  type HandlerError,
  type LoadedJSSandbox,
} from '@hyperlight/js-host-api';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO, expectRejectCode, loadedSandbox, stopWhenRunning } from './helpers';

const open: LoadedJSSandbox[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.dispose()));
});

async function sandbox(handlers: Record<string, string> = { echo: ECHO }) {
  const s = await loadedSandbox(handlers);
  open.push(s);
  return s;
}

describe('evalScript', () => {
  it('resolves to the completion value after a JSON round trip', async () => {
    const s = await sandbox();
    expect(await s.evalScript('1 + 1')).toBe(2);
    expect(await s.evalScript('({ a: [1, "two", null], b: { c: true } })')).toEqual({
      a: [1, 'two', null],
      b: { c: true },
    });
    expect(await s.evalScript('"é€😀"')).toBe('é€😀');
    // undefined, functions and symbols have no JSON form: undefined.
    expect(await s.evalScript('undefined')).toBeUndefined();
    expect(await s.evalScript('(function f() {})')).toBeUndefined();
    expect(await s.evalScript('Symbol("x")')).toBeUndefined();
    expect(await s.evalScript('var unused = 1;')).toBeUndefined();
  });

  it('declares globals that later scripts and handlers see, until a restore', async () => {
    const s = await sandbox({
      read: `function handler() {
        return { config: typeof config === 'undefined' ? null : config, counter: globalThis.counter ?? null };
      }`,
    });
    const before = await s.snapshot();
    await s.evalScript('const config = { greeting: "hi" }; var counter = 1;');
    expect(await s.evalScript('config.greeting + " " + (counter += 1)')).toBe('hi 2');
    expect(await s.callHandler('read', {})).toEqual({ config: { greeting: 'hi' }, counter: 2 });
    await s.restore(before);
    expect(await s.callHandler('read', {})).toEqual({ config: null, counter: null });
  });

  it('is sloppy by default and strict with a directive', async () => {
    const s = await sandbox();
    expect(await s.evalScript('(function () { return this === globalThis; })()')).toBe(true);
    expect(await s.evalScript('"use strict"; (function () { return this; })() === undefined')).toBe(
      true,
    );
  });

  it('runs the pending jobs before it resolves', async () => {
    const s = await sandbox();
    await s.evalScript('var settled = []; Promise.resolve(7).then((v) => settled.push(v));');
    expect(await s.evalScript('settled')).toEqual([7]);
  });

  it('rejects a throw or a syntax error with ERR_HANDLER, named by the file name', async () => {
    const s = await sandbox();
    const thrown = (await expectRejectCode(
      s.evalScript('var before = 1;\nthrow new TypeError("no " + before);', {
        filename: 'setup.js',
      }),
      ERR_HANDLER,
    )) as unknown as HandlerError;
    expect(thrown.guestName).toBe('TypeError');
    expect(thrown.guestMessage).toBe('no 1');
    expect(thrown.guestStack).toContain('setup.js:2');
    // The effects up to the throw remain.
    expect(await s.evalScript('before')).toBe(1);
    const syntax = (await expectRejectCode(
      s.evalScript('let = = 1'),
      ERR_HANDLER,
    )) as unknown as HandlerError;
    expect(syntax.guestName).toBe('SyntaxError');
    expect(s.poisoned).toBe(false);
  });

  it('rejects a completion value JSON cannot express with ERR_HANDLER after the script ran', async () => {
    const s = await sandbox();
    const error = (await expectRejectCode(
      s.evalScript('var ran = true; 10n'),
      ERR_HANDLER,
    )) as unknown as HandlerError;
    expect(error.guestName).toBe('ResultError');
    expect(await s.evalScript('ran')).toBe(true);
  });

  it('takes the call timeouts and names the monitor that ended it', async () => {
    const s = await sandbox();
    await expectRejectCode(s.evalScript('for (;;) {}', { cpuTimeoutMs: 50 }), ERR_CANCELLED);
    expect(s.lastCallStats?.terminatedBy).toBe('cpu-time');
    expect(s.poisoned).toBe(true);
    await expectRejectCode(s.evalScript('1'), ERR_POISONED);
  });

  it('stops politely on an abort, without poisoning', async () => {
    const s = await sandbox();
    const controller = new AbortController();
    const running = s.evalScript('for (;;) {}', { signal: controller.signal });
    const stop = setTimeout(() => controller.abort(new Error('enough')), 20);
    const error = await expectRejectCode(running, ERR_CANCELLED);
    clearTimeout(stop);
    expect(error.terminatedBy).toBe('abort');
    expect(s.poisoned).toBe(false);
    expect(await s.evalScript('2 * 21')).toBe(42);
    // An already-aborted signal runs nothing.
    await expectRejectCode(
      s.evalScript('var ranAnyway = true', { signal: AbortSignal.abort() }),
      ERR_CANCELLED,
    );
    expect(await s.evalScript('typeof ranAnyway')).toBe('undefined');
  });

  it('is stopped by kill() through the interrupt handle', async () => {
    const s = await sandbox();
    const running = s.evalScript('for (;;) {}');
    const cancel = stopWhenRunning(s.interruptHandle);
    await expectRejectCode(running, ERR_CANCELLED);
    cancel();
    expect(s.poisoned).toBe(true);
  });

  it('queues with calls, in order', async () => {
    const s = await sandbox({ read: 'function handler() { return globalThis.order; }' });
    const results = await Promise.all([
      s.evalScript('var order = ["script 1"]; order.length'),
      s.callHandler('read', {}),
      s.evalScript('order.push("script 2"); order.length'),
      s.callHandler('read', {}),
    ]);
    expect(results).toEqual([1, ['script 1'], 2, ['script 1', 'script 2']]);
  });

  it('refuses bad arguments with ERR_INVALID_ARG and runs nothing', async () => {
    const s = await sandbox();
    await expectRejectCode(s.evalScript(42 as unknown as string), ERR_INVALID_ARG);
    await expectRejectCode(s.evalScript('1', { filename: '' }), ERR_INVALID_ARG);
    await expectRejectCode(s.evalScript('1', { filename: 'a\0b' }), ERR_INVALID_ARG);
    await expectRejectCode(
      s.evalScript('1', { filename: 7 as unknown as string }),
      ERR_INVALID_ARG,
    );
    await expectRejectCode(
      s.evalScript('1', { gc: true } as unknown as { filename: string }),
      ERR_INVALID_ARG,
    );
    await expectRejectCode(s.evalScript('1', { cpuTimeoutMs: 0 }), ERR_INVALID_ARG);
    // Larger than the input buffer (16 MiB by default).
    await expectRejectCode(s.evalScript(`"${'x'.repeat(17 << 20)}"`), ERR_INVALID_ARG);
    expect(s.poisoned).toBe(false);
    expect(await s.evalScript('"still fine"')).toBe('still fine');
  });

  it('rejects with ERR_CONSUMED once the sandbox is disposed', async () => {
    const s = await loadedSandbox({ echo: ECHO });
    await s.dispose();
    await expectRejectCode(s.evalScript('1'), ERR_CONSUMED);
  });
});
