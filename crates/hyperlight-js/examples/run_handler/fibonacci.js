// The n-th Fibonacci number (as a string: it outgrows a double), with
// the helper in a module imported relatively.
import { fibonacci } from './lib/bigmath.js';

export function handler(event) {
  return { n: event.n, fibonacci: fibonacci(event.n).toString() };
}
