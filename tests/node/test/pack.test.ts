import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = [
  'packages/js-host-api',
  'packages/js-host-api-linux-x64-gnu',
  'packages/monitors',
  'packages/sandbox',
];

// The spec's quick start, as a user would write it in each module system.
const QUICK_START_BODY = `
const builder = new SandboxBuilder();
const protoSandbox = await builder.build();
const jsSandbox = await protoSandbox.loadRuntime();
jsSandbox.addHandler('greet', \`
  function handler(event) {
    event.message = 'Hello, ' + event.name + '!';
    return event;
  }
\`);
const loadedSandbox = await jsSandbox.getLoadedSandbox();
const result = await loadedSandbox.callHandler('greet', { name: 'World' });
console.log(JSON.stringify(result));
`;

// The SDK layers as a user of the published packages would write them.
const LAYERS_BODY = `
const definition = defineSandbox({
  handlers: { greet: 'function handler(e) { return { message: "Hello, " + e.name + "!" }; }' },
  limits: anyOf(wallClock(1000), cpuTime(100)),
});
const pool = await createPool(definition, { size: 2 });
const result = await pool.call('greet', { name: 'World' });
await pool.close();
console.log(JSON.stringify(result));
`;

let scratch = '';

/** Packs the packages with pnpm and installs the tarballs with npm into a scratch project. */
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'hyperlight-pack-'));
  const tarballs = PACKAGES.map((dir) => {
    const before = new Set(readdirSync(scratch));
    execFileSync('pnpm', ['pack', '--pack-destination', scratch], {
      cwd: path.join(repo, dir),
      stdio: 'pipe',
    });
    const made = readdirSync(scratch).filter((f) => f.endsWith('.tgz') && !before.has(f));
    expect(made).toHaveLength(1);
    return path.join(scratch, made[0] as string);
  });
  const project = path.join(scratch, 'app');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true }),
  );
  // Offline-friendly: every package comes from the tarballs, nothing from a registry.
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs],
    { cwd: project, stdio: 'pipe' },
  );
  writeFileSync(
    path.join(project, 'quick-start.cjs'),
    `const { SandboxBuilder } = require('@hyperlight/js-host-api');\n(async () => {${QUICK_START_BODY}})();\n`,
  );
  writeFileSync(
    path.join(project, 'quick-start.mjs'),
    `import { SandboxBuilder } from '@hyperlight/js-host-api';\n${QUICK_START_BODY}`,
  );
  writeFileSync(
    path.join(project, 'layers.cjs'),
    `const { defineSandbox, createPool } = require('@hyperlight/sandbox');\nconst { anyOf, cpuTime, wallClock } = require('@hyperlight/monitors');\n(async () => {${LAYERS_BODY}})();\n`,
  );
  writeFileSync(
    path.join(project, 'layers.mjs'),
    `import { defineSandbox, createPool } from '@hyperlight/sandbox';\nimport { anyOf, cpuTime, wallClock } from '@hyperlight/monitors';\n${LAYERS_BODY}`,
  );
}, 180_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function run(file: string) {
  const env = { ...process.env };
  delete env.HYPERLIGHT_JS_NATIVE_PATH;
  return spawnSync(process.execPath, [file], {
    cwd: path.join(scratch, 'app'),
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('packed tarballs in a scratch project', () => {
  it.each(['quick-start.cjs', 'quick-start.mjs'])('run the quick start (%s)', (file) => {
    const result = run(file);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ name: 'World', message: 'Hello, World!' });
  });

  it.each(['layers.cjs', 'layers.mjs'])(
    'run @hyperlight/sandbox and @hyperlight/monitors (%s)',
    (file) => {
      const result = run(file);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ message: 'Hello, World!' });
    },
  );

  it('load the binary from the installed platform package', () => {
    const probe = path.join(scratch, 'app', 'probe.cjs');
    writeFileSync(
      probe,
      `const b = require('@hyperlight/js-host-api/loader').nativeBinding();
       console.log(require.resolve('@hyperlight/js-host-api-linux-x64-gnu'), typeof b.SandboxBuilder);`,
    );
    const result = run(probe);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      path.join(
        'node_modules',
        '@hyperlight',
        'js-host-api-linux-x64-gnu',
        'js-host-api.linux-x64-gnu.node',
      ),
    );
    expect(result.stdout).toContain('function');
  });

  it('refuse an installed platform package of another version, naming both and the fix', () => {
    // What a lockfile pinning the platform package on its own produces: the binary would load.
    const manifestPath = path.join(
      scratch,
      'app',
      'node_modules',
      '@hyperlight',
      'js-host-api-linux-x64-gnu',
      'package.json',
    );
    const original = readFileSync(manifestPath, 'utf8');
    const version = (JSON.parse(original) as { version: string }).version;
    writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(original), version: '0.0.9' }));
    try {
      const result = run('quick-start.mjs');
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('ERR_NO_NATIVE_BINDING');
      expect(result.stderr).toContain('@hyperlight/js-host-api-linux-x64-gnu is version 0.0.9');
      expect(result.stderr).toContain(`@hyperlight/js-host-api is version ${version}`);
      expect(result.stderr).toContain(`npm install @hyperlight/js-host-api@${version}`);
    } finally {
      writeFileSync(manifestPath, original);
    }
    expect(run('quick-start.mjs').status).toBe(0);
  });
});
