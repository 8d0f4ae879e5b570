// The service that docs/deploying.md puts in a container (examples/service/server.mjs), run for
// real on 127.0.0.1: health, readiness from checkHypervisor(), handler calls through a pool of
// micro-VMs, metrics, and a clean stop on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const server = fileURLToPath(new URL('../service/server.mjs', import.meta.url));
let child: ChildProcess;
let base: string;

beforeAll(async () => {
  child = spawn(process.execPath, [server], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', POOL_SIZE: '2' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`the service exited early (${code}): ${out}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
});

describe('examples/service (docs/deploying.md)', () => {
  it('is healthy and ready when micro-VMs can run', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { ok: boolean }).ok).toBe(true);
  });

  it('runs the handler in a micro-VM and refuses bad bodies', async () => {
    const r = await fetch(`${base}/run`, {
      method: 'POST',
      body: JSON.stringify({ text: 'hello micro vm' }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ words: 3, upper: 'HELLO MICRO VM' });
    expect((await fetch(`${base}/run`, { method: 'POST', body: '{nope' })).status).toBe(400);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
  });

  it('exports its metrics as Prometheus text', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^hyperlight_pool_size 2$/m);
    expect(text).toMatch(/^hyperlight_pool_calls_total [1-9]\d*$/m);
    expect(text).toMatch(/^hyperlight_monitor_terminations_total 0$/m);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
