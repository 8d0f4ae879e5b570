// The guest clock tracks the host's at every point of a call.
export const cases = {
  'across host calls and print flushes': async (t) => {
    const loaded = await t.load(
      {
        h: `import * as h from 'host:h';
          async function handler() {
            const p0 = performance.now();
            let last = p0, backwards = 0;
            const across = [], acrossDate = [];
            for (let i = 0; i < 8; i++) {
              const p = performance.now(), d = Date.now();
              h.work();
              across.push(performance.now() - p);
              acrossDate.push(Date.now() - d);
              for (let j = 0; j < 200; j++) console.log('x'.repeat(400));
              const until = performance.now() + 5;
              let now;
              while ((now = performance.now()) < until) { if (now < last) backwards++; last = now; }
            }
            return { guestMs: performance.now() - p0, backwards, across, acrossDate };
          }`,
      },
      {
        builder: (b) => b.setPrintSink(() => {}),
        // The host works at least 20 ms inside each host call.
        proto: (p) =>
          p.hostModule('h').register('work', () => new Promise((r) => setTimeout(() => r(0), 20))),
      },
    );
    const t0 = performance.now();
    const r = await loaded.callHandler('h', 0);
    const hostMs = performance.now() - t0;
    t.note(
      `host ${hostMs.toFixed(1)} ms, guest ${r.guestMs.toFixed(1)} ms; across each 20 ms host call the guest saw ${r.across.map((x) => x.toFixed(1)).join(', ')} ms`,
    );
    t.assert.equal(r.backwards, 0);
    t.assert.ok(r.guestMs <= hostMs + 1, `guest ${r.guestMs} > host ${hostMs}`);
    for (const dt of [...r.across, ...r.acrossDate])
      t.assert.ok(dt >= 19, `the guest saw ${dt} ms of a 20 ms host call`);
  },
  'Date.now() on first calls of fresh (pooled) sandboxes is not ahead of the host': async (t) => {
    for (let i = 0; i < 5; i++) {
      const loaded = await t.load({
        h: 'function handler() { const u = Date.now() + 30; while (Date.now() < u) {} return Date.now(); }',
      });
      const guest = await loaded.callHandler('h', 0);
      const host = Date.now();
      t.assert.ok(guest <= host + 1, `guest ${guest} is ahead of the host ${host}`);
      await loaded.dispose();
    }
  },
  'after a restore': async (t) => {
    const loaded = await t.load({ h: 'function handler() { return Date.now(); }' });
    const snap = await loaded.snapshot();
    await t.sleep(50);
    await loaded.restore(snap);
    const before = Date.now();
    const guest = await loaded.callHandler('h', 0);
    t.assert.ok(guest >= before - 1 && guest <= Date.now() + 1, `${guest} not in [${before}, now]`);
  },
  'performance.now() is monotonic and coarsened to 5 µs by default': async (t) => {
    const src =
      'function handler() { let last = -1, back = 0; const r = new Set(); for (let i = 0; i < 50000; i++) { const n = performance.now(); if (n < last) back++; last = n; r.add(Math.round(n * 1000) % 5); } return { back, residues: [...r] }; }';
    const coarse = await (await t.load({ h: src })).callHandler('h', 0);
    t.assert.equal(coarse.back, 0);
    t.assert.deepEqual(coarse.residues, [0]);
    const fine = await (
      await t.load({ h: src }, { builder: (b) => b.setClockResolutionUs(0) })
    ).callHandler('h', 0);
    t.assert.equal(fine.back, 0);
    t.assert.ok(fine.residues.length > 1, 'full resolution looks coarse');
    t.throws(() => new t.api.SandboxBuilder().setClockResolutionUs(-1), 'ERR_INVALID_ARG');
  },
};
