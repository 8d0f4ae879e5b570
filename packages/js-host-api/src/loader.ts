import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoadAttempt, NativeBindingError } from './errors';
import { currentPlatform, PLATFORM_PACKAGES, type PlatformInfo, platformTriple } from './platform';

/**
 * The environment variable that names a native binding file to load instead of the usual ones.
 * When it is set, nothing else is tried.
 * @public
 */
export const NATIVE_PATH_ENV = 'HYPERLIGHT_JS_NATIVE_PATH';

/**
 * What the native binding exports: its classes and functions by name.
 * @public
 */
export type NativeBinding = Readonly<Record<string, unknown>>;

/**
 * Options of {@link loadNativeBinding}. Every one has a default that fits normal use; they exist
 * so that tools and tests can look somewhere else.
 * @public
 */
export interface LoadOptions {
  /**
   * The platform to load the binding for.
   * @defaultValue this process's platform ({@link currentPlatform})
   */
  readonly platform?: PlatformInfo;
  /**
   * Where `HYPERLIGHT_JS_NATIVE_PATH` is read from.
   * @defaultValue `process.env`
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The version the platform package must have: this package's own.
   * @defaultValue the `version` of this package's `package.json`
   */
  readonly version?: string;
  /**
   * Loads a module by absolute path or package name.
   * @defaultValue Node's `require`, relative to this package
   */
  readonly require?: (id: string) => unknown;
}

function defaultRequire(id: string): unknown {
  return createRequire(import.meta.url)(id);
}

/** Whether the package's manifest resolves, i.e. the package itself is installed. */
function isInstalled(load: (id: string) => unknown, packageName: string): boolean {
  try {
    load(`${packageName}/package.json`);
    return true;
  } catch {
    return false;
  }
}

function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

function asBinding(value: unknown, from: string): NativeBinding {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    throw new TypeError(`${from} loaded but exports ${String(value)}, not a native binding`);
  }
  return value as NativeBinding;
}

/** This package's own version, from its `package.json` (`dist/` and `src/` are one level down). */
function ownVersion(): string {
  return (
    defaultRequire(fileURLToPath(new URL('../package.json', import.meta.url))) as {
      version: string;
    }
  ).version;
}

/** The `version` of an installed package's `package.json`, or `null` when it cannot be read. */
function installedVersion(load: (id: string) => unknown, packageName: string): string | null {
  try {
    const manifest = load(`${packageName}/package.json`) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : null;
  } catch {
    return null;
  }
}

function listAttempts(attempts: readonly LoadAttempt[]): string {
  const what = { env: 'file', package: 'package' } as const;
  return attempts
    .map((attempt) => `  - ${what[attempt.source]} ${attempt.target}: ${attempt.reason}`)
    .join('\n');
}

function supportedTriples(): string {
  return Object.entries(PLATFORM_PACKAGES)
    .map(([triple, name]) => `${triple} (${name})`)
    .join(', ');
}

/**
 * Loads the native binding of hyperlight-js for this platform.
 *
 * It loads the file named by `HYPERLIGHT_JS_NATIVE_PATH` when that is set (and nothing else);
 * otherwise the prebuilt platform package, such as `@hyperlight/js-host-api-linux-x64-gnu` on
 * Linux x64 with glibc, which npm installs as an optional dependency. In a checkout of the
 * repository, `pnpm run build:native` writes the binding into that package (a workspace link), so
 * the same path finds a binding built from source. A platform package of another version than
 * this package is refused (`ERR_NO_NATIVE_BINDING`, naming both versions and the fix).
 *
 * @throws {@link NativeBindingError} (`code: 'ERR_NO_NATIVE_BINDING'`) when none of them loads;
 * its message names the platform triple, what was tried and what to do.
 * @public
 */
