// CPU timeout: combined CPU-time and wall-clock monitors, the recommended pattern. Both run with
// OR semantics: for compute-bound work the CPU monitor fires first (500 ms of CPU), and the
// 5-second wall clock is the backstop for a guest that waits without burning CPU.
import { SandboxBuilder } from '@hyperlight/js-host-api';

const proto = await new SandboxBuilder().build();
const sandbox = await proto.loadRuntime();
sandbox.addHandler(
  'compute',
  `
  function handler(event) {
    let x = 0;
    for (let i = 0; i < event.iterations; i++) x = (x * 31 + i) % 1000003;
    return { x };
  }
`,
);
const loaded = await sandbox.getLoadedSandbox();
const snapshot = await loaded.snapshot();
const limits = { wallClockTimeoutMs: 5000, cpuTimeoutMs: 500 };

const small = await loaded.callHandler('compute', { iterations: 1000 }, limits);
console.log(`a small computation finishes: x = ${small.x}`);
console.log(`terminated by: ${loaded.lastCallStats.terminatedBy}`);

console.log('an endless computation with { wallClockTimeoutMs: 5000, cpuTimeoutMs: 500 }...');
try {
  await loaded.callHandler('compute', { iterations: Number.MAX_SAFE_INTEGER }, limits);
  console.log('it finished (unexpected)');
} catch (error) {
  if (error.code !== 'ERR_CANCELLED') throw error;
  const stats = loaded.lastCallStats;
  console.log(`cancelled: ${error.code}, terminated by ${stats.terminatedBy}`);
  console.log(`CPU time about ${Math.round(stats.cpuTimeMs / 100) / 10} s`);
}

await loaded.restore(snapshot);
console.log(`restored; poisoned: ${loaded.poisoned}`);
