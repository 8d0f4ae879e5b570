import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHypervisor, ERR_NO_HYPERVISOR } from '@hyperlight/js-host-api';
import { afterAll, describe, expect, it } from 'vitest';

// A machine without a usable /dev/kvm, for real: each case runs a child Node.js process in a
// private mount namespace (`unshare -m`) where /dev/kvm is replaced, so the binding meets the
// same kernel answers it would on such a machine. The child builds a sandbox and runs
// checkHypervisor(), and prints both as JSON.

const here = path.dirname(fileURLToPath(import.meta.url));
const scratch = mkdtempSync(path.join(tmpdir(), 'hyperlight-no-kvm-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const PROBE = `
import { SandboxBuilder, checkHypervisor } from '@hyperlight/js-host-api';
let error = null;
try {
  await (await new SandboxBuilder().build()).dispose();
} catch (e) {
  error = { code: e.code, message: e.message };
}
console.log(JSON.stringify({ error, check: checkHypervisor() }));
`;
// In tests/node, so that the package resolves as it does for the tests.
const probe = path.join(here, '..', `.no-kvm-probe-${process.pid}.mjs`);
writeFileSync(probe, PROBE);
afterAll(() => rmSync(probe, { force: true }));

/** Runs the probe with `setup` (shell, as root in the new namespace) done first. */
function inNamespace(
  setup: string,
  runAs = '',
): {
  error: { code: string; message: string } | null;
  check: ReturnType<typeof checkHypervisor>;
} {
  const script = `set -e\n${setup}\nexec ${runAs} "${process.execPath}" "${probe}"`;
  const run = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    cwd: path.join(here, '..'),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error)
    throw new Error(`unshare could not start: ${run.error.message} (needs util-linux)`);
  if (run.status !== 0) {
    throw new Error(
      `the probe failed (exit ${run.status ?? run.signal}); creating a mount namespace needs ` +
        `root (CAP_SYS_ADMIN):\n${run.stdout}${run.stderr}`,
    );
  }
  return JSON.parse(run.stdout);
}

describe('without a usable /dev/kvm', () => {
  it('a /dev/kvm that is not a KVM device: ERR_NO_HYPERVISOR with the diagnosis', () => {
    const { error, check } = inNamespace('mount --bind /dev/null /dev/kvm');
    expect(error?.code).toBe(ERR_NO_HYPERVISOR);
    expect(error?.message).toContain('is not a KVM device');
    expect(error?.message).toContain('checkHypervisor()');
    expect(check.ok).toBe(false);
    expect(check.problem).toBe('not-kvm');
    expect(check.devicePresent).toBe(true);
    expect(check.whatToDo).toContain('real device');
    expect(check.kvm).toBeNull();
  });

  it('no /dev/kvm at all: ERR_NO_HYPERVISOR, device-missing, with what to do', () => {
    // A /dev with only what Node.js needs.
    const dev = path.join(scratch, 'dev');
    const setup = [
      `mkdir -p ${dev}`,
      `for n in null zero random urandom; do touch ${dev}/$n; mount --bind /dev/$n ${dev}/$n; done`,
      `ln -sf /proc/self/fd ${dev}/fd`,
      `mount --bind ${dev} /dev`,
    ].join('\n');
    const { error, check } = inNamespace(setup);
    expect(error?.code).toBe(ERR_NO_HYPERVISOR);
    expect(error?.message).toContain('/dev/kvm does not exist');
    expect(check.problem).toBe('device-missing');
    expect(check.devicePresent).toBe(false);
    expect(check.access).toBeNull();
    expect(check.whatToDo?.length).toBeGreaterThan(0);
  });

  it('a /dev/kvm this user may not open: permission-denied and the group to join', () => {
    const node = path.join(scratch, 'kvm');
    const setup = [
      `rm -f ${node}`,
      `mknod ${node} c 10 232`,
      `chown root:root ${node}`,
      `chmod 660 ${node}`,
      `mount --bind ${node} /dev/kvm`,
    ].join('\n');
    const { error, check } = inNamespace(
      setup,
      'setpriv --reuid=65534 --regid=65534 --clear-groups',
    );
    expect(error?.code).toBe(ERR_NO_HYPERVISOR);
    expect(check.problem).toBe('permission-denied');
    expect(check.groupToJoin).toBe('root');
    expect(check.access).toMatchObject({ uid: 65534, ownerUid: 0, group: 'root', mode: '660' });
    expect(check.whatToDo).toContain('usermod -aG root');
  });

  it('on this machine the check passes and says what it found', () => {
    const check = checkHypervisor();
    expect(check.ok).toBe(true);
    expect(check.problem).toBeNull();
    expect(check.whatToDo).toBeNull();
    expect(check.kvm?.apiVersion).toBe(12);
    expect(check.host.kvmModules).toContain('kvm');
    // PVM is what this project's machines run on (docs: PLATFORM).
    expect(typeof check.host.pvm).toBe('boolean');
  });
});
