// @hyperlight/sandbox: one definition, then a ready sandbox or a pool of them. The sandbox is
// snapshotted right after its load; the reset policy returns to that snapshot, so state never
// leaks from one tenant to the next and one bad event never breaks the next one.
import { anyOf, cpuTime, wallClock } from '@hyperlight/monitors';
import { createPool, createSandbox, defineSandbox, isSandboxError } from '@hyperlight/sandbox';

const prices = new Map([
  ['apple', 3],
  ['pear', 4],
]);
const definition = defineSandbox({
  handlers: {
    // Module state: a cart that lives as long as the sandbox's state does.
    addToCart: `
      import { total } from 'user:cart';
      import * as shop from 'host:shop';
      const items = [];
      function handler(event) {
        items.push({ item: event.item, price: shop.price(event.item) });
        return { items: items.length, total: total(items) };
      }`,
    spin: 'function handler() { for (;;) {} }',
  },
  modules: { cart: 'export const total = (items) => items.reduce((s, i) => s + i.price, 0);' },
  hostFunctions: { shop: { price: (item) => prices.get(item) ?? 0 } },
  limits: anyOf(wallClock(1000), cpuTime(50)),
});

// One sandbox, fresh state for every call (one tenant per call).
const sandbox = await createSandbox(definition, { reset: 'always' });
console.log('tenant A:', await sandbox.call('addToCart', { item: 'apple' }));
console.log('tenant B:', await sandbox.call('addToCart', { item: 'pear' }));
await sandbox.close();

// The default policy keeps state and restores only after a poisoning failure.
const session = await createSandbox(definition, {
  hooks: { onReset: ({ reason }) => console.log(`  (restored after: ${reason})`) },
});
console.log('session:', await session.call('addToCart', { item: 'apple' }));
console.log('session:', await session.call('addToCart', { item: 'pear' }));
const error = await session.call('spin', {}).catch((e) => e);
console.log(`spin: ${error.code}, terminated by ${error.terminatedBy}`);
console.log('session after the restore:', await session.call('addToCart', { item: 'pear' }));
await session.close();

// A pool of 4 behind a bounded queue: 100 calls at once, one of them poisoned.
const pool = await createPool(definition, { size: 4, maxQueue: 200, queueTimeoutMs: 10_000 });
const calls = Array.from({ length: 100 }, (_, i) =>
  i === 50 ? pool.call('spin', {}) : pool.call('addToCart', { item: i % 2 ? 'apple' : 'pear' }),
);
const settled = await Promise.allSettled(calls);
const ok = settled.filter((s) => s.status === 'fulfilled').length;
console.log(`pool: ${ok} answered, ${settled.length - ok} cancelled`);
await pool.drain(); // waits for every call and reset, then takes no more calls
const { size, calls: total, failures, resets, queued } = pool.stats;
console.log('pool stats:', { size, calls: total, failures, resets, queued });

// A full queue is a clear error, not an unbounded backlog.
const tiny = await createPool(definition, { size: 1, maxQueue: 1 });
const burst = await Promise.allSettled(
  [1, 2, 3].map(() => tiny.call('addToCart', { item: 'apple' })),
);
const full = burst.find((s) => s.status === 'rejected')?.reason;
console.log(
  `burst of 3 on 1 sandbox + 1 queue slot: ${isSandboxError(full, 'ERR_QUEUE_FULL') ? full.code : 'no error'}`,
);
await Promise.all([pool.close(), tiny.close()]);

// A client that goes away: the call's signal asks the guest to stop, and it unwinds cleanly (not
// poisoned, so the sandbox keeps its state and needs no restore).
const service = await createSandbox({
  handlers: { work: 'function handler() { for (;;) {} }' },
  limits: wallClock(5000),
});
const client = new AbortController();
setTimeout(() => client.abort(new Error('client went away')), 20);
const gone = await service.call('work', {}, { signal: client.signal }).catch((e) => e);
console.log(
  `client gone: ${gone.code}, terminated by ${gone.terminatedBy}, poisoned: ${gone.poisoned}`,
);
await service.close();

// Load limits: a handler whose top level never returns cannot hang sandbox creation.
const stuck = await createSandbox({
  handlers: { h: 'for (;;) {} function handler() {}' },
  loadLimits: wallClock(100),
}).catch((e) => e);
console.log(`stuck load: ${stuck.code}, terminated by ${stuck.terminatedBy}`);
