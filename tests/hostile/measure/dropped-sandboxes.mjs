// Creates, calls and drops 2,000 sandboxes without dispose(), sampling the
// process's peak threads, file descriptors, live VMs and resident memory.
// Usage (from tests/hostile): node measure/dropped-sandboxes.mjs [count]
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { SandboxBuilder } from '@hyperlight/js-host-api';

const count = Number(process.argv[2] ?? 2000);
const peak = { threads: 0, fds: 0, vms: 0, rssMb: 0 };
function sample() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const threads = Number(/Threads:\s+(\d+)/.exec(status)[1]);
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  const fds = readdirSync('/proc/self/fd');
  let vms = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('anon_inode:kvm-vm')) vms++;
    } catch {}
  }
  peak.threads = Math.max(peak.threads, threads);
  peak.fds = Math.max(peak.fds, fds.length);
  peak.vms = Math.max(peak.vms, vms);
  peak.rssMb = Math.max(peak.rssMb, rssMb);
}
const started = Date.now();
for (let i = 0; i < count; i++) {
  const proto = await new SandboxBuilder().build();
  const sandbox = await proto.loadRuntime();
  sandbox.addHandler('h', 'function handler(e) { return e + 1; }');
  const loaded = await sandbox.getLoadedSandbox();
  await loaded.callHandler('h', i);
  if (i % 10 === 0) sample();
}
sample();
console.log(
  JSON.stringify({
    count,
    ...peak,
    rssMb: Math.round(peak.rssMb),
    seconds: (Date.now() - started) / 1000,
  }),
);
