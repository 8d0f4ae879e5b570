import { familySync, GLIBC, MUSL } from 'detect-libc';

/**
 * The C library a Linux process runs on.
 * @public
 */
export type Libc = 'glibc' | 'musl';

/**
 * The platform a native binding is built for.
 * @public
 */
export interface PlatformInfo {
  /** As `process.platform`: `linux`, `darwin`, `win32`, ... */
  readonly platform: string;
  /** As `process.arch`: `x64`, `arm64`, ... */
  readonly arch: string;
  /** The C library on Linux; `null` elsewhere or when it cannot be told. */
  readonly libc: Libc | null;
}

/**
 * The platforms that have a prebuilt binding, by triple, with the npm package that ships it.
 * @public
 */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  'linux-x64-gnu': '@hyperlight/js-host-api-linux-x64-gnu',
});

/**
 * The file name of the native binding for a triple, as napi-rs names it
 * (`js-host-api.linux-x64-gnu.node`).
 * @public
 */
export function bindingFileName(triple: string): string {
  return `js-host-api.${triple}.node`;
}

/**
 * Tells which C library this Linux process runs on; `null` on other platforms or when unknown.
 * Uses the `detect-libc` package (Node's report, then the filesystem, then `ldd`).
 * @public
 */
export function detectLibc(): Libc | null {
  if (process.platform !== 'linux') return null;
  const family = familySync();
  if (family === GLIBC) return 'glibc';
  if (family === MUSL) return 'musl';
  return null;
}

/**
 * The platform of this process.
 * @public
 */
export function currentPlatform(): PlatformInfo {
  return { platform: process.platform, arch: process.arch, libc: detectLibc() };
}

/**
 * The napi-rs style triple of a platform: `linux-x64-gnu`, `linux-x64-musl`, `darwin-arm64`,
 * `win32-x64-msvc`. A Linux process whose C library is unknown gets `linux-<arch>-unknown-libc`.
 * @public
 */
export function platformTriple(info: PlatformInfo): string {
  const base = `${info.platform}-${info.arch}`;
  switch (info.platform) {
    case 'linux':
      if (info.libc === 'glibc') return `${base}-gnu`;
      if (info.libc === 'musl') return `${base}-musl`;
      return `${base}-unknown-libc`;
    case 'win32':
      return `${base}-msvc`;
    default:
      return base;
  }
}
