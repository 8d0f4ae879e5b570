// Every way to run out of guest memory ends in a documented code; an
// engine out-of-memory poisons (the engine's state cannot be trusted) and
// restore recovers; a result too large to serialise is recoverable.
async function oom(t, src, codes = ['ERR_GUEST_ABORT']) {
  const loaded = await t.load({ h: src, ok: 'function handler() { return 1; }' });
  const snap = await loaded.snapshot();
  const err = await t.rejects(loaded.callHandler('h', {}, { wallClockTimeoutMs: 20_000 }), codes);
  t.assert.ok(!/out of memory: out of memory/.test(err.message), err.message);
  if (err.code === 'ERR_GUEST_ABORT') {
    t.assert.equal(loaded.poisoned, true);
    await loaded.restore(snap);
  }
  t.assert.equal(await loaded.callHandler('ok', {}), 1);
}

export const cases = {
  'array growth': (t) =>
    oom(t, 'function handler() { const a = []; for (;;) a.push({ i: a.length }); }'),
  // Concatenation builds ropes: the length limit (2^30 - 1) is reached before the heap is, a
  // catchable InternalError.
  'string doubling': async (t) => {
    const loaded = await t.load({ h: "function handler() { let s = 'x'; for (;;) s = s + s; }" });
    const err = await t.rejects(loaded.callHandler('h', {}), 'ERR_HANDLER');
    t.assert.equal(err.guestName, 'InternalError');
    t.assert.equal(err.guestMessage, 'string too long');
    t.assert.equal(loaded.poisoned, false);
  },
  'one huge ArrayBuffer': (t) =>
    oom(t, 'function handler() { return new ArrayBuffer(1e9).byteLength; }'),
  'Map growth': (t) =>
    oom(t, 'function handler() { const m = new Map(); for (let i = 0; ; i++) m.set(i, [i]); }'),
  'closures kept alive': (t) =>
    oom(
      t,
      'function handler() { const k = []; for (let i = 0; ; i++) { const v = [i, i]; k.push(() => v); } }',
    ),
  'out of memory caught and rethrown as null': (t) =>
    oom(
      t,
      'function handler() { try { const a = []; for (;;) a.push([a.length]); } catch (e) { throw null; } }',
    ),
  'a result that exhausts the heap while serialising': async (t) => {
    const loaded = await t.load({ h: "function handler(n) { return 'x'.repeat(n); }" });
    const err = await t.rejects(loaded.callHandler('h', 5 * 1024 * 1024), 'ERR_HANDLER');
    t.assert.match(err.message, /too large/);
    t.assert.equal(loaded.poisoned, false);
    t.assert.equal(await loaded.callHandler('h', 2), 'xx');
  },
  'a result just larger than the output buffer': async (t) => {
    const loaded = await t.load(
      { h: "function handler(n) { return 'x'.repeat(n); }" },
      {
        builder: (b) => b.setOutputBufferSize(64 * 1024),
      },
    );
    const cap = 64 * 1024 - 8 - 4 - 2;
    t.assert.equal((await loaded.callHandler('h', cap)).length, cap);
    const err = await t.rejects(loaded.callHandler('h', cap + 1), 'ERR_HANDLER');
    t.assert.match(err.message, /too large|output buffer/);
    t.assert.equal(loaded.poisoned, false);
  },
  'sizes out of their bounds are refused when set': async (t) => {
    t.throws(
      () => new t.api.SandboxBuilder().setHeapSize(4 * 1024 * 1024 - 4096),
      'ERR_INVALID_ARG',
    );
    t.throws(() => new t.api.SandboxBuilder().setScratchSize(256 * 1024 - 4096), 'ERR_INVALID_ARG');
    t.throws(() => new t.api.SandboxBuilder().setInputBufferSize(4095), 'ERR_INVALID_ARG');
    t.throws(
      () => new t.api.SandboxBuilder().setOutputBufferSize(256 * 1024 * 1024 + 4096),
      'ERR_INVALID_ARG',
    );
  },
  'the smallest accepted sizes boot and run a handler': async (t) => {
    const loaded = await t.load(
      { h: 'function handler(e) { return { e, s: JSON.stringify(e) }; }' },
      {
        builder: (b) =>
          b
            .setHeapSize(4 * 1024 * 1024)
            .setScratchSize(256 * 1024)
            .setInputBufferSize(4096)
            .setOutputBufferSize(4096)
            .setLocale('de-DE'),
      },
    );
    t.assert.deepEqual(await loaded.callHandler('h', [1]), { e: [1], s: '[1]' });
  },
};
