import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Vitest global setup: runs the `kvm-preflight` binary (crates/kvm-preflight) once before any
 * test file. When this machine cannot run micro-VMs the whole run FAILS with the preflight's
 * diagnosis; nothing is skipped.
 */
export default function kvmPreflight(): void {
  const run = spawnSync(
    'cargo',
    ['run', '--quiet', '--package', 'kvm-preflight', '--bin', 'kvm-preflight'],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  if (run.error) {
    throw new Error(
      `KVM preflight could not start \`cargo run -p kvm-preflight\`: ${run.error.message}. ` +
        'Install Rust (cargo) or run ./scripts/setup.sh first.',
    );
  }
  if (run.status !== 0) {
    const output = `${run.stdout}${run.stderr}`.trim();
    throw new Error(`KVM preflight failed (exit ${run.status ?? run.signal}):\n${output}`);
  }
  process.stdout.write(run.stdout);
}
