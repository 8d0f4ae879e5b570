// The native QuickJS-ng line of the benchmarks: builds benchmarks/native/fib.c
// against the QuickJS-ng sources the guest is built from (rquickjs-sys's
// vendored copy in the cargo registry, found through `cargo metadata`) with
// the guest's optimisation flags, and runs it. Needs gcc (the README's setup
// has it); fails with a message when the sources cannot be found.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The directory of the vendored QuickJS-ng sources the guest is built from. */
function quickjsSources(root) {
  const meta = JSON.parse(
    execFileSync(
      'cargo',
      [
        'metadata',
        '--format-version',
        '1',
        '--locked',
        '--manifest-path',
        'crates/hyperlight-js-guest/Cargo.toml',
      ],
      { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 },
    ),
  );
  const pkg = meta.packages.find((p) => p.name === 'rquickjs-sys');
  if (!pkg)
    throw new Error(
      'rquickjs-sys is not a dependency of the guest: cannot find the QuickJS-ng sources',
    );
  const dir = join(dirname(pkg.manifest_path), 'quickjs');
  if (!existsSync(join(dir, 'quickjs.c'))) throw new Error(`no quickjs.c in ${dir}`);
  return { dir, version: pkg.version };
}

/**
 * Builds (once per run) and runs the native fib(25) harness `runs` times.
 * @returns {{ times: number[], version: string }} microseconds per call.
 */
export function nativeFib(root, runs) {
  const { dir, version } = quickjsSources(root);
  const out = join(root, 'target', 'bench-native');
  mkdirSync(out, { recursive: true });
  const exe = join(out, 'fib');
  const sources = ['quickjs.c', 'libregexp.c', 'libunicode.c', 'dtoa.c']
    .map((f) => join(dir, f))
    .filter(existsSync);
  execFileSync(
    'gcc',
    [
      '-O3',
      '-DNDEBUG',
      '-D_GNU_SOURCE',
      '-w',
      '-I',
      dir,
      '-o',
      exe,
      join(root, 'benchmarks', 'native', 'fib.c'),
      ...sources,
      '-lm',
      '-lpthread',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const text = execFileSync(exe, [String(runs)], { encoding: 'utf8' });
  return { times: text.trim().split('\n').map(Number), version };
}
