import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The addon in hosts that are not the `node` binary: it must load with nothing but N-API from
// the host, and work without its optional event-loop spin (which needs libuv from the host).

const require = createRequire(import.meta.url);
const addon = require.resolve('@hyperlight/js-host-api-linux-x64-gnu');
const here = path.dirname(fileURLToPath(import.meta.url));

describe('the native addon', () => {
  it('imports no libuv symbol (it looks libuv up at run time), so a host without libuv loads it', () => {
    // Linked with -z now: an imported symbol the host lacks would make dlopen refuse the addon.
    const dynamic = execFileSync('readelf', ['--dynamic', addon], { encoding: 'utf8' });
    expect(dynamic).toMatch(/BIND_NOW|FLAGS_1.*NOW/);
    const undefinedSymbols = execFileSync('nm', ['-D', '--undefined-only', addon], {
      encoding: 'utf8',
    });
    expect(undefinedSymbols).toContain('napi_create_promise');
    expect(undefinedSymbols).not.toMatch(/\buv_\w+/);
  });

  it('works without the event-loop spin (the state it is in when the host has no libuv)', () => {
    const script = `
      import { SandboxBuilder } from '@hyperlight/js-host-api';
      const proto = await new SandboxBuilder().build();
      proto.register('m', 'twice', (n) => n * 2);
      proto.register('m', 'later', async (n) => n + 1);
      const js = await proto.loadRuntime();
      js.addHandler('h', 'import * as m from "host:m"; function handler(e) { return [m.twice(e.n), m.later(e.n)]; }');
      const loaded = await js.getLoadedSandbox();
      const results = [];
      for (let i = 0; i < 20; i++) results.push(await loaded.callHandler('h', { n: i }));
      await loaded.dispose();
      console.log(JSON.stringify(results[19]));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: path.join(here, '..'),
      env: { ...process.env, HYPERLIGHT_JS_EVENT_LOOP_SPIN_US: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([38, 20]);
  });
});
