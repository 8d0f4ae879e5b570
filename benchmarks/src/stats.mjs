import { readFileSync } from 'node:fs';

// Summary statistics and timing helpers shared by every engine's measures.

/** Median, p99 and count of a list of numbers (any unit). */
export function summarize(values) {
  const v = [...values].sort((a, b) => a - b);
  const at = (q) => v[Math.min(v.length - 1, Math.round((v.length - 1) * q))];
  return { median: at(0.5), p99: at(0.99), n: v.length };
}

/** Milliseconds since an arbitrary origin, sub-microsecond resolution. */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Runs `fn` (sync or async) `n` times and returns each duration in µs. */
export async function timeEach(n, fn) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = nowMs();
    await fn(i);
    out.push((nowMs() - t) * 1000);
  }
  return out;
}

/**
 * Proportional set size of this process in bytes (`Pss` of /proc/self/smaps_rollup): resident
 * pages, each shared page divided by the number of its mappings. Unlike RSS it counts a page
 * that many VMs map read-only (the guest image's code and data, see docs/performance.md) once,
 * not once per mapping. Falls back to RSS where smaps_rollup does not exist.
 */
export function pss() {
  globalThis.gc?.();
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = /^Pss:\s+(\d+) kB/m.exec(text);
    if (kb) return Number(kb[1]) * 1024;
  } catch {}
  return process.memoryUsage.rss();
}
