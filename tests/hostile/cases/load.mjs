// Code that runs at load time is bounded and stoppable like a call.
const ENDLESS_TOP = 'for (;;) {} function handler() { return 1; }';

async function jsSandbox(t, setup) {
  const proto = await new t.api.SandboxBuilder().build();
  const sandbox = await proto.loadRuntime();
  setup?.(sandbox);
  return sandbox;
}

export const cases = {
  'endless top level, wall-clock limit on getLoadedSandbox': async (t) => {
    const sandbox = await jsSandbox(t, (s) => s.addHandler('h', ENDLESS_TOP));
    await t.rejects(sandbox.getLoadedSandbox({ wallClockTimeoutMs: 200 }), 'ERR_CANCELLED');
    // The sandbox is usable again.
    sandbox.removeHandler('h');
    sandbox.addHandler('h', 'function handler() { return 2; }');
    const loaded = await sandbox.getLoadedSandbox();
    t.assert.equal(await loaded.callHandler('h', {}), 2);
  },
  'endless top level, CPU limit on getLoadedSandbox': async (t) => {
    const sandbox = await jsSandbox(t, (s) => s.addHandler('h', ENDLESS_TOP));
    await t.rejects(sandbox.getLoadedSandbox({ cpuTimeoutMs: 200 }), 'ERR_CANCELLED');
  },
  'endless top level of an imported module': async (t) => {
    const sandbox = await jsSandbox(t, (s) => {
      s.addModule('spin', 'while (true) {} export const x = 1;');
      s.addHandler('h', "import { x } from 'user:spin'; function handler() { return x; }");
    });
    await t.rejects(sandbox.getLoadedSandbox({ wallClockTimeoutMs: 200 }), 'ERR_CANCELLED');
  },
  'a load killed through the interrupt handle': async (t) => {
    const sandbox = await jsSandbox(t, (s) => s.addHandler('h', ENDLESS_TOP));
    const handle = sandbox.interruptHandle;
    const p = sandbox.getLoadedSandbox();
    setTimeout(() => handle.kill(), 100);
    await t.rejects(p, 'ERR_CANCELLED');
  },
  'a kill in the same tick as the load': async (t) => {
    const sandbox = await jsSandbox(t, (s) => s.addHandler('h', ENDLESS_TOP));
    const p = sandbox.getLoadedSandbox();
    t.assert.equal(sandbox.interruptHandle.kill(), true);
    await t.rejects(p, 'ERR_CANCELLED');
  },
  'dispose() during an endless load stops it and the process exits': async (t) => {
    // A child that loads forever, disposes after 200 ms and must then exit on its own.
    const { spawnSync } = await import('node:child_process');
    const src = `
      import { SandboxBuilder } from '@hyperlight/js-host-api';
      const sandbox = await (await new SandboxBuilder().build()).loadRuntime();
      sandbox.addHandler('h', ${JSON.stringify(ENDLESS_TOP)});
      const p = sandbox.getLoadedSandbox().catch((e) => console.log('load:', e.code));
      setTimeout(async () => { const t0 = Date.now(); await sandbox.dispose(); console.log('disposed in', Date.now() - t0, 'ms'); }, 200);
      await p;`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], {
      cwd: new URL('..', import.meta.url).pathname,
      timeout: 20_000,
      encoding: 'utf8',
    });
    t.assert.equal(r.status, 0, `exit ${r.status} ${r.signal}: ${r.stdout}${r.stderr}`);
    t.assert.match(r.stdout, /load: ERR_CANCELLED/);
    t.note(r.stdout.trim().split('\n').join('; '));
  },
  'never-settling top-level await': async (t) => {
    const sandbox = await jsSandbox(t, (s) =>
      s.addHandler('h', 'await new Promise(() => {}); function handler() { return 1; }'),
    );
    await t.rejects(sandbox.getLoadedSandbox(), 'ERR_HANDLER');
  },
  'unknown load options are refused': async (t) => {
    const sandbox = await jsSandbox(t, (s) =>
      s.addHandler('h', 'function handler() { return 1; }'),
    );
    await t.rejects(sandbox.getLoadedSandbox({ wallClockTimeout: 100 }), 'ERR_INVALID_ARG');
    await t.rejects(sandbox.getLoadedSandbox({ wallClockTimeoutMs: 0 }), 'ERR_INVALID_ARG');
    const loaded = await sandbox.getLoadedSandbox({ wallClockTimeoutMs: 5000, cpuTimeoutMs: 5000 });
    t.assert.equal(await loaded.callHandler('h', {}), 1);
  },
  'loadRuntime takes the same limits': async (t) => {
    const proto = await new t.api.SandboxBuilder().build();
    await t.rejects(proto.loadRuntime({ nope: 1 }), 'ERR_INVALID_ARG');
    const sandbox = await proto.loadRuntime({ wallClockTimeoutMs: 1000 });
    t.assert.ok(sandbox);
  },
  'a signal given to loadRuntime keeps no listener afterwards': async (t) => {
    const { getEventListeners } = await import('node:events');
    const controller = new AbortController();
    for (let i = 0; i < 3; i++) {
      const proto = await new t.api.SandboxBuilder().build();
      const sandbox = await proto.loadRuntime({ signal: controller.signal });
      await sandbox.dispose();
    }
    // Was 3: loadRuntime only validates its options, and the armed listener stayed on the signal.
    t.assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  },
};
