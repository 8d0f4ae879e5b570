// Guest output never blocks the sandbox, a monitor or the main thread; it
// reaches the sink whole or with explicit markers, and the default sink
// cannot drive the terminal.
import { spawn, spawnSync } from 'node:child_process';

const cwd = new URL('..', import.meta.url).pathname;

/** Runs `src` (an ES module) in a child node whose stdout goes to a pipe that is never read. */
function childWithUnreadStdout(src, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', src], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    // stdout is deliberately never read (and never paused-then-drained).
    child.stdout.pause();
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    let report;
    child.on('message', (m) => {
      report = m;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child hung (more than ${timeoutMs} ms); stderr: ${err}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!report) reject(new Error(`the child reported nothing (exit ${code ?? signal}): ${err}`));
      else resolve(report);
    });
  });
}

export const cases = {
  'a flood into a stdout pipe nobody reads, with a 2 s wall-clock limit': {
    timeoutMs: 60_000,
    run: async (t) => {
      const report = await childWithUnreadStdout(
        `
        import { SandboxBuilder } from '@hyperlight/js-host-api';
        const sandbox = await (await new SandboxBuilder().build()).loadRuntime();
        sandbox.addHandler('h', "function handler() { const l = 'y'.repeat(10000); for (let i = 0; i < 1000; i++) console.log(l); for (;;) {} }");
        const loaded = await sandbox.getLoadedSandbox();
        const t0 = performance.now();
        let code;
        try { await loaded.callHandler('h', 0, { wallClockTimeoutMs: 2000 }); } catch (e) { code = e.code; }
        const callMs = performance.now() - t0;
        // And a kill from the main thread while the guest floods again.
        sandbox;
        const again = await (await (await new SandboxBuilder().build()).loadRuntime());
        again.addHandler('h', "function handler() { const l = 'y'.repeat(10000); for (;;) console.log(l); }");
        const l2 = await again.getLoadedSandbox();
        const p = l2.callHandler('h', 0).catch((e) => e.code);
        await new Promise((r) => setTimeout(r, 500));
        const k0 = performance.now();
        l2.interruptHandle.kill();
        const killMs = performance.now() - k0;
        const killed = await p;
        process.send({ code, callMs, killMs, killed }, () => process.exit(0));
      `,
        50_000,
      );
      t.note(
        `call ended after ${report.callMs.toFixed(1)} ms (deadline 2000 ms) with ${report.code}; kill() returned in ${report.killMs.toFixed(2)} ms (${report.killed})`,
      );
      t.assert.equal(report.code, 'ERR_CANCELLED');
      t.assert.equal(report.killed, 'ERR_CANCELLED');
    },
  },
  'a line longer than the print region reaches a sink whole': async (t) => {
    const lines = [];
    const loaded = await t.load(
      {
        h: "function handler() { console.log('y'.repeat(1 << 20)); console.warn('é'.repeat(40000) + '✓'); return 1; }",
      },
      { builder: (b) => b.setPrintSink((line, level) => lines.push([line, level])) },
    );
    await loaded.callHandler('h', 0);
    for (let i = 0; i < 100 && lines.length < 2; i++) await t.sleep(20);
    t.assert.equal(lines.length, 2);
    t.assert.equal(lines[0][0], 'y'.repeat(1 << 20));
    t.assert.equal(lines[0][1], 'info');
    t.assert.equal(lines[1][0], `${'é'.repeat(40000)}✓`);
    t.assert.equal(lines[1][1], 'warn');
  },
  'a user sink gets the raw text and every level': async (t) => {
    const lines = [];
    const loaded = await t.load(
      {
        h: "function handler() { print('p'); console.debug('d'); console.log('a\\x1b[31mb\\nc'); console.warn('w'); console.error('e'); return 1; }",
      },
      { builder: (b) => b.setPrintSink((line, level) => lines.push(`${level}:${line}`)) },
    );
    await loaded.callHandler('h', 0);
    for (let i = 0; i < 100 && lines.length < 5; i++) await t.sleep(20);
    t.assert.deepEqual(lines, ['print:p', 'debug:d', 'info:a\x1b[31mb\nc', 'warn:w', 'error:e']);
  },
  'the default sink neutralises terminal control sequences and marks newlines': async (t) => {
    const src = `
      import { SandboxBuilder } from '@hyperlight/js-host-api';
      const sandbox = await (await new SandboxBuilder().build()).loadRuntime();
      sandbox.addHandler('h', String.raw\`function handler() { console.log('red\\x1b[31m bell\\x07 cr\\r osc\\x1b]0;title\\x07 csi\\u009b2J bidi\\u202e nl\\n[host] forged'); console.error('err\\x1b[2J'); return 1; }\`);
      const loaded = await sandbox.getLoadedSandbox();
      await loaded.callHandler('h', 0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], {
      cwd,
      encoding: 'utf8',
      timeout: 20_000,
    });
    t.assert.equal(r.status, 0, r.stderr);
    t.assert.ok(
      !['\x07', '\x1b', '\r', '\u009b', '\u202e'].some((c) => (r.stdout + r.stderr).includes(c)),
      JSON.stringify(r.stdout + r.stderr),
    );
    t.assert.equal(
      r.stdout,
      'red\\x1b[31m bell\\x07 cr\\x0d osc\\x1b]0;title\\x07 csi\\x9b2J bidi\\u{202e} nl\n| [host] forged\n',
    );
    t.assert.equal(r.stderr, 'err\\x1b[2J\n');
  },
  'a sink slower than the guest: lines dropped are counted and reported': async (t) => {
    const lines = [];
    const loaded = await t.load(
      {
        h: "function handler() { const l = 'q'.repeat(20000); for (let i = 0; i < 2000; i++) console.log(l); return 1; }",
      },
      {
        builder: (b) =>
          b.setPrintSink((line) => {
            lines.push(line.length > 100 ? 'line' : line);
            const until = Date.now() + 1;
            while (Date.now() < until) {}
          }),
      },
    );
    t.assert.equal(await loaded.callHandler('h', 0), 1);
    const count = () => ({
      delivered: lines.filter((l) => l === 'line').length,
      dropped: lines
        .filter((l) => l.startsWith('[hyperlight-js:'))
        .reduce((n, l) => n + Number(/(\d+) lines?/.exec(l)[1]), 0),
    });
    for (let i = 0; i < 1000; i++) {
      const c = count();
      if (c.delivered + c.dropped >= 2000) break;
      await t.sleep(20);
    }
    const report = lines.find((l) => l.startsWith('[hyperlight-js:'));
    t.assert.ok(report, `no drop report among ${lines.length} lines`);
    t.assert.match(report, /lines? of guest output were dropped/);
    const { delivered, dropped } = count();
    t.note(`${delivered} of 2000 lines delivered, ${dropped} reported dropped`);
    t.assert.equal(delivered + dropped, 2000);
  },
  'a sink that is not a function is refused': async (t) => {
    t.throws(() => new t.api.SandboxBuilder().setPrintSink('stdout'), 'ERR_INVALID_ARG');
    t.assert.ok(new t.api.SandboxBuilder().setPrintSink(null));
  },
  'output of many lines keeps its order': async (t) => {
    const lines = [];
    const loaded = await t.load(
      {
        h: 'function handler() { for (let i = 0; i < 5000; i++) console.log(String(i)); return 1; }',
      },
      { builder: (b) => b.setPrintSink((line) => lines.push(line)) },
    );
    await loaded.callHandler('h', 0);
    for (let i = 0; i < 200 && lines.length < 5000; i++) await t.sleep(20);
    t.assert.equal(lines.length, 5000);
    t.assert.ok(lines.every((l, i) => l === String(i)));
  },
};
