#!/usr/bin/env node
// hyperlight-bundle <dir> --out <dir> [--watch]: bundles the handlers of a project folder.

import { existsSync, readdirSync, watch } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundle } from './bundle';
import { BundleError } from './errors';
import { writeBundle } from './write';

const USAGE = `usage: hyperlight-bundle <dir> --out <dir> [options]

Bundles each handler of <dir>/src/handlers (one file per handler: greet.ts is the handler
"greet") with its npm dependencies into guest modules, and writes <key>.js, <key>.js.map,
handlers.d.ts and manifest.json to the output folder.

options:
  --out <dir>          output folder (required)
  --handlers <dir>     the handlers' folder, relative to <dir> (default: src/handlers)
  --watch              rebuild when a file under <dir> changes (until interrupted)
  --typecheck          type check against the guest's globals first
  --minify             minify the modules
  --max-bytes <n>      fail when a handler's module is larger than <n> bytes
  --external <spec>    leave an import to the guest (repeatable; * is a wildcard)
  --no-declaration     do not write handlers.d.ts
  -h, --help           this text`;

const HANDLER_FILE = /^([^.].*)\.(ts|mts|js|mjs|tsx|jsx)$/;

function fail(message: string, code = 2): never {
  process.stderr.write(`hyperlight-bundle: ${message}\n`);
  process.exit(code);
}

function parse() {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ options: OPTIONS, allowPositionals: true, args: process.argv.slice(2) });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (parsed.positionals.length !== 1) fail(`expected one project folder\n\n${USAGE}`);
  if (!v.out) fail(`--out is required\n\n${USAGE}`);
  let maxBytes: number | undefined;
  if (v['max-bytes'] !== undefined) {
    maxBytes = Number(v['max-bytes']);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      fail('--max-bytes takes a positive integer');
  }
  const root = path.resolve(parsed.positionals[0] as string);
  if (!existsSync(root)) fail(`no such folder: ${root}`);
  return {
    root,
    out: path.resolve(v.out),
    handlersDir: path.join(root, v.handlers ?? 'src/handlers'),
    watch: v.watch ?? false,
    typecheck: v.typecheck ?? false,
    minify: v.minify ?? false,
    declaration: !(v['no-declaration'] ?? false),
    external: v.external ?? [],
    maxBytes,
  };
}

const OPTIONS = {
  out: { type: 'string' },
  handlers: { type: 'string' },
  watch: { type: 'boolean' },
  typecheck: { type: 'boolean' },
  minify: { type: 'boolean' },
  'max-bytes': { type: 'string' },
  external: { type: 'string', multiple: true },
  'no-declaration': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Config = ReturnType<typeof parse>;

function handlers(config: Config): Record<string, string> {
  if (!existsSync(config.handlersDir)) {
    throw new BundleError(
      'ERR_INVALID_ARG',
      `no handlers folder: ${path.relative(process.cwd(), config.handlersDir)}`,
    );
  }
  const found: Record<string, string> = {};
  for (const file of readdirSync(config.handlersDir).sort()) {
    const match = HANDLER_FILE.exec(file);
    if (!match || file.endsWith('.d.ts') || /\.test\.|\.spec\./.test(file)) continue;
    const key = match[1] as string;
    if (found[key])
      throw new BundleError(
        'ERR_INVALID_ARG',
        `two files for the handler "${key}" in ${config.handlersDir}`,
      );
    found[key] = path.join(config.handlersDir, file);
  }
  if (Object.keys(found).length === 0) {
    throw new BundleError(
      'ERR_INVALID_ARG',
      `no handler files in ${path.relative(process.cwd(), config.handlersDir)}`,
    );
  }
  return found;
}

/** One build: writes the output; prints the size report, or the error. Whether it succeeded. */
async function build(config: Config): Promise<boolean> {
  const start = performance.now();
  try {
    const result = await bundle({
      root: config.root,
      handlers: handlers(config),
      minify: config.minify,
      typecheck: config.typecheck,
      declaration: config.declaration,
      external: config.external,
      ...(config.maxBytes === undefined ? {} : { maxBytes: config.maxBytes }),
    });
    const written = writeBundle(result, config.out);
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    process.stdout.write(
      `${result.sizeReport}\nwrote ${written.files.length} files to ${path.relative(process.cwd(), config.out) || '.'} in ${Math.round(performance.now() - start)} ms\n`,
    );
    return true;
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
    return false;
  }
}

async function main(): Promise<void> {
  const config = parse();
  const ok = await build(config);
  if (!config.watch) process.exit(ok ? 0 : 1);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const outRelative = path.relative(config.root, config.out);
  watch(config.root, { recursive: true }, (_event, file) => {
    const name = String(file ?? '');
    if (name.split(path.sep).some((part) => part === 'node_modules' || part.startsWith('.')))
      return;
    if (
      outRelative &&
      !outRelative.startsWith('..') &&
      (name === outRelative || name.startsWith(`${outRelative}${path.sep}`))
    )
      return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(async () => {
        process.stdout.write(`change: ${name}\n`);
        await build(config);
      });
    }, 100);
  });
  // Printed once the watcher is in place: a change from now on is seen.
  process.stdout.write(`watching ${config.root}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`hyperlight-bundle: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