export function loadNativeBinding(options: LoadOptions = {}): NativeBinding {
  const platform = options.platform ?? currentPlatform();
  const env = options.env ?? process.env;
  const load = options.require ?? defaultRequire;
  const triple = platformTriple(platform);
  const packageName = PLATFORM_PACKAGES[triple] ?? null;
  const expected = `a js-host-api .node file built for ${triple}`;

  const override = env[NATIVE_PATH_ENV];
  if (override) {
    const file = path.resolve(override);
    try {
      return asBinding(load(file), file);
    } catch (error) {
      const attempts = [{ source: 'env', target: file, reason: reasonOf(error) } as const];
      const fallback = packageName ? `, or unset it to use ${packageName}` : '';
      throw new NativeBindingError(
        `hyperlight-js could not load the native binding that ${NATIVE_PATH_ENV} names, for ${triple}.\n` +
          `Tried:\n${listAttempts(attempts)}\n` +
          `What to do: point ${NATIVE_PATH_ENV} at ${expected}${fallback}.`,
        { triple, packageName, attempts, cause: error },
      );
    }
  }

  const attempts: LoadAttempt[] = [];
  let firstError: unknown;

  let packageInstalled = false;
  if (packageName) {
    // A binary of another release would load, and misbehave in ways no message explains: the
    // platform package must be this package's exact version (they are released together).
    const wanted = options.version ?? ownVersion();
    const found = installedVersion(load, packageName);
    if (found !== null && found !== wanted) {
      const attempts = [
        {
          source: 'package',
          target: packageName,
          reason: `version ${found} is installed, but @hyperlight/js-host-api ${wanted} needs ${packageName} ${wanted}`,
        } as const,
      ];
      throw new NativeBindingError(
        `hyperlight-js refuses its native binding for ${triple}: ${packageName} is version ${found}, ` +
          `but @hyperlight/js-host-api is version ${wanted}, and the two are only released together.\n` +
          `Tried:\n${listAttempts(attempts)}\n` +
          `What to do: install matching versions (\`npm install @hyperlight/js-host-api@${wanted}\` ` +
          `reinstalls ${packageName}@${wanted} with it); a lockfile or an override that pins ` +
          `${packageName} on its own causes this.`,
        { triple, packageName, attempts },
      );
    }
    try {
      return asBinding(load(packageName), packageName);
    } catch (error) {
      packageInstalled = isInstalled(load, packageName);
      const reason = packageInstalled
        ? `installed, but its binary did not load: ${reasonOf(error)}`
        : reasonOf(error);
      attempts.push({ source: 'package', target: packageName, reason });
      firstError ??= error;
    }
  }

  const tried = attempts.length > 0 ? `Tried:\n${listAttempts(attempts)}\n` : '';
  const fromSource =
    'in a checkout of the hyperlight-js repository, build the binding from source ' +
    `(\`pnpm run build:native\` writes it into ${packageName ?? 'the platform package'}); ` +
    `or set ${NATIVE_PATH_ENV} to ${expected}.`;
  const message = packageName
    ? `hyperlight-js could not load its native binding for ${triple}.\n${tried}What to do: ` +
      (packageInstalled
        ? `${packageName} is installed without a working binary: reinstall @hyperlight/js-host-api; `
        : `install @hyperlight/js-host-api with optional dependencies enabled, since ${packageName} ` +
          'carries the binary (no --omit=optional, --no-optional or --ignore-optional); ') +
      fromSource
    : platform.platform === 'linux' && platform.libc === 'musl'
      ? `hyperlight-js has no native binding for ${triple}: no musl build exists (Alpine Linux and ` +
        'other musl-based systems), only glibc ones: ' +
        `${supportedTriples()}.\n${tried}` +
        'What to do: run on a glibc-based Linux with /dev/kvm; in a container, use a glibc-based ' +
        'Node.js image such as node:20-bookworm-slim instead of node:20-alpine (see docs/node-binding.md).'
      : `hyperlight-js has no native binding for ${triple}: sandboxes are KVM micro-VMs, and ` +
        `prebuilt bindings exist only for ${supportedTriples()}.\n${tried}` +
        'What to do: run on Linux x64 with glibc and /dev/kvm, or build the binding for this ' +
        `platform from source and set ${NATIVE_PATH_ENV} to the .node file.`;
  throw new NativeBindingError(message, { triple, packageName, attempts, cause: firstError });
}

let cachedBinding: NativeBinding | undefined;

/**
 * The native binding of this process, loaded with default options on first use and kept.
 * @throws {@link NativeBindingError} when it cannot be loaded (not cached: a later call tries again).
 * @public
 */
export function nativeBinding(): NativeBinding {
  cachedBinding ??= loadNativeBinding();
  return cachedBinding;
}
