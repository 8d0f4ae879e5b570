// The hostile-guest suite: every case of `cases/*.mjs` runs in its own
// child process (`case.mjs <file> <name>`) with its own timeout, so a hang
// fails that case instead of the run. Two cases run at a time. Prints one
// line per case and the counts; exits non-zero when any case failed.
//
//   node tests/hostile/run.mjs [filter]      (filter: a substring of case names)
//
// HYPERLIGHT_HOSTILE_COUNTS=<file> also writes {passed, failed, skipped} there
// (for the test command's totals).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadCases } from './lib/cases.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const PARALLEL = Number(process.env.HYPERLIGHT_HOSTILE_PARALLEL ?? 2);

const all = (await loadCases()).filter((c) => c.id.includes(filter));
if (all.length === 0) {
  console.error(`hostile: no case matches ${JSON.stringify(filter)}`);
  process.exit(1);
}

function runOne(c) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(here, 'lib', 'case.mjs'), c.file, c.name], {
      // From the suite's own package, whatever the caller's directory: code that a case evaluates
      // (a worker's eval) resolves '@hyperlight/js-host-api' from the working directory.
      cwd: here,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HYPERLIGHT_HOSTILE_CASE: c.id },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, c.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      const ok = !timedOut && code === 0 && out.includes('HOSTILE-CASE-PASSED');
      resolve({
        c,
        ok,
        ms,
        out,
        why: timedOut ? `timed out after ${c.timeoutMs} ms` : `exit ${code ?? signal}`,
      });
    });
  });
}

const results = [];
let next = 0;
async function lane() {
  while (next < all.length) {
    const c = all[next++];
    const r = await runOne(c);
    results.push(r);
    const notes = r.out
      .split('\n')
      .filter((l) => l.startsWith('note: '))
      .map((l) => `    ${l}`);
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${c.id} (${r.ms} ms)`);
    for (const n of notes) console.log(n);
    if (!r.ok) {
      console.log(`    ${r.why}`);
      for (const l of r.out.trim().split('\n').slice(-25)) console.log(`    | ${l}`);
    }
  }
}
const started = Date.now();
await Promise.all(Array.from({ length: Math.min(PARALLEL, all.length) }, lane));
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(
  `hostile: ${passed} passed, ${failed} failed, 0 skipped (${results.length} cases, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
if (failed)
  console.log(
    `hostile: failed: ${results
      .filter((r) => !r.ok)
      .map((r) => r.c.id)
      .join(', ')}`,
  );
if (process.env.HYPERLIGHT_HOSTILE_COUNTS) {
  writeFileSync(
    process.env.HYPERLIGHT_HOSTILE_COUNTS,
    JSON.stringify({ passed, failed, skipped: 0 }),
  );
}
process.exit(failed ? 1 : 0);
