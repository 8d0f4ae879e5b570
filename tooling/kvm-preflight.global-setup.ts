import { checkHypervisor } from '../packages/js-host-api/src/index';

/**
 * Vitest global setup: runs the package's own `checkHypervisor()` (the `kvm-preflight` crate,
 * through the native binding) once before any test file. When this machine cannot run micro-VMs
 * the whole run FAILS with the diagnosis; nothing is skipped. Without a built native binding it
 * fails too, with the loader's message (`./scripts/setup.sh` builds it).
 */
export default function kvmPreflight(): void {
  const check = checkHypervisor();
  if (!check.ok) {
    throw new Error(
      `KVM preflight FAILED (${check.problem}): ${check.message}\n` +
        'The hyperlight-js test suites need a working KVM and do not skip tests without it.',
    );
  }
  process.stdout.write(`kvm-preflight: ${check.message}\n`);
}
