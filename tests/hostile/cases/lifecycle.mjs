// Lifecycle under hostile guests: torn-down environments free their
// sandboxes, many sandboxes live side by side, every failure can be
// restored or unloaded.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/**
 * Live KVM vCPUs of this process (`anon_inode:kvm-vcpu` descriptors): one per VM, including
 * the pool's ready VMs. Sandbox threads are parked for reuse when their sandbox goes, so they
 * are not what to count.
 */
function vcpus() {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('anon_inode:kvm-vcpu')) n++;
    } catch {}
  }
  return n;
}

/** Whether a sandbox thread of this process is using a core (state R in /proc). */
function busySandboxThreads() {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (!readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('hyperlight-sand'))
        continue;
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('R')) n++;
    } catch {}
  }
  return n;
}

async function workerTerminated(t, handler, register) {
  const worker = new Worker(
    `
    const { parentPort } = require('node:worker_threads');
    (async () => {
      const { SandboxBuilder } = await import('@hyperlight/js-host-api');
      const proto = await new SandboxBuilder().build();
      ${register}
      const sandbox = await proto.loadRuntime();
      sandbox.addHandler('h', ${JSON.stringify(handler)});
      const loaded = await sandbox.getLoadedSandbox();
      parentPort.postMessage('calling');
      await loaded.callHandler('h', 0);
    })();`,
    { eval: true },
  );
  await new Promise((resolve, reject) => {
    worker.on('message', resolve);
    worker.on('error', reject);
  });
  await t.sleep(1000);
  const running = vcpus();
  await worker.terminate();
  for (let i = 0; i < 500 && vcpus() >= running; i++) await t.sleep(20);
  t.assert.ok(
    vcpus() < running,
    `the VM of the terminated worker is still alive (${vcpus()} vCPUs)`,
  );
  for (let i = 0; i < 250 && busySandboxThreads() > 0; i++) await t.sleep(20);
  t.assert.equal(busySandboxThreads(), 0, 'a sandbox thread still spins after the worker ended');
  const cpu0 = process.cpuUsage();
  await t.sleep(500);
  const cpu = process.cpuUsage(cpu0);
  t.note(
    `process CPU over 500 ms after termination: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`,
  );
}

export const cases = {
  'worker terminated while its guest loops forever': (t) =>
    workerTerminated(t, 'function handler() { for (;;) {} }', ''),
  'worker terminated while its guest waits on a host function that never settles': (t) =>
    workerTerminated(
      t,
      "import * as w from 'host:w'; function handler() { return w.wait(); }",
      "proto.hostModule('w').register('wait', () => new Promise(() => {}));",
    ),
  '1,000 live sandboxes all answer': {
    timeoutMs: 120_000,
    run: async (t) => {
      const all = [];
      for (let i = 0; i < 1000; i++) {
        const proto = await new t.api.SandboxBuilder().build();
        const sandbox = await proto.loadRuntime();
        sandbox.addHandler('h', `function handler(e) { return e + ${i}; }`);
        all.push(await sandbox.getLoadedSandbox());
      }
      const results = await Promise.all(all.map((l) => l.callHandler('h', 1)));
      t.assert.ok(results.every((r, i) => r === 1 + i));
      await Promise.all(all.map((l) => l.dispose()));
    },
  },
  'restore and unload after every failure kind': async (t) => {
    const loaded = await t.load({
      spin: 'function handler() { for (;;) {} }',
      oom: 'function handler() { const a = []; for (;;) a.push([a.length]); }',
      throws: 'function handler() { throw new Error("x"); }',
      ok: 'function handler(e) { return e; }',
    });
    const snap = await loaded.snapshot();
    for (const [name, opts, code] of [
      ['spin', { wallClockTimeoutMs: 100 }, 'ERR_CANCELLED'],
      ['oom', {}, 'ERR_GUEST_ABORT'],
      ['throws', {}, 'ERR_HANDLER'],
    ]) {
      await t.rejects(loaded.callHandler(name, 0, opts), code);
      await loaded.restore(snap);
      t.assert.equal(await loaded.callHandler('ok', name), name);
    }
    await t.rejects(loaded.callHandler('spin', 0, { cpuTimeoutMs: 100 }), 'ERR_CANCELLED');
    const sandbox = await loaded.unload();
    sandbox.addHandler('ok', 'function handler() { return "again"; }');
    t.assert.equal(await (await sandbox.getLoadedSandbox()).callHandler('ok', 0), 'again');
  },
  'dispose() of a sandbox whose call runs forever': async (t) => {
    const loaded = await t.load({ h: 'function handler() { for (;;) {} }' });
    const p = loaded.callHandler('h', 0).catch((e) => e.code);
    await t.sleep(100);
    const running = vcpus();
    await loaded.dispose();
    t.assert.equal(await p, 'ERR_CANCELLED');
    for (let i = 0; i < 250 && vcpus() >= running; i++) await t.sleep(20);
    t.assert.ok(vcpus() < running, 'the disposed VM is still alive');
  },
  'sandboxes dropped without dispose() are collected': {
    timeoutMs: 120_000,
    run: async (t) => {
      let peak = 0;
      for (let i = 0; i < 400; i++) {
        const proto = await new t.api.SandboxBuilder().build();
        const sandbox = await proto.loadRuntime();
        sandbox.addHandler('h', 'function handler(e) { return e; }');
        await (await sandbox.getLoadedSandbox()).callHandler('h', i);
        if (i % 20 === 0) peak = Math.max(peak, vcpus());
      }
      t.note(`peak live VMs while creating 400 sandboxes and dropping them: ${peak}`);
      t.assert.ok(peak < 300, `garbage collection did not keep up: ${peak} VMs at once`);
    },
  },
};
