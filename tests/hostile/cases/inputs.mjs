// Bad input from the embedder side (events, sources, names) gets a clear
// ERR_INVALID_ARG, never ERR_INTERNAL, and nothing breaks.
export const cases = {
  'NUL in handler source': async (t) => {
    const sandbox = await (await new t.api.SandboxBuilder().build()).loadRuntime();
    t.throws(
      () => sandbox.addHandler('h', "function handler() { return '\0'; }"),
      'ERR_INVALID_ARG',
    );
  },
  'NUL in module source': async (t) => {
    const sandbox = await (await new t.api.SandboxBuilder().build()).loadRuntime();
    t.throws(() => sandbox.addModule('m', "export const a = '\0';"), 'ERR_INVALID_ARG');
  },
  'a module that would be shadowed by a built-in': async (t) => {
    const sandbox = await (await new t.api.SandboxBuilder().build()).loadRuntime();
    const e = t.throws(
      () => sandbox.addModule('crypto', 'export const a = 1;', 'node'),
      'ERR_INVALID_ARG',
    );
    t.assert.match(e.message, /shadowed/);
    sandbox.addModule('crypto', 'export const a = 1;', 'mine');
  },
  'an event just below, at and above the input buffer': async (t) => {
    const loaded = await t.load(
      { h: 'function handler(e) { return e.length; }' },
      {
        builder: (b) => b.setInputBufferSize(64 * 1024),
      },
    );
    // Payload: 8-byte header, "h" (4 + 1), the JSON string (4 + n + 2), flags (4).
    const room = 64 * 1024 - 8 - 5 - 4 - 4 - 2;
    t.assert.equal(await loaded.callHandler('h', 'x'.repeat(room)), room);
    await t.rejects(loaded.callHandler('h', 'x'.repeat(room + 1)), 'ERR_INVALID_ARG');
    t.assert.equal(await loaded.callHandler('h', 'x'), 1);
  },
  'an event with a cycle': async (t) => {
    const loaded = await t.load({ h: 'function handler(e) { return 1; }' });
    const e = {};
    e.self = e;
    await t.rejects(loaded.callHandler('h', e), 'ERR_INVALID_ARG');
  },
  'an event with a throwing getter': async (t) => {
    const loaded = await t.load({ h: 'function handler(e) { return 1; }' });
    await t.rejects(
      loaded.callHandler('h', {
        get x() {
          throw new Error('no');
        },
      }),
      'ERR_INVALID_ARG',
    );
  },
  'an event holding a BigInt': async (t) => {
    const loaded = await t.load({ h: 'function handler(e) { return 1; }' });
    await t.rejects(loaded.callHandler('h', { n: 1n }), 'ERR_INVALID_ARG');
  },
  'an unknown handler name': async (t) => {
    const loaded = await t.load({ h: 'function handler(e) { return 1; }' });
    await t.rejects(loaded.callHandler('nope', {}), 'ERR_INVALID_ARG');
  },
  'a handler without a handler function': async (t) => {
    const sandbox = await (await new t.api.SandboxBuilder().build()).loadRuntime();
    sandbox.addHandler('h', 'const x = 1;');
    await t.rejects(sandbox.getLoadedSandbox(), 'ERR_INVALID_ARG');
  },
  'a syntax error in a handler': async (t) => {
    const sandbox = await (await new t.api.SandboxBuilder().build()).loadRuntime();
    sandbox.addHandler('h', 'function handler( {');
    await t.rejects(sandbox.getLoadedSandbox(), 'ERR_HANDLER');
  },
  'an import of a missing module': async (t) => {
    const sandbox = await (await new t.api.SandboxBuilder().build()).loadRuntime();
    sandbox.addHandler('h', "import x from 'user:missing'; function handler() { return x; }");
    await t.rejects(sandbox.getLoadedSandbox(), 'ERR_INVALID_ARG');
  },
  'a host function answer larger than the input buffer': async (t) => {
    const loaded = await t.load(
      {
        h: "import * as b from 'host:big'; function handler() { try { b.get(); return 'no'; } catch (e) { return e.message; } }",
      },
      {
        builder: (b) => b.setInputBufferSize(64 * 1024),
        proto: (p) => p.hostModule('big').register('get', () => 'x'.repeat(200 * 1024)),
      },
    );
    t.assert.match(await loaded.callHandler('h', {}), /input buffer/);
  },
  'a guest that calls an unregistered host function': async (t) => {
    const loaded = await t.load(
      { h: "import * as m from 'host:m'; function handler() { return typeof m.missing; }" },
      { proto: (p) => p.hostModule('m').register('present', () => 1) },
    );
    t.assert.equal(await loaded.callHandler('h', {}), 'undefined');
  },
  'a guest that replaces JSON and prototypes': async (t) => {
    const loaded = await t.load({
      h: 'function handler(e) { globalThis.JSON = null; Object.prototype.toJSON = undefined; return { e }; }',
      bad: 'function handler() { Array.prototype.toJSON = () => { throw 1; }; return [1]; }',
    });
    t.assert.deepEqual(await loaded.callHandler('h', 1), { e: 1 });
    await t.rejects(loaded.callHandler('bad', {}), 'ERR_HANDLER');
    t.assert.equal(loaded.poisoned, false);
  },
  'Atomics.wait in the guest': async (t) => {
    const loaded = await t.load({
      h: 'function handler() { return Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); }',
    });
    await t.rejects(loaded.callHandler('h', {}, { wallClockTimeoutMs: 5000 }), ['ERR_HANDLER']);
  },
};
