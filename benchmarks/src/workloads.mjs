// The workloads: the same handler bodies for every engine. Each engine
// prepends its own way of reaching the host function `add(a, b)`.

export const ECHO = 'function handler(event) { return event; }';

export const FIB = `
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
function handler(event) { return { result: fib(event.n) }; }`;

/** 1000 calls of the host function `add`, reached as `add(...)`. */
export const HOST_CALLS = `
function handler(event) {
  let s = 0;
  for (let i = 0; i < event.n; i++) s = add(s, 1);
  return { s };
}`;

export const SPIN = 'function handler(event) { for (;;) {} }';

/** A small handler whose state a restore must undo. */
export const SMALL = `
let seen = [];
function handler(event) { seen.push(event); return { count: seen.length }; }`;

export const EVENT = { name: 'World', items: [1, 2, 3], nested: { ok: true } };
