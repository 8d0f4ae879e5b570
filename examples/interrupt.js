// Interrupt/timeout: a handler that would run for 4 seconds is killed after 1 second by the
// wall-clock timeout of callHandler(). The call rejects with ERR_CANCELLED, the sandbox is
// poisoned, and restoring a snapshot makes it usable again. Then the same with
// interruptHandle.kill() from a timer, and with an AbortSignal, whose polite stop leaves the
// sandbox usable.
import { SandboxBuilder } from '@hyperlight/js-host-api';

const proto = await new SandboxBuilder().build();
const sandbox = await proto.loadRuntime();
sandbox.addHandler(
  'slow',
  `
  function handler(event) {
    const start = Date.now();
    while (Date.now() - start < event.ms) {}
    return { sleptMs: event.ms };
  }
`,
);
const loaded = await sandbox.getLoadedSandbox();
const snapshot = await loaded.snapshot();

console.log('calling a 4-second handler with a 1-second wall-clock timeout...');
try {
  await loaded.callHandler('slow', { ms: 4000 }, { wallClockTimeoutMs: 1000 });
  console.log('the handler finished (unexpected)');
} catch (error) {
  if (error.code !== 'ERR_CANCELLED') throw error;
  console.log(`cancelled: ${error.code}, terminated by ${loaded.lastCallStats.terminatedBy}`);
  console.log(`killed after about ${Math.round(loaded.lastCallStats.wallClockMs / 100) / 10} s`);
}
console.log(`poisoned: ${loaded.poisoned}`);

await loaded.restore(snapshot);
console.log(`restored; poisoned: ${loaded.poisoned}`);
console.log('a short call works again:', await loaded.callHandler('slow', { ms: 10 }));

// The same with the interrupt handle (a getter), from a timer. kill() returns whether a call was
// running: a kill that lands before the call has started does nothing, so retry until one did.
const handle = loaded.interruptHandle;
const timer = setInterval(() => {
  if (handle.kill()) clearInterval(timer);
}, 500);
try {
  await loaded.callHandler('slow', { ms: 4000 });
  console.log('the handler finished (unexpected)');
} catch (error) {
  if (error.code !== 'ERR_CANCELLED') throw error;
  console.log(`killed by interruptHandle.kill(): ${error.code}`);
} finally {
  clearInterval(timer);
}
await loaded.restore(snapshot);
console.log(`restored again; poisoned: ${loaded.poisoned}`);

// With an AbortSignal: the engine is asked to stop (no kill), so the sandbox stays usable.
try {
  await loaded.callHandler('slow', { ms: 4000 }, { signal: AbortSignal.timeout(500) });
  console.log('the handler finished (unexpected)');
} catch (error) {
  if (error.code !== 'ERR_CANCELLED') throw error;
  console.log(`aborted: ${error.code}, terminated by ${error.terminatedBy}, ${error.cause.name}`);
}
console.log(`after the abort; poisoned: ${loaded.poisoned}`);
