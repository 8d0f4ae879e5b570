/** Counts its calls in module state: `{ count }` is 1 on a fresh sandbox. */
export const COUNTER = `
  let count = 0;
  function handler(event) { count++; return { count }; }
`;

/** Throws a RangeError when `event.fail`, else counts like COUNTER. */
export const FLAKY = `
  let count = 0;
  function handler(event) {
    count++;
    if (event.fail) throw new RangeError('bad event ' + count);
    return { count };
  }
`;

/** Spins until `event.ms` milliseconds have passed (forever without `ms`). */
export const SPIN = `
  function handler(event) {
    const start = Date.now();
    while (event.ms === undefined || Date.now() - start < event.ms) {}
    return { done: true };
  }
`;

/** Echoes its event. */
export const ECHO = 'function handler(event) { return event; }';

/** Allocates until the guest heap is exhausted. */
export const HOG = `
  function handler() {
    const keep = [];
    for (;;) keep.push(new Array(100000).fill(keep.length));
  }
`;

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { rejection, thrown } from '../../../tooling/test-helpers';
