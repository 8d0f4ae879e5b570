import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

// createSandbox and createPool on a machine without a usable /dev/kvm, for real: a child process
// in a private mount namespace where /dev/kvm is /dev/null, so the binding meets the kernel's own
// answers. Both must reject with the binding's ERR_NO_HYPERVISOR (not ERR_INTERNAL), and the pool
// must not leave anything running (the child exits by itself).
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const probe = path.join(packageDir, 'temp', `no-kvm-${process.pid}.mjs`);
afterAll(() => rmSync(probe, { force: true }));

it('createSandbox and createPool reject with ERR_NO_HYPERVISOR when /dev/kvm is unusable', () => {
  mkdirSync(path.dirname(probe), { recursive: true });
  writeFileSync(
    probe,
    `import { createPool, createSandbox } from '@hyperlight/sandbox';
     const definition = { handlers: { h: 'function handler(e) { return e; }' } };
     const codes = [];
     for (const make of [() => createSandbox(definition), () => createPool(definition, { size: 3 })]) {
       codes.push(await make().then(() => 'created', (e) => e.code));
     }
     console.log(JSON.stringify(codes));`,
  );
  const script = `set -e\nmount --bind /dev/null /dev/kvm\nexec "${process.execPath}" "${probe}"`;
  const run = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error)
    throw new Error(`unshare could not start: ${run.error.message} (needs util-linux)`);
  expect(run.stderr).toBe('');
  expect(run.status, 'creating a mount namespace needs root (CAP_SYS_ADMIN)').toBe(0);
  expect(JSON.parse(run.stdout)).toEqual(['ERR_NO_HYPERVISOR', 'ERR_NO_HYPERVISOR']);
});
