import {
  ERR_CONSUMED,
  ERR_HANDLER,
  ERR_INVALID_ARG,
  HostModule,
  InterruptHandle,
  JSSandbox,
  LoadedJSSandbox,
  ProtoJSSandbox,
  SandboxBuilder,
  Snapshot,
} from '@hyperlight/js-host-api';
import { describe, expect, it } from 'vitest';
import { ECHO, expectRejectCode, expectThrowCode } from './helpers';

describe('SandboxBuilder', () => {
  it('chains the setters and builds a ProtoJSSandbox', async () => {
    const builder = new SandboxBuilder();
    expect(builder.setHeapSize(8 * 1024 * 1024)).toBe(builder);
    expect(builder.setScratchSize(1024 * 1024)).toBe(builder);
    expect(builder.setInputBufferSize(256 * 1024)).toBe(builder);
    expect(builder.setOutputBufferSize(256 * 1024)).toBe(builder);
    const proto = await builder.build();
    expect(proto).toBeInstanceOf(ProtoJSSandbox);
    await proto[Symbol.asyncDispose]();
  });

  it.each([
    ['setHeapSize', 0],
    ['setScratchSize', -1],
    ['setInputBufferSize', 1.5],
    ['setOutputBufferSize', Number.NaN],
    ['setHeapSize', Number.MAX_SAFE_INTEGER + 2],
    ['setHeapSize', '1024'],
    ['setScratchSize', undefined],
  ] as const)('%s(%s) is ERR_INVALID_ARG at set time', (method, value) => {
    const builder = new SandboxBuilder() as unknown as Record<string, (v: unknown) => unknown>;
    expectThrowCode(() => builder[method]?.(value), ERR_INVALID_ARG);
  });

  it('is consumed by build(); validation is reported before the consumed check', async () => {
    const builder = new SandboxBuilder();
    const proto = await builder.build();
    await expectRejectCode(builder.build(), ERR_CONSUMED);
    expectThrowCode(() => builder.setHeapSize(8 * 1024 * 1024), ERR_CONSUMED);
    expectThrowCode(() => builder.setHeapSize(0), ERR_INVALID_ARG);
    await proto[Symbol.asyncDispose]();
  });

  it('refuses sizes below what boots in the setter, and sizes the VM cannot hold from build()', async () => {
    // Measured: the runtime and its built-ins need a 1.5 MiB heap and an 80 KiB stack.
    expectThrowCode(() => new SandboxBuilder().setHeapSize(1), ERR_INVALID_ARG);
    expectThrowCode(() => new SandboxBuilder().setHeapSize(4 * 1024 * 1024 - 1), ERR_INVALID_ARG);
    expectThrowCode(() => new SandboxBuilder().setScratchSize(256 * 1024 - 1), ERR_INVALID_ARG);
    // Buffers: one page to 256 MiB, checked when set and naming the bounds.
    const small = expectThrowCode(
      () => new SandboxBuilder().setInputBufferSize(4095),
      ERR_INVALID_ARG,
    );
    expect(small.message).toBe(
      'the input buffer size is 4095 bytes; it must be from 4096 bytes (one page) to 268435456 bytes (256 MiB)',
    );
    expectThrowCode(
      () => new SandboxBuilder().setOutputBufferSize(256 * 1024 * 1024 + 1),
      ERR_INVALID_ARG,
    );
    const error = await expectRejectCode(
      new SandboxBuilder().setHeapSize(2 * 1024 * 1024 * 1024).build(),
      ERR_INVALID_ARG,
    );
    expect(error.message).toMatch(/heap|guest memory/i);
  });
});

