// Endless and runaway execution: every kind ends in ERR_CANCELLED with the
// right cause, and the sandbox comes back through restore or unload.
const SPIN = 'function handler() { for (;;) {} }';

async function cancelledThenRestored(t, handler, options, by) {
  const loaded = await t.load({ h: handler, ok: 'function handler() { return 1; }' });
  const snap = await loaded.snapshot();
  const err = await t.rejects(loaded.callHandler('h', {}, options), 'ERR_CANCELLED');
  if (by !== undefined) t.assert.equal(loaded.lastCallStats?.terminatedBy ?? null, by);
  t.assert.equal(loaded.poisoned, true);
  await t.rejects(loaded.callHandler('ok', {}), 'ERR_POISONED');
  await loaded.restore(snap);
  t.assert.equal(await loaded.callHandler('ok', {}), 1);
  return err;
}

export const cases = {
  'for-ever with a wall-clock limit': (t) =>
    cancelledThenRestored(t, SPIN, { wallClockTimeoutMs: 200 }, 'wall-clock'),
  'for-ever with a CPU limit': (t) =>
    cancelledThenRestored(t, SPIN, { cpuTimeoutMs: 200 }, 'cpu-time'),
  'for-ever with both limits': (t) =>
    cancelledThenRestored(t, SPIN, { cpuTimeoutMs: 150, wallClockTimeoutMs: 5000 }, 'cpu-time'),
  'for-ever without a limit, killed': async (t) => {
    const loaded = await t.load({ h: SPIN });
    const stop = t.killWhenRunning(loaded, 100);
    await t.rejects(loaded.callHandler('h', {}), 'ERR_CANCELLED');
    stop();
    t.assert.equal(loaded.poisoned, true);
  },
  'async handler that never yields': (t) =>
    cancelledThenRestored(t, 'async function handler() { await 1; for (;;) {} }', {
      wallClockTimeoutMs: 200,
    }),
  'endless microtask chain': async (t) => {
    // Bounded either way: the wall clock kills it, or the guest gives up on a promise that no
    // job can settle (ERR_HANDLER); the sandbox comes back.
    const loaded = await t.load({
      h: 'function handler() { const loop = () => Promise.resolve().then(loop); loop(); return new Promise(() => {}); }',
      ok: 'function handler() { return 1; }',
    });
    const snap = await loaded.snapshot();
    await t.rejects(loaded.callHandler('h', {}, { wallClockTimeoutMs: 300 }), [
      'ERR_CANCELLED',
      'ERR_HANDLER',
    ]);
    if (loaded.poisoned) await loaded.restore(snap);
    t.assert.equal(await loaded.callHandler('ok', {}), 1);
  },
  'catastrophic regexp backtracking': (t) =>
    cancelledThenRestored(
      t,
      "function handler() { return /^(a+)+$/.test('a'.repeat(40) + 'b'); }",
      { wallClockTimeoutMs: 300 },
      'wall-clock',
    ),
  'recursion through a getter': async (t) => {
    const loaded = await t.load({
      h: 'function handler() { const o = { get x() { return this.x; } }; return o.x; }',
    });
    const err = await t.rejects(loaded.callHandler('h', {}), 'ERR_HANDLER');
    t.assert.match(err.message, /stack|recursion/i);
    t.assert.equal(loaded.poisoned, false);
  },
  'recursion through a Proxy': async (t) => {
    const loaded = await t.load({
      h: 'function handler() { const p = new Proxy({}, { get(t, k, r) { return r[k]; } }); return p.x; }',
    });
    await t.rejects(loaded.callHandler('h', {}), 'ERR_HANDLER');
    t.assert.equal(await loaded.callHandler('h', {}).catch((e) => e.code), 'ERR_HANDLER');
  },
  'plain unbounded recursion': async (t) => {
    const loaded = await t.load({
      h: 'function handler() { const f = (n) => f(n + 1) + 1; return f(0); }',
    });
    await t.rejects(loaded.callHandler('h', {}), 'ERR_HANDLER');
    t.assert.equal(loaded.poisoned, false);
  },
  'recursion inside a regexp replace callback': async (t) => {
    const loaded = await t.load({
      h: "function handler() { const f = (s) => s.replace(/a/g, () => f(s)); return f('aaa'); }",
    });
    await t.rejects(loaded.callHandler('h', {}), 'ERR_HANDLER');
  },
  'deeply nested result': async (t) => {
    // 20,000 levels serialise within the default 8 MiB scratch, and the host parses them back.
    const loaded = await t.load({
      h: 'function handler() { let a = []; for (let i = 0; i < 20000; i++) a = [a]; return a; }',
    });
    let value = await loaded.callHandler('h', {});
    let depth = 0;
    while (Array.isArray(value) && value.length === 1) {
      value = value[0];
      depth++;
    }
    t.assert.deepEqual([depth, value], [20000, []]);
    t.assert.equal(loaded.poisoned, false);
  },
  'eval of a huge expression': async (t) => {
    const loaded = await t.load({
      h: "function handler() { return eval('1+'.repeat(1e6) + '1'); }",
    });
    // Its parse tree does not fit the 16 MiB heap the cases use: an engine out-of-memory, which
    // poisons.
    await t.rejects(loaded.callHandler('h', {}, { wallClockTimeoutMs: 20_000 }), 'ERR_GUEST_ABORT');
    t.assert.equal(loaded.poisoned, true);
  },
  'kill while a host function runs': async (t) => {
    const loaded = await t.load(
      { h: "import * as s from 'host:slow'; function handler() { return s.wait(); }" },
      {
        proto: (p) =>
          p
            .hostModule('slow')
            .register('wait', () => new Promise((r) => setTimeout(() => r(1), 60_000))),
      },
    );
    const stop = t.killWhenRunning(loaded, 100);
    await t.rejects(loaded.callHandler('h', {}), 'ERR_CANCELLED');
    stop();
  },
  'a host function that never settles, with a wall-clock limit': async (t) => {
    const loaded = await t.load(
      { h: "import * as s from 'host:never'; function handler() { return s.wait(); }" },
      { proto: (p) => p.hostModule('never').register('wait', () => new Promise(() => {})) },
    );
    await t.rejects(loaded.callHandler('h', {}, { wallClockTimeoutMs: 200 }), 'ERR_CANCELLED');
  },
  'unload after a kill': async (t) => {
    const loaded = await t.load({ h: SPIN });
    await t.rejects(loaded.callHandler('h', {}, { wallClockTimeoutMs: 100 }), 'ERR_CANCELLED');
    const sandbox = await loaded.unload();
    sandbox.addHandler('h', 'function handler() { return 7; }');
    const again = await sandbox.getLoadedSandbox();
    t.assert.equal(await again.callHandler('h', {}), 7);
  },
};