describe('consumed transitions', () => {
  it('walks SandboxBuilder → ProtoJSSandbox → JSSandbox → LoadedJSSandbox → JSSandbox', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    expect(js).toBeInstanceOf(JSSandbox);
    await expectRejectCode(proto.loadRuntime(), ERR_CONSUMED);
    expectThrowCode(() => proto.hostModule('m'), ERR_CONSUMED);
    expectThrowCode(() => proto.register('m', 'f', () => 1), ERR_CONSUMED);
    // Validation first: a bad argument on a consumed object is still ERR_INVALID_ARG.
    expectThrowCode(() => proto.hostModule(''), ERR_INVALID_ARG);
    expectThrowCode(() => proto.register('m', '', () => 1), ERR_INVALID_ARG);

    js.addHandler('echo', ECHO);
    const loaded = await js.getLoadedSandbox();
    expect(loaded).toBeInstanceOf(LoadedJSSandbox);
    await expectRejectCode(js.getLoadedSandbox(), ERR_CONSUMED);
    // Code added after the load would never reach the guest: ERR_CONSUMED, not silently ignored.
    // Removing stays harmless (nothing is left to remove), so tidy-up code keeps working.
    expect(js.poisoned).toBe(false);
    expectThrowCode(() => js.addHandler('other', ECHO), ERR_CONSUMED);
    expectThrowCode(() => js.addModule('m', 'export const a = 1;'), ERR_CONSUMED);
    expect(js.removeHandler('echo')).toBe(false);
    js.clearHandlers();
    expect(js.removeModule('m')).toBe(false);
    js.clearModules();
    expect(await loaded.callHandler('echo', { still: 'loaded' })).toEqual({ still: 'loaded' });
    await expectRejectCode(js.getLoadedSandbox(), ERR_CONSUMED);
    // Argument validation comes first, in every state.
    expectThrowCode(() => js.addHandler('', ECHO), ERR_INVALID_ARG);
    expectThrowCode(() => js.removeHandler(''), ERR_INVALID_ARG);
    expectThrowCode(() => js.addModule('m', 'x', 'host'), ERR_INVALID_ARG);
    expectThrowCode(() => js.removeModule('m', 'host'), ERR_INVALID_ARG);

    const again = await loaded.unload();
    expect(again).toBeInstanceOf(JSSandbox);
    await expectRejectCode(loaded.callHandler('echo', {}), ERR_CONSUMED);
    await expectRejectCode(loaded.unload(), ERR_CONSUMED);
    await expectRejectCode(loaded.snapshot(), ERR_CONSUMED);
    await expectRejectCode(loaded.callHandler('', {}), ERR_INVALID_ARG);
    await expectRejectCode(
      loaded.callHandler('echo', {}, { wallClockTimeoutMs: 0 }),
      ERR_INVALID_ARG,
    );

    // The unloaded sandbox has no handlers and takes new ones.
    await expectRejectCode(again.getLoadedSandbox(), ERR_INVALID_ARG);
    again.addHandler('echo2', ECHO);
    const reloaded = await again.getLoadedSandbox();
    expect(await reloaded.callHandler('echo2', { n: 1 })).toEqual({ n: 1 });
    await reloaded[Symbol.asyncDispose]();
  });

  it('keeps a JSSandbox usable when getLoadedSandbox() fails', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    js.addHandler('bad', 'function handler( {');
    const error = await expectRejectCode(js.getLoadedSandbox(), ERR_HANDLER);
    expect(error.guestName).toBe('SyntaxError');
    expect(js.poisoned).toBe(false);
    expect(js.removeHandler('bad')).toBe(true);
    js.addHandler('good', ECHO);
    const loaded = await js.getLoadedSandbox();
    expect(await loaded.callHandler('good', 'hi')).toBe('hi');
    await loaded[Symbol.asyncDispose]();
  });

  it('refuses a second getLoadedSandbox() while the first is in flight (ERR_CONSUMED)', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    js.addHandler('echo', ECHO);
    const first = js.getLoadedSandbox();
    // Still loading: a second load, and code that would never reach the guest, are refused.
    const second = await expectRejectCode(js.getLoadedSandbox(), ERR_CONSUMED);
    expect(second.message).toContain('being loaded by getLoadedSandbox()');
    expectThrowCode(() => js.addHandler('late', ECHO), ERR_CONSUMED);
    expectThrowCode(() => js.addModule('late', 'export const a = 1;'), ERR_CONSUMED);
    // The first load is unaffected, and has only what was there when it started.
    const loaded = await first;
    expect(await loaded.callHandler('echo', 1)).toBe(1);
    await expectRejectCode(loaded.callHandler('late', 1), ERR_INVALID_ARG);
    await expectRejectCode(js.getLoadedSandbox(), ERR_CONSUMED);
    await loaded[Symbol.asyncDispose]();
  });

  it('gives the JSSandbox back when a load in flight fails: a retry may follow', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    js.addHandler('bad', 'function handler() { return missing(); } throw new Error("top level");');
    const failing = js.getLoadedSandbox();
    await expectRejectCode(js.getLoadedSandbox(), ERR_CONSUMED);
    const error = await expectRejectCode(failing, ERR_HANDLER);
    expect(error.message).toContain('top level');
    expect(js.removeHandler('bad')).toBe(true);
    js.addHandler('echo', ECHO);
    const loaded = await js.getLoadedSandbox();
    expect(await loaded.callHandler('echo', 2)).toBe(2);
    await loaded[Symbol.asyncDispose]();
  });

  it('refuses additions while getLoadedSandbox() runs, and gives the registry back if it fails', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    expect(js.poisoned).toBe(false);
    js.addHandler('echo', ECHO);
    const loading = js.getLoadedSandbox();
    expectThrowCode(() => js.addHandler('late', ECHO), ERR_CONSUMED);
    expectThrowCode(() => js.addModule('late', 'export const a = 1;'), ERR_CONSUMED);
    expect(js.removeHandler('echo')).toBe(false);
    const loaded = await loading;
    expect(await loaded.callHandler('echo', 7)).toBe(7);
    await expectRejectCode(loaded.callHandler('late', {}), ERR_INVALID_ARG);
    await loaded[Symbol.asyncDispose]();

    const js2 = await (await new SandboxBuilder().build()).loadRuntime();
    js2.addHandler('bad', 'function handler( {');
    const failing = js2.getLoadedSandbox();
    expectThrowCode(() => js2.addHandler('late', ECHO), ERR_CONSUMED);
    await expectRejectCode(failing, ERR_HANDLER);
    // Back as it was: the failed handler is there to remove, and additions work again.
    expect(js2.removeHandler('bad')).toBe(true);
    js2.addHandler('echo', ECHO);
    const loaded2 = await js2.getLoadedSandbox();
    expect(await loaded2.callHandler('echo', 8)).toBe(8);
    await loaded2[Symbol.asyncDispose]();
  });

  it('fails getLoadedSandbox() for an import of a module that does not exist', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    js.addHandler('h', "import { x } from 'user:nope'; function handler() { return x; }");
    await expectRejectCode(js.getLoadedSandbox(), ERR_INVALID_ARG);
    await js[Symbol.asyncDispose]();
  });
});

describe('JSSandbox handlers and modules', () => {
  it('validates names, rejects duplicates; removing an unknown name returns false', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    js.addHandler('a', ECHO);
    expectThrowCode(() => js.addHandler('a', ECHO), ERR_INVALID_ARG);
    expectThrowCode(() => js.addHandler('x'.repeat(300), ECHO), ERR_INVALID_ARG);
    expectThrowCode(() => js.addHandler('a\nb', ECHO), ERR_INVALID_ARG);
    expectThrowCode(
      () => (js.addHandler as (n: unknown, c: unknown) => void)(1, ECHO),
      ERR_INVALID_ARG,
    );
    expectThrowCode(
      () => (js.addHandler as (n: unknown, c: unknown) => void)('b', null),
      ERR_INVALID_ARG,
    );
    expect(js.removeHandler('nope')).toBe(false);
    expectThrowCode(() => js.removeHandler(''), ERR_INVALID_ARG);
    expectThrowCode(
      () => (js.removeHandler as (n: unknown) => boolean)(undefined),
      ERR_INVALID_ARG,
    );
    js.addModule('m', 'export const a = 1;');
    js.addModule('m', 'export const a = 2;', 'other');
    expectThrowCode(() => js.addModule('m', 'export const a = 3;'), ERR_INVALID_ARG);
    expectThrowCode(() => js.addModule('m', 'x', 'host'), ERR_INVALID_ARG);
    expectThrowCode(() => js.addModule('m', 'x', 'a:b'), ERR_INVALID_ARG);
    expectThrowCode(() => js.addModule('', 'x'), ERR_INVALID_ARG);
    expect(js.removeModule('nope')).toBe(false);
    expectThrowCode(() => js.removeModule(''), ERR_INVALID_ARG);
    expectThrowCode(() => js.removeModule('m', 'host'), ERR_INVALID_ARG);
    expectThrowCode(() => js.removeModule('m', 'a:b'), ERR_INVALID_ARG);
    expect(js.removeModule('m', 'other')).toBe(true);
    expect(js.removeModule('m', 'other')).toBe(false);
    js.clearModules();
    expect(js.removeModule('m')).toBe(false);
    js.clearHandlers();
    expect(js.removeHandler('a')).toBe(false);
    await js[Symbol.asyncDispose]();
  });

  it('routes calls by key, with modules in the default and custom namespaces', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    js.addModule(
      'geometry',
      "import { PI } from 'user:constants'; export const area = (r) => PI * r * r;",
    );
    js.addModule('constants', 'export const PI = 3;');
    js.addModule('utils', 'export function greet(n) { return "hi " + n; }', 'mylib');
    js.addHandler(
      'area',
      "import { area } from 'user:geometry'; function handler(e) { return area(e.r); }",
    );
    js.addHandler(
      'greet',
      "import { greet } from 'mylib:utils'; function handler(e) { return greet(e.name); }",
    );
    js.addHandler('gone', ECHO);
    expect(js.removeHandler('gone')).toBe(true);
    const loaded = await js.getLoadedSandbox();
    expect(await loaded.callHandler('area', { r: 2 })).toBe(12);
    expect(await loaded.callHandler('greet', { name: 'Ada' })).toBe('hi Ada');
    await expectRejectCode(loaded.callHandler('gone', {}), ERR_INVALID_ARG);
    await loaded[Symbol.asyncDispose]();
  });
});

describe('[Symbol.asyncDispose]', () => {
  it('releases the VM, makes the object consumed, and does nothing on a consumed object', async () => {
    const proto = await new SandboxBuilder().build();
    const js = await proto.loadRuntime();
    await proto[Symbol.asyncDispose](); // consumed by loadRuntime(): nothing to do
    js.addHandler('echo', ECHO);
    const loaded = await js.getLoadedSandbox();
    await js[Symbol.asyncDispose]();
    await loaded[Symbol.asyncDispose]();
    await expectRejectCode(loaded.callHandler('echo', {}), ERR_CONSUMED);
    await loaded[Symbol.asyncDispose]();
  });

  it('works with `await using`: the sandbox is disposed when the block ends', async () => {
    let handle: InterruptHandle | undefined;
    let escaped: LoadedJSSandbox | undefined;
    {
      await using loaded = await (async () => {
        const proto = await new SandboxBuilder().build();
        const js = await proto.loadRuntime();
        js.addHandler('echo', ECHO);
        return js.getLoadedSandbox();
      })();
      expect(await loaded.callHandler('echo', 1)).toBe(1);
      handle = loaded.interruptHandle;
      escaped = loaded;
    }
    expect(handle).toBeInstanceOf(InterruptHandle);
    // Released by [Symbol.asyncDispose]() at the end of the block: every use is ERR_CONSUMED.
    await expectRejectCode((escaped as LoadedJSSandbox).callHandler('echo', 1), ERR_CONSUMED);
    await expectRejectCode((escaped as LoadedJSSandbox).snapshot(), ERR_CONSUMED);
  });
});

describe('classes', () => {
  it('are the binding classes, usable with instanceof', async () => {
    const proto = await new SandboxBuilder().build();
    const module = proto.hostModule('m');
    expect(module).toBeInstanceOf(HostModule);
    expect(module.name).toBe('m');
    const js = await proto.loadRuntime();
    js.addHandler('echo', ECHO);
    const loaded = await js.getLoadedSandbox();
    expect(await loaded.snapshot()).toBeInstanceOf(Snapshot);
    expect(loaded.interruptHandle).toBeInstanceOf(InterruptHandle);
    await loaded[Symbol.asyncDispose]();
  });
});
